"""The tool-calling loop that chat and the measurements share.

The model writes a turn; every `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` in it (Qwen3's form, which
our chat template renders and TRL parses) is run through the registry, each result goes back as a `tool` message,
and the model writes again, until it writes a turn without a call or `max_calls` calls were made. A call the loop
cannot run still gets a result (the error, in one line), so the model always sees what happened to it; the calls
are kept with how each went, for the measurements (">= 98% of calls parse and name a real tool").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from alignment.tools import TOOLS, call_problem

OPEN, CLOSE = "<tool_call>", "</tool_call>"


@dataclass
class ToolCall:
    name: str | None
    arguments: dict | None
    problem: str | None  # None, or why it could not run: not_json, no_name, unknown_tool, bad_arguments, over_limit
    result: str = ""


def _call_bodies(text: str) -> tuple[str, list[str | None]]:
    """(the text outside the calls, each call's JSON text or None when it is not JSON). The JSON is read with a JSON
    decoder, not up to the next </tool_call>: a program may hold that string."""
    decoder, content, bodies, at = json.JSONDecoder(), [], [], 0
    while (start := text.find(OPEN, at)) != -1:
        content.append(text[at:start])
        body_at = start + len(OPEN)
        body_at += len(text[body_at:]) - len(text[body_at:].lstrip())
        try:
            _, end = decoder.raw_decode(text, body_at)
            bodies.append(text[body_at:end])
            close = text.find(CLOSE, end)
            at = close + len(CLOSE) if close != -1 and not text[end:close].strip() else end
        except json.JSONDecodeError:
            bodies.append(None)
            close = text.find(CLOSE, body_at)
            at = close + len(CLOSE) if close != -1 else len(text)
    content.append(text[at:])
    return "".join(content).strip(), bodies


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """(the turn's text without its calls, the calls in order)."""
    calls = []
    content, bodies = _call_bodies(text)
    for body in bodies:
        if body is None:
            calls.append(ToolCall(None, None, "not_json"))
            continue
        call = json.loads(body)
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            calls.append(ToolCall(None, None, "no_name"))
            continue
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):  # some models write the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                arguments = None
        problem = None
        if call["name"] not in TOOLS:
            problem = "unknown_tool"
        elif not isinstance(arguments, dict):
            problem = "bad_arguments"
        calls.append(ToolCall(call["name"], arguments if isinstance(arguments, dict) else None, problem))
    return content, calls


@dataclass
class Exchange:
    """What one user message led to: the messages added (assistant turns with their calls, tool results, the
    final answer) and every call with how it went."""
    messages: list[dict] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"] if self.messages else ""


def answer_with_tools(generate: Callable[[list[dict]], str], messages: list[dict], max_calls: int = 3,
                      on_call: Callable[[ToolCall], None] | None = None,
                      offered: list[str] | None = None) -> Exchange:
    """Run the loop from `messages` (ending with the user's turn). `generate(messages)` returns the assistant's
    next turn as text (control tags such as <tool_call> kept, the end-of-turn token dropped). At most `max_calls`
    calls run in all (the ones after that get an error result, and the model writes its answer); a call to a tool
    not in `offered` (default: every tool) is refused like an unknown one."""
    return answer_all_with_tools(lambda conversations: [generate(c) for c in conversations], [messages], max_calls,
                                 on_call, offered)[0]


def answer_all_with_tools(generate_all: Callable[[list[list[dict]]], list[str]], conversations: list[list[dict]],
                          max_calls: int = 3, on_call: Callable[[ToolCall], None] | None = None,
                          offered: list[str] | None = None, run_calls: Callable | None = None) -> list[Exchange]:
    """The loop over many conversations at once, for the measurements: each round, `generate_all` writes the next
    turn of every conversation still going (one batched generation), and their calls run. `run_calls(calls)` runs
    a round's runnable calls and returns their results (default: one after the other; the stage runs them on
    threads, as each python call is its own sandboxed process)."""
    exchanges = [Exchange() for _ in conversations]
    going = list(range(len(conversations)))
    while going:
        texts = generate_all([conversations[i] + exchanges[i].messages for i in going])
        runnable: list[ToolCall] = []
        still = []
        for i, text in zip(going, texts):
            exchange = exchanges[i]
            content, calls = parse_tool_calls(text)
            if not calls or len(exchange.calls) >= max_calls:
                exchange.messages.append({"role": "assistant", "content": content if calls else text.strip()})
                continue
            exchange.messages.append({"role": "assistant", "content": content, "tool_calls": [
                {"type": "function", "function": {"name": c.name or "?", "arguments": c.arguments or {}}}
                for c in calls]})
            for call in calls:
                if _runnable(call, len(exchange.calls), max_calls, offered):
                    runnable.append(call)
                exchange.calls.append(call)
            still.append(i)
        results = (run_calls or _run_in_turn)(runnable)
        for call, result in zip(runnable, results):
            call.result = result
        for i in still:  # the results, in the order of the calls
            exchange = exchanges[i]
            for call in exchange.calls[len(exchange.calls) - _pending(exchange):]:
                exchange.messages.append({"role": "tool", "content": call.result})
                if on_call:
                    on_call(call)
        going = still
    return exchanges


def _runnable(call: ToolCall, made: int, max_calls: int, offered: list[str] | None) -> bool:
    """True when the call can run (`made`: the calls before it); otherwise it gets its error result and its kind."""
    if call.problem == "not_json":
        call.result = "Error: the tool call is not valid JSON"
    elif call.problem == "no_name":
        call.result = 'Error: a tool call needs {"name": ..., "arguments": {...}}'
    elif made >= max_calls:
        call.problem, call.result = "over_limit", f"Error: not run: at most {max_calls} tool calls"
    else:
        refused = call_problem(call.name, call.arguments, offered)
        if refused is None:
            return True
        if call.problem is None:
            call.problem = "unknown_tool" if refused.startswith("Error: no tool") else "bad_arguments"
        call.result = refused
    return False


def _pending(exchange: Exchange) -> int:
    """How many of the exchange's calls came in its last assistant turn (their results are not in it yet)."""
    return len(exchange.messages[-1]["tool_calls"])


def _run_in_turn(calls: list[ToolCall]) -> list[str]:
    return [TOOLS[c.name](**c.arguments) for c in calls]


def run_on_threads(calls: list[ToolCall], workers: int = 4) -> list[str]:
    """The calls' results, run on threads: a python call waits on its sandbox process, so a few run at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: TOOLS[c.name](**c.arguments), calls))
