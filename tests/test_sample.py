"""`alignment sample`: the hand-written sampling loop follows the model, token by token.

Hermetic: a byte-level BPE tokenizer trained here on a few sentences and a tiny Llama built from its
config (random, and trained for a few dozen steps on one sentence), saved with save_pretrained and
run through the real CLI.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from alignment.chat_setup import stop_token_ids
from alignment.sample import (
    continuation_text,
    generate_steps,
    greedy_continuation,
    next_token_distribution,
    sample_continuations,
)
from tests.conftest import ROOT, run_cli

EOS = "<|endoftext|>"
# ASCII only: 'é' (two UTF-8 bytes) stays split over two byte tokens, which streaming must reassemble.
TOKENIZER_TEXT = [
    "the cat sat on the mat and the dog sat on the log.",
    "a quick brown fox jumps over the lazy dog near the river bank.",
    "the corner shop sells bread, milk and fresh pastries every morning.",
    "she opened the window and the cold morning air filled the room.",
]
SENTENCE = "the cafe on the corner sells naïve pastries, and the café is open."
PROMPT = "the cat"


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TOKENIZER_TEXT, trainers.BpeTrainer(
        vocab_size=320, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS)


def _model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    eos = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
                         initializer_range=0.1)  # wider than 0.02: fewer near-ties among random logits
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny Llama and its tokenizer, saved as a normal model dir."""
    tokenizer = _tokenizer()
    model = _model(tokenizer)
    out = tmp_path_factory.mktemp("random_model")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, model, tokenizer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny Llama after a few dozen steps on one repeated sentence: greedy decoding must recite it."""
    tokenizer = _tokenizer()
    model = _model(tokenizer)
    ids = tokenizer(SENTENCE).input_ids + [tokenizer.eos_token_id]
    batch = torch.tensor([ids * 2])  # the sentence, end-of-text, the sentence again: 78 tokens
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(30):  # loss ~4 -> ~0.04 (measured); ~3 s on 2 cores
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    out = tmp_path_factory.mktemp("trained_model")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, model, tokenizer, loss.item()


# --- the filters -------------------------------------------------------------------------------------

def test_temperature_top_k_top_p_reshape_one_distribution():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.allclose(next_token_distribution(logits), torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert next_token_distribution(logits, temperature=0).tolist() == [1, 0, 0, 0]  # greedy
    # top_k keeps the k likeliest and renormalises them
    assert torch.allclose(next_token_distribution(logits, top_k=2), torch.tensor([0.625, 0.375, 0, 0]))
    # top_p: the smallest head reaching p (0.5 + 0.3 >= 0.7); the likeliest token always survives
    assert torch.allclose(next_token_distribution(logits, top_p=0.7), torch.tensor([0.625, 0.375, 0, 0]))
    assert next_token_distribution(logits, top_p=0.01).tolist() == [1, 0, 0, 0]
    # temperature: > 1 flattens, < 1 sharpens, the order never changes
    hot, cold = next_token_distribution(logits, temperature=2.0), next_token_distribution(logits, temperature=0.5)
    assert hot[0] < 0.5 < cold[0] and hot[3] > 0.05 > cold[3]
    assert torch.equal(hot.argsort(), cold.argsort())


# --- greedy = the model's own generate() --------------------------------------------------------------

def test_temperature_0_and_top_k_1_equal_generate_greedy(tiny):
    model_dir, model, tokenizer = tiny
    prompt_ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    expected = model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), do_sample=False,
                              max_new_tokens=16)[0, prompt_ids.shape[1]:].tolist()
    stops = stop_token_ids(model, tokenizer)
    ours = [s.token_id for s in generate_steps(model, prompt_ids, max_new_tokens=16, temperature=0, stop_ids=stops)]
    assert ours == expected
    # top_k=1 leaves one token with probability 1: sampling it is greedy, whatever the seed
    top1 = [s.token_id for s in generate_steps(model, prompt_ids, max_new_tokens=16, temperature=1, top_k=1,
                                               generator=torch.Generator().manual_seed(3), stop_ids=stops)]
    assert top1 == expected
    assert greedy_continuation(model, tokenizer, prompt_ids[0].tolist(), len(expected)) == expected

    proc = run_cli("sample", "--model", model_dir, "--prompt", PROMPT, "--max_new_tokens", 16, "--temperature", 0)
    assert proc.stdout == tokenizer.decode(prompt_ids[0].tolist() + expected, skip_special_tokens=True) + "\n"
    assert "seed " in proc.stderr  # what reproduces a run is reported, off stdout


# --- stochastic: a seed reproduces, different seeds differ; --explain shows each draw ---------------------

SAMPLING = ["--prompt", PROMPT, "--max_new_tokens", 8, "--temperature", 1, "--top_k", 0, "--top_p", 0.95]
ROW = re.compile(r"^\s+(\d+)\s+(.+?)\s+([01]\.\d{4})\s+([01]\.\d{4})(  <- sampled)?$")


@pytest.fixture(scope="module")
def three_samples(tiny):
    """`--num_samples 3 --seed 5`: three continuations of one prompt, drawn with seeds 5, 6 and 7."""
    model_dir, _, _ = tiny
    proc = run_cli("sample", "--model", model_dir, *SAMPLING, "--num_samples", 3, "--seed", 5)
    headers = re.findall(r"^--- sample (\d)/3 \(seed (\d+)\) ---$", proc.stdout, flags=re.M)
    assert headers == [("1", "5"), ("2", "6"), ("3", "7")]
    return [s.strip("\n") for s in re.split(r"^--- sample \d/3 \(seed \d+\) ---$", proc.stdout, flags=re.M)[1:]]


def test_num_samples_are_numbered_and_differ(tiny, three_samples):
    _, model, tokenizer = tiny
    assert all(s.startswith(PROMPT) and len(s) > len(PROMPT) for s in three_samples)
    assert len(set(three_samples)) == 3  # the same prompt, three different documents

    # The streamed text is exactly what the library samples with the same seed, in this process.
    flags = dict(max_new_tokens=8, temperature=1, top_k=0, top_p=0.95)
    [library] = sample_continuations(model, tokenizer, [PROMPT], seed=6, **flags)
    assert three_samples[1] == PROMPT + library
    both = sample_continuations(model, tokenizer, [PROMPT, PROMPT], seed=6, **flags)
    assert both == [library, three_samples[2][len(PROMPT):]]  # prompt i is drawn with seed + i


def test_explain_shows_candidates_and_redraws_the_same_sample(tiny, three_samples):
    model_dir, _, _ = tiny
    proc = run_cli("sample", "--model", model_dir, *SAMPLING, "--seed", 6, "--explain", "--explain_top_k", 3)
    assert "\033[" not in proc.stdout  # not a terminal: no colour codes
    # --seed 6 in another process draws sample 2 of `--num_samples 3 --seed 5` again, token for token
    assert re.search(r"^text: (.*)$", proc.stdout, flags=re.M).group(1) == three_samples[1]

    steps = re.split(r"^step \d+: after .*$", proc.stdout, flags=re.M)[1:]
    assert len(steps) == 8
    outside_top = 0
    for block in steps:
        rows = [m for m in map(ROW.match, block.splitlines()) if m]
        top = [m for m in rows if int(m.group(1)) <= 3]
        assert [int(m.group(1)) for m in top] == [1, 2, 3]
        assert sum(float(m.group(3)) for m in top) <= 1 + 1e-3  # p(model)
        assert sum(float(m.group(4)) for m in top) <= 1 + 1e-3  # p(sample), after temperature/top-p
        sampled = [m for m in rows if m.group(5)]
        assert len(sampled) == 1 and float(sampled[0].group(4)) > 0  # a token with p = 0 is never drawn
        outside_top += int(sampled[0].group(1)) > 3
    # A random model is nearly uniform over ~300 tokens: the draw is usually outside the top 3, and shown anyway.
    assert outside_top > 0


# --- the sampler follows a trained model ----------------------------------------------------------------

def test_greedy_recites_the_sentence_a_model_was_trained_on(trained):
    model_dir, model, tokenizer, final_loss = trained
    assert final_loss < 0.5
    prompt = "the cafe on"
    prompt_ids = tokenizer(prompt).input_ids
    rest = tokenizer(SENTENCE).input_ids[len(prompt_ids):]
    assert tokenizer.decode(prompt_ids + rest) == SENTENCE  # the prompt is a token prefix of the sentence
    assert greedy_continuation(model, tokenizer, prompt_ids, len(rest)) == rest
    assert greedy_continuation(model, tokenizer, prompt, len(rest)) == rest
    assert not model.training

    # Through the CLI, streamed: 'ï' and 'é' are two byte tokens each, printed whole; EOS ends the document.
    # --top_k 1 leaves only the likeliest token, so sampling is greedy.
    proc = run_cli("sample", "--model", model_dir, "--prompt", prompt, "--top_k", 1, "--max_new_tokens", 40)
    assert proc.stdout == SENTENCE + "\n"
    assert "end-of-text" in proc.stderr


# --- errors --------------------------------------------------------------------------------------------

def test_missing_model_dir_is_one_line_exit_2(tmp_path):
    missing = tmp_path / "no_such_model"
    proc = run_cli("sample", "--model", missing, "--prompt", "hello", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(missing) in proc.stderr
    # ... and it is found before torch and transformers are imported (~3 s)
    check = subprocess.run([sys.executable, "-c", (
        "import sys; from alignment.recipe import RecipeError; from alignment.sample import main\n"
        f"try: main(['--model', {str(missing)!r}])\n"
        "except RecipeError: pass\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")], cwd=ROOT, capture_output=True)
    assert check.returncode == 0, check.stderr

    bad = run_cli("sample", "--model", missing, "--top_p", "1.5", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--top_p" in bad.stderr
    unknown = run_cli("sample", "--model", missing, "--temprature", "0", check=False)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "--temprature" in unknown.stderr
