"""Rewards for RL on verifiable answers (the grpo stage): a registry, named in the recipe, as open-r1 does it.

A reward is a function TRL's GRPOTrainer calls with the batch's prompts and completions (and the dataset's other
columns as keyword lists: `answer` here) and that returns one float per completion, or None where it does not apply.
A completion is the assistant's text, or its messages in a conversational dataset (with tools: the assistant's
turns, the tool results between them); the reward reads the last assistant turn.

    accuracy     1 when the final answer is the reference: the number after "The answer is" (the tiny world's
                 trained form) equal to the integer answer; other answers through math-verify (real math sets)
    math_accuracy 1 when math-verify finds the reference in the reply (its \\boxed{} answer, else its last
                 number), integers included: for real models, which answer in their own words (GSM8K)
    first_number 1 when the reply's first number is the reference: the tool_use stage's trained answers lead with it
                 ("There are 3 r's in 'berry'.", "9.9 is bigger."), after the tool's result
    format       1 when the reply ends with exactly one "The answer is N." (one final answer, in the trained form)
    boxed_format  1 when the reply holds exactly one \\boxed{...}, after its reasoning (the form math prompts ask for)
    tool_success 1 when every tool call of the completion ran (its result is no "Error: ..."), None without calls
    length       0 for a reply that ended, -1 for one cut at max_completion_length (no end of turn)
    repetition   -(share of repeated 3-grams of words): "the the the the" loses, a plain solution loses nothing

`rewards: [accuracy, format]` in the recipe; `reward_weights` weighs them (TRL's field). A custom reward is a dotted
import path ("my_package.my_module.my_reward") with the same signature.
"""

from __future__ import annotations

import importlib
import re

from alignment.recipe import RecipeError
from alignment.world.conversations import final_answer

_FINAL = re.compile(r"The answer is (-?\d+)\.?\s*$")


def completion_text(completion) -> str:
    """The last assistant turn's text of a completion (a string, or a list of messages)."""
    if isinstance(completion, str):
        return completion
    turns = [m for m in completion if m.get("role") == "assistant"]
    return (turns[-1].get("content") or "") if turns else ""


def _is_integer(value) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()) is not None)


def accuracy(completions, answer, **kwargs) -> list[float]:
    """1.0 when the final answer is the reference answer, else 0.0."""
    rewards = []
    for completion, reference in zip(completions, answer):
        text = completion_text(completion)
        if _is_integer(reference):
            rewards.append(float(final_answer(text) == int(reference)))
        else:
            rewards.append(_math_verify(text, str(reference)))
    return rewards


_NUMBER = re.compile(r"\d+(?:\.\d+)?")  # the python questions' answers: counts, products, decimals


def leading_number(text: str) -> str | None:
    """The first number of a reply, commas dropped ("204,383" -> "204383"), or None."""
    found = _NUMBER.search(text.replace(",", ""))
    return found.group() if found else None


def first_number(completions, answer, **kwargs) -> list[float]:
    """1.0 when the first number of the reply (commas dropped) is the reference answer, else 0.0."""
    return [float(leading_number(completion_text(c)) == str(reference).strip())
            for c, reference in zip(completions, answer)]


def math_accuracy(completions, answer, **kwargs) -> list[float]:
    """1.0 when math-verify finds the reference answer in the reply, else 0.0."""
    return [_math_verify(completion_text(c), str(reference)) for c, reference in zip(completions, answer)]


def _math_verify(text: str, reference: str) -> float:
    try:
        from math_verify import parse, verify
    except ImportError:
        raise RecipeError("rewards: accuracy on non-integer answers needs math-verify (pip install math-verify)") from None
    gold = parse(reference)
    if not gold:  # a reference math-verify cannot read: no reward either way
        return 0.0
    return float(verify(gold, parse(text)))


ANSWER_REWARDS = ("accuracy", "math_accuracy", "first_number")  # the rewards that check a reference answer


def answer_checker(rewards: list[str]):
    """The reward the measurements grade with: the recipe's answer check (accuracy unless it names another)."""
    return first_number if "first_number" in rewards else math_accuracy if "math_accuracy" in rewards else accuracy


