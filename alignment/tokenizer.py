"""Stage 2: a byte-level BPE tokenizer trained on the corpus, with the chat format's control tokens.

    alignment tokenizer --config recipes/tiny/tokenizer.yaml [--corpus_dir DIR] [--output_dir DIR]
    alignment tokenizer --config recipes/tiny/tokenizer.yaml --dataset_name HUB_ID_OR_PATH [--text_column text]
    alignment tokenizer --show "some text" [--tokenizer DIR]     # the tokens and ids of a text, and bytes/token

The output dir is a normal tokenizer dir: `AutoTokenizer.from_pretrained(dir)` loads it, with the chat template
(alignment/chat_format.py) in `chat_template.jinja` and its training variant in `chat_template_training.jinja`.
A seeded ~5% of the documents is never trained on: metrics.json reports the compression (bytes/token) on those.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
import os
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from alignment.chat_format import CONTROL_TOKENS, ENDOFTEXT, ESCAPE, SPECIAL_TOKENS, TAG_TOKENS, TOOLS_BLOCKS
from alignment.recipe import RecipeError, parse_recipe, recipe_help, to_yaml


@dataclass
class TokenizerConfig:
    output_dir: str = field(default="runs/tiny/tokenizer", metadata={"help": "Where the tokenizer dir is written."})
    corpus_dir: str = field(default="runs/tiny/corpus/documents", metadata={
        "help": "The corpus stage's documents/*.jsonl.gz (or its output dir). Used unless a dataset is given."})
    dataset_name: str | None = field(default=None, metadata={
        "help": "Train on a datasets dataset instead: a hub id or a local path (datasets.load_dataset, streamed)."})
    dataset_path: str | None = field(default=None, metadata={"help": "Same as dataset_name, for a local path."})
    dataset_config: str | None = field(default=None, metadata={"help": "The dataset's configuration name, if any."})
    dataset_split: str = field(default="train", metadata={"help": "The dataset split to read."})
    text_column: str = field(default="text", metadata={"help": "The dataset column with the text."})
    max_documents: int | None = field(default=None, metadata={
        "help": "Read at most this many documents (held-out ones included); None reads them all."})
    vocab_size: int = field(default=2048, metadata={
        "help": "Tokens in the vocabulary, the 256 bytes and the 9 control tokens included. Training stops early "
                "when no pair is seen min_frequency times any more."})
    min_frequency: int = field(default=2, metadata={"help": "A pair seen fewer times than this is never merged."})
    split_digits: bool = field(default=True, metadata={
        "help": "Every digit is its own token (as in Qwen and Llama): a number tokenizes the same way wherever it "
                "stands, which arithmetic needs."})
    template_text: bool = field(default=True, metadata={
        "help": "Train on the chat template's own text too (its role lines and empty reasoning block, rendered once "
                "per training document): each role name becomes one token, as in every chat model's tokenizer. A "
                "corpus without chats splits them ('assistant' was 4 tokens in the tiny one): 7% of the tiny SFT's "
                "tokens were role names and blank lines."})
    tool_text: list[str] = field(default_factory=list, metadata={
        "help": "Train on the chat format's tool-calling text too, for these tools of the registry (alignment/tools/): "
                "the tools block with their JSON schemas and a call to each, as the template writes them, with every "
                "value empty (once per training document, role lines left out: template_text does those). A "
                "corpus without JSON splits every quote and brace: the tiny tools block of python and search was "
                "602 tokens, 272 with it."})
    tools_block: str = field(default="json", metadata={
        "help": "How the chat template lists the tools offered to a model: 'json' (Qwen3's block, every schema as "
                "JSON, with its instructions) or 'signatures' (one line per tool, name(arguments): description; "
                "for a small context: the tiny block of python and search is 602 tokens one way, 86 the other). "
                "Calls and results are written the same way in both."})
    heldout_fraction: float = field(default=0.05, metadata={
        "help": "Fraction of documents never trained on, for the compression metric (chosen by a seeded hash of "
                "the text: copies of a document fall on the same side)."})
    seed: int = field(default=0, metadata={"help": "Seed of the held-out split."})
    pad_vocab_to: int = field(default=64, metadata={
        "help": "metrics.json's padded_vocab_size is the vocabulary rounded up to a multiple of this: the size "
                "of the model's embedding (a multiple of 64 keeps its matmuls on fast kernel tile sizes)."})

    def __post_init__(self):
        smallest = 256 + len(CONTROL_TOKENS)
        if self.vocab_size <= smallest:
            raise RecipeError(f"vocab_size: must be more than the {smallest} bytes and control tokens, "
                              f"got {self.vocab_size}")
        if not 0 <= self.heldout_fraction < 1:
            raise RecipeError(f"heldout_fraction: must be in [0, 1), got {self.heldout_fraction}")
        if self.dataset_name and self.dataset_path:
            raise RecipeError("dataset_name and dataset_path: give one of them, not both")
        if self.tools_block not in TOOLS_BLOCKS:
            raise RecipeError(f"tools_block: must be one of {', '.join(TOOLS_BLOCKS)}, got {self.tools_block!r}")
        if self.pad_vocab_to < 1 or self.min_frequency < 0:
            raise RecipeError("pad_vocab_to must be at least 1 and min_frequency at least 0")


# --- documents -------------------------------------------------------------------------------------

def is_heldout(text: str, fraction: float, seed: int) -> bool:
    """Whether a document is held out: a hash of the seed and the text, so the split needs no list of ids,
    does not depend on the other documents, and puts exact copies on the same side (no leak through copies)."""
    digest = hashlib.sha256(f"{seed}\0{text}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def _corpus_texts(corpus_dir: str):
    folder = Path(corpus_dir)
    if (folder / "documents").is_dir():  # the corpus stage's output dir rather than its documents/
        folder = folder / "documents"
    if not folder.is_dir():
        raise RecipeError(f"corpus_dir: no such directory: {folder} (run `alignment corpus` first, or give "
                          "dataset_name / dataset_path)")
    files = sorted(folder.glob("*.jsonl.gz"))
    if not files:
        raise RecipeError(f"corpus_dir: no *.jsonl.gz documents in {folder}")
    for path in files:  # read lazily: a real corpus does not fit in memory
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]


def _dataset_texts(cfg: TokenizerConfig):
    import datasets

    name = cfg.dataset_name or cfg.dataset_path
    path, args = Path(name), (name, cfg.dataset_config)
    if path.is_file():  # load_dataset takes a hub id or a directory; a single file needs its format named
        suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2", ".zst", ".xz")]
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}.get(
            suffixes[-1] if suffixes else "")
        if kind is None:
            raise RecipeError(f"dataset_path: cannot tell the format of {name} (jsonl, json, parquet, csv or txt)")
        args = (kind,)
    try:
        # streamed: documents are read as training consumes them, nothing is materialised on disk
        rows = datasets.load_dataset(*args, data_files=name if path.is_file() else None,
                                     split=cfg.dataset_split, streaming=True)
        for row in rows:
            if cfg.text_column not in row:
                raise RecipeError(f"text_column: no column '{cfg.text_column}' in {name} (columns: {', '.join(row)})")
            yield row[cfg.text_column]
    except RecipeError:
        raise
    except Exception as e:  # not found, offline, bad config or split: one line naming the dataset
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        field_name = "dataset_name" if cfg.dataset_name else "dataset_path"
        raise RecipeError(f"{field_name}: cannot read '{name}': {first_line}") from None


def read_texts(cfg: TokenizerConfig):
    """The documents' texts, from the corpus dir or a dataset, at most max_documents of them."""
    texts = _dataset_texts(cfg) if (cfg.dataset_name or cfg.dataset_path) else _corpus_texts(cfg.corpus_dir)
    for i, text in enumerate(texts):
        if cfg.max_documents is not None and i >= cfg.max_documents:
            return
        if text:
            yield text


