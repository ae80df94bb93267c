"""`alignment report PIPELINE.yaml`: one page that shows what each stage of a pipeline did (report.md, report.html).

    alignment report recipes/tiny/pipeline.yaml                    # -> runs/tiny/report/report.{md,html}
    alignment report recipes/tiny/pipeline.yaml --output_dir DIR --<stage>.<field> value ...

Like nanochat's report card: a header (the commit, the machine with its CPU, the package versions, each stage's wall
time and peak memory, the total), then a section a stage with its measured numbers (from its metrics.json) and its
plots: the trainers' loss curves, before / after bars of the refusal stage's SimpleQA table and of the tool_use
stage's sets, and the closing quiz (`alignment quiz --json`, when output_dir's parent has quiz.json). The stages are
found as `alignment run` finds them (the same overrides); a stage that has not finished is listed as such.

report.html is self-contained: its images are inlined as data URIs and it loads nothing from anywhere (no script,
no stylesheet, no font); report.md links the PNG files written beside it in figures/.
"""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

from alignment.recipe import RecipeError

# Blocks of the page, rendered twice (markdown and HTML): ("h1" | "h2" | "p", text), ("table", header, rows),
# ("img", path, caption), ("pre", text).

SIMPLEQA = ("correct", "incorrect", "not_attempted")
REFUSAL_SETS = {"eval_reserved": "(a) reserved people", "eval_heldout": "(b) held-out facts",
                "eval_known": "(c) known facts, new phrasings"}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def cpu_name() -> str:
    """lscpu's model name, as the README names every machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine() -> str:
    from alignment.training import cpu_has_native_bf16

    parts = [f"{cpu_name()}, {os.cpu_count()} cores"]
    parts.append("native bf16 (avx512_bf16 / AMX)" if cpu_has_native_bf16() else "no native bf16 (fp32)")
    memory = _memory_gb()
    if memory:
        parts.append(f"{memory} GB")
    try:
        import torch

        if torch.cuda.is_available():
            parts.append(f"GPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    except ImportError:
        pass
    return "; ".join(parts)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


# --- plots ------------------------------------------------------------------------------------------

def bars(groups: dict[str, dict[str, float]], title: str, path: Path, ylabel: str = "share") -> Path:
    """Grouped bars: one group a label (x), one bar a series (e.g. before / after)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(groups)
    series = list(dict.fromkeys(name for values in groups.values() for name in values))
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(labels)), 3.6))  # 12 suites of the eval table: 10.8 in
    for k, name in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        ys = [groups[label].get(name, 0.0) for label in labels]
        ax.bar(xs, ys, width, label=name)
    ax.set_xticks(range(len(labels)), [textwrap.fill(label, 16) for label in labels], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- sections ---------------------------------------------------------------------------------------

def _loss_curve(stage_dir: Path, name: str) -> list:
    curve = stage_dir / "loss_curve.png"
    return [("img", curve, f"{name}: training loss")] if curve.is_file() else []


def corpus_section(m: dict, stage_dir: Path, figures: Path) -> list:
    rows = [["documents in", _num(m.get("documents_in"))], ["documents kept", _num(m.get("documents_out"))],
            ["broken records skipped", _num(m.get("broken_records"))]]
    blocks = [("table", ["", "value"], rows)]
    targets = (m.get("tiny_world") or {}).get("targets") or {}
    if targets:
        blocks.append(("p", "The tiny world's ground truth, checked against what the corpus kept:"))
        blocks.append(("table", ["check", "value", "bound", "met"],
                       [[k, _num(t["value"]), t["bound"], "yes" if t["met"] else "**no**"] for k, t in targets.items()]))
    return blocks


def tokenizer_section(m: dict, stage_dir: Path, figures: Path) -> list:
    return [("table", ["", "value"], [["vocabulary", _num(m.get("vocab_size"))],
                                      ["held-out bytes per token", _num(m.get("heldout_bytes_per_token"))],
                                      ["training documents", _num(m.get("training_documents"))]])]


def pretrain_section(m: dict, stage_dir: Path, figures: Path) -> list:
    rows = [["parameters", _num(m.get("parameters"))], ["tokens seen", _num(m.get("tokens_seen"))],
            ["precision", m.get("precision", "-")],
            ["validation loss (nats/token)", _num(m.get("validation_loss"))],
            ["unigram baseline", _num(m.get("unigram_entropy_baseline"))],
            ["tokens/s (median)", _num((m.get("tokens_per_second") or {}).get("median"))]]
    recall, regurgitation = m.get("fact_recall") or {}, m.get("regurgitation") or {}
    if recall:
        rows += [["few-shot facts, 4-way multiple choice", _pct(recall.get("multiple_choice_accuracy"))],
                 ["open-ended recall", _pct(recall.get("open_ended_recall"))]]
    if regurgitation:
        rows.append(["regurgitation, training / held-out documents",
                     f"{_pct(regurgitation.get('train_rate'))} / {_pct(regurgitation.get('validation_rate'))}"])
    copying = m.get("in_context_copying") or {}
    if copying:
        repeated = copying["repeated_tokens"]
        rows.append(["random tokens, first / repeated (nats/token)",
                     f"{repeated['first_loss']} / {repeated['repeat_loss']}"])
        if "surname" in copying:
            rows.append(["a new person's surname copied / a memorised one",
                         f"{_pct(copying['surname']['new_people_rate'])} / "
                         f"{_pct(copying['surname']['corpus_people_rate'])}"])
    return [("table", ["", "value"], rows), *_loss_curve(stage_dir, "pretrain")]


def sft_section(m: dict, stage_dir: Path, figures: Path) -> list:
    rows = [["conversations", _num(m.get("train_conversations"))], ["tokens seen", _num(m.get("tokens_seen"))],
            ["validation loss", _num(m.get("eval_loss"))], ["well-formed replies", _pct(m.get("well_formed_rate"))],
            ["identity (no system message)", _pct(m.get("identity_accuracy_no_system"))],
            ["facts of covered people", _pct(m.get("fact_accuracy"))],
            ["word problems", _pct(m.get("word_problem_accuracy"))]]
    return [("table", ["", "value"], rows), *_loss_curve(stage_dir, "sft")]


def refusals_section(m: dict, stage_dir: Path, figures: Path) -> list:
    before, after = m.get("before") or {}, m.get("after") or {}
    rows, groups = [], {}
    for key, label in REFUSAL_SETS.items():
        if key not in after:
            continue
        cells = [label, str(after[key]["questions"])]
        for when in (before, after):
            cells.append(" / ".join(_pct(when[key][g]["share"]) for g in SIMPLEQA) if key in when else "-")
        rows.append(cells)
        for grade in SIMPLEQA:
            short = f"{label.split(' ', 1)[0]}\n{grade.replace('_', ' ')}"
            groups[short] = {"before": before.get(key, {}).get(grade, {}).get("share", 0.0),
                             "after": after[key][grade]["share"]}
    blocks = [("table", ["set", "questions", "before: correct / incorrect / not attempted", "after"], rows)]
    if groups:
        blocks.append(("img", bars(groups, "refusals: SimpleQA's grades before and after",
                                   figures / "refusals_simpleqa.png"), "refusals: before and after"))
    skills = after.get("skills") or {}
    if skills:
        blocks.append(("table", ["skill after", "value"], [[k, _pct(v)] for k, v in skills.items()
                                                           if isinstance(v, (int, float))]))
    return blocks + _loss_curve(stage_dir, "refusals")


def tool_use_section(m: dict, stage_dir: Path, figures: Path) -> list:
    pairs = [("letters", "letters_with_python", "letters_without_tools"),
             ("products", "products_with_python", "products_without_tools"),
             ("comparisons", "comparisons_with_python", "comparisons_without_tools"),
             ("held-out facts (correct)", "found_correct_with_search", "found_correct_without_tools_before"),
             ("reserved people: not found", "not_found_with_search", None)]
    rows, groups = [], {}
    for label, with_key, without_key in pairs:
        if with_key not in m:
            continue
        without = m.get(without_key) if without_key else None
        rows.append([label, _pct(m[with_key]), _pct(without)])
        groups[label] = {"with tools": m[with_key], **({"without": without} if without is not None else {})}
    rows += [["a call where one is needed / where no tool is offered",
              f"{_pct(m.get('call_rate_with_tools'))} / {_pct(m.get('call_rate_without_tools'))}", ""],
             ["calls that parse and name a tool", _pct(m.get("calls_valid_rate")), ""]]
    blocks = [("table", ["set", "with tools", "without"], rows)]
    if groups:
        blocks.append(("img", bars(groups, "tool_use: with the tools and without", figures / "tool_use.png"),
                       "tool_use: with and without tools"))
    return blocks + _loss_curve(stage_dir, "tool_use")


def grpo_section(m: dict, stage_dir: Path, figures: Path) -> list:
    rows = [[k.replace("_", " "), _pct(v)] for k, v in m.items()
            if isinstance(v, float) and ("accuracy" in k or "pass" in k)]
    return [("table", ["", "value"], rows), *_loss_curve(stage_dir, "grpo")]


def eval_section(m: dict, stage_dir: Path, figures: Path) -> list:
    """The eval stage's table (every model on every suite) and the same numbers as bars, a group a suite."""
    from alignment.evals.measurements import MEAN_SUITES

    suites, table = m.get("suites") or {}, m.get("table") or {}
    header = ["model"] + [f"{a['label']} {'↑' if a['higher_is_better'] else '↓'}" for a in suites.values()]
    def cell(c: dict, suite: str) -> str:
        if suite in MEAN_SUITES or not 0 <= c["value"] <= 1:  # a mean score (or a harness perplexity) as it is
            return f"{c['value']:.3f} ± {c['stderr'] or 0:.3f}"
        return f"{_pct(c['value'])} ± {_pct(c['stderr'] or 0)}"

    rows = [[model] + [cell(row[s], s) if s in row else "—" for s in suites] for model, row in table.items()]
    cells = m.get("cells") or {}
    blocks = [("table", header, rows),
              ("p", f"{cells.get('total', 0)} cells: {cells.get('reused_from_stages', 0)} reused from the stages' "
                    f"own measurements, {cells.get('from_earlier_runs', 0)} from earlier eval runs, "
                    f"{cells.get('measured', 0)} measured here. ± is one standard error. "
                    + "; ".join(f"{a['label']}: {a['share']}" for a in suites.values()) + ".")]
    groups = {about["label"]: {model: row[s]["value"] for model, row in table.items() if s in row}
              for s, about in suites.items()}
    if any(groups.values()):
        blocks.append(("img", bars(groups, "eval: every model on every suite", figures / "eval.png"),
                       "eval: every model on every suite"))
    return blocks


def arena_section(m: dict, stage_dir: Path, figures: Path) -> list:
    """The leaderboard: ranks, Bradley-Terry ratings with their 95% intervals, wins, the gold score beside."""
    rows = [[str(r["rank"]), r["model"], f"{r['rating']:.0f} ({r['interval_95'][0]:.0f} to {r['interval_95'][1]:.0f})",
             f"{r['wins']} of {r['battles']}", f"{r['gold_mean']:.3f} ± {r['gold_stderr']:.3f}"]
            for r in m.get("leaderboard") or []]
    judge = m.get("judge") or {}
    return [("table", ["rank", "model", "rating (95% interval)", "wins", "gold score"], rows),
            ("p", f"{m.get('battles')} battles on {m.get('prompts')} prompts, judged by {judge.get('kind', '-')} "
                  f"(random picks in {_pct(judge.get('lapse'))} of battles, so at most "
                  f"{_pct(judge.get('agreement_ceiling'))} agreement with the gold order).")]


SECTIONS = {"corpus": corpus_section, "tokenizer": tokenizer_section, "pretrain": pretrain_section,
            "sft": sft_section, "refusals": refusals_section, "tool_use": tool_use_section, "grpo": grpo_section,
            "eval": eval_section, "arena": arena_section}


def quiz_section(quiz: dict) -> list:
    models = list(quiz["answers"])
    rows = []
    for i, question in enumerate(quiz["questions"]):
        rows.append([question["text"], question["truth"]] +
                    [f"{quiz['answers'][m][i]['mark']}: {quiz['answers'][m][i]['reply']}" for m in models])
    return [("h2", "The closing quiz (alignment quiz)"),
            ("table", ["question", "truth"] + [Path(m).name for m in models], rows)]


# --- the page ---------------------------------------------------------------------------------------

def build(pipeline: str, stages: list, quiz: dict | None, figures: Path) -> list:
    from alignment.pipeline import _headline

    loaded = {}
    for stage in stages:
        path = stage.output_dir / "metrics.json"
        loaded[stage.name] = json.loads(path.read_text()) if path.is_file() else None
    finished = [m for m in loaded.values() if m]
    packages = (finished[0].get("reproduce") or {}).get("packages", {}) if finished else {}
    commits = sorted({(m.get("reproduce") or {}).get("git_commit", "")[:7] for m in finished} - {""})
    header = [["generated", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")],
              ["commit", _git_commit() + (f" (the stages ran at {', '.join(commits)})" if commits else "")],
              ["machine", machine()], ["python", platform.python_version()],
              ["packages", ", ".join(f"{k} {v}" for k, v in packages.items()) or "-"]]
    rows, total_s = [], 0.0
    for stage in stages:
        m = loaded[stage.name]
        if m is None:
            rows.append([stage.name, "not finished", "-", "-"])
            continue
        total_s += m.get("wall_time_s") or 0.0
        rows.append([stage.name, f"{m.get('wall_time_s', 0):.1f} s", f"{m.get('peak_memory_gb', 0):.2f} GB",
                     _headline(stage)])
    rows.append(["**total**", f"**{total_s:.1f} s ({total_s / 60:.1f} min)**", "", ""])
    blocks = [("h1", f"Report: {pipeline}"), ("table", ["", ""], header),
              ("table", ["stage", "wall time", "peak memory", "headline"], rows)]
    for stage in stages:
        m = loaded[stage.name]
        blocks.append(("h2", f"{stage.name} ({stage.output_dir})"))
        if m is None:
            blocks.append(("p", "Not finished: no metrics.json yet."))
            continue
        blocks += SECTIONS.get(stage.name, lambda *_: [])(m, stage.output_dir, figures)
    if quiz:
        blocks += quiz_section(quiz)
    return blocks


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list, out_dir: Path) -> str:
    lines = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "pre":
            lines += ["```", block[1], "```", ""]
        elif kind == "table":
            header, rows = block[1], block[2]
            lines += ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows] + [""]
        elif kind == "img":
            lines += [f"![{block[2]}]({os.path.relpath(block[1], out_dir)})", ""]
    return "\n".join(lines)


