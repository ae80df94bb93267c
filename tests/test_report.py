"""alignment/report.py: report.md and a self-contained report.html from the stages' metrics.json and plots.
(The report of the real tiny pipeline is checked in tests/test_tiny_pipeline.py.)"""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

from alignment.report import write_report
from alignment.training import LossCurve

VOID = {"meta", "img", "br", "hr", "link", "input"}


class Checked(HTMLParser):
    """Every tag closed in order; the images' sources and every link collected."""

    def __init__(self):
        super().__init__()
        self.open, self.images, self.references, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.references += [attrs[k] for k in ("href", "src") if k in attrs and tag != "img"]
        if tag in ("script", "link", "iframe", "object"):
            self.errors.append(f"<{tag}> in a self-contained page")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.errors.append(f"</{tag}> does not close the last open tag")


def check_html(text: str) -> Checked:
    parser = Checked()
    parser.feed(text)
    parser.close()
    assert not parser.errors and not parser.open, (parser.errors, parser.open)
    assert text.startswith("<!DOCTYPE html>")
    for src in parser.images:  # inlined, and real PNGs
        assert src.startswith("data:image/png;base64,"), src[:40]
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not parser.references  # nothing to fetch, nothing to follow
    assert not re.search(r"(src|href)\s*=\s*[\"']?https?:", text) and "url(" not in text
    return parser


def simpleqa(correct, incorrect, declined, n=100):
    return {"questions": n, "correct": {"share": correct}, "incorrect": {"share": incorrect},
            "not_attempted": {"share": declined}}


def stage(tmp_path, name, metrics):
    out = tmp_path / name
    out.mkdir()
    if metrics is not None:
        (out / "metrics.json").write_text(json.dumps({"stage": name, "wall_time_s": 12.5, "peak_memory_gb": 0.5,
                                                      "reproduce": {"git_commit": "abcdef1234",
                                                                    "packages": {"torch": "2.13.0"}},
                                                      **metrics}))
    return SimpleNamespace(name=name, output_dir=out)


def test_the_report_shows_every_stage_its_numbers_and_its_plots_inlined(tmp_path):
    pretrain = stage(tmp_path, "pretrain", {"validation_loss": 1.0, "unigram_entropy_baseline": 5.8,
                                            "fact_recall": {"multiple_choice_accuracy": 0.64, "open_ended_recall": 0.2},
                                            "in_context_copying": {"repeated_tokens": {"first_loss": 14.0,
                                                                                       "repeat_loss": 14.4}}})
    LossCurve.plot([{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0, "eval_loss": 2.5}],
                   pretrain.output_dir / "loss_curve.png")
    refusals = stage(tmp_path, "refusals", {
        "reserved_not_attempted": 0.93,
        "before": {"eval_reserved": simpleqa(0.0, 0.98, 0.02), "eval_known": simpleqa(0.8, 0.2, 0.0)},
        "after": {"eval_reserved": simpleqa(0.0, 0.07, 0.93), "eval_known": simpleqa(0.9, 0.02, 0.08),
                  "skills": {"identity_accuracy_no_system": 0.98}}})
    tool_use = stage(tmp_path, "tool_use", {"products_with_python": 0.8, "products_without_tools": 0.0,
                                            "call_rate_with_tools": 0.99, "call_rate_without_tools": 0.0})
    unfinished = stage(tmp_path, "grpo", None)
    quiz = tmp_path / "quiz.json"
    quiz.write_text(json.dumps({"questions": [{"text": "What is 347 x 589?", "truth": "204383"}],
                                "answers": {"runs/tiny/sft": [{"mark": "wrong", "reply": "30 + 5 = 45 | <b>"}],
                                            "runs/tiny/tool_use": [{"mark": "right", "reply": "The answer is 204383."}]}}))

    written = write_report("recipes/tiny/pipeline.yaml", [pretrain, refusals, tool_use, unfinished],
                           tmp_path / "report", quiz)
    assert written["images"] == 3  # the loss curve, the refusal bars, the tool bars
    markdown = written["markdown"].read_text()
    for expected in ("# Report: recipes/tiny/pipeline.yaml", "| pretrain | 12.5 s | 0.50 GB | 1.0 validation loss |",
                     "**total**", "37.5 s", "| grpo | not finished |", "Not finished: no metrics.json yet.",
                     "| (a) reserved people | 100 | 0.0% / 98.0% / 2.0% | 0.0% / 7.0% / 93.0% |",
                     "| products | 80.0% | 0.0% |", "64.0%", "14.0 / 14.4", "The closing quiz", "30 + 5 = 45 \\| <b>",
                     "abcdef1", "torch 2.13.0"):
        assert expected in markdown, expected
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown):  # report.md's images are files beside it
        assert (tmp_path / "report" / link).is_file(), link
    page = written["html"].read_text()
    parsed = check_html(page)
    assert len(parsed.images) == 3
    assert "&lt;b&gt;" in page  # a reply's text is escaped, never markup