# --- the stage -------------------------------------------------------------------------------------

def build_bpe(cfg: TokenizerConfig):
    """An untrained byte-level BPE pipeline and its trainer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    # The chat template writes a '<' in message text as '<' + U+FDD0 so that no control token matches there
    # (alignment/chat_format.py). Control tokens are matched in the raw text first; then this puts the '<' back,
    # so escaped text gets exactly the ids of plain text.
    tokenizer.normalizer = normalizers.Replace("<" + ESCAPE, "<")
    # Bytes, not characters: every string has an encoding (no unknown token) and decoding gives it back exactly.
    steps = [pre_tokenizers.ByteLevel(add_prefix_space=False)]
    if cfg.split_digits:
        steps.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        # the control tokens take ids 0..8 and never take part in merges
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in CONTROL_TOKENS],
        # all 256 bytes are in the vocabulary even if the corpus never shows some of them
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    return tokenizer, trainer


def _with_tags_not_special(tokenizer):
    """The trainer registers every control token as special; the tags are plain added tokens, as in Qwen3, so that
    decode(skip_special_tokens=True) keeps them (TRL parses tool calls out of decoded completions). Their ids stay."""
    from tokenizers import AddedToken, Tokenizer

    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return Tokenizer.from_str(tokenizer.to_str())  # a fresh copy: the old one caches which ids are special


def chat_template_text() -> str:
    """The training template's rendering of a system, a user and an assistant turn with every message empty: what
    it writes around the messages of any conversation (the control tokens in it are split off before BPE)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from alignment.chat_format import TRAINING_CHAT_TEMPLATE

    empty = [{"role": role, "content": ""} for role in ("system", "user", "assistant")]
    rendered, _ = render_jinja_template(conversations=[empty], chat_template=TRAINING_CHAT_TEMPLATE)
    return rendered[0]


