# Two commands for a newcomer: `make demo` and `make test`.
# Both create .venv when missing and install the package into it (once; a stamp
# file remembers the install until pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch. Override (e.g. TORCH="torch" for CUDA) when you want another.
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.inpaintkit-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/inpaintkit demo --out outputs/demo

test: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks

clean:
	rm -rf $(VENV) outputs build dist .pytest_cache .ruff_cache
