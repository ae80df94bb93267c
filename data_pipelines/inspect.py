"""`alignment corpus --inspect DIR`: see what the filters did, on real examples.

Prints the per-block table from stats.json, a few kept documents, and for each filter a few of the
documents it removed with the reason it gave (a Gopher rule, the detected language, a duplicate...).
"""

from __future__ import annotations

import argparse
import gzip
import json
import textwrap
from itertools import islice
from pathlib import Path

from alignment.recipe import RecipeError


def _iter_docs(folder: Path):
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            for line in f:
                yield json.loads(line)


def _reason(doc: dict, block: str) -> str:
    meta = doc.get("metadata", {})
    if block == "minhash":
        return "near duplicate of a kept document"
    if block == "language_filter":
        return f"language {meta.get('language')} ({meta.get('language_score', 0):.2f})"
    return meta.get("filter_reason", "-")


def _show(doc: dict, max_chars: int, reason: str | None = None) -> None:
    url = doc.get("metadata", {}).get("url") or doc.get("id")
    head = f"  [{reason}] {url}" if reason else f"  {url}"
    print(head)
    text = " ".join(doc.get("text", "").split())
    body = text[:max_chars] + ("..." if len(text) > max_chars else "")
    print(textwrap.indent(textwrap.fill(body, 100), "      "))


def inspect_corpus(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="alignment corpus --inspect")
    parser.add_argument("--inspect", required=True, metavar="DIR")
    parser.add_argument("--num_examples", type=int, default=2)
    parser.add_argument("--max_chars", type=int, default=300)
    args = parser.parse_args(argv)
    root = Path(args.inspect)
    if not (root / "documents").is_dir():
        raise RecipeError(f"--inspect: {root} is not a corpus output dir (no documents/ in it)")

    stats_path = root / "stats.json"
    if stats_path.is_file():
        from data_pipelines.stats import print_table

        print_table(json.loads(stats_path.read_text()))

    print(f"\n== kept ({root / 'documents'}) ==")
    for doc in islice(_iter_docs(root / "documents"), args.num_examples):
        _show(doc, args.max_chars)

    removed = root / "removed"
    for folder in sorted(p for p in removed.iterdir() if p.is_dir()) if removed.is_dir() else []:
        print(f"\n== removed by {folder.name} ==")
        for doc in islice(_iter_docs(folder), args.num_examples):
            _show(doc, args.max_chars, _reason(doc, folder.name))
    return 0
