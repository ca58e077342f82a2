// Process exec/exit of the programs guardian watches (ffmpeg and ffprobe by default), in the
// kernel: tp_btf/sched_process_exec (BTF-typed raw tracepoint: needs no tracefs, which these
// machines do not mount) and tp_btf/sched_process_exit for the processes it saw start.
// Only tasks in the scope (scope.bpf.h) and with a wanted comm produce events.
#include "scope.bpf.h"

#include "exec.h"

#define MAX_WANTED_COMMS 4

// Tunables: the comms to report (the kernel sets comm to the executable's basename, cut at 15
// characters). Unused slots stay empty.
const volatile char wanted_comms[MAX_WANTED_COMMS][GUARDIAN_COMM_LEN] = {"ffmpeg", "ffprobe"};
const volatile __u32 wanted_comm_count = 2;

struct tracked {
  __u64 start_ns;
  __u64 cgroup_id;
  __u64 owner_cgroup_id;
};

// Processes that started as a wanted program, by tgid: their exit is reported too.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct tracked);
} tracked_processes SEC(".maps");

static __always_inline bool comm_wanted(const char* comm) {
  for (__u32 i = 0; i < MAX_WANTED_COMMS; i++) {
    if (i >= wanted_comm_count) break;
    if (comm_equal(comm, wanted_comms[i])) return true;
  }
  return false;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(guardian_exec, struct task_struct* task, pid_t old_pid, struct linux_binprm* bprm) {
  char comm[GUARDIAN_COMM_LEN];
  bpf_get_current_comm(comm, sizeof(comm));
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!comm_wanted(comm)) {
    // A tracked process that exec'd something else is no longer the program we watched.
    bpf_map_delete_elem(&tracked_processes, &tgid);
    return 0;
  }
  struct cgroup* cgrp = task_dfl_cgroup(task);
  __u64 owner_id = 0;
  if (!cgroup_in_scope(cgrp, &owner_id)) return 0;

  struct exec_event* e = reserve_event(sizeof(*e));
  if (!e) return 0;
  e->kind = GUARDIAN_EVENT_EXEC;
  e->pid = tgid;
  e->ppid = BPF_CORE_READ(task, real_parent, tgid);
  e->uid = (__u32)bpf_get_current_uid_gid();
  e->ts_ns = bpf_ktime_get_ns();
  e->cgroup_id = cgroup_id_of(cgrp);
  e->owner_cgroup_id = owner_id;
  e->reserved = 0;
  __builtin_memcpy(e->comm, comm, sizeof(comm));
  // argv of the new program: its strings lie between arg_start and arg_end of the new mm, which
  // is current's at this tracepoint. Only the head is copied.
  struct mm_struct* mm = BPF_CORE_READ(task, mm);
  __u64 arg_start = BPF_CORE_READ(mm, arg_start);
  __u64 arg_end = BPF_CORE_READ(mm, arg_end);
  __u64 len = arg_end > arg_start ? arg_end - arg_start : 0;
  // At most GUARDIAN_EXEC_ARGS_LEN - 1 bytes: the mask is what lets the verifier bound the copy.
  if (len > GUARDIAN_EXEC_ARGS_LEN - 1) len = GUARDIAN_EXEC_ARGS_LEN - 1;
  len &= GUARDIAN_EXEC_ARGS_LEN - 1;
  e->args_len = 0;
  if (len > 0 && bpf_probe_read_user(e->args, len, (void*)arg_start) == 0) e->args_len = (__u32)len;
  // Copied before submitting: the record belongs to the reader once it is submitted.
  struct tracked t = {.start_ns = e->ts_ns, .cgroup_id = e->cgroup_id, .owner_cgroup_id = owner_id};
  bpf_ringbuf_submit(e, 0);
  bpf_map_update_elem(&tracked_processes, &tgid, &t, BPF_ANY);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(guardian_exit, struct task_struct* task) {
  __u32 tgid = BPF_CORE_READ(task, tgid);
  struct tracked* t = bpf_map_lookup_elem(&tracked_processes, &tgid);
  if (!t) return 0;
  // One event per process: do_exit() has already counted this thread out of signal->live, so
  // live == 0 means it is the last thread of the group.
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;

  struct exit_event* e = reserve_event(sizeof(*e));
  if (e) {
    e->kind = GUARDIAN_EVENT_EXIT;
    e->pid = tgid;
    e->uid = (__u32)bpf_get_current_uid_gid();
    e->exit_code = BPF_CORE_READ(task, exit_code);
    e->ts_ns = bpf_ktime_get_ns();
    e->cgroup_id = t->cgroup_id;
    e->owner_cgroup_id = t->owner_cgroup_id;
    e->runtime_ns = e->ts_ns - t->start_ns;
    BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
    bpf_ringbuf_submit(e, 0);
  }
  bpf_map_delete_elem(&tracked_processes, &tgid);
  return 0;
}
