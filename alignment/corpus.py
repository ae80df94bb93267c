"""Stage 1: a web crawl becomes clean, deduplicated pretraining text (datatrove, FineWeb's recipe).

    alignment corpus --config recipes/tiny/corpus.yaml [--input 'PATH_OR_GLOB'] [--output_dir DIR]
    alignment corpus --inspect DIR        # a few kept documents, and a few removed ones per filter

With no --input, the tiny recipe first renders its own mini-web crawl from the seeded world
(alignment/world/people.py, alignment/world/miniweb.py), and measures the filters against its ground truth.
"""

from __future__ import annotations

import glob
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.recipe import RecipeError, parse_recipe, recipe_help, to_yaml

FINEWEB_DEFAULTS = {
    "url_filter": {},
    "trafilatura": {"favour_precision": True, "timeout": 1.0},
    "language_filter": {"languages": ["en"], "language_threshold": 0.65},
    "gopher_repetition": {},
    "gopher_quality": {},
    # FineWeb keeps pages whose lines lack terminal punctuation (lists, tables): C4's rule drops too much.
    "c4_quality": {"filter_no_terminal_punct": False},
    "fineweb_quality": {},
    # 14 buckets x 8 hashes on 5-grams: pairs above ~0.75 Jaccard similarity are caught (FineWeb's setting).
    "minhash": {"n_grams": 5, "num_buckets": 14, "hashes_per_bucket": 8, "hash_precision": 64},
    "pii": {},
    "phone_pii": {},
}


def _block(name: str, about: str):
    return field(default_factory=lambda: dict(FINEWEB_DEFAULTS[name]),
                 metadata={"help": f"{about} Keyword arguments of the block, or false to switch it off."})


@dataclass
class CorpusConfig:
    output_dir: str = field(default="runs/tiny/corpus", metadata={"help": "Where documents/, removed/, stats.json go."})
    input: str | None = field(default=None, metadata={
        "help": "WARC, JSONL or Parquet: a path, a directory or a glob, local or any fsspec URL. "
                "None renders the tiny world's mini-web crawl."})
    input_format: str = field(default="auto", metadata={"help": "auto (from the file names), warc, jsonl or parquet."})
    text_key: str = field(default="text", metadata={"help": "JSONL/Parquet: the column with the text."})
    id_key: str = field(default="id", metadata={"help": "JSONL/Parquet: the column with the document id."})
    seed: int = field(default=0, metadata={"help": "Seed of the tiny world and its mini-web."})
    world: dict = field(default_factory=lambda: {"n_entities": 120, "n_reserved": 100},
                        metadata={"help": "Tiny world size (build_world keyword arguments)."})
    miniweb: dict = field(default_factory=lambda: {"shards": 4},
                          metadata={"help": "Mini-web rendering (render_miniweb keyword arguments)."})
    executor: str = field(default="local", metadata={"help": "local, slurm or ray (datatrove's executors)."})
    tasks: int = field(default=4, metadata={"help": "Tasks per stage (input files are split among them). "
                                                    "Keep it the same when resuming a killed run."})
    workers: int = field(default=2, metadata={"help": "Tasks run at the same time."})
    executor_options: dict = field(default_factory=dict, metadata={
        "help": "Extra keyword arguments of the executor (slurm: partition, time, ...; ray: cpus_per_task, ...)."})
    ray_address: str = field(default="local", metadata={
        "help": "ray: 'local' starts a cluster on this machine bound to 127.0.0.1; else the address to join."})
    write_removed: bool = field(default=True, metadata={"help": "Write what each filter removed to removed/<filter>/."})
    url_filter: dict | bool = _block("url_filter", "URLFilter with its bundled block lists (extra_domains, ...).")
    trafilatura: dict | bool = _block("trafilatura", "HTML -> main text (WARC input only).")
    language_filter: dict | bool = _block("language_filter", "fastText lid.176 (bundled, offline).")
    gopher_repetition: dict | bool = _block("gopher_repetition", "Gopher repetition filter.")
    gopher_quality: dict | bool = _block("gopher_quality", "Gopher quality filter.")
    c4_quality: dict | bool = _block("c4_quality", "C4 quality filter.")
    fineweb_quality: dict | bool = _block("fineweb_quality", "FineWeb quality filter.")
    minhash: dict | bool = _block("minhash", "MinHash near-duplicate removal (n_grams, num_buckets, ...).")
    pii: dict | bool = _block("pii", "PIIFormatter: emails and public IP addresses.")
    phone_pii: dict | bool = _block("phone_pii", "Phone numbers (our block).")

    def __post_init__(self):
        if self.executor not in ("local", "slurm", "ray"):
            raise RecipeError(f"executor: expected local, slurm or ray, got {self.executor!r}")
        if self.input_format not in ("auto", "warc", "jsonl", "parquet"):
            raise RecipeError(f"input_format: expected auto, warc, jsonl or parquet, got {self.input_format!r}")
        for name in ("tasks", "workers"):
            if getattr(self, name) < 1:
                raise RecipeError(f"{name}: must be at least 1, got {getattr(self, name)}")


