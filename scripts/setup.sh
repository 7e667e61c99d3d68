#!/usr/bin/env bash
# Idempotent setup for a fresh machine: Debian packages the tests use, a virtualenv, the package.
# Called by `make demo` and `make test`; safe to run again (it skips what is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# --- Debian packages: GDAL command-line tools (reference client in tests), Chromium (browser tests),
#     fonts (synthetic map rendering), Node.js/npm (interop tests against @allmaps/transform).
need_apt=()
command -v gdalinfo >/dev/null 2>&1 || need_apt+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
[ -d /usr/share/fonts/truetype/dejavu ] || need_apt+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || need_apt+=(fonts-liberation)
# period-like serif / italic faces for `jadis synth` (Century Schoolbook, Palatino, Garamond clones)
[ -d /usr/share/fonts/opentype/urw-base35 ] || need_apt+=(fonts-urw-base35)
[ -d /usr/share/fonts/opentype/ebgaramond ] || need_apt+=(fonts-ebgaramond)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
    || echo "setup: warning: could not install ${need_apt[*]} (tests that need them will be skipped)"
fi

# --- Python virtualenv with the package (editable) and the dev tools.
stamp="$VENV/.jadis-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing jadis and its dependencies into $VENV (first time: a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[dev]'
  touch "$stamp"
fi

# --- Node packages for the interop tests (Allmaps' reference transform library).
if [ -f tests/interop/package.json ] && command -v npm >/dev/null 2>&1 && [ ! -d tests/interop/node_modules ]; then
  echo "setup: installing npm packages for interop tests"
  (cd tests/interop && npm ci --no-audit --no-fund --silent) \
    || echo "setup: warning: npm install failed (Allmaps interop tests will be skipped)"
fi

# Streamlit: never phone home.
mkdir -p "$HOME/.streamlit"
[ -f "$HOME/.streamlit/config.toml" ] || printf '[browser]\ngatherUsageStats = false\n' > "$HOME/.streamlit/config.toml"
exit 0
