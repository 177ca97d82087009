#!/usr/bin/env bash
# Install everything, then run the whole test suite (unit + integration on the real lab). Needs root.
# NETHA_TEST_JOBS=N (N > 1) runs the suite in N pytest-xdist workers, each on a lab of its own (w0, w1...:
# own namespaces, run directory and FRR paths; see netha/lab/names.py), never touching the default lab.
# Default 1: one process on the default lab (or NETHA_LAB_NAME's). On this 2-core machine two workers
# took 9.5 min instead of 12+, but the failover timing tests (100 ms polls, 1.2 s SSH/SNMP deadlines,
# 10 ms probes) failed under the doubled load, so parallel runs are not the default yet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/check-wheel.sh   # the templates ship in the wheel and the sdist
jobs=${NETHA_TEST_JOBS:-1}
parallel=()
if [ "$jobs" -gt 1 ]; then
  parallel=(-n "$jobs" --dist worksteal)
fi
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider --durations=30 "${parallel[@]}" "$@"
