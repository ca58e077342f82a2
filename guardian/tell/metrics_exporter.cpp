#include "tell/metrics_exporter.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <unordered_map>

#include "common/fd.h"
#include "decide/ladder.h"

#ifndef GUARDIAN_VERSION
#define GUARDIAN_VERSION "unknown"
#endif

namespace guardian {
namespace {

using Kind = TextFamily::Kind;

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

// The container a cgroup is, if it is one, by its short name: a rootless podman container
// ("libpod-<id>.scope" -> "libpod-<first 12 of id>"), a quadlet service (a unit holding a
// "libpod-payload-<id>" cgroup -> the unit without ".service"), or any unit directly in
// container.slice (-> the unit without its suffix).
std::optional<std::string> container_name(std::string_view unit, bool in_container_slice,
                                          bool holds_payload) {
  const auto stem = [](std::string_view name) { return std::string(name.substr(0, name.rfind('.'))); };
  if (in_container_slice || holds_payload) return stem(unit);
  if (unit.starts_with("libpod-") && unit.ends_with(".scope") && !unit.starts_with("libpod-conmon-")) {
    return "libpod-" + std::string(unit.substr(7, std::min<size_t>(12, unit.size() - 7 - 6)));
  }
  return std::nullopt;
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
    return std::string(relative);
  }
  return std::string(path);
}

struct MetricsExporter::Families {
  TextFamily waiting{"guardian_pressure_memory_waiting_seconds_total",
                     "Total time tasks in the cgroup waited for memory (PSI \"some\" total), in seconds.",
                     Kind::Counter};
  TextFamily stalled{
      "guardian_pressure_memory_stalled_seconds_total",
      "Total time all non-idle tasks in the cgroup stalled on memory at once (PSI \"full\" total), in "
      "seconds.",
      Kind::Counter};
  TextFamily some_ratio{"guardian_pressure_memory_some_ratio",
                        "Share of time some tasks waited for memory, kernel average over the window (0-1).",
                        Kind::Gauge};
  TextFamily full_ratio{"guardian_pressure_memory_full_ratio",
                        "Share of time all tasks stalled on memory, kernel average over the window (0-1); "
                        "systemd-oomd compares the 10s window with its limit.",
                        Kind::Gauge};
  TextFamily memory_bytes{
      "guardian_cgroup_memory_bytes",
      "cgroup v2 memory by kind: current, high and max (absent when \"max\"), anon, file, shmem "
      "(memory.stat), swap (memory.swap.current).",
      Kind::Gauge};
  TextFamily oomd_limit{
      "guardian_oomd_limit_ratio",
      "systemd-oomd's memory pressure limit for the watched cgroup (0-1), compared with the full "
      "10s ratio.",
      Kind::Gauge};
  TextFamily oomd_duration{
      "guardian_oomd_duration_seconds",
      "How long systemd-oomd lets the watched cgroup stay over its limit before it kills.", Kind::Gauge};
  TextFamily oomd_over{
      "guardian_oomd_over_limit_seconds",
      "How long the watched cgroup has been over systemd-oomd's limit without a break (0 when at or "
      "below it).",
      Kind::Gauge};
  TextFamily oomd_until_kill{
      "guardian_oomd_seconds_until_kill",
      "Predicted seconds until systemd-oomd kills in the watched cgroup; +Inf when no kill is "
      "on course.",
      Kind::Gauge};
  TextFamily oom_kills{"guardian_oom_kills_total",
                       "OOM kills seen, by cgroup and killer (systemd-oomd, kernel).", Kind::Counter};
  TextFamily level{"guardian_level",
                   "guardian's current ladder level: 0 = normal, n = the policy's n-th level.", Kind::Gauge};
  TextFamily level_info{"guardian_level_info", "guardian's current ladder level by name (always 1).",
                        Kind::Gauge};
  TextFamily actions{"guardian_actions_total",
                     "Policy actions by action type and result (applied, reverted, unchanged, failed, "
                     "timed-out, dry-run-applied, dry-run-reverted, other).",
                     Kind::Counter};
  TextFamily transcodes{
      "guardian_jellyfin_transcodes",
      "Running Jellyfin transcodes by Jellyfin instance and acceleration (software, vaapi, ...).",
      Kind::Gauge};
  TextFamily transcode_memory{"guardian_jellyfin_transcode_memory_bytes",
                              "Memory (PSS) of Jellyfin's transcoding ffmpeg processes, by instance and "
                              "acceleration.",
                              Kind::Gauge};
  TextFamily vaapi{"guardian_vaapi_available",
                   "1 when the VA-API probe found a usable render node and encoder, 0 when not.",
                   Kind::Gauge};
  TextFamily restarts{"guardian_unit_restarts_total", "Automatic restarts of a systemd unit (its NRestarts).",
                      Kind::Counter};
  TextFamily build_info{"guardian_build_info", "guardian's version (always 1).", Kind::Gauge};
  TextFamily last_tick{"guardian_last_tick_timestamp_seconds",
                       "Wall-clock time of the snapshot these metrics come from, in seconds since the epoch.",
                       Kind::Gauge};

