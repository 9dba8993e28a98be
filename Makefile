# xoi-invoices: `make run` and `make test` set up everything they need, system packages too.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CONFIG ?= xoi-invoices.example.toml
OUT ?= output
# Seconds `make nightly` waits for a clerk's command on the folder to finish before exit 75.
LOCK_TIMEOUT ?= 3600
FIXTURES := fixtures/work_orders.csv fixtures/work_orders.json
# Debian packages: HarfBuzz's subsetter makes WeasyPrint ~4x faster; Noto covers Latin,
# Arabic and CJK names and emoji (customers do put them in names); poppler and zbar let tests and people look at what we render;
# chromium (Debian's, driven by Playwright) clicks the launch button in the browser test.
APT_PACKAGES := libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core \
	fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core poppler-utils zbar-tools chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system run test lint wheel clean nightly regenerate verify help bench

help:
	@echo "make run      install, then render the fixtures into $(OUT)/"
	@echo "make test     install, then run the tests"
	@echo "make nightly INPUT='exports/*.csv' [OUT=dir] [CONFIG=file]"
	@echo "make regenerate TICKET=WO-1 INPUT=exports/orders.csv"
	@echo "make verify [OUT=dir]   make lint   make wheel   make clean"
	@echo "make bench [N=2000]      speed and memory against the naive loop"

.make/system: Makefile
	@mkdir -p .make
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

system: .make/system

$(VENV)/.installed: pyproject.toml .make/system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,cluster,desk]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/xoi-invoices run $(FIXTURES) --config $(CONFIG) --out $(OUT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The wheel as a user installs it: built from this tree, installed (not editable) into a
# fresh venv, run from outside the tree so nothing is imported from the sources.
WHEEL_VENV := .make/wheel-venv
wheel: install
	rm -rf dist $(WHEEL_VENV)
	$(BIN)/pip wheel -q --no-deps --wheel-dir dist .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q dist/*.whl
	out=$$(mktemp -d) && cd "$$out" && \
	$(CURDIR)/$(WHEEL_VENV)/bin/xoi-invoices run $(addprefix $(CURDIR)/,$(FIXTURES)) \
		--config $(CURDIR)/$(CONFIG) --out "$$out/output" && \
	$(CURDIR)/$(WHEEL_VENV)/bin/xoi-invoices verify --out "$$out/output" && \
	n=$$(ls "$$out/output/invoices" | wc -l) && rm -rf "$$out" && \
	echo "the wheel rendered $$n invoices" && test "$$n" -gt 0

nightly: install
	@test -n "$(INPUT)" || { echo "usage: make nightly INPUT='exports/*.csv'"; exit 2; }
	$(BIN)/xoi-invoices run $(INPUT) --config $(CONFIG) --out $(OUT) --quiet --lock-timeout $(LOCK_TIMEOUT)

regenerate: install
	@test -n "$(TICKET)" -a -n "$(INPUT)" || { echo "usage: make regenerate TICKET=WO-1 INPUT=file"; exit 2; }
	$(BIN)/xoi-invoices regenerate $(TICKET) $(foreach f,$(INPUT),--input $(f)) --config $(CONFIG) --out $(OUT)

verify: install
	$(BIN)/xoi-invoices verify --out $(OUT)

clean:
	rm -rf $(VENV) .make build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find $(OUT) -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

# Throughput, memory, re-run, validate and cluster figures against the naive loop (docs/performance.md).
bench: install
	$(BIN)/python benchmarks/bench.py $(if $(N),--count $(N))
	$(BIN)/python benchmarks/einvoice_cost.py
