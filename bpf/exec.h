// exec.bpf.c's events: a watched program (ffmpeg, ffprobe) started or its last thread exited.
// Fixed-width types only: the same bytes are read by guardian-helper (bpf/exec.h is included by
// both sides).
#pragma once

#include "events_common.h"

#define GUARDIAN_EXEC_ARGS_LEN 256

struct exec_event {
  __u32 kind;  // GUARDIAN_EVENT_EXEC
  __u32 pid;   // tgid of the new program
  __u32 ppid;  // tgid of the real parent
  __u32 uid;
  __u64 ts_ns;            // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  __u64 cgroup_id;        // cgroup v2 id of the process
  __u64 owner_cgroup_id;  // id of its ancestor owner_depth below the scope (user@UID.service), or 0
  __u32 args_len;         // bytes of args used: argv strings, each NUL-terminated, cut at the end
  __u32 reserved;
  char comm[GUARDIAN_COMM_LEN];
  char args[GUARDIAN_EXEC_ARGS_LEN];
};

struct exit_event {
  __u32 kind;  // GUARDIAN_EVENT_EXIT
  __u32 pid;   // tgid
  __u32 uid;
  __s32 exit_code;  // as wait(2) reports it: status << 8, or the killing signal in the low 7 bits
  __u64 ts_ns;
  __u64 cgroup_id;
  __u64 owner_cgroup_id;
  __u64 runtime_ns;  // since the exec the probe saw
  char comm[GUARDIAN_COMM_LEN];
};
