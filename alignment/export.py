"""`alignment export`: a model dir as one GGUF file, for llama.cpp and LM Studio.

    alignment export --model runs/tiny/tool_use --gguf tinker.gguf [--quant f16|q8_0]

What goes in (written with the `gguf` library; llama.cpp's own convert_hf_to_gguf.py is not in the wheel):
- the config as llama.cpp's `llama` architecture reads it (context length, widths, heads, RMSNorm epsilon, RoPE base);
- the weights under llama.cpp's names, Q and K permuted as its converter permutes them (transformers' GGUF loader
  undoes it), norms in f32 and matrices in f16, or q8_0 where a row is a multiple of q8_0's 32-value block (any
  other row stays f16: the tiny model's rows are 192 and 512 wide, a micro model's need not be);
- the byte-level BPE tokenizer: every token, its type (control for special tokens, user-defined for the tags such as
  <tool_call>), the merges, the pre-tokenizer's name read from the tokenizer (ours splits digits one by one before
  GPT-2's pattern, which llama.cpp calls `smollm`; GPT-2's pattern alone is `gpt-2`; any other is refused rather
  than written as something llama.cpp would split differently), the special token ids and the chat template.

The chat template: ours writes every '<' inside a message as '<' + U+FDD0 and the tokenizer's normalizer deletes the
U+FDD0, so that text typed into a message can never become a control token (alignment/chat_format.py). A GGUF has no
normalizer, so the file gets the template without that escape: in llama.cpp and LM Studio a message that contains
"<|im_end|>" is read as the control token, as with most GGUF chat models. The model dir keeps the escape.

Only Llama-architecture dirs (LlamaForCausalLM: every model the suite pretrains) are exported; any other is a
one-line error that names its architecture.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from alignment.recipe import RecipeError

QUANTS = ("f16", "q8_0")
Q8_0_BLOCK = 32  # values per q8_0 block (one f16 scale + 32 int8): a row must be a whole number of them
_ESCAPING = re.compile(r"text \| replace\('<', '<(\\ufdd0|\ufdd0)'\)")


def check_exportable(config) -> None:
    """The configs this exporter writes correctly: a plain Llama (no biases, no RoPE scaling)."""
    architectures = getattr(config, "architectures", None) or [type(config).__name__]
    if config.model_type != "llama":
        raise RecipeError(f"export: architecture {architectures[0]} (model_type {config.model_type!r}) is not "
                          "supported: the GGUF exporter writes Llama models (LlamaForCausalLM) only")
    for name in ("attention_bias", "mlp_bias"):
        if getattr(config, name, False):
            raise RecipeError(f"export: {name} is set in the config: llama.cpp's llama architecture has no biases")
    if getattr(config, "hidden_act", "silu") != "silu":
        raise RecipeError(f"export: hidden_act {config.hidden_act!r}: llama.cpp's llama architecture uses silu")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise RecipeError(f"export: RoPE type {rope['rope_type']!r} is not supported (default RoPE only)")


def gguf_chat_template(template: str | None) -> str | None:
    """The template without our message-text escape (a GGUF has no normalizer to undo it)."""
    return _ESCAPING.sub("text", template) if template else template


def _permute(weights, n_head: int):
    """Q and K rows reordered as llama.cpp's converter does (its RoPE pairs halves, HF's interleaves)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def pre_tokenizer_name(backend: dict) -> str:
    """llama.cpp's name for how the tokenizer splits text before BPE: only the byte-level ones it splits alike."""
    pre, model = backend.get("pre_tokenizer") or {}, backend["model"]
    if model["type"] != "BPE" or model.get("byte_fallback"):
        kind = model["type"] + (" with byte fallback" if model.get("byte_fallback") else "")
        raise RecipeError(f"export: the tokenizer is {kind}, not byte-level BPE (a SentencePiece-style vocabulary "
                          "is not exported)")
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    shape = [(p.get("type"), p.get("individual_digits"), p.get("use_regex")) for p in parts]
    if shape == [("Digits", True, None), ("ByteLevel", None, True)]:
        return "smollm"  # digits one by one, then GPT-2's pattern: ours, and SmolLM's
    if shape == [("ByteLevel", None, True)]:
        return "gpt-2"
    raise RecipeError(f"export: the pre-tokenizer {[p.get('type') for p in parts]} has no llama.cpp name this "
                      "exporter knows (Digits + ByteLevel, or ByteLevel alone)")


