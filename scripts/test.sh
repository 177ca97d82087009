#!/usr/bin/env bash
# Install everything, then run the whole test suite (unit + integration on the real lab). Needs root.
# The suite runs in NETHA_TEST_JOBS pytest-xdist workers (default 2), each on a lab of its own
# (w0, w1...: own namespaces, run directory and FRR paths; see netha/lab/names.py), so a test run
# never touches the default lab of `netha lab up` or a demo. NETHA_TEST_JOBS=1 runs serially on the
# default lab (or NETHA_LAB_NAME's), as before.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/check-wheel.sh   # the templates ship in the wheel and the sdist
jobs=${NETHA_TEST_JOBS:-2}
parallel=()
if [ "$jobs" -gt 1 ]; then
  parallel=(-n "$jobs" --dist worksteal)
fi
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "${parallel[@]}" "$@"
