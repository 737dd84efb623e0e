# The two commands: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export ARCHIVER_HOME ?= $(CURDIR)/var
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test test-deps bench lint install demo verify clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Fresh machine -> archive initialised, demo data loaded, verified, then the HTTP API on
# $(HOST):$(PORT) (development server; Ctrl-C stops it). An admin token is created once,
# kept in $(ARCHIVER_HOME)/make-run.token (0600) and shown again on every run.
run: $(STAMP)
	$(BIN)/archiver demo
	$(BIN)/archiver verify
	@$(BIN)/archiver tokens create --name make-run --role admin --if-missing \
	  --save "$(ARCHIVER_HOME)/make-run.token" >/dev/null
	@echo "admin token: $$(cat "$(ARCHIVER_HOME)/make-run.token")"
	@echo "try: curl -H 'Authorization: Bearer $$(cat "$(ARCHIVER_HOME)/make-run.token")'" \
	  "http://$(HOST):$(PORT)/api/v1/items/mastodon/112060198503477832"
	@echo "web interface: open http://$(HOST):$(PORT)/ and sign in with the admin token"
	$(BIN)/archiver serve --host $(HOST) --port $(PORT)

demo: $(STAMP)
	$(BIN)/archiver demo

verify: $(STAMP)
	$(BIN)/archiver verify

# SeaweedFS (S3 + Object Lock) is started and stopped by the test session itself
# (tests/fixtures/seaweed.py; one per xdist worker, on free loopback ports); PostgreSQL is
# the server at 127.0.0.1:5432 (a schema per test). Tests run on every core (-n auto).
test: $(STAMP) test-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n auto

# Go's own transparency-log library (golang.org/x/mod/sumdb) checks our proofs in the
# interop tests; both come from Debian's packages.
test-deps:
	@command -v go >/dev/null 2>&1 && test -d /usr/share/gocode/src/golang.org/x/mod/sumdb || { \
	  echo "installing golang-go and golang-golang-x-mod-dev (interop verifier)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    golang-go golang-golang-x-mod-dev >/dev/null; }
	@# Exports: PDF renderings need a font covering Latin and Arabic script; the HTML
	@# renderings are opened in headless Chromium.
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf && command -v chromium >/dev/null 2>&1 || { \
	  echo "installing fonts-dejavu-core and chromium (exports)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    fonts-dejavu-core chromium >/dev/null; }
	@# The web interface's browser tests drive Chromium through Debian's chromedriver.
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing chromium and chromium-driver (web interface tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; }

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/collect.py
	$(BIN)/python benchmarks/proofs.py
	$(BIN)/python benchmarks/search.py --records 100000
	$(BIN)/python -m benchmarks.retention
	$(BIN)/python benchmarks/export.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
