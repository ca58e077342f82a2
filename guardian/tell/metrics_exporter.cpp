#include "tell/metrics_exporter.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "common/fd.h"
#include "daemon/daemon.h"
#include "decide/ladder.h"

#ifndef GUARDIAN_VERSION
#define GUARDIAN_VERSION "unknown"
#endif

namespace guardian {

// Collect() under the exporter's mutex, so a scrape never sees half a tick.
class LockedCollectable : public prometheus::Collectable {
 public:
  LockedCollectable(std::mutex& mutex, std::shared_ptr<prometheus::Registry> registry)
      : mutex_(mutex), registry_(std::move(registry)) {}
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mutex_);
    return registry_->Collect();
  }

 private:
  std::mutex& mutex_;
  std::shared_ptr<prometheus::Registry> registry_;
};

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;

constexpr std::array<const char*, 3> kWindows = {"10s", "60s", "300s"};
// memory.* kinds in the order CgroupSeries::bytes holds them.
constexpr std::array<const char*, 7> kByteKinds = {"current", "high", "max", "anon", "file", "shmem", "swap"};
constexpr const char* kKillerOomd = "systemd-oomd";
constexpr const char* kKillerKernel = "kernel";
constexpr std::array<const char*, 3> kActionResults = {"applied", "reverted", "failed"};

// Counters from a kernel total: prometheus-cpp counters only go up, so they follow the kernel's
// value by adding the difference. A value that went down means the source started over (a cgroup
// recreated under the same path, a manager restart): the caller re-creates the series.
bool follow_total(Counter& counter, double total) {
  const double current = counter.Value();
  if (total < current) return false;
  if (total > current) counter.Increment(total - current);
  return true;
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
    return make_error("[metrics] listen \"" + std::string(text) + "\": expected HOST:PORT, e.g. 127.0.0.1:9464");
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
    host_ok = host.size() > 2 && host.back() == ']' &&
              std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
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
      const std::string_view part = host.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
      unsigned octet = 0;
      const auto [p, e] = std::from_chars(part.data(), part.data() + part.size(), octet);
      host_ok = !part.empty() && part.size() <= 3 && e == std::errc() && p == part.data() + part.size() && octet <= 255;
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
      const auto component = relative.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      if (is_transient_unit(component)) return std::nullopt;
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return std::string(relative);
  }
  return std::string(path);
}

