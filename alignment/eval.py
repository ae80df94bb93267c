"""`alignment eval`: every model of a pipeline on every held-out suite of the tiny world, as one table.

    alignment eval --config recipes/tiny/eval.yaml
    alignment eval --config recipes/tiny/eval.yaml --models '{sft: runs/tiny/sft, mine: path/to/model}'

1. Cells: each of `models` (in the table's order) on each of `suites` that applies to it
   (alignment/evals/measurements.py: SUITES). A base model (the pretrain stage's, or a model dir with no chat
   template) is measured on the few-shot probe only, an assistant on every suite. Tool suites are asked with the
   tools the model dir offers (its tools.json, as `alignment chat` offers them), or with none.
2. Reuse: a cell that a stage already measured (the same suite key, the same model files, the same measurement
   code) is taken from that stage's metrics.json, found in every listed model dir; a cell this stage measured
   before, from its own measurements.json. `reuse: false` measures every cell again.
3. Measure the rest, one model loaded at a time, greedy, with the functions the stages measure with
   (alignment/evals), so a reused number and a measured one of the same column are the same measurement.
4. metrics.json (the table: each cell's share, standard error, questions and where it came from; the full results
   of the cells measured here), eval.md (the table in markdown), and the table printed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.evals.measurements import BASE_SUITES, HARNESS_PREFIX, MEAN_SUITES, SET_SUITES, SUITES, find
from alignment.recipe import RecipeError, stage_main

SCHEDULING_FIELDS = ("tool_workers",)  # how fast, not what: `alignment run` ignores a change of them
# suite -> the stages' set name it measures (the inverse of SET_SUITES)
SUITE_SETS = {suite: name for name, suite in SET_SUITES.items()}
CHAT_SUITES = ("open_facts", "identity", "word_problems")
REFUSAL_SUITES = ("refusal_reserved", "refusal_heldout", "refusal_known")
TOOL_SUITES = ("letters", "products", "comparisons", "search_found", "search_not_found")


@dataclass
class EvalConfig:
    """The models, the suites and how the suites are asked (each as the stage that defines it asks it: a setting
    that differs from the stage's measures the cell again instead of reusing it)."""

    output_dir: str = field(default="runs/tiny/eval", metadata={"help": "Where metrics.json and eval.md go."})
    models: dict = field(default_factory=dict, metadata={
        "help": "The models, {name: model dir or hub id}, in the table's order."})
    suites: list = field(default_factory=lambda: list(SUITES), metadata={
        "help": f"The suites (columns), of: {', '.join(SUITES)}."})
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}) the suites' questions come from."})
    seed: int = field(default=0, metadata={
        "help": "The stages' seed: how each suite's questions are drawn and phrased, as the stages drew them (then "
                "their measurements are reused). What is held out does not follow it: the world's people and facts "
                "and the python questions' split are the same whatever the seed."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator}): the identity suite."})
    conversations_dir: str | None = field(default=None, metadata={
        "help": "The sft stage's conversations/ dir: its held-out identity, word-problem and fact files."})
    few_shot_questions: int = field(default=0, metadata={
        "help": "Questions of the few-shot probe (the pretrain stage's probe_questions; 0: every fact)."})
    chat_max_new_tokens: int = field(default=160, metadata={
        "help": "Reply budget of the identity, word-problem and open-fact suites (the stages' eval_max_new_tokens)."})
    refusal_max_new_tokens: int = field(default=48, metadata={
        "help": "Reply budget of the refusal suites (the refusals stage's measure_max_new_tokens)."})
    tool_max_new_tokens: int = field(default=96, metadata={
        "help": "Reply budget of a turn in the tool suites (the tool_use stage's measure_max_new_tokens)."})
    python_heldout: int = field(default=120, metadata={
        "help": "Held-out python questions (the tool_use stage's python_questions.heldout)."})
    search_invented_people: int = field(default=0, metadata={
        "help": "The tool_use stage's invented_people (its searched sets are drawn beside them)."})
    search_readable_people: int = field(default=0, metadata={"help": "The tool_use stage's readable_people."})
    max_calls: int = field(default=3, metadata={"help": "Tool calls allowed a question (the tool_use stage's)."})
    note_max_new_tokens: int = field(default=64, metadata={
        "help": "Reply budget of the gold-preference notes (the arena stage's max_new_tokens)."})
    tool_workers: int = field(default=4, metadata={"help": "Threads running one round's tool calls."})
    reuse: bool = field(default=True, metadata={
        "help": "Take a cell from a stage's or an earlier eval's measurement of the same suite, model and code."})

    # --- EleutherAI's lm-evaluation-harness, for real models (alignment/evals/harness.py)
    lm_eval_tasks: list = field(default_factory=list, metadata={
        "help": "Harness tasks to run on every model (e.g. [arc_easy, hellaswag]; their data comes from the Hub), "
                "or tasks from lm_eval_include_path: a column each."})
    lm_eval_include_path: str | None = field(default=None, metadata={
        "help": "A folder of the harness's task YAMLs (local tasks, local data files)."})
    lm_eval_num_fewshot: int | None = field(default=None, metadata={"help": "Shots (None: each task's default)."})
    lm_eval_limit: int | None = field(default=None, metadata={"help": "At most this many documents a task."})
    lm_eval_batch_size: int = field(default=8, metadata={"help": "The harness's batch size."})

    def __post_init__(self):
        if not isinstance(self.models, dict) or not self.models:
            raise RecipeError("models: expected {name: model dir or hub id, ...}, at least one")
        for name, where in self.models.items():
            if not isinstance(where, str) or not where:
                raise RecipeError(f"models.{name}: expected a model dir or hub id, got {where!r}")
        unknown = [s for s in self.suites if s not in SUITES]
        if unknown:
            raise RecipeError(f"suites: unknown suite {unknown[0]!r} (suites: {', '.join(SUITES)})")
        if set(self.suites) - {"open_facts", "identity", "word_problems"} and not self.world:
            raise RecipeError("world: the tiny world's suites need it ({seed, n_entities, n_reserved})")
        if self.lm_eval_include_path and not Path(self.lm_eval_include_path).is_dir():
            raise RecipeError(f"lm_eval_include_path: no folder {self.lm_eval_include_path!r}")
        if set(self.suites) & set(CHAT_SUITES) and not self.conversations_dir:
            raise RecipeError("conversations_dir: the identity, word-problem and open-fact suites read the sft "
                              "stage's held-out files from it")


