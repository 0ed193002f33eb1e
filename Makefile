# make install: .venv with the project and its dev extra (idempotent; a no-op when nothing changed).
# make run: the Discord bot when DISCORD_TOKEN is set, else an interactive terminal session over corpus/.
# make test: the test suite.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install run test bench eval clean

install: $(STAMP)

# PYTHONWARNINGS: setuptools tells every editable install that folders named like the package may shadow it
# (none do here); pip --quiet would still print that box.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(VENV)/bin/python -m pip install --quiet \
		--disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: install
	$(VENV)/bin/newsdesk run

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(VENV)/bin/python scripts/benchmark.py

clean:
	rm -rf $(VENV) .newsdesk
