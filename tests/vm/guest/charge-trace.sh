#!/bin/bash
# What guardian's loop thread charges to its memory cgroup, and what that costs it (issue 10).
# Kernel kprobes through tracefs (no extra package), filtered to one thread (the loop: tid = pid):
#   gcharge        page_counter_try_charge: a charge that missed the per-CPU stock (with its
#                  kernel stack: which system call or fault charged)
#   gthrottle(_ret) mem_cgroup_handle_over_high: the memory.high penalty on return to user space
#   greclaim(_ret) try_to_free_mem_cgroup_pages: direct reclaim inside a memcg charge
#   gfault         filemap_fault: a fault on a file page (code, rodata) not in the page table,
#                  with the faulting address (struct vm_fault's address, +24 on 6.1) and the
#                  page's offset in the file (pgoff, +16); `stop` saves the thread's maps next
#                  to the trace (OUT_FILE.maps), so each fault names its file
#   gopen, gstat   do_sys_openat2 / vfs_fstatat with the path: which files the loop opens or
#                  stats (each open allocates a struct file, charged; a stat of a missing path a
#                  dentry)
#   gsocket        __sys_socket with family and type: which sockets the loop makes (each an inode
#                  and a struct file, charged; sd_notify() makes an AF_UNIX SOCK_DGRAM per call)
# Timestamps on CLOCK_MONOTONIC (trace_clock mono), comparable with the tick trace.
# Usage: charge-trace.sh start PID | stop OUT_FILE
set -uo pipefail
T=/sys/kernel/tracing
[[ -d $T/events ]] || mount -t tracefs nodev "$T" 2>/dev/null
case ${1:-} in
  start)
    pid=${2:?pid}
    echo 0 >"$T/tracing_on"
    echo >"$T/trace"
    echo mono >"$T/trace_clock"
    echo 8192 >"$T/buffer_size_kb"
    echo >"$T/kprobe_events"
    for probe in 'p:gcharge page_counter_try_charge nr_pages=%si' \
                 'p:gthrottle mem_cgroup_handle_over_high' 'r:gthrottle_ret mem_cgroup_handle_over_high' \
                 'p:greclaim try_to_free_mem_cgroup_pages nr_pages=%si' 'r:greclaim_ret try_to_free_mem_cgroup_pages ret=$retval' \
                 'p:gfault filemap_fault addr=+24(%di):x64 pgoff=+16(%di):x64' \
                 'p:gopen do_sys_openat2 path=+0(%si):ustring' 'p:gstat vfs_fstatat path=+0(%si):ustring' \
                 'p:gsocket __sys_socket family=%di:s32 type=%si:s32'; do
      echo "$probe" >>"$T/kprobe_events" 2>/dev/null || echo "charge-trace: cannot place '$probe'" >&2
    done
    echo "$pid" >"$T/set_event_pid"
    echo "$pid" >/run/charge-trace.pid
    cat "/proc/$pid/maps" >/run/charge-trace.maps 2>/dev/null  # in case it is gone at the stop
    for e in "$T"/events/kprobes/g*; do echo 1 >"$e/enable"; done
    [[ -d $T/events/kprobes/gcharge ]] && echo stacktrace >"$T/events/kprobes/gcharge/trigger"
    echo 1 >"$T/tracing_on"
    echo "charge-trace: tracing tid $pid: $(ls "$T/events/kprobes" | tr '\n' ' ')"
    ;;
  stop)
    out=${2:?out file}
    echo 0 >"$T/tracing_on"
    cat "$T/trace" >"$out"
    pid=$(cat /run/charge-trace.pid 2>/dev/null)
    { [[ -n $pid ]] && cat "/proc/$pid/maps" >"$out.maps" 2>/dev/null; } || cp /run/charge-trace.maps "$out.maps" 2>/dev/null
    for e in "$T"/events/kprobes/g*; do echo 0 >"$e/enable" 2>/dev/null; done
    echo >"$T/kprobe_events" 2>/dev/null
    echo >"$T/set_event_pid"
    echo "charge-trace: $(grep -c ': g' "$out") events in $out"
    ;;
  *) echo "usage: charge-trace.sh start PID | stop OUT_FILE" >&2; exit 2 ;;
esac
