#!/bin/sh
# Usage: containers_test.sh NAME GPUMEM SHIM FAKE_DIR HOLD
# A writer "in a container" without Kubernetes: unshare puts it in its own
# pid and mount namespaces, with a tmpfs of its own on /dev/shm (mounted
# inside the new mount namespace only, --propagation private: the host's
# /dev/shm is never touched). The reader outside must find it, name both its
# pids, and judge it by its host pid. Skips (77) only where unshare cannot
# make namespaces (not root).
set -u
name=$1 gpumem=$2 shim=$3 fake=$4 hold=$5
prefix="gmc$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
tmp=$(mktemp -d)
ns_pid= host_pid= cpid= hold_pid= chroot_pid=
cleanup() {
  [ -n "$ns_pid" ] && kill -9 "$ns_pid" 2>/dev/null
  for p in $hold_pid $chroot_pid; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); $2" || fail "json check: $2"; }
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' "$1"; }
unshare --pid --fork --mount --propagation private true 2>/dev/null || { echo "SKIP: unshare cannot make namespaces here"; exit 77; }

# start_container [SHM_DIR [SET_PID]]: the writer (hold 0:3) in new pid and
# mount namespaces; inside, its own tmpfs on /dev/shm. The namespace's pid 1
# (a shell) outlives the writer, reaping it, until fd 9 is closed. SET_PID: the pid the
# writer gets in its namespace (ns_last_pid). Sets ns_pid (the namespace's
# pid 1 as the host sees it), cpid (the writer's pid inside), host_pid.
start_container() {
  mkfifo "$tmp/in"
  ns_pid= host_pid= cpid=
  GPUMEM_SHM_DIR=${1:-/dev/shm} SET_PID=${2:-} SHIM=$shim HOLD=$hold \
    unshare --pid --fork --mount --mount-proc --propagation private sh -c '
      case ${SHM_MOUNT:-tmpfs} in
      tmpfs) mount -t tmpfs -o size=16m,mode=1777 gpumem-test /dev/shm || exit 5 ;;
      none) ;; # the /dev/shm of the host, as with hostIPC
      *) mount --bind "$SHM_MOUNT" /dev/shm || exit 5 ;; # a hostPath mounted on /dev/shm
      esac
      [ -n "$SET_PID" ] && echo $((SET_PID - 1)) > /proc/sys/kernel/ns_last_pid
      exec 3<&0
      LD_PRELOAD=$SHIM "$HOLD" 0:3 <&3 &
      echo "cpid $!"
      cat <&3 > /dev/null &
      wait' < "$tmp/in" > "$tmp/out" 2>&1 &
  unshare_pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 200); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  grep -q ready "$tmp/out" || fail "the contained writer did not start: $(cat "$tmp/out")"
  cpid=$(awk '/^cpid/ { print $2 }' "$tmp/out")
  # The host pids: unshare's child is the namespace's pid 1, whose child is the writer.
  ns_pid=$(tr -d ' ' < /proc/$unshare_pid/task/$unshare_pid/children)
  [ -n "$ns_pid" ] || fail "no host pid for the namespace"
  host_pid=
  for c in $(cat /proc/$ns_pid/task/$ns_pid/children); do
    grep -q "^NSpid:.*[[:space:]]$cpid\$" /proc/$c/status && host_pid=$c
  done
  [ -n "$host_pid" ] && [ "$host_pid" != "$cpid" ] || fail "host pid '$host_pid' of container pid $cpid"
}

show_json() { "$gpumem" show --json "$@" > "$tmp/j" || fail "show exit $?"; }
# The one process of this test, as the reader shows it.
PROC="p=[x for x in d['processes'] if x['command'].endswith('hold 0:3')]; assert len(p)==1, d; p=p[0]"

case $name in
live)
  start_container
  # Seen through /proc/<pid>/root/dev/shm: alive, with both pids.
  [ ! -e /dev/shm/$prefix.$cpid ] || fail "the writer's segment leaked into the host's /dev/shm"
  show_json
  json "$tmp/j" "$PROC
