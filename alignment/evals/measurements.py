"""What a measurement is, so that a number measured once is found again and reused (`alignment eval`).

A held-out number is fixed by three things, each a fingerprint:
- the suite (`suite_key`): its name, its items (every question and its reference answer) and how they are asked
  (reply budget, system message, tools offered, the grader's settings);
- the model (`model_sha256`): the model dir's weights, config, tokenizer and chat template files;
- the code (`code_sha256`): the measurement code (alignment/evals, world, tools, chat_format.py, rewards.py) and the
  versions of torch and transformers, whose kernels and generation loop produce the replies.

Every stage that measures a model on a suite records it in its metrics.json, under `measurements`:

    {"suite": "identity", "key": ..., "model_sha256": ..., "code_sha256": ..., "value": 0.97, "stderr": 0.017,
     "n": 100, "at": "after.skills"}

`at` is where the full result lies in the same metrics.json. `alignment eval` looks for each (model, suite) cell
among every recorded measurement and computes only the cells that nobody measured with the same three fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import metadata
from pathlib import Path

# a column of EleutherAI's harness (alignment/evals/harness.py): HARNESS_PREFIX + its task name
HARNESS_PREFIX = "lm_eval:"
# suite -> (column label, the share it reports, whether higher is better): the columns of the eval table, in order
SUITES = {
    "few_shot_facts": ("few-shot facts", "multiple choice accuracy (chance 25%)", True),
    "open_facts": ("open facts", "held-out fact questions answered right", True),
    "identity": ("identity", "identity questions answered with the name (no system message)", True),
    "word_problems": ("word problems", "held-out word problems right", True),
    "refusal_reserved": ("(a) unknown declined", "questions about reserved people declined", True),
    "refusal_heldout": ("(b) held-out incorrect", "held-out facts answered wrong", False),
    "refusal_known": ("(c) over-refused", "known facts declined in new phrasings", False),
    "letters": ("letters", "letter counts right (with the model's tools)", True),
    "products": ("products", "products of big numbers right (with the model's tools)", True),
    "comparisons": ("comparisons", "decimal comparisons right (with the model's tools)", True),
    "search_found": ("searched facts", "facts of covered people right (with the model's tools)", True),
    "search_not_found": ("not-found incorrect", "questions about people no page has answered wrong "
                                                "(with the model's tools)", False),
    "gold_preference": ("gold preference", "mean gold score (0 to 1) of a note about each covered person, by the "
                                           "tiny world's labeller (alignment/evals/preference_labeller.py)", True),
}
# suites whose cell is a mean score with its own standard error, not a share of questions
MEAN_SUITES = ("gold_preference",)
# the suites a base model (no chat template of its own, no assistant training) is measured on
BASE_SUITES = ("few_shot_facts",)

# the files whose code produces a measured number: generation, grading, the world's items, tools, the chat format
CODE_FILES = ("evals/*.py", "world/*.py", "tools/*.py", "chat_format.py", "chat_setup.py", "rewards.py",
              "conversation_files.py", "eval.py")
CODE_PACKAGES = ("torch", "transformers", "tokenizers")
# a model dir's files that decide its replies (its checkpoints/, logs and metrics are not the model)
MODEL_FILES = ("*.safetensors", "*.bin", "config.json", "generation_config.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json",
               "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")

_CODE_SHA: list[str] = []
_MODEL_SHA: dict[tuple, str] = {}


def _sha(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def code_sha256() -> str:
    """Of the measurement code, the package versions and the device kind (a GPU measures in other kernels, and
    in bf16); computed once a process (~70 small files). Read without importing torch: a process that has not
    imported it (the arena, reusing eval's replies) measures nothing on a GPU, and counts as a CPU."""
    import sys

    if not _CODE_SHA:
        root = Path(__file__).resolve().parent.parent
        files = sorted({p for pattern in CODE_FILES for p in root.glob(pattern)})
        parts = [p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() for p in files]
        for name in CODE_PACKAGES:
            try:
                parts.append(f"{name}=={metadata.version(name)}".encode())
            except metadata.PackageNotFoundError:
                parts.append(f"{name} missing".encode())
        torch = sys.modules.get("torch")
        parts.append(b"cuda" if torch is not None and torch.cuda.is_available() else b"cpu")
        _CODE_SHA.append(_sha(parts))
    return _CODE_SHA[0]


def model_sha256(model_dir) -> str | None:
    """Of a local model dir's own files (MODEL_FILES); None for a hub id or a dir without weights, which nothing
    reuses. Hashing reads the weights once: ~7 MB for the tiny model, ~1 s a GB."""
    if model_dir is None:
        return None
    folder = Path(str(model_dir))
    if not folder.is_dir():
        return None
    files = sorted({p for pattern in MODEL_FILES for p in folder.glob(pattern) if p.is_file()})
    if not any(p.suffix in (".safetensors", ".bin") for p in files) or (folder / "adapter_config.json").is_file():
        return None  # no weights; or LoRA adapters, whose replies depend on a base model elsewhere
    seen = (str(folder.resolve()), tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if seen not in _MODEL_SHA:  # a stage records several sets of one model: read its files once
        _MODEL_SHA[seen] = _sha([p.name.encode() + b"\0" + p.read_bytes() for p in files])
    return _MODEL_SHA[seen]


def suite_key(suite: str, items: list | dict, **how) -> str:
    """Of the suite's name, its items (as JSON: the questions and their references) and every setting of how they
    are asked and graded (`how`: max_new_tokens, system, tools, ...)."""
    if suite not in SUITES and not suite.startswith(HARNESS_PREFIX):
        raise KeyError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}, or {HARNESS_PREFIX}<task>")
    text = json.dumps({"suite": suite, "items": items, "how": how}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def headline(suite: str, result: dict) -> tuple[float, int]:
    """(share, questions) of a suite's result, in the forms the stages write: {"accuracy", "questions"}, a SimpleQA
    table (alignment/evals/refusal_grading.py) or the few-shot probe's fact_recall."""
    if suite == "few_shot_facts":
        return result["multiple_choice_accuracy"], result["questions"]
    if suite.startswith(HARNESS_PREFIX):
        return result["metrics"][result["headline"]], result["samples"]
    if "accuracy" in result:
        return result["accuracy"], result["questions"]
    if suite in MEAN_SUITES:
        return result["mean"], result["questions"]
    part = {"refusal_reserved": "not_attempted", "refusal_heldout": "incorrect", "refusal_known": "not_attempted",
            "search_found": "correct", "search_not_found": "incorrect"}[suite]
    return result[part]["share"], result["questions"]


def stderr(share: float, n: int) -> float | None:
    return round(math.sqrt(share * (1 - share) / n), 4) if n else None


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """A mean score and its standard error, from the values' own spread (not a share's sqrt(p(1-p)/n))."""
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return round(mean, 4), round(spread / math.sqrt(len(values)), 4)


def record(suite: str, key: str, model_dir, result: dict, at: str) -> dict:
    """One entry of a metrics.json's `measurements`: `result` measured on the files of `model_dir`."""
    value, n = headline(suite, result)
    if suite.startswith(HARNESS_PREFIX):
        error = result["stderr"].get(result["headline"])
    else:
        error = result["stderr"] if suite in MEAN_SUITES else stderr(value, n)
    return {"suite": suite, "key": key, "model_sha256": model_sha256(model_dir), "code_sha256": code_sha256(),
            "value": value, "stderr": error, "n": n, "at": at}


def recorded(metrics_files: list[Path]) -> list[dict]:
    """Every measurement the given metrics.json files record (a file that is missing or unreadable has none)."""
    found = []
    for path in metrics_files:
        try:
            metrics = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        for entry in metrics.get("measurements") or []:
            if isinstance(entry, dict) and entry.get("model_sha256"):
                found.append({**entry, "source": str(path)})
    return found


# --- the stages' held-out sets as suites ----------------------------------------------------------------

# a measured set's name, as the stages name them (alignment/world), -> its suite
SET_SUITES = {"eval_facts": "open_facts", "eval_identity": "identity", "eval_word_problems": "word_problems",
              "eval_reserved": "refusal_reserved", "eval_heldout": "refusal_heldout", "eval_known": "refusal_known",
              "eval_letters": "letters", "eval_products": "products", "eval_comparisons": "comparisons",
              "eval_found": "search_found", "eval_not_found": "search_not_found"}
# evaluate_assistant's flat numbers (alignment/evals/assistant_probes.py) for the sets it measures
ASSISTANT_NUMBERS = {"eval_identity": "identity_accuracy_no_system", "eval_word_problems": "word_problem_accuracy",
                     "eval_facts": "fact_accuracy"}


def folder_sha256(folder) -> str | None:
    """Of every file under `folder` (a search index: what the search tool returns depends on it)."""
    root = Path(str(folder))
    if not root.is_dir():
        return None
    return _sha([p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes()
                 for p in sorted(root.rglob("*")) if p.is_file()])


def tools_offer(tools: list[str], index_dir, top_k: int, max_calls: int) -> dict:
    """How tools are offered, for a suite key: their names, the index search reads, its top-k, the calls allowed."""
    offer = {"tools": sorted(tools), "max_calls": max_calls}
    if "search" in tools:
        offer |= {"index": folder_sha256(index_dir), "top_k": top_k}
    return offer


def set_key(name: str, items: list[dict], max_new_tokens: int, tools: dict | None = None,
            identity: dict | None = None, judge: str = "exact") -> tuple[str, str]:
    """(suite, key) of a stage's measured set `name` asked greedily with no system message, `tools` offered (None:
    none). The identity set is graded against `identity`; the refusal sets by `judge`."""
    suite = SET_SUITES[name]
    how = {"max_new_tokens": max_new_tokens, "system": None, "tools": tools}
    if suite == "identity":
        how["identity"] = identity
    if suite.startswith("refusal_"):
        how["judge"] = judge
    return suite, suite_key(suite, items, **how)


def few_shot_key(world: dict, n_questions: int, seed: int) -> tuple[str, str]:
    """The base-model probe's fact recall (alignment/evals/base_model_probes.py): its prompts come from the world's
    people and facts (keyed as built, so a world written with its defaults spelled out is the same world)."""
    from alignment.world.people import build_world

    people = [[e.name, e.facts] for e in build_world(**world).entities]
    return "few_shot_facts", suite_key("few_shot_facts", {"people": people, "n_questions": n_questions, "seed": seed})


def notes_key(prompts: list[dict], max_new_tokens: int) -> str:
    """The gold-preference suite: greedy notes on the labeller's prompts (eval measures it, the arena reuses them)."""
    return suite_key("gold_preference", prompts, max_new_tokens=max_new_tokens, system=None, tools=None)


def set_records(results: dict, items: dict, model_dir, at: str, max_new_tokens: int, tools: dict | None = None,
                judge: str = "exact") -> list[dict]:
    """A record for each result of `results` (keyed by set name) whose set is a suite (not the identity, facts or
    word-problem sets: skill_records has those)."""
    return [record(*set_key(name, items[name], max_new_tokens, tools=tools, judge=judge), model_dir, result,
                   at + name)
            for name, result in results.items()
            if name in SET_SUITES and name not in ASSISTANT_NUMBERS and name in items and isinstance(result, dict)]


def skill_records(numbers: dict, sets: dict, model_dir, at: str, max_new_tokens: int, identity: dict,
                  tools: dict | None = None) -> list[dict]:
    """Records of evaluate_assistant's / measure_skills' flat numbers (identity, word problems, open facts) on
    `sets`; none for numbers reused from another stage (`reused_from`: that stage recorded them)."""
    if "reused_from" in numbers:
        return []
    return [record(*set_key(name, sets[name], max_new_tokens, tools=tools, identity=identity), model_dir,
                   {"accuracy": numbers[flat], "questions": len(sets[name])}, at + flat)
            for name, flat in ASSISTANT_NUMBERS.items()
            if sets.get(name) and isinstance(numbers.get(flat), (int, float))]


def find(known: list[dict], suite: str, key: str, model_sha: str | None, code_sha: str) -> dict | None:
    """The measurement of this cell among `known` (the latest, where several match), or None."""
    if model_sha is None:
        return None
    same = [m for m in known if m.get("suite") == suite and m.get("key") == key
            and m.get("model_sha256") == model_sha and m.get("code_sha256") == code_sha]
    return same[-1] if same else None


def result_at(metrics: dict, at: str):
    """The full result a record's `at` points to ("after.skills.identity_accuracy_no_system"), or None. A key may
    hold dots itself (a model named "v1.5"): the longest key that matches is taken at each level."""
    node, parts = metrics, at.split(".")
    while parts:
        for length in range(len(parts), 0, -1):
            key = ".".join(parts[:length])
            if isinstance(node, dict) and key in node:
                node, parts = node[key], parts[length:]
                break
        else:
            return None
    return node


def find_result(metrics_files: list[Path], suite: str, key: str, model_dir) -> dict | None:
    """The full result of a recorded measurement of `suite` (its key) on the files of `model_dir` with this code,
    from the first of `metrics_files` that has one; None when none has."""
    sha, code = model_sha256(model_dir), code_sha256()
    for path in metrics_files:
        entry = find(recorded([path]), suite, key, sha, code)
        found = result_at(json.loads(Path(path).read_text()), entry.get("at", "")) if entry else None
        if found is not None:
            return found
    return None
