# indunet — `make demo` and `make test` work on a fresh machine with Python, pip and the registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := src/indunet/web/static/vendor/uPlot.iife.min.js
# Root installs system packages directly; anyone else goes through sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo serve test lint typecheck bench clean chromium node openssl

setup: $(STAMP) $(VENDOR)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,sequence]'
	touch $(STAMP)

node:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }

# The chart library comes from the npm registry at set-up; it is never committed.
$(VENDOR): console/package.json console/package-lock.json | node
	npm ci --prefix console --no-audit --no-fund --loglevel=error
	sh console/vendor.sh

# Browser tests drive Debian's Chromium (Playwright's own browser download is not available here).
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# SM2 interoperability tests cross-check with the OpenSSL 3 command line.
openssl:
	@command -v openssl >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl; }

demo: setup
	$(BIN)/indunet demo

serve: setup
	$(BIN)/indunet serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: setup chromium openssl lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/run.py $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENV) console/node_modules src/indunet/web/static/vendor .pytest_cache .mypy_cache .ruff_cache
