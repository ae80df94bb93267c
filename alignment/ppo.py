"""`alignment ppo`: RL against the reward model, guarded against reward hacking (stage 6, RLHF part 2).

The picture from "Deep Dive into LLMs like ChatGPT": the reward model is a lossy simulation of people, and RL
against it finds what it scores highly and no person would ("the the the the"). Run long enough, the policy games
it: the proxy score keeps rising while the people's own (gold) score peaks and falls (Gao et al. 2022).

    alignment ppo --config recipes/tiny/ppo.yaml              # guarded: KL penalty + audits by the people
    alignment ppo --config recipes/tiny/ppo_unguarded.yaml    # no KL, no audit: the over-optimisation shown

1. PPO from `trl.experimental.ppo` (every PPOConfig field a recipe field): policy and reference = the input model,
   reward = the reward stage's model, value model initialised from it. Generation stops at the end of the turn: the
   tokenizer's EOS becomes <|im_end|> while it trains, the pad token (<|endoftext|>) stays apart.
2. Audits every `audit_every` steps (and before the first): a batch of audit prompts is answered by the policy and
   scored by the tiny world's people (fresh gold scores, counted as the human budget) and by the reward model, with
   the KL to the reference, distinct-2, the repetition rate, and the share it declines of the refusal stage's
   probe questions about the reserved people it taught to decline (its lesson; fact and "Who is X?" questions).
   With `guard: true` the best-audited policy is kept, and training stops when the gold score falls `patience`
   audits in a row while the proxy rises, when the replies degenerate (distinct-2 below `min_distinct_2`,
   repetition above `max_repetition`), or when it declines `max_decline_drop` less than the input model did (no
   such policy is kept); the run ends on the kept policy. PPOTrainer.train() ignores a callback's stop request, so
   the stop is an exception of ours around it.
3. Measure the input model and the result on the held-out note prompts: proxy score, gold score, KL to the
   reference, length, distinct-2 and repetition of sampled replies, and the gold score of greedy ones; what earlier
   stages taught (identity, the sft stage's word problems, the refusal stage's set (a)). metrics.json; a plot of
   gold and proxy score against sqrt(KL) over the audits (with another run's beside it: `compare_with`), and the
   audits' sample replies.

A killed run starts again from the input model: PPOTrainer.train() takes no checkpoint to resume from.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from alignment.recipe import RecipeError, stage_main
from alignment.rl_policy import kept_skills_lines, tool_questions_field
from alignment.sft_training import AssistantTrainingFields

# TRL prints a notice on importing trl.experimental (here: as the recipe's PPOConfig fields are read); the module
# docstring and the README say PPO is TRL's experimental trainer, and a recipe error stays one line
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


@dataclass
class PPOStageConfig(AssistantTrainingFields):
    """The training fields every assistant stage has (alignment/sft_training.py), the reward model, the audits and
    the guard; every other field of TRL's PPOConfig (kl_coef, response_length, num_ppo_epochs, ...) too."""

    output_dir: str = field(default="runs/tiny/ppo", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/tool_use", metadata={
        "help": "The policy to train, and the reference its KL is measured against (any chat model dir or hub id)."})
    reward_model: str = field(default="runs/tiny/reward", metadata={
        "help": "The reward model (the reward stage's dir): a one-output sequence classifier on the policy's "
                "tokenizer."})
    value_model: str | None = field(default=None, metadata={
        "help": "The value model's starting weights (None: the reward model's, as TRL's examples do)."})
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): the note prompts, the people's audits and gold "
                "scores, and the refusal stage's set (a)."})
    train_prompts: int | None = field(default=None, metadata={
        "help": "Practise on at most this many of the training note prompts (None: all: 5 per covered person, 300 "
                "in the tiny world, plus unknown_people)."})
    labeller: dict = field(default_factory=lambda: {"lapse": 0.2, "tie_margin": 0.02, "seed": 0}, metadata={
        "help": "The tiny world's people (preference_labeller.Labeller), who give the audits' gold scores."})
    unknown_people: int = field(default=0, metadata={
        "help": "Training note prompts about this many people in no corpus besides the world's (preference_labeller."
                "rlhf_note_prompts): the people prefer a decline there, so practising notes does not undo refusals."})

    # --- audits and the guard
    audit_every: int = field(default=5, metadata={"help": "Audit every N PPO steps (0: never)."})
    audit_prompts: int = field(default=30, metadata={"help": "Audit prompts answered and scored at each audit."})
    guard: bool = field(default=True, metadata={
        "help": "Keep the best-audited policy and stop on a falling gold score or degenerate replies (false: train "
                "to the end and keep the last policy, the audits only measure)."})
    patience: int = field(default=2, metadata={
        "help": "Stop when the gold score falls this many audits in a row while the proxy score rises."})
    min_distinct_2: float = field(default=0.2, metadata={
        "help": "Stop when the audit replies' distinct word pairs, over all of them, fall below this share."})
    max_repetition: float = field(default=0.5, metadata={
        "help": "Stop when the audit replies repeat, on average, more than this share of their own word pairs."})
    unknown_questions: int = field(default=60, metadata={
        "help": "Questions about people in no corpus asked at each audit (the refusal stage's probe questions about "
                "the reserved people it taught to decline: none of the measured set (a), none of PPO's note "
                "prompts; those people and set (a) are the world's, and which questions are asked follows this "
                "stage's seed): the share declined, the refusal stage's lesson, is watched (0: not asked; at most "
                "3 x the probe half of n_reserved, 300 in the tiny world)."})
    max_decline_drop: float | None = field(default=0.05, metadata={
        "help": "The guard keeps no policy, and stops the run, once the audit's decline share on those questions is "
                "this far below the input model's (None: declines are measured, not guarded)."})
    measure_samples: int = field(default=4, metadata={
        "help": "Sampled replies per held-out prompt, before and after (the gain is paired by prompt: with one sample "
                "each, the input model measured twice differed by 1.3 standard errors)."})
    examples_per_audit: int = field(default=3, metadata={"help": "Audit replies saved per audit (examples.jsonl)."})
    compare_with: str | None = field(default=None, metadata={
        "help": "Another ppo run's output dir (the unguarded one) whose audits the plot shows beside this run's."})

    # --- what must stay
    skills_dir: str | None = field(default=None, metadata={
        "help": "The SFT stage's conversations dir: identity and word problems are measured before and after."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator}): identity is measured."})
    system_message: str | None = field(default=None, metadata={
        "help": "The default system message of the identity measurement (None: one that states the identity)."})
    tool_questions: int = tool_questions_field()

    TRAINER_ARGUMENTS: ClassVar[str] = "trl.experimental.ppo:PPOConfig"

    def __post_init__(self):
        super().__post_init__()
        if self.world is None:
            raise RecipeError("world: the ppo stage's prompts and audits come from the tiny world ({seed, n_entities, "
                              "n_reserved})")
        if self.audit_every < 0 or (self.guard and self.audit_every == 0):
            raise RecipeError(f"audit_every: the guard audits every N > 0 steps, got {self.audit_every} (set guard: "
                              "false for a run without audits)")
        unknown = set(self.labeller) - {"lapse", "tie_margin", "seed"}
        if unknown:
            raise RecipeError(f"labeller: unknown field {', '.join(sorted(unknown))} (fields: lapse, tie_margin, seed)")