# --- input ---------------------------------------------------------------------------------------

def _format_of(name: str) -> str | None:
    name = name.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith((".warc", ".arc")):
        return "warc"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return None


DIRECTORY_PATTERNS = {"warc": "**/*.*arc*", "jsonl": "**/*.*json*", "parquet": "**/*.parquet"}


def resolve_input(spec: str, input_format: str) -> tuple[str, str, str, list[str]]:
    """'PATH_OR_GLOB' -> (format, data folder, glob pattern inside it, matching files). Fails on no match."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(spec)
    protocol = spec.split("://")[0] + "://" if "://" in spec else ""
    if glob.has_magic(path):
        parts = Path(path).parts
        first_magic = next(i for i, p in enumerate(parts) if glob.has_magic(p))
        folder, pattern = str(Path(*parts[:first_magic])), str(Path(*parts[first_magic:]))
        files = fs.glob(f"{folder}/{pattern}")
    elif fs.isdir(path):
        folder, pattern = path, None
        files = [f for f in fs.find(folder) if _format_of(f)]
    else:
        folder, pattern = str(Path(path).parent), Path(path).name
        files = [path] if fs.isfile(path) else []
    if not files:
        raise RecipeError(f"--input: no files match '{spec}'")
    fmt = input_format
    if fmt == "auto":
        formats = {_format_of(f) for f in files}
        if len(formats) != 1 or None in formats:
            raise RecipeError(f"--input: cannot tell the format of '{spec}' from its file names; set input_format")
        fmt = formats.pop()
    return fmt, protocol + folder, pattern or DIRECTORY_PATTERNS[fmt], files


# --- the stage -----------------------------------------------------------------------------------

def run_corpus(cfg: CorpusConfig) -> dict:
    from alignment.metrics import StageRun
    from data_pipelines.executors import build_executors, check_executor_options, incomplete_tasks, start_local_workers, \
        start_ray
    from data_pipelines.fineweb import FILTER_BLOCKS, FORMATTER_BLOCKS, CorpusLayout, build_stages, \
        check_block_options, make_reader, minhash_config
    from data_pipelines.stats import collect_stats, print_table

    # recipe mistakes first, before any crawl is rendered or read
    for name in FILTER_BLOCKS + FORMATTER_BLOCKS:
        check_block_options(name, getattr(cfg, name))
    check_executor_options(cfg.executor, cfg.executor_options)
    if isinstance(cfg.minhash, dict):
        minhash_config(cfg.minhash)
    out = Path(cfg.output_dir)
    layout = CorpusLayout(out)
    start_local_workers(cfg.executor, cfg.executor_options, cfg.workers)
    with StageRun("corpus", out, seed=cfg.seed) as run:
        ground_truth = None
        if cfg.input is None:
            ground_truth, input_spec = render_tiny_crawl(cfg, out / "miniweb")
        else:
            input_spec = cfg.input
        fmt, folder, pattern, files = resolve_input(input_spec, cfg.input_format)
        start_over_if_recipe_changed(cfg, out)
        reader = make_reader(fmt, folder, pattern, layout.removed if cfg.write_removed else None,
                             cfg.text_key, cfg.id_key)
        # datatrove gives each task whole files: a task beyond the file count reads nothing, yet starts, loads its
        # blocks and writes empty shards at every stage, on a core the busy task could use (issue 9: one 278-record
        # WARC file on an AVX2-only EPYC took 87 s with our 4 tasks on 2 workers against 73 s for datatrove run with
        # one task a stage, and 5 records went over Trafilatura's timeout there that the single task did not hit)
        tasks = min(cfg.tasks, len(files))
        stages = build_stages(cfg, reader, layout, fmt, tasks)
        out.mkdir(parents=True, exist_ok=True)
        (out / "recipe.yaml").write_text(to_yaml(cfg))
        print(f"corpus: {len(files)} {fmt} file(s) -> {out}/documents ({cfg.executor} executor, "
              f"{tasks} task(s){' (one per input file)' if tasks < cfg.tasks else ''}, {cfg.workers} workers)",
              flush=True)

        if cfg.executor == "ray":
            start_ray(cfg.ray_address, cfg.workers)
        executors = build_executors(stages, cfg.executor, cfg.workers, layout.logs, cfg.executor_options)
        executors[-1].run()
        left = incomplete_tasks(executors)
        if left:
            # slurm returns once the jobs are queued: rerun the same command when they are done
            print(f"corpus: {left} task(s) not finished yet (submitted to {cfg.executor}); rerun this command "
                  "when they are done: finished tasks are skipped and stats.json gets written.")
            return {}

        stats = collect_stats(layout, [name for name, _, _ in stages])
        (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
        print_table(stats)
        measured = {"documents_in": stats["documents_in"], "documents_out": stats["documents_out"],
                    "broken_records": stats["broken_records"]}
        if ground_truth is not None:
            from alignment.evals.ground_truth import score_against_ground_truth, print_scores

            measured["tiny_world"] = score_against_ground_truth(out, ground_truth)
            print_scores(measured["tiny_world"])
        record = run.write(measured)
    print(f"corpus: {stats['documents_out']} documents in {out / 'documents'}; "
          f"metrics in {out / 'metrics.json'} ({record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")
    return record


# Fields that change how the work is scheduled, not what it produces: a resumed run may change them.
SCHEDULING_FIELDS = ("workers", "executor", "executor_options", "ray_address")


def start_over_if_recipe_changed(cfg: CorpusConfig, out: Path) -> None:
    """Completion markers only mean something for the recipe that wrote them: on any other recipe in the
    same output_dir, finished tasks would be skipped and stale results kept. So a changed recipe starts over."""
    import yaml

    saved_path = out / "recipe.yaml"
    if not saved_path.is_file():
        return
    saved, current = yaml.safe_load(saved_path.read_text()), yaml.safe_load(to_yaml(cfg))
    for name in SCHEDULING_FIELDS:
        saved.pop(name, None), current.pop(name, None)
    if saved == current:
        return
    changed = sorted(k for k in current.keys() | saved.keys() if saved.get(k) != current.get(k))
    print(f"corpus: the recipe changed since the last run in {out} ({', '.join(changed)}): starting over")
    for name in ("documents", "removed", "work", "logs", "stats.json", "metrics.json"):
        path = out / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def render_tiny_crawl(cfg: CorpusConfig, folder: Path) -> tuple[Path, str]:
    """The tiny world's mini-web: WARC shards + ground truth, made once and reused while the recipe holds."""
    from alignment.world.people import build_world
    from alignment.world.miniweb import render_miniweb

    stamp = folder / "world.json"
    wanted = {"seed": cfg.seed, "world": cfg.world, "miniweb": cfg.miniweb}
    if not (stamp.is_file() and json.loads(stamp.read_text()) == wanted):
        shutil.rmtree(folder, ignore_errors=True)
        try:
            world = build_world(seed=cfg.seed, **cfg.world)
        except TypeError as e:
            raise RecipeError(f"world: {e}") from None
        try:
            render_miniweb(world, folder, seed=cfg.seed, **cfg.miniweb)
        except TypeError as e:
            raise RecipeError(f"miniweb: {e}") from None
        stamp.write_text(json.dumps(wanted))
    return folder / "ground_truth.jsonl", str(folder / "warc" / "*.warc.gz")


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(recipe_help(CorpusConfig, "corpus"))
        print("\n  --inspect DIR [--num_examples N]   show kept documents and, per filter, removed ones with the reason")
        return 0
    if "--inspect" in argv:
        from data_pipelines.inspect import inspect_corpus

        return inspect_corpus(argv)
    cfg = parse_recipe(CorpusConfig, argv)
    run_corpus(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
