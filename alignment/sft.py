"""`alignment sft`: supervised fine-tuning on conversations turns the base model into an assistant (TRL's SFTTrainer).

The picture from "Deep Dive into LLMs like ChatGPT": the base model is an internet-document simulator; trained on
conversations in a fixed chat format (special tokens around each turn) it learns to answer as an assistant. It
knows nothing about itself until identity conversations (and a system message) tell it; and models need tokens
to think, so good answers reason step by step before the final answer (`recipes/tiny/sft_answer_first.yaml` is
the counter-experiment).

    alignment sft --config recipes/tiny/sft.yaml
    accelerate launch --config_file recipes/accelerate/ddp.yaml -m alignment sft --config recipes/smollm2-135m/sft.yaml

Data: the tiny world's conversations (`world:` set: rendered into output_dir/conversations/, with held-out sets
that are measured at the end) and/or `dataset_mixture` (hub ids or local files, alignment-handbook style;
`--dataset_name` / `--dataset_path` replace it by one set). Loss on assistant tokens only, packed sequences
(best-fit decreasing, padding-free), LoRA through peft (`use_peft`), resume after a kill.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

from alignment.recipe import RecipeError, stage_main, to_yaml, trackio_dir_field, trainer_args_field


@dataclass
class SFTConfig:
    output_dir: str = field(default="runs/tiny/sft", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/pretrain", metadata={
        "help": "Base model: a local dir (e.g. the pretrain stage's) or a hub id; the same call loads either."})
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer dir or hub id (default: the model's)."})
    chat_template: str | None = field(default=None, metadata={
        "help": "Jinja text, a .jinja file or a tokenizer dir; None: the model's own, else ours (chat_setup.py)."})
    seed: int = field(default=0, metadata={"help": "Seed of data generation, shuffling and the init of new rows."})

    # --- data
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): its conversations are trained on and measured."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator})."})
    system_message: str | None = field(default=None, metadata={
        "help": "The default system message (None: one that states the identity)."})
    answer_first: bool = field(default=False, metadata={
        "help": "Word problems answered before the reasoning (the 'models need tokens to think' experiment)."})
    answer_only: bool = field(default=False, metadata={
        "help": "Word problems answered with the answer alone, no worked steps (the direct-answer baseline)."})
    system_message_share: float = field(default=0.3, metadata={
        "help": "Share of the tiny world's conversations that open with the default system message."})
    conversation_sizes: dict = field(default_factory=dict, metadata={
        "help": "Overrides of alignment.world.conversations.ConversationSizes (e.g. {word_problems: 2000})."})
    dataset_mixture: dict | None = field(default=None, metadata={
        "help": "{datasets: [{id, config, split, columns, weight}], test_split_size, seed} (data_mixture.py)."})
    dataset_name: str | None = field(default=None, metadata={"help": "Shorthand: train on this one hub dataset."})
    dataset_path: str | None = field(default=None, metadata={"help": "Shorthand: train on this one local file."})
    max_length: int = field(default=512, metadata={"help": "Tokens per packed sequence (longer chats are cut)."})
    packing: bool = field(default=True, metadata={"help": "Pack conversations (best-fit decreasing, padding-free)."})
    assistant_only_loss: bool = field(default=True, metadata={"help": "Loss on the assistant's tokens only."})

    # --- training
    num_train_epochs: float = field(default=3.0, metadata={"help": "Passes over the conversations."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Packed sequences per device per step."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    learning_rate: float = field(default=1e-3, metadata={
        "help": "Peak learning rate (TRL's 2e-5 suits big pretrained models; tiny ones need ~1e-3)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Linear warmup share of the steps."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping."})
    muon: bool = field(default=False, metadata={
        "help": "Muon for the hidden matrices (AdamW for embeddings and norms, one learning rate: alignment/muon.py)."})
    muon_ns_steps: int = field(default=5, metadata={
        "help": "Newton-Schulz iterations per Muon update (5 as Keller Jordan; each costs ~3 matmuls per matrix)."})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "Recompute activations (TRL's default is on: memory for ~30% speed; off for tiny models)."})
    precision: str = field(default="auto", metadata={"help": "auto (bf16 on GPUs and bf16 CPUs), bf16 or fp32."})
    logging_steps: int = field(default=10, metadata={"help": "Log loss and tokens/s every N steps."})
    eval_steps: int = field(default=100, metadata={"help": "Eval loss on the test split every N steps."})
    save_steps: int = field(default=100, metadata={"help": "Checkpoint every N steps (resume point)."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})

    # --- LoRA / QLoRA
    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling (alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    lora_target_modules: list[str] | None = field(default=None, metadata={
        "help": "Module names to adapt (None: peft's default for the architecture; 'all-linear' works too)."})
    lora_modules_to_save: list[str] | None = field(default=None, metadata={
        "help": "Modules trained in full beside the adapters (e.g. [embed_tokens, lm_head] when tokens were added)."})
    merge_adapter: bool = field(default=False, metadata={"help": "Save the base model with the adapters merged in."})
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: a 4-bit base model (bitsandbytes + CUDA)."})

    # --- measurements and the Hub
    eval_max_new_tokens: int = field(default=160, metadata={"help": "Reply budget in the held-out measurements."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the model dir with its card."})
    hub_model_id: str | None = field(default=None, metadata={"help": "user/name on the Hub (push_to_hub)."})
    hub_private_repo: bool = field(default=False, metadata={"help": "Create the Hub repo private."})
    trackio_dir: str | None = trackio_dir_field()
    trainer_args: dict = trainer_args_field("TRL's SFTConfig")

    # every other field of TRL's SFTConfig is a recipe field too (recipe.parse_recipe puts it in trainer_args)
    TRAINER_ARGUMENTS: ClassVar[str] = "trl:SFTConfig"

    def __post_init__(self):
        if self.precision not in ("auto", "bf16", "fp32"):
            raise RecipeError(f"precision: expected auto, bf16 or fp32, got {self.precision!r}")
        if not {"name", "creator"} <= set(self.identity or {}):
            raise RecipeError(f"identity: expected {{name, creator}}, got {self.identity!r}")
        if not 0.0 <= self.system_message_share <= 1.0:
            raise RecipeError(f"system_message_share: expected a share from 0 to 1, got {self.system_message_share}")
        if self.push_to_hub and not self.hub_model_id:
            raise RecipeError("hub_model_id: push_to_hub is true but no hub_model_id (user/name) is set")
        if self.load_in_4bit and not self.use_peft:
            raise RecipeError("load_in_4bit: QLoRA trains adapters on a 4-bit model; set use_peft: true as well")


# --- data ------------------------------------------------------------------------------------------

def world_conversations(cfg: SFTConfig, out: Path) -> dict:
    """The tiny world's conversations, written to output_dir/conversations/ (inspect them there)."""
    from alignment.world.conversations import ConversationSizes, build_conversations, write_conversations
    from alignment.world.people import build_world

    try:
        sizes = ConversationSizes(**cfg.conversation_sizes)
    except TypeError as e:
        raise RecipeError(f"conversation_sizes: {e}") from e
    splits = build_conversations(build_world(**cfg.world), identity=cfg.identity, seed=cfg.seed,
                                 answer_first=cfg.answer_first, answer_only=cfg.answer_only, sizes=sizes,
                                 system_share=cfg.system_message_share)
    write_conversations(splits, out / "conversations")
    return splits