# --- the numbers of a batch of replies --------------------------------------------------------------------

def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[\w'-]+", text.lower())


def distinct_2(texts: list[str]) -> float:
    """Distinct word pairs over all the replies together: falls when the replies collapse into one."""
    pairs = [p for t in texts for p in zip(_words(t), _words(t)[1:])]
    return round(len(set(pairs)) / len(pairs), 4) if pairs else 0.0


def repetition(texts: list[str]) -> float:
    """The mean share of a reply's own word pairs that repeat an earlier one ("the the the": nearly all)."""
    shares = []
    for text in texts:
        words = _words(text)
        pairs = list(zip(words, words[1:]))
        if pairs:
            shares.append(1 - len(set(pairs)) / len(pairs))
    return round(sum(shares) / len(shares), 4) if shares else 0.0


class Scorer:
    """Samples the policy's replies to note prompts and scores them: the people's gold score, the reward model's
    proxy score, and the KL to the reference on the very tokens sampled (k1, temperature-scaled logits as PPO
    computes its own)."""

    def __init__(self, tokenizer, reference, reward_model, stop_id: int, temperature: float, max_new_tokens: int):
        self.tokenizer, self.reference, self.reward_model = tokenizer, reference, reward_model
        self.stop_id, self.temperature, self.max_new_tokens = stop_id, temperature, max_new_tokens
        self.pad_id = tokenizer.pad_token_id
        self.gold_scores_given = 0  # the "human" budget: every gold score an audit or a measurement asked for

    def _token_logprobs(self, model, sequences, mask, width: int):
        import torch

        logits = model(input_ids=sequences, attention_mask=mask).logits[:, width - 1:-1].float()
        logits = logits / (self.temperature + 1e-7)
        return torch.gather(logits.log_softmax(-1), 2, sequences[:, width:].unsqueeze(-1)).squeeze(-1)

    def sample(self, policy, prompts: list[dict], greedy: bool = False, batch_size: int = 64) -> dict:
        """Replies to `prompts` (sampled at the temperature, or greedy) and their numbers; `replies` in order."""
        import torch

        from alignment.evals.assistant_probes import _visible
        from alignment.evals.base_model_probes import left_padded
        from alignment.evals.preference_labeller import gold_score
        from alignment.evals.reward_model_scores import scores_of_ids

        texts, kls, proxies, lengths = [], [], [], []
        was_training = policy.training
        policy.eval()
        device = next(policy.parameters()).device
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            queries = [self.tokenizer.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=True,
                                                          return_dict=True)["input_ids"] for p in chunk]
            ids, mask = left_padded(queries, self.pad_id)
            ids, mask = ids.to(device), mask.to(device)
            width = ids.shape[1]
            sampling = {"do_sample": False} if greedy else {"do_sample": True, "temperature": self.temperature,
                                                             "top_k": 0, "top_p": 1.0}
            with torch.no_grad():
                out = policy.generate(ids, attention_mask=mask, max_new_tokens=self.max_new_tokens,
                                      eos_token_id=self.stop_id, pad_token_id=self.pad_id, **sampling)
                responses = out[:, width:]
                stopped = (responses == self.stop_id).int()
                # every token after the first stop is padding (the stop itself is part of the reply)
                after = (stopped.cumsum(1) - stopped) > 0
                response_mask = ~after
                full_mask = torch.cat([mask, response_mask.long()], 1)
                if not greedy:
                    own = self._token_logprobs(policy, out, full_mask, width)
                    ref = self._token_logprobs(self.reference, out, full_mask, width)
                    kls += ((own - ref) * response_mask).sum(1).tolist()
            for query, response, keep in zip(queries, responses.tolist(), response_mask.tolist()):
                body = [t for t, k in zip(response, keep) if k]
                texts.append(_visible(self.tokenizer.decode([t for t in body if t != self.stop_id],
                                                            skip_special_tokens=True)))
                lengths.append(len(body))
                proxies.append(query + body)
            del out
        policy.train(was_training)
        proxy = scores_of_ids(self.reward_model, self.pad_id, proxies)
        gold = [gold_score(p, t) for p, t in zip(prompts, texts)]
        self.gold_scores_given += len(gold)
        return {"replies": texts, "gold": gold, "proxy": proxy, "kl": kls, "tokens": lengths}


