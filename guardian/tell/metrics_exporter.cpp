#include "tell/metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "decide/ladder.h"

#ifndef GUARDIAN_VERSION
#define GUARDIAN_VERSION "unknown"
#endif

namespace guardian {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr std::array<const char*, 3> kWindows = {"10s", "60s", "300s"};
// memory.* kinds in the order CgroupSeries::bytes holds them.
constexpr std::array<const char*, 7> kByteKinds = {"current", "high", "max", "anon", "file", "shmem", "swap"};
constexpr const char* kKillerOomd = "systemd-oomd";
constexpr const char* kKillerKernel = "kernel";
// The `result` label: the daemon's RESULT field (act/registry.cpp outcome_name), with a dry run's
// "dry-run" split by the event into what would have been applied or reverted. Anything else is
// "other", so the label stays bounded.
constexpr std::array<const char*, 5> kActionResults = {"applied", "reverted", "unchanged", "failed",
                                                       "timed-out"};
constexpr std::array<const char*, 2> kDryRunResults = {"dry-run-applied", "dry-run-reverted"};

std::string action_result(const Event& event, std::string_view result) {
  if (result.empty()) {
    return event.type == EventType::ActionApplied    ? "applied"
           : event.type == EventType::ActionReverted ? "reverted"
                                                     : "failed";
  }
  if (result == "dry-run")
    return event.type == EventType::ActionReverted ? "dry-run-reverted" : "dry-run-applied";
  for (const char* known : kActionResults) {
    if (result == known) return known;
  }
  return "other";
}

// A systemd transient unit named after a PID, session or run id: "app-gnome-firefox-4242.scope",
// "session-2.scope", "run-u17.service", "run-p4242-i4243.scope". Each start makes a new name, so
// exporting them would make label values unbounded.
bool is_transient_unit(std::string_view unit) {
  const auto dot = unit.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view suffix = unit.substr(dot);
  const std::string_view stem = unit.substr(0, dot);
  if (suffix == ".scope") {
    // ...-<digits>.scope (apps launched by GNOME/KDE/systemd-run, sessions)
    const auto dash = stem.rfind('-');
    if (dash != std::string_view::npos && dash + 1 < stem.size() &&
        std::all_of(stem.begin() + static_cast<std::ptrdiff_t>(dash + 1), stem.end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      return true;
    }
    if (stem.starts_with("run-")) return true;
  }
  if (suffix == ".service" && stem.starts_with("run-")) return true;  // systemd-run
  return false;
}

std::string_view last_component(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view parent_path(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string field(const Event& event, std::string_view name) {
  for (const auto& [key, value] : event.fields) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return make_error("[metrics] listen \"" + std::string(text) +
                      "\": expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  const std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return make_error("[metrics] listen \"" + std::string(text) + "\": port \"" + std::string(port_text) +
                      "\" is not a number from 0 to 65535");
  }
  bool host_ok = false;
  if (host == "localhost") {
    host_ok = true;
  } else if (host.front() == '[') {
    // [IPv6 literal]: hex digits, ':' and '.' (IPv4-mapped) between the brackets.
    host_ok =
        host.size() > 2 && host.back() == ']' && std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                 c == '.';
        });
  } else {
    // Dotted-quad IPv4: four numbers 0..255.
    int parts = 0;
    size_t pos = 0;
    host_ok = true;
    while (host_ok && pos <= host.size()) {
      const auto dot = host.find('.', pos);
      const std::string_view part =
          host.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
      unsigned octet = 0;
      const auto [p, e] = std::from_chars(part.data(), part.data() + part.size(), octet);
      host_ok = !part.empty() && part.size() <= 3 && e == std::errc() && p == part.data() + part.size() &&
                octet <= 255;
      ++parts;
      if (dot == std::string_view::npos) break;
      pos = dot + 1;
    }
    host_ok = host_ok && parts == 4;
  }
  if (!host_ok) {
    return make_error("[metrics] listen \"" + std::string(text) + "\": host \"" + std::string(host) +
                      "\" is not an IPv4 address, [IPv6] address or localhost");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

bool listens_everywhere(const ListenAddress& address) {
  if (address.host == "0.0.0.0") return true;
  if (address.host.front() != '[') return false;
  in6_addr v6{};
  const std::string literal = address.host.substr(1, address.host.size() - 2);
  return ::inet_pton(AF_INET6, literal.c_str(), &v6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&v6);
}

std::optional<std::string> cgroup_label(std::string_view path, std::string_view user_manager_path) {
  if (path.empty() || path == "/") return std::string("/");
  if (is_transient_unit(last_component(path))) return std::nullopt;
  if (!user_manager_path.empty() && path.size() > user_manager_path.size() + 1 &&
      path.starts_with(user_manager_path) && path[user_manager_path.size()] == '/') {
    std::string_view relative = path.substr(user_manager_path.size() + 1);
    // Inside a transient scope (its children): not exported either.
    size_t start = 0;
    while (start < relative.size()) {
      const auto slash = relative.find('/', start);
      const auto component =
          relative.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      if (is_transient_unit(component)) return std::nullopt;
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return utf8_label_value(relative);
  }
  return utf8_label_value(path);
}

// Every family guardian exports, in one prometheus-cpp Registry.
struct MetricsExporter::Families {
  prometheus::Registry registry;
  // Kernel totals: gauges in the registry, counters on the wire (see metrics_exporter.h).
  Family<Gauge>& waiting =
      gauge_family("guardian_pressure_memory_waiting_seconds_total",
                   "Total time tasks in the cgroup waited for memory (PSI \"some\" total), in seconds.");
  Family<Gauge>& stalled = gauge_family(
      "guardian_pressure_memory_stalled_seconds_total",
      "Total time all non-idle tasks in the cgroup stalled on memory at once (PSI \"full\" total), in "
      "seconds.");
  Family<Gauge>& some_ratio =
      gauge_family("guardian_pressure_memory_some_ratio",
                   "Share of time some tasks waited for memory, kernel average over the window (0-1).");
  Family<Gauge>& full_ratio =
      gauge_family("guardian_pressure_memory_full_ratio",
                   "Share of time all tasks stalled on memory, kernel average over the window (0-1); "
                   "systemd-oomd compares the 10s window with its limit.");
  Family<Gauge>& memory_bytes =
      gauge_family("guardian_cgroup_memory_bytes",
                   "cgroup v2 memory by kind: current, high and max (absent when \"max\"), anon, file, shmem "
                   "(memory.stat), swap (memory.swap.current).");
  Family<Gauge>& container_info =
      gauge_family("guardian_container_info",
                   "1 for each container cgroup (a podman libpod scope, a quadlet service holding a "
                   "libpod-payload cgroup, or a unit directly in container.slice), with its short name.");
  Family<Gauge>& oomd_limit = gauge_family(
      "guardian_oomd_limit_ratio",
      "systemd-oomd's memory pressure limit for the watched cgroup (0-1), compared with the full "
      "10s ratio.");
  Family<Gauge>& oomd_duration =
      gauge_family("guardian_oomd_duration_seconds",
                   "How long systemd-oomd lets the watched cgroup stay over its limit before it kills.");
  Family<Gauge>& oomd_over = gauge_family(
      "guardian_oomd_over_limit_seconds",
      "How long the watched cgroup has been over systemd-oomd's limit without a break (0 when at or "
      "below it).");
  Family<Gauge>& oomd_until_kill = gauge_family(
      "guardian_oomd_seconds_until_kill",
      "Predicted seconds until systemd-oomd kills in the watched cgroup; +Inf when no kill is on course.");
  Family<Counter>& oom_kills = counter_family("guardian_oom_kills_total",
                                              "OOM kills seen, by cgroup and killer (systemd-oomd, kernel).");
  Family<Gauge>& level = gauge_family(
      "guardian_level", "guardian's current ladder level: 0 = normal, n = the policy's n-th level.");
  Family<Gauge>& level_info =
      gauge_family("guardian_level_info", "guardian's current ladder level by name (always 1).");
  Family<Counter>& actions =
      counter_family("guardian_actions_total",
                     "Policy actions by action type and result (applied, reverted, unchanged, failed, "
                     "timed-out, dry-run-applied, dry-run-reverted, other).");
  Family<Gauge>& budget_used = gauge_family(
      "guardian_user_budget_used_bytes",
      "Memory the user is charged for: memory.current of the user manager (MemTotal - MemAvailable "
      "without one).");
  Family<Gauge>& budget_limit = gauge_family(
      "guardian_user_budget_limit_bytes",
      "The user's memory budget: the smallest memory.high/memory.max of the user manager and its "
      "ancestors, else MemTotal.");
  Family<Gauge>& budget_room =
      gauge_family("guardian_user_budget_room_bytes",
                   "Room left in the budget: the smaller of limit - used and MemAvailable.");
  Family<Gauge>& budget_until = gauge_family(
      "guardian_user_budget_seconds_until_exhausted",
      "Seconds until the room runs out at the recent growth of used memory (Theil-Sen slope over the "
      "[approach] window); +Inf when it does not grow.");
  Family<Gauge>& transcodes = gauge_family(
      "guardian_jellyfin_transcodes",
      "Running Jellyfin transcodes by Jellyfin instance and acceleration (software, vaapi, ...).");
  Family<Gauge>& transcode_memory =
      gauge_family("guardian_jellyfin_transcode_memory_bytes",
                   "Memory (PSS) of Jellyfin's transcoding ffmpeg processes, by instance and acceleration.");
  Family<Gauge>& vaapi =
      gauge_family("guardian_vaapi_available",
                   "1 when the VA-API probe found a usable render node and encoder, 0 when not.");
  Family<Gauge>& restarts =
      gauge_family("guardian_unit_restarts_total", "Automatic restarts of a systemd unit (its NRestarts).");
  Family<Gauge>& build_info = gauge_family("guardian_build_info", "guardian's version (always 1).");
  Family<Gauge>& last_tick =
      gauge_family("guardian_last_tick_timestamp_seconds",
                   "Wall-clock time of the snapshot these metrics come from, in seconds since the epoch.");
  Family<Histogram>& lateness_family =
      prometheus::BuildHistogram()
          .Name("guardian_tick_lateness_seconds")
          .Help(
              "How late guardian's loop read each expiry of its sampling timer, in seconds (a stalled "
              "loop: reclaim, a fault, the memory.high penalty).")
          .Register(registry);
  Histogram* lateness = &add_lateness();

  Gauge& level_gauge = level.Add({});
  Gauge& last_tick_gauge = last_tick.Add({});

  Histogram& add_lateness() {
    return lateness_family.Add({}, Histogram::BucketBoundaries(TickLateness::kBucketBounds.begin(),
                                                               TickLateness::kBucketBounds.end()));
  }

  // Exposed with TYPE counter (their values are totals someone else keeps).
  [[nodiscard]] bool counter_on_the_wire(const std::string& name) const {
    return name == waiting.GetName() || name == stalled.GetName() || name == restarts.GetName();
  }

 private:
  Family<Gauge>& gauge_family(const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  }
  Family<Counter>& counter_family(const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
  }
};

// One cgroup of the snapshot. Exported or not, it keeps its memory.events oom_kill (the kills of
// its subtree); exported, it holds its series so a tick only stores values.
struct MetricsExporter::CgroupSeries {
  std::string label;  // "" when the cgroup can have no label (transient)
  bool exported = false;
  uint64_t seen_tick = 0;
  uint64_t oom_kill = 0;  // memory.events oom_kill as last read
  uint64_t delta = 0;     // this tick's increase of oom_kill
  uint64_t children_delta = 0;
  uint64_t payload_tick = 0;  // the tick a libpod-payload child was last seen in
  std::string container;      // its container name ("" when not one)
  Gauge* container_info = nullptr;
  Gauge* waiting = nullptr;
  Gauge* stalled = nullptr;
  std::array<Gauge*, kWindows.size()> some{};
  std::array<Gauge*, kWindows.size()> full{};
  std::array<Gauge*, kByteKinds.size()> bytes{};
  Counter* kills_kernel = nullptr;
  Counter* kills_oomd = nullptr;
};

struct MetricsExporter::OomdSeries {
  uint64_t seen_tick = 0;
  Gauge* limit = nullptr;  // all null when the watched cgroup has no label
  Gauge* duration = nullptr;
  Gauge* over = nullptr;
  Gauge* until_kill = nullptr;
};

namespace {

bool is_slice(std::string_view path) { return last_component(path).ends_with(".slice"); }

// What the Jellyfin dashboards select: (.+/)?jellyfin[^/]*[.](service|scope).
bool is_jellyfin(std::string_view path) {
  const auto unit = last_component(path);
  return unit.starts_with("jellyfin") && (unit.ends_with(".service") || unit.ends_with(".scope"));
}

// The container a cgroup is, if it is one, by its short name: a rootless podman container
// ("libpod-<id>.scope" -> "libpod-<first 12 of id>"), a quadlet service (a unit holding a
// "libpod-payload-<id>" cgroup -> the unit without ".service"), or any unit directly in
// container.slice (-> the unit without its suffix); "" when not one. Every such name is a prefix
// of the unit's name, so no string is made.
std::string_view container_name_view(std::string_view unit, bool in_container_slice, bool holds_payload) {
  if (in_container_slice || holds_payload) return unit.substr(0, unit.rfind('.'));
  if (unit.starts_with("libpod-") && unit.ends_with(".scope") && !unit.starts_with("libpod-conmon-")) {
    return unit.substr(0, 7 + std::min<size_t>(12, unit.size() - 7 - 6));
  }
  return {};
}

}  // namespace

std::string utf8_label_value(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    }
    bool valid = length > 0 && i + length <= size;
    for (size_t k = 1; valid && k < length; ++k) {
      const unsigned char c = bytes[i + k];
      valid = k == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD, for this one byte
      ++i;
    }
  }
  return out;
}

MetricsExporter::MetricsExporter() : families_(std::make_unique<Families>()) {
  families_->build_info.Add({{"version", GUARDIAN_VERSION}}).Set(1);
  lateness_increments_.resize(TickLateness::kBucketBounds.size() + 1);
}

MetricsExporter::~MetricsExporter() { close_server(); }

// The loop starts components before the first policy is in force (daemon.cpp), so the server
// waits for a policy: listening on the default address first could take a port the policy does
// not want, or serve when the policy says enabled = false.
void MetricsExporter::start(DaemonLoop& loop) {
  loop_ = &loop;
  if (policy_seen_) apply_listen_settings();
}

void MetricsExporter::on_policy(const Policy& policy) {
  {
    std::lock_guard lock(mutex_);
    enabled_ = policy.metrics.enabled;
    wanted_listen_ = policy.metrics.listen;
    policy_seen_ = true;
    policy_action_types_.clear();
    for (const auto& level : policy.levels) {
      for (const auto& action : level.actions) policy_action_types_.insert(action.type);
    }
    seed_action_series();
  }
  if (loop_ != nullptr) apply_listen_settings();
}

// Actions start at 0 so the first one shows in increase() (a series born at 1 does not).
void MetricsExporter::seed_action_series() {
  for (const auto& type : policy_action_types_) {
    for (const char* result : kActionResults) families_->actions.Add({{"action", type}, {"result", result}});
    if (dry_run_) {
      for (const char* result : kDryRunResults)
        families_->actions.Add({{"action", type}, {"result", result}});
    }
  }
}

Result<void> MetricsExporter::listen(const std::string& address) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return parsed.error();
  close_server();
  auto server = MetricsServer::start(*parsed, [this] { return render(); });
  if (!server) return server.error();
  server_ = std::move(*server);
  serving_listen_ = address;
  return {};
}

void MetricsExporter::apply_listen_settings() {
  std::string wanted;
  bool enabled = false;
  {
    std::lock_guard lock(mutex_);
    wanted = wanted_listen_;
    enabled = enabled_;
  }
  if (!enabled) {
    close_server();
    return;
  }
  if (server_ != nullptr && serving_listen_ == wanted) return;
  const auto parsed = parse_listen_address(wanted);
  if (parsed && listens_everywhere(*parsed) && loop_ != nullptr) {
    Event event;
    event.type = EventType::ComponentWarning;
    event.priority = Priority::Warning;
    event.message = "metrics: [metrics] listen \"" + wanted +
                    "\" serves /metrics on every address: anyone who can reach this machine reads its cgroup "
                    "names, memory and guardian's actions; use 127.0.0.1 unless Prometheus scrapes from "
                    "another host, and firewall the port then";
    event.with("COMPONENT", "metrics").with("LISTEN", wanted);
    loop_->tell(event);
  }
  auto result = listen(wanted);
  if (!result && loop_ != nullptr) {
    Event event;
    event.type = EventType::ComponentFailed;
    event.priority = Priority::Error;
    event.message = result.error().message;
    event.with("COMPONENT", "metrics").with("LISTEN", wanted);
    loop_->tell(event);
  }
}

void MetricsExporter::stop() { close_server(); }

void MetricsExporter::close_server() {
  server_.reset();  // the server's own thread stops at once (an eventfd wakes it)
  serving_listen_.clear();
}

std::optional<uint16_t> MetricsExporter::listening_port() const {
  if (server_ == nullptr) return std::nullopt;
  return server_->port();
}

std::string MetricsExporter::render() const {
  std::lock_guard lock(mutex_);
  return render_locked();
}

std::vector<prometheus::MetricFamily> MetricsExporter::collect() const {
  std::lock_guard lock(mutex_);
  return collect_locked();
}

std::vector<prometheus::MetricFamily> MetricsExporter::collect_locked() const {
  auto families = families_->registry.Collect();
  for (auto& family : families) {
    if (family.type != prometheus::MetricType::Gauge || !families_->counter_on_the_wire(family.name))
      continue;
    family.type = prometheus::MetricType::Counter;
    for (auto& metric : family.metric) metric.counter.value = metric.gauge.value;
  }
  return families;
}

std::string MetricsExporter::render_locked() const {
  return prometheus::TextSerializer().Serialize(collect_locked());
}

prometheus::Counter& MetricsExporter::kill_counter(const std::string& label, const char* killer) {
  // Add returns the series when it exists (an exported cgroup's, or one kept after its cgroup went).
  return families_->oom_kills.Add({{"cgroup", label}, {"killer", killer}});
}

// Creates (exported) or removes (not) every series of a cgroup but the values.
void MetricsExporter::export_cgroup(CgroupSeries& series, bool exported) {
  if (series.exported == exported) return;
  const std::string& label = series.label;
  if (exported) {
    if (label.empty() || !exported_labels_.insert(label).second) return;  // no label, or it is taken
    series.exported = true;
    // Kill counters start at 0 with the cgroup so the first kill shows in increase().
    series.kills_kernel = &kill_counter(label, kKillerKernel);
    series.kills_oomd = &kill_counter(label, kKillerOomd);
    return;
  }
  drop_pressure(series);
  for (size_t k = 0; k < kByteKinds.size(); ++k) {
    if (series.bytes[k] != nullptr) families_->memory_bytes.Remove(series.bytes[k]);
    series.bytes[k] = nullptr;
  }
  set_container(series, {});
  // A kill counter that counted something stays: the kill is often what made the cgroup vanish,
  // and Prometheus must still see it (kills are rare, so this stays bounded).
  if (series.kills_kernel != nullptr && series.kills_kernel->Value() == 0)
    families_->oom_kills.Remove(series.kills_kernel);
  if (series.kills_oomd != nullptr && series.kills_oomd->Value() == 0)
    families_->oom_kills.Remove(series.kills_oomd);
  series.kills_kernel = series.kills_oomd = nullptr;
  exported_labels_.erase(label);
  series.exported = false;
}

void MetricsExporter::drop_pressure(CgroupSeries& series) {
  if (series.waiting == nullptr) return;
  families_->waiting.Remove(series.waiting);
  families_->stalled.Remove(series.stalled);
  series.waiting = series.stalled = nullptr;
  for (size_t w = 0; w < kWindows.size(); ++w) {
    families_->some_ratio.Remove(series.some[w]);
    families_->full_ratio.Remove(series.full[w]);
    series.some[w] = series.full[w] = nullptr;
  }
}

void MetricsExporter::set_container(CgroupSeries& series, std::string_view name) {
  if (series.container == name && (name.empty() || series.container_info != nullptr)) return;
  if (series.container_info != nullptr) families_->container_info.Remove(series.container_info);
  series.container_info = nullptr;
  series.container.assign(name);
  if (!name.empty() && series.exported) {
    series.container_info =
        &families_->container_info.Add({{"cgroup", series.label}, {"container", utf8_label_value(name)}});
    series.container_info->Set(1);
  }
}

void MetricsExporter::forget_cgroup(CgroupSeries& series) { export_cgroup(series, false); }

void MetricsExporter::update_values(CgroupSeries& series, const CgroupSample& sample) {
  const std::string& label = series.label;
  if (sample.pressure) {
    const auto& psi = *sample.pressure;
    if (series.waiting == nullptr) {
      series.waiting = &families_->waiting.Add({{"cgroup", label}});
      series.stalled = &families_->stalled.Add({{"cgroup", label}});
      for (size_t w = 0; w < kWindows.size(); ++w) {
        series.some[w] = &families_->some_ratio.Add({{"cgroup", label}, {"window", kWindows[w]}});
        series.full[w] = &families_->full_ratio.Add({{"cgroup", label}, {"window", kWindows[w]}});
      }
    }
    // The kernel's µs totals, as seconds. A total that drops (cgroup re-created under the same
    // path) is passed on as it is: Prometheus treats a drop as a counter reset.
    series.waiting->Set(static_cast<double>(psi.some.total_us) / 1e6);
    series.stalled->Set(static_cast<double>(psi.full.total_us) / 1e6);
    const std::array some = {psi.some.avg10, psi.some.avg60, psi.some.avg300};
    const std::array full = {psi.full.avg10, psi.full.avg60, psi.full.avg300};
    for (size_t w = 0; w < kWindows.size(); ++w) {
      series.some[w]->Set(some[w] / 100.0);
      series.full[w]->Set(full[w] / 100.0);
    }
  } else {
    drop_pressure(series);
  }

  const auto& memory = sample.memory;
  const std::array<std::optional<uint64_t>, kByteKinds.size()> values = {
      memory.current_bytes,
      memory.high_bytes,
      memory.max_bytes,
      memory.current_bytes ? std::optional(memory.anon_bytes) : std::nullopt,
      memory.current_bytes ? std::optional(memory.file_bytes) : std::nullopt,
      memory.current_bytes ? std::optional(memory.shmem_bytes) : std::nullopt,
      memory.swap_current_bytes};
  for (size_t k = 0; k < kByteKinds.size(); ++k) {
    Gauge*& gauge = series.bytes[k];
    if (values[k]) {
      if (gauge == nullptr)
        gauge = &families_->memory_bytes.Add({{"cgroup", label}, {"kind", kByteKinds[k]}});
      gauge->Set(static_cast<double>(*values[k]));
    } else if (gauge != nullptr) {
      families_->memory_bytes.Remove(gauge);
      gauge = nullptr;
    }
  }
}

MetricsExporter::CgroupSeries* MetricsExporter::exported_ancestor(std::string_view path) {
  std::string_view current = path;
  while (current != "/" && !current.empty()) {
    current = parent_path(current);
    const auto it = cgroups_.find(current);
    if (it != cgroups_.end() && it->second->exported) return it->second.get();
  }
  return system_ != nullptr && system_->exported ? system_.get() : nullptr;
}

void MetricsExporter::update_level(const TickView& tick) {
  const size_t index = tick.ladder != nullptr ? tick.ladder->level : 0;
  families_->level_gauge.Set(static_cast<double>(index));
  const std::string_view name = tick.level_name.empty() ? std::string_view("normal") : tick.level_name;
  if (name == level_ && level_info_ != nullptr) return;
  if (level_info_ != nullptr) families_->level_info.Remove(level_info_);
  level_.assign(name);
  level_info_ = &families_->level_info.Add({{"level", level_}});
  level_info_->Set(1);
}

void MetricsExporter::update_oomd(const TickView& tick) {
  if (tick.oomd != nullptr) {
    for (const auto& state : *tick.oomd) {
      if (!state.present) continue;
      auto it = oomd_.find(state.rule.path);
      if (it == oomd_.end()) {
        auto series = std::make_unique<OomdSeries>();
        if (const auto label = cgroup_label(state.rule.path, user_manager_path_)) {
          const prometheus::Labels labels = {{"cgroup", *label}};
          series->limit = &families_->oomd_limit.Add(labels);
          series->duration = &families_->oomd_duration.Add(labels);
          series->over = &families_->oomd_over.Add(labels);
          series->until_kill = &families_->oomd_until_kill.Add(labels);
        }
        it = oomd_.emplace(state.rule.path, std::move(series)).first;
      }
      OomdSeries& series = *it->second;
      series.seen_tick = tick_count_;
      if (series.limit == nullptr) continue;
      series.limit->Set(state.rule.limit_percent / 100.0);
      series.duration->Set(std::chrono::duration<double>(state.rule.duration).count());
      series.over->Set(state.seconds_over);
      // +Inf rather than absent: the series exists for every watched cgroup, so "min()" and
      // "< 30" work without "or vector()", and a gap means guardian stopped, not "no kill".
      series.until_kill->Set(state.seconds_until_kill ? *state.seconds_until_kill
                                                      : std::numeric_limits<double>::infinity());
    }
  }
  for (auto it = oomd_.begin(); it != oomd_.end();) {
    if (it->second->seen_tick == tick_count_) {
      ++it;
      continue;
    }
    OomdSeries& gone = *it->second;
    if (gone.limit != nullptr) {
      families_->oomd_limit.Remove(gone.limit);
      families_->oomd_duration.Remove(gone.duration);
      families_->oomd_over.Remove(gone.over);
      families_->oomd_until_kill.Remove(gone.until_kill);
    }
    it = oomd_.erase(it);
  }
}

// The series exist while the model knows the budget (Family::Add makes a metric even to find one,
// so the gauges are kept, not looked up).
void MetricsExporter::update_budget(const TickView& tick) {
  const UserBudget* budget = tick.user_budget;
  const bool known = budget != nullptr && budget->known;
  auto& f = *families_;
  const std::array families = {&f.budget_used, &f.budget_limit, &f.budget_room, &f.budget_until};
  if (known != (budget_[0] != nullptr)) {
    for (size_t i = 0; i < families.size(); ++i) {
      if (known) {
        budget_[i] = &families[i]->Add({});
      } else {
        families[i]->Remove(budget_[i]);
        budget_[i] = nullptr;
      }
    }
  }
  if (!known) return;
  budget_[0]->Set(static_cast<double>(budget->used_bytes));
  budget_[1]->Set(static_cast<double>(budget->limit_bytes));
  budget_[2]->Set(static_cast<double>(budget->room_bytes));
  budget_[3]->Set(budget->seconds_to_exhaustion);
}

// The loop keeps its own histogram (sense/self_watch.h); what it gained since the last tick goes
// into prometheus-cpp's in one step.
void MetricsExporter::update_lateness(const TickView& tick) {
  if (tick.lateness == nullptr) return;
  const auto& now = tick.lateness->histogram();
  if (now.count == lateness_seen_.count) return;
  if (now.count < lateness_seen_.count) {  // a new loop: start the series over
    families_->lateness_family.Remove(families_->lateness);
    families_->lateness = &families_->add_lateness();
    lateness_seen_ = {};
  }
  for (size_t i = 0; i < now.buckets.size(); ++i)
    lateness_increments_[i] = static_cast<double>(now.buckets[i] - lateness_seen_.buckets[i]);
  families_->lateness->ObserveMultiple(lateness_increments_, now.sum_seconds - lateness_seen_.sum_seconds);
  lateness_seen_ = now;
}

void MetricsExporter::on_tick(const TickView& tick) {
  if (tick.snapshot == nullptr) return;
  const Snapshot& snapshot = *tick.snapshot;
  std::lock_guard lock(mutex_);
  if (tick.layout != nullptr)
    user_manager_path_.assign(tick.layout->user_manager_path);
  else
    user_manager_path_.clear();
  ++tick_count_;
  update_oomd(tick);  // first: which cgroups oomd watches decides which are exported

  // Pass 1: every cgroup's series (new ones made here) and its oom_kill increase. memory.events
  // oom_kill is hierarchical (a kill counts in every ancestor), so a cgroup's own kills are its
  // increase minus its children's.
  for (const auto& sample : snapshot.cgroups) {
    auto it = cgroups_.find(sample.path);
    const uint64_t now = sample.memory.events_oom_kill;
    if (it == cgroups_.end()) {
      auto series = std::make_unique<CgroupSeries>();
      series->label = cgroup_label(sample.path, user_manager_path_).value_or(std::string());
      series->oom_kill = now;  // kills before guardian saw the cgroup are not counted
      it = cgroups_.emplace(sample.path, std::move(series)).first;
    }
    CgroupSeries& series = *it->second;
    // A smaller count: the cgroup was re-created under the same path; all of `now` is new.
    series.delta = series.seen_tick == 0 ? 0 : (now >= series.oom_kill ? now - series.oom_kill : now);
    series.oom_kill = now;
    series.children_delta = 0;
    series.seen_tick = tick_count_;
  }
  for (const auto& sample : snapshot.cgroups) {
    if (sample.path == "/") continue;
    const auto parent = cgroups_.find(parent_path(sample.path));
    if (parent == cgroups_.end()) continue;
    parent->second->children_delta += cgroups_.find(sample.path)->second->delta;
    if (last_component(sample.path).starts_with("libpod-payload-"))
      parent->second->payload_tick = tick_count_;
  }

  // Pass 2, in the snapshot's pre-order: containers are the outermost cgroups that are one (a
  // quadlet service, not also its payload); what is exported; the values.
  std::string_view inside;  // the container we are in
  for (const auto& sample : snapshot.cgroups) {
    CgroupSeries& series = *cgroups_.find(sample.path)->second;
    const std::string_view path = sample.path;
    std::string_view container;
    if (inside.empty() ||
        !(path.size() > inside.size() && path.starts_with(inside) && path[inside.size()] == '/')) {
      inside = {};
      const std::string_view parent = parent_path(path);
      const bool in_container_slice = !user_manager_path_.empty() &&
                                      parent.size() == user_manager_path_.size() + 16 &&
                                      parent.starts_with(user_manager_path_) &&
                                      parent.substr(user_manager_path_.size()) == "/container.slice";
      container =
          container_name_view(last_component(path), in_container_slice, series.payload_tick == tick_count_);
      if (!container.empty() && !series.label.empty()) inside = path;
      if (series.label.empty()) container = {};
    }
    const auto watched = oomd_.find(path);
    const bool wanted = !series.label.empty() &&
                        (is_slice(path) || !container.empty() || is_jellyfin(path) || watched != oomd_.end());
    export_cgroup(series, wanted);
    if (series.exported) {
      set_container(series, container);
      update_values(series, sample);
    }
    const uint64_t local = series.delta > series.children_delta ? series.delta - series.children_delta : 0;
    if (local > 0) {
      // Kills in a cgroup that is not exported count on the nearest exported ancestor.
      CgroupSeries* target = series.exported ? &series : exported_ancestor(path);
      if (target != nullptr)
        target->kills_kernel->Increment(static_cast<double>(local));
      else
        kill_counter("/", kKillerKernel).Increment(static_cast<double>(local));
    }
  }

  if (snapshot.system_pressure) {
    if (system_ == nullptr) {
      system_ = std::make_unique<CgroupSeries>();
      system_->label = "/";
    }
    export_cgroup(*system_, true);
    CgroupSample system;  // no heap: an empty path and no strings
    system.pressure = snapshot.system_pressure;
    update_values(*system_, system);
  } else if (system_ != nullptr) {
    export_cgroup(*system_, false);
  }

  for (auto it = cgroups_.begin(); it != cgroups_.end();) {
    if (it->second->seen_tick == tick_count_) {
      ++it;
      continue;
    }
    forget_cgroup(*it->second);
    it = cgroups_.erase(it);
  }

  if (tick.dry_run && !dry_run_) {
    dry_run_ = true;
    seed_action_series();
  }
  update_level(tick);
  update_budget(tick);
  update_lateness(tick);
  families_->last_tick_gauge.Set(std::chrono::duration<double>(snapshot.wall.time_since_epoch()).count());
}

std::string MetricsExporter::nearest_label(std::string_view path) const {
  std::string_view current = path;
  while (current != "/" && !current.empty()) {
    current = parent_path(current);
    const auto it = cgroups_.find(current);
    if (it != cgroups_.end() && it->second->exported) return it->second->label;
    if (it == cgroups_.end()) {
      if (auto label = cgroup_label(current, user_manager_path_)) return *label;
    }
  }
  return "/";
}

void MetricsExporter::emit(const Event& event) {
  switch (event.type) {
    case EventType::ActionApplied:
    case EventType::ActionReverted:
    case EventType::ActionFailed: {
      const std::string action = field(event, "ACTION");
      if (action.empty()) return;
      const std::string result = action_result(event, field(event, "RESULT"));
      std::lock_guard lock(mutex_);
      families_->actions.Add({{"action", utf8_label_value(action)}, {"result", result}}).Increment();
      return;
    }
    case EventType::OomKill: {
      const std::string killer = field(event, "KILLER");
      if (killer != kKillerOomd && killer != kKillerKernel) return;  // keeps the label bounded
      std::lock_guard lock(mutex_);
      // An absolute path, or one already relative to the user manager.
      std::string path = field(event, "CGROUP");
      if (!path.empty() && path.front() != '/' && !user_manager_path_.empty())
        path = user_manager_path_ + "/" + path;
      if (path.empty()) path = "/";
      // Kernel kills in cgroups guardian reads are counted from memory.events already.
      if (killer == kKillerKernel && cgroups_.contains(path)) return;
      // Counted where it happened even when that cgroup has no other series (a kill is what an
      // alert names); a transient scope's on the nearest exported ancestor.
      const auto label = cgroup_label(path, user_manager_path_);
      kill_counter(label ? *label : nearest_label(path), killer == kKillerOomd ? kKillerOomd : kKillerKernel)
          .Increment();
      return;
    }
    default: return;
  }
}

void MetricsExporter::set_jellyfin_view(const std::vector<JellyfinTranscodeTotals>& rows) {
  std::lock_guard lock(mutex_);
  std::set<std::pair<std::string, std::string>> published;
  std::set<std::string> instances;
  auto publish = [&](const std::string& instance, const std::string& hwaccel, double transcodes,
                     double bytes) {
    const prometheus::Labels labels = {{"hwaccel", utf8_label_value(hwaccel)},
                                       {"jellyfin", utf8_label_value(instance)}};
    families_->transcodes.Add(labels).Set(transcodes);
    families_->transcode_memory.Add(labels).Set(bytes);
    published.emplace(instance, hwaccel);
  };
  for (const auto& row : rows) {
    publish(row.instance, row.hwaccel, row.transcodes, static_cast<double>(row.memory_bytes));
    instances.insert(row.instance);
  }
  // Every instance always shows software and vaapi, so "no transcodes" reads 0, not "no data".
  for (const auto& instance : instances) {
    for (const char* hwaccel : {"software", "vaapi"}) {
      if (!published.contains({instance, hwaccel})) publish(instance, hwaccel, 0, 0);
    }
  }
  for (const auto& [instance, hwaccel] : jellyfin_rows_) {
    if (published.contains({instance, hwaccel})) continue;
    const prometheus::Labels labels = {{"hwaccel", utf8_label_value(hwaccel)},
                                       {"jellyfin", utf8_label_value(instance)}};
    families_->transcodes.Remove(&families_->transcodes.Add(labels));
    families_->transcode_memory.Remove(&families_->transcode_memory.Add(labels));
  }
  jellyfin_rows_ = std::move(published);
}

void MetricsExporter::set_vaapi_available(std::optional<bool> available) {
  std::lock_guard lock(mutex_);
  if (available) {
    families_->vaapi.Add({}).Set(*available ? 1 : 0);
  } else {
    families_->vaapi.Remove(&families_->vaapi.Add({}));
  }
}

void MetricsExporter::set_unit_restarts(const std::string& unit, uint64_t n_restarts) {
  std::lock_guard lock(mutex_);
  // systemd's own counter: a drop (manager restart) reads as a counter reset in Prometheus.
  families_->restarts.Add({{"unit", utf8_label_value(unit)}}).Set(static_cast<double>(n_restarts));
}

}  // namespace guardian
