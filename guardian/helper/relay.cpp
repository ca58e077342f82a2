#include "helper/relay.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace guardian::helper {
namespace {

uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

void log_line(const std::string& text) { std::fprintf(stderr, "guardian-helper: %s\n", text.c_str()); }

}  // namespace

Relay::Relay(RelayOptions options, Epoll epoll, CgroupTree tree, Probes probes)
    : options_(std::move(options)),
      epoll_(std::move(epoll)),
      tree_(std::move(tree)),
      probes_(std::move(probes)),
      watches_(tree_.root(), epoll_) {}

Result<std::unique_ptr<Relay>> Relay::start(RelayOptions options) {
  std::string root = options.cgroup_root;
  if (root.empty()) {
    auto found = CgroupTree::find_cgroup2_mount();
    if (!found) return found.error();
    root = *found;
  }
  auto tree = CgroupTree::open(root, options.scope);
  if (!tree) return tree.error();
  options.probes.scope_cgroup_id = tree->scope_id();
  options.probes.scope_level = tree->scope_level();

  auto epoll = Epoll::create();
  if (!epoll) return epoll.error();
  auto probes = Probes::load(options.probes);
  if (!probes) return probes.error();
  for (const auto& status : probes->status()) {
    if (!status.loaded) log_line("probe " + status.name + " not loaded: " + status.error);
  }

  std::unique_ptr<Relay> relay(
      new Relay(std::move(options), std::move(*epoll), std::move(*tree), std::move(*probes)));
  if (auto added = relay->epoll_.add(relay->probes_.epoll_fd(), EPOLLIN, Tag{Source::RingBuffer, 0});
      !added) {
    return added.error();
  }
  auto hub = ClientHub::listen(relay->options_.socket_path, relay->epoll_, relay->options_.limits);
  if (!hub) return hub.error();
  relay->hub_.emplace(std::move(*hub));
  Relay* self = relay.get();
  relay->hub_->on_close([self](uint32_t client) { self->forget_client(client); });
  if (relay->options_.prekill) {
    auto hook =
        PrekillHook::listen(relay->options_.prekill_socket, relay->epoll_, relay->options_.prekill_callers);
    if (hook) {
      relay->prekill_.emplace(std::move(*hook));
    } else {
      // Without the directory (systemd < 260 does not create it, and guardian-helper's unit makes
      // it) the relay still runs; the hook is only one of its services.
      log_line("systemd-oomd pre-kill hook not served: " + hook.error().message);
    }
  }
  return relay;
}

Result<void> Relay::watch_stop_fd(int fd) {
  stop_fd_ = fd;
  return epoll_.add(fd, EPOLLIN, Tag{Source::Signal, 0});
}

helper_wire::Hello Relay::greet(const ClientInfo& client) const {
  helper_wire::Hello hello;
  hello.uid = client.uid;
  hello.scope = tree_.scope().empty() ? "/" : tree_.scope();
  hello.owner = client.uid == 0 ? "" : tree_.owner_path(client.uid);
  hello.probes = probes_.loaded_names();
  hello.pressure = options_.pressure;
  hello.prekill = prekill_.has_value();
  return hello;
}

std::chrono::milliseconds Relay::next_deadline(std::chrono::milliseconds cap) const {
  const auto now = std::chrono::steady_clock::now();
  auto wait = cap;
  for (const auto& [id, pending] : pending_prekills_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(pending.deadline - now);
    wait = std::min(wait, std::max(left + std::chrono::milliseconds(1), std::chrono::milliseconds(0)));
  }
  return wait;
}