# --- the suites' items -------------------------------------------------------------------------------

def suite_items(cfg: EvalConfig) -> dict[str, list[dict]]:
    """The stages' held-out sets, built as they build them: set name -> items."""
    from alignment.conversation_files import jsonl_objects
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions
    from alignment.world.tool_questions import python_items, python_sets_by_kind, search_items

    wanted = {SUITE_SETS[s] for s in cfg.suites if s in SUITE_SETS}
    sets: dict[str, list[dict]] = {}
    for name in ("eval_facts", "eval_identity", "eval_word_problems"):
        if name in wanted:
            path = Path(cfg.conversations_dir) / f"{name}.jsonl"
            sets[name] = [row for _, row in jsonl_objects(path, f"conversations_dir: no file {str(path)!r} (the sft "
                                                                 "stage writes it)")]
    if not cfg.world:
        return sets
    world = build_world(**cfg.world)
    if wanted & {"eval_reserved", "eval_heldout", "eval_known"}:
        sets |= {k: v for k, v in build_refusal_questions(world).items() if k in wanted}
    if wanted & {"eval_letters", "eval_products", "eval_comparisons"}:
        sets |= python_sets_by_kind(python_items(cfg.seed, 0, cfg.python_heldout)[1])
    if "gold_preference" in cfg.suites:
        from alignment.evals.preference_labeller import note_prompts

        sets["notes"] = note_prompts(world, cfg.seed)
        wanted.add("notes")
    if wanted & {"eval_found", "eval_not_found"}:
        searched = search_items(world, cfg.seed, cfg.search_invented_people, cfg.search_readable_people)
        sets |= {k: searched[k] for k in ("eval_found", "eval_not_found")}
    return {k: v for k, v in sets.items() if k in wanted}


# --- the cells -----------------------------------------------------------------------------------------

def is_base_model(model: str) -> bool:
    """A pretrain stage's dir, or a local dir whose tokenizer has no chat template: not an assistant."""
    folder = Path(model)
    if not folder.is_dir():
        return False  # a hub id: taken for what the recipe says it is, an assistant
    try:
        if json.loads((folder / "metrics.json").read_text()).get("stage") == "pretrain":
            return True
    except (OSError, ValueError):
        pass
    config = folder / "tokenizer_config.json"
    has_template = (folder / "chat_template.jinja").is_file() or (
        config.is_file() and "chat_template" in json.loads(config.read_text()))
    return not has_template


