"""`alignment tool_use`: the assistant learns to search and to run Python (stage 5, mitigation 2 of hallucinations).

The picture from "Deep Dive into LLMs like ChatGPT": knowledge in the parameters is a vague recollection, knowledge
in the context window is working memory; and a model sees tokens, not letters or digits, so it cannot count the r's
of "strawberry" or multiply 347 by 589 in its head. Give it tools: it writes a call, the tool's real result enters
its context, and it answers from that.

    alignment tool_use --config recipes/tiny/tool_use.yaml

1. Index: the search tool's BM25 index over `search_source` (the corpus stage's documents: the tiny world's web),
   built into output_dir/search_index (alignment/tools/search_index.py).
2. Data (alignment/world/tool_questions.py), every result made by running the real tool (the python sandbox, the
   index): questions about people answered by searching and reading the passages ("I couldn't find anything about
   X." for the reserved people, whom no page names); letters, 3-digit products and decimal comparisons answered by
   a program and its output; the python kinds with no tools offered, answered without a call; and a replay of the
   input stage's data (refusals, identity, word problems), so that every earlier skill stays.
3. Train: the shared SFT routine (alignment/sft_training.py) from the input model; a killed run resumes. The tools
   block of the system turn is long for a tiny tokenizer (602 tokens for the two tools: it never saw JSON), so
   `context_length` grows the model's context (RoPE: no new weights).
4. Measure, greedy, on questions never trained on, through the calling loop that chat uses (alignment/tools/
   calling.py): with tools offered and without, before (the input model, no tools) and after; identity, word
   problems and the refusal stage's set (a) on the files the earlier stages measured them on.
5. Mark the model dir as tool-trained: tools.json names the tools and the index, so `alignment chat` offers them.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.recipe import RecipeError, stage_main
from alignment.sft_training import SFTTrainingFields


@dataclass
class ToolUseConfig(SFTTrainingFields):
    """Every SFT field (alignment/sft_training.py) plus the tools, the questions and the replay."""

    output_dir: str = field(default="runs/tiny/tool_use", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/refusals", metadata={
        "help": "The assistant to train (the refusals stage's dir, any chat model dir or a hub id)."})
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): the search questions are about its people."})
    tools: list[str] = field(default_factory=lambda: ["python", "search"], metadata={
        "help": "The registry's tools offered (alignment/tools/__init__.py)."})
    search_source: str = field(default="runs/tiny/corpus/documents", metadata={
        "help": "What search searches: a datatrove output folder, or a JSONL / Parquet text set."})
    search_top_k: int = field(default=2, metadata={"help": "Passages a search returns."})
    python_questions: dict = field(default_factory=lambda: {"train": 300, "heldout": 120}, metadata={
        "help": "Letters, products and comparisons (a third each) answered with python: trained, and measured."})
    invented_people: int = field(default=0, metadata={
        "help": "The tiny world: this many never-seen people (as the refusal stage invents them) searched for in "
                "training and found nowhere, beside the reserved people of the training share."})
    readable_people: int = field(default=0, metadata={
        "help": "The tiny world: this many more invented people with pages of their own (the corpus's kinds), which "
                "only the training index holds, each asked one fact: answers that must be read from the passages, "
                "since no model knows these people."})
    no_tool_questions: int = field(default=150, metadata={
        "help": "Python-kind questions (of the training words and numbers) with no tools offered, answered without "
                "a call: what the assistant does when it has no tools."})
    replay_dataset: str | None = field(default=None, metadata={
        "help": "Conversations (JSONL with messages and kind, e.g. runs/tiny/refusals/data/train.jsonl) replayed "
                "so the earlier skills stay."})
    replay_conversations: dict = field(default_factory=lambda: {"all": 400}, metadata={
        "help": "How many replay conversations (a seeded draw): {all: N}, or a count per kind of the file's rows."})
    replay_with_tools: dict = field(default_factory=dict, metadata={
        "help": "More replay conversations (their own draw, counts as replay_conversations) with the tools offered: "
                "questions that need no tool (who are you, a word problem, someone unknown) answered without a "
                "call when tools are there, as in chat."})
    skills_dir: str | None = field(default=None, metadata={
        "help": "The SFT stage's conversations dir: its eval_identity and eval_word_problems files are measured."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator}): identity is measured."})
    system_message: str | None = field(default=None, metadata={
        "help": "The default system message of the identity measurement (None: one that states the identity)."})
    context_length: int | None = field(default=None, metadata={
        "help": "Grow the model's context (max_position_embeddings) to this many tokens, for RoPE models whose "
                "pretraining context is shorter than a conversation with tools (None: keep it)."})
    max_calls: int = field(default=3, metadata={"help": "Tool calls per answer in the measurements (and in chat)."})
    measure_max_new_tokens: int = field(default=64, metadata={
        "help": "Reply budget per turn in the measurements (a call is ~40 tokens of the tiny tokenizer)."})
    tool_workers: int = field(default=4, metadata={
        "help": "Tool calls run at once while making the data and measuring (each python call is a process)."})

    def __post_init__(self):
        super().__post_init__()
        from alignment.tools import TOOLS

        if not self.world:
            raise RecipeError("world: the tool_use stage's questions come from the tiny world: set world "
                              "({seed, n_entities, n_reserved}); a function-calling set trains with `alignment sft`")
        unknown = [t for t in self.tools if t not in TOOLS]
        if unknown or not self.tools:
            raise RecipeError(f"tools: unknown tool {unknown[0]!r} (tools: {', '.join(TOOLS)})" if unknown else
                              "tools: name at least one tool")
        for key in ("train", "heldout"):
            if not isinstance(self.python_questions.get(key), int) or self.python_questions[key] < 0:
                raise RecipeError(f"python_questions.{key}: expected a count, got {self.python_questions.get(key)!r}")
        if self.search_top_k < 1:
            raise RecipeError(f"search_top_k: expected at least 1, got {self.search_top_k}")


# --- questions -------------------------------------------------------------------------------------

def questions(cfg: ToolUseConfig) -> dict[str, list[dict]]:
    """Every item of the stage: training ones (train_*), measured ones (eval_*), disjoint by construction."""
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions
    from alignment.world.tool_questions import python_items, python_sets_by_kind, search_items

    world = build_world(**cfg.world)
    out: dict[str, list[dict]] = {}
    if "python" in cfg.tools:
        train, heldout = python_items(cfg.seed, cfg.python_questions["train"] + cfg.no_tool_questions,
                                      cfg.python_questions["heldout"])
        out["train_python"], out["train_no_tools"] = train[:cfg.python_questions["train"]], \
            train[cfg.python_questions["train"]:]
        out |= python_sets_by_kind(heldout)
    if "search" in cfg.tools:
        searched = search_items(world, cfg.seed, cfg.invented_people, cfg.readable_people)
        out["train_search"] = searched["train"]
        out["readable_people"] = searched["readable_people"]
        out["eval_found"], out["eval_not_found"] = searched["eval_found"], searched["eval_not_found"]
    # the refusal stage's set (a), asked with no tools: the refusals it trained stay
    out["eval_reserved"] = build_refusal_questions(world)["eval_reserved"]
    return out


# --- data ------------------------------------------------------------------------------------------

def make_conversations(cfg: ToolUseConfig, items: dict[str, list[dict]], schemas: list[dict]) -> tuple[list, dict]:
    """(the new training conversations, counts of what was made and dropped). Tool results are real: each call
    runs through the registry (on `tool_workers` threads). A search whose passages do not hold the fact is not
    trained on: the assistant learns to answer from what it read, not from memory."""
    from concurrent.futures import ThreadPoolExecutor

    from alignment.tools import call_tool
    from alignment.world.tool_questions import no_tool_conversation, tool_conversation

    tool_items = items.get("train_python", []) + items.get("train_search", [])
    run = lambda name, arguments: call_tool(name, arguments, cfg.tools)  # noqa: E731
    with ThreadPoolExecutor(cfg.tool_workers) as pool:
        made = list(pool.map(lambda item: tool_conversation(item, run), tool_items))
    tools_json = json.dumps(schemas)
    conversations, counts = [], {"dropped_fact_not_in_results": 0, "tool_errors": 0}
    for item, (messages, result) in zip(tool_items, made):
        if result.startswith("Error:"):
            raise RecipeError(f"tool_use: the {item['tool']} tool failed while making the data on "
                              f"{item['question']!r}: {result}")
        if item["tool"] == "search" and item["found"] and item["truth"] not in result:
            counts["dropped_fact_not_in_results"] += 1
            continue
        kind = f"{item['tool']}_" + (item["kind"] if item["tool"] == "python" else "read" if item.get("readable")
                                     else "found" if item["found"] else "not_found")
        conversations.append({"messages": messages, "tools": tools_json, "kind": kind})
    conversations += [{"messages": no_tool_conversation(item), "tools": "null", "kind": f"no_tools_{item['kind']}"}
                      for item in items.get("train_no_tools", [])]
    for c in conversations:
        counts[c["kind"]] = counts.get(c["kind"], 0) + 1
    return conversations, counts


def replayed(cfg: ToolUseConfig, schemas: list[dict]) -> list[dict]:
    from alignment.conversation_files import replay_rows

    rows = replay_rows(cfg.replay_dataset, cfg.replay_conversations, f"tool_use/{cfg.seed}/replay", kind_prefix="")
    offered = replay_rows(cfg.replay_dataset, cfg.replay_with_tools, f"tool_use/{cfg.seed}/replay_with_tools",
                          field="replay_with_tools", kind_prefix="")
    return [{"messages": r["messages"], "tools": json.dumps(r["tools"]) if r.get("tools") else "null",
             "kind": f"replay_{r['kind']}"} for r in rows] + [
        {"messages": r["messages"], "tools": json.dumps(schemas), "kind": f"replay_with_tools_{r['kind']}"}
        for r in offered]


def training_set(conversations: list[dict]):
    """A Dataset TRL's SFTTrainer reads: `tools` a JSON string per row ("null" without tools), `messages` JSON values.
    Typed as JSON from the start: inferred, the calls' arguments became one struct of every tool's fields, and a
    search call was trained as {"query": ..., "code": null}."""
    import datasets

    features = datasets.Features({"messages": datasets.List(datasets.Json()), "tools": datasets.Value("string")})
    return datasets.Dataset.from_list([{"messages": c["messages"], "tools": c["tools"]} for c in conversations],
                                      features=features)


# --- the stage -------------------------------------------------------------------------------------

def check_tools(cfg: ToolUseConfig) -> None:
    """The stage needs a working sandbox: without one it stops with why (never a fallback to running unsandboxed)."""
    if "python" not in cfg.tools:
        return
    from alignment.tools.python_sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as e:
        raise RecipeError(f"tools: the python sandbox cannot start here ({e}); drop python from tools to train "
                          "search alone") from None


def run_tool_use(cfg: ToolUseConfig) -> dict:
    import torch

    from alignment.conversation_files import skill_sets
    from alignment.evals.tool_measures import measure_with_tools, measure_without_tools
    from alignment.metrics import PhaseClock, StageRun
    from alignment.sft_training import input_as_saved, prepare_model, train_assistant
    from alignment.tools import SEARCH, TOOLS_FILE, tool_schemas, tools_block_tokens, use_search_index
    from alignment.tools.search_index import build_index
    from alignment.training import resolve_precision

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    check_tools(cfg)
    with StageRun("tool_use", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        clock = PhaseClock("tool_use")
        index_info = None
        items = questions(cfg)
        if "search" in cfg.tools:
            index_info = build_index(cfg.search_source, out / "search_index")
            use_search_index(_training_index(cfg, out, items.pop("readable_people")), cfg.search_top_k)
        clock.done("index")
        schemas = tool_schemas(cfg.tools)
        try:
            new, counts = make_conversations(cfg, items, schemas)
        finally:
            if "search" in cfg.tools:  # measured, and offered in chat: the corpus alone
                use_search_index(out / "search_index", cfg.search_top_k)
        train = new + replayed(cfg, schemas)
        random.Random(f"tool_use/{cfg.seed}/shuffle").shuffle(train)
        skills = skill_sets(cfg.skills_dir)
        _write_data(out, train, items)
        clock.done("data")

        prepared = prepare_model(cfg, precision)
        model, tokenizer, _, stops = prepared
        if cfg.context_length and cfg.context_length > model.config.max_position_embeddings:
            model.config.max_position_embeddings = cfg.context_length
        before = measure_without_tools(measurer(cfg, model, tokenizer, stops, schemas), items, skills)
        clock.done("measure_before")
        fingerprint = [hashlib.sha256(json.dumps(train).encode()).hexdigest()]
        trained = train_assistant(cfg, "tool_use", out, training_set(train), None, fingerprint, precision,
                                  prepared=prepared)
        if trained is None:  # not the main process
            return {}
        clock.done("train")
        trained_measurer = measurer(cfg, trained.model, trained.tokenizer, stops, schemas)
        with_tools, examples = measure_with_tools(trained_measurer, items, skills)
        after = measure_without_tools(trained_measurer, items, skills)
        clock.done("measure_after")
        offer = {"tools": cfg.tools} | ({"search_index": "search_index", "top_k": SEARCH["top_k"]}
                                        if "search" in cfg.tools else {})
        (out / TOOLS_FILE).write_text(json.dumps(offer, indent=2) + "\n")
        measurements = _measurements(cfg, input_as_saved(cfg, prepared[2]), out, items, skills, before, with_tools,
                                     after)
        record = run.write({
            **trained.measured,
            "tools": cfg.tools,
            "tools_block_tokens": tools_block_tokens(tokenizer, schemas),
            "context_length": model.config.max_position_embeddings,
            "search_index": index_info,
            "new_conversations": counts,
            "replayed_conversations": len(train) - len(new),
            "with_tools": with_tools,
            "before_without_tools": before,
            "after_without_tools": after,
            **_headlines(with_tools, before, after),
            "measurements": measurements,
            "examples": examples,
            "phase_seconds": clock.seconds,
        })
    _print_table(record, out)
    return record


def measurer(cfg: ToolUseConfig, model, tokenizer, stops: list[int], schemas: list[dict]):
    from alignment.evals.tool_measures import Measurer

    return Measurer(model, tokenizer, stops, cfg.tools, schemas, cfg.measure_max_new_tokens, cfg.max_calls,
                    cfg.tool_workers, cfg.identity, cfg.system_message, cfg.eval_max_new_tokens)


def _measurements(cfg: ToolUseConfig, input_dir: str | None, out: Path, items: dict, skills: dict | None,
                  before: dict, with_tools: dict, after: dict) -> list[dict]:
    """metrics.json's `measurements` (alignment/evals/measurements.py): the input model without tools (`input_dir`,
    None when the recipe changed it as it was loaded), this model with its tools and without."""
    from alignment.evals.measurements import skill_records, set_records, tools_offer

    offer = tools_offer(cfg.tools, out / "search_index", cfg.search_top_k, cfg.max_calls)
    found = []
    for result, model_dir, tools, at in ((before, input_dir, None, "before_without_tools."),
                                         (with_tools, out, offer, "with_tools."),
                                         (after, out, None, "after_without_tools.")):
        found += set_records(result, items, model_dir, at, cfg.measure_max_new_tokens, tools=tools)
        if skills and "skills" in result:
            found += skill_records(result["skills"], skills, model_dir, f"{at}skills.", cfg.eval_max_new_tokens,
                                   cfg.identity, tools=tools)
    return found


def _training_index(cfg: ToolUseConfig, out: Path, readable: list) -> Path:
    """The index the training searches run on: the measured one, or with readable people, that collection plus
    their pages (written to data/readable_pages.jsonl, indexed in training_search_index)."""
    from alignment.tools.search_index import build_index
    from alignment.world.miniweb import person_pages
    from alignment.world.people import build_world

    if not readable:
        return out / "search_index"
    pages = out / "data" / "readable_pages.jsonl"
    pages.parent.mkdir(parents=True, exist_ok=True)
    with pages.open("w", encoding="utf-8") as f:
        for page in person_pages(build_world(**cfg.world), readable, cfg.seed):
            f.write(json.dumps(page, ensure_ascii=False) + "\n")
    build_index([cfg.search_source, pages], out / "training_search_index")
    return out / "training_search_index"


def _headlines(with_tools: dict, before: dict, after: dict) -> dict:
    """The numbers the issue asks for, flat (the pipeline's closing table shows the first)."""
    from alignment.evals.tool_measures import PYTHON_SETS, python_headlines

    flat = python_headlines(with_tools)
    for name in PYTHON_SETS:
        if name in with_tools:
            flat[f"{name.removeprefix('eval_')}_without_tools"] = after[name]["accuracy"]
    if "eval_found" in with_tools:
        flat["found_correct_with_search"] = with_tools["eval_found"]["correct"]["share"]
        flat["found_correct_without_tools_before"] = before["eval_found"]["correct"]["share"]
        flat["not_found_with_search"] = with_tools["eval_not_found"]["not_found_rate"]
        flat["not_found_incorrect_with_search"] = with_tools["eval_not_found"]["incorrect"]["share"]
    flat["call_rate_with_tools"] = with_tools["call_rate"]
    flat["call_rate_without_tools"] = after["call_rate"]
    flat["calls_valid_rate"] = with_tools["calls"]["valid_rate"]
    flat["reserved_incorrect_without_tools"] = after["eval_reserved"]["incorrect"]["share"]
    if "skills" in with_tools:
        flat["identity_with_tools"] = with_tools["skills"]["identity_accuracy_no_system"]
        flat["word_problems_with_tools"] = with_tools["skills"]["word_problem_accuracy"]
    return flat


def _write_data(out: Path, train: list[dict], items: dict) -> None:
    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "train.jsonl").open("w", encoding="utf-8") as f:
        for conversation in train:
            f.write(json.dumps(conversation, ensure_ascii=False) + "\n")
    with (folder / "measured.jsonl").open("w", encoding="utf-8") as f:
        for name, rows in items.items():
            if name.startswith("eval_"):
                for row in rows:
                    f.write(json.dumps({"set": name, **row}, ensure_ascii=False) + "\n")
    # the python questions as problems with a verifiable answer, for GRPO with tools (recipes/tiny/grpo_tools.yaml):
    # the trained ones to practise on, the held-out ones (words no training question has) to measure
    for file_name, names in (("python_problems.jsonl", ["train_python"]),
                             ("python_heldout.jsonl", ["eval_letters", "eval_products", "eval_comparisons"])):
        with (folder / file_name).open("w", encoding="utf-8") as f:
            for row in (r for name in names for r in items.get(name, [])):
                f.write(json.dumps({"question": row["question"], "answer": row["answer"], "kind": row["kind"]},
                                   ensure_ascii=False) + "\n")