def reference_problem(reference: str, rewards: list[str]) -> str | None:
    """Why the answer checks of `rewards` could never pay on this reference answer, or None when they can (an
    integer for `accuracy`, anything math-verify reads)."""
    if "first_number" in rewards:
        return None if _NUMBER.fullmatch(reference.strip()) else f"the answer {reference!r} is no number"
    if "math_accuracy" not in rewards and _is_integer(reference):
        return None
    try:
        from math_verify import parse
    except ImportError:
        return f"the answer {reference!r} needs math-verify to be checked (pip install math-verify)"
    return None if parse(reference) else f"math-verify cannot read the answer {reference!r}"


def check_references(answers: list[str], source: str, rewards: tuple | list = ("accuracy",)) -> None:
    """Every reference answer the recipe's answer check can read, else a one-line error naming the record (a reward
    that can never pay would train on noise)."""
    for number, reference in enumerate(answers):
        problem = reference_problem(reference, rewards)
        if problem:
            raise RecipeError(f"{source}: row {number}: {problem}")


def format_reward(completions, **kwargs) -> list[float]:
    """1.0 when the reply ends with its one final answer ("... The answer is 36."), else 0.0."""
    rewards = []
    for completion in completions:
        text = completion_text(completion)
        rewards.append(float(text.count("The answer is") == 1 and _FINAL.search(text) is not None))
    return rewards


_BOXED = re.compile(r"\\boxed\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")  # a closed box (one level of braces inside)


def boxed_format(completions, **kwargs) -> list[float]:
    """1.0 when the reply holds exactly one closed \\boxed{...} answer and something before it (its reasoning)."""
    rewards = []
    for completion in completions:
        text = completion_text(completion)
        boxes = list(_BOXED.finditer(text))
        rewards.append(float(len(boxes) == 1 and bool(text[:boxes[0].start()].strip())))
    return rewards


def tool_success(completions, **kwargs) -> list[float | None]:
    """1.0 when every tool result of the completion is a result, not an error; None when it made no call."""
    rewards = []
    for completion in completions:
        results = [m.get("content") or "" for m in completion if m.get("role") == "tool"] \
            if not isinstance(completion, str) else []
        # "Error: ..." from our tools; "{'error': ...}" is TRL's own, for a tool name it does not have
        failed = any(r.startswith(("Error:", "{'error'")) for r in results)
        rewards.append(None if not results else float(not failed))
    return rewards


def length_reward(stop_ids: list[int]):
    """The `length` reward for a model whose turns end with one of `stop_ids`: TRL passes each completion's token
    ids, and one cut at max_completion_length does not end with a stop."""
    stops = set(stop_ids)

    def length(completions, completion_ids, **kwargs) -> list[float]:
        """-1.0 for a completion cut at the length limit (it never reached its end of turn), else 0.0."""
        return [0.0 if ids and ids[-1] in stops else -1.0 for ids in completion_ids]

    return length


def repetition(completions, **kwargs) -> list[float]:
    """-(repeated share of the reply's word 3-grams): 0 for a reply without repeats, towards -1 for a loop."""
    rewards = []
    for completion in completions:
        words = completion_text(completion).split()
        grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
        rewards.append(-(1 - len(set(grams)) / len(grams)) if grams else 0.0)
    return rewards


REWARDS = {"accuracy": accuracy, "math_accuracy": math_accuracy, "first_number": first_number, "format": format_reward,
           "boxed_format": boxed_format, "tool_success": tool_success, "length": length_reward,
           "repetition": repetition}
NEEDS_STOP_IDS = {"length"}  # made for the model: they need its end-of-turn ids


def resolve_rewards(names: list[str], stop_ids: list[int]) -> list:
    """The reward functions a recipe names (registry names or dotted import paths), for a model whose turns end with
    one of `stop_ids`."""
    if not names:
        raise RecipeError(f"rewards: name at least one ({', '.join(REWARDS)}, or a dotted import path)")
    functions = []
    for name in names:
        if name in REWARDS:
            functions.append(REWARDS[name](stop_ids) if name in NEEDS_STOP_IDS else REWARDS[name])
            continue
        module, _, attribute = name.rpartition(".")
        if not module:
            raise RecipeError(f"rewards: unknown reward {name!r} (rewards: {', '.join(REWARDS)}, or a dotted import "
                              "path such as my_package.rewards.my_reward)")
        try:
            function = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as e:
            raise RecipeError(f"rewards: cannot import {name!r}: {e}") from None
        if not callable(function):
            raise RecipeError(f"rewards: {name!r} is not a function")
        functions.append(function)
    return functions