def unknown_person_questions(world, count: int, seed: int) -> list[dict]:
    """`count` of the refusal stage's probe questions about the reserved people it taught to decline (fact and
    "Who is X?" questions; a seeded draw): items for exact_grades. They are disjoint from the measured set (a),
    which the kept skills report, and from the invented people of PPO's note prompts, so the guard watches the
    refusal stage's lesson on people PPO never practises on, and the final measurement is not the guard's."""
    import random

    from alignment.world.refusal_questions import build_refusal_questions

    taught = [i for i in build_refusal_questions(world)["probe"] if i["group"] == "reserved"]
    if count > len(taught):
        raise RecipeError(f"unknown_questions: the refusal stage has {len(taught)} probe questions about reserved "
                          f"people, asked {count}")
    return random.Random(f"ppo/{seed}/unknown").sample(taught, count)


def decline_share(policy, tokenizer, stops: list[int], items: list[dict], max_new_tokens: int) -> float:
    """The share of `items` the policy declines (greedy; SimpleQA's not attempted, alignment/evals/refusal_grading)."""
    from alignment.evals.assistant_probes import generate_replies
    from alignment.evals.refusal_grading import NOT_ATTEMPTED, exact_grades

    was_training = policy.training
    texts = [r["text"] for r in generate_replies(policy, tokenizer, [i["messages"] for i in items], max_new_tokens,
                                                 stops, batch_size=128)]
    policy.train(was_training)
    return round(exact_grades(items, texts).count(NOT_ATTEMPTED) / len(items), 4)


