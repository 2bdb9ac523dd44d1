#!/bin/sh
# check_layers.sh SHIM_SOURCE_DIR SHIM_OBJECT_DIR
#
# Proves the shape of shim/ from what the compiler and linker see, not from
# what anyone says of it:
#  1. no circle of #include "..." among the modules of shim/ (a module is
#     x.c with its x.h; a header without a .c is a module of its own);
#  2. no circle of calls or data references among the shim's object files
#     (an object that uses a symbol another one defines depends on it);
#  3. system calls (files, shared memory, sockets, signals, clock, process
#     identity, the dynamic linker) are imported by os.c.o alone;
#  4. one module writes the segment: every other module sees it through
#     const pointers (the compiler refuses their writes), and none but
#     segment_write.[ch] names its writable view or casts a const away.
# Prints the modules bottom-up (tsort's order) when all three hold.
set -eu
src=$1
obj=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

module() { b=$(basename "$1"); echo "${b%.*}"; }
# The objects of the sources there are now (a build directory may keep
# objects of files since removed).
objects=$(for f in "$src"/*.c "$src"/*.S; do
    o="$obj/$(basename "$f").o"
    [ -f "$o" ] && echo "$o"
done)
[ -n "$objects" ] || { echo "FAIL: no objects of $src in $obj"; exit 1; }

# tsort's loops, one per line, each once.
show_loops() {
    awk '/input contains a loop/ { if (l != "") print l; l = ""; next }
         { sub(/^tsort: /, ""); l = l (l == "" ? "" : " -> ") $0 }
         END { if (l != "") print l }' "$1" | sort -u | sed 's/^/  /'
}

# ---- 1. includes ----
: >"$tmp/includes"
for f in "$src"/*.c "$src"/*.h; do
    m=$(module "$f")
    echo "$m $m" >>"$tmp/includes"
    sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f" | while read -r h; do
        [ -f "$src/$h.h" ] || continue # common/ and include/ are below the shim
        [ "$h" = "$m" ] || echo "$h $m" >>"$tmp/includes"
    done
done
if ! tsort "$tmp/includes" >"$tmp/order" 2>"$tmp/loop"; then
    echo "FAIL: a circle of #include among shim/ modules:"
    show_loops "$tmp/loop"
    fail=1
fi

# ---- 2. symbols ----
: >"$tmp/defs"
: >"$tmp/symbols"
for o in $objects; do
    m=$(module "${o%.o}")
    nm --defined-only -g "$o" | awk -v m="$m" 'NF == 3 { print $3, m }' >>"$tmp/defs"
done
sort -u "$tmp/defs" >"$tmp/defs.sorted"
for o in $objects; do
    m=$(module "${o%.o}")
    echo "$m $m" >>"$tmp/symbols"
    nm -u "$o" | awk '{ print $NF }' | sort -u >"$tmp/undef"
    join "$tmp/undef" "$tmp/defs.sorted" | awk -v m="$m" '$2 != m { print $2, m }' >>"$tmp/symbols"
done
if ! tsort "$tmp/symbols" >/dev/null 2>"$tmp/loop"; then
    echo "FAIL: a circle of calls or references among the shim's objects:"
    show_loops "$tmp/loop"
    fail=1
fi

# ---- 3. system calls only in os.c ----
syscalls='open|openat|open64|read|write|pread|pwrite|close|creat|shm_open|shm_unlink|mmap|mmap64|munmap|mprotect|ftruncate|fchmod|chmod|fstat|fstat64|stat|lstat|fstatat|posix_fallocate|posix_fallocate64|fallocate|getrlimit|setrlimit|socket|connect|send|sendto|sendmsg|recv|clock_gettime|gettimeofday|time|nanosleep|usleep|sleep|getpid|getppid|gettid|getuid|geteuid|getgid|gethostname|uname|link|linkat|unlink|unlinkat|rename|renameat2|mkstemp|mkostemp|mkdir|fopen|fdopen|fclose|fflush|dup|dup2|pipe|fcntl|ioctl|syscall|fork|kill|sigaction|signal|sigprocmask|pthread_sigmask|sigpending|sigtimedwait|sched_yield|dlopen|dlclose|dlsym|dlvsym|dladdr|backtrace|backtrace_symbols|syslog|openlog'
for o in $objects; do
    m=$(module "${o%.o}")
    [ "$m" = os ] && continue
    bad=$(nm -u "$o" | awk '{ print $NF }' | sed 's/@.*//' | grep -Ex "$syscalls" || true)
    if [ -n "$bad" ]; then
        echo "FAIL: $m.c calls the system itself (only os.c may):" $bad
        fail=1
    fi
done

# ---- 4. one writer of the segment ----
for f in "$src"/*.c "$src"/*.h; do
    case $(basename "$f") in segment_write.c | segment_write.h) continue ;; esac
    if grep -nE 'gpumem__seg_mut|GM_W\(|\(struct gpumem_shm_[a-z_]+ \*\)|__atomic_[a-z_]+\(&gpumem__seg\b' "$f"; then
        echo "FAIL: $(basename "$f") reaches for a writable segment (only segment_write.[ch] may)"
        fail=1
    fi
done

[ "$fail" = 0 ] || exit 1
echo "shim/ modules, bottom-up (no circle of includes or calls; system calls in os.c only; one segment writer):"
tr '\n' ' ' <"$tmp/order" | fold -s -w 100 | sed 's/^/  /'
echo
