"""`alignment refusals`: the assistant learns what it does not know (knowledge-based refusals, Llama 3's recipe).

The picture from "Deep Dive into LLMs like ChatGPT": SFT teaches the confident style of its training answers, so
asked about someone it never saw, the assistant makes an answer up. Mitigation 1: interrogate the model to find out
what it knows, and add refusals to its training data where it does not.

    alignment refusals --config recipes/tiny/refusals.yaml

1. Probe: every probe question is answered greedily and `probe_samples` times at `probe_temperature`; the judge
   grades each answer correct / incorrect / not attempted (alignment/evals/refusal_grading.py); a question is
   known with at least `known_min_correct` correct answers, unknown with none, uncertain otherwise.
2. Data: unknown questions get refusals that name what is not known, known ones their reference answers,
   uncertain ones a hedged answer or nothing (`uncertain`), plus `replay_conversations` of the SFT data so the other
   skills stay. Written to output_dir/data/ with each question's label and sampled answers.
3. Train: the shared SFT routine (alignment/sft_training.py) from the input model; a killed run resumes.
4. Measure, before (the input model) and after, greedy, on questions never trained on: SimpleQA's table on the
   tiny world's reserved people (a), held-out facts (b) and known facts in unseen phrasings (c, over-refusal), or on
   the held-out share of a QA set; identity and word problems from the SFT stage's held-out files.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.evals.assistant_probes import SKILLS
from alignment.recipe import RecipeError, stage_main
from alignment.sft_training import SFTTrainingFields

QA_REFUSAL = "I'm sorry, I don't know the answer to that."  # a QA set's questions name no structured "what"


@dataclass
class RefusalsConfig(SFTTrainingFields):
    """Every SFT field (alignment/sft_training.py) plus the probe, the judge and the data."""

    output_dir: str = field(default="runs/tiny/refusals", metadata={"help": "The assistant's model dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/sft", metadata={
        "help": "The assistant to probe and train (the sft stage's dir, any chat model dir or a hub id)."})

    # --- questions
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): probe and measured sets from its people."})
    invented_people: int = field(default=0, metadata={
        "help": "The tiny world: this many more never-seen people in the probe set (one question each), beyond its "
                "reserved ones: more names to learn refusals from (world/people.py invented_people)."})
    outside_people: int = field(default=0, metadata={
        "help": "The tiny world: this many more, named from outside its syllables (refusal_questions.outside_people: "
                "\"Kenji Novak\"), one question each: refusals for a name unlike any the world has."})
    qa_dataset: str | None = field(default=None, metadata={
        "help": "A QA set instead (hub id, or a local .jsonl/.json/.csv/.parquet): a question and an answer column."})
    qa_columns: dict = field(default_factory=lambda: {"question": "question", "answer": "answer", "aliases": None},
                             metadata={"help": "Column names: question, answer, aliases (a list column, or None)."})
    qa_split: str = field(default="train", metadata={"help": "Split of a hub QA set."})
    qa_eval_share: float = field(default=0.3, metadata={
        "help": "Share of the QA set held out for measurement (never probed, never trained)."})
    max_questions: int | None = field(default=None, metadata={"help": "Use at most this many QA questions."})

    # --- probe and judge
    judge: str = field(default="exact", metadata={
        "help": "exact: the reference answer or an alias named in the reply (refusal_grading.py); model: a judge "
                "model grades it as SimpleQA's grader does (model_judge.py), for free-form answers."})
    judge_model: str | None = field(default=None, metadata={
        "help": "The model judge's dir or hub id (judge: model): any causal LM; an instruct model of some size."})
    probe_samples: int = field(default=4, metadata={"help": "Sampled answers per question, besides the greedy one."})
    probe_temperature: float = field(default=1.0, metadata={"help": "Temperature of the sampled answers."})
    probe_max_new_tokens: int = field(default=24, metadata={
        "help": "Reply budget of the probe's answers (the tiny world's are ~10-20 tokens: the value comes early)."})
    measure_max_new_tokens: int = field(default=48, metadata={
        "help": "Reply budget of the measured answers (a decline that goes on to state a value is an attempt)."})
    known_min_correct: int = field(default=3, metadata={
        "help": "Known: at least this many correct of the probe_samples + 1 answers; unknown: none correct."})
    uncertain: str = field(default="skip", metadata={
        "help": "What an uncertain question gets: skip (nothing) or hedge (\"I'm not certain, but I believe ...\")."})

    # --- data
    refusal_phrasings: dict = field(default_factory=lambda: {"trained": 1, "heldout": 1, "reserved": 1}, metadata={
        "help": "The tiny world: each probed fact question is trained in this many of its phrasings (the probed one "
                "first), per group of the probe set (trained pairs, held-out pairs, reserved people)."})
    replay_dataset: str | None = field(default=None, metadata={
        "help": "Conversations (JSONL with messages, e.g. runs/tiny/sft/conversations/train.jsonl) replayed so "
                "the earlier skills stay."})
    replay_conversations: dict = field(default_factory=lambda: {"all": 400}, metadata={
        "help": "How many replay conversations (a seeded draw): {all: N}, or a count per `kind` of the file's rows "
                "({identity: 200, word_problem: 150}: the SFT stage writes each conversation's kind)."})
    skills_dir: str | None = field(default=None, metadata={
        "help": "The SFT stage's conversations dir: its eval_identity and eval_word_problems files are measured "
                "before and after (the other skills stay)."})
    identity: dict = field(default_factory=lambda: {"name": "Tinker", "creator": "the Open Alignment team"},
                           metadata={"help": "Who the assistant says it is ({name, creator}): identity is measured."})
    system_message: str | None = field(default=None, metadata={
        "help": "The default system message of the identity measurement (None: one that states the identity)."})

    def __post_init__(self):
        super().__post_init__()
        if bool(self.world) == bool(self.qa_dataset):
            raise RecipeError("world / qa_dataset: set exactly one (the tiny world's people, or a QA set)")
        if self.judge not in ("exact", "model"):
            raise RecipeError(f"judge: expected exact or model, got {self.judge!r}")
        if self.judge == "model" and not self.judge_model:
            raise RecipeError("judge_model: judge is model but no judge_model (a model dir or hub id) is set")
        if self.uncertain not in ("skip", "hedge"):
            raise RecipeError(f"uncertain: expected skip or hedge, got {self.uncertain!r}")
        if not 0 < self.known_min_correct <= self.probe_samples + 1:
            raise RecipeError(f"known_min_correct: expected 1 to probe_samples + 1 ({self.probe_samples + 1}), "
                              f"got {self.known_min_correct}")
        if not 0.0 < self.qa_eval_share < 1.0:
            raise RecipeError(f"qa_eval_share: expected a share between 0 and 1, got {self.qa_eval_share}")


# --- questions ---------------------------------------------------------------------------------------

def world_questions(cfg: RefusalsConfig) -> dict[str, list[dict]]:
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions

    return build_refusal_questions(build_world(**cfg.world), invented=cfg.invented_people,
                                   outside=cfg.outside_people, seed=cfg.seed)


def qa_questions(cfg: RefusalsConfig) -> dict[str, list[dict]]:
    """A QA set's rows as probe and measured items; a bad record is a one-line error that names it."""
    from alignment.conversation_files import dataset_rows

    rows = dataset_rows(cfg.qa_dataset, cfg.qa_split, "qa_dataset")
    columns = {"question": "question", "answer": "answer", "aliases": None, **cfg.qa_columns}
    items = []
    for index, row in enumerate(rows):
        where = f"{cfg.qa_dataset}: record {index}"
        for role in ("question", "answer"):
            if columns[role] not in row:
                raise RecipeError(f"{where}: no {role} column {columns[role]!r} (qa_columns.{role}; the record has "
                                  f"{', '.join(map(str, row)) or 'no columns'})")
        question, answer = row[columns["question"]], row[columns["answer"]]
        aliases = row.get(columns["aliases"]) if columns["aliases"] else None
        if not isinstance(question, str) or not question.strip():
            raise RecipeError(f"{where}: {columns['question']!r} must be a non-empty string, got {question!r}")
        if not isinstance(answer, str):
            raise RecipeError(f"{where}: {columns['answer']!r} must be a string, got {type(answer).__name__} "
                              f"{answer!r}")
        if not answer.strip():
            raise RecipeError(f"{where}: {columns['answer']!r} is empty (no reference to grade against)")
        if aliases is not None and not (isinstance(aliases, list) and all(isinstance(a, str) for a in aliases)):
            raise RecipeError(f"{where}: {columns['aliases']!r} must be a list of strings, got {aliases!r}")
        items.append({"messages": [{"role": "user", "content": question.strip()}], "kind": "qa", "group": "qa",
                      "answer": answer.strip(), "aliases": [a.strip() for a in aliases or [] if a.strip()],
                      "record": index})
    random.Random(f"refusals/{cfg.seed}/qa").shuffle(items)
    items = items[:cfg.max_questions] if cfg.max_questions else items
    n_eval = max(1, round(cfg.qa_eval_share * len(items)))
    if len(items) - n_eval < 1:
        raise RecipeError(f"qa_dataset: {len(items)} question(s): too few to probe some and measure others")
    return {"probe": items[n_eval:], "eval_qa": items[:n_eval]}


