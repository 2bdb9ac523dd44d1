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
#     segment_write.[ch] names its writable view or casts a const away;
#  5. names: every global symbol of the shim's objects (and the common/
#     ones compiled into it) is internal (gpumem__), a CUDA entry point it
#     wraps, dlsym, or a function include/gpumem.h declares.
# Prints the modules bottom-up (tsort's order) when all hold.
#
# What it cannot see: calls through function pointers (the ledger's
# foreach, the census callback, alarm callbacks) and code of a static inline
# function, which counts for the object that includes it. Its objects are
# those of the main build: the TSan build, which leaves the dlsym
# trampoline out, is not what it looks at.
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
    [ -f "$o" ] || { echo "FAIL: no object for $f in $obj (build first)" >&2; echo MISSING; }
    echo "$o"
done)
case $objects in *MISSING*) exit 1 ;; esac
# nm must read every object: an object it cannot read would pass silently.
for o in $objects; do
    nm "$o" >/dev/null || { echo "FAIL: nm cannot read $o"; exit 1; }
done

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
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$f" | while read -r h; do
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
# The C library's wrappers of system calls, and the stdio and dynamic-linker
# calls that make them; fortified (__x_chk) and 64-bit (x64) names count as x.
# The common/ objects compiled into the shim are held to the same rule, but
# may write (fwrite, fflush, ferror) to a stream that os.c opened for them.
syscalls='open|openat|read|readv|write|writev|pread|pwrite|lseek|close|creat|fsync|fdatasync|shm_open|shm_unlink|mmap|munmap|mprotect|msync|ftruncate|fchmod|chmod|fchown|fstat|stat|lstat|fstatat|statx|readlink|readlinkat|posix_fallocate|fallocate|getrlimit|setrlimit|prlimit|socket|connect|send|sendto|sendmsg|recv|recvfrom|recvmsg|poll|select|epoll_wait|clock_gettime|gettimeofday|time|nanosleep|clock_nanosleep|usleep|sleep|getpid|getppid|gettid|getuid|geteuid|getgid|getegid|gethostname|uname|link|linkat|symlink|unlink|unlinkat|rename|renameat|renameat2|mkstemp|mkostemp|mkdir|rmdir|opendir|readdir|closedir|fopen|fdopen|freopen|fclose|fflush|fwrite|fputs|fputc|putc|puts|printf|fprintf|vfprintf|vprintf|dprintf|perror|fread|fgets|getline|dup|dup2|dup3|pipe|pipe2|fcntl|ioctl|syscall|fork|vfork|execve|kill|raise|abort|exit|_exit|sigaction|signal|sigprocmask|pthread_sigmask|sigpending|sigtimedwait|sigwait|sched_yield|dlopen|dlmopen|dlclose|dlsym|dlvsym|dladdr|dladdr1|dlinfo|backtrace|backtrace_symbols|backtrace_symbols_fd|syslog|vsyslog|openlog|closelog'
common_may='fwrite|fflush|ferror'
common_obj=$(dirname "$obj")/common
common_objects=$(for f in "$src"/../common/*.c; do echo "$common_obj/$(basename "$f").o"; done)
for o in $objects $common_objects; do
    [ -f "$o" ] || { echo "FAIL: no object $o (build first)"; fail=1; continue; }
    m=$(module "${o%.o}")
    [ "$m" = os ] && continue
    may='^$'
    case $o in "$common_obj"/*) may="^($common_may)\$" ;; esac
    bad=$(nm -u "$o" | awk '{ print $NF }' | sed 's/@.*//; s/^__//; s/_chk$//; s/64$//' | grep -Ex "$syscalls" | grep -Ev "$may" || true)
    if [ -n "$bad" ]; then
        echo "FAIL: $(basename "${o%.o}") calls the system itself (only os.c may):" $bad
        fail=1
    fi
done

# ---- 4. one writer of the segment ----
for f in "$src"/*.c "$src"/*.h; do
    case $(basename "$f") in segment_write.c | segment_write.h) continue ;; esac
    if grep -nE 'gpumem__seg_mut|GPUMEM_W\(|gpumem__segment_create|\(struct gpumem_shm_[a-z_]+ *\*\) *\(uintptr_t\)|atomic_[a-z_]+(_explicit)?\(&gpumem__seg\b' "$f" |
        grep -vE 'atomic_load(_explicit)?\(&gpumem__seg\b'; then
        echo "FAIL: $(basename "$f") reaches for a writable segment (only segment_write.[ch] may)"
        fail=1
    fi
done

# ---- 5. names ----
api=$src/../include/gpumem.h
for o in $objects $common_objects; do
    [ -f "$o" ] || continue
    for name in $(nm -g --defined-only "$o" | awk 'NF == 3 { print $3 }'); do
        case $name in
        gpumem__*) ;;
        cu[A-Z]* | cuda[A-Z]* | dlsym) ;;
        gpumem_*) grep -q "\b$name\b" "$api" || { echo "FAIL: $(basename "${o%.o}") defines $name, not in include/gpumem.h (internal names begin gpumem__)"; fail=1; } ;;
        *) echo "FAIL: $(basename "${o%.o}") defines $name (internal names begin gpumem__)"; fail=1 ;;
        esac
    done
done

[ "$fail" = 0 ] || exit 1
echo "shim/ modules, bottom-up (no circle of includes or calls; system calls in os.c only; one segment writer; names):"
tr '\n' ' ' <"$tmp/order" | fold -s -w 100 | sed 's/^/  /'
echo