Result<bool> Relay::step(std::chrono::milliseconds timeout) {
  epoll_event events[64];
  const int ready = ::epoll_wait(epoll_.fd(), events, 64, static_cast<int>(next_deadline(timeout).count()));
  if (ready < 0) {
    if (errno == EINTR) return true;
    return make_error(std::string("epoll_wait: ") + std::strerror(errno));
  }
  bool keep_running = true;
  for (int i = 0; i < ready; ++i) {
    const Tag tag = Tag::unpack(events[i].data.u64);
    const uint32_t what = events[i].events;
    switch (tag.source) {
      case Source::Signal: keep_running = false; break;
      case Source::RingBuffer: {
        // Queued per record, written once per client for the whole batch.
        auto consumed = probes_.consume([this](Result<RawEvent> record) { on_record(std::move(record)); });
        if (!consumed) log_line(consumed.error().message);
        hub_->flush_all();
        break;
      }
      case Source::Listener:
        for (const auto& client : hub_->accept_pending([this](const ClientInfo& c) { return greet(c); })) {
          log_line("client " + std::to_string(client.id) + " connected: uid " + std::to_string(client.uid) +
                   ", pid " + std::to_string(client.pid));
        }
        break;
      case Source::Client: {
        if ((what & EPOLLOUT) != 0) hub_->on_writable(tag.id);
        if ((what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
          auto input = hub_->read_from(tag.id);
          for (auto& request : input.requests) on_request(tag.id, std::move(request));
        }
        break;
      }
      case Source::PressureWatch:
        if (auto fired = watches_.on_ready(tag.id, what)) {
          ++stats_.pressure_events;
          hub_->send(fired->client, fired->message);
        }
        break;
      case Source::VarlinkListener:
        if (prekill_) prekill_->accept_pending();
        break;
      case Source::VarlinkConnection:
        if (!prekill_) break;
        if ((what & EPOLLOUT) != 0) prekill_->on_writable(tag.id);
        if ((what & (EPOLLIN | EPOLLRDHUP)) != 0) {
          for (const auto& notice : prekill_->read_from(tag.id)) on_notice(notice);
        }
        if ((what & (EPOLLHUP | EPOLLERR)) != 0) prekill_->drop(tag.id);
        break;
      case Source::Timer: break;
    }
  }
  // Kill notices whose oomd connection went away need no answer any more.
  if (prekill_) {
    for (uint64_t id : prekill_->take_abandoned()) pending_prekills_.erase(id);
  }
  const auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> expired;
  for (const auto& [id, pending] : pending_prekills_) {
    if (pending.deadline <= now) expired.push_back(id);
  }
  for (uint64_t id : expired) settle_prekill(id);
  // Records the kernel dropped are nobody's in particular: every client hears about them.
  const uint64_t dropped = probes_.dropped_in_kernel();
  if (dropped > stats_.kernel_dropped) {
    const uint64_t fresh = dropped - stats_.kernel_dropped;
    stats_.kernel_dropped = dropped;
    for (const auto& client : hub_->clients()) hub_->send(client.id, helper_wire::Lost{fresh});
    log_line("ring buffer full: " + std::to_string(fresh) + " events dropped in the kernel");
  }
  return keep_running;
}

void Relay::on_record(Result<RawEvent> record) {
  ++stats_.records;
  if (!record) {
    if (++stats_.bad_records <= 10 || stats_.bad_records % 1000 == 0) log_line(record.error().message);
    return;
  }
  std::optional<uid_t> owner;
  helper_wire::ServerMessage message = helper_wire::Unknown{};
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        owner = tree_.owner_uid(e.owner_cgroup_id);
        const std::string cgroup = tree_.path_of(e.cgroup_id, owner);
        if constexpr (std::is_same_v<T, exec_event>) {
          helper_wire::ProcessExec m;
          m.ts_ns = e.ts_ns;
          m.pid = e.pid;
          m.ppid = e.ppid;
          m.uid = e.uid;
          m.cgroup = cgroup;
          m.cgroup_id = e.cgroup_id;
          m.comm = c_string(e.comm, sizeof(e.comm));
          m.argv = split_args(e, m.argv_truncated);
          message = std::move(m);
        } else if constexpr (std::is_same_v<T, exit_event>) {
          helper_wire::ProcessExit m;
          m.ts_ns = e.ts_ns;
          m.pid = e.pid;
          m.uid = e.uid;
          m.cgroup = cgroup;
          m.cgroup_id = e.cgroup_id;
          m.comm = c_string(e.comm, sizeof(e.comm));
          m.status = e.exit_code;
          m.runtime_ns = e.runtime_ns;
          message = std::move(m);
        } else if constexpr (std::is_same_v<T, oom_kill_event>) {
          helper_wire::KernelOomKill m;
          m.ts_ns = e.ts_ns;
          m.pid = e.pid;
          m.tgid = e.tgid;
          m.uid = e.uid;
          m.cgroup = cgroup;
          m.cgroup_id = e.cgroup_id;
          m.memcg_id = e.memcg_id;
          m.memcg = e.memcg_id == e.cgroup_id ? cgroup : tree_.path_of(e.memcg_id, owner);
          m.comm = c_string(e.comm, sizeof(e.comm));
          m.oom_score_adj = e.oom_score_adj;
          message = std::move(m);
        } else {
          helper_wire::OomdKill m;
          m.ts_ns = e.ts_ns;
          m.pid = e.pid;
          m.tgid = e.tgid;
          m.uid = e.uid;
          m.sender_pid = e.sender_pid;
          m.cgroup = cgroup;
          m.cgroup_id = e.cgroup_id;
          m.comm = c_string(e.comm, sizeof(e.comm));
          m.result = e.result;
          message = std::move(m);
        }
      },
      *record);
  stats_.delivered += hub_->deliver(message, owner, /*write_now=*/false);
}

