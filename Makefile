# The two commands: `make demo` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dealerflow dev

test: $(STAMP)
	$(PY) -m pytest

# The fast speed: workflow logic on Temporal's time-skipping server and the rule DSL, no database.
test-fast: $(STAMP)
	$(PY) -m pytest tests/workflows tests/test_dsl.py tests/test_dsl_kinds.py tests/test_dsl_limits.py \
		tests/test_policy_dsl.py tests/test_rebate_dsl.py tests/test_tiering_dsl.py tests/test_diversion_dsl.py

bench: $(STAMP)
	$(PY) bench/credit_decision.py
	$(PY) bench/order_placement.py
	$(PY) bench/policy_rollout.py
	$(PY) bench/settlement.py
	$(PY) bench/retiering.py
	$(PY) bench/scans.py
	$(PY) bench/reports.py

clean:
	rm -rf $(VENV) .data
