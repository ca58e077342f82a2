// What every guardian probe shares on the BPF side: the scope filter (only tasks whose cgroup v2
// lies under one cgroup, by default /user.slice), the owner cgroup an event is routed by, and the
// one ring buffer all probes write to (the helper makes every skeleton reuse the first one's map,
// so user space polls one fd). Included once per .bpf.c; never by user space.
#pragma once

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

// The kernel lets only GPL-compatible programs call bpf_probe_read_*; guardian's probes declare it.
char LICENSE[] SEC("license") = "Dual BSD/GPL";

// Tunables, set by the loader in .rodata before load (so the verifier sees them as constants).
// scope_cgroup_id 0 = no filter (every cgroup); otherwise the cgroup v2 id (inode number of the
// directory) of the scope, which sits at scope_level (1 for /user.slice).
const volatile __u64 scope_cgroup_id = 0;
const volatile __u32 scope_level = 0;
// Events are routed to a user by the ancestor this many levels below the scope:
// /user.slice (scope) -> user-UID.slice -> user@UID.service = 2.
const volatile __u32 owner_depth = 2;

// Counted when the ring buffer was full; the helper reports it as lost events.
__u64 dropped_events = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

// cgroup v2 (default hierarchy) of a task.
static __always_inline struct cgroup* task_dfl_cgroup(struct task_struct* task) {
  return BPF_CORE_READ(task, cgroups, dfl_cgrp);
}

static __always_inline __u64 cgroup_id_of(struct cgroup* cgrp) { return BPF_CORE_READ(cgrp, kn, id); }

// The parent cgroup: `self` (the cgroup's own css) is its first member, and css->parent points at
// the parent's `self`, so the parent cgroup starts bpf_core_field_offset(self) bytes before it.
static __always_inline struct cgroup* cgroup_parent(struct cgroup* cgrp) {
  struct cgroup_subsys_state* parent_css = BPF_CORE_READ(cgrp, self.parent);
  if (!parent_css) return 0;
  return (struct cgroup*)((char*)parent_css - bpf_core_field_offset(struct cgroup, self));
}

#define GUARDIAN_MAX_CGROUP_DEPTH 32

// Is `cgrp` the scope or below it? On success also returns the owner cgroup's id (0 when the
// cgroup is not deep enough to have one, e.g. user-1000.slice itself). Walks up at most
// GUARDIAN_MAX_CGROUP_DEPTH levels; deeper trees are treated as outside the scope.
static __always_inline bool cgroup_in_scope(struct cgroup* cgrp, __u64* owner_id) {
  *owner_id = 0;
  if (!cgrp) return false;
  int level = BPF_CORE_READ(cgrp, level);
  int scope = (int)scope_level;
  int owner_level = scope + (int)owner_depth;
  if (level < scope) return false;
  if (level - scope > GUARDIAN_MAX_CGROUP_DEPTH) return false;
  struct cgroup* at = cgrp;
  for (int i = 0; i < GUARDIAN_MAX_CGROUP_DEPTH; i++) {
    if (level == owner_level) *owner_id = cgroup_id_of(at);
    if (level == scope) break;
    at = cgroup_parent(at);
    if (!at) return false;
    level--;
  }
  if (level != scope) return false;
  return scope_cgroup_id == 0 || cgroup_id_of(at) == scope_cgroup_id;
}

static __always_inline bool comm_equal(const char* a, const volatile char* b) {
  for (int i = 0; i < 16; i++) {
    if (a[i] != b[i]) return false;
    if (a[i] == 0) return true;
  }
  return true;
}

static __always_inline void* reserve_event(__u64 size) {
  void* e = bpf_ringbuf_reserve(&events, size, 0);
  if (!e) __sync_fetch_and_add(&dropped_events, 1);
  return e;
}
