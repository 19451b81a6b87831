#!/usr/bin/env bash
# Sets up everything the product and its tests need on a fresh Debian machine, from PyPI, npm and Debian only.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt

# Reflex builds its frontend with bun; Node here is 20, so bun comes from the npm registry.
if [ ! -x .tools/node_modules/.bin/bun ]; then
  npm install --silent --no-audit --no-fund --prefix .tools bun@1.4.5
fi

# The browser tests check pages for accessibility with axe-core (run in each page through Playwright), from npm.
if [ ! -f .tools/node_modules/axe-core/axe.min.js ]; then
  npm install --silent --no-audit --no-fund --prefix .tools axe-core@4.14.1
fi

# The single sign-on tests start a real OpenID provider: the npm oidc-provider package (tests/oidc/provider.mjs).
if [ ! -f .tools/node_modules/oidc-provider/package.json ]; then
  npm install --silent --no-audit --no-fund --prefix .tools oidc-provider@9.13.3
fi

# Browser tests drive Debian's Chromium (never a downloaded browser build).
if [ "${SKIP_CHROMIUM:-0}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
echo "setup complete"