struct MetricsExporter::Families {
  explicit Families(prometheus::Registry& registry)
      : waiting(prometheus::BuildCounter()
                    .Name("guardian_pressure_memory_waiting_seconds_total")
                    .Help("Total time tasks in the cgroup waited for memory (PSI \"some\" total), in seconds.")
                    .Register(registry)),
        stalled(prometheus::BuildCounter()
                    .Name("guardian_pressure_memory_stalled_seconds_total")
                    .Help("Total time all non-idle tasks in the cgroup stalled on memory at once (PSI \"full\" "
                          "total), in seconds.")
                    .Register(registry)),
        some_ratio(prometheus::BuildGauge()
                       .Name("guardian_pressure_memory_some_ratio")
                       .Help("Share of time some tasks waited for memory, kernel average over the window (0-1).")
                       .Register(registry)),
        full_ratio(prometheus::BuildGauge()
                       .Name("guardian_pressure_memory_full_ratio")
                       .Help("Share of time all tasks stalled on memory, kernel average over the window (0-1); "
                             "systemd-oomd compares the 10s window with its limit.")
                       .Register(registry)),
        memory_bytes(prometheus::BuildGauge()
                         .Name("guardian_cgroup_memory_bytes")
                         .Help("cgroup v2 memory by kind: current, high, max (absent when \"max\"), anon, file, "
                               "shmem (memory.stat), swap (memory.swap.current).")
                         .Register(registry)),
        oomd_limit(prometheus::BuildGauge()
                       .Name("guardian_oomd_limit_ratio")
                       .Help("systemd-oomd's memory pressure limit for the watched cgroup (0-1), compared with the "
                             "full 10s ratio.")
                       .Register(registry)),
        oomd_duration(prometheus::BuildGauge()
                          .Name("guardian_oomd_duration_seconds")
                          .Help("How long systemd-oomd lets the watched cgroup stay over its limit before it kills.")
                          .Register(registry)),
        oomd_over(prometheus::BuildGauge()
                      .Name("guardian_oomd_over_limit_seconds")
                      .Help("How long the watched cgroup has been over systemd-oomd's limit without a break "
                            "(0 when at or below it).")
                      .Register(registry)),
        oomd_until_kill(prometheus::BuildGauge()
                            .Name("guardian_oomd_seconds_until_kill")
                            .Help("Predicted seconds until systemd-oomd kills in the watched cgroup; +Inf when no "
                                  "kill is on course.")
                            .Register(registry)),
        oom_kills(prometheus::BuildCounter()
                      .Name("guardian_oom_kills_total")
                      .Help("OOM kills seen, by cgroup and killer (systemd-oomd, kernel).")
                      .Register(registry)),
        level(prometheus::BuildGauge()
                  .Name("guardian_level")
                  .Help("guardian's current ladder level: 0 = normal, n = the policy's n-th level.")
                  .Register(registry)),
        level_info(prometheus::BuildGauge()
                       .Name("guardian_level_info")
                       .Help("guardian's current ladder level by name (always 1).")
                       .Register(registry)),
        actions(prometheus::BuildCounter()
                    .Name("guardian_actions_total")
                    .Help("Policy actions by action type and result (applied, reverted, failed).")
                    .Register(registry)),
        transcodes(prometheus::BuildGauge()
                       .Name("guardian_jellyfin_transcodes")
                       .Help("Running Jellyfin transcodes by instance and acceleration (software, vaapi, ...).")
                       .Register(registry)),
        transcode_memory(prometheus::BuildGauge()
                             .Name("guardian_jellyfin_transcode_memory_bytes")
                             .Help("Resident memory of Jellyfin's transcoding ffmpeg processes, by instance and "
                                   "acceleration.")
                             .Register(registry)),
        vaapi(prometheus::BuildGauge()
                  .Name("guardian_vaapi_available")
                  .Help("1 when the VA-API probe found a usable render node and encoder, 0 when not.")
                  .Register(registry)),
        restarts(prometheus::BuildCounter()
                     .Name("guardian_unit_restarts_total")
                     .Help("Automatic restarts of a systemd unit (its NRestarts).")
                     .Register(registry)),
        build_info(prometheus::BuildGauge()
                       .Name("guardian_build_info")
                       .Help("guardian's version (always 1).")
                       .Register(registry)),
        last_tick(prometheus::BuildGauge()
                      .Name("guardian_last_tick_timestamp_seconds")
                      .Help("Wall-clock time of the snapshot these metrics come from, in seconds since the epoch.")
                      .Register(registry)) {}

  Family<Counter>& waiting;
  Family<Counter>& stalled;
  Family<Gauge>& some_ratio;
  Family<Gauge>& full_ratio;
  Family<Gauge>& memory_bytes;
  Family<Gauge>& oomd_limit;
  Family<Gauge>& oomd_duration;
  Family<Gauge>& oomd_over;
  Family<Gauge>& oomd_until_kill;
  Family<Counter>& oom_kills;
  Family<Gauge>& level;
  Family<Gauge>& level_info;
  Family<Counter>& actions;
  Family<Gauge>& transcodes;
  Family<Gauge>& transcode_memory;
  Family<Gauge>& vaapi;
  Family<Counter>& restarts;
  Family<Gauge>& build_info;
  Family<Gauge>& last_tick;
};

// The series of one exported cgroup, kept as pointers so a tick does no label hashing.
struct MetricsExporter::CgroupSeries {
  Counter* waiting = nullptr;
  Counter* stalled = nullptr;
  std::array<Gauge*, 3> some{};
  std::array<Gauge*, 3> full{};
  std::array<Gauge*, kByteKinds.size()> bytes{};
  Counter* kills_kernel = nullptr;
  Counter* kills_oomd = nullptr;
  uint64_t seen_tick = 0;
};

MetricsExporter::MetricsExporter()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      collectable_(std::make_shared<LockedCollectable>(mutex_, registry_)) {
  families_->build_info.Add({{"version", GUARDIAN_VERSION}}).Set(1);
  families_->level.Add({}).Set(0);
}

MetricsExporter::~MetricsExporter() { stop(); }

void MetricsExporter::start(DaemonLoop& loop) {
  loop_ = &loop;
  apply_listen_settings();
}

