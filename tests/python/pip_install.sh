#!/bin/sh
# Usage: pip_install.sh SOURCE_DIR GPUMEM
# `pip install --no-build-isolation --no-index ./python` offline with Debian's
# python3, setuptools and pip, into a --target of its own (from a copy of
# python/, since pip builds in the tree it is given); the installed package
# then imports from there and runs the binary.
set -u
source=$1 gpumem=$2
py=/usr/bin/python3
$py -m pip --version > /dev/null 2>&1 || { echo "skipped: no $py -m pip (python3-pip)"; exit 77; }
$py -c "import setuptools" 2> /dev/null || { echo "skipped: no setuptools (python3-setuptools)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cp -r "$source/python" "$tmp/python"
rm -rf "$tmp/python/build" "$tmp/python/"*.egg-info
cd "$tmp" || exit 1
$py -m pip install --no-build-isolation --no-index --target "$tmp/site" ./python > "$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "pip install exited non-zero"; }
[ -f "$tmp/site/gpumem/__init__.py" ] && [ -f "$tmp/site/gpumem/_abi.py" ] && [ -f "$tmp/site/gpumem/__main__.py" ] ||
  fail "installed files: $(ls -R "$tmp/site")"
cd /
where=$(PYTHONPATH=$tmp/site $py -c "import gpumem; print(gpumem.__file__)") || fail "import gpumem"
[ "$where" = "$tmp/site/gpumem/__init__.py" ] || fail "imported $where, not the installed copy"
out=$(GPUMEM_BIN=$gpumem GPUMEM_SHM_PREFIX=gmpip$$ PYTHONPATH=$tmp/site $py -m gpumem ls) || fail "python -m gpumem ls"
[ "$out" = "PID      STATE    COMMAND                          DEVICES" ] || fail "ls printed: $out"
PYTHONPATH=$tmp/site GPUMEM_BIN=$gpumem GPUMEM_SHM_PREFIX=gmpip$$ $py -c "
import gpumem
assert gpumem.gpu_stats() == {} and gpumem.vitals().has_memory_alarm is False
assert gpumem.snapshot().processes == []" || fail "the installed module"
echo ok