def tool_template_segments(names: list[str], training_template: str) -> list[str]:
    """The tool-calling pieces of the training template's text for these tools: its tools block and a call to each
    (with empty arguments), between the control tokens, without the role lines and blank lines that every chat has
    (those are template_text's)."""
    import re

    from transformers.utils.chat_template_utils import render_jinja_template

    from alignment.tools import TOOLS, tool_schemas

    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise RecipeError(f"tool_text: unknown tool {unknown[0]!r} (tools: {', '.join(TOOLS)})")
    if not names:
        return []
    import inspect

    calls = [{"type": "function", "function": {"name": name, "arguments": {
        p: "" for p in inspect.signature(TOOLS[name]).parameters}}} for name in names]
    chat = [{"role": "user", "content": ""}, {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "content": ""}, {"role": "assistant", "content": ""}]
    rendered, _ = render_jinja_template(conversations=[chat], tools=tool_schemas(names),
                                        chat_template=training_template)
    every_chat = set(template_segments(chat_template_text()))
    pieces = [re.sub(r"^(system|user|assistant)\n", "", piece) for piece in template_segments(rendered[0])]
    return [piece for piece in pieces if piece.strip() and piece not in every_chat]


def template_segments(text: str) -> list[str]:
    """The text between the control tokens, each piece on its own. BpeTrainer does not split control tokens off the
    texts it trains on (it learnt 'think' and 'start' from their letters), while encoding does: each piece between
    them is then pre-tokenized alone ("\\n\\n" inside the reasoning block is one word, not two)."""
    import re

    pattern = "|".join(re.escape(t) for t in sorted(CONTROL_TOKENS, key=len, reverse=True))
    return [piece for piece in re.split(pattern, text) if piece]


def train_tokenizer(cfg: TokenizerConfig) -> dict:
    from alignment.chat_format import RESPONSE_TEMPLATE, TRAINING_TEMPLATE_FILE, chat_templates
    from alignment.metrics import StageRun
    from alignment.tools import tool_schemas, tools_block_tokens

    out = Path(cfg.output_dir)
    texts = read_texts(cfg)
    first = next(texts, None)  # fail on a missing or empty input before anything is written
    if first is None:
        raise RecipeError("no documents to train on (the corpus or dataset is empty)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(to_yaml(cfg))

    with StageRun("tokenizer", out, seed=cfg.seed) as run:
        heldout: list[str] = []
        trained = {"documents": 0, "bytes": 0}
        template = chat_template_text()
        chat_template, training_chat_template = chat_templates(cfg.tools_block)
        scaffold = ((template_segments(template) if cfg.template_text else [])
                    + tool_template_segments(cfg.tool_text, training_chat_template))

        def training_texts():
            for text in itertools.chain([first], texts):
                if is_heldout(text, cfg.heldout_fraction, cfg.seed):
                    heldout.append(text)
                    continue
                trained["documents"] += 1
                trained["bytes"] += len(text.encode("utf-8"))
                yield text
                yield from scaffold  # as often as documents: as if every document came with one conversation

        bpe, trainer = build_bpe(cfg)
        started = time.time()
        bpe.train_from_iterator(training_texts(), trainer)
        train_time = time.time() - started
        if trained["documents"] == 0:
            raise RecipeError("every document was held out: lower heldout_fraction or give more documents")
        bpe = _with_tags_not_special(bpe)

        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=bpe,
            # documents are joined as text<|endoftext|>text<|endoftext|>...: one token ends a document and
            # begins the next (GPT-2's convention, and Qwen3's), and pads. Nothing is added automatically.
            bos_token=ENDOFTEXT, eos_token=ENDOFTEXT, pad_token=ENDOFTEXT,
            chat_template=chat_template,
            response_template=RESPONSE_TEMPLATE,
            clean_up_tokenization_spaces=False,  # it would turn " ." into ".": decoding must give the text back
        )
        tokenizer.save_pretrained(out)
        (out / TRAINING_TEMPLATE_FILE).write_text(training_chat_template, encoding="utf-8")

        # compression on documents the tokenizer never saw
        heldout_bytes = sum(len(t.encode("utf-8")) for t in heldout)
        heldout_tokens = sum(len(e.ids) for e in bpe.encode_batch(heldout, add_special_tokens=False))
        vocab_size = bpe.get_vocab_size()
        record = run.write({
            "vocab_size": vocab_size,
            "vocab_size_requested": cfg.vocab_size,
            "padded_vocab_size": math.ceil(vocab_size / cfg.pad_vocab_to) * cfg.pad_vocab_to,
            "heldout_bytes_per_token": round(heldout_bytes / heldout_tokens, 4) if heldout_tokens else None,
            "heldout_documents": len(heldout),
            "heldout_bytes": heldout_bytes,
            "heldout_tokens": heldout_tokens,
            "training_documents": trained["documents"],
            "training_bytes": trained["bytes"],
            "template_text_tokens": len(bpe.encode(template, add_special_tokens=False).ids),
            "tool_text": cfg.tool_text,
            "tools_block": cfg.tools_block,
            "tools_block_tokens": tools_block_tokens(tokenizer, tool_schemas()),
            "train_time_s": round(train_time, 2),
            "special_token_ids": {t: bpe.token_to_id(t) for t in CONTROL_TOKENS},
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        })
    bpt = record["heldout_bytes_per_token"]
    print(f"tokenizer: {vocab_size} tokens (embedding rows: {record['padded_vocab_size']}), trained on "
          f"{trained['documents']} documents ({trained['bytes'] / 1e6:.2f} MB) in {train_time:.1f} s; held-out "
          f"compression: {bpt if bpt is not None else '-'} bytes/token on {len(heldout)} documents -> {out} "
          f"({record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")
    return record


