"""A pipeline stage's child process: its whole output kept in a log file, one live line shown instead.

`alignment run` used to stream every datatrove task's log and every trainer's progress bar: a newcomer could not
see which stage was running or how far along it was. Now each stage's stdout and stderr go, as they come, to
`output_dir/run.log` (appended: a killed run's log stays above the rerun's, under a header line), and the
terminal shows one line that is redrawn in place: elapsed time, and the latest progress bar the stage printed
(tqdm's "130/220", from the trainers, datatrove and generation alike) as a bar of our own. Where stdout is not a
terminal (CI, a file) nothing is drawn; the pipeline's own lines say what ran. `verbose` streams the stage's output
as before, and still keeps the log. A stage that fails has the last lines of its log shown.

Not in `output_dir/logs/`: the corpus stage keeps datatrove's logs there and deletes the folder when its recipe
changes, which would take the log being written with it. The later stages fingerprint their input model dir by its
files, run.log among them; the pipeline writes it only while that stage runs, when the model changes anyway.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

LOG_NAME = "run.log"
TAIL_LINES = 20
REDRAW_S = 0.5
BAR_WIDTH = 20
# tqdm's "n/total [elapsed<remaining": the steps done of a bar; its "it/s" suffix varies
_PROGRESS = re.compile(rb"(\d+)/(\d+) \[\d")
# loguru's "2026-12-06 18:58:01.540 | INFO     | datatrove...:run:431 - Tokenizing ...": the message is what matters
_LOGURU = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \| \w+ +\| \S+ - ")
LINE_CHARS = 60


def log_path(output_dir: Path) -> Path:
    return output_dir / LOG_NAME


class _Progress:
    """The latest n/total a stage printed, read from its output as it streams (a thread per pipe feeds it)."""

    def __init__(self):
        self.done: int | None = None
        self.total: int | None = None
        self.line = ""  # the latest complete line that is not a bar: what a stage without bars is doing
        self._tail = b""  # a bar or a line split across two reads is still found

    def feed(self, chunk: bytes) -> None:
        text = self._tail + chunk
        matches = list(_PROGRESS.finditer(text))
        if matches:
            done, total = int(matches[-1].group(1)), int(matches[-1].group(2))
            if 0 <= done <= total > 0:
                self.done, self.total = done, total
        lines = [line.rsplit(b"\r", 1)[-1].decode("utf-8", "replace").strip()
                 for line in text.split(b"\n")[:-1]]
        lines = [_LOGURU.sub("", line) for line in lines if line and not _PROGRESS.search(line.encode())]
        if lines:
            self.line = lines[-1]
        self._tail = text[text.rfind(b"\n") + 1:][-4096:]

    def describe(self, elapsed: float) -> str:
        clock = f"{int(elapsed) // 60}:{int(elapsed) % 60:02d}"
        if self.total is not None:
            filled = round(BAR_WIDTH * self.done / self.total)
            return f"{clock} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total}"
        if self.line:
            return f"{clock} {self.line[:LINE_CHARS - 3] + '...' if len(self.line) > LINE_CHARS else self.line}"
        return clock


def run_logged(command: list[str], log: Path, label: str, verbose: bool) -> int:
    """Run `command`, its stdout and stderr appended to `log`; the exit code. `label` ("[3/6] pretrain") starts
    the live line. verbose: the output also streams to ours, as it would without the pipeline."""
    log.parent.mkdir(parents=True, exist_ok=True)
    live = not verbose and sys.stdout.isatty()
    progress, lock = _Progress(), threading.Lock()
    with open(log, "ab") as handle:
        shown = shlex.join(command).replace("\n", "\\n")  # one header line, whatever the arguments hold
        handle.write(f"\n=== {datetime.now().isoformat(timespec='seconds')} $ {shown}\n".encode())
        handle.flush()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)

        def pump(pipe, echo) -> None:
            for chunk in iter(lambda: pipe.read(65536), b""):
                with lock:
                    handle.write(chunk)
                    handle.flush()
                    progress.feed(chunk)
                if echo is not None:
                    echo.write(chunk)
                    echo.flush()

        pumps = [threading.Thread(target=pump, args=(proc.stdout, sys.stdout.buffer if verbose else None)),
                 threading.Thread(target=pump, args=(proc.stderr, sys.stderr.buffer if verbose else None))]
        for thread in pumps:
            thread.start()
        started = time.monotonic()
        try:
            while any(thread.is_alive() for thread in pumps):
                if live:
                    sys.stdout.write(f"\r\033[K  {label}: {progress.describe(time.monotonic() - started)}")
                    sys.stdout.flush()
                for thread in pumps:
                    thread.join(REDRAW_S)
            return proc.wait()
        except KeyboardInterrupt:  # the child got the same SIGINT: let it finish its own way
            proc.wait()
            raise
        finally:
            if live:
                sys.stdout.write("\r\033[K")
                sys.stdout.flush()


def tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines of the log's latest run, as a terminal would have shown them: of a line that a
    progress bar redrew (carriage returns), its last state."""
    try:
        text = log.read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    run = text.rsplit("\n=== ", 1)[-1].split("\n", 1)[-1]  # below the latest header
    shown = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in run.split("\n")]
    return [line for line in shown if line.strip()][-lines:]
