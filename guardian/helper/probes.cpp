#include "helper/probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "exec.skel.h"
#include "oom_kill.skel.h"
#include "oomd_kill.skel.h"

namespace guardian::helper {
namespace {

std::string libbpf_error(int err) {
  char text[128];
  libbpf_strerror(err, text, sizeof(text));
  return text;
}

// Writes the tunables every probe shares (bpf/scope.bpf.h) into a skeleton's .rodata.
template <class Rodata>
void set_scope(Rodata* rodata, const ProbeOptions& options) {
  rodata->scope_cgroup_id = options.scope_cgroup_id;
  rodata->scope_level = options.scope_level;
  rodata->owner_depth = options.owner_depth;
}

template <std::size_t N>
void set_comm(volatile char (&dest)[N], const std::string& comm) {
  for (std::size_t i = 0; i < N; ++i) dest[i] = i < comm.size() && i + 1 < N ? comm[i] : '\0';
}

// open -> tunables -> share the ring buffer -> load -> attach, timing the whole.
template <class Skeleton, class Deleter, class Open, class Load, class Attach, class Configure>
Result<std::unique_ptr<Skeleton, Deleter>> bring_up(Open open, Load load, Attach attach, Configure configure,
                                                    int shared_ring_fd, ProbeStatus& status) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Skeleton, Deleter> skeleton(open());
  if (!skeleton) return make_error("open: " + libbpf_error(-errno));
  configure(skeleton.get());
  if (shared_ring_fd >= 0) {
    if (int err = bpf_map__reuse_fd(skeleton->maps.events, shared_ring_fd); err != 0) {
      return make_error("sharing the ring buffer: " + libbpf_error(err));
    }
  }
  if (int err = load(skeleton.get()); err != 0) {
    return make_error("load (BPF verifier or CO-RE relocation; libbpf printed details): " +
                      libbpf_error(err));
  }
  if (int err = attach(skeleton.get()); err != 0) return make_error("attach: " + libbpf_error(err));
  status.load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return skeleton;
}

int on_record(void* context, void* data, size_t size) {
  auto* sink = static_cast<std::function<void(Result<RawEvent>)>*>(context);
  if (sink && *sink) (*sink)(decode_raw_event(data, size));
  return 0;
}

}  // namespace

void Probes::ExecDeleter::operator()(exec_bpf* skeleton) const { exec_bpf__destroy(skeleton); }
void Probes::OomKillDeleter::operator()(oom_kill_bpf* skeleton) const { oom_kill_bpf__destroy(skeleton); }
void Probes::OomdKillDeleter::operator()(oomd_kill_bpf* skeleton) const { oomd_kill_bpf__destroy(skeleton); }
void Probes::RingBufferDeleter::operator()(ring_buffer* rb) const { ring_buffer__free(rb); }

Probes::Probes(Probes&&) noexcept = default;
Probes& Probes::operator=(Probes&&) noexcept = default;
Probes::~Probes() = default;