def training_data(cfg: SFTConfig, out: Path) -> tuple:
    """(train Dataset, eval Dataset or None, the tiny world's held-out sets or None, dataset names for the card,
    a fingerprint of the training data: checkpoints made on other data must not be resumed)."""
    import hashlib

    from datasets import Dataset, concatenate_datasets

    from alignment.data_mixture import load_mixture, single_dataset

    trains, tests, names, evals, fingerprints = [], [], [], None, []
    if cfg.world:
        splits = world_conversations(cfg, out)
        # from memory, not the file: under `accelerate launch` every process writes the same files at once
        fingerprints.append(hashlib.sha256(json.dumps(splits["train"]).encode()).hexdigest())
        trains.append(Dataset.from_list([{"messages": c["messages"]} for c in splits["train"]]))
        tests.append(Dataset.from_list([{"messages": c["messages"]} for c in splits["test"]]))
        evals = {k: v for k, v in splits.items() if k.startswith("eval_")}
        names.append(f"tiny world (seed {cfg.world.get('seed', 0)}), {out / 'conversations'}")
    mixture = single_dataset(cfg.dataset_name, cfg.dataset_path)
    if mixture is not None and cfg.dataset_mixture and cfg.dataset_mixture.get("test_split_size"):
        mixture["test_split_size"] = cfg.dataset_mixture["test_split_size"]
    mixture = mixture or cfg.dataset_mixture
    if mixture:
        loaded = load_mixture(mixture, cfg.seed)
        trains.append(loaded["train"])
        fingerprints.append(loaded["train"]._fingerprint)  # datasets' own: from the files, then each transform
        if loaded["test"] is not None:
            tests.append(loaded["test"])
        names += [d["id"] for d in mixture.get("datasets", [])]
    if not trains:
        raise RecipeError("no data: set world (the tiny world's conversations), dataset_mixture, dataset_name or "
                          "dataset_path")
    for ds, name in zip(trains, names):
        _check_messages(ds, name)
    train = concatenate_datasets(trains).shuffle(seed=cfg.seed) if len(trains) > 1 else trains[0]
    test = (concatenate_datasets(tests) if len(tests) > 1 else tests[0]) if tests else None
    return train, test, evals, names, fingerprints


