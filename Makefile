# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
SPEED ?= 10
WORKERS ?= 2

.PHONY: setup demo run scale scale-serve test test-fast bench

setup:
	./scripts/setup.sh

demo: setup
	source scripts/env.sh && python -m rxapp.demo --speed $(SPEED)

# Runs the product for real with this environment's configuration (README: "Running it for real"): refuses to
# start while a required setting is missing. No setup step here: a restart must not need the network.
run:
	source scripts/env.sh && python -m rxapp.cli serve

# The demo on this machine's PostgreSQL and Redis with WORKERS backend workers (README: "Running at scale"); its
# database, vj_scale_demo, is dropped and recreated each run.
scale: setup
	./scripts/scale.sh demo --workers $(WORKERS) --speed $(SPEED)

# Running it for real with WORKERS workers: refuses without PostgreSQL and Redis in the configuration.
scale-serve:
	./scripts/scale.sh serve --workers $(WORKERS)

test: setup
	source scripts/env.sh && ./scripts/test.sh

test-fast:
	source scripts/env.sh && python -m pytest -q -m "not browser"

bench: setup
	source scripts/env.sh && python bench/run_all.py
