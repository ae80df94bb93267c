"""The SFT training routine that every conversation-trained stage shares (sft, refusals, tool_use).

A stage brings its own data (conversations in `messages` form) and its own measurements; this module holds what is
the same for all of them: the recipe fields of supervised fine-tuning (TRL's SFTConfig plus ours: precision, Muon,
LoRA), loading the input model and its chat template, TRL's SFTTrainer with packed rows that stay rows on CPU,
resuming a killed run (and starting over when the recipe, the data or the input model changed), and saving a model
dir that `from_pretrained` and `pipeline("text-generation")` load with its chat template.

    trained = train_assistant(cfg, "refusals", out, train, test, fingerprints, precision)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from alignment.recipe import RecipeError, to_yaml, trackio_dir_field, trainer_args_field


@dataclass
class AssistantTrainingFields:
    """The recipe fields of every stage that trains a chat model (the SFT stages, GRPO): the input model and its chat
    template, the optimisation, LoRA, the Hub. A stage's config inherits them and adds its own."""

    output_dir: str = field(default="runs/tiny/sft", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/pretrain", metadata={
        "help": "Input model: a local dir (e.g. the stage before's) or a hub id; the same call loads either."})
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer dir or hub id (default: the model's)."})
    chat_template: str | None = field(default=None, metadata={
        "help": "Jinja text, a .jinja file or a tokenizer dir; None: the model's own, else ours (chat_setup.py)."})
    seed: int = field(default=0, metadata={"help": "Seed of data generation, shuffling and the init of new rows."})

    # --- training
    num_train_epochs: float = field(default=3.0, metadata={"help": "Passes over the training data."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Sequences per device per step (SFT: packed rows; GRPO: solutions, num_generations per problem)."})
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
    trainer_args: dict = trainer_args_field("the stage's TRL config (SFTConfig, GRPOConfig)")

    def __post_init__(self):
        if self.precision not in ("auto", "bf16", "fp32"):
            raise RecipeError(f"precision: expected auto, bf16 or fp32, got {self.precision!r}")
        if self.push_to_hub and not self.hub_model_id:
            raise RecipeError("hub_model_id: push_to_hub is true but no hub_model_id (user/name) is set")
        if self.load_in_4bit and not self.use_peft:
            raise RecipeError("load_in_4bit: QLoRA trains adapters on a 4-bit model; set use_peft: true as well")


@dataclass
class SFTTrainingFields(AssistantTrainingFields):
    """The recipe fields of supervised fine-tuning; a stage's config inherits them and adds its data fields."""

    max_length: int = field(default=512, metadata={"help": "Tokens per packed sequence (longer chats are cut)."})
    packing: bool = field(default=True, metadata={"help": "Pack conversations (best-fit decreasing, padding-free)."})
    assistant_only_loss: bool = field(default=True, metadata={"help": "Loss on the assistant's tokens only."})

    # every other field of TRL's SFTConfig is a recipe field too (recipe.parse_recipe puts it in trainer_args)
    TRAINER_ARGUMENTS: ClassVar[str] = "trl:SFTConfig"


# --- model -----------------------------------------------------------------------------------------

def load_model(cfg: AssistantTrainingFields, precision: str):
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


def lora_config(cfg: AssistantTrainingFields, task_type: str = "CAUSAL_LM", trained_in_full: tuple[str, ...] = ()):
    """The recipe's LoRA adapters (None without use_peft); `trained_in_full`: modules a task needs trained beside the
    recipe's lora_modules_to_save (a reward model's new score head)."""
    if not cfg.use_peft:
        return None
    from peft import LoraConfig

    target = cfg.lora_target_modules
    return LoraConfig(task_type=task_type, r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=target[0] if target == ["all-linear"] else target,
                      modules_to_save=[*trained_in_full, *(cfg.lora_modules_to_save or [])] or cfg.lora_modules_to_save,
                      bias="none")


def training_template_file(chat, folder: Path) -> Path | None:
    """The template TRL computes the loss with, written as the file trl_config hands it; None when there is no
    separate training variant (the inference template serves)."""
    if chat.training_template is None or chat.training_template == chat.inference_template:
        return None
    path = folder / "chat_template_training.jinja"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(chat.training_template, encoding="utf-8")
    return path


def trl_config(cfg: SFTTrainingFields, out: Path, precision: str, training_template: Path | None, has_eval: bool):
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


def trainer_class(cfg: SFTTrainingFields, model):
    from trl import SFTTrainer

    if cfg.packing and "flash" not in (model.config._attn_implementation or ""):
        return row_packed_trainer_class()
    return SFTTrainer


# --- a changed recipe or input model starts over ------------------------------------------------------

def _inputs_fingerprint(cfg: AssistantTrainingFields, data: list[str]) -> dict:
    """What the checkpoints were trained from: the recipe, the data and, for a local input model, its files."""
    model_dir = Path(cfg.model_name_or_path)
    files = sorted([p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in model_dir.iterdir()
                   if p.is_file()) if model_dir.is_dir() else cfg.model_name_or_path
    return {"recipe": json.loads(json.dumps(_recipe_dict(cfg))), "base_model": files, "data": data}


def _recipe_dict(cfg: AssistantTrainingFields) -> dict:
    import yaml

    from alignment.training import what_is_trained

    recipe = yaml.safe_load(to_yaml(cfg))
    for key in ("logging_steps", "eval_steps", "save_steps", "save_total_limit", "push_to_hub", "hub_model_id",
                "hub_private_repo", "eval_max_new_tokens"):  # these do not change what is trained
        recipe.pop(key, None)
    return what_is_trained(recipe)


def start_over_if_changed(cfg: AssistantTrainingFields, stage: str, out: Path, data: list[str]) -> None:
    import shutil

    marker = out / "checkpoints" / "inputs.json"
    wanted = _inputs_fingerprint(cfg, data)
    if marker.is_file() and json.loads(marker.read_text()) != wanted:
        print(f"{stage}: the recipe, the data or the input model changed since the checkpoints were made: starting "
              "over", flush=True)
        shutil.rmtree(out / "checkpoints")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(wanted))


# --- the routine ------------------------------------------------------------------------------------

@dataclass
class TrainedAssistant:
    """What train_assistant leaves: the saved model (in memory too), and the numbers every stage reports."""

    model: object
    tokenizer: object
    stop_ids: list[int]
    measured: dict  # input model, parameters, precision, steps, tokens, losses, tokens/s (metrics.json's first part)


def prepare_model(cfg: AssistantTrainingFields, precision: str):
    """(model, tokenizer, chat setup, stop ids): the input model with a chat template and generation stops, ready to
    generate (a stage that measures its input model before training does that with these)."""
    from alignment.chat_setup import prepare_chat, turn_stop_ids

    model, tokenizer = load_model(cfg, precision)
    chat = prepare_chat(model, tokenizer, cfg.model_name_or_path, cfg.chat_template)
    stops = turn_stop_ids(model, tokenizer)
    model.generation_config.eos_token_id = stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, chat, stops


def input_as_saved(cfg: AssistantTrainingFields, chat) -> str | None:
    """The input model dir, when prepare_model's model is its files as anyone loads them (so a measurement of it
    before training can be reused, alignment/evals/measurements.py); None when the recipe changed it: another
    tokenizer or chat template, tokens added, 4-bit weights. A longer context_length is the same model: the default
    rotary embedding does not depend on max_position_embeddings."""
    if cfg.tokenizer or cfg.chat_template or cfg.load_in_4bit or chat.added_tokens:
        return None
    return cfg.model_name_or_path


def save_assistant(cfg: AssistantTrainingFields, model, tokenizer, chat, stops: list[int], out: Path):
    """Write the trained model dir (adapters merged when the recipe says so), with the inference chat template, the
    training variant beside it and generation that stops at the end of a turn; returns the model as saved."""
    tokenizer.chat_template = chat.inference_template  # TRL put the training variant there
    if cfg.use_peft and cfg.merge_adapter:
        model = model.merge_and_unload()
    model.generation_config.eos_token_id = stops
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    if chat.training_template:
        from alignment.chat_format import TRAINING_TEMPLATE_FILE

        (out / TRAINING_TEMPLATE_FILE).write_text(chat.training_template, encoding="utf-8")
    return model


def train_assistant(cfg: SFTTrainingFields, stage: str, out: Path, train, test, data_fingerprint: list[str],
                    precision: str, prepared: tuple | None = None) -> TrainedAssistant | None:
    """Fine-tune on `train` (a Dataset of `messages`), eval loss on `test` (or None), save the model dir to `out`.

    `prepared`: prepare_model's result when the stage already loaded the input model (to measure it first).
    Returns None on every process but the main one (after training: they took part in it)."""
    import math

    from alignment.training import (LossCurve, TokensPerSecond, last_checkpoint, last_logged, measured_model,
                                    trainer_optimizers)

    model, tokenizer, chat, stops = prepared or prepare_model(cfg, precision)
    training_template = training_template_file(chat, out / "work")
    args = trl_config(cfg, out, precision, training_template, has_eval=test is not None)
    # rank 0 decides whether the checkpoints are still good before any process looks for one to resume
    with args.main_process_first(desc="check the checkpoints"):
        if args.process_index == 0:
            start_over_if_changed(cfg, stage, out, data_fingerprint)
            (out / "recipe.yaml").write_text(to_yaml(cfg))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{stage}: {cfg.model_name_or_path} ({n_params / 1e6:.2f} M parameters), chat template: {chat.source}"
          f"{', added tokens ' + ' '.join(chat.added_tokens) if chat.added_tokens else ''}; {len(train)} "
          f"conversations for training, {len(test) if test is not None else 0} for eval loss; {precision}, "
          f"{args.world_size} process(es)", flush=True)

    speed = TokensPerSecond(None, n_params, cfg.max_length, model.config)
    trainer = trainer_class(cfg, model)(model=model, args=args, train_dataset=train, eval_dataset=test,
                                        processing_class=tokenizer, peft_config=lora_config(cfg), callbacks=[speed],
                                        optimizers=trainer_optimizers(model, cfg, precision))
    resume = last_checkpoint(out / "checkpoints")
    if resume:
        print(f"{stage}: resuming from {resume}", flush=True)
    trainer.train(resume_from_checkpoint=resume)
    evaluation = trainer.evaluate() if test is not None else {}
    if not trainer.is_world_process_zero():
        return None

    model = measured_model(trainer)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)  # before a merge removes adapters
    model = save_assistant(cfg, model, tokenizer, chat, stops, out)
    LossCurve.plot(trainer.state.log_history, out / "loss_curve.png", title=f"{stage} loss")
    history = trainer.state.log_history
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
        "tokens_seen": last_logged(history, "num_tokens"),
        "train_loss": last_logged(history, "loss"),
        "eval_loss": round(evaluation["eval_loss"], 4) if "eval_loss" in evaluation else None,
        "eval_perplexity": round(math.exp(evaluation["eval_loss"]), 3) if "eval_loss" in evaluation else None,
        "tokens_per_second": speed.summary(),
    }
    return TrainedAssistant(model=model, tokenizer=tokenizer, stop_ids=stops, measured=measured)
