# The two commands of the README: `make demo` and `make test`.
.PHONY: setup setup-test demo test lint types unit chart bench

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/riverchief demo

setup-test:
	@scripts/setup.sh --test

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

types: setup-test
	.venv/bin/mypy

# One worker per CPU: each has its own template databases (SQLite files, PostgreSQL databases with unique names).
test: lint types
	.venv/bin/pytest -n auto

chart: setup
	.venv/bin/riverchief chart --markdown > docs/statechart.md

bench: setup
	.venv/bin/python -m bench.apply
