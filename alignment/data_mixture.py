"""`dataset_mixture` in a recipe: several conversation datasets, each subsampled, as alignment-handbook does.

    dataset_mixture:
      datasets:
        - id: HuggingFaceTB/smoltalk      # a hub id, or a local .jsonl/.json/.parquet/.csv file or folder
          config: all                     # the dataset's configuration (hub datasets)
          split: train
          columns: [messages]
          weight: 0.5                     # the fraction of this dataset kept (a seeded shuffle, then the first rows)
      test_split_size: 1000               # rows (an int) or a share (a float) held out for evaluation
      seed: 0

`--dataset_name ID` / `--dataset_path PATH` on the command line replace the mixture by that one dataset.
Hub ids and local paths go through the same `datasets.load_dataset` call.
"""

from __future__ import annotations

from pathlib import Path

from alignment.recipe import RecipeError

DATASET_KEYS = {"id", "config", "split", "columns", "weight", "data_files"}
MIXTURE_KEYS = {"datasets", "test_split_size", "seed"}
FILE_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def check_mixture(mixture: dict) -> None:
    """Fail in a second, before any model loads, on a misspelt key or a missing local file."""
    unknown = set(mixture) - MIXTURE_KEYS
    if unknown:
        raise RecipeError(f"dataset_mixture: unknown key(s) {sorted(unknown)} (known: {sorted(MIXTURE_KEYS)})")
    datasets = mixture.get("datasets") or []
    if not isinstance(datasets, list):
        raise RecipeError("dataset_mixture.datasets: expected a list of {id, config, split, columns, weight}")
    for i, entry in enumerate(datasets):
        where = f"dataset_mixture.datasets[{i}]"
        if not isinstance(entry, dict) or "id" not in entry:
            raise RecipeError(f"{where}: expected a mapping with at least `id`")
        unknown = set(entry) - DATASET_KEYS
        if unknown:
            raise RecipeError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(DATASET_KEYS)})")
        weight = entry.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise RecipeError(f"{where}.weight: the fraction kept, in (0, 1]; got {weight!r}")
        looks_local = entry["id"].startswith((".", "/", "~")) or Path(entry["id"]).suffix in FILE_FORMATS
        if looks_local and not Path(entry["id"]).expanduser().exists():
            raise RecipeError(f"{where}.id: {entry['id']} not found")


def _load_one(entry: dict, where: str):
    import datasets

    source, split = entry["id"], entry.get("split", "train")
    path = Path(source).expanduser()
    try:
        if path.is_file():
            return datasets.load_dataset(FILE_FORMATS.get(path.suffix, "json"), data_files=str(path), split="train")
        if path.is_dir() and (path / "dataset_info.json").is_file():  # save_to_disk
            loaded = datasets.load_from_disk(str(path))
            return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return datasets.load_dataset(str(path) if path.is_dir() else source, entry.get("config"),
                                     data_files=entry.get("data_files"), split=split)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RecipeError(f"{where}.id: could not load {source!r} (split {split!r}): {first_line}") from e


def load_mixture(mixture: dict, seed: int = 0) -> dict:
    """{"train": Dataset, "test": Dataset or None} from a dataset_mixture mapping."""
    import datasets

    check_mixture(mixture)
    seed = mixture.get("seed", seed)
    parts = []
    for i, entry in enumerate(mixture.get("datasets") or []):
        where = f"dataset_mixture.datasets[{i}]"
        ds = _load_one(entry, where)
        columns = entry.get("columns")
        if columns:
            missing = [c for c in columns if c not in ds.column_names]
            if missing:
                raise RecipeError(f"{where}.columns: {missing} not in {entry['id']} (it has {ds.column_names})")
            ds = ds.select_columns(columns)
        if "messages" not in ds.column_names:
            raise RecipeError(f"{where}: {entry['id']} has no `messages` column (it has {ds.column_names})")
        weight = entry.get("weight", 1.0)
        if weight < 1:
            ds = ds.shuffle(seed=seed).select(range(max(1, int(len(ds) * weight))))
        parts.append(ds.select_columns(["messages", "tools"] if "tools" in ds.column_names else ["messages"]))
    if not parts:
        return {"train": None, "test": None}
    if any("tools" in part.column_names for part in parts):  # function-calling sets: the schemas go with each row
        parts = [tools_as_json(part) for part in parts]
    combined = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    size = mixture.get("test_split_size")
    if not size:
        return {"train": combined, "test": None}
    if (isinstance(size, int) and size >= len(combined)) or (isinstance(size, float) and not 0 < size < 1):
        raise RecipeError(f"dataset_mixture.test_split_size: {size} does not fit a mixture of {len(combined)} rows "
                          "(rows as an int below that, or a share in (0, 1))")
    split = combined.train_test_split(test_size=size, seed=seed)
    return {"train": split["train"], "test": split["test"]}


def tools_as_json(ds):
    """A set ready to join function-calling ones: `tools` as one JSON string per row ("null" where a set has none),
    `messages` as JSON values. TRL's SFTTrainer reads a string as the schemas it holds and passes them to the chat
    template (`tools=`); datasets types tool-calling messages (mixed keys: tool_calls, tool roles) as JSON and plain
    chats as structs, and will not concatenate the two, nor schemas with different fields as structs."""
    import json

    import datasets

    if "tools" not in ds.column_names:
        ds = ds.add_column("tools", ["null"] * len(ds))
    elif ds.features["tools"] != datasets.Value("string"):
        ds = ds.map(lambda row: {"tools": json.dumps(row["tools"])})
    as_json = datasets.List(datasets.Json())
    return ds if ds.features["messages"] == as_json else ds.cast_column("messages", as_json)


def single_dataset(name: str | None, path: str | None) -> dict | None:
    """The flat shorthands: `--dataset_name ID` or `--dataset_path FILE` as a one-dataset mixture."""
    if name and path:
        raise RecipeError("dataset_name and dataset_path: give one of them, not both")
    source = name or path
    return {"datasets": [{"id": source}]} if source else None