def tools_of(model: str, cfg: EvalConfig) -> tuple[dict | None, dict | None]:
    """(tools.json of the model dir or None, the offer as a suite key records it)."""
    from alignment.evals.measurements import tools_offer
    from alignment.tools import offered_tools

    offer = offered_tools(model) if Path(model).is_dir() else None  # its search_index resolved
    if not offer:
        return None, None
    return offer, tools_offer(offer["tools"], offer.get("search_index"), offer.get("top_k", 2), cfg.max_calls)


def cell_keys(cfg: EvalConfig, model: str, items: dict) -> dict[str, str]:
    """suite -> suite key, for the suites that apply to `model`."""
    from alignment.evals.measurements import few_shot_key, notes_key, set_key

    base = is_base_model(model)
    _, offer = tools_of(model, cfg)
    keys = {}
    for suite in cfg.suites:
        if base and suite not in BASE_SUITES:
            continue
        if suite == "few_shot_facts":
            if cfg.world:
                keys[suite] = few_shot_key(cfg.world, cfg.few_shot_questions, cfg.seed)[1]
            continue
        if suite == "gold_preference":
            keys[suite] = notes_key(items["notes"], cfg.note_max_new_tokens)
            continue
        name = SUITE_SETS[suite]
        budget = (cfg.chat_max_new_tokens if suite in CHAT_SUITES else cfg.refusal_max_new_tokens
                  if suite in REFUSAL_SUITES else cfg.tool_max_new_tokens)
        keys[suite] = set_key(name, items[name], budget, tools=offer if suite in TOOL_SUITES else None,
                              identity=cfg.identity)[1]
    return keys


def harness_keys(cfg: EvalConfig) -> dict[str, str]:
    """lm_eval:<task> -> its suite key: the task, the local task folder's files, shots, limit, the harness's version."""
    from importlib import metadata

    from alignment.evals.measurements import HARNESS_PREFIX, folder_sha256, suite_key

    version = metadata.version("lm_eval") if cfg.lm_eval_tasks else None
    folder = folder_sha256(cfg.lm_eval_include_path) if cfg.lm_eval_include_path else None
    return {HARNESS_PREFIX + task: suite_key(HARNESS_PREFIX + task, {"task": task, "include_path": folder},
                                             num_fewshot=cfg.lm_eval_num_fewshot, limit=cfg.lm_eval_limit,
                                             lm_eval=version)
            for task in cfg.lm_eval_tasks}


# --- measuring ----------------------------------------------------------------------------------------

def measure(cfg: EvalConfig, model_dir: str, suites: list[str], items: dict, clock) -> dict[str, dict]:
    """suite -> result (in the form the stages write), for `suites` of one model; `clock` (metrics.PhaseClock)
    times each group of suites."""
    from alignment.evals.assistant_probes import evaluate_assistant, load_model_dir
    from alignment.evals.refusal_grading import exact_grades, graded_replies
    from alignment.world.conversations import default_system_message

    model, tokenizer, stops = load_model_dir(model_dir)
    clock.done("load")
    results = {}
    if "few_shot_facts" in suites:
        from alignment.evals.base_model_probes import fact_recall
        from alignment.world.people import build_world

        results["few_shot_facts"] = fact_recall(model, tokenizer, build_world(**cfg.world), cfg.few_shot_questions,
                                                cfg.seed)
        clock.done("few_shot_facts")
    chat = [s for s in suites if s in CHAT_SUITES]
    if chat:
        sets = {name: items[name] if SET_SUITES[name] in chat else [] for name in
                ("eval_identity", "eval_facts", "eval_word_problems")}
        numbers, _ = evaluate_assistant(model, tokenizer, sets, cfg.identity, default_system_message(cfg.identity),
                                        stops, cfg.chat_max_new_tokens)
        flat = {"identity": "identity_accuracy_no_system", "open_facts": "fact_accuracy",
                "word_problems": "word_problem_accuracy"}
        for suite in chat:
            results[suite] = {"accuracy": numbers[flat[suite]], "questions": len(items[SUITE_SETS[suite]])}
        clock.done("chat")
    for suite in (s for s in suites if s in REFUSAL_SUITES):
        results[suite], _ = graded_replies(model, tokenizer, items[SUITE_SETS[suite]], cfg.refusal_max_new_tokens,
                                           stops, exact_grades)
        clock.done(suite)
    if "gold_preference" in suites:
        from alignment.evals.preference_labeller import gold_of_notes

        results["gold_preference"] = gold_of_notes(model, tokenizer, stops, items["notes"], cfg.note_max_new_tokens)
        clock.done("gold_preference")
    tool = [s for s in suites if s in TOOL_SUITES]
    if tool:
        results |= _measure_tools(cfg, model_dir, model, tokenizer, stops, {SUITE_SETS[s]: items[SUITE_SETS[s]]
                                                                            for s in tool})
        clock.done("tools")
    return results


