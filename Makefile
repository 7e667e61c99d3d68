# jadis — the two commands a newcomer needs:  make demo   and   make test
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint bench screenshots clean

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

screenshots: setup  # refresh the app screenshots in docs/ (made by the browser tests)
	@JADIS_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -m browser

clean:
	rm -rf out .pytest_cache
