// SIGKILLs sent by systemd-oomd, in the kernel: tp_btf/signal_generate, filtered on the sender's
// comm (current's), the signal and the target's cgroup. systemd-oomd kills a cgroup by sending
// SIGKILL to each of its processes (cg_kill_recursive) or by writing cgroup.kill; either way the
// signal is generated in oomd's own context, so current is the sender. This sees the kill when it
// happens, before oomd's journal line or D-Bus Killed signal.
#include "scope.bpf.h"

#include "oomd_kill.h"

// Tunables.
const volatile char sender_comm[GUARDIAN_COMM_LEN] = "systemd-oomd";
const volatile int watched_signal = 9;  // SIGKILL

SEC("tp_btf/signal_generate")
int BPF_PROG(guardian_oomd_kill, int sig, struct kernel_siginfo* info, struct task_struct* task, int group,
             int result) {
  if (sig != watched_signal) return 0;
  char comm[GUARDIAN_COMM_LEN];
  bpf_get_current_comm(comm, sizeof(comm));
  if (!comm_equal(comm, sender_comm)) return 0;
  struct cgroup* cgrp = task_dfl_cgroup(task);
  __u64 owner_id = 0;
  if (!cgroup_in_scope(cgrp, &owner_id)) return 0;

  struct oomd_kill_event* e = reserve_event(sizeof(*e));
  if (!e) return 0;
  e->kind = GUARDIAN_EVENT_OOMD_KILL;
  e->sender_pid = bpf_get_current_pid_tgid() >> 32;
  e->pid = BPF_CORE_READ(task, pid);
  e->tgid = BPF_CORE_READ(task, tgid);
  e->uid = BPF_CORE_READ(task, cred, uid.val);
  e->result = result;
  e->ts_ns = bpf_ktime_get_ns();
  e->cgroup_id = cgroup_id_of(cgrp);
  e->owner_cgroup_id = owner_id;
  BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
  __builtin_memcpy(e->sender_comm, comm, sizeof(comm));
  bpf_ringbuf_submit(e, 0);
  return 0;
}
