# The two commands of the README. Both create .venv and install the project first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install check clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch/torchvision are pinned in pyproject.toml to the builds on the machine's disk
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: the whole flow on embedded defaults (no servers), results + index.html in ./assetgen-demo
demo: $(STAMP)
	$(VENV)/bin/assetgen demo --out assetgen-demo

## make test: unit + integration tests against PostgreSQL, Redis, a moto S3 server and real workers
test: $(STAMP)
	$(PY) -m pytest -ra

## make check: import layers (import-linter), ruff lint + format, mypy on the job domain
check: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf assetgen-demo .assetgen .pytest_cache