  TextFamily container_info{
      "guardian_container_info",
      "1 for each container cgroup (a podman libpod scope, a quadlet service holding a "
      "libpod-payload cgroup, or a unit directly in container.slice), with its short name.",
      Kind::Gauge};

  [[nodiscard]] std::array<const TextFamily*, 20> all() const {
    return {&waiting,          &stalled,    &some_ratio,    &full_ratio, &memory_bytes,
            &container_info,   &oomd_limit, &oomd_duration, &oomd_over,  &oomd_until_kill,
            &oom_kills,        &level,      &level_info,    &actions,    &transcodes,
            &transcode_memory, &vaapi,      &restarts,      &build_info, &last_tick};
  }
};

// The series of one exported cgroup, kept as references into the families so a tick renders no
// label blocks for cgroups it has seen before.
struct MetricsExporter::CgroupSeries {
  double* waiting = nullptr;
  double* stalled = nullptr;
  std::array<double*, kWindows.size()> some{};
  std::array<double*, kWindows.size()> full{};
  std::array<double*, kByteKinds.size()> bytes{};
  double* kills_kernel = nullptr;
  double* kills_oomd = nullptr;
  uint64_t seen_tick = 0;
};

MetricsExporter::MetricsExporter() : families_(std::make_unique<Families>()) {
  families_->build_info.at({{"version", GUARDIAN_VERSION}}) = 1;
  families_->level.at({}) = 0;
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
    for (const char* result : kActionResults) families_->actions.at({{"action", type}, {"result", result}});
    if (dry_run_) {
      for (const char* result : kDryRunResults) families_->actions.at({{"action", type}, {"result", result}});
    }
  }
}

int MetricsExporter::handle_metrics(mg_connection* connection, void* self) {
  const auto* exporter = static_cast<const MetricsExporter*>(self);
  const std::string body = exporter->render();
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            body.size());
  mg_write(connection, body.data(), body.size());
  return 200;
}

