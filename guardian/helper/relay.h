// guardian-helper's loop: one thread, one epoll. It reads the probes' ring buffer, turns each
// record into a wire message with the cgroup's path, and hands it to the owner's clients and
// root's (client_hub.h); it serves watch-pressure (pressure_watches.h) and systemd-oomd's
// pre-kill hook (prekill_hook.h), holding oomd's answer until the owner's clients are ready.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/result.h"
#include "helper/cgroup_tree.h"
#include "helper/client_hub.h"
#include "helper/epoll.h"
#include "helper/prekill_hook.h"
#include "helper/pressure_watches.h"
#include "helper/probes.h"

namespace guardian::helper {

struct RelayOptions {
  std::string socket_path = "/run/guardian/helper.sock";
  std::string cgroup_root;            // empty: the cgroup2 mount of this machine
  std::string scope = "/user.slice";  // the subtree the probes report on
  ProbeOptions probes;                // scope fields are filled in from the cgroup tree
  bool pressure = true;
  bool prekill = true;
  std::string prekill_socket = std::string(kPrekillHookDir) + "/guardian-helper";
  std::set<uid_t> prekill_callers{0};
  std::chrono::milliseconds prekill_wait{20'000};
  HubLimits limits;
};

struct RelayStats {
  uint64_t records = 0;         // ring-buffer records read
  uint64_t bad_records = 0;     // that did not decode
  uint64_t delivered = 0;       // messages queued to clients (one per client)
  uint64_t kernel_dropped = 0;  // records the kernel could not put in the full ring buffer
  uint64_t prekill_notices = 0;
  uint64_t pressure_events = 0;
};

class Relay {
 public:
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  static Result<std::unique_ptr<Relay>> start(RelayOptions options);

  // Handles what is ready within `timeout` (less when a pre-kill deadline is nearer).
  // Returns false once `stop_fd` (registered with watch_stop_fd) became readable.
  Result<bool> step(std::chrono::milliseconds timeout);
  Result<void> watch_stop_fd(int fd);

  [[nodiscard]] const Probes& probes() const { return probes_; }
  [[nodiscard]] const CgroupTree& tree() const { return tree_; }
  [[nodiscard]] const RelayStats& stats() const { return stats_; }
  [[nodiscard]] const ClientHub& hub() const { return *hub_; }
  [[nodiscard]] bool serves_prekill() const { return prekill_.has_value(); }

 private:
  Relay(RelayOptions options, Epoll epoll, CgroupTree tree, Probes probes);
  void on_record(Result<RawEvent> record);
  void on_request(uint32_t client, helper_wire::ClientRequest request);
  void on_notice(const PrekillHook::Notice& notice);
  void settle_prekill(uint64_t id);
  void forget_client(uint32_t client);
  helper_wire::Hello greet(const ClientInfo& client) const;
  std::chrono::milliseconds next_deadline(std::chrono::milliseconds cap) const;

  RelayOptions options_;
  Epoll epoll_;
  CgroupTree tree_;
  Probes probes_;
  // Made once the Relay has its final address (they keep a pointer to epoll_).
  std::optional<ClientHub> hub_;
  PressureWatches watches_;
  std::optional<PrekillHook> prekill_;
  struct PendingPrekill {
    std::set<uint32_t> waiting;  // the owner's clients that have not said prekill-done
    std::chrono::steady_clock::time_point deadline;
  };
  std::map<uint64_t, PendingPrekill> pending_prekills_;
  RelayStats stats_;
  int stop_fd_ = -1;
};

}  // namespace guardian::helper