void MetricsExporter::on_policy(const Policy& policy) {
  {
    std::lock_guard lock(mutex_);
    enabled_ = policy.metrics.enabled;
    wanted_listen_ = policy.metrics.listen;
    // Actions start at 0 so the first one shows in increase() (a series born at 1 does not).
    for (const auto& level : policy.levels) {
      for (const auto& action : level.actions) {
        for (const char* result : kActionResults) {
          families_->actions.Add({{"action", action.type}, {"result", result}});
        }
      }
    }
  }
  if (loop_ != nullptr) apply_listen_settings();
}

Result<void> MetricsExporter::listen(const std::string& address) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return parsed.error();
  close_server();
  try {
    // civetweb: "HOST:PORT"; one thread is plenty for one Prometheus (a second would sit idle).
    auto exposer = std::make_unique<prometheus::Exposer>(parsed->host + ":" + std::to_string(parsed->port), 1);
    exposer->RegisterCollectable(collectable_);
    exposer_ = std::move(exposer);
    serving_listen_ = address;
  } catch (const std::exception& e) {
    return make_error("metrics: cannot listen on " + address + " (" + e.what() +
                      "; is the port in use?) — guardian runs on without /metrics");
  }
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
  if (exposer_ && serving_listen_ == wanted) return;
  auto result = listen(wanted);
  if (!result && loop_ != nullptr) {
    Event event;
    event.type = EventType::ComponentFailed;
    event.priority = 3;
    event.message = result.error().message;
    event.with("COMPONENT", "metrics").with("LISTEN", wanted);
    loop_->tell(event);
  }
}

void MetricsExporter::stop() { close_server(); }

