# werk — the same targets run on a laptop, a fresh machine and in CI.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install services check fmt test bench demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)
	@# browser tests drive Debian's chromium; install it when missing (as root, or through sudo)
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium >/dev/null; elif command -v sudo >/dev/null; then sudo apt-get -qq update && sudo DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium >/dev/null; else echo "install chromium for the browser tests"; fi; }

services:
	@bash scripts/services.sh

check: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src tests bench
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: install services check
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m "not serial"
	$(BIN)/python -m pytest -q -m serial; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

bench: install services
	@bash scripts/influxdb.sh
	$(BIN)/python -m bench

demo: install  # make demo ARGS="--fresh --days 3"
	$(BIN)/werk demo $(ARGS)

clean:
	rm -rf $(VENV) .werk .mypy_cache .ruff_cache .pytest_cache
