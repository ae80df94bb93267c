"""Shared fixtures: the real CLI in a subprocess, and one tiny corpus built once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_CORPUS_RECIPE = ROOT / "recipes" / "tiny" / "corpus.yaml"


def run_cli(*args: str, timeout: int = 900, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m alignment ARGS` from the repo root, as a user would run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "alignment", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"alignment {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def saved_checkpoints(out: Path, pattern: str = "checkpoint-*") -> list[Path]:
    """out/checkpoints' dirs whose trainer state is written whole (it is written last; a look while it is being
    written finds it empty, and a kill then leaves a checkpoint that a resumed run must pass over)."""
    from alignment.training import checkpoint_saved

    return [p for p in (out / "checkpoints").glob(pattern) if checkpoint_saved(p)]


def kill_at_checkpoint(args: list, out: Path, step: int, timeout: float = 600) -> None:
    """Start `alignment ARGS`, SIGKILL its whole process group once `out/checkpoints/checkpoint-STEP` is saved
    (a real kill: no handler runs), and check that it had not finished."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "alignment", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not saved_checkpoints(out, f"checkpoint-{step}"):
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it had ended already (finished, or failed): the assertion below says which
        pass
    proc.wait()
    assert not (out / "metrics.json").exists(), "the run finished before it could be killed"
    assert saved_checkpoints(out), \
        f"the run ended (exit {proc.returncode}) before it wrote checkpoint-{step}"


@pytest.fixture(autouse=True)
def _trackio_dir_stays_in_its_test():
    """Stage code run in-process with report_to: trackio sets TRACKIO_DIR for its whole process (alignment/
    training.py): put back after each test, or every later subprocess of the session would log there (the tiny
    pipeline test's runs once went to the checkout's runs/tiny/trackio that way)."""
    before = os.environ.get("TRACKIO_DIR")
    yield
    if before is None:
        os.environ.pop("TRACKIO_DIR", None)
    else:
        os.environ["TRACKIO_DIR"] = before


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The tiny recipe's corpus stage, end to end (mini-web generation included), shared by the tests."""
    out = tmp_path_factory.mktemp("tiny") / "corpus"
    proc = run_cli("corpus", "--config", TINY_CORPUS_RECIPE, "--output_dir", out)
    return out, proc


def skip_without_sandbox() -> None:
    """Skip a test that runs the python tool where its sandbox cannot start here (the reason in the skip)."""
    import pytest

    from alignment.tools.python_sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as e:
        pytest.skip(f"the sandbox cannot start on this machine: {e}")
