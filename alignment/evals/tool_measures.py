"""Tool use, measured: the held-out questions that need a tool (letters, products, comparisons for python; facts of
covered people and of people no page has, for search), asked with the tools offered through the calling loop, or
with none. The tool_use stage measures its input and output models with these, and `alignment eval` any model.

Graded on the reply's text: a python answer is right when its first number is the answer; a searched fact as the
refusal stage grades a fact (correct, incorrect or not attempted). Beside a python set's accuracy: how often the
call asks what the question asked, and what always giving the commonest answer would score (a count of letters is
often right by luck).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

PYTHON_SETS = ("eval_letters", "eval_products", "eval_comparisons")
SEARCH_SETS = ("eval_found", "eval_not_found")


def python_grade(item: dict, text: str) -> bool:
    """Right when the reply's first number is the answer (the trained answers lead with it: "There are 3 r's",
    "The answer is 204383.", "9.9 is bigger.")."""
    from alignment.rewards import leading_number

    return leading_number(text) == item["answer"]


def search_grade(item: dict, text: str) -> str:
    """correct / incorrect / not_attempted, as the refusal stage grades a fact (the reply names the value, another
    value of the kind, or none)."""
    from alignment.evals.refusal_grading import grade_fact
    from alignment.world.people import pool

    return grade_fact(text, [item["truth"]], pool(item["attribute"]))


_OPERAND = re.compile(r"'([^']*)'|\"([^\"]*)\"|(\d+(?:\.\d+)?)")  # a quoted string (either quotes) or a number


def _operands(code: str) -> Counter:
    return Counter("".join(groups) for groups in _OPERAND.findall(code))


def asks_the_question(item: dict, calls) -> bool:
    """A python call that ran holds every operand of the trained call for the question in its code (the word and
    the letter, the two numbers): whether the program computes what was asked, whatever the reply then makes of
    its output. A letter-count reply can be right by luck (most counts are 0, 1 or 2); a call that asks about
    another word cannot."""
    wanted = _operands(item["arguments"]["code"])
    return any(c.name == "python" and c.problem is None and c.arguments and
               not wanted - _operands(str(c.arguments.get("code", ""))) for c in calls)


def python_headlines(with_tools: dict) -> dict:
    """measure_with_tools' python sets, flat: {kind}_with_python and {kind}_calls_ask_the_question for each set
    measured (the tool_use stage's metrics.json and the RL stages' kept tool use)."""
    flat = {}
    for name in PYTHON_SETS:
        if name in with_tools:
            kind = name.removeprefix("eval_")
            flat[f"{kind}_with_python"] = with_tools[name]["accuracy"]
            flat[f"{kind}_calls_ask_the_question"] = with_tools[name]["asks_the_question"]
    return flat


def majority_answer_rate(items: list[dict]) -> float:
    """What a model that always gives the set's commonest answer scores: the floor a guess reaches."""
    if not items:
        return 0.0
    commonest = Counter(i["answer"] for i in items).most_common(1)[0][0]
    return _share(i["answer"] == commonest for i in items)


@dataclass
class Measurer:
    """Greedy, batched generation with and without tools for one model (alignment/evals/assistant_probes.py).
    `tools`: the registry's names offered in `with_tools`; `max_new_tokens`: each reply's budget; `skills_*`: how the
    identity and word-problem sets are asked."""

    model: object
    tokenizer: object
    stops: list[int]
    tools: list[str]
    schemas: list[dict]
    max_new_tokens: int
    max_calls: int
    workers: int
    identity: dict
    system_message: str | None
    skills_max_new_tokens: int

    def without_tools(self, items: list[dict]) -> list[str]:
        from alignment.evals.assistant_probes import generate_replies

        return [r["text"] for r in generate_replies(self.model, self.tokenizer, [asked(i) for i in items],
                                                    self.max_new_tokens, self.stops, batch_size=256)]

    def skills(self, skills: dict, tools: list[dict] | None) -> dict:
        from alignment.evals.assistant_probes import measure_skills

        return measure_skills(self.model, self.tokenizer, skills, self.identity, self.system_message, self.stops,
                              self.skills_max_new_tokens, tools=tools)

    def with_tools(self, items: list[dict]):
        from alignment.evals.assistant_probes import replies_with_tools

        return replies_with_tools(self.model, self.tokenizer, [asked(i) for i in items], self.max_new_tokens,
                                  self.stops, self.tools, self.max_calls, workers=self.workers, batch_size=128)


