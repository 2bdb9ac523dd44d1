#!/bin/sh
# gpumem watch on hostile segments of exited processes: a transitions ring
# that does not parse under a head of 2^62, and 2^62 failures counted with
# no record. Each must be read in bounded time with a bounded output.
# usage: watch_hostile.sh GPUMEM MAKE_SEGMENT
set -u
gpumem=$1 make=$2
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
fail=0
for kind in watchring watchoom; do
    rm -f "$dir"/*
    "$make" "$dir/hostile$kind.999990" "$kind" 999990 7 0:100:16384:0 || exit 1
    GPUMEM_SHM_DIR=$dir timeout -k 2 10 "$gpumem" watch --once --since 0 --prefix "hostile$kind" >"$dir/out" 2>&1
    rc=$?
    lines=$(wc -l <"$dir/out")
    echo "$kind: exit $rc, $lines lines"
    head -5 "$dir/out"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$lines" -gt 200 ]; then
        echo "FAIL: $kind: watch did not finish in bounded time/output"
        fail=1
    fi
done
# The cursor's temporary file: a link planted at the name a watch of that pid
# would use (exec keeps the pid) is never followed.
rm -f "$dir"/*
"$make" "$dir/hostilecursor.999990" valid 999990 7 0:100:16384:0 || exit 1
GPUMEM_SHM_DIR=$dir timeout -k 2 10 sh -c 'ln -s "$1/victim" "$1/cursor.tmp.$$" && exec "$2" watch --once --since 0 \
    --prefix hostilecursor --cursor-file "$1/cursor"' sh "$dir" "$gpumem" >"$dir/out" 2>&1
cat "$dir/out"
if [ -e "$dir/victim" ] || ! grep -q '^gpumem-watch-cursor 1$' "$dir/cursor"; then
    echo "FAIL: the cursor was written through a planted link, or not at all"
    fail=1
fi
exit $fail