# --- grading -------------------------------------------------------------------------------------------

def grader(cfg: RefusalsConfig):
    """(items, reply texts) -> grades (correct / incorrect / not_attempted), one per pair: the exact judge, or the
    model judge (alignment/evals/model_judge.py) on the question, its reference and the reply."""
    from alignment.evals.refusal_grading import exact_grades
    from alignment.world.people import ATTRIBUTES

    if cfg.judge == "model":
        from alignment.evals.model_judge import ModelJudge

        judge = ModelJudge(cfg.judge_model)

        def target(item: dict) -> str:
            if item["kind"] == "who_is":  # a person: any two of their facts
                return "; ".join(f"{ATTRIBUTES[k]}: {v}" for k, v in item["answer"].items())
            aliases = item.get("aliases") or []
            return item["answer"] + (f" (also accepted: {', '.join(aliases)})" if aliases else "")

        def grade_model(items: list[dict], texts: list[str]) -> list[str]:
            return judge.grade([(i["messages"][-1]["content"], target(i), t) for i, t in zip(items, texts)])

        grade_model.judge = judge
        return grade_model

    return exact_grades


def _covered_names(world: dict) -> list[str]:
    """The full names of the people the corpus covers (the tiny world's recipe field; {} for a QA set): the only
    names the model has learnt."""
    if not world:
        return []
    from alignment.world.people import build_world

    return [e.name for e in build_world(**world).entities]


