#!/usr/bin/env bash
# The slow tests (long property runs, soak tests): pytest -m slow, with the same setup as
# scripts/test.sh (test servers, .venv). Extra arguments go to pytest.
set -euo pipefail

# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"

section "pytest -m slow $*"
exec .venv/bin/pytest -m slow "$@"