def asked(item: dict) -> list[dict]:
    return item["messages"] if "messages" in item else [{"role": "user", "content": item["question"]}]


def _share(hits) -> float:
    hits = list(hits)
    return round(sum(hits) / len(hits), 4) if hits else 0.0


def measure_without_tools(measurer: Measurer, items: dict[str, list[dict]], skills: dict | None) -> dict:
    """Every measured set of `items` asked with no tools offered: how it answers, and how often it writes a call
    anyway. The refusal stage's set (a) (`eval_reserved`), where given, is graded as that stage grades it."""
    from alignment.evals.refusal_grading import exact_grades, simpleqa_table
    from alignment.tools.calling import parse_tool_calls

    result, texts_all = {}, []
    for name in PYTHON_SETS:
        if name in items:
            texts = measurer.without_tools(items[name])
            texts_all += texts
            result[name] = {"accuracy": _share(python_grade(i, t) for i, t in zip(items[name], texts)),
                            "questions": len(texts)}
    for name in SEARCH_SETS:
        if name in items:
            texts = measurer.without_tools(items[name])
            texts_all += texts
            result[name] = simpleqa_table([search_grade(i, t) for i, t in zip(items[name], texts)])
    if "eval_reserved" in items:
        texts = measurer.without_tools(items["eval_reserved"])
        texts_all += texts
        result["eval_reserved"] = simpleqa_table(exact_grades(items["eval_reserved"], texts))
    if skills:
        result["skills"] = measurer.skills(skills, tools=None)
    result["call_rate"] = _share(bool(parse_tool_calls(t)[1]) for t in texts_all)
    result["questions"] = len(texts_all)
    return result


def measure_with_tools(measurer: Measurer, items: dict[str, list[dict]], skills: dict | None) -> tuple[dict, dict]:
    """(numbers, a few exchanges per set): every held-out question that needs a tool, tools offered, through the
    calling loop; identity and word problems with the tools offered too (answered without a call). Calls are
    counted by how they went (the loop's problems: not_json, no_name, unknown_tool, bad_arguments, over_limit)."""
    from alignment.evals.refusal_grading import simpleqa_table
    from alignment.world.tool_questions import NOT_FOUND_MARK

    result, examples, calls = {}, {}, []
    called = []
    for name in (*PYTHON_SETS, *SEARCH_SETS):
        if name not in items:
            continue
        exchanges = measurer.with_tools(items[name])
        answers = [e.answer for e in exchanges]
        wanted = "python" if name in PYTHON_SETS else "search"
        called += [any(c.name == wanted for c in e.calls) for e in exchanges]
        calls += [c for e in exchanges for c in e.calls]
        if wanted == "python":
            result[name] = {"accuracy": _share(python_grade(i, a) for i, a in zip(items[name], answers)),
                            "questions": len(answers),
                            "asks_the_question": _share(asks_the_question(i, e.calls)
                                                        for i, e in zip(items[name], exchanges)),
                            "majority_answer": majority_answer_rate(items[name])}
        else:
            grades = [search_grade(i, a) for i, a in zip(items[name], answers)]
            result[name] = simpleqa_table(grades)
            if name == "eval_not_found":
                result[name]["not_found_rate"] = _share(NOT_FOUND_MARK in a for a in answers)
        examples[name] = [{"question": i["question"], "messages": e.messages}
                          for i, e in list(zip(items[name], exchanges))[:3]]
    if skills:
        result["skills"] = measurer.skills(skills, tools=measurer.schemas)
    problems: dict[str, int] = {}
    for c in calls:
        problems[c.problem or "ok"] = problems.get(c.problem or "ok", 0) + 1
    result["call_rate"] = _share(called)
    result["calls"] = {"total": len(calls), "valid_rate": _share(c.problem is None for c in calls), "by_kind": problems}
    return result, examples
