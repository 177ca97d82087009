#!/usr/bin/env bash
# Install everything, then run the whole test suite (unit + integration on the real lab). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
