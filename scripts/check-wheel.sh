#!/usr/bin/env bash
# The templates ship with the package: build an sdist, a wheel from that sdist and a wheel straight from
# the tree (what `pip install .` does); each must carry every templates/<platform>/*.j2, and netha
# installed from each wheel (not the source tree) must plan a failover offline with them.
# Uses .venv (netha's dependencies) and a throw-away build environment (pip fetches build, setuptools and
# wheel from the package index once).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d /tmp/netha-check-wheel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "check-wheel: $*" >&2; exit 1; }

# The templates that must ship: every .j2 under templates/, as <platform>/<file>.
expected=$(cd templates && find . -mindepth 2 -maxdepth 2 -name '*.j2' | sed 's|^\./||' | sort)
[ "$(printf '%s\n' "$expected" | grep -c .)" -ge 41 ] || fail "fewer than 41 templates under templates/: $expected"

# Build from a copy of the files git knows (tracked, or new and not ignored), so that nothing is written
# into the work tree (egg-info, build/).
mkdir "$WORK/src"
git ls-files -z --cached --others --exclude-standard \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$WORK/src"
[ -f "$WORK/src/pyproject.toml" ] || fail "could not copy the source tree"
# One build environment for the three builds (build's isolation would make one per build).
requires=$("$PY" -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' pyproject.toml)
"$PY" -m venv --without-pip "$WORK/benv"
mapfile -t reqs <<<"$requires"
"$PY" -m pip --python "$WORK/benv/bin/python" install -q build "${reqs[@]}" >"$WORK/benv.log" 2>&1 \
  || { cat "$WORK/benv.log" >&2; fail "cannot install the build environment"; }
build() { "$WORK/benv/bin/python" -m build --no-isolation "$@" >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "build $* failed"; }; }
build --outdir "$WORK/from-sdist" "$WORK/src"           # an sdist, then a wheel built from that sdist
build --wheel --outdir "$WORK/from-tree" "$WORK/src"    # a wheel straight from the tree, as `pip install .`

listing() {  # ARCHIVE PREFIX: the <platform>/<file>.j2 entries under PREFIX in a wheel or sdist
  "$PY" - "$1" "$2" <<'EOF'
import sys, tarfile, zipfile
archive, prefix = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(archive).namelist() if archive.endswith(".whl") else tarfile.open(archive).getnames()
for name in sorted(names):
    if name.endswith(".j2") and name.startswith(prefix) and name[len(prefix):].count("/") == 1:
        print(name[len(prefix):])
EOF
}

sdist=$(ls "$WORK"/from-sdist/netha-*.tar.gz)
[ "$(listing "$sdist" "$(basename "$sdist" .tar.gz)/templates/")" = "$expected" ] || fail "$sdist lacks templates"
echo "check-wheel: sdist carries $(printf '%s\n' "$expected" | wc -l) templates"

for wheel in "$WORK"/from-sdist/netha-*.whl "$WORK"/from-tree/netha-*.whl; do
  [ "$(listing "$wheel" netha/_templates/)" = "$expected" ] || fail "$wheel lacks templates"
  site="$WORK/site-$(basename "$(dirname "$wheel")")"
  "$PY" -m pip install -q --no-deps --no-index --target "$site" "$wheel" >/dev/null 2>&1 || fail "cannot install $wheel"
  # Run from $WORK (not the repository) with the wheel's netha first on the path; the dependencies come
  # from .venv. NETHA_TEMPLATES would bypass the package: unset.
  origin=$(cd "$WORK" && env -u NETHA_TEMPLATES PYTHONPATH="$site" "$PY" -c \
    'import netha.drivers.render as r; print(r.__file__); print(r.builtin_template_dir())')
  case "$origin" in "$site"/netha/drivers/render.py*"$site"/netha/_templates) ;; *) fail "netha did not come from $wheel: $origin" ;; esac
  out=$(cd "$WORK" && env -u NETHA_TEMPLATES PYTHONPATH="$site" \
    NETHA_NET_USER=u NETHA_NET_PASSWORD=p NETHA_SNMP_AUTH=check-wheel NETHA_SNMP_PRIV=check-wheel \
    "$PY" -m netha failover users-vlan10 --to dist2-bldg-a --dry-run --offline \
    -i "$ROOT/inventories/example-campus.yml" 2>&1) || fail "failover --dry-run --offline from $wheel: $out"
  grep -q "vrrp 10 address-family ipv4" <<<"$out" || fail "no cisco_xe change rendered from $wheel: $out"
  echo "check-wheel: $(basename "$(dirname "$wheel")")/$(basename "$wheel") carries the templates and plans a failover with them"
done
