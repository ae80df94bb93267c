"""The calling loop chat and the measurements share: calls parsed from a turn, run, answered, counted by kind.
The "model" here is a scripted generate function: what is tested is the loop, not a model."""

from __future__ import annotations

import json


from alignment.tools.calling import answer_with_tools, parse_tool_calls
from tests.conftest import skip_without_sandbox


def call(name: str, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def scripted(*turns: str):
    """generate() that writes these turns in order, and records what it was shown each time."""
    seen = []

    def generate(messages):
        seen.append([dict(m) for m in messages])
        return turns[len(seen) - 1]
    generate.seen = seen
    return generate


def test_calls_are_parsed_with_their_problems():
    text = ("Let me check. " + call("python", code="print(1)") + "<tool_call>{not json}</tool_call>"
            + '<tool_call>{"arguments": {}}</tool_call>' + call("weather", city="Oslo")
            + '<tool_call>{"name": "python", "arguments": "{\\"code\\": \\"print(2)\\"}"}</tool_call>')
    content, calls = parse_tool_calls(text)
    assert content == "Let me check."
    assert [(c.name, c.problem) for c in calls] == [("python", None), (None, "not_json"), (None, "no_name"),
                                                    ("weather", "unknown_tool"), ("python", None)]
    assert calls[4].arguments == {"code": "print(2)"}  # arguments written as a JSON string are read too
    assert parse_tool_calls("The answer is 4.") == ("The answer is 4.", [])


def test_a_python_call_is_run_and_its_output_answered():
    skip_without_sandbox()
    generate = scripted(call("python", code="print('strawberry'.count('r'))"), "There are 3 r's in strawberry.")
    user = [{"role": "user", "content": "How many r's are in 'strawberry'?"}]
    events = []
    exchange = answer_with_tools(generate, user, on_call=events.append)
    assert [m["role"] for m in exchange.messages] == ["assistant", "tool", "assistant"]
    assert exchange.messages[0]["tool_calls"][0]["function"] == {
        "name": "python", "arguments": {"code": "print('strawberry'.count('r'))"}}
    assert exchange.messages[1] == {"role": "tool", "content": "3"}
    assert exchange.answer == "There are 3 r's in strawberry."
    assert generate.seen[1][-1] == {"role": "tool", "content": "3"}  # the model saw the result before answering
    assert [(c.name, c.problem, c.result) for c in events] == [("python", None, "3")]


def test_calls_that_cannot_run_get_an_error_result_and_are_counted():
    generate = scripted("<tool_call>{oops</tool_call>", call("weather", city="Oslo"), call("search", q="x"),
                        "I could not look it up.")
    exchange = answer_with_tools(generate, [{"role": "user", "content": "Weather?"}], max_calls=5)
    assert [c.problem for c in exchange.calls] == ["not_json", "unknown_tool", "bad_arguments"]
    results = [m["content"] for m in exchange.messages if m["role"] == "tool"]
    assert results[0] == "Error: the tool call is not valid JSON"
    assert results[1].startswith("Error: no tool named 'weather'")
    assert results[2].startswith("Error: search: ")
    assert exchange.answer == "I could not look it up."


def test_the_loop_stops_after_max_calls():
    generate = scripted(*[call("weather", city="Oslo")] * 10)
    exchange = answer_with_tools(generate, [{"role": "user", "content": "Weather?"}], max_calls=2)
    assert len(exchange.calls) == 2 and len(generate.seen) == 3
    assert exchange.messages[-1] == {"role": "assistant", "content": ""}  # the third call is not run


def test_a_closing_tag_inside_the_code_does_not_cut_the_call():
    code = "print('</tool_call>')"
    content, calls = parse_tool_calls("Sure. " + call("python", code=code) + " Done.")
    assert content == "Sure.  Done." and calls[0].arguments == {"code": code} and calls[0].problem is None


def test_calls_in_one_turn_stop_at_max_calls_too():
    generate = scripted(call("weather", city="a") + call("weather", city="b") + call("weather", city="c"), "ok")
    exchange = answer_with_tools(generate, [{"role": "user", "content": "?"}], max_calls=2)
    assert [c.problem for c in exchange.calls] == ["unknown_tool", "unknown_tool", "over_limit"]
    assert exchange.messages[3]["content"] == "Error: not run: at most 2 tool calls"
    assert exchange.answer == "ok"


def test_only_the_offered_tools_run_and_a_programs_own_errors_are_not_call_errors():
    skip_without_sandbox()
    generate = scripted(call("python", code="print('Error: python: not mine')"), "ok")
    exchange = answer_with_tools(generate, [{"role": "user", "content": "?"}])
    assert exchange.calls[0].problem is None and exchange.calls[0].result == "Error: python: not mine"
    generate = scripted(call("python", code="print(1)"), "ok")
    exchange = answer_with_tools(generate, [{"role": "user", "content": "?"}], offered=["search"])
    assert exchange.calls[0].problem == "unknown_tool"
    assert exchange.calls[0].result == "Error: no tool named 'python' (tools: search)"
