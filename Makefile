# Fieldwork: `make run` starts the platform locally, `make test` tests it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := libs/common services/requests services/interventions services/timeclock services/notifications services/gateway
STAMP := $(VENV)/.installed

.PHONY: venv run test unit integration bench clean

venv: $(STAMP)

$(STAMP): requirements.lock $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(foreach p,$(PACKAGES),-e $(p))
	touch $(STAMP)

run: venv
	$(PY) tools/run_local.py

unit: venv
	$(PY) -m pytest libs/common/tests services tests/test_compose.py tests/test_layout.py tests/test_intervention_copies.py

integration: venv
	$(PY) -m pytest tests/integration

test: unit integration

bench: venv
	$(PY) bench/bench_create.py

clean:
	rm -rf $(VENV) var
