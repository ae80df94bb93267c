"""`alignment quiz --models DIR [DIR ...]`: the same questions to several assistants, each answer marked against
the tiny world's truth, so that what a stage changed is plain to see.

    alignment quiz --models runs/tiny/sft runs/tiny/refusals runs/tiny/tool_use
    alignment quiz --models runs/tiny/sft runs/tiny/tool_use --json quiz.json

`make demo` ends with it. A chat that prints "Wenmora Tobock was born in Pennisk." says nothing of whether the world
has her born there; here every reply is marked right, wrong or declined, beside the truth. One question of each
kind the pipeline teaches: who the assistant is, a fact SFT trained, a fact of a covered person SFT held out (the
sft model guesses), a reserved person no page mentions and a name from nowhere (declining is right), a word problem,
and the letter count and product that need the python tool. The world and the identity come from the first model's
recipe.yaml (every stage from sft on saves them); answers are greedy, with the tools a tool-trained model was
trained to call (its tools.json), run for real, each call shown before the answer.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from alignment.recipe import RecipeError

RIGHT, WRONG, DECLINED = "right", "wrong", "declined"
# The demo's fixed questions (their truths are computed, not typed): the word problem of the SFT stage's kind, and a
# word for letter counting that is in no training question (nor in the mini-web's vocabulary they are drawn from).
WORD_PROBLEM = ("Ravi buys 3 apples at 4 coins each and 2 pencils at 5 coins each. How many coins does he pay?",
                3 * 4 + 2 * 5)
LETTERS = ("peppermint", "e")
PRODUCT = (347, 589)
NOBODY = "Orson Kovacs"  # a name from outside the world's syllables: on no page, in no training set
_FINAL = re.compile(r"The answer is (-?\d+)")
CALL_CHARS = 100


@dataclass
class Question:
    kind: str
    text: str
    truth: str  # what the world says, as shown beside the answers
    grade: str  # how a reply is marked: fact, unknown, identity, final_answer, first_number
    attribute: str | None = None  # for a fact


@dataclass
class Answer:
    model: str
    reply: str
    calls: list[str]  # "[python {...} -> 3]", as chat shows them
    mark: str


def recipe_of(model_dir: str) -> dict:
    import yaml

    path = Path(model_dir) / "recipe.yaml"
    if not path.is_file():
        raise RecipeError(f"--models: {model_dir} has no recipe.yaml (a model dir an alignment stage wrote, from sft on)")
    recipe = yaml.safe_load(path.read_text())
    if not recipe.get("world"):
        raise RecipeError(f"--models: {path} names no world: the quiz asks about the tiny world's people")
    return recipe


def questions(recipe: dict) -> list[Question]:
    from alignment.world.conversations import split_fact_pairs
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions

    world = build_world(**recipe["world"])
    train_pairs, heldout_pairs = split_fact_pairs(world)
    trained = world.entity(next(i for i, a in train_pairs if a == "hometown"))
    heldout = world.entity(next(i for i, a in heldout_pairs if a == "hometown"))
    # a reserved person of the refusal stage's measured set (a), never trained on: the one its metrics name for chat
    reserved = build_refusal_questions(world)["eval_reserved"][0]["name"]
    identity = (recipe.get("identity") or {}).get("name", "Tinker")
    word, letter = LETTERS
    a, b = PRODUCT
    return [
        Question("identity", "Who are you?", identity, "identity"),
        Question("trained fact", f"Where was {trained.name} born?", trained.facts["hometown"], "fact", "hometown"),
        Question("held-out fact", f"Where was {heldout.name} born?", heldout.facts["hometown"], "fact", "hometown"),
        Question("reserved person", f"Where was {reserved} born?", "on no page, declining is right", "unknown"),
        Question("nobody", f"Who is {NOBODY}?", "on no page, declining is right", "unknown"),
        Question("word problem", WORD_PROBLEM[0], str(WORD_PROBLEM[1]), "final_answer"),
        Question("letters", f"How many {letter}'s are in '{word}'?", str(word.count(letter)), "first_number"),
        Question("product", f"What is {a} x {b}?", str(a * b), "first_number"),
    ]


def mark(question: Question, reply: str) -> str:
    from alignment.evals.refusal_grading import CORRECT, NOT_ATTEMPTED, declines, grade_fact
    from alignment.rewards import leading_number
    from alignment.world.people import pool
    from alignment.world.tool_questions import NOT_FOUND_MARK

    if question.grade == "identity":
        return RIGHT if question.truth.lower() in reply.lower() else WRONG
    if question.grade == "fact":
        grade = grade_fact(reply, [question.truth], pool(question.attribute))
        return DECLINED if grade == NOT_ATTEMPTED else RIGHT if grade == CORRECT else WRONG
    if question.grade == "unknown":
        return RIGHT if declines(reply) or NOT_FOUND_MARK in reply else WRONG
    if question.grade == "final_answer":
        found = _FINAL.findall(reply)
        return RIGHT if found and found[-1] == question.truth else WRONG
    return RIGHT if leading_number(reply) == question.truth else WRONG


def ask(model_dir: str, items: list[Question]) -> list[Answer]:
    """Greedy replies of one model through chat's own loop (tools run as in `alignment chat`)."""
    from alignment.chat import Chat, shown

    args = argparse.Namespace(model=model_dir, device="auto", dtype="auto", temperature=0.0, top_k=0, top_p=1.0,
                              max_new_tokens=None, seed=0, no_tools=False)
    chat = Chat(args)
    answers = []
    for question in items:
        out, notes = io.StringIO(), io.StringIO()
        reply, _, _ = chat.answer([{"role": "user", "content": question.text}], out, notes)
        text = shown(reply.text, finished=True).strip()
        # chat's call lines, "[python {...} -> 3]"; a search result's later passages start "[2] ..."
        calls = [_short(line) for line in notes.getvalue().splitlines() if re.match(r"\[[a-z_ ]+ ", line)]
        answers.append(Answer(model_dir, text, calls, mark(question, text)))
    return answers


