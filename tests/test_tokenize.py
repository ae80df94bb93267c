"""Kept documents tokenize with datatrove's DocumentTokenizer, EOS after each document (the next stage's input)."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.documents import read_documents
from data_pipelines.tokenize import tokenize_documents

pytestmark = pytest.mark.slow


def test_documents_tokenize_with_eos_between_them(tiny_corpus, tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    out, _ = tiny_corpus
    docs = read_documents(out / "documents")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator((d["text"] for d in docs),
                                  trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer_dir = tmp_path / "tok"
    tokenizer_dir.mkdir()
    tokenizer.save(str(tokenizer_dir / "tokenizer.json"))

    result = tokenize_documents(out / "documents", tokenizer_dir, tmp_path / "tokens", eos_token="<|endoftext|>")
    expected = sum(len(tokenizer.encode(d["text"]).ids) + 1 for d in docs)
    assert result == {"documents": len(docs), "tokens": expected}
    [data_file] = (tmp_path / "tokens" / "tokens").glob("*.ds")
    ids = np.fromfile(data_file, dtype=np.uint16)
    eos = tokenizer.token_to_id("<|endoftext|>")
    assert len(ids) == expected and (ids == eos).sum() == len(docs) and ids[-1] == eos
