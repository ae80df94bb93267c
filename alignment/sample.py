"""Base-model inference: sample a continuation one token at a time, and watch it happen.

    alignment sample --model DIR --prompt "The capital of France is" [--temperature 1 --top_k 50 --top_p 1]
    alignment sample --model DIR --prompt "..." --num_samples 3 --seed 0   # the same prompt, three documents
    alignment sample --model DIR --prompt "..." --explain                  # the candidates at every step

A base model does not answer: it predicts a probability for every token of its vocabulary as the
next one. Inference turns that into text by drawing one token from those probabilities, appending
it, and asking again ("Deep Dive into LLMs like ChatGPT": the base model is a stochastic internet
document simulator). The loop below is written out by hand, rather than calling `model.generate`,
because that loop *is* the thing to see: temperature, top-k and top-p only reshape one probability
vector per step, and a seeded generator makes the dice reproducible.

Reusable pieces for the other stages:
- `sample_continuations(model, tokenizer, prompts, ...)`: sampled continuations (pretrain logs them);
- `greedy_continuation(model, tokenizer, input_ids, n_tokens)`: the most likely next n tokens
  (pretrain's regurgitation test: does the model reproduce a training document word for word?);
- `next_token_distribution(logits, temperature, top_k, top_p)` and `generate_steps(...)`: the loop itself.

torch and transformers are imported inside the functions: they take ~3 s to import, and
`alignment sample --help` or a mistyped path should answer at once.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from alignment.chat_setup import stop_token_ids
from alignment.recipe import RecipeError

if TYPE_CHECKING:
    import torch


# ---------------------------------------------------------------------------------------------
# One step: logits -> probabilities -> one token
# ---------------------------------------------------------------------------------------------

def next_token_distribution(logits: "torch.Tensor", temperature: float = 1.0, top_k: int = 0,
                            top_p: float = 1.0) -> "torch.Tensor":
    """The probabilities the next token is drawn from, given the model's logits for it (shape [vocab]).

    Applied in transformers' order: temperature, then top-k, then top-p.
    - temperature divides the logits: < 1 sharpens the distribution towards the likeliest tokens,
      > 1 flattens it; 0 means greedy, all the probability on the argmax.
    - top_k keeps the k likeliest tokens (0: all of them).
    - top_p (nucleus) keeps the smallest set of likeliest tokens whose probability adds up to top_p
      (1.0: all of them): a long tail of individually unlikely tokens is cut, however wide it is.
    What is cut gets probability 0 and the rest is renormalised.
    """
    import torch

    logits = logits.float()  # bf16 logits would make near-ties and the cumulative sum coarse
    if temperature <= 0:
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0  # argmax takes the first of equal maxima, as generate() does
        return probs
    logits = logits / temperature
    if top_k and top_k < logits.numel():
        kth_best = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth_best, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # A token is cut when the tokens before it already reach top_p: the likeliest one is always kept.
        cut_sorted = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= top_p
        cut = torch.zeros_like(cut_sorted).scatter(0, order, cut_sorted)
        probs = probs.masked_fill(cut, 0.0)
        probs = probs / probs.sum()
    return probs


@dataclass
class Step:
    """One generated token, with what it was chosen from (for --explain)."""
    token_id: int
    logits: "torch.Tensor"  # the model's raw logits for this position, [vocab]
    probs: "torch.Tensor"  # the distribution actually sampled from (after temperature/top-k/top-p)


def generate_steps(model, input_ids: "torch.Tensor", *, max_new_tokens: int, temperature: float = 1.0,
                   top_k: int = 0, top_p: float = 1.0, generator: "torch.Generator | None" = None,
                   stop_ids: set[int] | frozenset[int] = frozenset()) -> Iterator[Step]:
    """Yield one Step per new token: forward, pick, append, repeat; stop at a stop token or max_new_tokens.

    `input_ids` is one unpadded sequence, shape [1, T]. The first forward reads the whole prompt; after
    that the KV cache (past_key_values) holds the keys and values of every earlier position, so each
    step feeds in only the one new token: the cost per step stays flat instead of growing with the text.
    """
    import torch

    context = getattr(model.config, "max_position_embeddings", None)  # positions beyond it were never trained
    length = input_ids.shape[1]
    feed, past = input_ids, None
    with torch.no_grad():
        for _ in range(max_new_tokens):
            if context is not None and length >= context:
                return
            out = model(input_ids=feed, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1]  # only the last position predicts the token that comes next
            probs = next_token_distribution(logits, temperature, top_k, top_p)
            if temperature <= 0:
                token = int(probs.argmax())
            else:
                token = int(torch.multinomial(probs, 1, generator=generator))
            yield Step(token, logits.float(), probs)
            if token in stop_ids:
                return
            feed = torch.tensor([[token]], device=input_ids.device)
            length += 1


def encode_prompt(tokenizer, prompt: str, device) -> "torch.Tensor":
    """The prompt as [1, T] ids. An empty prompt starts from BOS (or EOS: "a new document begins here")."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt").input_ids if prompt else torch.zeros((1, 0), dtype=torch.long)
    if ids.shape[1] == 0:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if start is None:
            raise RecipeError("--prompt: empty, and the tokenizer has no BOS or EOS token to start a document from")
        ids = torch.tensor([[start]])
    return ids.to(device)


