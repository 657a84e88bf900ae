# The two commands: `make demo` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The console's catalogs: each .po (committed) compiled to its .mo (not committed) when it is newer.
PO     := $(wildcard api/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: demo test test-fast bench install clean messages chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel compile -i $< -o $@ --statistics

install: $(STAMP) $(MO)

# After changing texts of the console: extract them, then translate the new ones in each .po.
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -o api/translations/messages.pot .
	$(VENV)/bin/pybabel update -i api/translations/messages.pot -d api/translations --no-fuzzy-matching --ignore-obsolete

demo: $(STAMP) $(MO)
	$(VENV)/bin/dealerflow dev

test: $(STAMP) $(MO) chromium
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
test-fast: $(STAMP) $(MO)
	$(PY) -m pytest tests/workflows tests/test_dsl.py tests/test_dsl_kinds.py tests/test_dsl_limits.py \
		tests/test_policy_dsl.py tests/test_rebate_dsl.py tests/test_tiering_dsl.py tests/test_diversion_dsl.py

bench: $(STAMP)
	$(PY) bench/credit_decision.py
	$(PY) bench/order_placement.py
	$(PY) bench/stock_oversell.py
	$(PY) bench/policy_rollout.py
	$(PY) bench/settlement.py
	$(PY) bench/retiering.py
	$(PY) bench/credit_scoring.py
	$(PY) bench/scans.py
	$(PY) bench/reports.py
	$(PY) bench/master_data.py
	$(PY) bench/history_import.py
	$(PY) bench/tracking_ingest.py
	$(PY) bench/rule_replay.py
	$(PY) bench/service_sla.py
	$(PY) bench/care_run.py
	$(PY) bench/inventory_health.py
	$(PY) bench/forecast.py
	$(PY) bench/stock_report_ingest.py

clean:
	rm -rf $(VENV) .data
