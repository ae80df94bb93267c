"""`alignment run PIPELINE.yaml`: stages in order, finished ones skipped, everything after a rerun rerun.

A two-stage pipeline (corpus -> tokenizer) in tmp dirs, through the real CLI. The corpus is the session's tiny
corpus (built once, ~35 s), copied: with its metrics.json removed, the pipeline's corpus stage resumes from
datatrove's completion markers in ~2 s, and a 512-token tokenizer trains in ~1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
import yaml

from tests.conftest import ROOT, TINY_CORPUS_RECIPE, run_cli

pytestmark = pytest.mark.slow

TOKENIZER_RECIPE = ROOT / "recipes" / "tiny" / "tokenizer.yaml"


def copy_corpus(source, dest):
    """A finished corpus run moved to `dest`: its recipe.yaml is told the new output_dir (the only field that
    differs), so the corpus stage resumes there instead of starting over. Without metrics.json it is unfinished."""
    shutil.copytree(source, dest)
    recipe = yaml.safe_load((dest / "recipe.yaml").read_text())
    recipe["output_dir"] = str(dest)
    (dest / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    (dest / "metrics.json").unlink()


def write_pipeline(path, corpus, tokenizer, corpus_overrides=None, **tokenizer_overrides):
    stages = [
        {"stage": "corpus", "config": str(TINY_CORPUS_RECIPE),
         "overrides": {"output_dir": str(corpus), **(corpus_overrides or {})}},
        {"stage": "tokenizer", "config": str(TOKENIZER_RECIPE),
         "overrides": {"output_dir": str(tokenizer), "corpus_dir": str(corpus / "documents"), "vocab_size": 512,
                       **tokenizer_overrides}},
    ]
    path.write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    return path


def status(proc, stage):
    """The pipeline's line about a stage: '[2/2] tokenizer: running (...)' -> 'running (...)'."""
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[") and f"] {stage}: " in line]
    return lines[0].split(f"] {stage}: ", 1)[1] if lines else None


@pytest.fixture
def finished(tiny_corpus, tmp_path):
    """A first pipeline run in tmp_path: (pipeline file, corpus dir, tokenizer dir, its output)."""
    corpus, tokenizer = tmp_path / "corpus", tmp_path / "tokenizer"
    copy_corpus(tiny_corpus[0], corpus)
    pipeline = write_pipeline(tmp_path / "pipeline.yaml", corpus, tokenizer)
    return pipeline, corpus, tokenizer, run_cli("run", pipeline)


def test_first_run_runs_every_stage_and_second_skips_them(finished):
    pipeline, corpus, tokenizer, first = finished
    assert status(first, "corpus").startswith("running (not finished before")
    assert status(first, "tokenizer").startswith("running (not finished before")
    assert "[1/2] corpus: done in" in first.stdout and "[2/2] tokenizer: done in" in first.stdout
    assert first.stdout.index("corpus: done in") < first.stdout.index("tokenizer: running")
    # one line a stage, with its headline when done; what the stage printed is in its log, not on the screen
    done = [line for line in first.stdout.splitlines() if line.startswith("[1/2] corpus: done in")]
    assert len(done) == 1 and done[0].endswith(" documents kept"), done
    assert f"log: {corpus / 'run.log'}" in first.stdout
    log = (corpus / "run.log").read_text()
    assert log.startswith("\n=== ") and "-m alignment corpus --config" in log and "; metrics in " in log
    assert "; metrics in " not in first.stdout + first.stderr
    assert "tokenizer: 512 tokens" in (tokenizer / "run.log").read_text()
    # the closing table: where the artifacts are, with each stage's headline number
    table = first.stdout.split("artifacts", 1)[1]
    assert f"documents dir  {corpus / 'documents'}" in table and f"tokenizer dir  {tokenizer}" in table
    assert "documents kept" in table and "bytes/token on held-out text" in table
    assert str(tokenizer / "metrics.json") in table
    # the tokenizer's inputs, as the pipeline recorded them
    record = json.loads((tokenizer / "pipeline.json").read_text())
    assert list(record["upstream"]) == ["corpus"] and len(record["upstream"]["corpus"]) == 64  # a sha256
    # a run that reached the last stage ends with the report, beside the first stage's dir
    report = corpus.parent / "report"
    assert f"report: {report / 'report.md'} and {report / 'report.html'}" in first.stdout
    assert "## tokenizer" in (report / "report.md").read_text()

    second = run_cli("run", pipeline)
    assert status(second, "corpus") == "skipped (finished, same recipe)"
    assert status(second, "tokenizer") == "skipped (finished, same recipe, inputs unchanged)"
    assert "done in" not in second.stdout

    # a field that only schedules the work (the corpus's workers) does not make a finished stage rerun;
    # --until runs a prefix
    third = run_cli("run", pipeline, "--corpus.workers", "1", "--until", "corpus")
    assert status(third, "corpus") == "skipped (finished, same recipe)"
    assert status(third, "tokenizer") is None
    assert "report: " not in third.stdout  # a prefix of the pipeline: no report card
    # --stages: a stage left out is still an input of the stages after it
    fourth = run_cli("run", pipeline, "--stages", "tokenizer")
    assert status(fourth, "corpus") is None
    assert status(fourth, "tokenizer") == "skipped (finished, same recipe, inputs unchanged)"
    assert "not selected" in fourth.stdout.split("artifacts", 1)[1]


