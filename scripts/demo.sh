#!/usr/bin/env bash
# The run command: install chemtrace into .venv, seed the demo city and serve it on the embedded default
# (a SQLite file under ./var, no Redis, dev keys generated into ./var/keys on first use).
# (http://127.0.0.1:8000/docs). Extra arguments go to `chemtrace demo` (e.g. --seed-only --db URL, --port P).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
section() { printf '\n==> %s\n' "$*"; }
# shellcheck source=scripts/_venv.sh
CHEMTRACE_EXTRAS="" source scripts/_venv.sh
section "chemtrace demo $*"
exec .venv/bin/chemtrace demo "$@"
