"""Reading a corpus output dir: the documents datatrove's JsonlWriter wrote (`*.jsonl.gz`, one JSON object a
line: text, id, metadata), in file order. The tokenizer, pretraining and the corpus's own measurements read it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def read_documents(folder: Path) -> list[dict]:
    docs = []
    for path in sorted(Path(folder).glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            docs.extend(json.loads(line) for line in f)
    return docs
