"""What the RL stages (grpo, ppo) share around the trainer: the tokenizer's EOS as the end of the turn while TRL
samples (and the document's EOS back for saving), a tool-trained input model staying one, and the skills the earlier
stages taught measured before and after (identity, the refusal stage's set (a), tool use)."""

from __future__ import annotations

import json
from pathlib import Path


def turn_end_token(tokenizer, stops: list[int]) -> str:
    """The token TRL must stop a completion at (it stops at the tokenizer's EOS): the end of the assistant's turn.
    Ours is <|im_end|> while the EOS is the document's <|endoftext|>; an instruct model's EOS (Qwen2.5-Instruct's
    <|im_end|>) already is it."""
    from alignment.chat_setup import end_of_turn_ids

    turn_ends = sorted(end_of_turn_ids(tokenizer)) or stops
    if tokenizer.eos_token_id in turn_ends:
        return tokenizer.eos_token
    return tokenizer.convert_ids_to_tokens(turn_ends[0])


def restore_tokenizer(tokenizer, chat, document_eos: str) -> None:
    """The document EOS, right padding and inference template that an RL stage swapped out for TRL, back for saving
    and measuring."""
    tokenizer.eos_token = document_eos
    tokenizer.padding_side = "right"
    tokenizer.chat_template = chat.inference_template


def tool_questions_field():
    """The RL stages' `tool_questions` recipe field (grpo, ppo)."""
    from dataclasses import field

    return field(default=120, metadata={
        "help": "The tool_use stage's held-out python questions (letters, products, comparisons) asked before and "
                "after with the tools of a tool-trained input model (its tools.json), through the calling loop (0: "
                "not asked; a model without tools.json is not asked)."})


def measure_kept_skills(model, tokenizer, stops: list[int], cfg, word_problems: bool = False,
                        tool_questions: int = 0) -> dict:
    """What the earlier stages trained and must stay: identity (the sft stage's set), with `word_problems` the sft
    stage's held-out word problems too (a stage that practises them, grpo, measures them itself), the refusal
    stage's set (a), and with `tool_questions` the tool_use stage's held-out python questions (for a tool-trained
    input model). `cfg`: an RL stage's config (skills_dir, world, identity, system_message, eval_max_new_tokens,
    model_name_or_path, seed)."""
    result = {}
    if tool_questions:
        tool_use = measure_tool_use(model, tokenizer, stops, cfg, tool_questions)
        if tool_use is not None:
            result["tool_use"] = tool_use
    if cfg.skills_dir:
        from alignment.conversation_files import skill_sets
        from alignment.evals.assistant_probes import measure_skills

        skills = skill_sets(cfg.skills_dir)
        measured = measure_skills(model, tokenizer, {"eval_identity": skills["eval_identity"],
                                                     "eval_word_problems": skills["eval_word_problems"]
                                                     if word_problems else []},
                                  cfg.identity, cfg.system_message, stops, cfg.eval_max_new_tokens)
        result["identity_accuracy_no_system"] = measured["identity_accuracy_no_system"]
        result["identity_accuracy_default_system"] = measured["identity_accuracy_default_system"]
        if word_problems:
            result["word_problem_accuracy"] = measured["word_problem_accuracy"]
    if cfg.world:
        from alignment.evals.assistant_probes import generate_replies
        from alignment.evals.refusal_grading import exact_grades, simpleqa_table
        from alignment.world.people import build_world
        from alignment.world.refusal_questions import build_refusal_questions

        items = build_refusal_questions(build_world(**cfg.world))["eval_reserved"]
        texts = [r["text"] for r in generate_replies(model, tokenizer, [i["messages"] for i in items],
                                                     cfg.eval_max_new_tokens, stops, batch_size=256)]
        result["reserved"] = simpleqa_table(exact_grades(items, texts))
    return result


