#!/bin/sh
# Usage: install_test.sh NAME BUILD_DIR SOURCE_DIR FAKE_DIR HOLD
#   prefix  cmake --install into a directory of its own: the files the README
#           names, gpumem run + gpumem ls from there, the Python package from
#           there, a consumer project with find_package and with pkg-config
#   deb     cpack -G DEB, dpkg -i, the same checks from /usr, dpkg -P (only as
#           root with GPUMEM_TEST_DPKG=1, when no gpumem package is installed;
#           .ci/run sets it; else skipped, 77); removed again (dpkg -P) on
#           failure too
set -u
name=$1 build=$2 source=$3 fake=$4 hold=$5
prefix_shm="gminst$$"
tmp=$(mktemp -d)
pid= installed=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$installed" ] && dpkg -P gpumem > "$tmp/remove.log" 2>&1
  rm -rf "$tmp"; rm -f /dev/shm/$prefix_shm.*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }
unset LD_PRELOAD GPUMEM_LIBRARY GPUMEM_BIN PYTHONPATH
export GPUMEM_SHM_PREFIX=$prefix_shm

# The installed tree at $1 (bindir $1/bin, libdir $2): every check but the files.
check_installed() {
  root=$1 libdir=$2 cmake_prefix=$3 pc_path=$4
  # gpumem run (installed) preloads the installed library; gpumem ls (installed) reads it
  mkfifo "$tmp/in"
  LD_LIBRARY_PATH=$fake "$root/bin/gpumem" run --alarm 95 "$hold" 0:1024 < "$tmp/in" > "$tmp/out" & pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 200); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  grep -q ready "$tmp/out" || fail "hold under the installed gpumem run did not start"
  grep -q " $libdir/libgpumem.so.0.1.0\$" /proc/$pid/maps || fail "not the installed library: $(grep gpumem /proc/$pid/maps)"
  "$root/bin/gpumem" ls > "$tmp/ls" || fail "installed gpumem ls exited $?"
  grep -q "^$pid  *running .*cuda:0 1.0GB / 16.0GB 6%" "$tmp/ls" || fail "installed ls: $(cat "$tmp/ls")"
  # the installed Python package finds the installed binary by itself (no PATH, no GPUMEM_BIN)
  py=$(cd / && PATH=/nonexistent PYTHONPATH=$PYDIR /usr/bin/python3 -c "
import gpumem
print(gpumem.binary()); print(gpumem.gpu_stats(pid=$pid)[0].memory_used_gb)") || fail "installed python"
  [ "$py" = "$(printf '%s\n1.0' "$root/bin/gpumem")" ] || fail "installed python: $py"
  (cd / && PATH=/nonexistent PYTHONPATH=$PYDIR /usr/bin/python3 -m gpumem ls) | grep -q "^$pid  *running" ||
    fail "installed python -m gpumem ls"
  exec 9>&-; wait $pid; pid=
  # a consumer project: find_package(gpumem), then pkg-config
  cp -r "$source/tests/install/consumer" "$tmp/consumer"
  cmake -S "$tmp/consumer" -B "$tmp/cb" $cmake_prefix > "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "find_package"; }
  cmake --build "$tmp/cb" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build (cmake)"; }
  out=$(LD_LIBRARY_PATH=$libdir "$tmp/cb/consumer") || fail "consumer (cmake): $out"
  [ "$out" = "gpumem 0.1.0 (header 0.1.0), 0 devices, device_stats(0): no such device: nothing was counted on it" ] ||
    fail "consumer (cmake): $out"
  linked=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/cb/consumer" | sed -n 's/.*libgpumem.so.0 => \([^ ]*\) .*/\1/p')
  [ -n "$linked" ] && [ "$(readlink -f "$linked")" = "$(readlink -f "$libdir/libgpumem.so.0")" ] ||
    fail "consumer links $(ldd "$tmp/cb/consumer")"
  PKG_CONFIG_PATH=$pc_path make -C "$tmp/consumer" > "$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "consumer (pkg-config)"; }
  out2=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer/consumer-pc") || fail "consumer (pkg-config): $out2"
  [ "$out2" = "$out" ] || fail "consumer (pkg-config): $out2"
  rm -rf "$tmp/consumer" "$tmp/cb" "$tmp/in"
}