def _check_messages(ds, name: str) -> None:
    """A malformed conversation gets one line naming the dataset and the row, not a trace from inside TRL."""
    for row, example in enumerate(ds.select(range(min(len(ds), 1000)))):
        messages = example["messages"]
        if not messages or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages):
            raise RecipeError(f"{name}: row {row}: `messages` must be a list of {{role, content}}")
        if not any(m["role"] == "assistant" for m in messages):
            raise RecipeError(f"{name}: row {row}: no assistant turn (nothing to learn from)")


# --- model -----------------------------------------------------------------------------------------

def load_model(cfg: SFTConfig, precision: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"dtype": torch.bfloat16 if precision == "bf16" and torch.cuda.is_available() else torch.float32}
    if cfg.load_in_4bit:
        kwargs["quantization_config"] = _four_bit_config()
    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer or cfg.model_name_or_path)
        model = AutoModelForCausalLM.from_pretrained(cfg.model_name_or_path, **kwargs)
    except OSError as e:
        raise RecipeError(f"model_name_or_path: could not load {cfg.model_name_or_path!r}: "
                          f"{str(e).strip().splitlines()[0]}") from e
    return model, tokenizer


def _four_bit_config():
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise RecipeError("load_in_4bit: QLoRA needs a CUDA GPU (bitsandbytes' 4-bit kernels); this machine has none. "
                          "Use use_peft: true without load_in_4bit for LoRA on CPU")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise RecipeError("load_in_4bit: bitsandbytes is not installed (pip install -e '.[gpu]')")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def lora_config(cfg: SFTConfig):
    if not cfg.use_peft:
        return None
    from peft import LoraConfig

    target = cfg.lora_target_modules
    return LoraConfig(task_type="CAUSAL_LM", r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=target[0] if target == ["all-linear"] else target,
                      modules_to_save=cfg.lora_modules_to_save, bias="none")


def training_template_file(chat, folder: Path) -> Path | None:
    """The template TRL computes the loss with, written as the file trl_config hands it; None when there is no
    separate training variant (the inference template serves)."""
    if chat.training_template is None or chat.training_template == chat.inference_template:
        return None
    path = folder / "chat_template_training.jinja"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(chat.training_template, encoding="utf-8")
    return path


def trl_config(cfg: SFTConfig, out: Path, precision: str, training_template: Path | None, has_eval: bool):
    from trl import SFTConfig as TrlSFTConfig

    from alignment.training import trainer_arguments, trainer_settings

    return trainer_arguments(TrlSFTConfig, {
        **trainer_settings(cfg, out, precision),
        "activation_checkpointing": cfg.gradient_checkpointing,  # transformers 5's name (gradient_ is deprecated)
        "max_length": cfg.max_length,
        "packing": cfg.packing,
        "assistant_only_loss": cfg.assistant_only_loss,
        # TRL reads a template file into the tokenizer for training; we put the inference one back before saving
        "chat_template_path": str(training_template) if training_template else None,
        "eval_strategy": "steps" if has_eval else "no",
        "data_seed": cfg.seed,
        "dataset_num_proc": None,
        "shuffle_dataset": True,
    }, cfg)


# --- packed rows without flash attention ---------------------------------------------------------------

