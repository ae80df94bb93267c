"""datatrove's executors from the recipe: Ray runs for real on a local cluster (127.0.0.1); for Slurm we
check the jobs that would be submitted, with a stand-in `sbatch` on PATH that records its calls."""

from __future__ import annotations

import json
import re

import pytest

from data_pipelines.documents import read_documents
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_crawl(tmp_path_factory):
    from alignment.world.people import build_world
    from alignment.world.miniweb import render_miniweb

    folder = tmp_path_factory.mktemp("small_crawl")
    render_miniweb(build_world(seed=1, n_entities=12, n_reserved=2), folder, seed=1, shards=2)
    return folder / "warc"


def test_ray_executor_runs_every_stage(small_crawl, tmp_path):
    out = tmp_path / "corpus"
    proc = run_cli("corpus", "--config", "recipes/tiny/corpus.yaml", "--input", small_crawl, "--output_dir", out,
                   "--executor", "ray", "--tasks", "2", "--workers", "2")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents_out"] == len(read_documents(out / "documents")) > 0
    for stage in ("1_filter", "2_signatures", "3_buckets", "4_clusters", "5_dedup_pii"):
        assert list((out / "logs" / stage / "completions").iterdir()), stage
    assert "ray executor" in proc.stdout


def test_slurm_executor_submits_the_chain_of_jobs(small_crawl, tmp_path):
    bin_dir, calls = tmp_path / "bin", tmp_path / "sbatch_calls.jsonl"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys, pathlib\n"
        f"log = pathlib.Path({str(calls)!r})\n"
        "n = len(log.read_text().splitlines()) if log.exists() else 0\n"
        "script = pathlib.Path(sys.argv[-1]).read_text()\n"
        "with log.open('a') as f: f.write(json.dumps({'args': sys.argv[1:-1], 'script': script}) + '\\n')\n"
        "print(f'Submitted batch job {1000 + n}')\n"
    )
    sbatch.chmod(0o755)
    out = tmp_path / "corpus"
    proc = run_cli("corpus", "--config", "recipes/tiny/corpus.yaml", "--input", small_crawl, "--output_dir", out,
                   "--executor", "slurm", "--tasks", "2",
                   "--executor_options", "{partition: cpu, time: '02:00:00', cpus_per_task: 2}",
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert "not finished yet (submitted to slurm)" in proc.stdout
    jobs = [json.loads(line) for line in calls.read_text().splitlines()]
    pipelines = [j for j in jobs if "launch_pickled_pipeline" in j["script"]]
    assert len(pipelines) == 5  # filter, signatures, buckets, clusters, dedup_pii (+ a stats merge job each)
    first = pipelines[0]["script"]
    assert "#SBATCH --partition=cpu" in first and "#SBATCH --cpus-per-task=2" in first
    assert "#SBATCH --array=0-1" in first and "#SBATCH --job-name=corpus_filter" in first
    assert "1_filter/executor.pik" in first
    buckets = next(j for j in pipelines if "corpus_buckets" in j["script"])
    assert "#SBATCH --array=0-13" in buckets["script"]  # one task per MinHash bucket
    # each stage waits for the one before it
    ids = {j["script"]: 1000 + i for i, j in enumerate(jobs)}
    for before, after in zip(pipelines, pipelines[1:]):
        dependency = next(a for a in after["args"] if a.startswith("--dependency="))
        assert re.search(rf"afterok:{ids[before['script']]}\b", dependency), (dependency, ids[before["script"]])
    assert not (out / "stats.json").exists()


WORKER_HAS_SPACY = """
import multiprocess, sys
from data_pipelines.executors import start_local_workers
if sys.argv[1] == "preload":
    start_local_workers("local", {}, workers=2)
def spacy_imported():
    import sys
    return "spacy" in sys.modules
with multiprocess.get_context("forkserver").Pool(1) as pool:
    print(pool.apply(spacy_imported))
"""


@pytest.mark.parametrize("mode, expected", [("preload", "True"), ("plain", "False")])
def test_local_workers_start_with_spacy_imported(mode, expected):
    # Every pool worker imported spaCy on its first document (3.3-4.7 s on an AVX2-only EPYC); from the
    # preloaded forkserver it already has it. The plain run shows the check can tell the difference.
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", WORKER_HAS_SPACY, mode], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == expected
