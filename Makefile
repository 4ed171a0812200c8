# `make run` and `make test` work on a fresh machine; `make install` is their shared first step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-sqlite bench reliability clean

install: $(STAMP)

NPM_CLIENTS := tests/clients/pwinty_v3

$(STAMP): pyproject.toml clients/python/pyproject.toml $(NPM_CLIENTS:%=%/package-lock.json)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e clients/python
	# The published clients the tests drive unmodified (skipped, and said so, where there is no npm).
	if command -v npm >/dev/null; then for dir in $(NPM_CLIENTS); do npm ci --prefix $$dir --no-audit --no-fund --silent; done; \
	else echo "npm not found: the published-client tests will be skipped"; fi
	touch $(STAMP)

run: install
	$(BIN)/printwork serve

# The whole suite, on SQLite and on the PostgreSQL at PRINTWORK_TEST_POSTGRES_URL
# (default postgresql://postgres@127.0.0.1:5432/test); PostgreSQL tests skip, saying why, only
# when that server cannot be reached.
test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/api_throughput.py

# Faults and load on loopback, 27 minutes on a 2-core machine; the table goes to bench/results/reliability-*.md.
reliability: install
	$(BIN)/python bench/reliability.py

clean:
	rm -rf $(VENV) var .pytest_cache
