# shellcheck shell=bash
# Shared setup for scripts/test.sh and scripts/test-slow.sh: sourced, not run.
#
#  1. makes sure the real test servers exist: PostgreSQL (initdb/pg_ctl/postgres) and
#     redis-server. As root on Debian/Ubuntu they are installed with apt-get and the packaged
#     services are stopped and kept from starting: the tests start private servers themselves.
#     Otherwise a missing server is a warning (its tests skip; under CI=true they fail).
#  2. makes sure .venv exists and has `pip install -e '.[dev]'` for the current pyproject.toml
#     (a sha256 stamp in .venv avoids reinstalling when nothing changed).
#
# Leaves the shell in the repository root. Defines section().

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

section() {
  printf '\n==> %s\n' "$*"
}

_have_postgres() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      return 0
    fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      return 0
    fi
  fi
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
    && command -v postgres >/dev/null 2>&1
}

_have_redis() {
  command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]]
}

_install_servers() {
  # $@: Debian package names. Services must not start, before or after the install.
  local policy=/usr/sbin/policy-rc.d added_policy=0 pkg
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local rc=0
  {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
  } || rc=$?
  if ((added_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
  # only the services of the packages installed just now: never a server someone relies on
  for pkg in "$@"; do
    local svc="${pkg%-light}"  # nginx-light installs the nginx service
    service "$svc" stop >/dev/null 2>&1 || true
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
  return "$rc"
}

section "Test servers (PostgreSQL, Redis) and tmux (drives the handheld UI in tests)"
_missing=()
_have_postgres || _missing+=(postgresql)
_have_redis || _missing+=(redis-server)
command -v tmux >/dev/null 2>&1 || _missing+=(tmux)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || _missing+=(nginx-light)
# the console's browser tests: Debian's chromium (driven by Playwright) and CJK fonts
[[ -x /usr/bin/chromium ]] || _missing+=(chromium)
[[ -d /usr/share/fonts/opentype/noto ]] || _missing+=(fonts-noto-cjk)
command -v npm >/dev/null 2>&1 || _missing+=(nodejs npm)
if ((${#_missing[@]})); then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${_missing[*]} with apt-get (the packaged services are left stopped)"
    _install_servers "${_missing[@]}" || echo "WARNING: apt-get install failed" >&2
    _missing=()
    _have_postgres || _missing+=(postgresql)
    _have_redis || _missing+=(redis-server)
    command -v tmux >/dev/null 2>&1 || _missing+=(tmux)
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || _missing+=(nginx-light)
    [[ -x /usr/bin/chromium ]] || _missing+=(chromium)
    [[ -d /usr/share/fonts/opentype/noto ]] || _missing+=(fonts-noto-cjk)
    command -v npm >/dev/null 2>&1 || _missing+=(nodejs npm)
  fi
fi
if ((${#_missing[@]})); then
  {
    echo "WARNING: missing test server(s): ${_missing[*]}."
    echo "WARNING: install them (e.g. sudo apt-get install --no-install-recommends ${_missing[*]})"
    echo "WARNING: or run this script as root. Tests needing them will be SKIPPED now,"
    echo "WARNING: and FAIL under CI=true."
  } >&2
else
  echo "PostgreSQL, redis-server and tmux found (the tests start private servers on loopback)"
fi
unset _missing

# shellcheck source=scripts/_venv.sh
CHEMTRACE_EXTRAS=dev source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