def _device_of(model):
    import torch

    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _seeded_generator(seed: int, device) -> "torch.Generator":
    import torch

    generator = torch.Generator(device=device)  # multinomial wants the generator on the probabilities' device
    generator.manual_seed(seed)
    return generator


# ---------------------------------------------------------------------------------------------
# Reusable helpers for the training stages
# ---------------------------------------------------------------------------------------------

def sample_continuations(model, tokenizer, prompts: list[str], max_new_tokens: int = 48, temperature: float = 1.0,
                         top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """One sampled continuation per prompt (the prompt itself not included), e.g. to log during training.

    Prompt i is sampled with seed + i, so a logged line can be reproduced alone with
    `alignment sample --prompt ... --seed <seed + i>`. The model's train/eval mode is restored afterwards.
    Pass the unwrapped model (not a DDP wrapper) so that generation config and parameters are reachable.
    """
    was_training = model.training
    model.eval()  # dropout off: sampling noise should come from the sampler only
    device = _device_of(model)
    stops = stop_token_ids(model, tokenizer)
    texts = []
    try:
        for i, prompt in enumerate(prompts):
            input_ids = encode_prompt(tokenizer, prompt, device)
            new = [s.token_id for s in generate_steps(
                model, input_ids, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                generator=_seeded_generator(seed + i, device), stop_ids=stops)]
            texts.append(continuation_text(tokenizer, input_ids[0].tolist(), new))
    finally:
        model.train(was_training)
    return texts


def greedy_continuation(model, tokenizer, input_ids, n_tokens: int) -> list[int]:
    """The n likeliest next tokens, one argmax at a time, as ids (EOS does not stop it; only a full context does).

    `input_ids` is a list of ids, a 1-D or [1, T] tensor, or a string (encoded with `tokenizer`). For a
    regurgitation test, compare the result with the document's own next n tokens.
    """
    import torch

    was_training = model.training
    model.eval()
    device = _device_of(model)
    if isinstance(input_ids, str):
        ids = encode_prompt(tokenizer, input_ids, device)
    else:
        ids = torch.as_tensor(input_ids, dtype=torch.long, device=device).reshape(1, -1)
    try:
        return [s.token_id for s in generate_steps(model, ids, max_new_tokens=n_tokens, temperature=0.0)]
    finally:
        model.train(was_training)


def continuation_text(tokenizer, prompt_ids: list[int], new_ids: list[int]) -> str:
    """The text the new tokens add after the prompt.

    Decoded together with the prompt, then the prompt's own text cut off: decoding the new ids alone
    would lose what depends on the left context (SentencePiece drops a leading space on the first piece).
    """
    prompt_text = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    full = tokenizer.decode(prompt_ids + new_ids, skip_special_tokens=True)
    if full.startswith(prompt_text):
        return full[len(prompt_text):]
    return tokenizer.decode(new_ids, skip_special_tokens=True)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # the project's contract: one line on stderr, exit 2 (cli.py prints it)
        raise RecipeError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="alignment sample", description="Sample a continuation from a base model, one token at a time.")
    p.add_argument("--model", required=True,
                   help="A model dir (save_pretrained) or a Hub id; the tokenizer is loaded from the same place.")
    p.add_argument("--prompt", default="",
                   help="The start of the document to continue ('' starts a new document from BOS/EOS).")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="Divides the logits: <1 sharper, >1 flatter, 0 greedy (argmax).")
    p.add_argument("--top_k", type=int, default=50,
                   help="Sample among the k likeliest tokens only (0: all). 50, as transformers' generate().")
    p.add_argument("--top_p", type=float, default=1.0,
                   help="Nucleus: the likeliest tokens whose probability adds up to p (1.0: all).")
    p.add_argument("--max_new_tokens", type=int, default=64, help="Stop after this many tokens (or at end-of-text).")
    p.add_argument("--num_samples", type=int, default=1,
                   help="Independent continuations of the same prompt (sample i uses seed + i).")
    p.add_argument("--seed", type=int, default=None,
                   help="Makes the draws reproducible; default: a random seed, reported on stderr.")
    p.add_argument("--explain", action="store_true",
                   help="At each step, show the top candidates with their probabilities and which one was sampled.")
    p.add_argument("--explain_top_k", type=int, default=5, help="Candidates shown per step with --explain.")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:1, mps ...")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="Weights' dtype; auto: the one saved in the model's config.")
    return p


