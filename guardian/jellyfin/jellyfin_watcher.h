// The Jellyfin watcher: a component with its own thread that, per [[jellyfin]] instance, scans
// the instance's cgroup for ffmpeg jobs (always — /proc needs no Jellyfin) and polls GET /Sessions
// through the instance's circuit breaker (per-request timeout), then publishes the joined
// transcode view in the daemon's jellyfin::InstanceDirectory. After each answered poll it lets
// the owner of what guardian changed there (KeptChanges: act's JellyfinSteering) retry what it
// could not restore yet (at once when the instance answers again). An instance whose key file
// could not be read is retried every round, so a fixed file is picked up without a restart. At
// start it runs `guardian probe vaapi --json`
// as a child per render node. The loop thread only copies pointers: on_tick never waits on
// Jellyfin. Events from the thread (breaker opened/closed, VA-API verdict, a bad key file) come
// back through an eventfd and are told on the loop thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/host_root.h"
#include "component/component.h"
#include "jellyfin/kept_changes.h"
#include "jellyfin/transcode_totals.h"

namespace guardian {

namespace jellyfin {
class InstanceDirectory;
}

struct JellyfinWatcherOptions {
  std::string host_root;     // "" = "/"
  std::string probe_binary;  // the guardian binary for `probe vaapi`; "" = do not probe
  std::chrono::milliseconds probe_timeout{10'000};
  // Where the view goes after each round and each probe (the metrics exporter; any thread).
  std::function<void(const std::vector<JellyfinTranscodeTotals>&)> publish_totals;
  std::function<void(std::optional<bool>)> publish_vaapi;
  // Where the instances and their views go (owned by the daemon, shared with the actions).
  jellyfin::InstanceDirectory* instances = nullptr;
  // What guardian changed in the instances and could not put back yet, retried after each round
  // an instance answers (owned by the daemon). nullptr: nothing to retry (a dry run changes
  // nothing, restores included).
  jellyfin::KeptChanges* kept = nullptr;
};

class JellyfinWatcher final : public DaemonComponent {
 public:
  explicit JellyfinWatcher(JellyfinWatcherOptions options);
  ~JellyfinWatcher() override;

  [[nodiscard]] std::string name() const override { return "jellyfin"; }
  void start(DaemonLoop& loop) override;
  void on_policy(const Policy& policy) override;
  void on_tick(const TickView& tick) override;
  [[nodiscard]] std::vector<int> fds() const override;
  void on_fd_ready(int fd) override;
  void stop() override;

  // Events queued by the watcher thread and not yet told (tests without a loop).
  std::vector<Event> take_events();
  // Number of finished polling rounds (tests).
  [[nodiscard]] uint64_t rounds() const;

 private:
  void run();
  void poll_instance(const std::string& name);
  void queue_event(Event event);

  JellyfinWatcherOptions options_;
  HostRoot host_;
  DaemonLoop* loop_ = nullptr;
  UniqueFd event_fd_;
  std::string cgroup2_mount_, user_manager_path_;  // loop thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool policy_changed_ = false;
  std::vector<JellyfinInstanceSettings> settings_;
  std::deque<Event> events_;
  std::map<std::string, std::string> last_breaker_state_;  // watcher thread only
  std::map<std::string, bool> reported_problem_;           // watcher thread only
  uint64_t rounds_ = 0;
  std::thread thread_;
};

}  // namespace guardian