def row_packed_trainer_class():
    """SFTTrainer whose packed rows stay rows: SDPA and eager attention get a block-diagonal mask per row.

    TRL's padding-free packing flattens the whole batch into ONE row (right for flash attention's varlen kernels,
    which never compute across conversations). SDPA and eager attention instead build the block-diagonal mask
    from the position ids and then compute attention over the whole flattened row: batch 16 x 256 tokens made one
    4096-token row, 16x the attention work of 16 rows of 256. Here each packed row of `max_length` tokens stays a
    row (positions restart at every conversation, so the mask still keeps conversations apart), and the tokens/s
    count stays that of real tokens. Used when packing is on and the attention is not a flash variant."""
    import torch
    from trl import SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    class RowPackedCollator(DataCollatorForLanguageModeling):
        def torch_call(self, examples):
            batch = super().torch_call(examples)  # return_position_ids=True: positions restart per conversation
            batch["labels"][batch["position_ids"] == 0] = -100  # a conversation's first token has no context
            return batch

    class RowPackedSFTTrainer(SFTTrainer):
        collator_class = RowPackedCollator

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)  # TRL refuses a collator of ours with packing: swap it in after
            self.data_collator = RowPackedCollator(pad_token_id=self._tokenizer.pad_token_id, padding_free=False,
                                                   return_position_ids=True,
                                                   pad_to_multiple_of=self.args.pad_to_multiple_of)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # no attention mask: the model then derives the per-conversation mask from the position ids (a padding
            # mask would let conversations packed in one row attend to each other)
            mask = inputs.pop("attention_mask", None)
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
            if mask is not None and model.training:  # TRL counted the row width once per batch: count real tokens
                width = torch.tensor(inputs["position_ids"].size(1), device=mask.device)
                self._total_train_tokens += (self.accelerator.gather_for_metrics(mask.sum()).sum().item()
                                             - self.accelerator.gather_for_metrics(width).sum().item())
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return result

    return RowPackedSFTTrainer


def trainer_class(cfg: SFTConfig, model):
    from trl import SFTTrainer

    if cfg.packing and "flash" not in (model.config._attn_implementation or ""):
        return row_packed_trainer_class()
    return SFTTrainer


# --- a changed recipe or base model starts over ------------------------------------------------------

def _inputs_fingerprint(cfg: SFTConfig, data: list[str]) -> dict:
    """What the checkpoints were trained from: the recipe, the data and, for a local base model, its files."""
    model_dir = Path(cfg.model_name_or_path)
    files = sorted([p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in model_dir.iterdir()
                   if p.is_file()) if model_dir.is_dir() else cfg.model_name_or_path
    return {"recipe": json.loads(json.dumps(_recipe_dict(cfg))), "base_model": files, "data": data}


def _recipe_dict(cfg: SFTConfig) -> dict:
    import yaml

    recipe = yaml.safe_load(to_yaml(cfg))
    for key in ("logging_steps", "eval_steps", "save_steps", "save_total_limit", "push_to_hub", "hub_model_id",
                "hub_private_repo", "eval_max_new_tokens"):  # these do not change what is trained
        recipe.pop(key, None)
    from alignment.training import what_is_trained

    return what_is_trained(recipe)


def start_over_if_changed(cfg: SFTConfig, out: Path, data: list[str]) -> None:
    import shutil

    marker = out / "checkpoints" / "inputs.json"
    wanted = _inputs_fingerprint(cfg, data)
    if marker.is_file() and json.loads(marker.read_text()) != wanted:
        print("sft: the recipe, the data or the base model changed since the checkpoints were made: starting over",
              flush=True)
        shutil.rmtree(out / "checkpoints")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(wanted))


# --- the stage -------------------------------------------------------------------------------------