def check_sampling_args(args) -> None:
    """--temperature, --top_k, --top_p and --max_new_tokens (shared with `alignment chat`)."""
    if args.temperature < 0:
        raise RecipeError(f"--temperature: expected >= 0, got {args.temperature}")
    if args.top_k < 0:
        raise RecipeError(f"--top_k: expected >= 0 (0 switches it off), got {args.top_k}")
    if not 0 < args.top_p <= 1:
        raise RecipeError(f"--top_p: expected a number in (0, 1], got {args.top_p}")
    if args.max_new_tokens < 0:
        raise RecipeError(f"--max_new_tokens: expected >= 0, got {args.max_new_tokens}")


def _check_args(args) -> None:
    check_sampling_args(args)
    if args.num_samples < 1:
        raise RecipeError(f"--num_samples: expected >= 1, got {args.num_samples}")
    if args.explain_top_k < 1:
        raise RecipeError(f"--explain_top_k: expected >= 1, got {args.explain_top_k}")
    check_model_path(args.model)


def check_model_path(model: str) -> None:
    """A --model path that is not there fails here, before ~3 s of torch/transformers imports. Anything that
    does not look like a path ('org/name', 'name') is left to from_pretrained as a Hub id."""
    path = Path(model).expanduser()
    looks_like_path = (model.startswith(("/", ".", "~")) or model.endswith("/") or "\\" in model
                       or model.count("/") > 1 or (len(path.parts) > 1 and path.parent.is_dir()))
    if path.exists():
        if not path.is_dir():
            raise RecipeError(f"--model: {model} is a file, not a model directory")
        if not (path / "config.json").is_file():
            raise RecipeError(f"--model: {model} is not a model directory (no config.json)")
    elif looks_like_path:
        raise RecipeError(f"--model: model directory not found: {model}")


