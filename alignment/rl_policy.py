"""What the RL stages (grpo, ppo) share around the trainer: the tokenizer's EOS as the end of the turn while TRL
samples (and the document's EOS back for saving), a tool-trained input model staying one, and the skills the earlier
stages taught measured before and after (identity, the refusal stage's set (a))."""

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


def measure_kept_skills(model, tokenizer, stops: list[int], cfg, word_problems: bool = False) -> dict:
    """What the earlier stages trained and must stay: identity (the sft stage's set), with `word_problems` the sft
    stage's held-out word problems too (a stage that practises them, grpo, measures them itself), and the refusal
    stage's set (a). `cfg`: an RL stage's config (skills_dir, world, identity, system_message, eval_max_new_tokens)."""
    result = {}
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


def copy_tool_offer(source: Path, out: Path) -> None:
    """A tool-trained input model stays one: its tools.json (and the search index it names) come along."""
    from alignment.tools import TOOLS_FILE, offered_tools

    offer = offered_tools(source)  # checked, with its index found relative to the source dir
    if offer is None:
        return
    if offer.get("search_index"):
        offer["search_index"] = str(Path(offer["search_index"]).resolve())
    (out / TOOLS_FILE).write_text(json.dumps(offer, indent=2) + "\n")
