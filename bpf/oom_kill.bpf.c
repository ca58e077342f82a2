// Kernel OOM kills, in the kernel: tp_btf/oom/mark_victim. Its arguments changed: up to Linux
// 6.8 the tracepoint passes only the victim's pid (DepSurf: `perf_trace_mark_victim(void *, int
// pid)` through 6.8); later kernels pass the task_struct, and their trace record gained
// total_vm, anon_rss, … (TP_STRUCT__entry of struct trace_event_raw_mark_victim). The program
// tells the two apart with bpf_core_field_exists on that record, resolved by libbpf against the
// running kernel's BTF. On the old form the victim is found from the SIGKILL the OOM killer sends
// right before marking it (__oom_kill_process: do_send_sig_info(SIGKILL, SEND_SIG_PRIV, victim)
// then mark_oom_victim(victim)), which tp_btf/signal_generate sees with the task.
#include "scope.bpf.h"

#include "oom_kill.h"

#define SIGKILL 9
// SEND_SIG_PRIV: the kernel's own signals carry this sentinel instead of a siginfo.
#define SEND_SIG_PRIV_SENTINEL ((struct kernel_siginfo*)1)

struct victim {
  __u64 cgroup_id;
  __u64 owner_cgroup_id;
  __u64 memcg_id;
  __u32 tgid;
  __u32 uid;
  __s32 oom_score_adj;
  __u32 in_scope;
  char comm[GUARDIAN_COMM_LEN];
};

// Recent kernel-sent SIGKILLs by target pid (old kernels only); LRU so it never fills up.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, struct victim);
} kernel_sigkills SEC(".maps");

static __always_inline bool tracepoint_passes_task(void) {
  return bpf_core_field_exists(struct trace_event_raw_mark_victim, total_vm);
}

static __always_inline __u64 memcg_id_of(struct task_struct* task) {
  int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
  if (id < 0 || id >= 16) return 0;
  struct cgroup_subsys_state* css = BPF_CORE_READ(task, cgroups, subsys[id]);
  if (!css) return 0;
  return cgroup_id_of(BPF_CORE_READ(css, cgroup));
}

static __always_inline void describe(struct task_struct* task, struct victim* v) {
  struct cgroup* cgrp = task_dfl_cgroup(task);
  __u64 owner_id = 0;
  v->in_scope = cgroup_in_scope(cgrp, &owner_id);
  v->cgroup_id = cgroup_id_of(cgrp);
  v->owner_cgroup_id = owner_id;
  v->memcg_id = memcg_id_of(task);
  v->tgid = BPF_CORE_READ(task, tgid);
  v->uid = BPF_CORE_READ(task, cred, uid.val);
  v->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
  BPF_CORE_READ_STR_INTO(&v->comm, task, comm);
}

static __always_inline void emit(__u32 pid, struct victim* v, __u32 source) {
  if (!v->in_scope) return;
  struct oom_kill_event* e = reserve_event(sizeof(*e));
  if (!e) return;
  e->kind = GUARDIAN_EVENT_OOM_KILL;
  e->pid = pid;
  e->tgid = v->tgid;
  e->uid = v->uid;
  e->ts_ns = bpf_ktime_get_ns();
  e->cgroup_id = v->cgroup_id;
  e->owner_cgroup_id = v->owner_cgroup_id;
  e->memcg_id = v->memcg_id;
  e->oom_score_adj = v->oom_score_adj;
  e->victim_source = source;
  __builtin_memcpy(e->comm, v->comm, sizeof(e->comm));
  bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/signal_generate")
int BPF_PROG(guardian_kernel_sigkill, int sig, struct kernel_siginfo* info, struct task_struct* task) {
  if (tracepoint_passes_task()) return 0;  // not needed: mark_victim has the task
  if (sig != SIGKILL || info != SEND_SIG_PRIV_SENTINEL) return 0;
  struct victim v = {};
  describe(task, &v);
  __u32 pid = BPF_CORE_READ(task, pid);
  bpf_map_update_elem(&kernel_sigkills, &pid, &v, BPF_ANY);
  return 0;
}

SEC("tp_btf/mark_victim")
int guardian_oom_victim(__u64* ctx) {
  struct victim v = {};
  if (tracepoint_passes_task()) {
    // mark_victim(struct task_struct *task, uid_t uid)
    struct task_struct* task = (struct task_struct*)ctx[0];
    describe(task, &v);
    emit(BPF_CORE_READ(task, pid), &v, GUARDIAN_OOM_FROM_TRACEPOINT_TASK);
    return 0;
  }
  // mark_victim(int pid)
  __u32 pid = (__u32)ctx[0];
  struct victim* seen = bpf_map_lookup_elem(&kernel_sigkills, &pid);
  if (seen) {
    emit(pid, seen, GUARDIAN_OOM_FROM_KILL_SIGNAL);
    bpf_map_delete_elem(&kernel_sigkills, &pid);
    return 0;
  }
  // The OOM killer marks the allocating task itself when it is already exiting (no SIGKILL).
  struct task_struct* current = bpf_get_current_task_btf();
  if (BPF_CORE_READ(current, pid) == pid) {
    describe(current, &v);
    emit(pid, &v, GUARDIAN_OOM_FROM_CURRENT);
  }
  return 0;
}
