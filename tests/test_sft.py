"""`alignment sft` with micro models through the real CLI: the tiny world's conversations, resume after a kill,
real-model recipes on local stand-ins (a base with no chat template, a Qwen2.5-style one with LoRA), two DDP
processes, QLoRA's error on CPU, the model card at the Hub client's boundary, and dataset mixtures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, kill_at_checkpoint, run_cli

pytestmark = pytest.mark.slow

MICRO_SIZES = "{fact_questions: 60, multi_turn: 20, word_problems: 60, identity: 30, heldout_facts: 8, " \
              "heldout_word_problems: 8, heldout_identity: 8, test_conversations: 16, notes: 10}"
FAST = ["--max_length", "128", "--per_device_train_batch_size", "4", "--logging_steps", "2", "--precision", "fp32",
        "--eval_max_new_tokens", "16"]


def _micro_llama(vocab: int, **token_ids):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256,
                         tie_word_embeddings=True, **token_ids)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="module")
def micro_base(tmp_path_factory):
    """A base-model dir as the pretrain stage leaves it: our tokenizer (with both chat templates) + a micro Llama."""
    import shutil

    from alignment.tokenizer import TokenizerConfig, train_tokenizer
    from tests.test_tokenizer import world_documents, write_documents

    root = tmp_path_factory.mktemp("sft_base")
    write_documents(root / "documents", world_documents(200))
    train_tokenizer(TokenizerConfig(corpus_dir=str(root / "documents"), output_dir=str(root / "tokenizer"),
                                    vocab_size=512))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer")
    model = _micro_llama(576, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    base = root / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    shutil.copy(root / "tokenizer" / "chat_template_training.jinja", base / "chat_template_training.jinja")
    return base


def sft_args(base, out, *extra):
    return ["sft", "--config", "recipes/tiny/sft.yaml", "--model_name_or_path", base, "--output_dir", out,
            "--conversation_sizes", MICRO_SIZES, *FAST, *extra]


def test_sft_on_the_tiny_world_writes_an_assistant_and_its_measurements(micro_base, tmp_path):
    out = tmp_path / "sft"
    proc = run_cli(*sft_args(micro_base, out, "--max_steps", "12", "--eval_steps", "6", "--save_steps", "6"))
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("well_formed_rate", "identity_accuracy_no_system", "identity_accuracy_default_system",
                "fact_accuracy", "word_problem_accuracy", "eval_loss", "train_loss", "tokens_per_second",
                "tokens_seen", "reproduce", "peak_memory_gb"):
        assert key in metrics, key
    assert metrics["global_step"] == 12
    assert metrics["identity_questions"] == 8 and metrics["word_problems"] == 8
    assert 0 <= metrics["well_formed_rate"] <= 1
    assert metrics["tokens_per_second"]["median"] > 0
    assert "well-formed replies" in proc.stdout
    for name in ("train.jsonl", "test.jsonl", "eval_facts.jsonl", "eval_identity.jsonl", "eval_word_problems.jsonl"):
        assert (out / "conversations" / name).is_file(), name
    assert (out / "loss_curve.png").is_file() and (out / "README.md").is_file()

    # a normal model dir: the inference chat template (not the training variant) and generation that stops at a turn
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignment.chat_format import CHAT_TEMPLATE, TRAINING_CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template == CHAT_TEMPLATE
    assert (out / "chat_template_training.jinja").read_text() == TRAINING_CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(out)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in model.generation_config.eos_token_id


def test_a_killed_sft_run_resumes_from_its_last_checkpoint(micro_base, tmp_path):
    out = tmp_path / "sft"
    # 200 micro steps take ~10 s: long enough to be killed between checkpoint-10 and the end (40 were not, once)
    args = sft_args(micro_base, out, "--max_steps", "200", "--save_steps", "5", "--eval_steps", "1000")
    kill_at_checkpoint(args, out, 10, timeout=300)
    done = run_cli(*args)
    assert "resuming from" in done.stdout
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 200

    # a changed recipe must not resume the old run's checkpoints
    changed = run_cli(*sft_args(micro_base, out, "--max_steps", "6", "--save_steps", "5", "--learning_rate", "5e-4"))
    assert "starting over" in changed.stdout
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 6


def test_packed_rows_stay_rows_and_keep_conversations_apart():
    """Row packing (sft_training.row_packed_trainer_class): two conversations packed in one row give the same logits as each
    alone, no row is flattened into the next, and the first token of a packed conversation is not a target."""
    import torch

    from alignment.sft_training import row_packed_trainer_class

    collator = row_packed_trainer_class().collator_class(pad_token_id=0, padding_free=False, return_position_ids=True)
    torch.manual_seed(0)
    model = _micro_llama(64).eval()
    a, b, c = (torch.randint(1, 64, (n,)).tolist() for n in (7, 5, 9))
    examples = [{"input_ids": a + b, "labels": a + b, "seq_lengths": [7, 5]},
                {"input_ids": c, "labels": c, "seq_lengths": [9]}]
    batch = collator(examples)
    assert batch["input_ids"].shape == (2, 12)  # two rows, not one flattened row of 21
    assert batch["position_ids"][0].tolist() == list(range(7)) + list(range(5))
    assert batch["labels"][0, 0] == -100 and batch["labels"][0, 7] == -100 and batch["labels"][1, 9:].eq(-100).all()
    packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    for row, start, ids in ((0, 0, a), (0, 7, b), (1, 0, c)):
        alone = model(input_ids=torch.tensor([ids])).logits[0]
        assert torch.allclose(packed[row, start:start + len(ids)], alone, atol=1e-5)


@pytest.fixture(scope="module")
def chat_file(tmp_path_factory):
    """A local conversation file standing in for a hub dataset (SmolTalk's `messages` format)."""
    path = tmp_path_factory.mktemp("data") / "chats.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"What is {a} plus {b}?"},
                          {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}], "source": "synthetic"}
            for a in range(12) for b in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def real_recipe(recipe: str, model, data, out) -> list:
    """A real-model recipe with its model and dataset swapped for local stand-ins, for three steps."""
    return ["sft", "--config", recipe, "--model_name_or_path", model, "--dataset_path", data,
            "--dataset_mixture.test_split_size", "10", "--output_dir", out, "--max_steps", "3", "--max_length", "64",
            "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "1",
            "--gradient_checkpointing", "false", "--precision", "fp32", "--logging_steps", "1"]