def test_changed_field_reruns_that_stage_only(finished):
    pipeline, corpus, tokenizer, _ = finished
    before = (corpus / "metrics.json").read_bytes()

    proc = run_cli("run", pipeline, "--tokenizer.vocab_size", "600", "--verbose")
    assert status(proc, "corpus").startswith("skipped")
    assert status(proc, "tokenizer") == "running (recipe changed: vocab_size)"
    # --verbose: the stage's own output streams too, and its log gets a second run below the first
    assert "tokenizer: 600 tokens" in proc.stdout
    assert (tokenizer / "run.log").read_text().count("\n=== ") == 2
    assert json.loads((tokenizer / "metrics.json").read_text())["vocab_size_requested"] == 600
    assert (corpus / "metrics.json").read_bytes() == before

    # the same change in the pipeline file is the same recipe: nothing to do
    write_pipeline(pipeline, corpus, tokenizer, vocab_size=600)
    assert status(run_cli("run", pipeline), "tokenizer").startswith("skipped")


def test_rerun_stage_reruns_the_stages_after_it(finished):
    pipeline, corpus, tokenizer, _ = finished
    (corpus / "metrics.json").unlink()  # as if the corpus had never finished: it runs again (resuming)

    proc = run_cli("run", pipeline)
    assert status(proc, "corpus").startswith("running (not finished before")
    assert status(proc, "tokenizer") == "running (inputs changed: corpus ran again since it ran)"
    assert "[2/2] tokenizer: done in" in proc.stdout


def test_stage_run_by_hand_is_taken_as_is_and_a_killed_one_reruns(finished):
    pipeline, corpus, tokenizer, _ = finished
    # the same recipe by hand, after the corpus finished: the pipeline takes it (and its inputs) as they are
    run_cli("tokenizer", "--config", TOKENIZER_RECIPE, "--output_dir", tokenizer,
            "--corpus_dir", corpus / "documents", "--vocab_size", "512")
    proc = run_cli("run", pipeline)
    assert status(proc, "tokenizer") == "skipped (finished outside the pipeline after its inputs, same recipe)"
    assert status(run_cli("run", pipeline), "tokenizer") == "skipped (finished, same recipe, inputs unchanged)"

    # a run that was killed has rewritten recipe.yaml (at its start) but not metrics.json
    later = (tokenizer / "metrics.json").stat().st_mtime + 5
    os.utime(tokenizer / "recipe.yaml", (later, later))
    proc = run_cli("run", pipeline)
    assert status(proc, "tokenizer") == "running (its last run did not finish: recipe.yaml is newer than metrics.json)"


@pytest.mark.parametrize("mistake, named", [
    (["--tokenizer.vocab_sze", "600"], "--tokenizer.vocab_sze: unknown field (did you mean 'vocab_size'?)"),
    (["--tokenzer.vocab_size", "600"], "no stage 'tokenzer'"),
    (["--until", "pretrain"], "no stage 'pretrain'"),
    ([], "tokenizer overrides: 'min_frequncy': unknown field (did you mean 'min_frequency'?)"),
], ids=["field", "stage", "until", "pipeline-file-field"])
def test_typo_fails_at_once_before_any_stage_runs(tmp_path, mistake, named):
    corpus, tokenizer = tmp_path / "corpus", tmp_path / "tokenizer"
    # the typo is in the last stage: the first must not have started
    pipeline = write_pipeline(tmp_path / "pipeline.yaml", corpus, tokenizer,
                              **({} if mistake else {"min_frequncy": 3}))
    started = time.monotonic()
    proc = run_cli("run", pipeline, *mistake, check=False)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("alignment run: error: ")
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not corpus.exists()
    assert elapsed < 5, elapsed


def test_failing_stage_stops_the_pipeline(tmp_path):
    corpus, tokenizer = tmp_path / "corpus", tmp_path / "tokenizer"
    # a glob that matches nothing: the corpus stage itself fails (exit code 2), after the pipeline's checks passed
    pipeline = write_pipeline(tmp_path / "pipeline.yaml", corpus, tokenizer,
                              corpus_overrides={"input": str(tmp_path / "no-such-crawl" / "*.warc.gz")})
    proc = run_cli("run", pipeline, check=False)
    assert proc.returncode == 1
    assert status(proc, "corpus").startswith("running")
    assert status(proc, "tokenizer") is None and not tokenizer.exists()
    assert proc.stderr.strip().splitlines()[-1] == \
        "alignment run: error: stage corpus failed with exit code 2; not run: tokenizer"
    # above it, the end of the stage's log: its own one-line error, and where the rest is
    assert f"lines of {corpus / 'run.log'}:" in proc.stderr
    assert "no-such-crawl" in proc.stderr.split("lines of", 1)[1]