def kept_skills_lines(before: dict, after: dict, width: int) -> list[str]:
    """measure_kept_skills' results before and after, as the RL stages' closing tables print them."""
    from alignment.world.tool_questions import PYTHON_KINDS

    lines = [f"  {label:<{width}} {before[key]:>8} {after[key]:>8}" for key, label in (
        ("identity_accuracy_no_system", "identity"), ("identity_accuracy_default_system", "identity, system message"),
        ("word_problem_accuracy", "word problems")) if key in before]
    if "reserved" in before:
        lines.append(f"  {'set (a) incorrect':<{width}} {before['reserved']['incorrect']['share']:>8} "
                     f"{after['reserved']['incorrect']['share']:>8}")
    tools_before, tools_after = before.get("tool_use") or {}, after.get("tool_use") or {}
    if "not_measured" in tools_before:
        lines.append(f"  tool use not measured: {tools_before['not_measured']}")
    for kind in PYTHON_KINDS:
        if f"{kind}_with_python" in tools_before:
            lines.append(f"  {kind + ' (python)':<{width}} {tools_before[f'{kind}_with_python']:>8} "
                         f"{tools_after[f'{kind}_with_python']:>8}  (calls that ask the question: "
                         f"{tools_before[f'{kind}_calls_ask_the_question']} -> "
                         f"{tools_after[f'{kind}_calls_ask_the_question']})")
    return lines


# the tool_use stage's measurement budget (recipes/tiny/tool_use.yaml: measure_max_new_tokens, max_calls)
TOOL_MAX_NEW_TOKENS, TOOL_MAX_CALLS, TOOL_WORKERS = 96, 3, 4


def measure_tool_use(model, tokenizer, stops: list[int], cfg, count: int) -> dict | None:
    """The tool_use stage's held-out python questions (letters, 3-digit products, decimal comparisons; `count` of
    them, a third each; the split is fixed, cfg.seed draws the items), asked with the tools the input model's
    tools.json offers, through the calling loop, graded as that stage and the eval stage grade them. None for an
    input model trained without tools; where the sandbox cannot start, why (nothing is run outside it)."""
    from alignment.evals.tool_measures import Measurer, measure_with_tools, python_headlines
    from alignment.tools import offered_tools, tool_schemas, use_search_index
    from alignment.tools.python_sandbox import sandbox_problem
    from alignment.world.tool_questions import python_items, python_sets_by_kind

    source = Path(cfg.model_name_or_path)
    offer = offered_tools(source) if source.is_dir() else None
    if not offer or "python" not in offer["tools"]:
        return None
    problem = sandbox_problem()
    if problem:
        return {"not_measured": f"the python sandbox cannot start here ({problem})"}
    if offer.get("search_index"):  # the trained tools block offers search too: a call to it must find its index
        use_search_index(offer["search_index"], offer.get("top_k", 2))
    sets = python_sets_by_kind(python_items(cfg.seed, 0, count)[1])
    measurer = Measurer(model, tokenizer, stops, offer["tools"], tool_schemas(offer["tools"]), TOOL_MAX_NEW_TOKENS,
                        TOOL_MAX_CALLS, TOOL_WORKERS, cfg.identity, cfg.system_message, cfg.eval_max_new_tokens)
    measured, _ = measure_with_tools(measurer, sets, None)
    return {**python_headlines(measured), "questions": sum(len(v) for v in sets.values()), "call_rate": measured["call_rate"],
            "calls_valid_rate": measured["calls"]["valid_rate"]}


def copy_tool_offer(source: Path, out: Path) -> None:
    """A tool-trained input model stays one: its tools.json (and the search index it names) come along."""
    from alignment.tools import TOOLS_FILE, offered_tools

    offer = offered_tools(source)  # checked, with its index found relative to the source dir
    if offer is None:
        return
    if offer.get("search_index"):
        offer["search_index"] = str(Path(offer["search_index"]).resolve())
    (out / TOOLS_FILE).write_text(json.dumps(offer, indent=2) + "\n")
