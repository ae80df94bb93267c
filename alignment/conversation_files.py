"""Reading back what earlier stages wrote: JSONL conversation files, a seeded replay draw from them, and the sft
stage's held-out skill sets; and the rows of a record set a recipe names (a QA set, a preference set). The stages after SFT (refusals, tool_use) replay earlier data so that the skills it
taught stay, and measure those skills on the same held-out files.

A missing file or a line that is not a JSON object is a one-line error naming the file and the line.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from alignment.recipe import RecipeError


def jsonl_objects(path: Path, missing: str) -> list[tuple[int, dict]]:
    """(line number, record) of every non-blank line of a JSONL file; `missing` is the error for an absent file, and
    a line that is not a JSON object is a one-line error naming the file and the line."""
    if not path.is_file():
        raise RecipeError(missing)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise RecipeError(f"{path}: line {number}: not JSON ({e})") from None
        if not isinstance(row, dict):
            raise RecipeError(f"{path}: line {number}: a record must be a JSON object")
        rows.append((number, row))
    return rows


def read_jsonl(path: str, what: str) -> list[dict]:
    """Conversations: JSONL records with a `messages` list."""
    rows = jsonl_objects(Path(path), f"{what}: no file {path!r}")
    for number, row in rows:
        if not isinstance(row.get("messages"), list):
            raise RecipeError(f"{path}: line {number}: expected an object with a messages list")
    return [row for _, row in rows]


def dataset_rows(source: str, split: str, field: str) -> list[dict]:
    """The rows of a local .jsonl / .json / .csv / .parquet file or of a hub dataset's split (a QA set, a preference
    set); a missing file or a set the hub cannot give is a one-line error naming the recipe `field`."""
    path = Path(source)
    if path.exists() or path.suffix in (".jsonl", ".json", ".csv", ".parquet"):
        if not path.is_file():
            raise RecipeError(f"{field}: no file {source!r}")
        if path.suffix == ".jsonl":
            return [row for _, row in jsonl_objects(path, f"{field}: no file {source!r}")]
        from datasets import load_dataset

        kind = {".json": "json", ".csv": "csv", ".parquet": "parquet"}[path.suffix]
        return list(load_dataset(kind, data_files=str(path), split="train"))
    from datasets import load_dataset

    try:
        return list(load_dataset(source, split=split))
    except Exception as e:  # the hub's errors are many: one line, naming the set
        raise RecipeError(f"{field}: could not load {source!r}: {str(e).strip().splitlines()[0]}") from None


def replay_rows(path: str | None, counts: dict | None, seed_key: str, field: str = "replay_conversations",
                kind_prefix: str = "replay_") -> list[dict]:
    """A seeded draw of a conversations file's rows, {all: N} or a count per `kind`; each keeps its messages (and
    its tools, when it has them) and gets kind `kind_prefix` + its own."""
    if not path or not counts:
        return []
    rows = read_jsonl(path, field.replace("conversations", "dataset"))
    random.Random(seed_key).shuffle(rows)
    counts = dict(counts)
    chosen = rows[:counts.pop("all")] if "all" in counts else []
    for kind, count in counts.items():
        of_kind = [r for r in rows if r.get("kind") == kind]
        if len(of_kind) < count:
            raise RecipeError(f"{field}.{kind}: {count} asked, {path} has {len(of_kind)} conversation(s) of that "
                              f"kind")
        chosen += of_kind[:count]
    return [{"messages": r["messages"], "kind": f"{kind_prefix}{r.get('kind', 'conversation')}"}
            | ({"tools": r["tools"]} if r.get("tools") else {}) for r in chosen]


def skill_sets(skills_dir: str | None) -> dict | None:
    """The sft stage's held-out identity and word-problem sets (its conversations/ dir), measured by later stages."""
    if not skills_dir:
        return None
    folder = Path(skills_dir)
    return {name: [row for _, row in jsonl_objects(
        folder / f"{name}.jsonl",
        f"skills_dir: no file {str(folder / f'{name}.jsonl')!r} (the sft stage writes it to its conversations/ dir)")]
        for name in ("eval_identity", "eval_word_problems")}
