# Source me: the environment the product's commands run in.
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_here/.tools/node_modules/.bin:$_here/.venv/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1 TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false
export PYTHONPATH="$_here${PYTHONPATH:+:$PYTHONPATH}"
