"""JSONL and Parquet inputs (local paths and fsspec URLs), and broken WARC records that must not crash."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from data_pipelines.documents import read_documents
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

FAST = ["--url_filter", "false", "--tasks", "1", "--workers", "1"]  # one task: a few seconds less of start-up


@pytest.fixture(scope="module")
def clean_docs(tiny_corpus):
    out, _ = tiny_corpus
    return read_documents(out / "documents")[:40]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_text_inputs_keep_their_documents_and_urls(clean_docs, tmp_path, fmt):
    rows = [{"text": d["text"], "id": d["id"], "url": d["metadata"]["url"]} for d in clean_docs]
    folder = tmp_path / "input"
    folder.mkdir()
    if fmt == "jsonl":
        with gzip.open(folder / "part-0.jsonl.gz", "wt") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")
    out = tmp_path / "out"
    run_cli("corpus", "--config", "recipes/tiny/corpus.yaml", "--input", f"file://{folder}/*.{fmt}*",
            "--output_dir", out, *FAST)
    kept = read_documents(out / "documents")
    assert len(kept) >= 0.9 * len(rows)  # these already passed every filter once
    assert {d["metadata"]["url"] for d in kept} <= {r["url"] for r in rows}


def _warc(records) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, status, ctype, body in records:
        http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return buf.getvalue()


def test_broken_records_are_counted_and_the_rest_survives(clean_docs, tmp_path):
    good = "".join(f"<p>{p}</p>" for p in clean_docs[0]["text"].split("\n") if p.strip())
    page = f"<html><head><title>A page</title></head><body><article>{good}</article></body></html>".encode()
    nested = b"<html><body>" + b"<div>" * 20000 + b"deep" + b"</div>" * 20000 + b"</body></html>"
    records = [
        ("http://ok.example.com/a", "200 OK", "text/html; charset=utf-8", page),
        ("http://x.example.com/missing", "404 Not Found", "text/html", b"<html>Not found</html>"),
        ("http://x.example.com/error", "500 Internal Server Error", "text/html", b"<html>oops</html>"),
        ("http://x.example.com/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
        ("http://x.example.com/empty", "200 OK", "text/html", b""),
        ("http://x.example.com/bytes", "200 OK", "text/html; charset=utf-8", b"<html>\xff\xfe\x80\x81\xc3\x28</html>"),
        ("http://x.example.com/nested", "200 OK", "text/html", nested),
    ]
    folder = tmp_path / "warc"
    folder.mkdir()
    (folder / "a.warc.gz").write_bytes(_warc(records))
    # a truncated file: warcio cannot read past the cut, the reader counts it and moves on
    (folder / "b.warc.gz").write_bytes(_warc(records[:2])[:-40])
    out = tmp_path / "out"
    run_cli("corpus", "--config", "recipes/tiny/corpus.yaml", "--input", folder, "--output_dir", out, *FAST)
    stats = json.loads((out / "stats.json").read_text())
    kinds = stats["broken_by_kind"]
    assert kinds["error_status"] == 2 and kinds["non_html"] == 1 and kinds["empty_body"] == 1
    assert kinds["invalid_encoding"] == 1
    kept = read_documents(out / "documents")
    assert [d["metadata"]["url"] for d in kept] == ["http://ok.example.com/a"]


def _one_jsonl_file(docs, folder):
    folder.mkdir()
    with open(folder / "docs.jsonl", "w") as f:
        f.writelines(json.dumps({"text": d["text"], "id": d["id"], "url": d["metadata"]["url"]}) + "\n" for d in docs)
    return folder


def test_a_changed_recipe_starts_over_instead_of_keeping_stale_tasks(clean_docs, tmp_path):
    folder = _one_jsonl_file(clean_docs, tmp_path / "input")
    out = tmp_path / "out"
    args = ["corpus", "--config", "recipes/tiny/corpus.yaml", "--input", folder, "--output_dir", out, *FAST]
    run_cli(*args)
    assert json.loads((out / "stats.json").read_text())["documents_out"] > 0
    # the same recipe again: every task is already done and nothing is redone
    same = run_cli(*args)
    assert "starting over" not in same.stdout and "already been completed" in same.stderr
    # a stricter filter: the old completion markers must not hide it
    changed = run_cli(*args, "--gopher_quality.min_doc_words", "1000000")
    assert "the recipe changed since the last run" in changed.stdout and "gopher_quality" in changed.stdout
    assert json.loads((out / "stats.json").read_text())["documents_out"] == 0


def test_one_file_gets_one_task_a_stage(clean_docs, tmp_path):
    """datatrove gives each task whole files: with 4 tasks and one file, three would read nothing and still start,
    load their blocks and write empty shards at every stage."""
    folder = _one_jsonl_file(clean_docs, tmp_path / "input")
    out = tmp_path / "out"
    proc = run_cli("corpus", "--config", "recipes/tiny/corpus.yaml", "--input", folder, "--output_dir", out,
                   "--url_filter", "false", "--tasks", "4", "--workers", "2")
    assert "1 task(s) (one per input file)" in proc.stdout
    for stage in ("1_filter", "2_signatures", "5_dedup_pii"):
        assert [p.name for p in (out / "logs" / stage / "completions").iterdir()] == ["00000"]
    assert json.loads((out / "stats.json").read_text())["documents_out"] >= 0.9 * len(clean_docs)
