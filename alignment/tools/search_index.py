"""The search tool: BM25 (bm25s) over a document collection, answering with short passages and their URLs.

The collection is the corpus stage's kept documents by default (the tiny world's web), or any JSONL / Parquet text
set. Pages are cut into passages of one sentence each, indexed with the page's title in front (a page names its
person in full in the title and often by surname alone after that: "Born in Quarnby, Tobmere had ..."), and a
query gets the best `top_k` passages: the matching sentence, with the sentence before it where both fit in
`passage_chars`, and the page's URL. Short on purpose: the tiny model's whole context is 256 tokens.

    alignment tool index --source runs/tiny/corpus --output runs/tiny/search_index
    alignment tool search --index runs/tiny/search_index "Wenmora Tobock born"

The index dir holds bm25s's saved matrices (memory-mapped when loaded), passages.jsonl and index.json (what was
indexed, how many documents and passages, the settings).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from alignment.recipe import RecipeError

SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+")
STOPWORDS = "en"  # bm25s's built-in English list: no download


@dataclass
class Passage:
    text: str       # what the model reads
    indexed: str    # what BM25 matches: the page title + the sentence
    url: str
    document: int   # index of the page in the collection
    sentence: int   # index of the sentence in the page


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


def page_passages(text: str, url: str, document: int, passage_chars: int = 240) -> list[Passage]:
    """One passage per sentence; the first line is the title when it reads like one (short, no final period)."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    title = sentences[0] if len(sentences[0]) <= 100 and not sentences[0].endswith((".", "!", "?")) else ""
    out = []
    for i, sentence in enumerate(sentences):
        if title and i == 0:
            continue
        shown = sentence
        before = sentences[i - 1] if i > 0 and not (title and i == 1) else ""
        if before and len(before) + 1 + len(sentence) <= passage_chars:
            shown = f"{before} {sentence}"  # a little context
        if len(shown) > passage_chars:
            shown = shown[:passage_chars - 3].rstrip() + "..."
        out.append(Passage(text=shown, indexed=f"{title} {sentence}".strip(), url=url, document=document,
                           sentence=i))
    return out


def read_collection(source: str | Path, text_field: str = "text", url_field: str = "url"):
    """(text, url) of each document: a corpus stage's output dir or documents/ dir (datatrove's JsonlWriter files,
    the URL in metadata), a .jsonl / .jsonl.gz file, or a .parquet file. A record without text is an error naming it."""
    path = Path(source)
    if path.is_dir():
        folder = path / "documents" if (path / "documents").is_dir() else path
        files = sorted(folder.glob("*.jsonl.gz")) + sorted(folder.glob("*.jsonl"))
        if not files:
            raise RecipeError(f"search index: no *.jsonl.gz or *.jsonl documents in {folder}")
    elif path.is_file():
        files = [path]
    else:
        raise RecipeError(f"search index: no such file or directory: {path}")
    for file in files:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = (row for batch in pq.ParquetFile(file).iter_batches() for row in batch.to_pylist())
        else:
            opener = gzip.open if file.suffix == ".gz" else open
            with opener(file, "rt", encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        for number, row in enumerate(rows, 1):
            text = row.get(text_field)
            if not isinstance(text, str):
                raise RecipeError(f"{file}: record {number}: no string field '{text_field}'")
            url = row.get(url_field) or (row.get("metadata") or {}).get(url_field) or f"{file.name}#{number}"
            yield text, str(url)


def build_index(source: str | Path | list, output: str | Path, text_field: str = "text", url_field: str = "url",
                passage_chars: int = 240) -> dict:
    """Index a collection, or several (a list of sources, as read_collection reads each) as one."""
    import bm25s

    sources = source if isinstance(source, list) else [source]
    collection = (document for one in sources for document in read_collection(one, text_field, url_field))
    passages: list[Passage] = []
    documents = 0
    for documents, (text, url) in enumerate(collection, 1):
        passages += page_passages(text, url, documents - 1, passage_chars)
    if not passages:
        raise RecipeError(f"search index: {source} holds no text to index")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([p.indexed for p in passages], stopwords=STOPWORDS, show_progress=False),
                    show_progress=False)
    retriever.save(str(out / "bm25"), show_progress=False)
    with open(out / "passages.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    meta = {"source": str(sources[0]) if len(sources) == 1 else [str(one) for one in sources],
            "documents": documents, "passages": len(passages), "passage_chars": passage_chars,
            "text_field": text_field, "url_field": url_field, "stopwords": STOPWORDS}
    (out / "index.json").write_text(json.dumps(meta, indent=2))
    return meta


class SearchIndex:
    """A saved index, loaded once (the matrices memory-mapped)."""

    def __init__(self, folder: str | Path):
        import bm25s

        self.folder = Path(folder)
        if not (self.folder / "index.json").is_file():
            raise RecipeError(f"search index: {self.folder} is not one (no index.json): build it with "
                              "`alignment tool index --source DIR --output DIR`")
        self.meta = json.loads((self.folder / "index.json").read_text())
        self.retriever = bm25s.BM25.load(str(self.folder / "bm25"), mmap=True)
        with open(self.folder / "passages.jsonl", encoding="utf-8") as f:
            self.passages = [Passage(**json.loads(line)) for line in f]

    def search(self, query: str, top_k: int = 3) -> list[tuple[float, Passage]]:
        """The best passages, at most one per page, best first; none when no word of the query is indexed."""
        import bm25s

        words = bm25s.tokenize([query], stopwords=STOPWORDS, return_ids=False, show_progress=False)[0]
        words = [w for w in words if w in self.retriever.vocab_dict]
        if not words:
            return []
        k = min(len(self.passages), top_k * 4)  # extra, for dropping a page's second passage
        ids, scores = self.retriever.retrieve([words], k=k, show_progress=False)
        hits, pages = [], set()
        for i, score in zip(ids[0].tolist(), scores[0].tolist()):
            passage = self.passages[i]
            if score <= 0 or passage.document in pages:
                continue
            pages.add(passage.document)
            hits.append((round(float(score), 3), passage))
            if len(hits) == top_k:
                break
        return hits


def format_results(hits: list[tuple[float, Passage]]) -> str:
    """What the model reads: one line per passage, its URL first."""
    if not hits:
        return "No results."
    return "\n".join(f"[{n}] {p.url}\n{p.text}" for n, (_, p) in enumerate(hits, 1))