def summary(scored: dict) -> dict:
    """Means (with standard errors) of a batch's numbers, and its distinct-2 and repetition."""
    from alignment.evals.measurements import mean_and_stderr

    out = {}
    for key in ("gold", "proxy", "kl", "tokens"):
        if scored[key]:
            mean, error = mean_and_stderr([float(v) for v in scored[key]])
            out[key] = {"mean": mean, "stderr": error}
    out["distinct_2"] = distinct_2(scored["replies"])
    out["repetition"] = repetition(scored["replies"])
    out["words"] = round(sum(len(_words(t)) for t in scored["replies"]) / len(scored["replies"]), 2)
    return out


def paired_gain(before: list[float], after: list[float], per_prompt: int = 1) -> dict:
    """after - before on the same prompts (`per_prompt` replies each, in prompt order, averaged first): the mean gain
    and its standard error from the per-prompt differences."""
    from alignment.evals.measurements import mean_and_stderr

    def by_prompt(values):
        return [sum(values[i:i + per_prompt]) / per_prompt for i in range(0, len(values), per_prompt)]

    mean, error = mean_and_stderr([a - b for a, b in zip(by_prompt(after), by_prompt(before))])
    return {"mean": mean, "stderr": error, "standard_errors": round(mean / error, 2) if error else None}


# --- audits and the guard ---------------------------------------------------------------------------

class StopPPO(Exception):
    """Raised by the audit to end PPOTrainer.train(), which does not honour a callback's stop request."""


def audit_callback(cfg: PPOStageConfig, scorer: Scorer, audit_set: list[dict], unknown: list[dict], stops: list[int]):
    """A TrainerCallback that audits the policy every `audit_every` steps (and before the first) and, with the
    guard on, keeps the best-audited weights and stops the run (StopPPO) on falling gold or degenerate replies."""
    import copy

    from transformers import TrainerCallback

    class Audit(TrainerCallback):
        def __init__(self):
            self.trainer = None  # set once the trainer exists
            self.history: list[dict] = []
            self.examples: list[dict] = []
            self.best: dict | None = None
            self.best_state = None
            self.falls = 0
            self.stopped_because: str | None = None

        def policy(self):
            return self.trainer.accelerator.unwrap_model(self.trainer.model).policy

        def run(self, step: int) -> None:
            policy = self.policy()
            scored = scorer.sample(policy, audit_set)
            entry = {"step": step, **summary(scored)}
            entry["sqrt_kl"] = round(math.sqrt(max(entry["kl"]["mean"], 0.0)), 4)
            if unknown:
                entry["declines_unknown"] = decline_share(policy, scorer.tokenizer, stops, unknown, 48)
            self.history.append(entry)
            self.examples += [{"step": step, "prompt": p["messages"][-1]["content"], "reply": r,
                               "gold": g, "proxy": round(x, 4)}
                              for p, r, g, x in list(zip(audit_set, scored["replies"], scored["gold"],
                                                         scored["proxy"]))[:cfg.examples_per_audit]]
            print(f"ppo: audit at step {step}: gold {entry['gold']['mean']:.3f}, proxy {entry['proxy']['mean']:.3f}, "
                  f"KL {entry['kl']['mean']:.2f}, distinct-2 {entry['distinct_2']}, repetition {entry['repetition']}"
                  + (f", declines {entry['declines_unknown']}" if unknown else ""), flush=True)
            if not cfg.guard:
                return
            forgot = (unknown and cfg.max_decline_drop is not None and step > 0
                      and entry["declines_unknown"] < self.history[0]["declines_unknown"] - cfg.max_decline_drop)
            degenerate = step > 0 and (entry["distinct_2"] < cfg.min_distinct_2
                                       or entry["repetition"] > cfg.max_repetition)
            if not (forgot or degenerate):  # a policy that stopped declining or babbles is no candidate
                self.keep(entry, policy)
            if step == 0:  # the input model's own replies are no reason to stop
                return
            if len(self.history) > 1:
                last = self.history[-2]
                falling = (entry["gold"]["mean"] < last["gold"]["mean"]
                           and entry["proxy"]["mean"] > last["proxy"]["mean"])
                self.falls = self.falls + 1 if falling else 0
            if forgot:
                self.stopped_because = (f"declines on unknown people {entry['declines_unknown']} < "
                                        f"{self.history[0]['declines_unknown']} - {cfg.max_decline_drop} (step {step})")
            elif self.falls >= cfg.patience:
                self.stopped_because = (f"gold fell {self.falls} audits in a row while the proxy rose "
                                        f"(step {step})")
            elif entry["distinct_2"] < cfg.min_distinct_2:
                self.stopped_because = f"distinct-2 {entry['distinct_2']} < {cfg.min_distinct_2} (step {step})"
            elif entry["repetition"] > cfg.max_repetition:
                self.stopped_because = f"repetition {entry['repetition']} > {cfg.max_repetition} (step {step})"
            if self.stopped_because:
                raise StopPPO(self.stopped_because)

        def keep(self, entry: dict, policy) -> None:
            """The best-audited weights so far (a copy on the CPU: the tiny policy is 7 MB)."""
            if self.best is None or entry["gold"]["mean"] > self.best["gold"]["mean"]:
                self.best = entry
                self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in policy.state_dict().items()})

        def on_train_begin(self, args, state, control, **kwargs):
            if cfg.audit_every:
                self.run(0)

        def on_step_end(self, args, state, control, **kwargs):
            if cfg.audit_every and state.global_step % cfg.audit_every == 0:
                self.run(state.global_step)

    return Audit()