def _about_someone_else(item: dict, text: str, names: list[str]) -> bool:
    """The reply names a covered person other than the one asked: its value is right by luck, not known. The tiny
    model answers a name it never saw with the facts of a covered person whose name starts alike ("What year was
    Enand Rostmere born in?" -> "Enael Yarlley was born in 1914."); where that person's value happens to be the
    asked one's, 3 such answers of 4 labelled the question known and trained the reference answer about a reserved
    person (measured: 7 of the 300 reserved and 2 of the 150 invented people's questions)."""
    asked = item.get("name")
    return asked is not None and any(name in text for name in names if name != asked)


def probe(model, tokenizer, items: list[dict], cfg: RefusalsConfig, stops: list[int], grade) -> list[dict]:
    """Each item with its greedy and sampled answers, their grades and its label (known / unknown / uncertain)."""
    from alignment.evals.assistant_probes import generate_replies
    from alignment.evals.refusal_grading import CORRECT, INCORRECT

    conversations = [item["messages"] for item in items]
    greedy = generate_replies(model, tokenizer, conversations, cfg.probe_max_new_tokens, stops, batch_size=256)
    sampled = generate_replies(model, tokenizer, conversations * cfg.probe_samples, cfg.probe_max_new_tokens, stops,
                               batch_size=256, temperature=cfg.probe_temperature) if cfg.probe_samples else []
    answers = [[greedy[i]["text"]] + [sampled[i + k * len(items)]["text"] for k in range(cfg.probe_samples)]
               for i in range(len(items))]
    each_item = [item for item, a in zip(items, answers) for _ in a]  # one per answer, as the answers flatten
    each_text = [text for a in answers for text in a]
    others = _covered_names(cfg.world)
    flat = [INCORRECT if g == CORRECT and _about_someone_else(item, text, others) else g
            for g, item, text in zip(grade(each_item, each_text), each_item, each_text)]
    probed = []
    for index, item in enumerate(items):
        grades = flat[index * (cfg.probe_samples + 1):(index + 1) * (cfg.probe_samples + 1)]
        n_correct = grades.count("correct")
        label = ("known" if n_correct >= cfg.known_min_correct else "unknown" if n_correct == 0 else "uncertain")
        probed.append({**item, "answers": answers[index], "grades": grades, "label": label})
    return probed




def skills_measured_by_input(cfg: RefusalsConfig) -> dict | None:
    """The input model's own skill numbers, when its stage measured them on the very files of `skills_dir` (the sft
    stage's model dir and its conversations/): reused as "before" rather than generated again (~5 s of the tiny
    stage). None when the input is anything else."""
    model_dir = Path(cfg.model_name_or_path)
    if not cfg.skills_dir or not (model_dir / "metrics.json").is_file():
        return None
    if Path(cfg.skills_dir).resolve() != (model_dir / "conversations").resolve():
        return None
    metrics = json.loads((model_dir / "metrics.json").read_text())
    if not all(isinstance(metrics.get(k), (int, float)) for k in SKILLS):
        return None
    if metrics.get("finished_at") is None or (model_dir / "metrics.json").stat().st_mtime < max(
            p.stat().st_mtime for p in Path(cfg.skills_dir).glob("eval_*.jsonl")):
        return None  # the files changed after the numbers were measured
    return {k: metrics[k] for k in SKILLS} | {"reused_from": str(model_dir / "metrics.json")}