def _measure_tools(cfg: EvalConfig, model_dir: str, model, tokenizer, stops: list[int], sets: dict) -> dict:
    from alignment.evals.tool_measures import Measurer, measure_with_tools, measure_without_tools
    from alignment.tools import tool_schemas, use_search_index

    offer, _ = tools_of(model_dir, cfg)
    names = offer["tools"] if offer else []
    if "python" in names:
        from alignment.tools.python_sandbox import SandboxUnavailable, check_sandbox

        try:
            check_sandbox()
        except SandboxUnavailable as e:
            raise RecipeError(f"models: {model_dir} offers python, and the sandbox cannot start here ({e}); leave "
                              "the tool suites out (suites)") from None
    if "search" in names:
        use_search_index(offer["search_index"], offer.get("top_k", 2))
    measurer = Measurer(model, tokenizer, stops, names, tool_schemas(names) if names else [], cfg.tool_max_new_tokens,
                        cfg.max_calls, cfg.tool_workers, cfg.identity, None, cfg.chat_max_new_tokens)
    measured = measure_with_tools(measurer, sets, None)[0] if names else measure_without_tools(measurer, sets, None)
    return {SET_SUITES[name]: measured[name] for name in sets}


def _signature(entry: dict) -> tuple:
    return entry["suite"], entry.get("key"), entry.get("model_sha256"), entry.get("code_sha256")


def _write_cache(path: Path, kept: dict, results: dict) -> None:
    """measurements.json: every cell measured here, each record's `at` pointing into its `results`."""
    path.write_text(json.dumps({"measurements": list(kept.values()), "results": results}, indent=2) + "\n")


def _harness(cfg: EvalConfig, model: str, columns: list[str]) -> dict[str, dict]:
    if not columns:
        return {}
    from alignment.evals.harness import run_harness

    found = run_harness(model, [c.removeprefix(HARNESS_PREFIX) for c in columns], cfg.lm_eval_include_path,
                        cfg.lm_eval_num_fewshot, cfg.lm_eval_limit, cfg.lm_eval_batch_size)
    return {HARNESS_PREFIX + task: result for task, result in found.items()}


# --- the stage ----------------------------------------------------------------------------------------

