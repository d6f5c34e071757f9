# evalkit: the front door. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.evalkit-installed
CONFIG ?= data/sample/cohort.yml
OUT    ?= reports/sample

.PHONY: help setup report test bench sample clean axe

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# an editable install leaves evalkit uncompiled, and PYTHONDONTWRITEBYTECODE (set on some CI
	@# machines) stops Python from caching it: every process, kernels included, would compile it again
	$(BIN)/python -m compileall -q evalkit
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install evalkit with its dev extras (done by report/test when needed)

report: $(STAMP)  ## set up, then clean, analyse and render the sample cohort into reports/sample
	$(BIN)/evalkit report $(CONFIG) --out $(OUT) --force

# axe-core, the accessibility engine tests/test_accessibility.py injects into Chromium: installed once
# from npm, pinned; the stamp names the version, so changing AXE_VERSION installs the new one.
AXE_VERSION ?= 4.14.1
AXE_STAMP   := .cache/npm/.axe-core-$(AXE_VERSION)

$(AXE_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-save --no-audit --no-fund --prefix .cache/npm axe-core@$(AXE_VERSION) && touch $@; \
	else echo "npm not found: tests/test_accessibility.py will be skipped (apt-get install npm)"; fi

axe: $(AXE_STAMP)  ## install axe-core (pinned, from npm) into .cache/npm for the accessibility test

test: $(STAMP) $(AXE_STAMP)  ## set up, then run the whole test suite (unit, doctests, notebooks, HTML checks)
	MPLBACKEND=Agg $(BIN)/python -m pytest -n auto

bench: $(STAMP)  ## time the report and large-cohort cleaning against their baselines, print the ratios
	$(BIN)/python -m compileall -q evalkit
	$(BIN)/python benchmarks/run.py

sample: $(STAMP)  ## regenerate data/sample from the seeded generator
	$(BIN)/python -m evalkit.sample data/sample

clean:  ## remove the virtual environment and generated reports
	rm -rf $(VENV) reports .pytest_cache *.egg-info
