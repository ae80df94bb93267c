"""`alignment grpo`: reinforcement learning on problems with verifiable answers (stage 6, GRPO).

The picture from "Deep Dive into LLMs like ChatGPT": given a problem whose answer is known, the model practises.
It samples many solutions (the video: 15 solutions, 4 of them right); the ones that reach the right answer are
reinforced, and this repeats; the model finds what works for itself instead of imitating a worked solution
(DeepSeek-R1's recipe, with GRPO: each solution is scored against the others of its group, no value model).

    alignment grpo --config recipes/tiny/grpo.yaml

1. Problems: a prompt and an answer column from a local JSONL / Parquet file or a hub dataset (the tiny world's
   word problems of the split SFT never uses by default: runs/tiny/sft/conversations/rl_word_problems.jsonl).
2. Measure the input model on held-out problems: greedy accuracy, and `samples_per_problem` solutions sampled at
   temperature 1 per problem (pass@1, pass@k, and each problem's success rate: the video's "4 of 15").
3. Train: TRL's GRPOTrainer, every GRPOConfig field a recipe field; the rewards named in the recipe
   (alignment/rewards.py), each one's mean logged. A killed run resumes from its last checkpoint.
4. Measure again, and the skills that must stay (identity, the refusal stage's set (a), and for a tool-trained
   input model the tool_use stage's held-out python questions with its tools); metrics.json, plots of
   reward / accuracy / length over the steps and of the success rates before and after.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from alignment.recipe import RecipeError, stage_main
from alignment.rl_policy import kept_skills_lines, tool_questions_field
from alignment.sft_training import AssistantTrainingFields
from alignment.tools import TOOLS


@dataclass
class GRPOStageConfig(AssistantTrainingFields):
    """The training fields every assistant stage has (alignment/sft_training.py), the problems, the rewards and the
    measurements; every other field of TRL's GRPOConfig (num_generations, max_completion_length, beta, ...) too."""

    output_dir: str = field(default="runs/tiny/grpo", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/tool_use", metadata={
        "help": "The assistant to train (the tool_use stage's dir, any chat model dir or a hub id)."})
    problems: str = field(default="runs/tiny/sft/conversations/rl_word_problems.jsonl", metadata={
        "help": "The problems to practise on: a JSONL / Parquet file or dir, or a hub dataset id."})
    problems_split: str = field(default="train", metadata={"help": "The split of a hub dataset."})
    problems_config: str | None = field(default=None, metadata={"help": "The configuration of a hub dataset."})
    prompt_column: str = field(default="messages", metadata={
        "help": "The column with the problem: a string (the user's message) or a list of chat messages (a final "
                "assistant message, a worked solution, is dropped: GRPO finds its own)."})
    answer_column: str = field(default="answer", metadata={"help": "The column with the verifiable answer."})
    answer_pattern: str | None = field(default=None, metadata={
        "help": "A regular expression whose first group is the answer inside the answer column (GSM8K's worked "
                "solutions end '#### 72': '####\\s*(.+)$'); None: the whole column."})
    unreadable_answers: str = field(default="error", metadata={
        "help": "A row whose answer the pattern does not match, or that the answer check cannot read: error (a "
                "one-line error naming the row) or skip (counted in metrics.json; for large hub sets)."})
    problem_system_message: str | None = field(default=None, metadata={
        "help": "A system message put before every problem (e.g. how to give the final answer); None: the rows' own."})
    max_problems: int | None = field(default=None, metadata={"help": "Practise on at most this many (None: all)."})
    heldout: str | None = field(default="runs/tiny/sft/conversations/eval_word_problems.jsonl", metadata={
        "help": "Held-out problems (same columns) measured before and after; None: no measurement."})
    heldout_split: str = field(default="test", metadata={"help": "The split of a hub dataset given as heldout."})
    max_heldout: int | None = field(default=None, metadata={
        "help": "Measure greedy accuracy on at most this many held-out problems (None: all)."})
    tools: list[str] = field(default_factory=list, metadata={
        "help": "Tools offered while practising and while measuring (the registry's: python, search): TRL runs the "
                "calls in its rollouts, the measurements in our calling loop; search uses the index the input "
                "model's tools.json names. []: none."})
    max_calls: int = field(default=3, metadata={"help": "Tool calls per measured reply, at most."})
    use_vllm_if_available: bool = field(default=False, metadata={
        "help": "Generate with vLLM in colocate mode when a GPU and vllm are present (TRL's use_vllm + vllm_mode); "
                "off, with one line saying why, elsewhere."})
    rewards: list[str] = field(default_factory=lambda: ["accuracy", "format"], metadata={
        "help": "Rewards from alignment/rewards.py (accuracy, format, tool_success, length, repetition) or dotted "
                "import paths; weighed by TRL's reward_weights."})
    measure_problems: int = field(default=100, metadata={
        "help": "Held-out problems sampled for pass@k and the success-rate histogram (greedy accuracy uses all)."})
    samples_per_problem: int = field(default=16, metadata={"help": "Solutions sampled per measured problem."})
    pass_k: int = field(default=8, metadata={"help": "The k of pass@k (at most samples_per_problem)."})
    measure_temperature: float = field(default=1.0, metadata={"help": "Temperature of the sampled solutions."})
    skills_dir: str | None = field(default=None, metadata={
        "help": "The SFT stage's conversations dir: its identity set is measured before and after."})
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): the refusal stage's set (a) is measured too."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator}): identity is measured."})
    system_message: str | None = field(default=None, metadata={
        "help": "The default system message of the identity measurement (None: one that states the identity)."})
    tool_questions: int = tool_questions_field()

    TRAINER_ARGUMENTS: ClassVar[str] = "trl:GRPOConfig"

    def __post_init__(self):
        super().__post_init__()
        from alignment.rewards import resolve_rewards

        resolve_rewards(self.rewards, [])  # a name that is no reward is an error before anything loads
        if self.unreadable_answers not in ("error", "skip"):
            raise RecipeError(f"unreadable_answers: expected error or skip, got {self.unreadable_answers!r}")
        if self.answer_pattern is not None:
            import re

            try:
                pattern = re.compile(self.answer_pattern)
            except re.error as e:
                raise RecipeError(f"answer_pattern: not a regular expression ({e}): {self.answer_pattern!r}") from None
            if pattern.groups < 1:
                raise RecipeError(f"answer_pattern: needs a group around the answer, as in '####\\s*(.+)$': "
                                  f"{self.answer_pattern!r}")
        if not 1 <= self.pass_k <= self.samples_per_problem:
            raise RecipeError(f"pass_k: must be between 1 and samples_per_problem ({self.samples_per_problem}), "
                              f"got {self.pass_k}")


