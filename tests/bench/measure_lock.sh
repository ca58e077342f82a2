#!/bin/bash
# VmLck / VmRSS of `guardian run` per --lock-memory mode, RLIMIT_MEMLOCK 8 MiB (8192 kB), without
# CAP_IPC_LOCK, nine seconds after start (loop: the shared libraries' pages in use are locked after
# five ticks).
# Usage (from the source tree): tests/bench/measure_lock.sh build/guardian/guardian
# Needs setpriv and prlimit (util-linux); as root, CAP_IPC_LOCK is dropped so the limit holds.
bin=$1; shift
for host in fixture real; do
  for mode in none loop all-onfault all; do
    args=(run --dry-run --state-file :memory: --log stderr --quiet --lock-memory=$mode)
    [ $host = fixture ] && args+=(--host-root tests/fixtures/fedora42-podman --uid 1000)
    setpriv --bounding-set=-ipc_lock prlimit --memlock=8388608:8388608 "$bin" "${args[@]}" 2>${TMPDIR:-/tmp}/guardian-lock-$host-$mode &
    pid=$!
    sleep 9  # past the loop lock (first tick) and the shared pages' (after 5 ticks, 1 s each)
    st=/proc/$pid/status
    lck=$(awk '/VmLck/{print $2}' $st); rss=$(awk '/VmRSS/{print $2}' $st); thr=$(awk '/Threads/{print $2}' $st)
    echo "$host $mode VmLck=${lck}kB VmRSS=${rss}kB threads=$thr $(grep -o 'not locked[^[]*' ${TMPDIR:-/tmp}/guardian-lock-$host-$mode | head -1)"
    kill -TERM $pid; wait $pid 2>/dev/null
  done
done