def run_eval(cfg: EvalConfig) -> dict:
    from alignment.evals.measurements import code_sha256, model_sha256, record as measurement, recorded, result_at
    from alignment.metrics import PhaseClock, StageRun
    from alignment.recipe import to_yaml

    out = Path(cfg.output_dir)
    with StageRun("eval", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        (out / "recipe.yaml").write_text(to_yaml(cfg))
        items = suite_items(cfg)
        code = code_sha256()
        cache = out / "measurements.json"
        stage_files = [Path(m) / "metrics.json" for m in cfg.models.values() if Path(m).is_dir()]
        known = recorded(stage_files) if cfg.reuse else []
        earlier = recorded([cache]) if cfg.reuse else []
        earlier_results = json.loads(cache.read_text()) if earlier else {}
        table, results, mine, seconds = {}, {}, [], {}
        # the cache keeps every cell ever measured here (a killed run loses none), this run's added as they come
        kept = {_signature(e): {k: v for k, v in e.items() if k != "source"} for e in earlier}
        kept_results = earlier_results.get("results") or {}

        def keep(entry: dict, name: str, suite: str, result) -> None:
            kept[_signature(entry)] = entry
            kept_results.setdefault(name, {})[suite] = result

        for name, model in cfg.models.items():
            keys, sha = cell_keys(cfg, model, items) | harness_keys(cfg), model_sha256(model)
            row, missing = {}, []
            for suite, key in keys.items():
                found = find(known, suite, key, sha, code)
                source = f"reused: {found['source']} ({found['at']})" if found else None
                if found is None:
                    found = find(earlier, suite, key, sha, code)
                    source = "this stage, an earlier run" if found else None
                    if found:  # kept, with its full result, under this run's name for the model
                        result = result_at(earlier_results, found["at"])
                        if result is not None:
                            results.setdefault(name, {})[suite] = result
                        mine.append({k: v for k, v in found.items() if k != "source"}
                                    | {"at": f"results.{name}.{suite}"})
                        keep(mine[-1], name, suite, result)
                if found:
                    row[suite] = {"value": found["value"], "stderr": found["stderr"], "n": found["n"],
                                  "source": source}
                else:
                    missing.append(suite)
            if missing:
                print(f"eval: {name}: measuring {', '.join(missing)}", flush=True)
                measured, clock = results.setdefault(name, {}), PhaseClock(f"eval: {name}")
                if any(s in SUITES for s in missing):  # the harness loads the model itself
                    measured |= measure(cfg, model, [s for s in missing if s in SUITES], items, clock)
                measured |= _harness(cfg, model, [s for s in missing if s not in SUITES])
                if cfg.lm_eval_tasks:
                    clock.done("lm_eval")
                seconds[name] = clock.seconds
                for suite in missing:
                    entry = measurement(suite, keys[suite], model, results[name][suite], f"results.{name}.{suite}")
                    mine.append(entry)
                    keep(entry, name, suite, results[name][suite])
                    row[suite] = {"value": entry["value"], "stderr": entry["stderr"], "n": entry["n"],
                                  "source": "measured"}
                # kept as each model is done: a killed eval keeps what it measured
                _write_cache(cache, kept, kept_results)
            table[name] = {s: row[s] for s in keys}
        _write_cache(cache, kept, kept_results)
        sources = [c["source"] for row in table.values() for c in row.values()]
        harness = {key: {"label": key.removeprefix(HARNESS_PREFIX), "share": "lm-evaluation-harness: "
                         + ", ".join(sorted({r[key]["headline"] for r in results.values() if key in r})
                                     or ["its headline metric"]), "higher_is_better": True}
                   for key in harness_keys(cfg)}
        record = run.write({
            "models": cfg.models,
            "suites": {s: {"label": SUITES[s][0], "share": SUITES[s][1], "higher_is_better": SUITES[s][2]}
                       for s in cfg.suites} | harness,
            "table": table,
            "cells": {"total": len(sources), "reused_from_stages": sum(s.startswith("reused") for s in sources),
                      "from_earlier_runs": sum(s.startswith("this stage") for s in sources),
                      "measured": sum(s == "measured" for s in sources)},
            "cells_measured": sum(s == "measured" for s in sources),
            "results": results,
            "phase_seconds": seconds,
            "measurements": mine,
        })
        (out / "eval.md").write_text(to_markdown(record) + "\n")
    print("\n" + to_markdown(record))
    print(f"\neval: {record['cells']['measured']} cells measured, {record['cells']['reused_from_stages']} reused "
          f"from the stages, {record['cells']['from_earlier_runs']} from earlier runs -> {out / 'eval.md'} "
          f"(wall {record['wall_time_s']} s)")
    return record


def to_markdown(metrics: dict) -> str:
    """The table: a row a model, a column a suite, each cell its share ± standard error in percent (— where the
    suite does not apply); then what each column counts."""
    suites = list(metrics["suites"])
    about = metrics["suites"]
    header = [f"{about[s]['label']} {'↑' if about[s]['higher_is_better'] else '↓'}" for s in suites]
    lines = ["| model | " + " | ".join(header) + " |", "|---|" + "---|" * len(suites)]
    for model, row in metrics["table"].items():
        cells = [_cell(row[s], s) if s in row else "—" for s in suites]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {metrics['suites'][s]['label']}: {metrics['suites'][s]['share']}" for s in suites]
    return "\n".join(lines)


def _cell(cell: dict, suite: str) -> str:
    """A share in percent, ± its standard error; a mean score or any other number (a perplexity) as it is."""
    value, error = cell["value"], cell["stderr"]
    if 0 <= value <= 1 and suite not in MEAN_SUITES:
        return f"{100 * value:.1f} ± {100 * error:.1f}" if error is not None else f"{100 * value:.1f}"
    if suite in MEAN_SUITES:
        return f"{value:.3f} ± {error:.3f}" if error is not None else f"{value:.3f}"
    return f"{value:.3g} ± {error:.2g}" if error is not None else f"{value:.3g}"


def main(argv: list[str]) -> int:
    return stage_main(EvalConfig, "eval", run_eval, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