# --- problems --------------------------------------------------------------------------------------

def load_problems(source: str, cfg: GRPOStageConfig, limit: int | None = None, split: str | None = None,
                  skipped: list[str] | None = None) -> list[dict]:
    """[{"prompt": [messages], "answer": str}]: each row's problem as chat messages and its answer as text (the
    answer_pattern's group where the recipe has one). A row with no readable answer is an error, or is skipped with
    its reason appended to `skipped` (unreadable_answers: skip)."""
    import re

    import datasets

    from alignment.rewards import ANSWER_REWARDS, reference_problem

    pattern = re.compile(cfg.answer_pattern, re.MULTILINE) if cfg.answer_pattern else None
    checked = [r for r in cfg.rewards if r in ANSWER_REWARDS]
    path = Path(source)
    try:
        if path.is_file():
            kind = "parquet" if path.suffix == ".parquet" else "json"
            rows = datasets.load_dataset(kind, data_files=str(path), split="train")
        else:
            rows = datasets.load_dataset(source, cfg.problems_config, split=split or cfg.problems_split)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as e:
        raise RecipeError(f"problems: could not load {source!r}: {str(e).strip().splitlines()[0]}") from None
    for column in (cfg.prompt_column, cfg.answer_column):
        if column not in rows.column_names:
            raise RecipeError(f"{source}: no column {column!r} (columns: {', '.join(rows.column_names)}); set "
                              f"{'prompt_column' if column == cfg.prompt_column else 'answer_column'}")
    problems = []
    for number, row in enumerate(rows):
        if limit is not None and len(problems) >= limit:
            break
        problem, answer = row[cfg.prompt_column], row[cfg.answer_column]
        if isinstance(problem, str):
            prompt = [{"role": "user", "content": problem}]
        elif isinstance(problem, list) and problem and all(isinstance(m, dict) for m in problem):
            prompt = [{"role": m["role"], "content": m["content"]} for m in problem]
            if prompt[-1]["role"] == "assistant":
                prompt = prompt[:-1]
        else:
            prompt = []
        if not prompt or answer is None or str(answer).strip() == "":
            raise RecipeError(f"{source}: row {number}: expected a problem in {cfg.prompt_column!r} and an answer in "
                              f"{cfg.answer_column!r}")
        answer, problem = str(answer).strip(), None
        if pattern is not None:
            found = pattern.search(answer)
            if found:
                answer = found.group(1).strip()
            else:
                problem = f"answer_pattern {cfg.answer_pattern!r} does not match the answer {answer[-60:]!r}"
        if problem is None and checked:
            problem = reference_problem(answer, checked)
        if problem:
            if cfg.unreadable_answers == "error":
                raise RecipeError(f"{source}: row {number}: {problem}")
            if skipped is not None:
                skipped.append(f"row {number}: {problem}")
            continue
        if cfg.problem_system_message and prompt[0]["role"] != "system":
            prompt = [{"role": "system", "content": cfg.problem_system_message}] + prompt
        problems.append({"prompt": prompt, "answer": answer, **({"kind": row["kind"]} if row.get("kind") else {})})
    return problems


