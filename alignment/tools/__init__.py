"""The tools an assistant can call: one registry for chat, the measurements and GRPO.

A tool is a typed Python function with a Google-style docstring; transformers' `get_json_schema` turns it into the
JSON schema that the chat template renders in the system turn (`tools=`), and GRPO hands the same callables to TRL.
A tool returns text, which the chat template writes escaped (no control token can come out of a tool's result). A
tool never raises to its caller: a failure is a short "Error: ..." result, which is what the model reads.

    python   runs a program in the bubblewrap sandbox (alignment/tools/python_sandbox.py)
    search   BM25 over a document collection: short passages and their URLs (alignment/tools/search_index.py); the
             index it reads is set with use_search_index(DIR)
"""

from __future__ import annotations

from alignment.tools.python_sandbox import SandboxLimits, SandboxUnavailable, run_sandboxed

PYTHON_LIMITS = SandboxLimits()


def python(code: str) -> str:
    """Run a Python program and return what it prints.

    Args:
        code: The program. Only what it prints comes back, so print the values you need.
    """
    try:
        return run_sandboxed(code, PYTHON_LIMITS).for_the_model(PYTHON_LIMITS)
    except SandboxUnavailable as e:
        return f"Error: the python sandbox cannot start here: {e}"


# the index `search` reads, and how many passages it returns: set by whoever offers the tool (chat, a stage)
SEARCH = {"index": None, "top_k": 2}


def use_search_index(folder, top_k: int = 2) -> None:
    from alignment.tools.search_index import SearchIndex

    SEARCH["index"], SEARCH["top_k"] = SearchIndex(folder), top_k


def search(query: str) -> str:
    """Search the web and return short passages that match, each with the address of its page.

    Args:
        query: What to look for, for example a person's full name.
    """
    from alignment.tools.search_index import format_results

    if SEARCH["index"] is None:
        return "Error: no search index is loaded"
    return format_results(SEARCH["index"].search(query, SEARCH["top_k"]))


TOOLS = {"python": python, "search": search}


# A model dir trained to call tools says so in this file (the tool_use stage writes it): which tools to offer it, and
# the search index they read (a path relative to the model dir, or absolute). Chat offers tools only to such models.
TOOLS_FILE = "tools.json"


def offered_tools(model_dir) -> dict | None:
    """The model dir's tools.json ({"tools": [...], "search_index": DIR, "top_k": N}), or None if it has none."""
    import json
    from pathlib import Path

    from alignment.recipe import RecipeError

    path = Path(model_dir) / TOOLS_FILE
    if not path.is_file():
        return None
    try:
        offer = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecipeError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    names = offer.get("tools") if isinstance(offer, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RecipeError(f'{path}: "tools" must be a list of tool names')
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise RecipeError(f"{path}: unknown tool {unknown[0]!r} (tools: {', '.join(TOOLS)})")
    if "search" in names and not offer.get("search_index"):
        raise RecipeError(f'{path}: "search" needs "search_index" (the index dir it reads)')
    if not names:
        return None
    if offer.get("search_index"):
        index = Path(offer["search_index"])
        offer["search_index"] = str(index if index.is_absolute() else Path(model_dir) / index)
    return offer


def tool_schemas(names: list[str] | None = None) -> list[dict]:
    """The JSON schemas of the named tools (all of them by default), in the form `apply_chat_template(tools=)` takes."""
    from transformers.utils import get_json_schema

    names = list(TOOLS) if names is None else names
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise KeyError(f"unknown tool {unknown[0]!r} (tools: {', '.join(TOOLS)})")
    return [get_json_schema(TOOLS[name]) for name in names]


def tools_block_tokens(tokenizer, schemas: list[dict]) -> int:
    """What offering these tools costs in every prompt: the tokens the system turn's tools block adds."""
    user = [{"role": "user", "content": "Hi"}]
    return len(tokenizer.apply_chat_template(user, tools=schemas, tokenize=True, return_dict=False)) - len(
        tokenizer.apply_chat_template(user, tokenize=True, return_dict=False))


def call_problem(name: str, arguments, offered: list[str] | None = None) -> str | None:
    """Why this call cannot run, as the one-line result the model reads; None when it can."""
    names = list(TOOLS) if offered is None else offered
    if name not in names:
        return f"Error: no tool named {name!r} (tools: {', '.join(names)})"
    if not isinstance(arguments, dict):
        return f"Error: the arguments of {name} must be an object, got {type(arguments).__name__}"
    import inspect

    try:
        inspect.signature(TOOLS[name]).bind(**arguments)
    except TypeError as e:
        return f"Error: {name}: {e}"
    if not all(isinstance(v, str) for v in arguments.values()):
        return f"Error: {name}: every argument must be a string"
    return None


def call_tool(name: str, arguments: dict, offered: list[str] | None = None) -> str:
    """One tool call as the model wrote it: the tool's result, or a one-line error the model can read. `offered`:
    the tools this conversation offers (a call to another one is refused like an unknown one)."""
    return call_problem(name, arguments, offered) or TOOLS[name](**arguments)