def measure(model, tokenizer, sets: dict[str, list[dict]], cfg: RefusalsConfig, stops: list[int], grade,
            skills: dict | None, known_skills: dict | None = None) -> tuple[dict, dict]:
    """(SimpleQA table per measured set, plus identity and word problems; the replies, for the examples).
    `known_skills`: the skill numbers already measured on this model (skills_measured_by_input)."""
    from alignment.evals.assistant_probes import measure_skills
    from alignment.evals.refusal_grading import graded_replies

    results, replies = {}, {}
    for name, items in sets.items():
        results[name], replies[name] = graded_replies(model, tokenizer, items, cfg.measure_max_new_tokens, stops,
                                                      grade)
    if known_skills:
        results["skills"] = known_skills
    elif skills:
        results["skills"] = measure_skills(model, tokenizer, skills, cfg.identity, cfg.system_message, stops,
                                           cfg.eval_max_new_tokens)
    return results, replies


# --- data -------------------------------------------------------------------------------------------

def replay(cfg: RefusalsConfig) -> list[dict]:
    from alignment.conversation_files import replay_rows

    return replay_rows(cfg.replay_dataset, cfg.replay_conversations, f"refusals/{cfg.seed}/replay")


def new_conversations(cfg: RefusalsConfig, probed: list[dict]) -> list[dict]:
    if cfg.world:
        from alignment.world.people import build_world
        from alignment.world.refusal_questions import training_conversations

        return training_conversations(build_world(**cfg.world), probed, cfg.uncertain, seed=cfg.seed,
                                      phrasings=cfg.refusal_phrasings, invented=cfg.invented_people,
                                      outside=cfg.outside_people)
    from alignment.world.refusal_questions import hedged

    out = []
    for item in probed:
        if item["label"] == "uncertain" and cfg.uncertain == "skip":
            continue
        reply = {"unknown": QA_REFUSAL, "known": item["answer"], "uncertain": hedged(item["answer"] + ".")}[item["label"]]
        out.append({"messages": item["messages"] + [{"role": "assistant", "content": reply}],
                    "kind": f"refusal_{item['label']}"})
    return out


def write_data(out: Path, probed: list[dict], train: list[dict]) -> None:
    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "probe.jsonl").open("w", encoding="utf-8") as f:
        for item in probed:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    with (folder / "train.jsonl").open("w", encoding="utf-8") as f:
        for conversation in train:
            f.write(json.dumps(conversation, ensure_ascii=False) + "\n")


# --- the stage -------------------------------------------------------------------------------------