Result<Probes> Probes::load(const ProbeOptions& options) {
  if (options.exec_comms.size() > 4) return make_error("exec probe: at most 4 program names");
  for (const auto& comm : options.exec_comms) {
    if (comm.empty() || comm.size() > 15)
      return make_error("exec probe: program name '" + comm + "' must be 1-15 bytes");
  }
  if (options.oomd_comm.empty() || options.oomd_comm.size() > 15) {
    return make_error("oomd-kill probe: sender name '" + options.oomd_comm + "' must be 1-15 bytes");
  }

  Probes probes;
  int ring_fd = -1;
  auto note = [&](ProbeStatus status, const Result<void>& outcome) {
    status.loaded = outcome.ok();
    if (!outcome) status.error = outcome.error().message;
    probes.status_.push_back(std::move(status));
  };

  if (options.exec) {
    ProbeStatus status{"exec", false, "", 0};
    auto skeleton = bring_up<exec_bpf, ExecDeleter>(
        [] { return exec_bpf::open(); }, [](exec_bpf* s) { return exec_bpf::load(s); },
        [](exec_bpf* s) { return exec_bpf::attach(s); },
        [&](exec_bpf* s) {
          set_scope(s->rodata, options);
          for (std::size_t i = 0; i < 4; ++i)
            set_comm(s->rodata->wanted_comms[i], i < options.exec_comms.size() ? options.exec_comms[i] : "");
          s->rodata->wanted_comm_count = static_cast<__u32>(options.exec_comms.size());
        },
        ring_fd, status);
    if (skeleton) {
      probes.exec_ = std::move(*skeleton);
      ring_fd = bpf_map__fd(probes.exec_->maps.events);
      note(status, {});
    } else {
      note(status, skeleton.error());
    }
  }
  if (options.oom_kill) {
    ProbeStatus status{"oom-kill", false, "", 0};
    auto skeleton = bring_up<oom_kill_bpf, OomKillDeleter>(
        [] { return oom_kill_bpf::open(); }, [](oom_kill_bpf* s) { return oom_kill_bpf::load(s); },
        [](oom_kill_bpf* s) { return oom_kill_bpf::attach(s); },
        [&](oom_kill_bpf* s) { set_scope(s->rodata, options); }, ring_fd, status);
    if (skeleton) {
      probes.oom_kill_ = std::move(*skeleton);
      if (ring_fd < 0) ring_fd = bpf_map__fd(probes.oom_kill_->maps.events);
      note(status, {});
    } else {
      note(status, skeleton.error());
    }
  }
  if (options.oomd_kill) {
    ProbeStatus status{"oomd-kill", false, "", 0};
    auto skeleton = bring_up<oomd_kill_bpf, OomdKillDeleter>(
        [] { return oomd_kill_bpf::open(); }, [](oomd_kill_bpf* s) { return oomd_kill_bpf::load(s); },
        [](oomd_kill_bpf* s) { return oomd_kill_bpf::attach(s); },
        [&](oomd_kill_bpf* s) {
          set_scope(s->rodata, options);
          set_comm(s->rodata->sender_comm, options.oomd_comm);
        },
        ring_fd, status);
    if (skeleton) {
      probes.oomd_kill_ = std::move(*skeleton);
      if (ring_fd < 0) ring_fd = bpf_map__fd(probes.oomd_kill_->maps.events);
      note(status, {});
    } else {
      note(status, skeleton.error());
    }
  }

  if (ring_fd < 0) {
    std::string why;
    for (const auto& s : probes.status_) why += (why.empty() ? "" : "; ") + s.name + ": " + s.error;
    return make_error("no BPF probe loaded" + (why.empty() ? std::string(" (all disabled)") : ": " + why));
  }
  probes.sink_slot_ = std::make_unique<std::function<void(Result<RawEvent>)>>();
  probes.ring_.reset(ring_buffer__new(ring_fd, on_record, probes.sink_slot_.get(), nullptr));
  if (!probes.ring_) return make_error("ring buffer: " + libbpf_error(-errno));
  return probes;
}

std::vector<std::string> Probes::loaded_names() const {
  std::vector<std::string> names;
  for (const auto& s : status_) {
    if (s.loaded) names.push_back(s.name);
  }
  return names;
}

int Probes::epoll_fd() const { return ring_buffer__epoll_fd(ring_.get()); }

Result<int> Probes::consume(const std::function<void(Result<RawEvent>)>& sink) {
  *sink_slot_ = sink;
  const int consumed = ring_buffer__consume(ring_.get());
  *sink_slot_ = nullptr;
  if (consumed < 0) return make_error("ring buffer: " + libbpf_error(consumed));
  return consumed;
}

namespace {

template <class Skeleton>
void add_program_stats(const Skeleton* skeleton, std::vector<Probes::ProgramStats>& out) {
  if (!skeleton) return;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, skeleton->obj) {
    const int fd = bpf_program__fd(program);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) continue;
    out.push_back(Probes::ProgramStats{bpf_program__name(program), info.run_cnt, info.run_time_ns});
  }
}

}  // namespace

std::vector<Probes::ProgramStats> Probes::program_stats() const {
  std::vector<ProgramStats> stats;
  add_program_stats(exec_.get(), stats);
  add_program_stats(oom_kill_.get(), stats);
  add_program_stats(oomd_kill_.get(), stats);
  return stats;
}

uint64_t Probes::dropped_in_kernel() const {
  uint64_t dropped = 0;
  if (exec_) dropped += exec_->bss->dropped_events;
  if (oom_kill_) dropped += oom_kill_->bss->dropped_events;
  if (oomd_kill_) dropped += oomd_kill_->bss->dropped_events;
  return dropped;
}

}  // namespace guardian::helper