assert p['pid']==$cpid and p['host_pid']==$host_pid and p['alive'] is True and p['state']=='running', p
assert p['pid_namespace']==$(stat -L -c %i /proc/$host_pid/ns/pid), p
assert p['devices'][0]['reserved_bytes']==3<<20 and d['gpus'][0]['pids']==[$host_pid], d"
  "$gpumem" ls | grep -q "^$host_pid  *running .*cuda:0 0.0GB / 16.0GB" || fail "ls does not show host pid $host_pid: $("$gpumem" ls)"
  "$gpumem" show | grep -q "^  container pid $cpid in pid namespace [0-9]*; host pid $host_pid\$" || fail "show: $("$gpumem" show)"
  "$gpumem" show $host_pid > /dev/null || fail "show HOSTPID: exit $?"
  "$gpumem" show --json $cpid > "$tmp/j" || fail "show CONTAINERPID: exit $?"
  json "$tmp/j" "$PROC; assert p['host_pid']==$host_pid"
  "$gpumem" top --once > "$tmp/top" 2>&1; grep -q "^ *$host_pid .*cuda:0 0.0GB / 16.0GB" "$tmp/top" || fail "top: $(cat "$tmp/top")"
  # The start time of /proc/<pid>/stat is the same seen from either pid namespace.
  inside=$(nsenter -t "$ns_pid" -p -m sh -c "awk '{ sub(/.*\) /, \"\"); print \$20 }' /proc/$cpid/stat")
  [ -n "$inside" ] && [ "$inside" = "$(start_of /proc/$host_pid/stat)" ] || fail "start inside '$inside', outside $(start_of /proc/$host_pid/stat)"
  # Off: only the reader's own directory.
  "$gpumem" show --json --no-containers > "$tmp/j"; json "$tmp/j" "assert not [x for x in d['processes'] if x['command'].endswith('hold 0:3')], d"
  GPUMEM_CONTAINERS=0 "$gpumem" show --json > "$tmp/j"; json "$tmp/j" "assert not [x for x in d['processes'] if x['command'].endswith('hold 0:3')], d"
  kill -9 "$ns_pid"; exec 9>&-; rm -f "$tmp/in"
  # Another mount namespace that shares the host's /dev/shm (hostIPC):
  # its directory is the reader's own, read once.
  SHM_MOUNT=none start_container
  [ -f /dev/shm/$prefix.$cpid ] || fail "no segment in the shared /dev/shm"
  show_json; json "$tmp/j" "$PROC; assert p['host_pid']==$host_pid and p['alive'] is True, p"
  ;;
dead)
  # The writer's pid inside is the pid of a live, unrelated host process
  # (this shell): never may that make it look alive.
  start_container /dev/shm $$
  [ "$cpid" = $$ ] || fail "container pid $cpid, wanted $$"
  show_json; json "$tmp/j" "$PROC; assert p['alive'] is True and p['host_pid']==$host_pid, p"
  kill -9 "$host_pid"
  for _ in $(seq 100); do [ -d /proc/$host_pid ] || break; sleep 0.05; done
  [ ! -d /proc/$host_pid ] || fail "writer $host_pid not reaped"
  kill -0 $$ || fail "the unrelated process"
  # The namespace lives on (its pid 1), so does its /dev/shm: read, dead.
  show_json; json "$tmp/j" "$PROC
assert p['pid']==$$ and p['alive'] is False and p['state']=='dead' and 'host_pid' not in p, p
assert p['devices'][0]['reserved_bytes']==3<<20 and d['gpus']==[], d"
  # Once its last process ends, the namespace's tmpfs goes with it.
  exec 9>&-
  for _ in $(seq 100); do [ -d /proc/$ns_pid ] || break; sleep 0.05; done
  show_json; json "$tmp/j" "assert not [x for x in d['processes'] if x['command'].endswith('hold 0:3')], d"
  ;;