def plot_over_kl(runs: dict[str, list[dict]], path: Path) -> None:
    """Gold and proxy score of the audits against sqrt(KL to the reference), one line per run (Gao et al.'s axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in runs.items():
        x = [h["sqrt_kl"] for h in history]
        axes[0].plot(x, [h["gold"]["mean"] for h in history], "o-", label=name)
        axes[1].plot(x, [h["proxy"]["mean"] for h in history], "o-", label=name)
    for ax, title in zip(axes, ("gold score (the people)", "proxy score (the reward model)")):
        ax.set_xlabel("sqrt(KL to the reference), nats")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the stage -------------------------------------------------------------------------------------

def ppo_arguments(cfg: PPOStageConfig, out: Path, precision: str):
    from alignment.training import trainer_arguments, trainer_settings

    settings = {**trainer_settings(cfg, out, precision), "stop_token": "eos", "num_sample_generations": 0,
                "save_strategy": "no", "seed": cfg.seed}
    from trl.experimental.ppo import PPOConfig

    return trainer_arguments(PPOConfig, settings, cfg)


def _scorer_dirs(cfg: PPOStageConfig) -> tuple[tuple[str, str], ...]:
    return ("reward_model", cfg.reward_model), ("value_model", cfg.value_model or cfg.reward_model)


def check_tokenizers(cfg: PPOStageConfig) -> None:
    """The reward and value models read the policy's token ids as they are: the same vocabulary."""
    from alignment.chat_setup import check_same_vocabulary

    check_same_vocabulary(("model_name_or_path", cfg.tokenizer or cfg.model_name_or_path), _scorer_dirs(cfg),
                          "PPO hands it the policy's token ids (train it on this policy: alignment reward)")


def load_scorers(cfg: PPOStageConfig, tokenizer):
    """(reward model, value model): one-output sequence classifiers that read the policy's token ids."""
    import torch
    from transformers import AutoModelForSequenceClassification

    models = []
    for name, path in _scorer_dirs(cfg):
        try:
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise RecipeError(f"{name}: could not load {path!r}: {str(e).strip().splitlines()[0]}") from None
        model.config.pad_token_id = tokenizer.pad_token_id
        models.append(model)
    return models


