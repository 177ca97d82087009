#!/usr/bin/env bash
# Install everything netha, its lab and its tests need, on Debian 12 as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(frr frr-snmp openssh-server snmpd snmp keepalived iproute2 iputils-ping tcpdump nftables procps python3-venv etcd-server etcd-client)
missing=()
for p in "${DEBS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The lab starts its own daemons inside network namespaces; the packaged system services are not needed.
for svc in frr snmpd keepalived etcd; do systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true; done

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
echo "== installing netha into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test${NETHA_EXTRAS:+,$NETHA_EXTRAS}]"
echo "== ready: $(.venv/bin/netha --version)"
