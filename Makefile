# The two commands of the README: `make demo` and `make test`.
.PHONY: setup setup-test demo serve-demo test lint types unit chart architecture bench lock

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/riverchief demo

# The demo's pages, API and scheduler on the database `make demo` built (http://localhost:8000/).
serve-demo: setup
	@test -f data/demo.db || { echo "error: no data/demo.db yet: run make demo first"; exit 1; }
	RIVERCHIEF_DATABASE_URL=sqlite:///$(CURDIR)/data/demo.db RIVERCHIEF_DATA_DIR=$(CURDIR)/data .venv/bin/riverchief serve

setup-test:
	@scripts/setup.sh --test

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-cache

types: setup-test
	.venv/bin/mypy
	.venv/bin/mypy --strict tests/factories.py

# One worker per CPU: each has its own template databases (SQLite files, PostgreSQL databases with unique names),
# kept in RAM where scripts/test-tablespace.sh can make a tablespace there.
test: lint types
	RIVERCHIEF_TEST_TABLESPACE=$$(scripts/test-tablespace.sh) .venv/bin/pytest -n auto

chart: setup
	.venv/bin/riverchief chart --markdown > docs/statechart.md

# The package diagram of docs/architecture.md, drawn from the imports.
architecture: setup-test
	.venv/bin/python scripts/architecture.py

bench: setup
	.venv/bin/python -m bench.apply

# Re-resolve every dependency (pyproject.toml's ranges, the dev extra included) into requirements/lock.txt.
lock: setup
	.venv/bin/python -m pip install -q uv
	.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --no-header --quiet -o requirements/lock.txt