shm_dir)
  # GPUMEM_SHM_DIR on the writer: a directory the reader shares (a hostPath).
  mkdir "$tmp/shared"
  start_container "$tmp/shared"
  [ -f "$tmp/shared/$prefix.$cpid" ] || fail "no segment in GPUMEM_SHM_DIR: $(ls -la "$tmp/shared")"
  [ "$(stat -c %a "$tmp/shared/$prefix.$cpid")" = 600 ] || fail "mode"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" show --json --no-containers > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$PROC; assert p['pid']==$cpid and p['host_pid']==$host_pid and p['alive'] is True, p"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$PROC"
  # The whole namespace ends: the file stays, its writer is dead.
  kill -9 "$ns_pid"
  for _ in $(seq 100); do [ -d /proc/$host_pid ] || break; sleep 0.05; done
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$PROC; assert p['alive'] is False and p['state']=='dead', p"
  exec 9>&-; rm -f "$tmp/in"
  # A directory mounted on the container's /dev/shm (a hostPath there) and
  # read as GPUMEM_SHM_DIR: the file seen through two paths counts once.
  mkdir "$tmp/bound"
  SHM_MOUNT=$tmp/bound start_container
  [ -f "$tmp/bound/$prefix.$cpid" ] || fail "no segment in the bound directory"
  GPUMEM_SHM_DIR=$tmp/bound "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$PROC; assert p['host_pid']==$host_pid, p"
  kill -9 "$ns_pid"; exec 9>&-; rm -f "$tmp/in"
  # Outside any container: a normal exit removes the file, GPUMEM_KEEP=1
  # keeps it (exited); a relative directory is refused with a warning.
  mkdir "$tmp/d"
  echo | GPUMEM_SHM_DIR=$tmp/d LD_PRELOAD=$shim "$hold" 0:1 > /dev/null || fail "hold exit $?"
  [ -z "$(ls "$tmp/d")" ] || fail "left after a normal exit: $(ls "$tmp/d")"
  echo | GPUMEM_KEEP=1 GPUMEM_SHM_DIR=$tmp/d LD_PRELOAD=$shim "$hold" 0:1 > /dev/null || fail "hold exit $?"
  GPUMEM_SHM_DIR=$tmp/d "$gpumem" show --json --no-containers > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$(echo "$PROC" | sed 's/0:3/0:1/'); assert p['state']=='exited' and p['host_pid']==p['pid'], p"
  echo | GPUMEM_SHM_DIR=relative/dir LD_PRELOAD=$shim "$hold" 0:1 2> "$tmp/err" > /dev/null || fail "hold exit $?"
  grep -q "GPUMEM_SHM_DIR=relative/dir is not valid" "$tmp/err" || fail "no warning: $(cat "$tmp/err")"
  ;;
gc)
  mkdir "$tmp/shared"
  start_container "$tmp/shared"
  # The container pid (small) is some host process's pid or free: gc must
  # judge the writer by its host pid and keep its segment.
  for _ in 1 2; do
    GPUMEM_SHM_DIR=$tmp/shared "$gpumem" gc > "$tmp/gc" || fail "gc exit $?"
    [ -f "$tmp/shared/$prefix.$cpid" ] || fail "gc removed the live contained writer's segment: $(cat "$tmp/gc")"
  done
  grep -q "^0 segments removed" "$tmp/gc" || fail "gc: $(cat "$tmp/gc")"
  # gc works in the directory it is given only, never through /proc/*/root.
  kill -9 "$host_pid"
  for _ in $(seq 100); do [ -d /proc/$host_pid ] || break; sleep 0.05; done
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" gc > "$tmp/gc" || fail "gc exit $?"
  grep -q "^removed $tmp/shared/$prefix.$cpid (pid $cpid dead)" "$tmp/gc" || fail "gc after death: $(cat "$tmp/gc")"
  ;;
