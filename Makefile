# The two commands: `make demo` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench install clean chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dealerflow dev

test: $(STAMP) chromium
	$(PY) -m pytest

# The browser tests drive Debian's Chromium: installed here when missing and we may (root).
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium for the browser tests (apt-get)"; \
	    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)"; exit 1; \
	  fi; }

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
