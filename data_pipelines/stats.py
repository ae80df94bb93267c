"""stats.json and the closing table: documents in/out of every block, and why documents were removed.

datatrove saves each task's stats in logs/<n>_<stage>/stats/<rank>.json: a list with one entry per block,
holding counters such as total / forwarded / dropped / dropped_<reason>. We merge the tasks ourselves
(the executor's own stats.json holds only the tasks of its last launch: after a resumed run it would
miss the tasks finished before the kill), then flatten the stages that move documents (filter,
dedup_pii) into one list of blocks in pipeline order.
"""

from __future__ import annotations

import json
import re

from data_pipelines.fineweb import CorpusLayout

DOCUMENT_STAGES = ("filter", "dedup_pii")
# Extractor counters that mean "this document was lost here", and the reason we report for them.
EXTRACTOR_LOSSES = {"timeout": "timeout", "clean_error": "extraction_error", "broken_process": "extractor_died"}


def _plain_name(name: str) -> str:
    """'🔻 - FILTER: 😈 Url-filter' -> 'Url-filter'."""
    name = name.split(":", 1)[-1]
    return re.sub(r"[^\w\s().'-]", "", name).strip()


def _count(stats: dict, key: str) -> int:
    value = stats.get(key, 0)
    return int(value["total"] if isinstance(value, dict) else value)


def _block_summary(stage: str, entry: dict) -> dict | None:
    stats, name = entry.get("stats", {}), entry["name"]
    kind = name.split(":", 1)[0].split("-", 1)[-1].strip()  # READER, FILTER, EXTRAC, FORMAT, WRITER, DEDUP
    block = {"stage": stage, "block": _plain_name(name), "kind": kind}
    if kind == "READER":
        block["in"] = _count(stats, "documents") + _count(stats, "broken_records")
        block["out"] = _count(stats, "documents")
        block["reasons"] = {k.removeprefix("broken_"): _count(stats, k) for k in stats
                            if k.startswith("broken_") and k != "broken_records"}
    elif "total" in stats:
        block["in"] = _count(stats, "total")
        block["out"] = _count(stats, "forwarded") if kind != "WRITER" and kind != "FORMAT" else block["in"]
        reasons = {k.removeprefix("dropped_"): _count(stats, k) for k in stats if k.startswith("dropped_")}
        for key, reason in EXTRACTOR_LOSSES.items():
            if key in stats:
                reasons[reason] = _count(stats, key)
        unexplained = block["in"] - block["out"] - sum(reasons.values())
        if unexplained > 0:
            reasons[{"EXTRAC": "no_main_text", "DEDUP": "duplicate"}.get(kind, "unspecified")] = unexplained
        block["reasons"] = reasons
        extra = {k: _count(stats, k) for k in stats if k in ("phone_numbers",)}
        if extra:
            block["counts"] = extra
    else:
        return None
    block["dropped"] = block["in"] - block["out"]
    return block


def _merged_task_stats(folder) -> list[dict]:
    from datatrove.utils.stats import PipelineStats

    per_task = [PipelineStats.from_json(json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]
    return json.loads(sum(per_task, start=PipelineStats()).to_json())


def collect_stats(layout: CorpusLayout, stage_names: list[str]) -> dict:
    blocks = []
    for i, stage in enumerate(stage_names, start=1):
        if stage not in DOCUMENT_STAGES:
            continue
        for entry in _merged_task_stats(layout.logs / f"{i}_{stage}" / "stats"):
            summary = _block_summary(stage, entry)
            # the dedup stage re-reads our own intermediate files: that reader is not news to the user
            if summary and not (stage == "dedup_pii" and summary["kind"] == "READER"):
                blocks.append(summary)
    reader = blocks[0]
    writer = blocks[-1]
    for block in blocks:
        if block["kind"] == "WRITER":
            block["block"] += " -> documents/" if block is writer else " -> work/filtered/"
    return {
        "records_in": reader["in"],
        "documents_in": reader["out"],
        "broken_records": reader["dropped"],
        "broken_by_kind": reader["reasons"],
        "documents_out": writer["out"],
        "blocks": blocks,
    }


def print_table(stats: dict, top_reasons: int = 3) -> None:
    rows = [("block", "in", "out", "removed", "top reasons")]
    for b in stats["blocks"]:
        reasons = sorted(b.get("reasons", {}).items(), key=lambda kv: -kv[1])[:top_reasons]
        text = ", ".join(f"{r} {n}" for r, n in reasons if n)
        if b.get("counts"):
            text = ", ".join([text] * bool(text) + [f"{k} {v}" for k, v in b["counts"].items()])
        rows.append((b["block"], str(b["in"]), str(b["out"]), str(b["dropped"]), text))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for j, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in (1, 2, 3)] + [row[4]]
        print("  ".join(cells).rstrip())
        if j == 0:
            print("-" * (sum(widths) + 8 + max(len(r[4]) for r in rows)))
