"""Stage 3: a Transformer learns next-token prediction on the corpus (transformers' Trainer).

    alignment pretrain --config recipes/tiny/pretrain.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/cpu.yaml -m alignment pretrain --config ...

A model from config (Llama-style by default) or `model_name_or_path` to continue pretraining one (hub
id or local dir, the same call). The documents are tokenized with datatrove's DocumentTokenizer (EOS
after each one), split into train / validation by document, and packed into fixed-length blocks.
A killed run resumes from its last checkpoint.
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
class PretrainConfig:
    output_dir: str = field(default="runs/tiny/pretrain", metadata={"help": "Model dir (save_pretrained) + metrics."})
    corpus_dir: str = field(default="runs/tiny/corpus/documents",
                            metadata={"help": "The corpus stage's documents/ (*.jsonl.gz)."})
    tokenizer: str = field(default="runs/tiny/tokenizer", metadata={"help": "Tokenizer dir or hub id."})
    model_name_or_path: str | None = field(default=None, metadata={
        "help": "Continue pretraining this model (hub id or local dir); None builds one from the size fields."})
    model_type: str = field(default="llama", metadata={"help": "transformers model type for a model from config."})
    hidden_size: int = field(default=256, metadata={"help": "Width of the model from config."})
    num_hidden_layers: int = field(default=4, metadata={"help": "Layers of the model from config."})
    num_attention_heads: int = field(default=4, metadata={"help": "Attention heads."})
    intermediate_size: int = field(default=688, metadata={"help": "MLP width (~8/3 x hidden, as Llama)."})
    block_size: int = field(default=256, metadata={"help": "Tokens per training sequence (packed)."})
    validation_fraction: float = field(default=0.05, metadata={"help": "Share of documents held out."})
    seed: int = field(default=0, metadata={"help": "Seed of the split, the init and the data order."})
    world: dict = field(default_factory=lambda: {"seed": 0, "n_entities": 120, "n_reserved": 100},
                        metadata={"help": "The tiny world the corpus came from (fact-recall probes); {} for none."})
    num_train_epochs: float = field(default=8.0, metadata={"help": "Passes over the training blocks."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: epochs)."})
    per_device_train_batch_size: int = field(default=16, metadata={"help": "Sequences per device per step."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    learning_rate: float = field(default=3e-3, metadata={"help": "Peak learning rate (small models take high ones)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Linear warmup share of the steps."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping."})
    muon: bool = field(default=False, metadata={
        "help": "Muon for the hidden matrices (AdamW for embeddings and norms, one learning rate: alignment/muon.py)."})
    muon_ns_steps: int = field(default=5, metadata={
        "help": "Newton-Schulz iterations per Muon update (5 as Keller Jordan; each costs ~3 matmuls per matrix)."})
    precision: str = field(default="auto", metadata={
        "help": "auto (bf16 on GPUs and CPUs with native bf16, else fp32), bf16 or fp32."})
    logging_steps: int = field(default=10, metadata={"help": "Log loss and tokens/s every N steps."})
    eval_steps: int = field(default=100, metadata={"help": "Validation loss + sampled continuations every N steps."})
    save_steps: int = field(default=100, metadata={"help": "Checkpoint every N steps (resume point)."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    sample_prompts: list[str] = field(default_factory=lambda: ["The town of", "She was born in"],
                                      metadata={"help": "Prompts whose continuations are logged at each evaluation."})
    probe_documents: int = field(default=40, metadata={"help": "Documents per split for the regurgitation probe."})
    probe_questions: int = field(default=0, metadata={"help": "Fact questions for the few-shot probe; 0: every fact "
                                                      "of every covered person (600 in the tiny world)."})
    trackio_dir: str | None = trackio_dir_field()
    trainer_args: dict = trainer_args_field("transformers' TrainingArguments")

    # every other field of the Trainer's arguments is a recipe field too (recipe.parse_recipe puts it in trainer_args)
    TRAINER_ARGUMENTS: ClassVar[str] = "transformers:TrainingArguments"

    def __post_init__(self):
        if self.precision not in ("auto", "bf16", "fp32"):
            raise RecipeError(f"precision: expected auto, bf16 or fp32, got {self.precision!r}")
        if not 0 < self.validation_fraction < 1:
            raise RecipeError(f"validation_fraction: must be between 0 and 1, got {self.validation_fraction}")


# --- data ----------------------------------------------------------------------------------------

def _fingerprint(folder: Path) -> list:
    return sorted([p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in folder.iterdir() if p.is_file())


def prepare_data(cfg: PretrainConfig, work: Path) -> dict[str, Path]:
    """Split once per recipe and corpus: a marker records what the files on disk hold. When the corpus, the
    tokenizer or the recipe changed, the old split and the checkpoints trained on it are thrown away."""
    marker = work / "split.json"
    tokenizer = Path(cfg.tokenizer)
    wanted = {"corpus": _fingerprint(Path(cfg.corpus_dir)), "corpus_dir": str(Path(cfg.corpus_dir).resolve()),
              "tokenizer": _fingerprint(tokenizer) if tokenizer.is_dir() else cfg.tokenizer,
              "validation_fraction": cfg.validation_fraction, "seed": cfg.seed, "recipe": _trained_by(cfg)}
    folders = {name: work / "data" / name for name in ("train", "validation")}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return folders
    import shutil

    if marker.is_file():
        print("pretrain: the corpus, the tokenizer or the recipe changed since the checkpoints were made: starting "
              "over", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(work.parent / "checkpoints", ignore_errors=True)
    split_documents(Path(cfg.corpus_dir), folders, cfg.validation_fraction, cfg.seed)
    marker.write_text(json.dumps(wanted))
    return folders


def _trained_by(cfg: PretrainConfig) -> dict:
    """The recipe fields that change what is trained: a checkpoint made under other values must not be resumed
    (a longer schedule resumed from the last step of a shorter one would stop at once)."""
    import yaml

    recipe = yaml.safe_load(to_yaml(cfg))
    for key in ("output_dir", "logging_steps", "eval_steps", "save_steps", "save_total_limit", "sample_prompts",
                "probe_documents", "probe_questions"):
        recipe.pop(key, None)
    from alignment.training import what_is_trained

    return what_is_trained(recipe)


def split_documents(corpus_dir: Path, folders: dict[str, Path], validation_fraction: float, seed: int) -> None:
    """Hold out documents (not blocks): a validation document is never seen in training, in any part."""
    import gzip
    import hashlib

    from data_pipelines.documents import read_documents

    docs = read_documents(corpus_dir)
    if not docs:
        raise RecipeError(f"corpus_dir: no documents in {corpus_dir} (run the corpus stage first)")
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    files = {name: gzip.open(folder / "00000.jsonl.gz", "wt") for name, folder in folders.items()}
    for doc in docs:
        h = int(hashlib.sha256(f"{seed}:{doc['id']}".encode()).hexdigest()[:8], 16) / 16**8
        files["validation" if h < validation_fraction else "train"].write(json.dumps(doc) + "\n")
    for f in files.values():
        f.close()


def load_tokens(folder: Path, tokenizer_path: str, tokenizer, out: Path) -> "np.ndarray":
    """Documents -> one token stream with EOS after each document (datatrove's DocumentTokenizer;
    its completion marker makes a second call, or a resumed run, read the files it already wrote)."""
    import numpy as np

    from data_pipelines.tokenize import tokenize_documents

    tokenize_documents(folder, tokenizer_path, out, eos_token=tokenizer.eos_token)
    dtype = np.uint16 if len(tokenizer) < 2**16 else np.uint32
    return np.concatenate([np.fromfile(f, dtype=dtype) for f in sorted((out / "tokens").glob("*.ds"))])


class PackedBlocks:
    """Fixed-length blocks cut from the token stream; the remainder (< block_size tokens) is dropped."""

    def __init__(self, tokens, block_size: int):
        import torch

        n = len(tokens) // block_size
        self.blocks = torch.from_numpy(tokens[: n * block_size].astype("int64")).view(n, block_size)

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


# --- model ---------------------------------------------------------------------------------------

def padded_vocab(n: int, multiple: int = 64) -> int:
    """Embedding rows rounded up to a multiple of 64: matmul kernels run faster on such shapes."""
    return (n + multiple - 1) // multiple * multiple


def build_model(cfg: PretrainConfig, tokenizer):
    from transformers import AutoModelForCausalLM

    if cfg.model_name_or_path:
        model = AutoModelForCausalLM.from_pretrained(cfg.model_name_or_path)
        if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
        return model
    return model_from_config(cfg, padded_vocab(len(tokenizer)), bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


def model_from_config(cfg: PretrainConfig, vocab_size: int, **token_ids):
    """A fresh model of the recipe's shape (benchmarks/pretrain.py builds the same one)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        cfg.model_type,
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.block_size,
        tie_word_embeddings=True,  # at this size the embedding matrix is a large share of the parameters
        **token_ids,
    )
    return AutoModelForCausalLM.from_config(config)


