"""datatrove's own executors, chosen by the recipe: `executor: local | slurm | ray`.

Each pipeline stage gets an executor that depends on the one before it, with its own logging dir
(logs/<n>_<stage>/): datatrove writes a completion marker there for every finished task, and a rerun with
the same `tasks` skips those, so a killed run resumes where it stopped.
`executor_options` go to the executor class as keyword arguments (slurm: partition, time, cpus_per_task,
sbatch_args...; ray: cpus_per_task, mem_per_cpu_gb...), checked against its signature.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from alignment.recipe import RecipeError

# Options the stage sets itself (per stage) and that a recipe must not pass through executor_options.
MANAGED = {"pipeline", "tasks", "workers", "depends", "logging_dir", "skip_completed", "job_name"}

# datatrove's local executor starts each stage's workers from a forkserver, a fresh interpreter, so every worker of
# every stage imported spaCy again (datatrove's English word tokenizer, first used by Gopher's repetition filter):
# 3.3-4.7 s each time on a 2-core AVX2-only EPYC (it imports torch through thinc), in 4 of the 5 stages. Imported
# once in the forkserver, every worker forked from it has them; started before the crawl is rendered, the forkserver
# imports them on the other core meanwhile.
WORKER_PRELOAD = ["spacy", "spacy.lang.en", "datatrove.pipeline.filters", "datatrove.pipeline.dedup",
                  "datatrove.pipeline.extractors", "datatrove.pipeline.readers", "datatrove.pipeline.writers"]


def executor_class(kind: str):
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor
    if kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor
    if kind == "ray":
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor
    raise RecipeError(f"executor: expected local, slurm or ray, got {kind!r}")


def check_executor_options(kind: str, options: dict) -> None:
    params = inspect.signature(executor_class(kind).__init__).parameters
    for key in options:
        if key in MANAGED:
            raise RecipeError(f"executor_options.{key}: set by the stage itself (use the recipe's tasks/workers)")
        if key not in params:
            allowed = sorted(set(params) - MANAGED - {"self"})
            raise RecipeError(f"executor_options.{key}: not an option of the {kind} executor ({', '.join(allowed)})")
    for name, param in params.items():
        if param.default is param.empty and name not in MANAGED | {"self"} and name not in options:
            raise RecipeError(f"executor_options.{name}: required by the {kind} executor")


def start_ray(address: str, num_cpus: int | None) -> None:
    """Connect to a Ray cluster, or start a local one bound to 127.0.0.1 (no dashboard, no outside traffic)."""
    import ray

    if ray.is_initialized():
        return
    if address == "local":
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def start_local_workers(kind: str, options: dict, workers: int) -> None:
    """Start the local executor's forkserver now, with WORKER_PRELOAD imported in it (before any pool starts it).
    One worker runs every task in this process (build_executors): no pool, no forkserver."""
    if kind != "local" or workers < 2 or options.get("start_method", "forkserver") != "forkserver":
        return
    import multiprocess
    from multiprocess import forkserver

    multiprocess.set_forkserver_preload(WORKER_PRELOAD)
    forkserver.ensure_running()  # returns at once: the server imports while this process renders the crawl


def build_executors(stages: list[tuple[str, list, int]], kind: str, workers: int, logs_dir: Path,
                    options: dict) -> list:
    """One executor per stage, chained with `depends`; running the last one runs them all in order."""
    cls = executor_class(kind)
    check_executor_options(kind, options)
    executors, previous = [], None
    for i, (name, pipeline, tasks) in enumerate(stages, start=1):
        kwargs = dict(pipeline=pipeline, tasks=tasks, logging_dir=str(logs_dir / f"{i}_{name}"), depends=previous,
                      **options)
        if kind == "slurm":
            kwargs["job_name"] = f"corpus_{name}"
            kwargs.setdefault("workers", workers)
        else:
            # A stage of one task still runs in a worker process where the recipe has workers to spare. datatrove runs
            # a one-worker stage in this process, which then holds its blocks' data (the URL filter's block lists
            # were 0.6 GB of small objects then) to the end: one WARC file took 32 s so, 20-22 s in a worker (this Zen 4).
            # And a later stage's pool pickles the executor with its dependencies, whose blocks then hold a loaded
            # fastText model, which cannot be pickled: the run failed at the buckets stage.
            kwargs["workers"] = min(workers, max(tasks, 2))
        previous = cls(**kwargs)
        executors.append(previous)
    return executors


def incomplete_tasks(executors: list) -> int:
    """Tasks without a completion marker, over all stages (0 once everything has finished)."""
    return sum(len(e.get_incomplete_ranks()) for e in executors)