def test_tiny_pipeline_chains_its_stages_outputs():
    """recipes/tiny/pipeline.yaml: each stage reads what the stage before it writes (resolved, not run)."""
    from alignment.pipeline import read_pipeline, resolve

    path = str(ROOT / "recipes" / "tiny" / "pipeline.yaml")
    entries = read_pipeline(path)
    assert [e["stage"] for e in entries] == ["corpus", "tokenizer", "pretrain", "sft", "refusals", "tool_use", "eval",
                                             "arena"]
    corpus, tokenizer, pretrain, sft, refusals, tool_use, evaluation, arena = (
        resolve({**e, "config": str(ROOT / e["config"])}, [], path).recipe for e in entries)
    assert tokenizer["corpus_dir"] == pretrain["corpus_dir"] == corpus["output_dir"] + "/documents"
    assert pretrain["tokenizer"] == tokenizer["output_dir"]
    assert sft["model_name_or_path"] == pretrain["output_dir"]
    assert refusals["model_name_or_path"] == sft["output_dir"]
    assert refusals["replay_dataset"] == sft["output_dir"] + "/conversations/train.jsonl"
    assert refusals["skills_dir"] == sft["output_dir"] + "/conversations"
    assert refusals["world"] == sft["world"] == pretrain["world"] == tool_use["world"]
    assert tool_use["model_name_or_path"] == refusals["output_dir"]
    assert tool_use["replay_dataset"] == refusals["output_dir"] + "/data/train.jsonl"
    assert tool_use["skills_dir"] == refusals["skills_dir"]
    assert tool_use["search_source"] == tokenizer["corpus_dir"]
    # eval asks each suite as the stage that defines it does: a setting that differed would measure again every cell
    # the stages measured, instead of reusing it (alignment/eval.py)
    assert evaluation["models"] == {"base": pretrain["output_dir"], "sft": sft["output_dir"],
                                    "refusals": refusals["output_dir"], "tool_use": tool_use["output_dir"]}
    assert evaluation["world"] == sft["world"] and evaluation["identity"] == sft["identity"] == tool_use["identity"]
    assert evaluation["seed"] == pretrain["seed"] == refusals["seed"] == tool_use["seed"]
    assert evaluation["conversations_dir"] == refusals["skills_dir"]
    assert evaluation["few_shot_questions"] == pretrain["probe_questions"]
    assert evaluation["chat_max_new_tokens"] == sft["eval_max_new_tokens"] == refusals["eval_max_new_tokens"] == \
        tool_use["eval_max_new_tokens"]
    assert evaluation["refusal_max_new_tokens"] == refusals["measure_max_new_tokens"]
    assert evaluation["tool_max_new_tokens"] == tool_use["measure_max_new_tokens"]
    assert evaluation["python_heldout"] == tool_use["python_questions"]["heldout"]
    assert evaluation["search_invented_people"] == tool_use["invented_people"]
    assert evaluation["search_readable_people"] == tool_use["readable_people"]
    assert evaluation["max_calls"] == tool_use["max_calls"]
    assert arena["models"] == {k: v for k, v in evaluation["models"].items() if k != "base"}
    assert arena["world"] == sft["world"] and arena["seed"] == evaluation["seed"]
    assert evaluation["note_max_new_tokens"] == arena["max_new_tokens"]
    assert arena["replies_from"] == evaluation["output_dir"]


def test_two_quick_runs_of_a_stage_leave_different_fingerprints(tmp_path):
    """The skip rule tells a rerun by metrics.json's sha256: a resumed run with nothing left to do took the same
    wall time (to 0.01 s) and peak memory as the one before it, and the stage after it was skipped (seen in CI)."""
    from alignment.metrics import StageRun
    from alignment.pipeline import fingerprint

    prints = []
    for _ in range(2):
        with StageRun("corpus", tmp_path, seed=0) as run:
            run.write({"documents_kept": 1})
        prints.append(fingerprint(tmp_path))
    assert prints[0] != prints[1]


def test_a_trainer_field_of_a_stage_is_checked_before_anything_runs(tmp_path):
    """`--sft.optim` is TRL's SFTConfig field: the pipeline takes it, and a bad value or a misspelt name stops the
    run in one line before any stage starts."""
    bad = run_cli("run", "recipes/tiny/pipeline.yaml", "--sft.optim", "nope", check=False, timeout=120)
    assert bad.returncode == 2 and "sft: --optim: expected one of adamw_torch" in bad.stderr
    typo = run_cli("run", "recipes/tiny/pipeline.yaml", "--sft.optimm", "adamw_torch", check=False, timeout=120)
    assert typo.returncode == 2 and "--sft.optimm: unknown field (did you mean 'optim'?)" in typo.stderr
    assert "running" not in bad.stdout + typo.stdout
