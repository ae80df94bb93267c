"""The rewards of the grpo stage (alignment/rewards.py): each scores what it says, on text and on messages."""

from __future__ import annotations

import pytest

from alignment.recipe import RecipeError
from alignment.rewards import (accuracy, check_references, format_reward, length_reward, repetition, resolve_rewards,
                               tool_success)

SOLVED = "3 x 3 = 9. 4 x 7 = 28. 9 + 28 = 37.\nThe answer is 37."


def test_accuracy_reads_the_first_final_answer():
    assert accuracy([SOLVED, SOLVED.replace("37.", "36.")], answer=["37", "37"]) == [1.0, 0.0]
    # hedging does not pay: only the first "The answer is" counts
    assert accuracy(["The answer is 12. The answer is 37."], answer=["37"]) == [0.0]
    assert accuracy(["no final answer"], answer=[37]) == [0.0]
    # a conversational completion: the last assistant turn, after the tool results
    messages = [{"role": "assistant", "content": "", "tool_calls": []}, {"role": "tool", "content": "37"},
                {"role": "assistant", "content": "The answer is 37."}]
    assert accuracy([messages], answer=["37"]) == [1.0]


def test_accuracy_checks_other_answers_with_math_verify():
    pytest.importorskip("math_verify")
    assert accuracy(["So the result is $\\frac{1}{2}$."], answer=["$\\frac{1}{2}$"]) == [1.0]
    assert accuracy(["So the result is $\\frac{1}{3}$."], answer=["$\\frac{1}{2}$"]) == [0.0]


def test_format_wants_one_final_answer_at_the_end():
    assert format_reward([SOLVED, "The answer is 37. 3 x 3 = 9.", SOLVED + " The answer is 37.", "37"]) == \
        [1.0, 0.0, 0.0, 0.0]


def test_tool_success_counts_failed_calls_and_skips_replies_without_calls():
    ran = [{"role": "assistant", "content": ""}, {"role": "tool", "content": "3"}, {"role": "assistant", "content": "3"}]
    failed = [{"role": "assistant", "content": ""}, {"role": "tool", "content": "Error: timed out after 10 s"},
              {"role": "assistant", "content": "3"}]
    assert tool_success([ran, failed, [{"role": "assistant", "content": "3"}], "text"]) == [1.0, 0.0, None, None]


def test_length_penalises_a_reply_cut_before_its_end_of_turn():
    length = length_reward([2])
    assert length.__name__ == "length"  # TRL logs a reward under its function's name
    assert length(["a", "b", "c"], completion_ids=[[5, 6, 2], [5, 6, 7], []]) == [0.0, -1.0, -1.0]


def test_repetition_penalises_loops_only():
    plain, loop = repetition([SOLVED, "the the the the the the the the"])
    assert plain == 0.0 and loop < -0.8


def test_rewards_are_named_or_imported():
    assert resolve_rewards(["accuracy", "alignment.rewards.repetition"], [2])[1] is repetition
    with pytest.raises(RecipeError, match="rewards: unknown reward 'speed'"):
        resolve_rewards(["speed"], [2])
    with pytest.raises(RecipeError, match="rewards: cannot import 'no_such_module.reward'"):
        resolve_rewards(["no_such_module.reward"], [2])
    with pytest.raises(RecipeError, match="rewards: name at least one"):
        resolve_rewards([], [2])


def test_a_reference_answer_accuracy_cannot_check_is_a_one_line_error():
    pytest.importorskip("math_verify")
    check_references(["36", "$\\frac{1}{2}$"], "p.jsonl")
    with pytest.raises(RecipeError, match="p.jsonl: row 1: math-verify cannot read the answer 'see above'"):
        check_references(["36", "see above"], "p.jsonl")


def test_math_accuracy_and_the_boxed_form_for_real_models():
    from alignment.rewards import boxed_format, math_accuracy

    replies = ["She has 3 + 2 = 5 pens. \\boxed{5}", "The total is 5.", "\\boxed{5}", "So \\boxed{5} or \\boxed{6}",
               "Mia has 7 pens. \\boxed{7}", [{"role": "assistant", "content": "3 + 2 = 5, so \\boxed{5}"}]]
    assert math_accuracy(replies, ["5"] * 6) == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert boxed_format(replies) == [1.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # one box, after some reasoning
    # `accuracy` keeps the tiny world's trained form for integers: a bare box is not "The answer is 5."
    assert accuracy(["\\boxed{5}"], ["5"]) == [0.0]
    assert resolve_rewards(["math_accuracy", "boxed_format"], [0]) == [math_accuracy, boxed_format]


def test_first_number_reads_the_answer_a_tool_reply_leads_with():
    from alignment.rewards import first_number

    tool_turns = [{"role": "assistant", "content": "", "tool_calls": []}, {"role": "tool", "content": "3"},
                  {"role": "assistant", "content": "There are 3 r's in 'strawberry'."}]
    replies = ["There are 3 r's in 'strawberry'.", "19.51 is bigger.", "19", "The product is 204,383.", tool_turns,
               "I count 2 r's, not 3."]
    assert first_number(replies, ["3", "19.51", "19.51", "204383", "3", "3"]) == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    with pytest.raises(RecipeError, match="row 1: the answer 'three' is no number"):
        check_references(["3", "three"], "p.jsonl", ["first_number"])