def run_ppo(cfg: PPOStageConfig) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM

    from alignment.evals.preference_labeller import rlhf_note_prompts
    from alignment.rl_policy import copy_tool_offer, measure_kept_skills, restore_tokenizer, turn_end_token
    from alignment.metrics import PhaseClock, StageRun
    from alignment.recipe import to_yaml
    from alignment.sft_training import prepare_model, save_assistant
    from alignment.training import resolve_precision
    from alignment.world.people import build_world

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    check_tokenizers(cfg)
    with StageRun("ppo", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        clock = PhaseClock("ppo")
        world = build_world(**cfg.world)
        sets = rlhf_note_prompts(world, cfg.seed, cfg.unknown_people)
        # before any model loads: too many questions is a recipe error, not minutes later
        unknown = unknown_person_questions(world, cfg.unknown_questions, cfg.seed) if cfg.unknown_questions else []
        train_prompts = sets["train"][:cfg.train_prompts]
        heldout, audit_set = sets["heldout"], sets["audit"][:cfg.audit_prompts]
        torch.manual_seed(cfg.seed)
        policy, tokenizer, chat, stops = prepare_model(cfg, precision)
        reward_model, value_model = load_scorers(cfg, tokenizer)
        # in the policy's own dtype: the step-0 KL is 0 only if the reference computes exactly what the policy does
        reference = AutoModelForCausalLM.from_pretrained(cfg.model_name_or_path,
                                                         dtype=next(policy.parameters()).dtype).eval()
        args = ppo_arguments(cfg, out, precision)
        from accelerate import PartialState

        processes = PartialState().num_processes  # PPOConfig's own world_size field is only filled in by the trainer
        if processes > 1 and cfg.audit_every:
            # each process samples its own audit replies (TRL seeds them apart): their guards could disagree
            raise RecipeError(f"audit_every: the audits and the guard run on one process, not {processes} "
                              "(set audit_every: 0 and guard: false for a multi-process run)")
        (out / "recipe.yaml").write_text(to_yaml(cfg))

        document_eos = tokenizer.eos_token
        tokenizer.eos_token = turn_end_token(tokenizer, stops)  # PPO stops at the EOS and checks for it
        if tokenizer.pad_token_id == tokenizer.eos_token_id:
            raise RecipeError("model_name_or_path: its pad token is its end of turn; PPO masks by the pad token, so "
                              "they must differ")
        tokenizer.padding_side = "left"
        scorer = Scorer(tokenizer, reference, reward_model, tokenizer.eos_token_id, args.temperature,
                        args.response_length)

        repeated = [p for p in heldout for _ in range(cfg.measure_samples)]  # a prompt's samples side by side
        before = scorer.sample(policy, repeated)
        before_greedy = scorer.sample(policy, heldout, greedy=True)
        kept_before = measure_kept_skills(policy, tokenizer, stops, cfg, word_problems=True,
                                          tool_questions=cfg.tool_questions)
        clock.done("measure_before")

        def queries(prompts):
            return datasets.Dataset.from_list([{"input_ids": tokenizer.apply_chat_template(
                p["messages"], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]}
                for p in prompts])

        from trl.experimental.ppo import PPOTrainer

        audit = audit_callback(cfg, scorer, audit_set, unknown, stops)
        print(f"ppo: {cfg.model_name_or_path} against {cfg.reward_model}, {len(train_prompts)} prompts, "
              f"{args.per_device_train_batch_size * args.gradient_accumulation_steps} a step, kl_coef {args.kl_coef}, "
              f"guard {'on' if cfg.guard else 'off'}; {precision}", flush=True)
        trainer = PPOTrainer(args=args, processing_class=tokenizer, model=policy, ref_model=reference,
                             reward_model=reward_model, value_model=value_model, train_dataset=queries(train_prompts),
                             eval_dataset=queries(heldout[:args.per_device_eval_batch_size]), callbacks=[audit])
        audit.trainer = trainer
        try:
            trainer.train()
            stopped = None
        except StopPPO as e:
            stopped = str(e)
            print(f"ppo: stopped by the guard: {stopped}", flush=True)
        clock.done("train")
        policy = audit.policy()
        if cfg.guard and audit.best_state is not None:
            policy.load_state_dict(audit.best_state)
        kept_step = audit.best["step"] if cfg.guard and audit.best else trainer.state.global_step

        kept_input = kept_step == 0  # the input model kept: sampling it again would report noise as a gain
        after = before if kept_input else scorer.sample(policy, repeated)
        after_greedy = before_greedy if kept_input else scorer.sample(policy, heldout, greedy=True)
        restore_tokenizer(tokenizer, chat, document_eos)
        kept_after = kept_before if kept_input else measure_kept_skills(policy, tokenizer, stops, cfg,
                                                                        word_problems=True,
                                                                        tool_questions=cfg.tool_questions)
        clock.done("measure_after")
        save_assistant(cfg, policy, tokenizer, chat, stops, out)
        copy_tool_offer(Path(cfg.model_name_or_path), out)

        runs = {out.name: audit.history}
        if cfg.compare_with and (Path(cfg.compare_with) / "metrics.json").is_file():
            other = json.loads((Path(cfg.compare_with) / "metrics.json").read_text())
            runs[Path(cfg.compare_with).name] = other.get("audits", [])
        if audit.history:
            plot_over_kl(runs, out / "gold_and_proxy_over_kl.png")
        with (out / "examples.jsonl").open("w", encoding="utf-8") as f:
            for example in audit.examples:
                f.write(json.dumps(example, ensure_ascii=False) + "\n")
        history = trainer.state.log_history
        record = run.write({
            "base_model": cfg.model_name_or_path,
            "reward_model": cfg.reward_model,
            "precision": precision,
            "train_prompts": len(train_prompts),
            "global_step": trainer.state.global_step,
            "kept_step": kept_step,
            "stopped_by_guard": stopped,
            "guard": cfg.guard,
            "kl_coef": args.kl_coef,
            "before": summary(before),
            "after": summary(after),
            "measure_samples": cfg.measure_samples,
            "gold_gain": paired_gain(before["gold"], after["gold"], cfg.measure_samples),
            "proxy_gain": paired_gain(before["proxy"], after["proxy"], cfg.measure_samples),
            "greedy_gold_before": summary(before_greedy)["gold"],
            "greedy_gold_after": summary(after_greedy)["gold"],
            "kept_before": kept_before,
            "kept_after": kept_after,
            "audits": audit.history,
            "gold_scores_given": scorer.gold_scores_given,
            "training_log": [{k: v for k, v in h.items() if k == "step" or k.startswith(("objective", "loss", "val"))}
                             for h in history if "objective/scores" in h],
            "examples": [{"prompt": p["messages"][-1]["content"], "before": b, "after": a}
                         for p, b, a in list(zip(heldout, before_greedy["replies"], after_greedy["replies"]))[:6]],
            "phase_seconds": clock.seconds,
        })
    _print_table(record, out)
    return record


def _print_table(record: dict, out: Path) -> None:
    b, a = record["before"], record["after"]
    print(f"\nppo: {record['global_step']} steps, kept step {record['kept_step']}"
          f"{'; ' + record['stopped_by_guard'] if record['stopped_by_guard'] else ''}")
    print(f"  {'held out (sampled)':<22} {'before':>8} {'after':>8}")
    for key in ("gold", "proxy", "kl", "tokens"):
        print(f"  {key:<22} {b[key]['mean']:>8.3f} {a[key]['mean']:>8.3f}")
    for key in ("distinct_2", "repetition", "words"):
        print(f"  {key:<22} {b[key]:>8} {a[key]:>8}")
    print(f"  {'gold, greedy':<22} {record['greedy_gold_before']['mean']:>8.3f} "
          f"{record['greedy_gold_after']['mean']:>8.3f}")
    gain = record["gold_gain"]
    verdict = ("the guard kept the input model: its measurements are the before column" if record["kept_step"] == 0
               else f"gold gain {gain['mean']:+.4f} +- {gain['stderr']} ({gain['standard_errors']} standard errors)")
    print(f"  {verdict}; {record['gold_scores_given']} gold scores asked of the people")
    for line in kept_skills_lines(record["kept_before"], record["kept_after"], 22):
        print(line)
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def main(argv: list[str]) -> int:
    return stage_main(PPOStageConfig, "ppo", run_ppo, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
