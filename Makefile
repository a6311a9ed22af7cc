# make run       — set up (once) and open the dashboard on the built-in digits dataset
# make test      — set up (once) and run every test not marked slow (about 5 minutes on two cores)
# make test-all  — every test, the slow ones too (what CI runs, with test-kernels and lint)
# make lint      — ruff's checks and its formatting, as configured in pyproject.toml
# VENV is where the virtual environment lives; CI may point it outside the clone to reuse one.
VENV ?= .venv
PYTHON ?= python3
ADDRESS ?= 127.0.0.1
PORT ?= 8501
BIN := $(VENV)/bin
STAMP := $(VENV)/.kd-dashboard-installed

.PHONY: install run demo test test-all test-kernels lint soak bench browser clean loadtest

# (Re)install when there is no venv, pyproject.toml changed, or the venv's editable install belongs to another
# clone (a VENV shared between clones, as CI does): the stamp holds the folder it was installed from.
install:
	@if [ ! -x $(BIN)/python ] || [ pyproject.toml -nt $(STAMP) ] || [ "$$(cat $(STAMP) 2>/dev/null)" != "$(CURDIR)" ]; then \
		set -e; \
		test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
		echo "installing into $(VENV) (takes a few minutes the first time)"; \
		$(BIN)/python -m pip install -q --upgrade pip; \
		$(BIN)/python -m pip install -q -e ".[test]"; \
		echo "$(CURDIR)" > $(STAMP); \
	fi

run: install
	$(BIN)/python -m streamlit run dashboard/app.py --server.address $(ADDRESS) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

demo: install
	$(BIN)/kd-train --dataset digits --json demo-result.json

# Debian's chromium for the real-browser test (needs root; never 'playwright install').
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
		|| echo "note: /usr/bin/chromium is missing and could not be installed; the browser test will be skipped"

test: install browser
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install browser
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The numeric tests (the recorded runs, every lesson's claim from start seeds 0-19, the digits ship lesson's int8
# claim, every finding after Hinton's claims — the two costly ones from start seed 0 —, the language lesson's claim)
# again under the float kernels of older CPUs, imitated on this one (benchmarks/kernels.py): a result that holds
# only on this CPU fails here.
NUMERIC_TESTS := tests/test_reference.py tests/test_lessons.py tests/test_bench.py \
	tests/test_ship_lesson.py::test_the_digits_ship_claim_holds_over_its_seeds \
	tests/test_research_lessons.py::test_every_claim_holds_from_every_start_seed \
	tests/test_language_cli.py::test_the_language_lessons_claim_holds_from_several_start_seeds
test-kernels: install
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 $(BIN)/python -m pytest -q $(NUMERIC_TESTS)
	ATEN_CPU_CAPABILITY=default $(BIN)/python -m pytest -q $(NUMERIC_TESTS)

# The soak test (part of make test for 30 s), for 5 minutes: browser sessions start and stop trainings at random.
soak: install browser
	KD_SOAK_SECONDS=300 $(BIN)/python -m pytest -q -s tests/test_soak.py

bench: install
	$(BIN)/kd-bench --json bench.json

# 30 simulated students (websocket clients, no browser) against a fresh server with an empty cache; every
# student still waiting after --deadline seconds counts as an error, so this always stops by itself.
loadtest: install
	$(BIN)/kd-loadtest --students 30 --deadline 300 --json loadtest.json

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
