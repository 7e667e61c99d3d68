# jadis — the two commands a newcomer needs:  make demo   and   make test
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(BIN)/jadis demo --out $(OUT)

test: setup
	@$(BIN)/ruff check jadis apps tests benchmarks
	@$(BIN)/python -m pytest

lint: setup
	@$(BIN)/ruff check jadis apps tests benchmarks

bench: setup
	@$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf out .pytest_cache
