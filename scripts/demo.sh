#!/usr/bin/env bash
# Install everything, then run the demo: lab up, controller, break the primary, takeover, failback, lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python scripts/demo.py