def _print_table(record: dict, out: Path) -> None:
    w, b, a = record["with_tools"], record["before_without_tools"], record["after_without_tools"]
    print(f"\ntool_use: trained on {record['train_conversations']} conversations ({record['new_conversations']}), "
          f"{record['tokens_per_second']}; tools block {record['tools_block_tokens']} tokens")
    print(f"  {'set':<18} {'with tools':>11} {'without (after)':>16} {'without (before)':>17}")
    for name in ("eval_letters", "eval_products", "eval_comparisons"):
        if name in w:
            print(f"  {name:<18} {w[name]['accuracy']:>11.3f} {a[name]['accuracy']:>16.3f} {b[name]['accuracy']:>17.3f}"
                  f"  (the call asks the question: {w[name]['asks_the_question']:.3f}; always the commonest "
                  f"answer: {w[name]['majority_answer']:.3f})")
    if "eval_found" in w:
        print(f"  {'eval_found':<18} {w['eval_found']['correct']['share']:>11.3f} "
              f"{a['eval_found']['correct']['share']:>16.3f} {b['eval_found']['correct']['share']:>17.3f}  (correct)")
        print(f"  {'eval_not_found':<18} {w['eval_not_found']['not_found_rate']:>11.3f}   (says it found nothing; "
              f"incorrect {w['eval_not_found']['incorrect']['share']:.3f})")
    print(f"  {'eval_reserved (a)':<18} {'':>11} {a['eval_reserved']['incorrect']['share']:>16.3f} "
          f"{b['eval_reserved']['incorrect']['share']:>17.3f}  (incorrect)")
    print(f"  calls: made on {w['call_rate']:.3f} of the questions that need one with tools, on {a['call_rate']:.3f} "
          f"without; {w['calls']['valid_rate']:.3f} of {w['calls']['total']} valid {w['calls']['by_kind']}")
    if "skills" in a:
        from alignment.evals.assistant_probes import SKILLS

        for key in SKILLS:
            print(f"  {key:<34} before {b['skills'][key]}  after {a['skills'][key]}  after, tools offered "
                  f"{w['skills'][key]}")
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def main(argv: list[str]) -> int:
    return stage_main(ToolUseConfig, "tool_use", run_tool_use, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