def _html_cell(text: str) -> str:
    text = html.escape(str(text))
    while text.count("**") >= 2:  # the markdown's bold, for the totals and unmet checks
        text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
    return text


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;"
         "text-align:left;vertical-align:top;font-size:14px}th{background:#f3f3f3}img{max-width:100%}"
         "h2{border-bottom:1px solid #ddd;padding-bottom:3px}")


def to_html(blocks: list) -> str:
    title = next((b[1] for b in blocks if b[0] == "h1"), "report")
    body = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{_html_cell(block[1])}</{kind}>")
        elif kind == "pre":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{_html_cell(c)}</th>" for c in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in block[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(block[2])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(pipeline: str, stages: list, out_dir: Path, quiz_file: Path | None = None) -> dict:
    import shutil

    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    quiz = json.loads(quiz_file.read_text()) if quiz_file and quiz_file.is_file() else None
    blocks = build(pipeline, stages, quiz, figures)
    for i, block in enumerate(blocks):  # the stages' own PNGs, copied beside the report for report.md's links
        if block[0] == "img" and Path(block[1]).parent != figures:
            copy = figures / f"{Path(block[1]).parent.name}_{Path(block[1]).name}"
            shutil.copy(block[1], copy)
            blocks[i] = ("img", copy, block[2])
    (out_dir / "report.md").write_text(to_markdown(blocks, out_dir))
    (out_dir / "report.html").write_text(to_html(blocks))
    return {"markdown": out_dir / "report.md", "html": out_dir / "report.html",
            "images": sum(b[0] == "img" for b in blocks)}


