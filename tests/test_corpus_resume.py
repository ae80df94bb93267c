"""A killed corpus run resumes from datatrove's completion markers and ends with the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from data_pipelines.documents import read_documents
from tests.conftest import ROOT, TINY_CORPUS_RECIPE, run_cli

pytestmark = pytest.mark.slow


def _completed(out, stage="1_filter"):
    folder = out / "logs" / stage / "completions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_killed_run_resumes_without_redoing_finished_tasks(tiny_corpus, tmp_path):
    reference, _ = tiny_corpus
    out = tmp_path / "corpus"
    args = [sys.executable, "-m", "alignment", "corpus", "--config", str(TINY_CORPUS_RECIPE), "--output_dir", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while not _completed(out) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole tree: datatrove's workers and extractor sandboxes too
    proc.wait()
    finished_before = _completed(out)
    assert 1 <= len(finished_before) < 4, finished_before
    assert not (out / "stats.json").exists()

    rerun = run_cli("corpus", "--config", TINY_CORPUS_RECIPE, "--output_dir", out)
    assert f"Skipping {len(finished_before)} already completed tasks" in rerun.stderr
    assert _completed(out) == ["00000", "00001", "00002", "00003"]

    def content(folder):
        return sorted((d["id"], d["text"]) for d in read_documents(folder / "documents"))

    assert content(out) == content(reference)
    stats, ref_stats = (json.loads((d / "stats.json").read_text()) for d in (out, reference))
    strip = lambda s: [{k: v for k, v in b.items()} for b in s["blocks"]]  # noqa: E731
    assert strip(stats) == strip(ref_stats)  # counts merged over the tasks of both launches