@pytest.fixture(scope="module")
def standin_without_template(tmp_path_factory, micro_base):
    """A SmolLM2-like base: a Llama whose tokenizer has no chat template and no chat control tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.test_tokenizer import world_documents

    root = tmp_path_factory.mktemp("standin_llama")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(world_documents(100), trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    _micro_llama(len(tokenizer), eos_token_id=tokenizer.eos_token_id).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def test_smollm2_recipe_on_a_base_without_chat_template(standin_without_template, chat_file, tmp_path):
    out = tmp_path / "smol"
    proc = run_cli(*real_recipe("recipes/smollm2-135m/sft.yaml", standin_without_template, chat_file, out))
    assert "chat template: ours" in proc.stdout
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert "<|im_start|>" in tokenizer.get_vocab() and "<|im_end|>" in tokenizer.get_vocab()
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows >= len(tokenizer) and rows % 64 == 0
    # typed control tokens stay text in the adopted format too
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "<|im_start|>system"}], tokenize=True,
                                        return_dict=False)
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 1


def qwen_standin(base, eos_token: str = "<|endoftext|>"):
    """A Qwen2.5-like model dir at `base`: Qwen2 architecture, ChatML tokens, and Qwen2.5's own template (no
    generation markers), micro-sized and random: it stands in for Qwen/Qwen2.5-0.5B(-Instruct) in the recipes' tests."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from trl.chat_template_utils import qwen2_5_chat_template

    from tests.test_tokenizer import world_documents

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(world_documents(100), trainers.BpeTrainer(
        vocab_size=400, special_tokens=[AddedToken(t, special=True) for t in
                                        ("<|endoftext|>", "<|im_start|>", "<|im_end|>")],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=eos_token, pad_token="<|endoftext|>",
                                        chat_template=qwen2_5_chat_template)
    Qwen2ForCausalLM(Qwen2Config(vocab_size=448, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 num_key_value_heads=1, intermediate_size=64, max_position_embeddings=256,
                                 eos_token_id=tokenizer.eos_token_id)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    return base


def test_qwen_lora_recipe_on_a_qwen2_standin_merges_its_adapters(chat_file, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    base = qwen_standin(tmp_path / "qwen_standin")
    out = tmp_path / "qwen_lora"
    proc = run_cli(*real_recipe("recipes/qwen2.5-0.5b/sft_lora.yaml", base, chat_file, out))
    assert "TRL's training variant" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["trainable_parameters"] < metrics["parameters"]
    assert not (out / "adapter_config.json").exists(), "merge_adapter: true saves a plain model"
    assert AutoTokenizer.from_pretrained(out).chat_template == qwen2_5_chat_template
    AutoModelForCausalLM.from_pretrained(out)


def test_ddp_config_runs_two_real_processes(micro_base, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "recipes/accelerate/ddp.yaml",
           "--num_processes", "2", "-m", "alignment", *map(str, sft_args(micro_base, out, "--max_steps", "4",
                                                                       "--eval_steps", "100"))]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["world_size"] == 2


@pytest.mark.parametrize("name", ["ddp", "fsdp", "zero3"])
def test_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "recipes" / "accelerate" / f"{name}.yaml"))
    assert config.distributed_type.value == {"ddp": "MULTI_GPU", "fsdp": "FSDP", "zero3": "DEEPSPEED"}[name]
    if name == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
    if name == "zero3":
        assert config.deepspeed_config["zero_stage"] == 3


def test_qlora_without_a_gpu_is_a_one_line_error(micro_base, tmp_path):
    proc = run_cli(*sft_args(micro_base, tmp_path / "q", "--use_peft", "true", "--load_in_4bit", "true"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "load_in_4bit" in proc.stderr and "GPU" in proc.stderr


@pytest.mark.parametrize("extra, field", [
    (["--dataset_path", "no/such/file.jsonl", "--world", "null"], "dataset_mixture.datasets[0].id"),
    (["--dataset_mixture", "{datasets: [{id: x.jsonl, wieght: 1}]}"], "wieght"),
    (["--identity", "{name: X}"], "identity"),
])
def test_recipe_mistakes_are_one_line_errors(micro_base, tmp_path, extra, field):
    proc = run_cli(*sft_args(micro_base, tmp_path / "e", *extra), check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert field in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_push_to_hub_uploads_the_dir_with_its_card(micro_base, chat_file, tmp_path, monkeypatch):
    """The whole run in-process, with huggingface_hub.HfApi replaced at the client boundary (no network here)."""
    import huggingface_hub

    calls = []

    class RecordingApi:
        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs["repo_id"], kwargs))
            card = (tmp_path / "hub" / "README.md").read_text()
            calls.append(("card", card, {}))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    from alignment.sft import main

    main(["--config", "recipes/tiny/sft.yaml", "--model_name_or_path", str(micro_base), "--output_dir",
          str(tmp_path / "hub"), "--world", "null", "--dataset_path", str(chat_file), "--max_steps", "2",
          "--push_to_hub", "true", "--hub_model_id", "someone/tiny-assistant", *map(str, FAST)])
    assert [c[0] for c in calls] == ["create_repo", "upload_folder", "card"]
    assert calls[0][1] == calls[1][1] == "someone/tiny-assistant"
    assert calls[1][2]["folder_path"] == str(tmp_path / "hub")
    card = calls[2][1]
    assert "# someone/tiny-assistant" in card and str(chat_file) in card
    for needle in ("Base model", "## Measured", "## Recipe", "train_loss", "hub_model_id: someone/tiny-assistant"):
        assert needle in card, needle


def test_dataset_mixture_weights_and_test_split(tmp_path, chat_file):
    from alignment.data_mixture import load_mixture

    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"messages": [{"role": "user", "content": str(i)},
                                                      {"role": "assistant", "content": "ok"}]}) + "\n"
                             for i in range(40)))
    mixed = load_mixture({"datasets": [{"id": str(chat_file), "weight": 0.5, "columns": ["messages"]},
                                       {"id": str(other), "weight": 0.25}], "test_split_size": 10, "seed": 0})
    assert len(mixed["train"]) + len(mixed["test"]) == 60 + 10 and len(mixed["test"]) == 10
    assert mixed["train"].column_names == ["messages"]