# --- measuring -------------------------------------------------------------------------------------

def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of Chen et al. (2021) from n samples of which c are right: 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def final_replies(model, tokenizer, stops: list[int], cfg: GRPOStageConfig, prompts: list[list[dict]],
                  max_new_tokens: int, temperature: float | None = None) -> list[dict]:
    """Each prompt's final reply ({"text": ...}), greedy or sampled; with the recipe's tools offered, through the calling
    loop (each reply's calls run, their results go back, up to max_calls)."""
    from alignment.evals.assistant_probes import generate_replies, replies_with_tools

    if not cfg.tools:
        return generate_replies(model, tokenizer, prompts, max_new_tokens, stops, batch_size=256,
                                temperature=temperature)
    exchanges = replies_with_tools(model, tokenizer, prompts, max_new_tokens, stops, cfg.tools, cfg.max_calls,
                                   batch_size=256, temperature=temperature)
    return [{"text": e.answer, "calls": len(e.calls)} for e in exchanges]


def measure_problems(model, tokenizer, stops: list[int], cfg: GRPOStageConfig, problems: list[dict],
                     max_new_tokens: int) -> dict:
    """Greedy accuracy on every held-out problem; pass@1, pass@k and each problem's success rate over
    `samples_per_problem` samples (temperature `measure_temperature`) on the first `measure_problems`."""
    from alignment.rewards import answer_checker

    accuracy = answer_checker(cfg.rewards)  # graded as the recipe's reward grades
    prompts = [p["prompt"] for p in problems]
    answers = [p["answer"] for p in problems]
    greedy = final_replies(model, tokenizer, stops, cfg, prompts, max_new_tokens)
    right = accuracy([r["text"] for r in greedy], answers)
    sampled_set = problems[:cfg.measure_problems]
    n = cfg.samples_per_problem
    import torch

    torch.manual_seed(cfg.seed)
    samples = final_replies(model, tokenizer, stops, cfg, [p["prompt"] for p in sampled_set for _ in range(n)],
                            max_new_tokens, temperature=cfg.measure_temperature)
    hits = accuracy([s["text"] for s in samples], [p["answer"] for p in sampled_set for _ in range(n)])
    counts = [int(sum(hits[i * n:(i + 1) * n])) for i in range(len(sampled_set))]
    return {
        "greedy_accuracy": round(sum(right) / len(right), 4),
        "problems": len(right),
        "sampled_problems": len(counts),
        "samples_per_problem": n,
        "pass@1": round(sum(c / n for c in counts) / len(counts), 4),
        f"pass@{cfg.pass_k}": round(sum(pass_at_k(n, c, cfg.pass_k) for c in counts) / len(counts), 4),
        "solved_per_problem": counts,
        "never_solved": sum(c == 0 for c in counts),
        "always_solved": sum(c == n for c in counts),
        "examples": [{"problem": p["prompt"][-1]["content"], "answer": p["answer"], "greedy": g["text"]}
                     for p, g in list(zip(problems, greedy))[:5]],
        **({"greedy_call_rate": round(sum(g["calls"] > 0 for g in greedy) / len(greedy), 4)} if cfg.tools else {}),
        **({"greedy_accuracy_by_kind": _by_kind(problems, right)} if any("kind" in p for p in problems) else {}),
    }


