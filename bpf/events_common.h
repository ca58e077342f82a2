// The kinds of event the probes put in the shared ring buffer. Every event struct (exec.h,
// oom_kill.h, oomd_kill.h) starts with `__u32 kind`, so the reader can tell them apart before it
// looks at the rest. Included by the BPF programs and by guardian-helper.
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum guardian_event_kind {
  GUARDIAN_EVENT_EXEC = 1,
  GUARDIAN_EVENT_EXIT = 2,
  GUARDIAN_EVENT_OOM_KILL = 3,
  GUARDIAN_EVENT_OOMD_KILL = 4,
};

#define GUARDIAN_COMM_LEN 16