def run_sft(cfg: SFTConfig) -> dict:
    import torch

    from alignment.chat_setup import prepare_chat, turn_stop_ids
    from alignment.metrics import StageRun
    from alignment.training import (LossCurve, TokensPerSecond, last_checkpoint, last_logged, resolve_precision,
                                    trainer_optimizers)

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    with StageRun("sft", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        # the data before the model: a data mistake is reported in a second, not after loading a big model
        train, test, evals, dataset_names, data_fingerprint = training_data(cfg, out)
        model, tokenizer = load_model(cfg, precision)
        chat = prepare_chat(model, tokenizer, cfg.model_name_or_path, cfg.chat_template)
        stops = turn_stop_ids(model, tokenizer)
        model.generation_config.eos_token_id = stops
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        training_template = training_template_file(chat, out / "work")
        args = trl_config(cfg, out, precision, training_template, has_eval=test is not None)
        # rank 0 decides whether the checkpoints are still good before any process looks for one to resume
        with args.main_process_first(desc="check the checkpoints"):
            if args.process_index == 0:
                start_over_if_changed(cfg, out, data_fingerprint)
                (out / "recipe.yaml").write_text(to_yaml(cfg))
        n_params = sum(p.numel() for p in model.parameters())
        print(f"sft: {cfg.model_name_or_path} ({n_params / 1e6:.2f} M parameters), chat template: {chat.source}"
              f"{', added tokens ' + ' '.join(chat.added_tokens) if chat.added_tokens else ''}; {len(train)} "
              f"conversations for training, {len(test) if test is not None else 0} for eval loss; {precision}, "
              f"{args.world_size} process(es)", flush=True)

        speed = TokensPerSecond(None, n_params, cfg.max_length, model.config)
        trainer = trainer_class(cfg, model)(model=model, args=args, train_dataset=train, eval_dataset=test,
                                            processing_class=tokenizer, peft_config=lora_config(cfg), callbacks=[speed],
                                            optimizers=trainer_optimizers(model, cfg, precision))
        resume = last_checkpoint(out / "checkpoints")
        if resume:
            print(f"sft: resuming from {resume}", flush=True)
        trainer.train(resume_from_checkpoint=resume)
        evaluation = trainer.evaluate() if test is not None else {}
        if not trainer.is_world_process_zero():
            return {}

        model = trainer.model
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)  # before a merge removes adapters
        tokenizer.chat_template = chat.inference_template  # TRL put the training variant there
        if cfg.use_peft and cfg.merge_adapter:
            model = model.merge_and_unload()
        model.generation_config.eos_token_id = stops
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        if chat.training_template:
            from alignment.chat_format import TRAINING_TEMPLATE_FILE

            (out / TRAINING_TEMPLATE_FILE).write_text(chat.training_template, encoding="utf-8")
        LossCurve.plot(trainer.state.log_history, out / "loss_curve.png", title="SFT loss")

        measured = {
            "base_model": cfg.model_name_or_path,
            "parameters": n_params,
            "trainable_parameters": trainable,
            "chat_template": chat.source,
            "precision": precision,
            "world_size": args.world_size,
            "train_conversations": len(train),
            "epochs": round(trainer.state.epoch or 0, 3),
            "global_step": trainer.state.global_step,
            "tokens_seen": last_logged(trainer.state.log_history, "num_tokens"),
            "train_loss": last_logged(trainer.state.log_history, "loss"),
            "eval_loss": round(evaluation["eval_loss"], 4) if "eval_loss" in evaluation else None,
            "eval_perplexity": round(math.exp(evaluation["eval_loss"]), 3) if "eval_loss" in evaluation else None,
            "tokens_per_second": speed.summary(),
        }
        if evals is not None:
            from alignment.evals.assistant_probes import evaluate_assistant
            from alignment.world.conversations import default_system_message

            system = cfg.system_message or default_system_message(cfg.identity)
            assistant, examples = evaluate_assistant(model, tokenizer, evals, cfg.identity, system, stops,
                                                     cfg.eval_max_new_tokens)
            measured.update(assistant)
            measured["answer_first"] = cfg.answer_first
            measured["answer_only"] = cfg.answer_only
            measured["examples"] = examples
        record = run.write(measured)
    _write_card(cfg, out, record, dataset_names)
    _print_summary(record, out)
    if cfg.push_to_hub:
        from alignment.model_card import push_to_hub

        url = push_to_hub(out, cfg.hub_model_id, private=cfg.hub_private_repo)
        print(f"sft: pushed to {url}")
    return record


def _write_card(cfg: SFTConfig, out: Path, record: dict, dataset_names: list[str]) -> None:
    from alignment.model_card import model_card

    summary = (f"An assistant fine-tuned with TRL's SFTTrainer by `alignment sft` (assistant-only loss"
               f"{', packed' if cfg.packing else ''}{', LoRA' if cfg.use_peft else ''}).")
    (out / "README.md").write_text(model_card(
        stage="sft", model_id=cfg.hub_model_id or out.name, base_model=cfg.model_name_or_path, datasets=dataset_names,
        recipe_yaml=to_yaml(cfg), metrics=record, command=record["reproduce"]["command"], summary=summary))


def _print_summary(record: dict, out: Path) -> None:
    print(f"\nsft: eval loss {record['eval_loss']}, train loss {record['train_loss']}, {record['epochs']} epochs, "
          f"{record['tokens_per_second']}")
    if "well_formed_rate" in record:
        def shown(key: str):  # a recipe without identity or fact conversations measures neither
            return "not measured" if record[key] is None else record[key]

        print(f"  well-formed replies {record['well_formed_rate']} (target >= 0.95); identity without a system "
              f"message {shown('identity_accuracy_no_system')} (target >= 0.9), with the default one "
              f"{shown('identity_accuracy_default_system')}")
        print(f"  held-out facts {shown('fact_accuracy')}; word problems {shown('word_problem_accuracy')} "
              f"({_solution_style(record)})")
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def _solution_style(record: dict) -> str:
    if record.get("answer_only"):
        return "answer only"
    return "answer first" if record["answer_first"] else "reasoning first"


def main(argv: list[str]) -> int:
    return stage_main(SFTConfig, "sft", run_sft, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
