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
// Which cgroups get series: those a dashboard or rule of grafana/ and prometheus/ reads — the
// system ("/"), every slice, the cgroups systemd-oomd watches, containers (outermost container
// cgroup) and Jellyfin (a unit named jellyfin*.service/.scope). Other leaves are not exported:
// their memory is in their slice, and a desktop has hundreds of them. Their kernel OOM kills count
// on the nearest exported ancestor.
//
// Label values are UTF-8: a byte sequence that is not (a cgroup directory may be named with any
// bytes) is replaced by U+FFFD, as Prometheus' own Go client does, so one odd name cannot make
// Prometheus reject the whole scrape. Two names that differ only there would share a label: the
// second one is not exported.
//
// The data model is prometheus-cpp's (a Registry of families of gauges, counters and a
// histogram), and the text is its TextSerializer. tests/bench/bench_metrics.cpp measures its
// scrape against a hand-written renderer (tell/exposition.h) over the same series (README,
// "Benchmark"). Counters whose value is the kernel's or systemd's own total (PSI totals,
// NRestarts) are kept as gauges (prometheus-cpp's Counter only increments) and exposed as counters.
//
// on_tick allocates nothing in steady state (tests/tell/metrics_exporter_steady_test.cpp): each
// cgroup's series are created when it appears and kept as references; a tick only stores values.
//
// Thread model: on_tick and the setters run on the loop thread, emit() may run on the action
// worker, and scrapes run on the server's thread. One mutex guards the series: a scrape sees a
// whole tick or the previous one, never half of each. The HTTP server is tell/metrics_server.h
// (one epoll thread; see there why not civetweb, which prometheus-cpp's Exposer wraps).
#pragma once

#include <prometheus/metric_family.h>

#include <array>
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
#include "model/user_budget.h"
#include "tell/metrics_server.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace guardian {

// "host:port" from [metrics] listen, checked: an IPv4 literal, "localhost" or a bracketed IPv6
// literal, and a port 0..65535 (0 = any free port, for tests).
struct ListenAddress {
  std::string host;  // "127.0.0.1", "localhost", "[::1]"
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);
// 0.0.0.0 or [::]: every address of the machine (the exporter warns: component-warning).
bool listens_everywhere(const ListenAddress& address);

// The `cgroup` label for a cgroup path (relative to the cgroup2 mount), or nullopt when the
// cgroup is a transient PID/session scope that is not exported on its own.
std::optional<std::string> cgroup_label(std::string_view path, std::string_view user_manager_path);

// `text` as a valid UTF-8 label value: each byte that does not start or continue a well-formed
// sequence (overlong forms, surrogates and code points above U+10FFFF included) becomes U+FFFD.
std::string utf8_label_value(std::string_view text);

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
  // The series as prometheus-cpp collects them for a scrape, counters on the wire as counters.
  [[nodiscard]] std::vector<prometheus::MetricFamily> collect() const;
  // Serves `listen` now (tests, harnesses); on_policy/start do this for the daemon.
  Result<void> listen(const std::string& address);

 private:
  struct Families;
  struct CgroupSeries;
  struct OomdSeries;
  void apply_listen_settings();
  void close_server();
  void export_cgroup(CgroupSeries& series, bool exported);
  void drop_pressure(CgroupSeries& series);
  void update_values(CgroupSeries& series, const CgroupSample& sample);
  void set_container(CgroupSeries& series, std::string_view name);
  void forget_cgroup(CgroupSeries& series);
  prometheus::Counter& kill_counter(const std::string& label, const char* killer);
  CgroupSeries* exported_ancestor(std::string_view path);
  void update_level(const TickView& tick);
  void update_oomd(const TickView& tick);
  void update_budget(const TickView& tick);
  void update_lateness(const TickView& tick);
  void seed_action_series();
  [[nodiscard]] std::string nearest_label(std::string_view path) const;  // of an unexported cgroup
  [[nodiscard]] std::string render_locked() const;
  [[nodiscard]] std::vector<prometheus::MetricFamily> collect_locked() const;

  mutable std::mutex mutex_;
  std::unique_ptr<Families> families_;
  std::unique_ptr<MetricsServer> server_;

  DaemonLoop* loop_ = nullptr;
  bool enabled_ = true;
  bool policy_seen_ = false;
  std::string wanted_listen_ = "127.0.0.1:9464";
  std::string serving_listen_;  // what server_ serves; empty when not serving

  // Every cgroup of the last snapshot by absolute path, exported or not (the kill deltas need
  // them all); the system ("/", from /proc/pressure) apart.
  std::map<std::string, std::unique_ptr<CgroupSeries>, std::less<>> cgroups_;
  std::unique_ptr<CgroupSeries> system_;
  std::set<std::string, std::less<>> exported_labels_;
  uint64_t tick_count_ = 0;
  std::map<std::string, std::unique_ptr<OomdSeries>, std::less<>> oomd_;  // by watched path
  std::set<std::string> policy_action_types_;
  bool dry_run_ = false;
  std::string level_;  // current level_info label value
  prometheus::Gauge* level_info_ = nullptr;
  std::string user_manager_path_;
  TickLateness::Histogram lateness_seen_{};                      // the loop's histogram as last passed on
  std::vector<double> lateness_increments_;                      // scratch, sized once
  std::array<prometheus::Gauge*, 4> budget_{};                   // used, limit, room, seconds until exhausted
  std::set<std::pair<std::string, std::string>> jellyfin_rows_;  // (instance, hwaccel) published
};

}  // namespace guardian
