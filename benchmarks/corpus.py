"""Speed and memory of `alignment corpus` against a bare datatrove pipeline with the same blocks.

    python benchmarks/corpus.py [--repeats 5] [--tasks 4] [--workers 2] [--shards 4]
    python benchmarks/corpus.py --shards 1 --bare_tasks 1 --bare_workers 1   # one WARC file, bare: one task a stage

(datatrove's local executor cannot run a one-worker stage before a stage with a pool of workers: the pool pickles the
executor with its dependencies, whose blocks the one-worker stage loaded in the parent process, a fastText model
among them; data_pipelines/executors.py works around it, the bare pipeline runs every stage with one worker.)

Both run as separate processes on the same mini-web crawl (rendered once), interleaved `--repeats`
times, the order swapped each round (whichever runs first in a pair was seen to pay ~10% on these
noisy machines), with a pause between runs; we print documents/s, MB/s (uncompressed WARC bytes), the peak
memory of each process tree, and the median ratio of wall times (ours / bare: the target is <= 1.10).
The bare pipeline is datatrove's own blocks wired by hand, with the two offline replacements that any
offline run needs (the bundled language-ID model, tldextract without the network) and our phone block.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alignment.metrics import PeakTreeMemory  # noqa: E402

RECIPE = ROOT / "recipes" / "tiny" / "corpus.yaml"


def bare_pipeline(input_dir: str, out: str, tasks: int, workers: int) -> None:
    """The same blocks as the tiny recipe, as a datatrove user would write them, no CLI in between."""
    import yaml
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter, LanguageFilter, URLFilter)
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from tldextract import TLDExtract

    from data_pipelines.language_id import BundledFT176LID
    from data_pipelines.phone_pii import PhoneNumberFormatter

    recipe = yaml.safe_load(RECIPE.read_text())
    url_filter = URLFilter(extra_domains=recipe["url_filter"]["extra_domains"],
                           exclusion_writer=JsonlWriter(f"{out}/removed/url_filter"))
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())
    language = LanguageFilter(languages=["en"], exclusion_writer=JsonlWriter(f"{out}/removed/language_filter"))
    language.model = BundledFT176LID(["en"])
    mh = MinhashConfig(hash_config=HashConfig(precision=64), n_grams=5, num_buckets=14, hashes_per_bucket=8)

    def removed(name):
        return JsonlWriter(f"{out}/removed/{name}")

    filtered, sigs, buckets, ids = (f"{out}/{p}" for p in ("filtered", "sigs", "buckets", "ids"))
    stages = [
        ([WarcReader(input_dir, glob_pattern="*.warc.gz"), url_filter, Trafilatura(favour_precision=True, timeout=1.0),
          language, GopherRepetitionFilter(exclusion_writer=removed("gopher_repetition")),
          GopherQualityFilter(exclusion_writer=removed("gopher_quality")),
          C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=removed("c4_quality")),
          FineWebQualityFilter(exclusion_writer=removed("fineweb_quality")), JsonlWriter(filtered)], tasks),
        ([JsonlReader(filtered), MinhashDedupSignature(sigs, config=mh)], tasks),
        ([MinhashDedupBuckets(sigs, buckets, config=mh)], mh.num_buckets),
        ([MinhashDedupCluster(buckets, ids, config=mh)], 1),
        ([JsonlReader(filtered), MinhashDedupFilter(ids, exclusion_writer=removed("minhash")), PIIFormatter(),
          PhoneNumberFormatter(), JsonlWriter(f"{out}/documents")], tasks),
    ]
    previous = None
    for i, (pipeline, n) in enumerate(stages):
        previous = LocalPipelineExecutor(pipeline, tasks=n, workers=min(workers, n), depends=previous,
                                         logging_dir=f"{out}/logs/{i}")
    previous.run()


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (GB) of the command's whole process tree."""
    with PeakTreeMemory(period_s=0.1) as memory:
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    return seconds, memory.peak_gb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between runs, for the last one's processes to go")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=None,
                        help="WARC files the crawl is written as (default: the recipe's, 4)")
    parser.add_argument("--bare_tasks", type=int, default=None,
                        help="tasks of the bare pipeline (default: --tasks; a datatrove user with one file runs 1)")
    parser.add_argument("--bare_workers", type=int, default=None, help="workers of the bare pipeline (default: --workers)")
    parser.add_argument("--bare", nargs=2, metavar=("INPUT_DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_pipeline(*args.bare, args.tasks, args.workers)
        return

    import yaml

    from alignment.world.people import build_world
    from alignment.world.miniweb import render_miniweb

    work = Path(tempfile.mkdtemp(prefix="bench_corpus_"))
    recipe = yaml.safe_load(RECIPE.read_text())
    miniweb = {**recipe["miniweb"], **({"shards": args.shards} if args.shards else {})}
    render_miniweb(build_world(seed=recipe["seed"], **recipe["world"]), work / "crawl", seed=recipe["seed"], **miniweb)
    warc_dir = work / "crawl" / "warc"
    files = sorted(warc_dir.glob("*.warc.gz"))
    records = sum(1 for line in open(work / "crawl" / "ground_truth.jsonl"))
    megabytes = sum(len(gzip.open(f).read()) for f in files) / 1e6
    bare_tasks, bare_workers = args.bare_tasks or args.tasks, args.bare_workers or args.workers
    print(f"input: {records} WARC records, {megabytes:.1f} MB uncompressed in {len(files)} files; "
          f"tasks={args.tasks} workers={args.workers} (bare: {bare_tasks} and {bare_workers})")

    results = {"ours": [], "bare": []}
    for i in range(args.repeats):
        for name in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
            time.sleep(args.pause)
            out = work / f"{name}_{i}"
            if name == "ours":
                cmd = [sys.executable, "-m", "alignment", "corpus", "--config", str(RECIPE), "--input",
                       str(warc_dir), "--output_dir", str(out), "--tasks", str(args.tasks),
                       "--workers", str(args.workers)]
            else:
                cmd = [sys.executable, __file__, "--bare", str(warc_dir), str(out), "--tasks", str(bare_tasks),
                       "--workers", str(bare_workers)]
            seconds, peak = timed(cmd)
            results[name].append((seconds, peak))
            print(f"  run {i} {name:<4} {seconds:6.1f} s  {records / seconds:6.1f} docs/s  "
                  f"{megabytes / seconds:5.2f} MB/s  peak {peak:.2f} GB", flush=True)
    ratios = [o[0] / b[0] for o, b in zip(results["ours"], results["bare"])]
    print(f"median ratio ours/bare wall time: {statistics.median(ratios):.3f}  (runs: "
          f"{', '.join(f'{r:.3f}' for r in ratios)}; target <= 1.10)")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        print(f"{name}: median {records / seconds:.1f} docs/s, {megabytes / seconds:.2f} MB/s, "
              f"peak memory {max(p for _, p in runs):.2f} GB")
    print(json.dumps({"ratio_median": statistics.median(ratios), "work_dir": str(work)}))


if __name__ == "__main__":
    main()
