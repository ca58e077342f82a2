// oomd_kill.bpf.c's event: a process named systemd-oomd (the tunable sender_comm) sent SIGKILL.
#pragma once

#include "events_common.h"

struct oomd_kill_event {
  __u32 kind;        // GUARDIAN_EVENT_OOMD_KILL
  __u32 sender_pid;  // tgid of the sender
  __u32 pid;         // the target thread
  __u32 tgid;        // its process
  __u32 uid;         // the target's uid
  __s32 result;      // the kernel's verdict: 0 delivered, 1 ignored, 2 already pending, … (enum trace_signal_result)
  __u64 ts_ns;
  __u64 cgroup_id;        // cgroup v2 of the target
  __u64 owner_cgroup_id;  // user@UID.service above it, or 0
  char comm[GUARDIAN_COMM_LEN];         // the target's
  char sender_comm[GUARDIAN_COMM_LEN];  // as matched
};
