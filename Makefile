# Tmux Orchestrator: `make help` lists the targets. Each recipe is one short command;
# the scripts it calls install whatever is missing by themselves.
PY ?= python3
# One dependency set per Python minor version (docs/python-and-dependencies.md).
DEPS = .deps/$(shell $(PY) -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTEST = PYTHONPATH=$(DEPS)/python:$(DEPS)/dev $(PY) -m pytest
MINUTES ?= 20

.PHONY: help deps system test-tools dev-deps bundle claude agent-clis demo test test-fast e2e bench rehearsal lint clean

help:            ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' Makefile | sed 's/:.*## /\t/' | expand -t 14

deps:            ## install the pinned Python dependencies into .deps/py<X.Y>/python
	$(PY) orc deps

system:          ## install tmux and cron if missing (apt-get or brew)
	bash tools/install_system_deps.sh tmux cron

test-tools:      ## install faketime if missing: the tests shift the suite's clock with it (a laptop that slept)
	bash tools/install_system_deps.sh faketime

dev-deps: deps   ## install the test tools into .deps/py<X.Y>/dev
	$(PY) orc deps --dev

bundle:          ## put the wheels for Python 3.9 to 3.13 into bundle/wheels, for copies on machines without network
	$(PY) orc deps --bundle

claude:          ## install the pinned Claude Code CLI (or CLAUDE_CODE_VERSION) into .deps/npm/<version>
	@bash tests/e2e/install_claude.sh >/dev/null || { echo "make: the Claude Code CLI could not be installed (npm's error above), so the end-to-end tier cannot run; the fast tier runs alone with: make test-fast" >&2; exit 1; }

agent-clis:      ## install the pinned Codex CLI and Gemini CLI (or CODEX_VERSION, GEMINI_CLI_VERSION) into .deps/npm/
	@bash tests/e2e/install_agent_clis.sh >/dev/null || echo "make: the Codex or Gemini CLI could not be installed (npm's error above): their end-to-end tests are skipped (under CI: they fail); the rest runs" >&2

demo: system deps ## a private tmux session with a stand-in agent that receives a scheduled check-in (KEEP=1: leave it running)
	$(PY) tools/demo.py $(if $(KEEP),--keep)

test: system test-tools claude agent-clis ## the whole suite on every Python 3.9-3.13 found: everything on the oldest and newest, smoke between
	$(PY) tools/matrix.py

test-fast: system test-tools dev-deps ## the unit tier only, on one Python: PY=python3 (no real Claude Code, no cron daemon)
	$(PYTEST) -m "not e2e" tests

e2e: system dev-deps claude agent-clis ## the end-to-end tier only, on one Python: PY=python3
	$(PYTEST) -m e2e tests

bench: system deps claude ## run the benchmarks whose figures are in docs/benchmarks.md
	$(PY) bench/run_all.py

rehearsal: system dev-deps claude ## a night rehearsed: 2 teams of real Claude Code, real cron, faults, a report (MINUTES=3: quick)
	$(PY) bench/rehearsal.py --minutes $(MINUTES)

lint:            ## shellcheck the launchers, mypy --strict the Python
	bash tools/install_system_deps.sh shellcheck
	shellcheck *.sh tools/*.sh tests/e2e/*.sh .ci/run
	PYTHONPATH=$(DEPS)/python:$(DEPS)/dev $(PY) -m mypy --strict orc tmux_utils.py orchestrator_integration.py tools/pythons.py tools/matrix.py

clean:           ## remove installed dependencies (state/ is kept: it holds your notes)
	rm -rf .deps bundle .pytest_cache .mypy_cache
