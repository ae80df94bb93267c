"""`alignment tool`: call a tool by hand and see exactly what the model would read back.

    alignment tool list                               # the tools and their JSON schemas (what the template renders)
    alignment tool python -c "print(123 * 456)"        # run code as a model's call would
    alignment tool python --code-file solution.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alignment tool", description=__doc__.split("\n")[0])
    tools = parser.add_subparsers(dest="tool", required=True)
    tools.add_parser("list", help="the tools and their JSON schemas")
    python = tools.add_parser("python", help="run a program in the sandbox, as a model's call would")
    source = python.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", dest="code", help="the program's text")
    source.add_argument("--code-file", "--code_file", dest="code_file", help="a file holding the program")
    return parser


def main(argv: list[str]) -> int:
    from alignment.recipe import RecipeError
    from alignment.tools import PYTHON_LIMITS, tool_schemas
    from alignment.tools.python_sandbox import SandboxUnavailable, run_sandboxed

    args = build_parser().parse_args(argv)
    if args.tool == "list":
        print(json.dumps(tool_schemas(), indent=2))
        return 0
    code = args.code
    if args.code_file is not None:
        path = Path(args.code_file)
        if not path.is_file():
            raise RecipeError(f"--code-file: no such file: {path}")
        code = path.read_text(encoding="utf-8", errors="replace")
    try:
        result = run_sandboxed(code, PYTHON_LIMITS)
    except SandboxUnavailable as e:
        print(f"alignment tool python: error: the sandbox cannot start here: {e}", file=sys.stderr)
        return 1
    print(result.for_the_model(PYTHON_LIMITS))
    print(f"[exit code {result.exit_code}, {result.seconds} s{', timed out' if result.timed_out else ''}"
          f"{', output cut' if result.output_cut else ''}]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