def load_model(name: str, device: str = "auto", dtype: str = "auto"):
    """Model and tokenizer, the same `from_pretrained` calls for a local dir and a Hub id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # a "Loading weights" bar on stderr would only interleave with the stream
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype if dtype == "auto" else getattr(torch, dtype))
    except (OSError, ValueError) as e:  # not found on disk or on the Hub, offline, no tokenizer files...
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RecipeError(f"--model: cannot load '{name}': {first_line}") from None
    return model.to(device).eval(), tokenizer


class _Style:
    """ANSI styling on a terminal only: piped output (files, tests, `less`) gets plain text."""

    def __init__(self, stream):
        self.on = stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self(text, "1")

    def dim(self, text: str) -> str:
        return self(text, "2")

    def green(self, text: str) -> str:
        return self(text, "1;32")


def _byte_level_chars() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable stand-in character of each of the 256 bytes -> the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + i): b for i, b in enumerate(others)}}


def token_repr(tokenizer, token_id: int) -> str:
    """How a single token reads: its text, quoted so that spaces and newlines show. A token that is only
    part of a multi-byte character (byte-level BPE splits 'é' over two tokens) shows its bytes: b'\\xc3'."""
    text = tokenizer.decode([token_id], skip_special_tokens=False)
    if text and "\ufffd" not in text:
        return repr(text)
    piece = tokenizer.convert_ids_to_tokens(token_id)  # e.g. 'Ã' (byte-level) or '<0xC3>' (SentencePiece)
    table = _byte_level_chars()
    if piece and all(ch in table for ch in piece):
        return repr(bytes(table[ch] for ch in piece))
    return repr(piece)


def explain_table(tokenizer, step: Step, top: int, style: _Style) -> list[str]:
    """The top candidates of one step: rank, token, the model's probability, the probability it was
    sampled with (after temperature/top-k/top-p), and a mark on the one drawn, even outside the top."""
    import torch

    model_probs = torch.softmax(step.logits, dim=-1)
    order = torch.argsort(step.logits, descending=True)  # the filters keep this order, so ranks agree
    rank_of_sampled = int((order == step.token_id).nonzero()[0, 0]) + 1
    rows = [f"    {'rank':>5}  {'token':<20} {'p(model)':>9} {'p(sample)':>9}"]
    candidates = [(rank, int(token)) for rank, token in enumerate(order[:top].tolist(), start=1)]
    if rank_of_sampled > top:
        candidates.append((rank_of_sampled, step.token_id))
    for rank, token in candidates:
        if rank > top + 1:
            rows.append(f"    {'...':>5}")
        line = (f"    {rank:>5}  {token_repr(tokenizer, token):<20} "
                f"{float(model_probs[token]):>9.4f} {float(step.probs[token]):>9.4f}")
        rows.append(style.green(line + "  <- sampled") if token == step.token_id else line)
    return rows


def _describe_sampler(args) -> str:
    if args.temperature <= 0:
        return "greedy (temperature 0): the likeliest token is always taken"
    parts = [f"temperature {args.temperature:g}"]
    parts.append(f"top_k {args.top_k}" if args.top_k else "no top_k")
    parts.append(f"top_p {args.top_p:g}" if args.top_p < 1 else "no top_p")
    return "sampling: " + ", ".join(parts)


def run_sample(args) -> None:
    model, tokenizer = load_model(args.model, args.device, args.dtype)
    device = _device_of(model)
    input_ids = encode_prompt(tokenizer, args.prompt, device)
    context = getattr(model.config, "max_position_embeddings", None)
    if context is not None and input_ids.shape[1] >= context:
        raise RecipeError(f"--prompt: {input_ids.shape[1]} tokens, the model's context is {context}")
    prompt_ids = input_ids[0].tolist()
    stops = stop_token_ids(model, tokenizer)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    out, style = sys.stdout, _Style(sys.stdout)
    if args.explain:
        print(style.dim(_describe_sampler(args)), file=out)

    for i in range(args.num_samples):
        sample_seed = seed + i
        if args.num_samples > 1:
            header = f"--- sample {i + 1}/{args.num_samples} (seed {sample_seed}) ---"
            print(("\n" if i else "") + style.bold(header), file=out)
        generator = _seeded_generator(sample_seed, device)
        new_ids: list[int] = []
        printed = ""  # the continuation text already on screen
        if not args.explain:
            out.write(args.prompt)
            out.flush()
        started = time.perf_counter()
        stopped_at_eos = False
        for n, step in enumerate(generate_steps(model, input_ids, max_new_tokens=args.max_new_tokens,
                                                temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                                generator=generator, stop_ids=stops), start=1):
            new_ids.append(step.token_id)
            stopped_at_eos = step.token_id in stops
            if args.explain:
                so_far = args.prompt + continuation_text(tokenizer, prompt_ids, new_ids[:-1])
                tail = so_far[-60:]
                print(f"\nstep {n}: after {('...' if len(so_far) > 60 else '') + repr(tail)}", file=out)
                print("\n".join(explain_table(tokenizer, step, args.explain_top_k, style)), file=out)
                continue
            # Decode the whole continuation and print what is new: one token can be half a character
            # (byte-level BPE), so a trailing U+FFFD means "wait for the next token to finish it".
            text = continuation_text(tokenizer, prompt_ids, new_ids)
            if text.endswith("\ufffd"):
                continue
            out.write(style.green(text[len(printed):]))
            out.flush()
            printed = text
        elapsed = time.perf_counter() - started
        text = continuation_text(tokenizer, prompt_ids, new_ids)
        if args.explain:
            print(f"\n{style.bold('text:')} {args.prompt}{style.green(text)}", file=out)
        else:
            out.write(style.green(text[len(printed):]) + "\n")
        out.flush()
        why = "end-of-text token sampled" if stopped_at_eos else f"max_new_tokens={args.max_new_tokens}"
        if not stopped_at_eos and context is not None and input_ids.shape[1] + len(new_ids) >= context:
            why = f"context of {context} tokens full"
        speed = f", {len(new_ids) / elapsed:.1f} tokens/s" if elapsed > 0 and new_ids else ""
        print(f"[{len(new_ids)} tokens{speed}, seed {sample_seed}; stopped: {why}]", file=sys.stderr)
        sys.stderr.flush()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)  # --help prints and exits 0 here; bad flags raise RecipeError
    _check_args(args)
    try:
        run_sample(args)
    except KeyboardInterrupt:  # Ctrl-C while a long sample streams: stop quietly, as `head` would
        print(file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RecipeError as e:
        print(f"alignment sample: error: {e}", file=sys.stderr)
        sys.exit(2)
