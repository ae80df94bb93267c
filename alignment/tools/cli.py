"""`alignment tool`: call a tool by hand and see exactly what the model would read back.

    alignment tool list                               # the tools and their JSON schemas (what the template renders)
    alignment tool python -c "print(123 * 456)"        # run code as a model's call would
    alignment tool python --code-file solution.py
    alignment tool index --source runs/tiny/corpus --output runs/tiny/search_index   # build a search index once
    alignment tool search --index runs/tiny/search_index "Wenmora Tobock"           # what a search call returns
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
    index = tools.add_parser("index", help="build a search index from a document collection")
    index.add_argument("--source", required=True, help="a corpus stage's output dir, a .jsonl(.gz) or .parquet file")
    index.add_argument("--output", required=True, help="the index dir to write")
    index.add_argument("--text_field", default="text")
    index.add_argument("--url_field", default="url", help="looked up in the record, then in its metadata")
    index.add_argument("--passage_chars", type=int, default=240, help="longest passage shown")
    search = tools.add_parser("search", help="search an index, as a model's call would")
    search.add_argument("--index", required=True, help="an index dir (alignment tool index)")
    search.add_argument("--top_k", type=int, default=2, help="passages returned")
    search.add_argument("query")
    return parser


def main(argv: list[str]) -> int:
    from alignment.recipe import RecipeError
    from alignment.tools import PYTHON_LIMITS, tool_schemas
    from alignment.tools.python_sandbox import SandboxUnavailable, run_sandboxed

    args = build_parser().parse_args(argv)
    if args.tool == "list":
        print(json.dumps(tool_schemas(), indent=2))
        return 0
    if args.tool == "index":
        from alignment.tools.search_index import build_index

        meta = build_index(args.source, args.output, args.text_field, args.url_field, args.passage_chars)
        print(f"search index: {meta['documents']} documents, {meta['passages']} passages -> {args.output}")
        return 0
    if args.tool == "search":
        from alignment.tools import search, use_search_index

        use_search_index(args.index, args.top_k)
        print(search(args.query))
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
