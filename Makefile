# The two commands: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export ARCHIVER_HOME ?= $(CURDIR)/var
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test bench lint install demo verify clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Fresh machine -> archive initialised, demo data loaded, verified. (The HTTP service
# is started here once the API lands; until then `run` ends with the verification.)
run: $(STAMP)
	$(BIN)/archiver demo
	$(BIN)/archiver verify

demo: $(STAMP)
	$(BIN)/archiver demo

verify: $(STAMP)
	$(BIN)/archiver verify

# SeaweedFS (S3 + Object Lock) is started and stopped by the test session itself
# (tests/fixtures/seaweed.py); PostgreSQL is the server at 127.0.0.1:5432.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