def _by_kind(problems: list[dict], right: list[float]) -> dict:
    """Greedy accuracy per problem kind (a `kind` column: letters, products, comparisons for the python questions)."""
    kinds: dict[str, list[float]] = {}
    for problem, hit in zip(problems, right):
        kinds.setdefault(problem.get("kind", "other"), []).append(hit)
    return {kind: round(sum(hits) / len(hits), 4) for kind, hits in sorted(kinds.items())}


# --- plots -----------------------------------------------------------------------------------------

def plot_training(history: list[dict], path: Path) -> None:
    """Reward, accuracy and completion length over the optimizer steps (TRL's logged means)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key):
        return [(h["step"], h[key]) for h in history if key in h]

    panels = [("reward", "reward (sum, weighted)"), ("rewards/accuracy/mean", "accuracy reward"),
              ("completions/mean_length", "completion length (tokens)")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, (key, label) in zip(axes, panels):
        points = series(key)
        if points:
            ax.plot(*zip(*points), "-")
        ax.set_xlabel("optimizer step")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_success_rates(before: list[int], after: list[int], n: int, path: Path) -> None:
    """How many problems each model solved k of n times: the video's "4 of 15", before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = list(range(n + 2))
    ax.hist([before, after], bins=bins, label=["before (input model)", "after GRPO"], align="left", rwidth=0.9)
    ax.set_xlabel(f"solutions right, of {n} sampled")
    ax.set_ylabel("problems")
    ax.set_xticks(range(0, n + 1, max(1, n // 8)))
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the stage -------------------------------------------------------------------------------------

def grpo_arguments(cfg: GRPOStageConfig, out: Path, precision: str):
    """TRL's GRPOConfig for the recipe: the shared trainer settings, then every GRPOConfig field it sets."""
    from alignment.training import trainer_arguments, trainer_settings

    # the settings first: trainer_arguments points trackio at its folder, which TRL's GRPO module reads on import
    settings = {**trainer_settings(cfg, out, precision), "data_seed": cfg.seed,
                "activation_checkpointing": cfg.gradient_checkpointing, **vllm_settings(cfg)}
    from trl import GRPOConfig

    return trainer_arguments(GRPOConfig, settings, cfg)


def build_grpo_trainer(cfg: GRPOStageConfig, args, model, tokenizer, chat, stops: list[int], train, precision: str):
    """(TRL's GRPOTrainer on `train`, its tokens/s callback, the tokenizer's document EOS). The tokenizer's EOS
    becomes the end of turn while it trains (restore_tokenizer undoes it)."""
    from trl import GRPOTrainer
    from trl.chat_template_utils import is_chat_template_prefix_preserving

    from alignment.rewards import resolve_rewards
    from alignment.rl_policy import turn_end_token
    from alignment.sft_training import lora_config
    from alignment.training import TokensPerSecond, trainer_optimizers

    document_eos = tokenizer.eos_token
    tokenizer.eos_token = turn_end_token(tokenizer, stops)
    tokenizer.padding_side = "left"
    tools = [rollout_tool(name, cfg.tools) for name in cfg.tools]
    if tools and not is_chat_template_prefix_preserving(tokenizer):
        # TRL's multi-turn rollouts need a prefix-preserving template, and would ask get_training_chat_template
        # for one, which knows only TRL's own: ours is the training variant, which renders a tool exchange as the
        # tool_use stage trained it (the inference template drops earlier turns' reasoning blocks)
        if not chat.training_template:
            raise RecipeError("tools: the chat template is not prefix-preserving and has no training variant; "
                              "TRL's multi-turn GRPO needs one (set chat_template)")
        tokenizer.chat_template = chat.training_template
        if not is_chat_template_prefix_preserving(tokenizer):
            raise RecipeError("tools: neither the chat template nor its training variant is prefix-preserving, which "
                              "TRL's multi-turn GRPO needs (set chat_template)")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"grpo: {cfg.model_name_or_path} ({n_params / 1e6:.2f} M parameters), {len(train)} problems, "
          f"{args.num_generations} solutions each, rewards {', '.join(cfg.rewards)}; {precision}", flush=True)
    speed = TokensPerSecond(None, n_params, args.max_completion_length, model.config)
    trainer = GRPOTrainer(model=model, reward_funcs=resolve_rewards(cfg.rewards, stops), args=args,
                          train_dataset=train, processing_class=tokenizer, peft_config=lora_config(cfg),
                          tools=tools or None,
                          callbacks=[speed], optimizers=trainer_optimizers(model, cfg, precision))
    return trainer, speed, document_eos


def rollout_tool(name: str, offered: list[str]):
    """The registry's tool `name` as TRL calls it (`tool(**arguments)`), with the checks of our calling loop: a call
    with missing or wrong arguments gets the registry's one-line "Error: ..." as its result (which `tool_success`
    counts), not TRL's "{'error': ...}" from an exception."""
    import functools

    from alignment.tools import call_tool

    @functools.wraps(TOOLS[name])
    def tool(**arguments) -> str:
        return call_tool(name, arguments, offered)

    return tool


def run_grpo(cfg: GRPOStageConfig) -> dict:
    from alignment.metrics import PhaseClock, StageRun
    from alignment.rl_policy import copy_tool_offer, measure_kept_skills, restore_tokenizer
    from alignment.sft_training import prepare_model, save_assistant, start_over_if_changed
    from alignment.training import last_checkpoint, measured_model, resolve_precision
    from alignment.recipe import to_yaml

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    skipped: dict[str, list[str]] = {"problems": [], "heldout": []}
    train_problems = load_problems(cfg.problems, cfg, cfg.max_problems, skipped=skipped["problems"])
    heldout = load_problems(cfg.heldout, cfg, cfg.max_heldout, cfg.heldout_split, skipped["heldout"]) \
        if cfg.heldout else []
    for name, reasons in skipped.items():
        if reasons:
            print(f"grpo: {len(reasons)} {name} skipped (unreadable_answers: skip), the first: {reasons[0]}")
    use_tools(cfg)
    with StageRun("grpo", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        clock = PhaseClock("grpo")
        model, tokenizer, chat, stops = prepare_model(cfg, precision)
        args = grpo_arguments(cfg, out, precision)
        budget = args.max_completion_length
        before = measure_problems(model, tokenizer, stops, cfg, heldout, budget) if heldout else {}
        kept_before = measure_kept_skills(model, tokenizer, stops, cfg, tool_questions=cfg.tool_questions)
        clock.done("measure_before")

        import datasets

        train = datasets.Dataset.from_list(train_problems)
        with args.main_process_first(desc="check the checkpoints"):
            if args.process_index == 0:
                start_over_if_changed(cfg, "grpo", out, [json.dumps(train_problems)])
                (out / "recipe.yaml").write_text(to_yaml(cfg))
        trainer, speed, document_eos = build_grpo_trainer(cfg, args, model, tokenizer, chat, stops, train, precision)
        n_params = sum(p.numel() for p in model.parameters())
        resume = last_checkpoint(out / "checkpoints")
        if resume:
            print(f"grpo: resuming from {resume}", flush=True)
        trainer.train(resume_from_checkpoint=resume)
        clock.done("train")
        if not trainer.is_world_process_zero():
            return {}

        restore_tokenizer(tokenizer, chat, document_eos)
        model = save_assistant(cfg, measured_model(trainer), tokenizer, chat, stops, out)
        copy_tool_offer(Path(cfg.model_name_or_path), out)
        history = trainer.state.log_history
        plot_training(history, out / "training_curves.png")

        after = measure_problems(model, tokenizer, stops, cfg, heldout, budget) if heldout else {}
        kept_after = measure_kept_skills(model, tokenizer, stops, cfg, tool_questions=cfg.tool_questions)
        clock.done("measure_after")
        if heldout:
            plot_success_rates(before["solved_per_problem"], after["solved_per_problem"], cfg.samples_per_problem,
                               out / "success_rates.png")
        record = run.write({
            "base_model": cfg.model_name_or_path,
            "parameters": n_params,
            "precision": precision,
            "train_problems": len(train),
            "skipped_problems": {name: len(reasons) for name, reasons in skipped.items()},
            "global_step": trainer.state.global_step,
            "num_generations": args.num_generations,
            "rewards": cfg.rewards,
            "training_log": [{k: v for k, v in h.items() if k == "step" or k.startswith(("reward", "completions"))}
                             for h in history if "reward" in h],
            "tokens_per_second": speed.summary(),
            "before": before,
            "after": after,
            "kept_before": kept_before,
            "kept_after": kept_after,
            **_headlines(before, after, cfg),
            "phase_seconds": clock.seconds,
        })
    _print_table(record, cfg, out)
    return record


def use_tools(cfg: GRPOStageConfig) -> None:
    """The recipe's tools ready to run, before anything loads: python needs a sandbox (never a fallback to running
    unsandboxed), search the index that the input model's tools.json names."""
    unknown = sorted(set(cfg.tools) - set(TOOLS))
    if unknown:
        raise RecipeError(f"tools: unknown {', '.join(unknown)} (tools: {', '.join(TOOLS)})")
    if "python" in cfg.tools:
        from alignment.tools.python_sandbox import SandboxUnavailable, check_sandbox

        try:
            check_sandbox()
        except SandboxUnavailable as e:
            raise RecipeError(f"tools: the python sandbox cannot start here ({e})") from None
    if "search" in cfg.tools:
        from alignment.tools import offered_tools, use_search_index

        offer = offered_tools(Path(cfg.model_name_or_path)) or {}
        if not offer.get("search_index"):
            raise RecipeError(f"tools: search needs a search index, and {cfg.model_name_or_path} has no tools.json "
                              "naming one (the tool_use stage writes it)")
        use_search_index(offer["search_index"], offer.get("top_k", 2))


def vllm_settings(cfg: GRPOStageConfig) -> dict:
    """TRL's vLLM fields for use_vllm_if_available: colocate (vLLM shares the training GPUs: no server to start)
    where CUDA and vllm are both present; nothing, and a line saying why, elsewhere."""
    if not cfg.use_vllm_if_available:
        return {}
    import importlib.util

    import torch

    missing = ("no CUDA GPU" if not torch.cuda.is_available() else
               "vllm is not installed" if importlib.util.find_spec("vllm") is None else None)
    if missing:
        print(f"grpo: generating with transformers, not vLLM: {missing}", flush=True)
        return {}
    return {"use_vllm": True, "vllm_mode": "colocate"}


def _headlines(before: dict, after: dict, cfg: GRPOStageConfig) -> dict:
    if not before:
        return {}
    k = f"pass@{cfg.pass_k}"
    return {"greedy_accuracy_before": before["greedy_accuracy"], "greedy_accuracy_after": after["greedy_accuracy"],
            f"{k}_before": before[k], f"{k}_after": after[k],
            "pass@1_before": before["pass@1"], "pass@1_after": after["pass@1"]}


def _print_table(record: dict, cfg: GRPOStageConfig, out: Path) -> None:
    b, a = record["before"], record["after"]
    print(f"\ngrpo: {record['global_step']} steps on {record['train_problems']} problems, "
          f"{record['num_generations']} solutions each; {record['tokens_per_second']}")
    if b:
        k = f"pass@{cfg.pass_k}"
        print(f"  {'held out':<28} {'before':>8} {'after':>8}")
        for key in ("greedy_accuracy", "pass@1", k, "never_solved", "always_solved"):
            print(f"  {key:<28} {b[key]:>8} {a[key]:>8}")
    for line in kept_skills_lines(record["kept_before"], record["kept_after"], 28):
        print(line)
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def main(argv: list[str]) -> int:
    return stage_main(GRPOStageConfig, "grpo", run_grpo, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
