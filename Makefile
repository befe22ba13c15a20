# Two entry points that work on a fresh machine with only Python 3.11+:
#   make run   - set up .venv and load the sample file into the embedded SQLite database
#   make test  - set up .venv with the test extras and run the suite (SQLite + a real PostgreSQL)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test lint clean

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

run: $(VENV)/.base
	$(BIN)/loader load data/customers.csv --table customers --mode fullload
	$(BIN)/loader status --limit 5

test: $(VENV)/.test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff check loader tests bench
	$(BIN)/mypy loader

clean:
	rm -rf $(VENV) data/*.db data/*.db-journal data/*.stage data/*.locks
