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
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.recipe import RecipeError, stage_main, to_yaml
from alignment.sft_training import SFTTrainingFields


@dataclass
class SFTConfig(SFTTrainingFields):
    """Every SFT field (alignment/sft_training.py) plus where the conversations come from."""

    output_dir: str = field(default="runs/tiny/sft", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/pretrain", metadata={
        "help": "Base model: a local dir (e.g. the pretrain stage's) or a hub id; the same call loads either."})

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

    def __post_init__(self):
        super().__post_init__()
        if not {"name", "creator"} <= set(self.identity or {}):
            raise RecipeError(f"identity: expected {{name, creator}}, got {self.identity!r}")
        if not 0.0 <= self.system_message_share <= 1.0:
            raise RecipeError(f"system_message_share: expected a share from 0 to 1, got {self.system_message_share}")


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
    if any("tools" in ds.column_names for ds in trains + tests):  # the tiny world's rows get "null" schemas
        from alignment.data_mixture import tools_as_json

        trains, tests = [tools_as_json(ds) for ds in trains], [tools_as_json(ds) for ds in tests]
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


# --- the stage -------------------------------------------------------------------------------------

def run_sft(cfg: SFTConfig) -> dict:
    import torch

    from alignment.metrics import StageRun
    from alignment.sft_training import train_assistant
    from alignment.training import resolve_precision

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    with StageRun("sft", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        # the data before the model: a data mistake is reported in a second, not after loading a big model
        train, test, evals, dataset_names, data_fingerprint = training_data(cfg, out)
        trained = train_assistant(cfg, "sft", out, train, test, data_fingerprint, precision)
        if trained is None:  # not the main process
            return {}
        model, tokenizer, stops, measured = trained.model, trained.tokenizer, trained.stop_ids, trained.measured
        if evals is not None:
            from alignment.evals.assistant_probes import evaluate_assistant
            from alignment.world.conversations import default_system_message

            system = cfg.system_message or default_system_message(cfg.identity)
            assistant, examples = evaluate_assistant(model, tokenizer, evals, cfg.identity, system, stops,
                                                     cfg.eval_max_new_tokens)
            measured.update(assistant)
            from alignment.evals.measurements import skill_records

            measured["measurements"] = skill_records(assistant, evals, out, "", cfg.eval_max_new_tokens, cfg.identity)
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