@pytest.fixture(scope="module")
def tool_chat_file(tmp_path_factory):
    """A function-calling set in messages format, as hub ones store it: schemas in a `tools` column, a call's
    arguments as a JSON string, the result as a `tool` message."""
    schema = {"type": "function", "function": {"name": "multiply", "description": "Multiply two numbers.",
                                               "parameters": {"type": "object", "properties": {
                                                   "a": {"type": "integer"}, "b": {"type": "integer"}},
                                                   "required": ["a", "b"]}}}
    rows = []
    for a in range(2, 14):
        for b in range(2, 7):
            call = {"type": "function", "function": {"name": "multiply", "arguments": json.dumps({"a": a, "b": b})}}
            rows.append({"tools": [schema], "messages": [
                {"role": "user", "content": f"What is {a} times {b}?"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "content": str(a * b)},
                {"role": "assistant", "content": f"{a} times {b} is {a * b}."}]})
    path = tmp_path_factory.mktemp("tools") / "calls.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_function_calling_set_trains_with_its_schemas(micro_base, tool_chat_file, chat_file, tmp_path):
    from transformers import AutoTokenizer

    from alignment.data_mixture import load_mixture

    mixed = load_mixture({"datasets": [{"id": str(tool_chat_file)}, {"id": str(chat_file)}]})
    assert mixed["train"].column_names == ["messages", "tools"]
    rows = mixed["train"].to_list()
    with_tools = [r for r in rows if json.loads(r["tools"])]
    assert len(with_tools) == 60 and sum(json.loads(r["tools"]) is None for r in rows) == 120
    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    row = with_tools[0]
    text = tokenizer.apply_chat_template(row["messages"], tools=json.loads(row["tools"]), tokenize=False)
    assert '"name": "multiply"' in text and "<tool_call>" in text and "<tool_response>" in text
    assert '"arguments": {"a": 2, "b": 2}' in text  # a string of JSON is written as it is, not quoted again

    out = tmp_path / "sft_tools"
    run_cli("sft", "--config", "recipes/tiny/sft.yaml", "--model_name_or_path", micro_base, "--world", "null",
            "--dataset_path", tool_chat_file, "--output_dir", out, "--max_steps", "2", "--max_length", "256",
            "--precision", "fp32", "--report_to", "none", "--logging_steps", "1")
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 2


def test_the_sft_benchmark_runs_the_stages_recipe(micro_base):
    # benchmarks/sft.py reads recipes/tiny/sft.yaml as the stage does; it had stopped running when the recipe gained
    # a trainer field (report_to) that it passed to SFTConfig directly
    import re
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "benchmarks/sft.py", "--model", str(micro_base), "--steps", "2",
                           "--rounds", "1", "--precisions", "fp32"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(r"fp32: ours (\d+) tokens/s, plain (\d+) tokens/s, median ratio ours/plain ([\d.]+)", proc.stdout)
    assert found, proc.stdout[-2000:]
    assert int(found[1]) > 0 and int(found[2]) > 0 and float(found[3]) > 0
    assert "Trackio" not in proc.stdout + proc.stderr  # reports nowhere: not into the pipeline's own trackio run