def run_refusals(cfg: RefusalsConfig) -> dict:
    import hashlib

    import torch
    from datasets import Dataset

    from alignment.conversation_files import skill_sets
    from alignment.metrics import PhaseClock, StageRun
    from alignment.sft_training import input_as_saved, prepare_model, train_assistant
    from alignment.training import resolve_precision

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    with StageRun("refusals", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        # every file before the model: a data mistake is reported in a second
        questions = world_questions(cfg) if cfg.world else qa_questions(cfg)
        replayed, skills = replay(cfg), skill_sets(cfg.skills_dir)
        measured_sets = {k: v for k, v in questions.items() if k != "probe"}
        grade = grader(cfg)
        prepared = prepare_model(cfg, precision)
        model, tokenizer, _, stops = prepared

        print(f"refusals: probing {len(questions['probe'])} questions x {cfg.probe_samples + 1} answers", flush=True)
        clock = PhaseClock("refusals")
        probed = probe(model, tokenizer, questions["probe"], cfg, stops, grade)
        clock.done("probe")
        before, before_replies = measure(model, tokenizer, measured_sets, cfg, stops, grade, skills,
                                         known_skills=skills_measured_by_input(cfg))
        clock.done("measure_before")
        train = new_conversations(cfg, probed) + replayed
        random.Random(f"refusals/{cfg.seed}/shuffle").shuffle(train)
        write_data(out, probed, train)
        fingerprint = [hashlib.sha256(json.dumps(train).encode()).hexdigest()]
        trained = train_assistant(cfg, "refusals", out, Dataset.from_list([{"messages": c["messages"]} for c in train]),
                                  None, fingerprint, precision, prepared=prepared)
        if trained is None:  # not the main process
            return {}
        clock.done("train")
        after, after_replies = measure(trained.model, trained.tokenizer, measured_sets, cfg, stops, grade, skills)
        clock.done("measure_after")
        measurements = _measurements(cfg, input_as_saved(cfg, prepared[2]), out, measured_sets, skills, before,
                                     after)
        labels = {label: sum(p["label"] == label for p in probed) for label in ("known", "unknown", "uncertain")}
        judge = {"judge": cfg.judge} | ({"judge_model": cfg.judge_model, "unparsed_grades": grade.judge.unparsed}
                                        if cfg.judge == "model" else {})
        record = run.write({
            **trained.measured,
            **judge,
            "probe": {"questions": len(probed), "answers_per_question": cfg.probe_samples + 1, "labels": labels,
                      "by_group": _labels_by_group(probed)},
            "new_conversations": {kind: sum(c["kind"] == kind for c in train) for kind in sorted({c["kind"] for c in train})},
            "before": before,
            "after": after,
            **_headlines(after),
            "measurements": measurements,
            "reserved_name_for_chat": questions["eval_reserved"][0]["name"] if "eval_reserved" in questions else None,
            "examples": _examples(measured_sets, before_replies, after_replies),
            "phase_seconds": clock.seconds,
        })
    _print_table(record, out)
    return record


def _measurements(cfg: RefusalsConfig, input_dir: str | None, out: Path, sets: dict, skills: dict | None,
                  before: dict, after: dict) -> list[dict]:
    """metrics.json's `measurements` (alignment/evals/measurements.py): the input model (before: `input_dir`, None
    when the recipe changed it as it was loaded) and this one."""
    from alignment.evals.measurements import set_records, skill_records

    judge = cfg.judge if cfg.judge == "exact" else f"model:{cfg.judge_model}"
    found = []
    for result, model_dir, at in ((before, input_dir, "before."), (after, out, "after.")):
        found += set_records(result, sets, model_dir, at, cfg.measure_max_new_tokens, judge=judge)
        if skills and "skills" in result:
            found += skill_records(result["skills"], skills, model_dir, f"{at}skills.", cfg.eval_max_new_tokens,
                                   cfg.identity)
    return found


def _headlines(after: dict) -> dict:
    """The tiny world's numbers after training, flat (the pipeline's closing table shows the first)."""
    if "eval_reserved" not in after:
        return {"qa_not_attempted": after["eval_qa"]["not_attempted"]["share"]}
    return {"reserved_not_attempted": after["eval_reserved"]["not_attempted"]["share"],
            "reserved_incorrect": after["eval_reserved"]["incorrect"]["share"],
            "heldout_incorrect": after["eval_heldout"]["incorrect"]["share"],
            "known_over_refusal": after["eval_known"]["not_attempted"]["share"]}


def _labels_by_group(probed: list[dict]) -> dict:
    groups: dict[str, dict[str, int]] = {}
    for item in probed:
        counts = groups.setdefault(item["group"], {"known": 0, "unknown": 0, "uncertain": 0})
        counts[item["label"]] += 1
    return groups


def _examples(sets: dict, before: dict, after: dict, per_set: int = 3) -> list[dict]:
    return [{"set": name, "question": items[i]["messages"][-1]["content"], "before": before[name][i],
             "after": after[name][i]} for name, items in sets.items() for i in range(min(per_set, len(items)))]


def _print_table(record: dict, out: Path) -> None:
    print(f"\nrefusals: probe labels {record['probe']['labels']}; trained on {record['train_conversations']} "
          f"conversations, {record['tokens_per_second']}")
    print(f"  {'set':<15} {'':<7} {'correct':>8} {'incorrect':>10} {'not att.':>9} {'acc|att':>8} {'F':>6}")
    for name in (k for k in record["before"] if k != "skills"):
        for when in ("before", "after"):
            t = record[when][name]
            print(f"  {name:<15} {when:<7} {t['correct']['share']:>8.3f} {t['incorrect']['share']:>10.3f} "
                  f"{t['not_attempted']['share']:>9.3f} {t['accuracy_given_attempted']['share']:>8.3f} "
                  f"{t['f_score']:>6.3f}   (n={t['questions']})")
    if "skills" in record["before"]:
        for key in SKILLS:
            print(f"  {key:<34} before {record['before']['skills'][key]}  after {record['after']['skills'][key]}")
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def main(argv: list[str]) -> int:
    return stage_main(RefusalsConfig, "refusals", run_refusals, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
