"""`alignment run PIPELINE.yaml`: every stage of a pipeline recipe in order; finished stages are skipped.

    alignment run recipes/tiny/pipeline.yaml
    alignment run recipes/tiny/pipeline.yaml --until tokenizer            # a prefix: corpus, then tokenizer
    alignment run recipes/tiny/pipeline.yaml --stages pretrain,sft        # only these (in the pipeline's order)
    alignment run recipes/tiny/pipeline.yaml --tokenizer.vocab_size 4096  # a stage's field, for this run
    alignment run recipes/tiny/pipeline.yaml --verbose                    # every stage's output as it comes

Each stage's output goes to output_dir/run.log (alignment/stage_log.py); the terminal shows a line a stage,
with its progress while it runs and its headline number when done, and the last lines of the log if it fails.
A run that reaches the pipeline's last stage ends with its report (alignment/report.py: report/ beside the first
stage's output_dir).

A pipeline recipe lists stages, each with its own recipe and optional overrides (applied as command-line flags):

    stages:
      - {stage: corpus, config: recipes/tiny/corpus.yaml}
      - {stage: tokenizer, config: recipes/tiny/tokenizer.yaml, overrides: {vocab_size: 4096}}

Paths are relative to the current directory, like the paths inside the recipes.

The skip rule: a stage is skipped when
  1. it finished: its output_dir has a metrics.json written after its recipe.yaml (a run that was killed or
     failed has rewritten recipe.yaml at its start and not yet metrics.json);
  2. its recipe did not change: the saved recipe.yaml equals the recipe resolved now (as parsed YAML; fields
     that only schedule the work, a module's SCHEDULING_FIELDS such as the corpus's `workers`, are ignored);
  3. its inputs did not change: the stages before it in the pipeline have the same metrics.json as when it ran.
     After each stage the pipeline writes `pipeline.json` into its output_dir with the sha256 of every earlier
     stage's metrics.json (and of its own). A stage that reruns rewrites its metrics.json (wall time, at least),
     so every stage after it reruns. A stage that finished outside the pipeline (`alignment tokenizer ...` by
     hand, as `make demo` does) has no matching pipeline.json: it is taken as is when it finished after every
     earlier stage did (make's rule, on metrics.json times), and the fingerprints are recorded from then on.
The pipeline never deletes anything: a stage that reruns resumes a killed run, or starts over when its recipe
or inputs changed, by its own rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import shlex
import sys
import time
from pathlib import Path

import yaml

from alignment.cli import STAGES
from alignment.recipe import RecipeError, _split_argv, _suggest, load_yaml, parse_recipe, to_yaml, trainer_fields
from alignment.stage_log import log_path, run_logged, tail

# Stages a pipeline can run: stage name -> its config dataclass (in the module cli.STAGES names).
RECIPE_STAGES = {
    "corpus": "CorpusConfig",
    "tokenizer": "TokenizerConfig",
    "pretrain": "PretrainConfig",
    "sft": "SFTConfig",
    "refusals": "RefusalsConfig",
    "tool_use": "ToolUseConfig",
    "grpo": "GRPOStageConfig",
    "eval": "EvalConfig",
    "arena": "ArenaConfig",
}

# For the closing table: the main artifact of a stage (a path inside its output_dir) and its headline metric.
ARTIFACTS = {
    "corpus": ("documents dir", "documents"),
    "tokenizer": ("tokenizer dir", "."),
    "pretrain": ("model dir", "."),
    "sft": ("model dir", "."),
    "refusals": ("model dir", "."),
    "tool_use": ("model dir", "."),
    "grpo": ("model dir", "."),
    "eval": ("table", "eval.md"),
    "arena": ("leaderboard", "arena.md"),
}
HEADLINES = {  # metrics.json key -> what it is; the first key present is shown
    "corpus": {"documents_out": "documents kept"},
    "tokenizer": {"heldout_bytes_per_token": "bytes/token on held-out text"},
    "pretrain": {"validation_loss": "validation loss"},
    "sft": {"validation_loss": "validation loss", "eval_loss": "validation loss"},
    "refusals": {"reserved_not_attempted": "of questions about unknown people declined"},
    "tool_use": {"call_rate_with_tools": "of the held-out questions that need a tool answered with a call"},
    "grpo": {"greedy_accuracy_after": "of the held-out word problems right (greedy) after GRPO"},
    "eval": {"cells_measured": "cells measured (the rest reused)"},
    "arena": {"top_model": "ranked first"},
}

USAGE = """usage: alignment run PIPELINE.yaml [--until STAGE | --stages A,B] [--verbose] [--<stage>.<field> value ...]