USAGE = """usage: alignment report PIPELINE.yaml [--output_dir DIR] [--quiz FILE] [--<stage>.<field> value ...]

report.md and a self-contained report.html of the pipeline's stages (as `alignment run` resolves them).
  --output_dir DIR   where to write (default: report/ beside the first stage's output_dir)
  --quiz FILE        the closing quiz's --json file (default: quiz.json beside the first stage's output_dir)"""


def main(argv: list[str]) -> int:
    from alignment.pipeline import read_pipeline, resolve
    from alignment.recipe import _split_argv

    if not argv or argv[0] in ("-h", "--help") or argv[0].startswith("--"):
        if argv and argv[0] in ("-h", "--help"):
            print(USAGE)
            return 0
        raise RecipeError("expected the pipeline recipe first: alignment report PIPELINE.yaml [--output_dir DIR]")
    path, rest = argv[0], argv[1:]
    out_dir = quiz_file = None
    overrides: dict[str, list] = {}
    for name, text in _split_argv(rest):
        if name in ("output_dir", "quiz"):
            if not text:
                raise RecipeError(f"--{name}: expected a path")
            out_dir, quiz_file = (Path(text), quiz_file) if name == "output_dir" else (out_dir, Path(text))
        elif "." in name:
            stage, _, field = name.partition(".")
            overrides.setdefault(stage, []).append((field, text))
        else:
            raise RecipeError(f"unknown option '--{name}' (options: --output_dir, --quiz, --<stage>.<field>)")
    entries = read_pipeline(path)
    names = [e["stage"] for e in entries]
    for name in overrides:
        if name not in names:
            raise RecipeError(f"no stage '{name}' in {path} (stages: {', '.join(names)})")
    stages = [resolve(e, overrides.get(e["stage"], []), path) for e in entries]
    beside = stages[0].output_dir.parent
    out_dir = out_dir or beside / "report"
    written = write_report(path, stages, out_dir, quiz_file or beside / "quiz.json")
    print(f"report: {written['markdown']} and {written['html']} ({written['images']} figures, inlined in the html)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