Result<void> MetricsExporter::listen(const std::string& address) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return parsed.error();
  close_server();
  const std::string ports = parsed->host + ":" + std::to_string(parsed->port);
  // One worker is plenty for one Prometheus; no document root: /metrics is all it serves.
  const char* options[] = {"listening_ports",    ports.c_str(), "num_threads", "1",
                           "request_timeout_ms", "10000",       nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };  // errors come back below
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = options;
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof error_text;
  mg_context* server = mg_start2(&init, &error);
  if (server == nullptr) {
    return make_error("metrics: cannot listen on " + address + " (" +
                      (error_text[0] != '\0' ? std::string(error_text) : std::string("unknown error")) +
                      "; is the port in use?); guardian runs on without /metrics");
  }
  mg_set_request_handler(server, "/metrics$", &MetricsExporter::handle_metrics, this);
  server_ = server;
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
// mg_stop blocks the loop that long. Connecting to the listening socket wakes the poll at once
// (measured: 2.0 s -> 10 ms); the connections are closed unanswered.
void MetricsExporter::close_server() {
  if (server_ == nullptr) return;
  const auto port = listening_port();
  const auto address = parse_listen_address(serving_listen_);
  std::atomic<bool> closed{false};
  std::thread waker;
  if (port && address) {
    waker = std::thread([&closed, port = *port, host = address->host] {
      const bool v6 = host.front() == '[';
      sockaddr_storage storage{};
      socklen_t length = 0;
      if (v6) {
        auto* addr = reinterpret_cast<sockaddr_in6*>(&storage);
        addr->sin6_family = AF_INET6;
        addr->sin6_port = htons(port);
        const std::string literal = host.substr(1, host.size() - 2);
        if (::inet_pton(AF_INET6, literal.c_str(), &addr->sin6_addr) != 1) addr->sin6_addr = in6addr_loopback;
        length = sizeof(sockaddr_in6);
      } else {
        auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
        addr->sin_family = AF_INET;
        addr->sin_port = htons(port);
        if (::inet_pton(AF_INET, host.c_str(), &addr->sin_addr) != 1)
          addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
  mg_stop(server_);
  server_ = nullptr;
  closed = true;
  if (waker.joinable()) waker.join();
  serving_listen_.clear();
}

std::optional<uint16_t> MetricsExporter::listening_port() const {
  if (server_ == nullptr) return std::nullopt;
  mg_server_port ports[4]{};
  const int count = mg_get_server_ports(server_, 4, ports);
  if (count <= 0) return std::nullopt;
  return static_cast<uint16_t>(ports[0].port);
}

std::string MetricsExporter::render() const {
  std::lock_guard lock(mutex_);
  return render_locked();
}

std::string MetricsExporter::render_locked() const {
  std::string out;
  out.reserve(last_render_size_ + last_render_size_ / 8);
  for (const auto* family : families_->all()) family->render(out);
  // A cache of the size only; mutable state under the same lock.
  const_cast<MetricsExporter*>(this)->last_render_size_ = out.size();
  return out;
}

double& MetricsExporter::kill_counter(const std::string& label, const char* killer) {
  auto it = cgroups_.find(label);
  if (it != cgroups_.end()) {
    double* counter =
        std::string_view(killer) == kKillerOomd ? it->second->kills_oomd : it->second->kills_kernel;
    if (counter != nullptr) return *counter;
  }
  return families_->oom_kills.at({{"cgroup", label}, {"killer", killer}});
}

void MetricsExporter::update_cgroup(const CgroupSample& sample, const std::string& label) {
  auto& slot = cgroups_[label];
  if (!slot) {
    slot = std::make_unique<CgroupSeries>();
    // Kill counters start at 0 with the cgroup so the first kill shows in increase().
    slot->kills_kernel = &families_->oom_kills.at({{"cgroup", label}, {"killer", kKillerKernel}});
    slot->kills_oomd = &families_->oom_kills.at({{"cgroup", label}, {"killer", kKillerOomd}});
  }
  auto& series = *slot;

  if (sample.pressure) {
    const auto& psi = *sample.pressure;
    if (series.waiting == nullptr) {
      series.waiting = &families_->waiting.at({{"cgroup", label}});
      series.stalled = &families_->stalled.at({{"cgroup", label}});
      for (size_t w = 0; w < kWindows.size(); ++w) {
        series.some[w] = &families_->some_ratio.at({{"cgroup", label}, {"window", kWindows[w]}});
        series.full[w] = &families_->full_ratio.at({{"cgroup", label}, {"window", kWindows[w]}});
      }
    }
    // The kernel's µs totals, as seconds. A total that drops (cgroup re-created under the same
    // path) is passed on as it is: Prometheus treats a drop as a counter reset.
    *series.waiting = static_cast<double>(psi.some.total_us) / 1e6;
    *series.stalled = static_cast<double>(psi.full.total_us) / 1e6;
    const std::array some = {psi.some.avg10, psi.some.avg60, psi.some.avg300};
    const std::array full = {psi.full.avg10, psi.full.avg60, psi.full.avg300};
    for (size_t w = 0; w < kWindows.size(); ++w) {
      *series.some[w] = some[w] / 100.0;
      *series.full[w] = full[w] / 100.0;
    }
  } else if (series.waiting != nullptr) {
    families_->waiting.remove({{"cgroup", label}});
    families_->stalled.remove({{"cgroup", label}});
    series.waiting = series.stalled = nullptr;
    for (size_t w = 0; w < kWindows.size(); ++w) {
      families_->some_ratio.remove({{"cgroup", label}, {"window", kWindows[w]}});
      families_->full_ratio.remove({{"cgroup", label}, {"window", kWindows[w]}});
      series.some[w] = series.full[w] = nullptr;
    }
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
    double*& gauge = series.bytes[k];
    if (values[k]) {
      if (gauge == nullptr) gauge = &families_->memory_bytes.at({{"cgroup", label}, {"kind", kByteKinds[k]}});
      *gauge = static_cast<double>(*values[k]);
    } else if (gauge != nullptr) {
      families_->memory_bytes.remove({{"cgroup", label}, {"kind", kByteKinds[k]}});
      gauge = nullptr;
    }
  }
}

void MetricsExporter::remove_cgroup(const std::string& label) {
  auto it = cgroups_.find(label);
  if (it == cgroups_.end()) return;
  auto& series = *it->second;
  families_->waiting.remove({{"cgroup", label}});
  families_->stalled.remove({{"cgroup", label}});
  for (const char* window : kWindows) {
    families_->some_ratio.remove({{"cgroup", label}, {"window", window}});
    families_->full_ratio.remove({{"cgroup", label}, {"window", window}});
  }
  for (const char* kind : kByteKinds) families_->memory_bytes.remove({{"cgroup", label}, {"kind", kind}});
  // A kill counter that counted something stays: the kill is often what made the cgroup vanish,
  // and Prometheus must still see it (kills are rare, so this stays bounded).
  if (*series.kills_kernel == 0) families_->oom_kills.remove({{"cgroup", label}, {"killer", kKillerKernel}});
  if (*series.kills_oomd == 0) families_->oom_kills.remove({{"cgroup", label}, {"killer", kKillerOomd}});
  cgroups_.erase(it);
}

void MetricsExporter::update_level(const TickView& tick) {
  const size_t index = tick.ladder != nullptr ? tick.ladder->level : 0;
  families_->level.at({}) = static_cast<double>(index);
  const std::string name = tick.level_name.empty() ? std::string("normal") : tick.level_name;
  if (name != level_) {
    if (!level_.empty()) families_->level_info.remove({{"level", level_}});
    level_ = name;
    families_->level_info.at({{"level", level_}}) = 1;
  }
}

void MetricsExporter::update_oomd(const TickView& tick) {
  std::set<std::string> labels;
  if (tick.oomd != nullptr) {
    for (const auto& state : *tick.oomd) {
      if (!state.present) continue;
      const auto label = cgroup_label(state.rule.path, user_manager_path_);
      if (!label) continue;
      const LabelPairs labelset = {{"cgroup", *label}};
      families_->oomd_limit.at(labelset) = state.rule.limit_percent / 100.0;
      families_->oomd_duration.at(labelset) = std::chrono::duration<double>(state.rule.duration).count();
      families_->oomd_over.at(labelset) = state.seconds_over;
      // +Inf rather than absent: the series exists for every watched cgroup, so "min()" and
      // "< 30" work without "or vector()", and a gap means guardian stopped, not "no kill".
      families_->oomd_until_kill.at(labelset) =
          state.seconds_until_kill ? *state.seconds_until_kill : std::numeric_limits<double>::infinity();
      labels.insert(*label);
    }
  }
  for (const auto& gone : oomd_labels_) {
    if (labels.contains(gone)) continue;
    const LabelPairs labelset = {{"cgroup", gone}};
    for (auto* family : {&families_->oomd_limit, &families_->oomd_duration, &families_->oomd_over,
                         &families_->oomd_until_kill}) {
      family->remove(labelset);
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
  update_containers(snapshot);
  if (snapshot.system_pressure) {
    CgroupSample system;
    system.path = "/";
    system.pressure = snapshot.system_pressure;
    update_cgroup(system, "/");
    cgroups_["/"]->seen_tick = tick_count_;
  }
  for (const auto& [label, kills] : kills_by_label)
    kill_counter(label, kKillerKernel) += static_cast<double>(kills);
  std::vector<std::string> vanished;
  for (const auto& [label, series] : cgroups_) {
    if (series->seen_tick != tick_count_) vanished.push_back(label);
  }
  for (const auto& label : vanished) remove_cgroup(label);
  sensed_paths_ = std::move(paths);

  if (tick.dry_run && !dry_run_) {
    dry_run_ = true;
    seed_action_series();
  }
  update_oomd(tick);
  update_level(tick);
  families_->last_tick.at({}) = std::chrono::duration<double>(snapshot.wall.time_since_epoch()).count();
}

// Containers are the outermost cgroups that are one (a quadlet service, not also its payload).
void MetricsExporter::update_containers(const Snapshot& snapshot) {
  std::set<std::string_view> payload_parents;
  for (const auto& sample : snapshot.cgroups) {
    if (last_component(sample.path).starts_with("libpod-payload-"))
      payload_parents.insert(parent_path(sample.path));
  }
  const std::string container_slice = user_manager_path_ + "/container.slice";
  std::map<std::string, std::string> containers;  // label -> name
  std::string_view inside;                        // path of the container we are in (pre-order)
  for (const auto& sample : snapshot.cgroups) {
    const std::string_view path = sample.path;
    if (!inside.empty() && path.size() > inside.size() && path.starts_with(inside) &&
        path[inside.size()] == '/') {
      continue;
    }
    inside = {};
    const bool in_container_slice = !user_manager_path_.empty() && parent_path(path) == container_slice;
    const auto name =
        container_name(last_component(path), in_container_slice, payload_parents.contains(path));
    if (!name) continue;
    const auto label = cgroup_label(path, user_manager_path_);
    if (!label) continue;
    containers.emplace(*label, *name);
    inside = path;
  }
  for (auto it = containers_.begin(); it != containers_.end(); ++it) {
    const auto now = containers.find(it->first);
    if (now == containers.end() || now->second != it->second) {
      families_->container_info.remove({{"cgroup", it->first}, {"container", it->second}});
    }
  }
  for (const auto& [label, name] : containers)
    families_->container_info.at({{"cgroup", label}, {"container", name}}) = 1;
  containers_ = std::move(containers);
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
      const std::string action = field(event, "ACTION");
      if (action.empty()) return;
      const std::string result = action_result(event, field(event, "RESULT"));
      std::lock_guard lock(mutex_);
      families_->actions.at({{"action", action}, {"result", result}}) += 1;
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
      if (killer == kKillerKernel && sensed_paths_.contains(path)) return;
      const auto label = cgroup_label(path, user_manager_path_);
      kill_counter(label ? *label : nearest_label(path),
                   killer == kKillerOomd ? kKillerOomd : kKillerKernel) += 1;
      return;
    }
    default: return;
  }
}

void MetricsExporter::set_jellyfin_view(const std::vector<JellyfinTranscodeTotals>& rows) {
  std::lock_guard lock(mutex_);
  std::set<std::pair<std::string, std::string>> published;
  std::set<std::string> instances;
  for (const auto& row : rows) {
    const LabelPairs labels = {{"hwaccel", row.hwaccel}, {"jellyfin", row.instance}};
    families_->transcodes.at(labels) = row.transcodes;
    families_->transcode_memory.at(labels) = static_cast<double>(row.memory_bytes);
    published.emplace(row.instance, row.hwaccel);
    instances.insert(row.instance);
  }
  // Every instance always shows software and vaapi, so "no transcodes" reads 0, not "no data".
  for (const auto& instance : instances) {
    for (const char* hwaccel : {"software", "vaapi"}) {
      if (published.contains({instance, hwaccel})) continue;
      const LabelPairs labels = {{"hwaccel", hwaccel}, {"jellyfin", instance}};
      families_->transcodes.at(labels) = 0;
      families_->transcode_memory.at(labels) = 0;
      published.emplace(instance, hwaccel);
    }
  }
  for (const auto& [instance, hwaccel] : jellyfin_rows_) {
    if (published.contains({instance, hwaccel})) continue;
    families_->transcodes.remove({{"hwaccel", hwaccel}, {"jellyfin", instance}});
    families_->transcode_memory.remove({{"hwaccel", hwaccel}, {"jellyfin", instance}});
  }
  jellyfin_rows_ = std::move(published);
}

void MetricsExporter::set_vaapi_available(std::optional<bool> available) {
  std::lock_guard lock(mutex_);
  if (available) {
    families_->vaapi.at({}) = *available ? 1 : 0;
  } else {
    families_->vaapi.remove({});
  }
}

void MetricsExporter::set_unit_restarts(const std::string& unit, uint64_t n_restarts) {
  std::lock_guard lock(mutex_);
  // systemd's own counter: a drop (manager restart) reads as a counter reset in Prometheus.
  families_->restarts.at({{"unit", unit}}) = static_cast<double>(n_restarts);
}

}  // namespace guardian
