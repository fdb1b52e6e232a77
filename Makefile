# Kontor: `make demo` sets everything up and runs the demo; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-deployment

.PHONY: install demo test bench bench-connectors lint clean

$(BIN)/kontor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/kontor

# Writes a demo back office, syncs it (its few dirty records are quarantined on purpose,
# so that sync exits 2: records refused), prints an admin token for the API and the
# dashboard (/ui/), then serves on http://127.0.0.1:8000/docs
demo: install
	rm -rf $(DEMO)
	$(BIN)/kontor demo $(DEMO)
	-cd $(DEMO) && $(CURDIR)/$(BIN)/kontor sync
	cd $(DEMO) && $(CURDIR)/$(BIN)/kontor tokens create --role admin --expires 7d --name demo
	cd $(DEMO) && $(CURDIR)/$(BIN)/kontor serve

# One worker per core (pytest-xdist), a test module at a time; the 20 slowest tests are
# listed at the end. Bytecode is cached (under .venv) even where PYTHONDONTWRITEBYTECODE
# is set: every test worker and kontor process would compile every module again.
test: install
	env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache \
	  $(BIN)/python -m pytest -n auto --dist loadscope --durations=20

bench: install
	$(BIN)/python bench/import_customers.py

# Connector read/write records/s and peak memory beside bare-library baselines;
# e.g. make bench-connectors BENCH_ARGS="--rows 5000000 --only csv-read"
bench-connectors: install
	$(BIN)/python bench/connectors_bench.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check hub connectors mappings policies
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