unknown)
  # A reader that may not look into root's processes (uid 65534) cannot tell
  # whether the contained writer runs: "unknown", never "dead".
  command -v setpriv > /dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" --help > /dev/null 2>&1 ||
    { echo "SKIP: setpriv cannot run the reader as uid 65534"; exit 77; }
  chmod 755 "$tmp"; mkdir -m 755 "$tmp/shared"
  GPUMEM_SHM_MODE=0644 start_container "$tmp/shared"
  GPUMEM_SHM_DIR=$tmp/shared setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" show --json > "$tmp/j" ||
    fail "exit $?"
  json "$tmp/j" "$PROC; assert p['state']=='unknown' and p['alive'] is False and 'host_pid' not in p and p['pid']==$cpid, p
assert d['gpus']==[], d"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "$PROC; assert p['state']=='running' and p['host_pid']==$host_pid, p"
  ;;
symlink)
  # A container whose /dev/shm is a symbolic link to an absolute path: the
  # reader must not follow it into its own file system. Here the link leads
  # to a directory of the host that holds a live segment (hold under
  # GPUMEM_SHM_DIR); a chroot in a mount namespace of its own plays the
  # container (the host's /usr bound into it, read only).
  mkdir -p "$tmp/target" "$tmp/root/usr" "$tmp/root/dev"
  ln -s "$tmp/target" "$tmp/root/dev/shm"
  for d in lib lib64 bin sbin; do [ -L /$d ] && ln -s "$(readlink /$d)" "$tmp/root/$d"; done
  mkfifo "$tmp/in"
  GPUMEM_SHM_DIR=$tmp/target LD_PRELOAD=$shim "$hold" 0:3 < "$tmp/in" > "$tmp/out" &
  hold_pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  [ -f "$tmp/target/$prefix.$hold_pid" ] || fail "no planted segment"
  ROOT=$tmp/root unshare --mount --propagation private sh -c '
    mount --bind -o ro /usr "$ROOT/usr" && exec chroot "$ROOT" /usr/bin/sleep 30' &
  chroot_pid=$!
  for _ in $(seq 100); do [ "$(readlink /proc/$chroot_pid/root)" = "$tmp/root" ] && break; sleep 0.05; done
  [ "$(readlink /proc/$chroot_pid/root)" = "$tmp/root" ] || { kill $chroot_pid; fail "the chroot did not start"; }
  show_json
  kill $chroot_pid $hold_pid 2>/dev/null
  json "$tmp/j" "assert not [x for x in d['processes'] if x['command'].endswith('hold 0:3')], d"
  ;;
denied)
  # A reader (uid 65534) that may look into a container of its own uid but
  # not open its /dev/shm (root's, mode 0700): counted on stderr, not an error.
  command -v setpriv > /dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" --help > /dev/null 2>&1 ||
    { echo "SKIP: setpriv cannot run the reader as uid 65534"; exit 77; }
  unshare --pid --fork --mount --mount-proc --propagation private sh -c '
    mount -t tmpfs -o size=1m,mode=0700 gpumem-test /dev/shm || exit 5
    exec setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30' &
  unshare_pid=$!
  for _ in $(seq 100); do
    ns_pid=$(cat /proc/$unshare_pid/task/$unshare_pid/children 2>/dev/null | tr -d ' ')
    [ -n "$ns_pid" ] && [ "$(stat -c %u /proc/$ns_pid 2>/dev/null)" = 65534 ] && break; sleep 0.05
  done
  [ "$(stat -c %u /proc/$ns_pid)" = 65534 ] || fail "the container did not start"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" ls > "$tmp/ls" 2> "$tmp/err" || fail "ls exit $?"
  grep -q "^gpumem: /dev/shm of [1-9][0-9]* other mount namespaces\{0,1\} not readable (needs root, or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; --no-containers skips them)\$" "$tmp/err" ||
    fail "no count: $(cat "$tmp/err")"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" ls --no-containers > "$tmp/ls" 2> "$tmp/err" || fail "exit $?"
  ! grep -q "mount namespace" "$tmp/err" || fail "counted with --no-containers"
  ;;
