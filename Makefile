# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
SPEED ?= 10

.PHONY: setup demo run test test-fast bench

setup:
	./scripts/setup.sh

demo: setup
	source scripts/env.sh && python -m rxapp.demo --speed $(SPEED)

# Runs the product for real with this environment's configuration (README: "Running it for real"): refuses to
# start while a required setting is missing. No setup step here: a restart must not need the network.
run:
	source scripts/env.sh && python -m rxapp.cli serve

test: setup
	source scripts/env.sh && ./scripts/test.sh

test-fast:
	source scripts/env.sh && python -m pytest -q -m "not browser"

bench: setup
	source scripts/env.sh && python bench/run_all.py
