"""EleutherAI's lm-evaluation-harness on any model dir or hub id: `alignment eval --lm_eval_tasks ...`.

The harness's own tasks (hellaswag, arc_easy, gsm8k, ...: their data comes from the Hub, so they need the network
or a warm datasets cache) or local ones: a folder of task YAML files (`lm_eval_include_path`), whose data can be a
local JSON file (`dataset_path: json`, `dataset_kwargs: {data_files: ...}`), as tests/test_eval.py runs it offline.
The model is loaded by the harness's `hf` model class (transformers' AutoModelForCausalLM), fp32 on a CPU as the
other suites are measured.
"""

from __future__ import annotations

from alignment.recipe import RecipeError

# which of a task's metrics is its column in the table: the first of these it reports (else its first metric)
HEADLINE_METRICS = ("acc_norm", "acc", "exact_match", "f1", "bleu", "word_perplexity")


def run_harness(model: str, tasks: list[str], include_path: str | None = None, num_fewshot: int | None = None,
                limit: int | None = None, batch_size: int = 8) -> dict[str, dict]:
    """task -> {"metrics": {metric: value}, "stderr": {metric: value}, "headline": metric, "samples": n}."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=include_path) if include_path else TaskManager()
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        where = f" (nor in {include_path})" if include_path else " (lm_eval_include_path: a folder of task YAMLs)"
        raise RecipeError(f"lm_eval_tasks: no task {unknown[0]!r} in the harness{where}")
    args = {"pretrained": model, "dtype": "auto" if torch.cuda.is_available() else "float32"}
    # the harness's hf model asks for "cuda" unless told: on a CPU machine that is torch's "not compiled with CUDA"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = simple_evaluate(model="hf", model_args=args, tasks=tasks, num_fewshot=num_fewshot, limit=limit,
                          batch_size=batch_size, device=device, task_manager=manager, log_samples=False,
                          bootstrap_iters=1000)
    found = {}
    for task, numbers in out["results"].items():
        metrics, stderrs = {}, {}
        for name, value in numbers.items():
            metric, _, _filter = name.partition(",")
            if not isinstance(value, (int, float)) or metric == "alias":
                continue
            if metric.endswith("_stderr"):
                stderrs[metric.removesuffix("_stderr")] = value if value == value else None  # NaN: not computed
            else:
                metrics[metric] = value
        headline = next((m for m in HEADLINE_METRICS if m in metrics), next(iter(metrics), None))
        if headline is not None:
            found[task] = {"metrics": metrics, "stderr": stderrs, "headline": headline,
                           "samples": (out.get("n-samples") or {}).get(task, {}).get("effective")}
    missing = [t for t in tasks if t not in found]
    if missing:  # a group or tag reports under its subtasks' names; a task may report no number at all
        raise RecipeError(f"lm_eval_tasks: the harness reported no number under {missing[0]!r} (got: "
                          f"{', '.join(found) or 'none'}); a group or tag: name its tasks")
    return {t: found[t] for t in tasks}