unstamped)
  # A contained writer between creating its file and stamping it (an empty
  # file, named for its pid inside): in a directory shared with the host
  # (hostIPC, a hostPath), its pid inside is free on the host. gc and the
  # views must not take it for a process that was killed while creating
  # it: gc would unlink a live writer's segment. The contained `cat` plays
  # that writer (a live process whose pid inside is no host pid).
  top=$(($(cat /proc/sys/kernel/pid_max) - 200 - $$ % 100))
  for n in $top $((top + 1)) $((top + 2)); do [ ! -d /proc/$n ] || { echo "SKIP: host pid $n in use"; exit 77; }; done
  mkdir "$tmp/shared"
  start_container "$tmp/shared" "$top"
  ccat=
  for c in $(cat /proc/$ns_pid/task/$ns_pid/children); do
    [ "$(cat /proc/$c/comm)" = cat ] && ccat=$(awk '/^NSpid:/ { print $NF }' /proc/$c/status)
  done
  [ -n "$ccat" ] && [ ! -d /proc/$ccat ] || fail "the contained cat's pid '$ccat' is a host pid"
  : > "$tmp/shared/$prefix.$ccat"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc exit $?"
  [ -f "$tmp/shared/$prefix.$ccat" ] || fail "gc removed a live contained writer's unstamped segment: $(cat "$tmp/gc")"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" ls > /dev/null 2> "$tmp/err" || fail "ls exit $?"
  ! grep -q unfinished "$tmp/err" || fail "counted as unfinished: $(cat "$tmp/err")"
  # Once the whole container has ended, it is one that was never finished.
  kill -9 "$ns_pid"; exec 9>&-
  for _ in $(seq 100); do [ -d /proc/$host_pid ] || break; sleep 0.05; done
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc exit $?"
  [ ! -f "$tmp/shared/$prefix.$ccat" ] || fail "gc kept an unfinished segment of an ended container: $(cat "$tmp/gc")"
  ;;
own_shm)
  # The reader asked for another directory (GPUMEM_SHM_DIR): the /dev/shm of
  # its own mount namespace is not a container's, even when some process in
  # another mount namespace shares it (a sandboxed service, unshare --mount):
  # what is read must not depend on such unrelated processes.
  mkdir "$tmp/x"
  mkfifo "$tmp/in"
  LD_PRELOAD=$shim "$hold" 0:3 < "$tmp/in" > "$tmp/out" &
  hold_pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  [ -f /dev/shm/$prefix.$hold_pid ] || fail "no segment in /dev/shm"
  GPUMEM_SHM_DIR=$tmp/x "$gpumem" show --json > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "assert d['processes']==[], d"
  unshare --mount --propagation private sleep 30 &
  chroot_pid=$!
  for _ in $(seq 100); do
    [ "$(stat -L -c %i /proc/$chroot_pid/ns/mnt)" != "$(stat -L -c %i /proc/self/ns/mnt)" ] && break; sleep 0.05
  done
  GPUMEM_SHM_DIR=$tmp/x "$gpumem" show --json > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "assert d['processes']==[], d"
  # Its own directory read, the segment is there, once.
  "$gpumem" show --json $hold_pid > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "assert len(d['processes'])==1, d"
  ;;