Runs the pipeline's stages in order, each in its own process; a stage that finished with the same recipe
and the same inputs is skipped, and everything after a stage that reruns reruns too.

  --until STAGE            run the stages up to and including STAGE
  --stages A,B             run only these stages (still in the pipeline's order)
  --verbose                stream every stage's output (it is kept in output_dir/run.log either way)
  --<stage>.<field> value  override a field of one stage's recipe for this run (e.g. --tokenizer.vocab_size 512)"""


@dataclasses.dataclass
class Stage:
    name: str
    argv: list[str]        # what follows `alignment <name>`: --config FILE, then the overrides as --field=value
    output_dir: Path
    recipe: dict           # the resolved recipe, as to_yaml writes it and yaml reads it back
    ignored: tuple         # fields left out of the comparison with the saved recipe (scheduling only)
    status: str = "not run"


# --- the pipeline file and the command line ------------------------------------------------------

def _flag(field: str, value) -> str:
    """A YAML override as the flag parse_recipe reads back to the same value. `--field=value` always, so that a
    value starting with '--' is not taken for the next flag."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)  # JSON is YAML: lists and mappings are read back with yaml.safe_load
    else:
        text = str(value)
    return f"--{field}={text}"


def read_pipeline(path: str) -> list[dict]:
    """The pipeline file's entries, checked: a known stage each, at most once, with only known keys."""
    data = load_yaml(path)
    unknown = set(data) - {"stages"}
    if unknown:
        raise RecipeError(f"{path}: unknown key '{sorted(unknown)[0]}' (a pipeline recipe has `stages:` only)")
    entries = data.get("stages")
    if not isinstance(entries, list) or not entries:
        raise RecipeError(f"{path}: `stages:` must be a list of {{stage: NAME, config: RECIPE.yaml}}")
    seen = set()
    for i, entry in enumerate(entries):
        where = f"{path}: stages[{i}]"
        if not isinstance(entry, dict) or "stage" not in entry:
            raise RecipeError(f"{where}: expected {{stage: NAME, config: RECIPE.yaml, overrides: {{...}}}}")
        name = entry["stage"]
        if name not in RECIPE_STAGES:
            raise RecipeError(f"{where}: unknown stage '{name}'{_suggest(str(name), RECIPE_STAGES)} "
                              f"(stages: {', '.join(RECIPE_STAGES)})")
        if name in seen:  # overrides and pipeline.json name stages: each may appear once
            raise RecipeError(f"{where}: stage '{name}' appears twice")
        seen.add(name)
        extra = set(entry) - {"stage", "config", "overrides"}
        if extra:
            raise RecipeError(f"{where} ({name}): unknown key '{sorted(extra)[0]}' (keys: stage, config, overrides)")
        if not isinstance(entry.get("config", ""), str):
            raise RecipeError(f"{where} ({name}): config must be a path to the stage's recipe")
        if not isinstance(entry.get("overrides") or {}, dict):
            raise RecipeError(f"{where} ({name}): overrides must be a mapping of field: value")
    return entries


def parse_args(argv: list[str]) -> tuple[str, list[str] | None, str | None, dict[str, list[tuple[str, str | None]]],
                                          bool]:
    """-> (pipeline file, --stages, --until, {stage: [(field, text)]} from the --<stage>.<field> flags, --verbose)."""
    if not argv or argv[0].startswith("--"):
        raise RecipeError("expected the pipeline recipe first: alignment run PIPELINE.yaml [--<stage>.<field> value]")
    path, stages, until, overrides, verbose = argv[0], None, None, {}, False
    for name, text in _split_argv(argv[1:]):
        if name == "verbose":
            if text is not None:
                raise RecipeError(f"--verbose takes no value (got {text!r})")
            verbose = True
        elif name in ("stages", "until"):
            if not text:
                raise RecipeError(f"--{name}: expected stage names")
            if name == "stages":
                stages = [s for s in text.split(",") if s]
            else:
                until = text
        elif "." in name:
            stage, _, field = name.partition(".")
            overrides.setdefault(stage, []).append((field, text))
        else:
            raise RecipeError(f"unknown option '--{name}' (options: --until, --stages, --verbose, --<stage>.<field>)")
    if stages is not None and until is not None:
        raise RecipeError("--stages and --until: give one of them")
    return path, stages, until, overrides, verbose


def _config_class(name: str):
    module_name = STAGES[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise RecipeError(f"{name}: stage module {module_name} is not there (not built yet?)") from None
    return module, getattr(module, RECIPE_STAGES[name])


def _check_fields(cls, fields: list[str], where: str) -> None:
    """Name the stage and the field of a typo: `--tokenizer.vocab_sze`, not parse_recipe's `--vocab_sze`. A trainer
    stage's fields include its trainer's arguments class's (recipe.trainer_fields), loaded only when one is used."""
    names = {f.name for f in dataclasses.fields(cls)}
    library = None
    for field in fields:
        key = field.partition(".")[0]
        if key in names:
            continue
        if library is None and hasattr(cls, "TRAINER_ARGUMENTS"):
            library = set(trainer_fields(cls)[1])
        if key not in (library or ()):
            raise RecipeError(f"{where.format(field=field)}: unknown field{_suggest(key, names | (library or set()))}")


def resolve(entry: dict, cli_overrides: list[tuple[str, str | None]], pipeline: str) -> Stage:
    """A stage's recipe exactly as its own process will resolve it, checked now: a typo in the last stage
    fails in a second, not after the stages before it ran for an hour."""
    name = entry["stage"]
    module, cls = _config_class(name)
    yaml_overrides = entry.get("overrides") or {}
    _check_fields(cls, list(yaml_overrides), f"{pipeline}: {name} overrides: '{{field}}'")
    _check_fields(cls, [f for f, _ in cli_overrides], f"--{name}.{{field}}")
    argv = ["--config", entry["config"]] if entry.get("config") else []
    argv += [_flag(f, v) for f, v in yaml_overrides.items()]
    argv += [f"--{f}" if text is None else f"--{f}={text}" for f, text in cli_overrides]
    try:
        cfg = parse_recipe(cls, argv)
    except RecipeError as e:
        raise RecipeError(f"{name}: {e}") from None
    if not getattr(cfg, "output_dir", None):
        raise RecipeError(f"{name}: the recipe has no output_dir")
    return Stage(name, argv, Path(cfg.output_dir), yaml.safe_load(to_yaml(cfg)),
                 tuple(getattr(module, "SCHEDULING_FIELDS", ())))


# --- the skip rule ---------------------------------------------------------------------------------

def fingerprint(output_dir: Path) -> str | None:
    """sha256 of a stage's metrics.json: it changes whenever the stage runs again (its finished_at does)."""
    path = output_dir / "metrics.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _finished(output_dir: Path) -> bool:
    metrics, recipe = output_dir / "metrics.json", output_dir / "recipe.yaml"
    return metrics.is_file() and recipe.is_file() and metrics.stat().st_mtime >= recipe.stat().st_mtime


def why_run(stage: Stage, upstream: list[Stage]) -> tuple[str | None, str]:
    """(why the stage must run, or None to skip it; why it may be skipped)."""
    out = stage.output_dir
    if not (out / "metrics.json").is_file():
        return f"not finished before: no {out / 'metrics.json'}", ""
    if not (out / "recipe.yaml").is_file():
        return f"no {out / 'recipe.yaml'} to compare with", ""
    if not _finished(out):
        return "its last run did not finish: recipe.yaml is newer than metrics.json", ""
    saved = yaml.safe_load((out / "recipe.yaml").read_text()) or {}
    current = dict(stage.recipe)
    for name in stage.ignored:
        saved.pop(name, None), current.pop(name, None)
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    if changed:
        return f"recipe changed: {', '.join(changed)}", ""

    now = {s.name: fingerprint(s.output_dir) for s in upstream}
    record_path = out / "pipeline.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record and record.get("metrics_sha256") == fingerprint(out):
        rerun = [name for name in now if record.get("upstream", {}).get(name) != now[name]]
        if rerun:
            return f"inputs changed: {', '.join(rerun)} ran again since it ran", ""
        return None, "finished, same recipe, inputs unchanged" if upstream else "finished, same recipe"
    # Finished outside the pipeline (or rerun by hand since): its inputs are those that existed when it ran.
    mtime = (out / "metrics.json").stat().st_mtime
    newer = [s.name for s in upstream if (s.output_dir / "metrics.json").is_file()
             and (s.output_dir / "metrics.json").stat().st_mtime > mtime]
    if newer:
        return f"inputs changed: {', '.join(newer)} finished after it did", ""
    return None, "finished outside the pipeline" + (" after its inputs" if upstream else "") + ", same recipe"


def record_inputs(stage: Stage, upstream: list[Stage]) -> None:
    """pipeline.json: the fingerprints of the stage's inputs (and of itself) as it finished."""
    record = {"stage": stage.name, "metrics_sha256": fingerprint(stage.output_dir),
              "upstream": {s.name: fingerprint(s.output_dir) for s in upstream}}
    path, text = stage.output_dir / "pipeline.json", json.dumps(record, indent=2) + "\n"
    if not (path.is_file() and path.read_text() == text):  # a skipped stage's dir is left untouched
        path.write_text(text)


# --- running ----------------------------------------------------------------------------------------

def run_stage(stage: Stage, label: str, verbose: bool) -> int:
    """`python -m alignment <stage> ...` as a child process, its output to the stage's log (and to ours if verbose).

    A process per stage rather than main() in this one: when a stage exits, everything it held (torch and its
    allocator caches, a model, datasets' Arrow buffers, module-level caches) goes back to the OS, so the
    pipeline's peak memory is the largest stage's, not an accumulation; Python keeps freed memory in its own
    arenas and would not. The corpus stage's worker processes fork from a small parent, not from one holding
    a previous stage's memory. A crash (a segfault, the OOM killer) ends the stage, not the pipeline, which
    reports it with the exit code. And each stage runs exactly as `alignment <stage> ...` would by hand, its
    metrics.json measuring its own process tree. The cost, ~1-2 s of start-up a stage, is nothing here.
    """
    command = [sys.executable, "-m", "alignment", stage.name, *stage.argv]
    return run_logged(command, log_path(stage.output_dir), label, verbose)


def _headline(stage: Stage) -> str:
    try:
        metrics = json.loads((stage.output_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return "-"
    for key, about in HEADLINES.get(stage.name, {}).items():
        if isinstance(metrics.get(key), (int, float, str)):
            return f"{metrics[key]} {about}"
    return "-"


def print_table(stages: list[Stage]) -> None:
    rows = [("stage", "status", "headline", "main artifact", "", "metrics")]
    for s in stages:
        kind, inside = ARTIFACTS.get(s.name, ("output_dir", "."))
        metrics = s.output_dir / "metrics.json"
        rows.append((s.name, s.status, _headline(s), kind, str(s.output_dir / inside if inside != "." else s.output_dir),
                     str(metrics) if metrics.is_file() else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\nartifacts (each output_dir also has recipe.yaml and pipeline.json):")
    for r in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(USAGE)
        return 0
    path, chosen, until, cli_overrides, verbose = parse_args(argv)
    entries = read_pipeline(path)
    names = [e["stage"] for e in entries]
    for name in [*(chosen or []), *([until] if until else []), *cli_overrides]:
        if name not in names:
            raise RecipeError(f"no stage '{name}' in {path}{_suggest(name, names)} (stages: {', '.join(names)})")
    if until:
        chosen = names[: names.index(until) + 1]
    selected = [n for n in names if n in (chosen or names)]

    # Every selected stage's recipe is resolved before anything runs. A stage left out before the last selected
    # one is resolved only to find its output (an input of the stages after it), and leniently: a stage still
    # being written, or its recipe, must not stop a run of the others. Stages after the last one are not read.
    last = names.index(selected[-1])
    stages = [resolve(e, cli_overrides.get(e["stage"], []), path) if e["stage"] in selected
              else _resolve_leniently(e, cli_overrides.get(e["stage"], []), path) for e in entries[: last + 1]]
    print(f"pipeline {path}: {' -> '.join(selected)}", flush=True)
    for i, stage in enumerate(stages):
        if stage is None or stage.name not in selected:
            continue
        # Its inputs: every stage before it in the file, selected or not (what they left on disk is what it reads).
        upstream = [s for s in stages[:i] if s is not None]
        step = f"[{selected.index(stage.name) + 1}/{len(selected)}] {stage.name}"
        reason, skip_reason = why_run(stage, upstream)
        if reason is None:
            stage.status = "skipped"
            print(f"{step}: skipped ({skip_reason})", flush=True)
            record_inputs(stage, upstream)  # the same record again, or the first one for a stage run by hand
            continue
        print(f"{step}: running ({reason})\n  $ alignment {stage.name} {shlex.join(stage.argv)}\n"
              f"  log: {log_path(stage.output_dir)}", flush=True)
        # A half-run stage must never look finished to a later pipeline, whatever the stage leaves behind.
        (stage.output_dir / "pipeline.json").unlink(missing_ok=True)
        started = time.time()
        try:
            code = run_stage(stage, step, verbose)
        except KeyboardInterrupt:
            print(f"alignment run: error: interrupted during stage {stage.name}", file=sys.stderr)
            return 130
        elapsed = time.time() - started
        later = [s.name for s in stages[i + 1:] if s is not None and s.name in selected]
        not_run = f"; not run: {', '.join(later)}" if later else ""
        if code != 0:
            if not verbose:  # what it said last, where a terminal would have shown it
                lines = tail(log_path(stage.output_dir))
                print(f"the last {len(lines)} lines of {log_path(stage.output_dir)}:\n" +
                      "\n".join(f"  | {line}" for line in lines), file=sys.stderr)
            print(f"alignment run: error: stage {stage.name} failed with exit code {code}{not_run}", file=sys.stderr)
            return 1
        if not (_finished(stage.output_dir) and (stage.output_dir / "metrics.json").stat().st_mtime >= started - 1):
            # e.g. the corpus on Slurm returns once its jobs are queued; the stages after it need its output
            print(f"alignment run: error: stage {stage.name} exited 0 without writing metrics.json (jobs still "
                  f"queued?): rerun when it is done{not_run}", file=sys.stderr)
            return 1
        record_inputs(stage, upstream)
        stage.status = f"done in {elapsed:.1f} s"
        headline = _headline(stage)
        print(f"{step}: done in {elapsed:.1f} s" + (f": {headline}" if headline != "-" else ""), flush=True)
    print_table([s for s in stages if s is not None])
    if selected[-1] == names[-1]:  # the whole pipeline is there: its report card, beside the first stage's dir
        write_closing_report(path, [s for s in stages if s is not None])
    return 0


def write_closing_report(path: str, stages: list[Stage]) -> None:
    """report.md and report.html (alignment/report.py) of the stages, with the quiz if one lies beside them."""
    from alignment.report import write_report

    beside = stages[0].output_dir.parent
    started = time.time()
    written = write_report(path, stages, beside / "report", beside / "quiz.json")
    print(f"report: {written['markdown']} and {written['html']} ({written['images']} figures inlined, "
          f"{time.time() - started:.1f} s)", flush=True)


def _resolve_leniently(entry: dict, cli_overrides: list[tuple[str, str | None]], pipeline: str) -> Stage | None:
    try:
        stage = resolve(entry, cli_overrides, pipeline)
    except (RecipeError, ImportError):
        return None  # its output cannot be located: not an input that can be fingerprinted
    stage.status = "not selected"
    return stage
