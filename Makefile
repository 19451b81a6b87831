# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
SPEED ?= 10

.PHONY: setup demo test test-fast bench

setup:
	./scripts/setup.sh

demo: setup
	source scripts/env.sh && python -m rxapp.demo --speed $(SPEED)

test: setup
	source scripts/env.sh && ./scripts/test.sh

test-fast:
	source scripts/env.sh && python -m pytest -q -m "not browser"

bench: setup
	source scripts/env.sh && python bench/run_all.py