copied)
  # A container (its own /dev/shm) holds a copy of a live host process's
  # segment: stamped with that process's pid, start time and pid namespace,
  # it would pass for it (root's file). A segment found in a container's
  # /dev/shm speaks for a running process only if that process's /dev/shm
  # is that directory; else it is skipped, never a second copy of the job.
  mkfifo "$tmp/in"
  LD_PRELOAD=$shim "$hold" 0:3 < "$tmp/in" > "$tmp/out" &
  hold_pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  cp /dev/shm/$prefix.$hold_pid "$tmp/seg" || fail "no segment to copy"
  SEG=$tmp/seg NAME=$prefix.$hold_pid unshare --mount --propagation private sh -c '
    mount -t tmpfs -o size=16m,mode=1777 gpumem-test /dev/shm || exit 5
    cp "$SEG" "/dev/shm/$NAME" && exec sleep 30' &
  chroot_pid=$!
  for _ in $(seq 100); do
    [ -f /proc/$chroot_pid/root/dev/shm/$prefix.$hold_pid ] && [ "$(cat /proc/$chroot_pid/comm)" = sleep ] && break
    sleep 0.05
  done
  [ -f /proc/$chroot_pid/root/dev/shm/$prefix.$hold_pid ] || fail "the container did not start"
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err"
  json "$tmp/j" "$PROC; assert p['host_pid']==$hold_pid, p"
  grep -q "root/dev/shm/$prefix.$hold_pid" "$tmp/err" || fail "the copy is not reported: $(cat "$tmp/err")"
  "$gpumem" export > "$tmp/prom" 2> /dev/null
  grep -q "^gpumem_gpu_processes{.*} 1\$" "$tmp/prom" || fail "export: $(grep gpu_processes "$tmp/prom")"
  ;;
collision)
  # Two jobs in different pid namespaces share a directory (a hostPath) and
  # have the same pid inside, as the first process of every pod does, and
  # the same user: the second must not take the first's live segment for a
  # stale one of its own and unlink it.
  top=$(($(cat /proc/sys/kernel/pid_max) - 300 - $$ % 100))
  mkdir "$tmp/shared"
  start_container "$tmp/shared" "$top"
  first_ns=$ns_pid first_host=$host_pid
  exec 7>&9; rm -f "$tmp/in"
  start_container "$tmp/shared" "$top"
  [ "$cpid" = "$top" ] && [ "$host_pid" != "$first_host" ] || fail "pids $cpid $host_pid $first_host"
  GPUMEM_SHM_DIR=$tmp/shared "$gpumem" show --json --no-containers > "$tmp/j" 2>&1
  kill -9 "$first_ns"; exec 7>&-
  json "$tmp/j" "$PROC; assert p['host_pid']==$first_host and p['alive'] is True, p"
  grep -q "publication is off" "$tmp/out" || fail "no warning for the second: $(cat "$tmp/out")"
  ;;
flood)
  # A container fills its own /dev/shm with 20000 empty files named like
  # segments: read one by one they would cost every scrape of the node
  # seconds (200000: 13 s, beyond Prometheus's 10 s scrape timeout). Past
  # 1024 files, a container's directory is passed over, counted once as
  # damaged.
  PREFIX=$prefix unshare --mount --propagation private sh -c '
    mount -t tmpfs -o size=16m,mode=1777 gpumem-test /dev/shm || exit 5
    python3 -c "
import os
for i in range(2, 20002): open(\"/dev/shm/%s.%d\" % (os.environ[\"PREFIX\"], i), \"w\").close()
" && exec sleep 60' &
  chroot_pid=$!
  for _ in $(seq 200); do [ "$(cat /proc/$chroot_pid/comm)" = sleep ] && break; sleep 0.05; done
  [ "$(cat /proc/$chroot_pid/comm)" = sleep ] || fail "the container did not start"
  "$gpumem" export > "$tmp/prom" 2> /dev/null
  grep -q '^gpumem_segments_skipped{reason="unfinished"} 0$' "$tmp/prom" || fail "read: $(grep skipped "$tmp/prom")"
  grep -q '^gpumem_segments_skipped{reason="damaged"} 1$' "$tmp/prom" || fail "not counted: $(grep skipped "$tmp/prom")"
  "$gpumem" ls 2> "$tmp/err" > /dev/null
  grep -q "root/dev/shm/$prefix.\*: 20000 segments" "$tmp/err" || fail "ls: $(head -3 "$tmp/err")"
  ;;
*) fail "unknown test $name" ;;
esac
exit 0