// civetweb's master thread only looks at its stop flag between poll()s of up to 2 s, so a plain
// ~Exposer blocks the loop that long. Connecting to the listening socket wakes the poll at once
// (measured: 2.0 s -> 10 ms); the connections are closed unanswered.
void MetricsExporter::close_server() {
  if (!exposer_) return;
  exposer_->RemoveCollectable(collectable_);
  const auto ports = exposer_->GetListeningPorts();
  const auto address = parse_listen_address(serving_listen_);
  std::atomic<bool> closed{false};
  std::thread waker;
  if (!ports.empty() && address) {
    waker = std::thread([&closed, port = ports.front(), host = address->host] {
      const bool v6 = host.front() == '[';
      sockaddr_storage storage{};
      socklen_t length = 0;
      if (v6) {
        auto* addr = reinterpret_cast<sockaddr_in6*>(&storage);
        addr->sin6_family = AF_INET6;
        addr->sin6_port = htons(static_cast<uint16_t>(port));
        const std::string literal = host.substr(1, host.size() - 2);
        if (::inet_pton(AF_INET6, literal.c_str(), &addr->sin6_addr) != 1) addr->sin6_addr = in6addr_loopback;
        length = sizeof(sockaddr_in6);
      } else {
        auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
        addr->sin_family = AF_INET;
        addr->sin_port = htons(static_cast<uint16_t>(port));
        if (::inet_pton(AF_INET, host.c_str(), &addr->sin_addr) != 1) addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // 0.0.0.0 listens everywhere but is no address to connect to.
        if (addr->sin_addr.s_addr == htonl(INADDR_ANY)) addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof(sockaddr_in);
      }
      while (!closed.load()) {
        UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (fd) (void)::connect(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  exposer_.reset();
  closed = true;
  if (waker.joinable()) waker.join();
  serving_listen_.clear();
}

std::optional<uint16_t> MetricsExporter::listening_port() const {
  if (!exposer_) return std::nullopt;
  const auto ports = exposer_->GetListeningPorts();
  if (ports.empty()) return std::nullopt;
  return static_cast<uint16_t>(ports.front());
}

std::string MetricsExporter::render() const {
  const auto families = collectable_->Collect();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

Counter& MetricsExporter::kill_counter(const std::string& label, const std::string& killer) {
  auto it = cgroups_.find(label);
  if (it != cgroups_.end()) {
    auto& series = *it->second;
    Counter*& counter = killer == kKillerOomd ? series.kills_oomd : series.kills_kernel;
    if (counter == nullptr) counter = &families_->oom_kills.Add({{"cgroup", label}, {"killer", killer}});
    return *counter;
  }
  return families_->oom_kills.Add({{"cgroup", label}, {"killer", killer}});
}

void MetricsExporter::update_cgroup(const CgroupSample& sample, const std::string& label) {
  auto& slot = cgroups_[label];
  if (!slot) {
    slot = std::make_unique<CgroupSeries>();
    // Kill counters start at 0 with the cgroup so the first kill shows in increase().
    slot->kills_kernel = &families_->oom_kills.Add({{"cgroup", label}, {"killer", kKillerKernel}});
    slot->kills_oomd = &families_->oom_kills.Add({{"cgroup", label}, {"killer", kKillerOomd}});
  }
  auto& series = *slot;

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
    const auto follow = [&](Counter*& counter, Family<Counter>& family, uint64_t total_us) {
      if (!follow_total(*counter, static_cast<double>(total_us) / 1e6)) {
        family.Remove(counter);
        counter = &family.Add({{"cgroup", label}});
        counter->Increment(static_cast<double>(total_us) / 1e6);
      }
    };
    follow(series.waiting, families_->waiting, psi.some.total_us);
    follow(series.stalled, families_->stalled, psi.full.total_us);
    const std::array some = {psi.some.avg10, psi.some.avg60, psi.some.avg300};
    const std::array full = {psi.full.avg10, psi.full.avg60, psi.full.avg300};
    for (size_t w = 0; w < kWindows.size(); ++w) {
      series.some[w]->Set(some[w] / 100.0);
      series.full[w]->Set(full[w] / 100.0);
    }
  } else if (series.waiting != nullptr) {
    families_->waiting.Remove(series.waiting);
    families_->stalled.Remove(series.stalled);
    series.waiting = series.stalled = nullptr;
    for (size_t w = 0; w < kWindows.size(); ++w) {
      families_->some_ratio.Remove(series.some[w]);
      families_->full_ratio.Remove(series.full[w]);
      series.some[w] = series.full[w] = nullptr;
    }
  }

  const auto& memory = sample.memory;
  const std::array<std::optional<uint64_t>, kByteKinds.size()> values = {
      memory.current_bytes, memory.high_bytes, memory.max_bytes,
      memory.current_bytes ? std::optional(memory.anon_bytes) : std::nullopt,
      memory.current_bytes ? std::optional(memory.file_bytes) : std::nullopt,
      memory.current_bytes ? std::optional(memory.shmem_bytes) : std::nullopt,
      memory.swap_current_bytes};
  for (size_t k = 0; k < kByteKinds.size(); ++k) {
    Gauge*& gauge = series.bytes[k];
    if (values[k]) {
      if (gauge == nullptr) gauge = &families_->memory_bytes.Add({{"cgroup", label}, {"kind", kByteKinds[k]}});
      gauge->Set(static_cast<double>(*values[k]));
    } else if (gauge != nullptr) {
      families_->memory_bytes.Remove(gauge);
      gauge = nullptr;
    }
  }
}

void MetricsExporter::remove_cgroup(const std::string& label) {
  auto it = cgroups_.find(label);
  if (it == cgroups_.end()) return;
  auto& series = *it->second;
  if (series.waiting != nullptr) {
    families_->waiting.Remove(series.waiting);
    families_->stalled.Remove(series.stalled);
    for (size_t w = 0; w < kWindows.size(); ++w) {
      families_->some_ratio.Remove(series.some[w]);
      families_->full_ratio.Remove(series.full[w]);
    }
  }
  for (auto* gauge : series.bytes) {
    if (gauge != nullptr) families_->memory_bytes.Remove(gauge);
  }
  // A kill counter that counted something stays: the kill is often what made the cgroup vanish,
  // and Prometheus must still see it (kills are rare, so this stays bounded).
  if (series.kills_kernel->Value() == 0) families_->oom_kills.Remove(series.kills_kernel);
  if (series.kills_oomd->Value() == 0) families_->oom_kills.Remove(series.kills_oomd);
  cgroups_.erase(it);
}

void MetricsExporter::update_level(const TickView& tick) {
  const size_t index = tick.ladder != nullptr ? tick.ladder->level : 0;
  families_->level.Add({}).Set(static_cast<double>(index));
  if (tick.level_name != level_) {
    if (!level_.empty()) families_->level_info.Remove(&families_->level_info.Add({{"level", level_}}));
    level_ = tick.level_name.empty() ? std::string("normal") : tick.level_name;
    families_->level_info.Add({{"level", level_}}).Set(1);
  }
}

void MetricsExporter::update_oomd(const TickView& tick) {
  std::set<std::string> labels;
  if (tick.oomd != nullptr) {
    for (const auto& state : *tick.oomd) {
      if (!state.present) continue;
      const auto label = cgroup_label(state.rule.path, user_manager_path_);
      if (!label) continue;
      const prometheus::Labels labelset = {{"cgroup", *label}};
      families_->oomd_limit.Add(labelset).Set(state.rule.limit_percent / 100.0);
      families_->oomd_duration.Add(labelset).Set(
          std::chrono::duration<double>(state.rule.duration).count());
      families_->oomd_over.Add(labelset).Set(state.seconds_over);
      // +Inf rather than absent: the series exists for every watched cgroup, so "min()" and
      // "< 30" work without "or vector()", and a gap means guardian stopped, not "no kill".
      families_->oomd_until_kill.Add(labelset).Set(state.seconds_until_kill
                                                       ? *state.seconds_until_kill
                                                       : std::numeric_limits<double>::infinity());
      labels.insert(*label);
    }
  }
  for (const auto& gone : oomd_labels_) {
    if (labels.contains(gone)) continue;
    const prometheus::Labels labelset = {{"cgroup", gone}};
    for (auto* family : {&families_->oomd_limit, &families_->oomd_duration, &families_->oomd_over,
                         &families_->oomd_until_kill}) {
      if (family->Has(labelset)) family->Remove(&family->Add(labelset));
    }
  }
  oomd_labels_ = std::move(labels);
}

void MetricsExporter::on_tick(const TickView& tick) {
  if (tick.snapshot == nullptr) return;
  const Snapshot& snapshot = *tick.snapshot;
  std::lock_guard lock(mutex_);
  user_manager_path_ = tick.layout != nullptr ? tick.layout->user_manager_path : std::string();

  // Kernel OOM kills: memory.events oom_kill is hierarchical (a kill counts in every ancestor),
  // so each cgroup's own kills are its delta minus its children's deltas.
  std::unordered_map<std::string_view, uint64_t> delta_by_path;
  std::unordered_map<std::string_view, uint64_t> children_delta;
  std::set<std::string> paths;
  for (const auto& sample : snapshot.cgroups) {
    const uint64_t now = sample.memory.events_oom_kill;
    auto [it, inserted] = last_oom_kill_.try_emplace(sample.path, now);
    uint64_t delta = 0;
    if (!inserted) {
      // A smaller count: the cgroup was re-created under the same path; all of `now` is new.
      delta = now >= it->second ? now - it->second : now;
      it->second = now;
    }
    delta_by_path[sample.path] = delta;
    if (sample.path != "/") children_delta[parent_path(sample.path)] += delta;
    paths.insert(sample.path);
  }
  for (auto it = last_oom_kill_.begin(); it != last_oom_kill_.end();) {
    it = paths.contains(it->first) ? std::next(it) : last_oom_kill_.erase(it);
  }

  ++tick_count_;
  std::unordered_map<std::string, uint64_t> kills_by_label;
  for (const auto& sample : snapshot.cgroups) {
    const uint64_t delta = delta_by_path[sample.path];
    const auto child = children_delta.find(sample.path);
    const uint64_t children = child == children_delta.end() ? 0 : child->second;
    const uint64_t local = delta > children ? delta - children : 0;
    auto label = cgroup_label(sample.path, user_manager_path_);
    if (!label) {
      // A transient scope: its kills belong to the nearest exported ancestor.
      if (local > 0) kills_by_label[nearest_label(sample.path)] += local;
      continue;
    }
    update_cgroup(sample, *label);
    cgroups_[*label]->seen_tick = tick_count_;
    if (local > 0) kills_by_label[*label] += local;
  }
  if (snapshot.system_pressure) {
    CgroupSample system;
    system.path = "/";
    system.pressure = snapshot.system_pressure;
    update_cgroup(system, "/");
    cgroups_["/"]->seen_tick = tick_count_;
  }
  for (const auto& [label, kills] : kills_by_label) {
    kill_counter(label, kKillerKernel).Increment(static_cast<double>(kills));
  }
  std::vector<std::string> vanished;
  for (const auto& [label, series] : cgroups_) {
    if (series->seen_tick != tick_count_) vanished.push_back(label);
  }
  for (const auto& label : vanished) remove_cgroup(label);
  sensed_paths_ = std::move(paths);

  update_oomd(tick);
  update_level(tick);
  families_->last_tick.Add({}).Set(std::chrono::duration<double>(snapshot.wall.time_since_epoch()).count());
}

std::string MetricsExporter::nearest_label(std::string_view path) const {
  std::string_view current = path;
  while (current != "/" && !current.empty()) {
    current = parent_path(current);
    if (auto label = cgroup_label(current, user_manager_path_)) return *label;
  }
  return "/";
}

void MetricsExporter::emit(const Event& event) {
  switch (event.type) {
    case EventType::ActionApplied:
    case EventType::ActionReverted:
    case EventType::ActionFailed: {
      std::string action = field(event, "ACTION");
      if (action.empty()) return;
      std::string result = field(event, "RESULT");
      if (result.empty()) {
        result = event.type == EventType::ActionApplied    ? "applied"
                 : event.type == EventType::ActionReverted ? "reverted"
                                                           : "failed";
      }
      std::lock_guard lock(mutex_);
      families_->actions.Add({{"action", action}, {"result", result}}).Increment();
      return;
    }
    case EventType::OomKill: {
      std::string killer = field(event, "KILLER");
      const std::string cgroup = field(event, "CGROUP");
      if (killer != kKillerOomd && killer != kKillerKernel) return;  // keeps the label bounded
      std::lock_guard lock(mutex_);
      // An absolute path, or one already relative to the user manager.
      std::string path = cgroup;
      if (!path.empty() && path.front() != '/' && !user_manager_path_.empty()) path = user_manager_path_ + "/" + path;
      if (path.empty()) path = "/";
      // Kernel kills in cgroups guardian reads are counted from memory.events already.
      if (killer == kKillerKernel && sensed_paths_.contains(path)) return;
      const auto label = cgroup_label(path, user_manager_path_);
      kill_counter(label ? *label : nearest_label(path), killer).Increment();
      return;
    }
    default:
      return;
  }
}

void MetricsExporter::set_jellyfin_view(const std::vector<JellyfinTranscodeTotals>& rows) {
  std::lock_guard lock(mutex_);
  std::set<std::pair<std::string, std::string>> published;
  std::set<std::string> instances;
  for (const auto& row : rows) {
    const prometheus::Labels labels = {{"instance", row.instance}, {"hwaccel", row.hwaccel}};
    families_->transcodes.Add(labels).Set(row.transcodes);
    families_->transcode_memory.Add(labels).Set(static_cast<double>(row.memory_bytes));
    published.emplace(row.instance, row.hwaccel);
    instances.insert(row.instance);
  }
  // Every instance always shows software and vaapi, so "no transcodes" reads 0, not "no data".
  for (const auto& instance : instances) {
    for (const char* hwaccel : {"software", "vaapi"}) {
      if (published.contains({instance, hwaccel})) continue;
      const prometheus::Labels labels = {{"instance", instance}, {"hwaccel", hwaccel}};
      families_->transcodes.Add(labels).Set(0);
      families_->transcode_memory.Add(labels).Set(0);
      published.emplace(instance, hwaccel);
    }
  }
  for (const auto& [instance, hwaccel] : jellyfin_rows_) {
    if (published.contains({instance, hwaccel})) continue;
    const prometheus::Labels labels = {{"instance", instance}, {"hwaccel", hwaccel}};
    families_->transcodes.Remove(&families_->transcodes.Add(labels));
    families_->transcode_memory.Remove(&families_->transcode_memory.Add(labels));
  }
  jellyfin_rows_ = std::move(published);
}

void MetricsExporter::set_vaapi_available(std::optional<bool> available) {
  std::lock_guard lock(mutex_);
  if (available) {
    families_->vaapi.Add({}).Set(*available ? 1 : 0);
  } else if (families_->vaapi.Has({})) {
    families_->vaapi.Remove(&families_->vaapi.Add({}));
  }
}

void MetricsExporter::set_unit_restarts(const std::string& unit, uint64_t n_restarts) {
  std::lock_guard lock(mutex_);
  auto* counter = &families_->restarts.Add({{"unit", unit}});
  if (!follow_total(*counter, static_cast<double>(n_restarts))) {
    families_->restarts.Remove(counter);
    families_->restarts.Add({{"unit", unit}}).Increment(static_cast<double>(n_restarts));
  }
}

}  // namespace guardian