def _short(call: str, chars: int = CALL_CHARS) -> str:
    """A call and the start of its result: a search returns two passages, too long for one line of a table."""
    return call if len(call) <= chars else call[:chars - 4].rstrip() + " ...]"


def _label(model_dir: str) -> str:
    return Path(model_dir).name or model_dir


def print_quiz(items: list[Question], answers: dict[str, list[Answer]], out=sys.stdout) -> None:
    width = max(len(_label(m)) for m in answers)
    for i, question in enumerate(items):
        print(f"user> {question.text}   [truth: {question.truth}]", file=out)
        for model, replies in answers.items():
            answer = replies[i]
            said = " ".join(answer.calls + [" ".join(answer.reply.split())])  # a reply of several lines on one
            print(f"  {_label(model):<{width}}  {answer.mark:<8}  {said}", file=out)
    print("score: " + ", ".join(f"{_label(m)} {sum(a.mark == RIGHT for a in replies)}/{len(items)} right"
                                for m, replies in answers.items()), file=out)


def build_parser() -> argparse.ArgumentParser:
    from alignment.sample import _Parser

    p = _Parser(prog="alignment quiz", description="The same questions to several assistants, marked against the "
                                                   "tiny world's truth.")
    p.add_argument("--models", nargs="+", required=True, help="Model dirs written by the sft stage or a later one.")
    p.add_argument("--json", default=None, help="Also write the questions, replies and marks to this file.")
    return p


def main(argv: list[str]) -> int:
    from alignment.sample import check_model_path

    args = build_parser().parse_args(argv)
    for model in args.models:
        check_model_path(model)
    items = questions(recipe_of(args.models[0]))
    answers = {model: ask(model, items) for model in args.models}
    print_quiz(items, answers)
    if args.json:
        Path(args.json).write_text(json.dumps({"questions": [asdict(q) for q in items],
                                               "answers": {m: [asdict(a) for a in r] for m, r in answers.items()}},
                                              indent=2) + "\n")
    return 0
