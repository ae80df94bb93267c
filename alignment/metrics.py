"""metrics.json: what a stage measured, plus what reproduces it.

Every stage ends by writing `<output_dir>/metrics.json` with its own numbers and: the seed, the git
commit, package versions, wall time, and the peak memory of the whole process tree (datatrove's
workers, Trafilatura's sandboxes and Ray's processes are children of ours: their memory counts too).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import psutil

PACKAGES = ("torch", "transformers", "datasets", "tokenizers", "accelerate", "peft", "trl", "datatrove", "ray")


class PeakTreeMemory:
    """Samples the memory of this process and all its descendants together; keeps the maximum.

    ru_maxrss would give only the largest single process, not the sum of concurrent ones. The sum of RSS
    is an upper bound: pages a forked child shares with its parent (datatrove's extractor sandbox is a
    fork of a datatrove worker) count in both. PSS would split them, but reading
    /proc/PID/smaps_rollup of a 1 GB process costs ~90 ms of kernel time: sampled 5 times a second it
    slowed the 2-core corpus run by ~10%. RSS costs ~0.1 ms a process.
    A 0.2 s period catches the plateaus that matter (a worker's models and word lists load for seconds).
    """

    def __init__(self, period_s: float = 0.2):
        self.period_s = period_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def peak_gb(self) -> float:
        return round(self.peak_bytes / 2**30, 3)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


class StageRun:
    """Times a stage and tracks its memory; `write()` saves metrics.json.

        with StageRun("corpus", output_dir, seed=0) as run:
            ...
            run.write({"documents_kept": 812})
    """

    def __init__(self, stage: str, output_dir: str | Path, seed: int | None = None):
        self.stage = stage
        self.output_dir = Path(output_dir)
        self.seed = seed
        self.memory = PeakTreeMemory()

    def __enter__(self):
        self.started = time.time()
        self.memory.__enter__()
        return self

    def __exit__(self, *exc):
        self.memory.__exit__(*exc)

    def write(self, measured: dict) -> dict:
        self.memory.sample()
        record = {
            "stage": self.stage,
            **measured,
            "reproduce": {
                "seed": self.seed,
                "git_commit": git_commit(),
                "packages": package_versions(),
                "command": " ".join(["alignment", *sys.argv[1:]]),
            },
            "wall_time_s": round(time.time() - self.started, 2),
            "peak_memory_gb": self.memory.peak_gb,
            # unique to this run: `alignment run` tells a rerun by the file's sha256, and two quick resumed runs
            # can take the same wall time to 0.01 s and the same peak memory
            "finished_at": datetime.now(timezone.utc).isoformat(),
        }
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
        return record


class PhaseClock:
    """Seconds spent in each phase of the stage (metrics.json's phase_seconds: where the stage's time goes)."""

    def __init__(self, stage: str):
        import time

        self.stage, self.seconds, self.last, self.now = stage, {}, time.perf_counter(), time.perf_counter

    def done(self, phase: str) -> None:
        now = self.now()
        self.seconds[phase] = round(now - self.last, 2)
        self.last = now
        print(f"{self.stage}: {phase} took {self.seconds[phase]} s", flush=True)