def _tokenizer_fields(tokenizer, n_vocab: int) -> tuple[list[str], list[int], list[str], str]:
    """(tokens, token types, merges, pre-tokenizer name) for tokenizer.ggml.*; embedding rows beyond the tokenizer
    are padding."""
    import gguf

    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    pre = pre_tokenizer_name(backend)
    by_id = {index: token for token, index in backend["model"]["vocab"].items()}
    added = {a["id"]: a for a in backend["added_tokens"]}
    by_id.update({index: a["content"] for index, a in added.items()})
    if max(by_id) >= n_vocab:
        raise RecipeError(f"export: the tokenizer has {max(by_id) + 1} tokens, more than the model's {n_vocab} rows")
    tokens, types = [], []
    for index in range(n_vocab):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        elif index in added:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.CONTROL if added[index]["special"] else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in backend["model"]["merges"]]
    return tokens, [int(t) for t in types], merges, pre


def export_gguf(model_dir: str, out: str | Path, quant: str = "f16") -> dict:
    """Write `out`; returns what was written ({tensors by type, path, bytes})."""
    import gguf
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if quant not in QUANTS:
        raise RecipeError(f"--quant: expected one of {', '.join(QUANTS)}, got {quant!r}")
    config = AutoConfig.from_pretrained(model_dir)
    check_exportable(config)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    state = {name: tensor.detach().float().numpy() for name, tensor in model.state_dict().items()}
    n_vocab, n_layers = state["model.embed_tokens.weight"].shape[0], config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads

    tokens, types, merges, pre = _tokenizer_fields(tokenizer, n_vocab)  # checked before a file is written
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(Path(model_dir).name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)  # llama.cpp would take hidden_size / heads otherwise
    writer.add_value_length(head_dim)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for add, token_id in ((writer.add_bos_token_id, tokenizer.bos_token_id),
                          (writer.add_eos_token_id, tokenizer.eos_token_id),
                          (writer.add_pad_token_id, tokenizer.pad_token_id)):
        if token_id is not None:
            add(token_id)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else None
    if end_of_turn is not None:
        writer.add_eot_token_id(end_of_turn)  # llama.cpp stops a chat turn there
    writer.add_add_bos_token(False)  # our template and tokenizer add none
    template = gguf_chat_template(tokenizer.chat_template)
    if template:
        writer.add_chat_template(template)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    written: dict[str, int] = {}
    tied = getattr(config, "tie_word_embeddings", False)
    for hf_name, data in state.items():
        if hf_name == "lm_head.weight" and tied:
            continue  # llama.cpp reads the output projection from token_embd when output.weight is absent
        if "rotary_emb" in hf_name:
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise RecipeError(f"export: no llama.cpp name for the tensor {hf_name}")
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, config.num_key_value_heads)
        if data.ndim == 1:
            writer.add_tensor(name, data.astype(np.float32))
            kind = "f32"
        elif quant == "q8_0" and data.shape[-1] % Q8_0_BLOCK == 0:
            writer.add_tensor(name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            kind = "q8_0"
        else:
            writer.add_tensor(name, data.astype(np.float16))
            kind = "f16"
        written[kind] = written.get(kind, 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"path": str(out), "bytes": out.stat().st_size, "tensors": written, "quant": quant,
            "vocab": n_vocab, "pre_tokenizer": pre}


def build_parser() -> argparse.ArgumentParser:
    from alignment.sample import _Parser

    parser = _Parser(prog="alignment export", description="Write a model dir as a GGUF file (llama.cpp, LM Studio).")
    parser.add_argument("--model", required=True, help="A Llama model dir of the suite.")
    parser.add_argument("--gguf", required=True, help="The file to write, e.g. tinker.gguf.")
    parser.add_argument("--quant", default="f16", choices=QUANTS,
                        help="f16, or q8_0 (rows that are no multiple of 32 stay f16).")
    return parser


def main(argv: list[str]) -> int:
    from alignment.sample import check_model_path

    args = build_parser().parse_args(argv)
    check_model_path(args.model)
    written = export_gguf(args.model, args.gguf, args.quant)
    tensors = ", ".join(f"{n} {kind}" for kind, n in sorted(written["tensors"].items()))
    print(f"export: {args.model} -> {written['path']} ({written['bytes'] / 1e6:.1f} MB, {args.quant}; "
          f"tensors: {tensors})")
    return 0
