# shellcheck shell=bash
# Makes sure .venv exists and holds `pip install -e '.[$CHEMTRACE_EXTRAS]'` for the current
# pyproject.toml (a stamp in .venv avoids reinstalling when nothing changed). Sourced, not run;
# expects section() and the repository root as the working directory.

section "Python environment (.venv)"
if [[ ! -x .venv/bin/python ]]; then
  _python="$(command -v python3.11 || command -v python3 || true)"
  if [[ -z "$_python" ]]; then
    echo "ERROR: neither python3.11 nor python3 is on PATH" >&2
    exit 1
  fi
  echo "creating .venv with $_python"
  if ! "$_python" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately (python3-venv); install it when we can.
    rm -rf .venv
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    "$_python" -m venv .venv
  fi
  unset _python
fi
_stamp=.venv/.chemtrace-pyproject.sha256
_want="$(sha256sum pyproject.toml | cut -d' ' -f1)-${CHEMTRACE_EXTRAS:-}"
if [[ ! -f "$_stamp" || "$(cat "$_stamp")" != "$_want" ]]; then
  _target="."
  [[ -n "${CHEMTRACE_EXTRAS:-}" ]] && _target=".[${CHEMTRACE_EXTRAS}]"
  echo "installing the project (pip install -e '${_target}')"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$_target"
  unset _target
  printf '%s\n' "$_want" >"$_stamp"
else
  echo ".venv is up to date with pyproject.toml"
fi
unset _stamp _want

# The console's browser assets (Leaflet, ECharts, Swagger UI, Redoc, Beijing's districts):
# npm packages pinned in api/console/assets/package-lock.json, installed with `npm ci` into
# var/console-assets (gitignored) and served by the app itself, so nothing loads from a CDN.
section "Console browser assets (npm ci into var/console-assets)"
if ! command -v npm >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing nodejs and npm with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
_assets=var/console-assets
_lock_sum="$(sha256sum api/console/assets/package-lock.json | cut -d' ' -f1)"
if [[ -f "$_assets/.installed" && "$(cat "$_assets/.installed")" == "$_lock_sum" ]]; then
  echo "console assets are up to date with api/console/assets/package-lock.json"
elif command -v npm >/dev/null 2>&1; then
  mkdir -p "$_assets"
  cp api/console/assets/package.json api/console/assets/package-lock.json "$_assets/"
  if npm ci --prefix "$_assets" --ignore-scripts --no-audit --no-fund --loglevel=error; then
    printf '%s\n' "$_lock_sum" >"$_assets/.installed"
  else
    echo "WARNING: npm ci failed: the console and /docs will say their assets are missing" >&2
  fi
else
  echo "WARNING: npm not found: the console and /docs will say their assets are missing" >&2
fi
unset _assets _lock_sum
