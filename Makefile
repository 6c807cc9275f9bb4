# Tmux Orchestrator: `make help` lists the targets. Each recipe is one short command;
# the scripts it calls install whatever is missing by themselves.
PY ?= python3
PYTEST = PYTHONPATH=.deps/python:.deps/dev $(PY) -m pytest
MINUTES ?= 20

.PHONY: help deps system dev-deps claude demo test test-fast e2e bench rehearsal lint clean

help:            ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' Makefile | sed 's/:.*## /\t/' | expand -t 14

deps:            ## install the pinned Python dependencies into .deps/python
	$(PY) orc deps

system:          ## install tmux and cron if missing (apt-get or brew)
	bash tools/install_system_deps.sh tmux cron

dev-deps: deps   ## install the test tools into .deps/dev
	$(PY) orc deps --dev

claude:          ## install the pinned Claude Code CLI into .deps/npm (end-to-end tier)
	bash tests/e2e/install_claude.sh >/dev/null

demo: system deps ## a private tmux session with a stand-in agent that receives a scheduled check-in
	$(PY) tools/demo.py

test: system dev-deps claude ## the whole suite: unit tier and end-to-end tier (real Claude Code, real cron)
	$(PYTEST) tests

test-fast: system dev-deps ## the unit tier only (no real Claude Code, no cron daemon)
	$(PYTEST) -m "not e2e" tests

e2e: system dev-deps claude ## the end-to-end tier only
	$(PYTEST) -m e2e tests

bench: system deps claude ## run the benchmarks whose figures are in the README
	$(PY) bench/run_all.py

rehearsal: system dev-deps claude ## a night rehearsed: 2 teams of real Claude Code, real cron, faults, a report (MINUTES=3: quick)
	$(PY) bench/rehearsal.py --minutes $(MINUTES)

lint:            ## shellcheck the launchers, mypy --strict the Python
	bash tools/install_system_deps.sh shellcheck
	shellcheck *.sh tools/*.sh tests/e2e/*.sh .ci/run
	PYTHONPATH=.deps/python:.deps/dev $(PY) -m mypy --strict orc tmux_utils.py orchestrator_integration.py

clean:           ## remove installed dependencies (state/ is kept: it holds your notes)
	rm -rf .deps .pytest_cache .mypy_cache
