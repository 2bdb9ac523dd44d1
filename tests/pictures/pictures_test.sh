#!/bin/sh
# Usage: pictures_test.sh CASE GPUMEM SHIM FAKE_DIR MAKE_SEGMENT SOURCE_DIR BUILD_DIR
# The pictures through the reader's commands, on crafted segments and real
# runs under the shim:
#   top_ascii   top's full-screen view in a terminal that is not UTF-8 (tmux,
#               LC_ALL=C): the bar and the warning sign in ASCII, UTF-8 with C.UTF-8
set -u
case_=$1 gpumem=$2 shim=$3 fake=$4 make_segment=$5 src=$6 build=$7
prefix="gmp$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
tmp=$(mktemp -d)
cleanup() {
  for s in "$tmp"/tmux.*; do [ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null; done
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' /proc/$1/stat; }
check=$src/tests/pictures/check_pictures.py

# screen LOCALE: top in tmux under that locale, until the GPU rows show.
screen() {
  command -v tmux >/dev/null || { echo "skipped: no tmux"; exit 77; }
  sock="$tmp/tmux.$1"
  tmux -S "$sock" new-session -d -x 120 -y 30 "GPUMEM_SHM_PREFIX=$prefix TERM=xterm-256color LC_ALL=$1 '$gpumem' top --interval 0.2; sleep 5" < /dev/null > /dev/null 2>&1
  for _ in $(seq 50); do tmux -S "$sock" capture-pane -p > "$tmp/screen" 2>/dev/null; grep -q "crafted GPU 1" "$tmp/screen" && break; sleep 0.1; done
  tmux -S "$sock" send-keys q
}

case $case_ in
top_ascii)
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:13926:16384:1 1:15565:16384:2 || fail "make"
  screen C
  grep -q "crafted GPU 0  13.6GB / 16.0GB  84%  warning   \[################|#.|..\]" "$tmp/screen" || fail "ASCII bar: $(cat "$tmp/screen")"
  grep -q "^! GPU-.*critical  \[################|##|#.\]" "$tmp/screen" || fail "ASCII critical row: $(cat "$tmp/screen")"
  LC_ALL=C grep -q "$(printf '\342')" "$tmp/screen" && fail "a UTF-8 byte on a terminal that is not UTF-8: $(cat "$tmp/screen")"
  screen C.UTF-8
  grep -q "84%  warning   \[████████████████|▉·|··\]" "$tmp/screen" || fail "UTF-8 bar: $(cat "$tmp/screen")"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
