#!/usr/bin/env bash
# The test command: ruff, mypy, then the test suite (not the slow tests) against real
# PostgreSQL and Redis servers that the tests start themselves. Extra arguments go to pytest:
#   scripts/test.sh                      # everything but -m slow, two xdist workers
#   scripts/test.sh tests/test_servers.py -x
# Exits non-zero if any step fails (all steps run, so one report shows every failure).
set -euo pipefail

# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"

failed=()

section "ruff check"
.venv/bin/ruff check . || failed+=("ruff check")

section "mypy"
.venv/bin/mypy || failed+=(mypy)

section "pytest -n 2 -m 'not slow' $*"
.venv/bin/pytest -n 2 -m "not slow" "$@" || failed+=(pytest)

if ((${#failed[@]})); then
  section "FAILED: ${failed[*]}"
  exit 1
fi
section "all checks passed"
