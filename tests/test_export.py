"""`alignment export`: a model dir as a GGUF that transformers loads back (`gguf_file=`) with the same chat prompt ids
and the same greedy continuation; q8_0 where rows allow it and f16 where they do not; the template without the
message-text escape; an architecture the exporter does not handle is a one-line error. The tiny assistant's own
export is in tests/test_tiny_pipeline.py."""

from __future__ import annotations

import pytest

from alignment.export import export_gguf, gguf_chat_template
from alignment.recipe import RecipeError
from tests.conftest import run_cli
from tests.test_sft import micro_base  # noqa: F401  (a fixture: a chat-ready micro Llama with our tokenizer)

gguf = pytest.importorskip("gguf")

# numbers of several digits after spaces: where llama.cpp's `smollm` and `gpt-2` pre-tokenizers split differently
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Where was Ivand Tobmere born? And what is 347 x 589,  or 12?"}]


def loaded_back(path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    return model, tokenizer


def greedy(model, ids, stops, n=24):
    import torch

    x = torch.tensor([ids])
    with torch.no_grad():
        return model.generate(x, max_new_tokens=n, do_sample=False, eos_token_id=stops)[0, len(ids):].tolist()


def trained_like(micro_base, tmp_path, **config):
    """The micro base with weights of a scale training leaves (random init's near-equal logits would make greedy
    a coin toss under f16 rounding), optionally reshaped by `config`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    base = LlamaConfig.from_pretrained(micro_base)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**{**base.to_dict(), **config, "initializer_range": 0.3}))
    out = tmp_path / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("kv_heads", [2, 1])  # 1: grouped-query attention, K permuted by its own head count
def test_an_f16_gguf_loads_back_with_the_same_prompt_and_greedy_reply(micro_base, tmp_path, kv_heads):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = trained_like(micro_base, tmp_path, num_key_value_heads=kv_heads)
    proc = run_cli("export", "--model", model_dir, "--gguf", tmp_path / "micro.gguf")
    assert "micro.gguf" in proc.stdout and "f16" in proc.stdout
    original = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model, gguf_tokenizer = loaded_back(tmp_path / "micro.gguf")
    ids = list(tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=False))
    assert list(gguf_tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True,
                                                   return_dict=False)) == ids
    stops = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert greedy(model, ids, stops) == greedy(original, ids, stops)
    with torch.no_grad():  # the weights themselves, f16-close (a wrong Q/K permutation is off by whole units)
        expected = original(torch.tensor([ids])).logits
        assert (model(torch.tensor([ids])).logits - expected).abs().max() < 0.02 * expected.abs().max()
    # special tokens survive as single tokens, and the tags stay whole
    for text in ("<|im_start|>", "<|im_end|>", "<tool_call>", "</think>"):
        assert gguf_tokenizer.encode(text, add_special_tokens=False) == tokenizer.encode(text, add_special_tokens=False)


def test_q8_0_where_rows_are_whole_blocks_and_f16_elsewhere(micro_base, tmp_path):
    model_dir = trained_like(micro_base, tmp_path, intermediate_size=48)  # down_proj rows of 48: no whole 32-block
    written = export_gguf(str(model_dir), tmp_path / "micro-q8.gguf", quant="q8_0")
    reader = gguf.GGUFReader(str(tmp_path / "micro-q8.gguf"))
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.ffn_down.weight"] == "F16" and types["blk.0.ffn_up.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.0.attn_norm.weight"] == "F32"
    assert "output.weight" not in types  # tied embeddings: llama.cpp reads token_embd
    assert written["tensors"]["f16"] == 2 and written["tensors"]["q8_0"] > 0
    fields = {name: reader.fields[name] for name in ("tokenizer.ggml.model", "tokenizer.ggml.pre")}
    assert [bytes(f.parts[f.data[0]]).decode() for f in fields.values()] == ["gpt2", "smollm"]
    model, _ = loaded_back(tmp_path / "micro-q8.gguf")  # transformers dequantizes it
    assert model.config.intermediate_size == 48


def test_the_gguf_template_drops_the_message_escape_that_the_dir_keeps(micro_base, tmp_path):
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(micro_base).chat_template
    assert "ufdd0" in template  # the dir: '<' in a message is escaped, never a control token
    exported = gguf_chat_template(template)
    assert "ufdd0" not in exported and "\ufdd0" not in exported and exported.count("escape_text") >= 2


def test_an_architecture_it_does_not_handle_is_a_one_line_error(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=32, bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(RecipeError, match="architecture GPT2LMHeadModel .* is not supported"):
        export_gguf(str(tmp_path / "gpt2"), tmp_path / "x.gguf")
    proc = run_cli("export", "--model", tmp_path / "gpt2", "--gguf", tmp_path / "x.gguf", check=False)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "GPT2LMHeadModel" in proc.stderr and not (tmp_path / "x.gguf").exists()


def test_a_tokenizer_llama_cpp_would_split_differently_is_refused(micro_base, tmp_path):
    import json

    from alignment.export import pre_tokenizer_name
    from transformers import AutoTokenizer

    backend = json.loads(AutoTokenizer.from_pretrained(micro_base).backend_tokenizer.to_str())
    assert pre_tokenizer_name(backend) == "smollm"
    assert pre_tokenizer_name({**backend, "pre_tokenizer": backend["pre_tokenizer"]["pretokenizers"][1]}) == "gpt-2"
    with pytest.raises(RecipeError, match="pre-tokenizer .*Metaspace"):
        pre_tokenizer_name({**backend, "pre_tokenizer": {"type": "Metaspace"}})
    with pytest.raises(RecipeError, match="BPE with byte fallback, not byte-level BPE"):
        pre_tokenizer_name({**backend, "model": {**backend["model"], "byte_fallback": True}})
    model_dir = trained_like(micro_base, tmp_path, hidden_act="gelu")
    with pytest.raises(RecipeError, match="hidden_act 'gelu'"):
        export_gguf(str(model_dir), tmp_path / "gelu.gguf")


def test_llama_cpp_reads_the_file_with_the_same_tokens_and_greedy_reply(micro_base, tmp_path):
    """Where llama-cpp-python is installed (an optional extra, built from source: README): llama.cpp itself loads
    the file, tokenizes the rendered chat prompt as our tokenizer does, and picks the same greedy tokens."""
    llama_cpp = pytest.importorskip("llama_cpp")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = trained_like(micro_base, tmp_path)
    export_gguf(str(model_dir), tmp_path / "micro.gguf")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    original = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    ids = tokenizer.encode(text, add_special_tokens=False)
    llm = llama_cpp.Llama(model_path=str(tmp_path / "micro.gguf"), n_ctx=256, n_threads=2, verbose=False)
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids
    stops = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    expected = greedy(original, ids, stops, n=16)
    got = []
    for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
        if token in stops or len(got) == len(expected):
            break
        got.append(token)
    assert got == [t for t in expected if t not in stops]