def unigram_entropy(tokens) -> float:
    """Entropy (nats/token) of the validation tokens' own unigram distribution: what a model that knows
    only token frequencies would score. A language model must beat it clearly."""
    import numpy as np

    counts = np.bincount(tokens.astype(np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def training_arguments(cfg: PretrainConfig, out: Path, precision: str):
    """The Trainer's settings for this stage (benchmarks/pretrain.py times exactly these)."""
    from transformers import TrainingArguments

    from alignment.training import trainer_arguments, trainer_settings

    return trainer_arguments(TrainingArguments, {**trainer_settings(cfg, out, precision), "eval_strategy": "steps",
                                                 "disable_tqdm": False, "dataloader_drop_last": True}, cfg)


# --- the stage -----------------------------------------------------------------------------------

def run_pretrain(cfg: PretrainConfig) -> dict:
    import torch
    from transformers import AutoTokenizer, Trainer

    from alignment.metrics import StageRun
    from alignment.training import (LossCurve, SampleContinuations, TokensPerSecond, last_checkpoint, last_logged,
                                    measured_model, resolve_precision, trainer_optimizers)

    out = Path(cfg.output_dir)
    if not Path(cfg.corpus_dir).is_dir():
        raise RecipeError(f"corpus_dir: {cfg.corpus_dir} not found (run the corpus stage first)")
    if not Path(cfg.tokenizer).exists() and "/" not in cfg.tokenizer:
        raise RecipeError(f"tokenizer: {cfg.tokenizer} not found (run the tokenizer stage first)")
    precision = resolve_precision(cfg.precision)
    with StageRun("pretrain", out, seed=cfg.seed) as run:
        args = training_arguments(cfg, out, precision)
        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer)
        # with `accelerate launch`, rank 0 splits and tokenizes first; the others then find it done
        with args.main_process_first(desc="tokenize the corpus"):
            folders = prepare_data(cfg, out / "work")
            train_tokens, val_tokens = (load_tokens(folders[s], cfg.tokenizer, tokenizer, out / "work" / f"{s}_tokens")
                                        for s in ("train", "validation"))
        train, validation = PackedBlocks(train_tokens, cfg.block_size), PackedBlocks(val_tokens, cfg.block_size)
        if len(validation) == 0:
            raise RecipeError(f"validation_fraction: the held-out documents make {len(val_tokens)} tokens, less than "
                              f"one block of {cfg.block_size}: raise validation_fraction or give more documents")
        # batches drop their remainder (dataloader_drop_last), so a small validation set needs small eval batches: each
        # of the processes must get a whole one (3 blocks on 2 processes in batches of 3 gave no eval loss at all)
        if len(validation) < args.world_size:
            raise RecipeError(f"validation_fraction: the held-out documents make {len(validation)} blocks of "
                              f"{cfg.block_size} tokens, fewer than the {args.world_size} processes: raise it")
        args.per_device_eval_batch_size = min(cfg.per_device_train_batch_size, len(validation) // args.world_size)
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, tokenizer)
        n_params = sum(p.numel() for p in model.parameters())
        if args.process_index == 0:
            out.mkdir(parents=True, exist_ok=True)
            (out / "recipe.yaml").write_text(to_yaml(cfg))
        print(f"pretrain: {n_params / 1e6:.2f} M parameters, {len(train_tokens):,} train tokens "
              f"({len(train)} blocks of {cfg.block_size}), {len(val_tokens):,} validation tokens, {precision}, "
              f"{args.world_size} process(es)", flush=True)

        tokens_per_step = cfg.block_size * cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
        speed = TokensPerSecond(tokens_per_step * args.world_size, n_params, cfg.block_size, model.config)
        trainer = Trainer(
            model=model, args=args, train_dataset=train, eval_dataset=validation,
            callbacks=[speed, SampleContinuations(tokenizer, cfg.sample_prompts)],
            optimizers=trainer_optimizers(model, cfg, precision),
        )
        resume = last_checkpoint(out / "checkpoints")
        if resume:
            print(f"pretrain: resuming from {resume}", flush=True)
        trainer.train(resume_from_checkpoint=resume)
        evaluation = trainer.evaluate()
        if not trainer.is_world_process_zero():
            return {}
        trainer.save_model(str(out))
        tokenizer.save_pretrained(str(out))
        _copy_training_chat_template(cfg.tokenizer, out)
        LossCurve.plot(trainer.state.log_history, out / "loss_curve.png")

        from alignment.evals.base_model_probes import run_probes

        baseline = unigram_entropy(val_tokens)
        val_loss = evaluation["eval_loss"]
        measured = {
            "parameters": n_params,
            "world_size": args.world_size,
            "precision": precision,
            "tokens_seen": int(trainer.state.global_step * tokens_per_step * args.world_size),
            "train_tokens": int(len(train_tokens)),
            "epochs": round(trainer.state.epoch or 0, 3),
            "global_step": trainer.state.global_step,
            "train_loss": last_logged(trainer.state.log_history, "loss"),
            "validation_loss": round(val_loss, 4),
            "validation_perplexity": round(math.exp(val_loss), 3),
            "unigram_entropy_baseline": round(baseline, 4),
            "validation_loss_over_baseline": round(val_loss / baseline, 4),
            "tokens_per_second": speed.summary(),
        }
        measured.update(run_probes(measured_model(trainer), tokenizer, folders, cfg))
        if "fact_recall" in measured:
            from alignment.evals.measurements import few_shot_key, record as measurement

            measured["measurements"] = [measurement(*few_shot_key(cfg.world, cfg.probe_questions, cfg.seed), out,
                                                    measured["fact_recall"], "fact_recall")]
        record = run.write(measured)
    _print_summary(record)
    return record


def _copy_training_chat_template(tokenizer_dir: str, out: Path) -> None:
    """save_pretrained writes the inference chat template only; SFT needs the {% generation %} variant too."""
    import shutil

    from alignment.chat_format import TRAINING_TEMPLATE_FILE

    source = Path(tokenizer_dir) / TRAINING_TEMPLATE_FILE
    if source.is_file():
        shutil.copy(source, out / TRAINING_TEMPLATE_FILE)


def _print_summary(record: dict) -> None:
    print(f"\npretrain: validation loss {record['validation_loss']} nats/token vs unigram baseline "
          f"{record['unigram_entropy_baseline']} (ratio {record['validation_loss_over_baseline']}, target <= 0.5); "
          f"perplexity {record['validation_perplexity']}")
    if "regurgitation" in record:
        r = record["regurgitation"]
        print(f"  regurgitation (32 greedy tokens after a 32-token prompt): train {r['train_rate']}, "
              f"held-out {r['validation_rate']}")
    if "fact_recall" in record:
        f = record["fact_recall"]
        print(f"  few-shot facts, 4-way multiple choice: {f['multiple_choice_accuracy']} (chance 0.25, target >= 0.5); "
              f"open-ended greedy recall {f['open_ended_recall']}")
    if "in_context_copying" in record:
        c = record["in_context_copying"]
        r = c["repeated_tokens"]
        line = f"  in-context copying: random tokens {r['first_loss']} nats/token, repeated {r['repeat_loss']}"
        if "surname" in c:
            line += (f"; a new person's surname after their first name {c['surname']['new_people_rate']} "
                     f"(the corpus's people, memorised: {c['surname']['corpus_people_rate']})")
        print(line)
    print(f"  {record['tokens_per_second']}; wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB")


def main(argv: list[str]) -> int:
    return stage_main(PretrainConfig, "pretrain", run_pretrain, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