# --- --show: what the tokenizer makes of a text -----------------------------------------------------

def _byte_decoder() -> dict[str, int]:
    """ByteLevel's printable stand-in character -> the byte it stands for (GPT-2's bytes_to_unicode, inverted)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def _visible(text: str) -> str:
    """A token's text on one line: whitespace other than the space and other control characters escaped."""
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return "".join(named.get(c) or (repr(c)[1:-1] if unicodedata.category(c)[0] == "C" else c) for c in text)


# pastel backgrounds with black text, cycled so that neighbouring tokens differ (tiktokenizer's look)
_BACKGROUNDS = (153, 186, 217, 151, 223, 189, 230)


def show_tokens(argv: list[str]) -> int:
    import argparse

    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(prog="alignment tokenizer --show")
    parser.add_argument("--show", required=True, metavar="TEXT")
    parser.add_argument("--tokenizer", metavar="DIR", help="a tokenizer dir (default: the recipe's output_dir)")
    parser.add_argument("--config", metavar="RECIPE", help="a tokenizer recipe: its output_dir is the tokenizer")
    args = parser.parse_args(argv)
    recipe = ["--config", args.config] if args.config else []
    folder = Path(args.tokenizer or parse_recipe(TokenizerConfig, recipe).output_dir)
    if not (folder / "tokenizer.json").is_file():
        raise RecipeError(f"--tokenizer: {folder} has no tokenizer.json (train one: alignment tokenizer --config ...)")
    # the Rust tokenizer alone: no transformers start-up, so the answer is instant
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))

    ids = tokenizer.encode(args.show, add_special_tokens=False).ids
    added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    byte_of = _byte_decoder()
    pieces = []
    for token in (tokenizer.id_to_token(i) for i in ids):
        if token in added:
            pieces.append((token, True))
        else:  # a token can hold part of a character: its bytes show as \xNN
            raw = bytes(byte_of[c] for c in token)
            pieces.append((_visible(raw.decode("utf-8", errors="backslashreplace")), False))

    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        bold = "\x1b[1m"  # control tokens stand out
        line = "".join(f"\x1b[48;5;{_BACKGROUNDS[k % len(_BACKGROUNDS)]}m\x1b[30m{bold if control else ''}"
                       f"{text}\x1b[0m" for k, (text, control) in enumerate(pieces))
    else:
        line = "|".join(text for text, _ in pieces)
    n_bytes = len(args.show.encode("utf-8"))
    print(line)
    print(ids)
    print(f"{n_bytes} bytes / {len(ids)} tokens = {n_bytes / len(ids) if ids else 0:.2f} bytes/token")
    return 0


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(recipe_help(TokenizerConfig, "tokenizer"))
        print("\n  --show TEXT [--tokenizer DIR]   the tokens of TEXT (coloured in a terminal), their ids, bytes/token")
        return 0
    if any(a == "--show" or a.startswith("--show=") for a in argv):
        return show_tokens(argv)
    cfg = parse_recipe(TokenizerConfig, argv)
    train_tokenizer(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
