"""alignment/stage_log.py: a stage's output kept in its log, the live line read from it, the tail of a failed run."""

from __future__ import annotations

import sys

from alignment.stage_log import _Progress, run_logged, tail


def test_the_live_line_follows_the_latest_bar_even_split_across_reads():
    progress = _Progress()
    assert progress.describe(5) == "0:05"
    progress.feed(b"2026-12-06 18:58:01.540 | INFO     | datatrove.pipeline.tokens.tokenizer:run:431 - "
                  b"Tokenizing in \"00000_unshuffled.ds\"...\n")
    assert progress.describe(65) == '1:05 Tokenizing in "00000_unshuffled.ds"...'  # loguru's prefix dropped
    progress.feed(b"\r 45%|####     | 70/1")
    progress.feed(b"58 [00:18<00:23,  3.76it/s]")  # the bar's numbers came in two reads
    assert progress.describe(3725) == "62:05 [#########...........] 70/158"
    progress.feed(b"\r 46%|####     | 72/158 [00:19<00:22,  3.76it/s]{'loss': '0.36'}\n")
    assert progress.describe(0).endswith("] 72/158")


def test_a_long_line_is_cut_to_fit():
    progress = _Progress()
    progress.feed(b"x" * 200 + b"\n")
    assert progress.describe(0) == "0:00 " + "x" * 57 + "..."


def test_output_goes_to_the_log_appended_and_the_tail_is_what_a_terminal_showed(tmp_path, capsys):
    log = tmp_path / "out" / "run.log"
    code = run_logged([sys.executable, "-c", "print('first run')"], log, "[1/1] x", verbose=False)
    assert code == 0
    program = ("import sys, time\n"
               "print('to stdout', flush=True)\n"
               "time.sleep(0.3)  # two pipes, two reader threads: the log's order is the order of arrival\n"
               "print('to stderr', file=sys.stderr, flush=True)\n"
               "sys.stderr.write('\\r 10%| 1/10 [00:01<00:09]\\r100%| 10/10 [00:02<00:00]\\n')\n"
               "sys.exit(3)")
    code = run_logged([sys.executable, "-c", program], log, "[1/1] x", verbose=False)
    assert code == 3
    text = log.read_text()
    assert text.count("\n=== ") == 2 and text.index("first run") < text.index("to stdout")  # appended, headed
    assert "to stderr" in text
    assert capsys.readouterr().out == ""  # not a terminal and not verbose: nothing drawn, nothing streamed
    assert tail(log) == ["to stdout", "to stderr", "100%| 10/10 [00:02<00:00]"]  # the latest run only
    assert tail(log, 1) == ["100%| 10/10 [00:02<00:00]"]
    assert tail(tmp_path / "missing.log") == []


def test_verbose_streams_the_output_and_still_keeps_it(tmp_path, capfd):
    log = tmp_path / "run.log"
    program = "import sys; print('out line'); print('err line', file=sys.stderr)"
    assert run_logged([sys.executable, "-c", program], log, "[1/1] x", verbose=True) == 0
    streamed = capfd.readouterr()
    assert "out line" in streamed.out and "err line" in streamed.err
    assert "out line" in log.read_text() and "err line" in log.read_text()