case $name in
prefix)
  root=$tmp/root
  cmake --install "$build" --prefix "$root" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
  # every installed file is named in the README's Install section, and nothing else lands there
  (cd "$root" && find . -type f -o -type l) | sed 's|^\./||; s|gpumemTargets-[a-z]*\.cmake|gpumemTargets-<config>.cmake|' |
    sort > "$tmp/files"
  sed -n '/^## Install/,/^## /p' "$source/README.md" > "$tmp/readme"
  while read -r f; do
    grep -qF "$f" "$tmp/readme" || fail "installed $f, not named in the README's Install section"
  done < "$tmp/files"
  [ "$(wc -l < "$tmp/files")" -ge 20 ] || fail "only $(wc -l < "$tmp/files") files installed"
  pc=$(find "$root" -name gpumem.pc) && [ -n "$pc" ] || fail "no gpumem.pc"
  libdir=$(dirname "$(dirname "$pc")")
  PYDIR=$root/lib/python3/dist-packages
  check_installed "$root" "$libdir" "-DCMAKE_PREFIX_PATH=$root" "$libdir/pkgconfig"
  echo ok
  ;;
deb)
  [ "$(id -u)" = 0 ] && [ "${GPUMEM_TEST_DPKG:-0}" = 1 ] ||
    { echo "skipped: installs a .deb on this machine; only as root with GPUMEM_TEST_DPKG=1 (CI)"; exit 77; }
  command -v dpkg > /dev/null && command -v cpack > /dev/null || { echo "skipped: no dpkg or cpack"; exit 77; }
  ! dpkg -s gpumem > /dev/null 2>&1 || { echo "skipped: a gpumem package is installed already; not touching it"; exit 77; }
  [ ! -e /usr/bin/gpumem ] || { echo "skipped: /usr/bin/gpumem exists, not from a package"; exit 77; }
  cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/deb" > "$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
  deb=$(ls "$tmp"/deb/gpumem_*.deb) || fail "no .deb"
  dpkg-deb -f "$deb" Depends | grep -q "libc6" || fail "Depends: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -f "$deb" Depends | grep -q "libncursesw6" || fail "Depends: $(dpkg-deb -f "$deb" Depends)"
  installed=1
  dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
  dpkg -L gpumem | grep -qx /usr/lib/python3/dist-packages/gpumem/_where.py || fail "dpkg -L: $(dpkg -L gpumem)"
  PYDIR=/usr/lib/python3/dist-packages
  check_installed /usr /usr/lib "" ""
  # bash completion and man pages where they are looked for
  [ -f /usr/share/bash-completion/completions/gpumem ] && [ -f /usr/share/man/man1/gpumem.1 ] &&
    [ -f /usr/share/man/man7/libgpumem.7 ] || fail "completion or man pages missing"
  dpkg -P gpumem > "$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "dpkg -P"; }
  installed=
  [ ! -e /usr/bin/gpumem ] && [ ! -e /usr/lib/libgpumem.so.0 ] || fail "files left after dpkg -P"
  echo ok
  ;;
deb_fallback)
  # without dpkg-shlibdeps the .deb's Depends is the fixed list: every library gpumem links
  cmake -S "$source" -B "$tmp/cfg" -DGPUMEM_PATH_DPKG_SHLIBDEPS=GPUMEM_PATH_DPKG_SHLIBDEPS-NOTFOUND > "$tmp/cfg.log" 2>&1 ||
    { cat "$tmp/cfg.log"; fail "configure"; }
  deps=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_DEPENDS "\(.*\)")$/\1/p' "$tmp/cfg/CPackConfig.cmake")
  [ -n "$deps" ] || fail "no fixed Depends in CPackConfig.cmake"
  for so in $(readelf -d "$build/gpumem" "$build/libgpumem.so.0" |
            sed -n 's/.*Shared library: \[\(lib[a-z]*\)\.so\.\([0-9]*\)\].*/\1\2/p' | sort -u); do
    echo "$deps" | grep -q "\b$so\b" || fail "gpumem links $so's library; Depends '$deps' lacks $so"
  done
  echo "ok: $deps"
  ;;
*) fail "unknown test $name" ;;
esac