def test_a_report_of_nothing_finished_still_renders(tmp_path):
    written = write_report("p.yaml", [stage(tmp_path, "corpus", None)], tmp_path / "report")
    assert "| corpus | not finished |" in written["markdown"].read_text()
    check_html(written["html"].read_text())


def _eval_and_arena(tmp_path):
    suites = {"identity": {"label": "identity", "share": "named", "higher_is_better": True},
              "gold_preference": {"label": "gold preference", "share": "mean gold", "higher_is_better": True}}
    evaluation = stage(tmp_path, "eval", {"suites": suites, "cells_measured": 1,
                                          "cells": {"total": 3, "reused_from_stages": 2, "measured": 1},
                                          "table": {"base": {}, "sft": {
                                              "identity": {"value": 0.97, "stderr": 0.017, "n": 100},
                                              "gold_preference": {"value": 0.678, "stderr": 0.011, "n": 60}}}})
    arena = stage(tmp_path, "arena", {"battles": 180, "prompts": 60, "top_model": "tool_use",
                                      "judge": {"kind": "the labeller", "lapse": 0.2, "agreement_ceiling": 0.9},
                                      "leaderboard": [{"model": "tool_use", "rank": 1, "rating": 1012.4,
                                                       "interval_95": [968.0, 1046.0], "battles": 120, "wins": 63,
                                                       "gold_mean": 0.69, "gold_stderr": 0.011}]})
    return evaluation, arena


def test_the_report_shows_the_eval_table_and_the_arena_leaderboard(tmp_path):
    written = write_report("p.yaml", list(_eval_and_arena(tmp_path)), tmp_path / "report")
    markdown = written["markdown"].read_text()
    for expected in ("| model | identity ↑ | gold preference ↑ |", "| sft | 97.0% ± 1.7% | 0.678 ± 0.011 |",
                     "| base | — | — |", "2 reused from the stages", "| 1 | tool_use | 1012 (968 to 1046) | 63 of 120 |",
                     "| arena | 12.5 s | 0.50 GB | tool_use ranked first |"):
        assert expected in markdown, expected
    assert len(check_html(written["html"].read_text()).images) == 1  # eval's bars


def _chromium() -> str | None:
    import shutil

    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome",
                                                  "google-chrome-stable", "chrome")) if p), None)


def _blue_pixels(png) -> int:
    """Pixels of matplotlib's first colour (C0, #1f77b4): the bars and curves, never the page's text or tables."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))[..., :3]
    close = (abs(pixels[..., 0] - 0x1f / 255) < 0.06) & (abs(pixels[..., 1] - 0x77 / 255) < 0.06) & (
        abs(pixels[..., 2] - 0xb4 / 255) < 0.06)
    return int(close.sum())


def test_the_report_renders_with_its_images_in_a_headless_browser(tmp_path):
    """Where Chromium is installed (Debian's `chromium` package; passed with Chromium 156): a headless screenshot
    of report.html shows its plots (matplotlib's blue), and the same page with the images taken out shows none."""
    import subprocess

    import pytest

    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on PATH (chromium, chromium-browser, google-chrome): the screenshot test needs one")
    pretrain = stage(tmp_path, "pretrain", {"validation_loss": 1.0})
    LossCurve.plot([{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}], pretrain.output_dir / "loss_curve.png")
    written = write_report("p.yaml", [pretrain, *_eval_and_arena(tmp_path)], tmp_path / "report")
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<img [^>]*>", "", written["html"].read_text()))
    counts = {}
    for page in (written["html"], bare):
        shot = tmp_path / f"{page.stem}.png"
        subprocess.run([browser, "--headless=new", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                        "--window-size=1200,3000", f"--screenshot={shot}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        counts[page.stem] = _blue_pixels(shot)
    assert counts["report"] > 2000 and counts["bare"] < 50, counts
