"""Score a corpus run against the mini-web's ground truth (what every generated record really was).

The issue's acceptance bars, all measured here and written to the stage's metrics.json:
  >= 90% of clean unique English pages kept        (a page whose copy on a mirror survived counts as kept:
                                                    its text is in the corpus, once)
  <= 2% of non-English pages kept
  no blocklisted URL kept
  no exact-duplicate pair both kept, <= 5% of near-duplicate pairs both kept
  no planted email, public IP or phone number left anywhere in the output
"""

from __future__ import annotations

import json
from pathlib import Path

from data_pipelines.documents import read_documents

TARGETS = {
    "clean_kept_rate": (">=", 0.90),
    "non_english_kept_rate": ("<=", 0.02),
    "blocklisted_kept": ("==", 0),
    "exact_duplicate_pairs_both_kept": ("==", 0),
    "near_duplicate_pairs_both_kept_rate": ("<=", 0.05),
    "pii_left": ("==", 0),
}


def read_ground_truth(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _meets(value, op: str, bound) -> bool:
    return {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]


def score_against_ground_truth(corpus_dir: Path, ground_truth_path: Path) -> dict:
    records = read_ground_truth(ground_truth_path)
    documents = read_documents(Path(corpus_dir) / "documents")
    kept = {doc["id"] for doc in documents}
    by_category: dict[str, list[dict]] = {}
    for record in records:
        by_category.setdefault(record["category"], []).append(record)

    copies: dict[str, list[str]] = {}
    for record in records:
        if record.get("duplicate_of"):
            copies.setdefault(record["duplicate_of"], []).append(record["record_id"])

    clean = by_category.get("clean", [])
    clean_kept = sum(r["record_id"] in kept or any(c in kept for c in copies.get(r["record_id"], [])) for r in clean)
    clean_kept_itself = sum(r["record_id"] in kept for r in clean)

    def pairs(category):
        return [(r["record_id"], r["duplicate_of"]) for r in by_category.get(category, [])]

    exact_both = sum(a in kept and b in kept for a, b in pairs("exact_duplicate"))
    near_pairs = pairs("near_duplicate")
    near_both = sum(a in kept and b in kept for a, b in near_pairs)

    corpus_text = "\n".join(doc["text"] for doc in documents)
    planted = {kind: sorted({item for r in records for item in (r.get("pii") or {}).get(kind, [])})
               for kind in ("emails", "ips", "phones")}
    left = {kind: [item for item in items if item in corpus_text] for kind, items in planted.items()}

    def kept_rate(category):
        rows = by_category.get(category, [])
        return _rate(sum(r["record_id"] in kept for r in rows), len(rows))

    scores = {
        "records": len(records),
        "records_by_category": {k: len(v) for k, v in sorted(by_category.items())},
        "clean_pages": len(clean),
        "clean_kept_rate": _rate(clean_kept, len(clean)),
        "clean_kept_itself_rate": _rate(clean_kept_itself, len(clean)),
        "non_english_kept_rate": kept_rate("non_english"),
        "spam_kept_rate": kept_rate("spam"),
        "broken_kept": sum(r["record_id"] in kept for r in by_category.get("broken", [])),
        "blocklisted_kept": sum(r["record_id"] in kept for r in by_category.get("blocklisted", [])),
        "exact_duplicate_pairs": len(pairs("exact_duplicate")),
        "exact_duplicate_pairs_both_kept": exact_both,
        "near_duplicate_pairs": len(near_pairs),
        "near_duplicate_pairs_both_kept_rate": _rate(near_both, len(near_pairs)),
        "pii_planted": {k: len(v) for k, v in planted.items()},
        "pii_left": sum(len(v) for v in left.values()),
        "pii_left_examples": {k: v[:5] for k, v in left.items() if v},
    }
    scores["targets"] = {name: {"bound": f"{op} {bound}", "value": scores[name], "met": _meets(scores[name], op, bound)}
                         for name, (op, bound) in TARGETS.items()}
    return scores


def print_scores(scores: dict) -> None:
    print("\ntiny world ground truth:")
    for name, target in scores["targets"].items():
        mark = "ok  " if target["met"] else "MISS"
        print(f"  {mark} {name:<38} {target['value']!s:>8}   (target {target['bound']})")
    print(f"       spam kept rate {scores['spam_kept_rate']}, broken records kept {scores['broken_kept']}, "
          f"clean pages kept as themselves {scores['clean_kept_itself_rate']}")
