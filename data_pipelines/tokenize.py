"""Corpus documents -> token ids on disk, with datatrove's DocumentTokenizer (the pretraining stage reads these).

DocumentTokenizer takes a path to a `tokenizer.json` file: a directory name would be looked up on the
Hub, so a tokenizer dir is resolved to its file here. The EOS token is appended after every document so
that packed training blocks show the model where one document ends and the next begins.
"""

from __future__ import annotations

from pathlib import Path


def tokenizer_file(tokenizer: str | Path) -> str:
    """A tokenizer dir or file -> the tokenizer.json path DocumentTokenizer needs (a hub id passes through)."""
    path = Path(tokenizer)
    if path.is_dir():
        path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"{tokenizer}: no tokenizer.json in this directory")
    return str(path) if path.exists() else str(tokenizer)


def tokenize_documents(documents_dir: str | Path, tokenizer: str | Path, output_dir: str | Path, eos_token: str,
                       tasks: int = 1, workers: int = 1, shuffle: bool = False, seed: int = 0) -> dict:
    """Tokenize every document of `documents_dir` (*.jsonl.gz) into `output_dir`; returns the token count."""
    import json

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    output_dir = Path(output_dir)
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(documents_dir)),
            DocumentTokenizer(str(output_dir / "tokens"), tokenizer_name_or_path=tokenizer_file(tokenizer),
                              eos_token=eos_token, shuffle_documents=shuffle, seed=seed),
        ],
        tasks=tasks,
        workers=workers,
        logging_dir=str(output_dir / "logs"),
    )
    executor.run()
    stats = json.loads((output_dir / "logs" / "stats.json").read_text())
    read, tokenized = stats[0]["stats"], stats[-1]["stats"]
    return {"documents": int(read["documents"]["total"]), "tokens": int(tokenized["tokens"]["total"])}