void Relay::on_request(uint32_t client, helper_wire::ClientRequest request) {
  auto info = hub_->info(client);
  if (!info) return;
  if (auto* watch = std::get_if<helper_wire::WatchPressure>(&request)) {
    helper_wire::Reply reply{watch->request, false, "", std::nullopt};
    if (!options_.pressure) {
      reply.message = "pressure watches are off in this helper";
    } else {
      const std::string base = info->uid == 0 ? "/" : tree_.owner_path(info->uid);
      auto added = watches_.add(client, base, *watch);
      if (added) {
        reply.ok = true;
        reply.watch = *added;
      } else {
        reply.message = added.error().message;
      }
    }
    hub_->send(client, reply);
  } else if (auto* unwatch = std::get_if<helper_wire::UnwatchPressure>(&request)) {
    auto removed = watches_.remove(client, unwatch->watch);
    hub_->send(client, helper_wire::Reply{unwatch->request, removed.ok(),
                                          removed ? "" : removed.error().message, std::nullopt});
  } else if (auto* done = std::get_if<helper_wire::PrekillDone>(&request)) {
    auto it = pending_prekills_.find(done->id);
    if (it == pending_prekills_.end()) return;
    it->second.waiting.erase(client);
    if (it->second.waiting.empty()) settle_prekill(done->id);
  }
}

void Relay::on_notice(const PrekillHook::Notice& notice) {
  ++stats_.prekill_notices;
  const std::optional<uid_t> owner = tree_.owner_uid_of_path(notice.cgroup);
  log_line("systemd-oomd is about to kill " + notice.cgroup +
           (owner ? " (uid " + std::to_string(*owner) + ")" : std::string(" (no user's)")));
  PendingPrekill pending;
  pending.deadline = std::chrono::steady_clock::now() + options_.prekill_wait;
  if (owner) {
    for (const auto& client : hub_->clients()) {
      if (client.uid == *owner) pending.waiting.insert(client.id);
    }
  }
  hub_->deliver(helper_wire::PrekillNotice{notice.id, monotonic_ns(), notice.cgroup,
                                           static_cast<uint64_t>(options_.prekill_wait.count())},
                owner);
  if (pending.waiting.empty()) {
    prekill_->answer(notice.id);
    return;
  }
  pending_prekills_.emplace(notice.id, std::move(pending));
}

void Relay::settle_prekill(uint64_t id) {
  pending_prekills_.erase(id);
  if (prekill_) prekill_->answer(id);
}

void Relay::forget_client(uint32_t client) {
  watches_.remove_client(client);
  std::vector<uint64_t> ready;
  for (auto& [id, pending] : pending_prekills_) {
    if (pending.waiting.erase(client) > 0 && pending.waiting.empty()) ready.push_back(id);
  }
  for (uint64_t id : ready) settle_prekill(id);
}

}  // namespace guardian::helper
