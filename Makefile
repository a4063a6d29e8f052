# The two set-up commands: `make run` (start Dockyard) and `make test` (the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test system-tools venv bench

$(BIN)/dockyard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/dockyard

run: venv
	$(BIN)/dockyard serve

# Real clients for the end-to-end tests, from Debian's packages (root only; skipped when present).
system-tools:
	@missing=""; \
	command -v dockerd >/dev/null || missing="$$missing docker.io"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v go >/dev/null || missing="$$missing golang-go"; \
	command -v rpmbuild >/dev/null || missing="$$missing rpm"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/lib/postgresql/15/bin/postgres || missing="$$missing postgresql"; \
	command -v ceph-mon >/dev/null || missing="$$missing ceph-mon"; \
	command -v ceph-osd >/dev/null || missing="$$missing ceph-osd"; \
	command -v radosgw >/dev/null || missing="$$missing radosgw"; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Real OSV advisories for the scanner's tests (kept beside the project, not in it).
VULNDATA ?= $(abspath $(firstword $(wildcard ../shared/vulndata /work/shared/vulndata)))

test: venv system-tools
	DOCKYARD_E2E_REQUIRED=1 DOCKYARD_VULNDATA=$(VULNDATA) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/run.py
