"""The tiny recipe's whole pipeline, run once through `alignment run` (corpus -> tokenizer -> pretrain -> sft), with
the acceptance thresholds of each stage checked on its metrics.json. The other tests use micro configs; this is the
one that proves the embedded default does what the README says, on this code, from nothing (about 13 minutes)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def in_dir(out) -> list:
    """The tiny pipeline with every stage's outputs (and the next stage's inputs) under `out`."""
    documents = out / "corpus" / "documents"
    return ["--corpus.output_dir", out / "corpus",
            "--tokenizer.corpus_dir", documents, "--tokenizer.output_dir", out / "tokenizer",
            "--pretrain.corpus_dir", documents, "--pretrain.tokenizer", out / "tokenizer",
            "--pretrain.output_dir", out / "pretrain",
            "--sft.model_name_or_path", out / "pretrain", "--sft.output_dir", out / "sft"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_pipeline")
    proc = run_cli("run", "recipes/tiny/pipeline.yaml", *in_dir(out), timeout=2400)
    metrics = {stage: json.loads((out / stage / "metrics.json").read_text())
               for stage in ("corpus", "tokenizer", "pretrain", "sft")}
    return out, proc, metrics


def test_base_model_beats_its_unigram_baseline(tiny_run):
    _, _, metrics = tiny_run
    pretrain = metrics["pretrain"]
    assert pretrain["validation_loss"] <= 0.5 * pretrain["unigram_entropy_baseline"]
    assert 0 <= pretrain["regurgitation"]["train_rate"] <= 1 and 0 <= pretrain["regurgitation"]["validation_rate"] <= 1
    assert pretrain["fact_recall"]["multiple_choice_accuracy"] > 0.25  # above chance: some facts recalled


def test_base_model_recalls_half_the_facts_few_shot(tiny_run):
    _, _, metrics = tiny_run
    recall = metrics["pretrain"]["fact_recall"]
    assert recall["questions"] == 600  # every fact of every person the corpus covers (120 x 5)
    assert recall["multiple_choice_accuracy"] >= 0.5


def test_the_assistant_is_well_formed_and_knows_who_it_is(tiny_run):
    _, _, metrics = tiny_run
    sft = metrics["sft"]
    assert sft["well_formed_rate"] >= 0.95
    assert sft["identity_accuracy_no_system"] >= 0.9
    assert sft["identity_accuracy_default_system"] is not None
    assert sft["fact_accuracy"] is not None and sft["word_problem_accuracy"] is not None


def test_a_second_run_skips_every_stage(tiny_run):
    out, _, _ = tiny_run
    again = run_cli("run", "recipes/tiny/pipeline.yaml", *in_dir(out))
    assert again.stdout.count("skipped") >= 4, again.stdout


def test_the_assistant_answers_in_the_terminal(tiny_run):
    out, _, _ = tiny_run
    reply = run_cli("chat", "--model", out / "sft", "--message", "Who are you?", "--temperature", "0")
    assert "tinker" in reply.stdout.lower()
