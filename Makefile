# Two entry points that work on a fresh machine with only Python 3.11+:
#   make run   - set up .venv and run the service once over the sample files (embedded SQLite database)
#   make test  - set up .venv with the test extras and run the suite (SQLite + a real PostgreSQL)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test test-all lint clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	touch $(VENV)/.base $@

# cp -p keeps the files' old mtimes: they count as settled at once (no stability wait)
run: $(VENV)/.base
	mkdir -p data/drop/inbox
	cp -p data/customers.csv data/samples/* data/drop/inbox/
	$(BIN)/loader run --root data/drop --once
	$(BIN)/loader status --root data/drop --limit 5

test: $(VENV)/.test
	$(BIN)/python -m pytest -q

# the suite plus the soak tests marked slow
test-all: $(VENV)/.test
	$(BIN)/python -m pytest -q -m ""

lint: $(VENV)/.test
	$(BIN)/ruff check loader tests bench
	$(BIN)/mypy loader

clean:
	rm -rf $(VENV) data/*.db data/*.db-journal data/*.stage data/*.locks data/drop
