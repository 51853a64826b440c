# The two commands a new user runs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench reliability fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# An editable install leaves the package uncompiled, and with PYTHONDONTWRITEBYTECODE set (as on CI
# machines) every run would compile it again: compile it once, as installing a wheel does.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e .
	$(BIN)/python -m compileall -q reconciler
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[test]'
	$(BIN)/python -m compileall -q reconciler
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	./scripts/demo.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check reconciler tests bench examples reliability
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy reconciler tests bench reliability

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 4

test: lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

# The sandbox under a longer fuzzer run than make test's (tests/fuzz.py): prints requests per
# operation and every failure; FUZZ_EXAMPLES requests per operation and mode, FUZZ_SEED its seed.
FUZZ_EXAMPLES ?= 400
FUZZ_SEED ?= 0
fuzz: $(VENV)/.installed-test
	$(BIN)/python -m tests.fuzz --examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

reliability: $(VENV)/.installed-test
	$(BIN)/python -m reliability
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) .ftctl .mypy_cache .ruff_cache build *.egg-info
