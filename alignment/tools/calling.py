"""The tool-calling loop that chat and the measurements share.

The model writes a turn; every `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` in it (Qwen3's form, which
our chat template renders and TRL parses) is run through the registry, each result goes back as a `tool` message,
and the model writes again, until it writes a turn without a call or `max_calls` calls were made. A call the loop
cannot run still gets a result (the error, in one line), so the model always sees what happened to it; the calls
are kept with how each went, for the measurements (">= 98% of calls parse and name a real tool").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from alignment.tools import TOOLS, call_tool

CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


@dataclass
class ToolCall:
    name: str | None
    arguments: dict | None
    problem: str | None  # None, or why it could not run: not_json, no_name, unknown_tool, bad_arguments
    result: str = ""


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """(the turn's text without its calls, the calls in order)."""
    calls = []
    for body in CALL.findall(text):
        try:
            call = json.loads(body)
        except json.JSONDecodeError:
            calls.append(ToolCall(None, None, "not_json"))
            continue
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
    content = CALL.sub("", text).strip()
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
                      on_call: Callable[[ToolCall], None] | None = None) -> Exchange:
    """Run the loop from `messages` (ending with the user's turn). `generate(messages)` returns the assistant's
    next turn as text (control tags such as <tool_call> kept, the end-of-turn token dropped)."""
    exchange = Exchange()
    while True:
        text = generate(messages + exchange.messages)
        content, calls = parse_tool_calls(text)
        if not calls or len(exchange.calls) >= max_calls:
            exchange.messages.append({"role": "assistant", "content": content if calls else text.strip()})
            return exchange
        exchange.messages.append({"role": "assistant", "content": content, "tool_calls": [
            {"type": "function", "function": {"name": c.name or "?", "arguments": c.arguments or {}}} for c in calls]})
        for call in calls:
            if call.problem == "not_json":
                call.result = "Error: the tool call is not valid JSON"
            elif call.problem == "no_name":
                call.result = 'Error: a tool call needs {"name": ..., "arguments": {...}}'
            else:
                call.result = call_tool(call.name, call.arguments)
                if call.problem is None and call.result.startswith(f"Error: {call.name}: "):
                    call.problem = "bad_arguments"  # the registry refused the arguments (missing, not strings)
            exchange.calls.append(call)
            exchange.messages.append({"role": "tool", "content": call.result})
            if on_call:
                on_call(call)
