// oom_kill.bpf.c's event: the kernel OOM killer chose a victim (tracepoint oom/mark_victim).
#pragma once

#include "events_common.h"

// How the victim's task was found: the tracepoint passes it (kernels that pass a task_struct),
// the SIGKILL the OOM killer sent just before (kernels that pass only a pid), or the victim is
// the allocating task itself.
enum guardian_oom_victim_source {
  GUARDIAN_OOM_FROM_TRACEPOINT_TASK = 1,
  GUARDIAN_OOM_FROM_KILL_SIGNAL = 2,
  GUARDIAN_OOM_FROM_CURRENT = 3,
};

struct oom_kill_event {
  __u32 kind;  // GUARDIAN_EVENT_OOM_KILL
  __u32 pid;   // the victim thread's pid, as mark_victim reports it
  __u32 tgid;
  __u32 uid;
  __u64 ts_ns;
  __u64 cgroup_id;        // cgroup v2 of the victim
  __u64 owner_cgroup_id;  // user@UID.service above it, or 0
  __u64 memcg_id;         // cgroup of the victim's memory controller (where the limit was hit,
                          // or an ancestor of it); 0 when not known
  __s32 oom_score_adj;
  __u32 victim_source;  // enum guardian_oom_victim_source
  char comm[GUARDIAN_COMM_LEN];
};
