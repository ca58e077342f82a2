// The Prometheus exporter: a daemon component that serves /metrics (default 127.0.0.1:9464,
// policy [metrics] listen/enabled) from the same snapshot the decision used.
//
// Names follow node_exporter and cAdvisor: `_seconds_total` counters from PSI `total` µs,
// `_ratio` gauges 0..1 from the kernel's avg10/60/300 percentages, `_bytes` gauges, `_total`
// counters. Labels stay bounded: `cgroup` is a path relative to the user manager ("app.slice",
// "user.slice/libpod-3f2a….scope"), "/" for the system, the absolute path for cgroups outside the
// user manager; transient scopes named after a PID or a session ("app-gnome-firefox-4242.scope",
// "session-2.scope") are not exported on their own — their memory is in their slice.
//
// Thread model: on_tick and the setters run on the loop thread, emit() may run on the action
// worker, and scrapes run on civetweb's thread. One mutex guards the series: a scrape sees a
// whole tick or the previous one, never half of each. The HTTP server is civetweb (what
// prometheus-cpp's Exposer wraps); the text is written by tell/exposition.h (see there why).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "component/component.h"
#include "jellyfin/transcode_totals.h"
#include "tell/exposition.h"

struct mg_context;
struct mg_connection;

namespace guardian {

// "host:port" from [metrics] listen, checked: an IPv4 literal, "localhost" or a bracketed IPv6
// literal, and a port 0..65535 (0 = any free port, for tests).
struct ListenAddress {
  std::string host;  // as civetweb wants it: "127.0.0.1", "[::1]"
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

// The `cgroup` label for a cgroup path (relative to the cgroup2 mount), or nullopt when the
// cgroup is a transient PID/session scope that is not exported on its own.
std::optional<std::string> cgroup_label(std::string_view path, std::string_view user_manager_path);

class MetricsExporter final : public DaemonComponent {
 public:
  MetricsExporter();
  ~MetricsExporter() override;
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  [[nodiscard]] std::string name() const override { return "metrics"; }
  void start(DaemonLoop& loop) override;
  void on_policy(const Policy& policy) override;
  void on_tick(const TickView& tick) override;
  void emit(const Event& event) override;
  void stop() override;

  // Producers beside the loop (call from any thread).
  void set_jellyfin_view(const std::vector<JellyfinTranscodeTotals>& rows);
  void set_vaapi_available(std::optional<bool> available);  // nullopt = not probed
  // systemd's NRestarts of a unit (a counter since the unit was loaded), e.g. from the systemd
  // watcher's PropertiesChanged. A drop (manager restart) starts the series over.
  void set_unit_restarts(const std::string& unit, uint64_t n_restarts);

  // Where the server listens (after start), e.g. to find the port when listen asks for port 0.
  [[nodiscard]] std::optional<uint16_t> listening_port() const;
  // The /metrics body as a scrape would see it (tests, the benchmark).
  [[nodiscard]] std::string render() const;
  // Serves `listen` now (tests, harnesses); on_policy/start do this for the daemon.
  Result<void> listen(const std::string& address);

 private:
  struct Families;
  struct CgroupSeries;
  void apply_listen_settings();
  void close_server();
  void update_cgroup(const CgroupSample& sample, const std::string& label);
  void remove_cgroup(const std::string& label);
  double& kill_counter(const std::string& label, const char* killer);
  void update_level(const TickView& tick);
  void update_oomd(const TickView& tick);
  void update_containers(const Snapshot& snapshot);
  void seed_action_series();
  [[nodiscard]] std::string nearest_label(std::string_view path) const;  // of an unexported cgroup
  [[nodiscard]] std::string render_locked() const;
  static int handle_metrics(mg_connection* connection, void* self);

  mutable std::mutex mutex_;
  std::unique_ptr<Families> families_;
  mg_context* server_ = nullptr;
  size_t last_render_size_ = 4096;  // to reserve the next body at once

  DaemonLoop* loop_ = nullptr;
  bool enabled_ = true;
  bool policy_seen_ = false;
  std::string wanted_listen_ = "127.0.0.1:9464";
  std::string serving_listen_;  // what server_ serves; empty when not serving

  std::map<std::string, std::unique_ptr<CgroupSeries>> cgroups_;  // by label
  uint64_t tick_count_ = 0;
  std::set<std::string> oomd_labels_;
  std::set<std::string> policy_action_types_;
  bool dry_run_ = false;
  std::map<std::string, std::string> containers_;  // exported container cgroups: label -> name
  std::string level_;                              // current level_info label value
  std::string user_manager_path_;
  std::set<std::string> sensed_paths_;             // cgroup paths of the last snapshot (absolute)
  std::map<std::string, uint64_t> last_oom_kill_;  // by path: memory.events oom_kill
  std::set<std::pair<std::string, std::string>> jellyfin_rows_;  // (instance, hwaccel) published
};

}  // namespace guardian
