#include "tell/metrics_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/fd.h"

namespace guardian {
namespace {

constexpr const char* kManager = "/user.slice/user-1000.slice/user@1000.service";

// A PSI line as the kernel prints it, e.g. from a Fedora 42 desktop's
// user@1000.service/app.slice/memory.pressure during a build:
//   some avg10=12.34 avg60=5.67 avg300=1.20 total=12345678
//   full avg10=8.05 avg60=3.10 avg300=0.75 total=7654321
Psi psi(double some10, double some60, double some300, uint64_t some_total, double full10, double full60,
        double full300, uint64_t full_total) {
  Psi p;
  p.some = {some10, some60, some300, some_total};
  p.full = {full10, full60, full300, full_total};
  return p;
}

CgroupSample cgroup(const std::string& relative, uint64_t current) {
  CgroupSample sample;
  sample.path = std::string(kManager) + "/" + relative;
  sample.unit = relative.substr(relative.rfind('/') + 1);
  sample.memory.current_bytes = current;
  sample.pressure = psi(0, 0, 0, 0, 0, 0, 0, 0);
  return sample;
}

// The incident machine at 17:45 (seed 002): a 30 GB Fedora 42 desktop, containers in the
// user manager's inner user.slice (rootless podman), Jellyfin at 1.1 GB with MemoryHigh=3G and
// MemoryMax=4G. memory.stat/memory.events values are the shape a real cgroup shows.
Snapshot incident_snapshot() {
  Snapshot snapshot;
  snapshot.wall = WallTime(std::chrono::seconds(1763833500));  // 2025-11-22T17:45:00Z
  snapshot.system_pressure = psi(3.10, 1.50, 0.40, 987654321, 1.20, 0.60, 0.10, 123456789);

  auto app = cgroup("app.slice", 13'200'000'000);
  app.memory.anon_bytes = 9'800'000'000;
  app.memory.file_bytes = 3'100'000'000;
  app.memory.shmem_bytes = 250'000'000;
  app.memory.swap_current_bytes = 524'288'000;
  app.pressure = psi(12.34, 5.67, 1.20, 12345678, 8.05, 3.10, 0.75, 7654321);
  app.has_children = true;

  auto firefox = cgroup("app.slice/app-gnome-firefox-4242.scope", 2'100'000'000);  // transient, PID in name
  auto user = cgroup("user.slice", 3'300'000'000);
  user.has_children = true;
  auto jellyfin = cgroup("user.slice/libpod-3f2a9c1e.scope", 1'100'000'000);
  jellyfin.memory.high_bytes = 3ULL << 30;
  jellyfin.memory.max_bytes = 4ULL << 30;
  jellyfin.memory.events_oom_kill = 2;  // two kernel kills before guardian started: not counted
  snapshot.cgroups = {app, firefox, user, jellyfin};
  return snapshot;
}

HostLayout fedora_layout() {
  HostLayout layout;
  layout.cgroup2_mount = "/sys/fs/cgroup";
  layout.memory_controller = true;
  layout.uid = 1000;
  layout.user_manager_path = kManager;
  return layout;
}

TickView tick_of(const Snapshot& snapshot, const HostLayout& layout, const std::vector<OomdCgroupState>* oomd,
                 const LadderState* ladder, const std::string& level) {
  TickView view;
  view.snapshot = &snapshot;
  view.layout = &layout;
  view.oomd = oomd;
  view.ladder = ladder;
  view.level_name = level;
  return view;
}

// The tick most cases need: Fedora's layout, level normal, no oomd model or ladder. The exporter
// keeps nothing of the view but copies.
void tick_normal(MetricsExporter& exporter, const Snapshot& snapshot) {
  const HostLayout layout = fedora_layout();
  exporter.on_tick(tick_of(snapshot, layout, nullptr, nullptr, "normal"));
}

// Whether `text` has the sample `line` ("name{labels} value"). Values compare as numbers: the
// serializer writes 0.87/100 as 0.008699999999999999, which reads back as the same double.
bool has_line(const std::string& text, const std::string& line) {
  const auto space = line.rfind(' ');
  const std::string key = "\n" + line.substr(0, space + 1);
  const double want = std::strtod(line.c_str() + space + 1, nullptr);
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const auto value_at = at + key.size();
    const std::string value = text.substr(value_at, text.find('\n', value_at) - value_at);
    const double got = std::strtod(value.c_str(), nullptr);
    if (value == line.substr(space + 1) || got == want || std::fabs(got - want) <= 1e-12 * std::fabs(want))
      return true;
  }
  return false;
}
bool mentions(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// An action's outcome as the daemon tells it (daemon.cpp): ACTION, and RESULT where it has one.
Event action_event(EventType type, const std::string& action, const std::string& result = "") {
  Event event;
  event.type = type;
  event.with("ACTION", action);
  if (!result.empty()) event.with("RESULT", result);
  return event;
}

Event oom_kill_event(const std::string& cgroup, const std::string& killer) {
  Event event;
  event.type = EventType::OomKill;
  event.with("CGROUP", cgroup).with("KILLER", killer);
  return event;
}

// One level, "elevated", whose only action is log.
Policy elevated_log_policy() {
  Policy policy;
  Level elevated;
  elevated.name = "elevated";
  elevated.actions.push_back(ActionSpec{"log", {}, {}});
  policy.levels.push_back(elevated);
  return policy;
}

// Fedora: every user slice is watched at 80% for 20 s (10-oomd-per-slice-defaults.conf).
OomdCgroupState watched_app_slice() {
  OomdCgroupState app;
  app.rule =
      WatchedCgroup{std::string(kManager) + "/app.slice", "app.slice", 80.0, std::chrono::seconds(20), "x"};
  app.present = true;
  return app;
}

TEST(ParseListenAddress, AcceptsHostPort) {
  auto v4 = parse_listen_address("127.0.0.1:9464");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(parse_listen_address("localhost:9100").ok());
}

TEST(ParseListenAddress, RejectsWithTheReason) {
  for (const char* bad :
       {"", "9464", ":9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:94a4", "256.0.0.1:9464",
        "127.0.0:9464", "127.0.0.1.5:9464", "[::g]:9464", "[]:9464", "example.com:9464", "127.0.0.1:-1"}) {
    auto parsed = parse_listen_address(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_TRUE(mentions(parsed.error().message, "[metrics] listen")) << parsed.error().message;
    }
  }
  EXPECT_TRUE(mentions(parse_listen_address("127.0.0.1:70000").error().message, "0 to 65535"));
}

TEST(CgroupLabel, RelativeToTheUserManagerAndBounded) {
  EXPECT_EQ(cgroup_label("/", kManager), "/");
  EXPECT_EQ(cgroup_label(std::string(kManager) + "/app.slice", kManager), "app.slice");
  EXPECT_EQ(cgroup_label(std::string(kManager) + "/user.slice/libpod-3f2a.scope", kManager),
            "user.slice/libpod-3f2a.scope");
  EXPECT_EQ(cgroup_label(kManager, kManager), kManager);  // the manager itself: absolute
  EXPECT_EQ(cgroup_label("/system.slice", kManager), "/system.slice");
  EXPECT_EQ(cgroup_label("/user.slice/user-1000.slice/user@1000.service2/x", kManager),
            "/user.slice/user-1000.slice/user@1000.service2/x");
  // Transient units named after a PID, a session or a run id are not exported.
  for (const char* transient : {"app.slice/app-gnome-firefox-4242.scope", "session.slice/session-2.scope",
                                "app.slice/run-u17.service", "app.slice/run-p4242-i4243.scope",
                                "app.slice/app-gnome-firefox-4242.scope/child"}) {
    EXPECT_FALSE(cgroup_label(std::string(kManager) + "/" + transient, kManager)) << transient;
  }
  EXPECT_EQ(cgroup_label(std::string(kManager) + "/app.slice/app-flatpak-org.gnome.Builder.scope", kManager),
            "app.slice/app-flatpak-org.gnome.Builder.scope");
}

TEST(MetricsExporter, RendersPressureMemoryAndBuildInfoFromTheTick) {
  MetricsExporter exporter;
  const auto snapshot = incident_snapshot();
  const auto layout = fedora_layout();
  LadderState ladder;
  exporter.on_tick(tick_of(snapshot, layout, nullptr, &ladder, "normal"));
  const std::string text = exporter.render();

  // PSI total µs -> seconds; avg percentages -> 0..1 ratios.
  EXPECT_TRUE(
      has_line(text, "guardian_pressure_memory_waiting_seconds_total{cgroup=\"app.slice\"} 12.345678"))
      << text;
  EXPECT_TRUE(
      has_line(text, "guardian_pressure_memory_stalled_seconds_total{cgroup=\"app.slice\"} 7.654321"));
  EXPECT_TRUE(
      has_line(text, "guardian_pressure_memory_some_ratio{cgroup=\"app.slice\",window=\"10s\"} 0.1234"));
  EXPECT_TRUE(
      has_line(text, "guardian_pressure_memory_full_ratio{cgroup=\"app.slice\",window=\"300s\"} 0.0075"));
  EXPECT_TRUE(has_line(text, "guardian_pressure_memory_full_ratio{cgroup=\"/\",window=\"10s\"} 0.012"));
  EXPECT_TRUE(has_line(text, "guardian_pressure_memory_waiting_seconds_total{cgroup=\"/\"} 987.654321"));
  // Bytes by kind; high/max absent where the kernel says "max".
  EXPECT_TRUE(
      has_line(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"current\"} 13200000000"));
  EXPECT_TRUE(has_line(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"swap\"} 524288000"));
  EXPECT_TRUE(has_line(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"shmem\"} 250000000"));
  EXPECT_FALSE(mentions(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"high\"}"));
  EXPECT_TRUE(has_line(
      text,
      "guardian_cgroup_memory_bytes{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",kind=\"high\"} 3221225472"));
  EXPECT_TRUE(has_line(
      text,
      "guardian_cgroup_memory_bytes{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",kind=\"max\"} 4294967296"));
  // The transient Firefox scope is not a label (PID in its name); its memory is in app.slice.
  EXPECT_FALSE(mentions(text, "firefox"));
  // Kill counters exist from the start at 0; kills before guardian started are not counted.
  EXPECT_TRUE(has_line(
      text, "guardian_oom_kills_total{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",killer=\"kernel\"} 0"));
  EXPECT_TRUE(has_line(
      text,
      "guardian_oom_kills_total{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",killer=\"systemd-oomd\"} 0"));
  EXPECT_TRUE(has_line(text, "guardian_build_info{version=\"" GUARDIAN_VERSION "\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_level 0"));
  EXPECT_TRUE(has_line(text, "guardian_level_info{level=\"normal\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_last_tick_timestamp_seconds 1763833500"));
  EXPECT_TRUE(mentions(text, "# TYPE guardian_pressure_memory_waiting_seconds_total counter"));
  EXPECT_TRUE(mentions(text, "# TYPE guardian_cgroup_memory_bytes gauge"));
}

TEST(MetricsExporter, ContainersAreNamedOnceAtTheirOutermostCgroup) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  // Quadlet (podman >= 4.4, --cgroups=split): jellyfin.service holds the container's payload.
  auto quadlet = cgroup("app.slice/jellyfin.service", 1'200'000'000);
  auto payload = cgroup("app.slice/jellyfin.service/libpod-payload-3f2a9c1e5b7d", 1'100'000'000);
  auto runtime = cgroup("app.slice/jellyfin.service/runtime", 20'000'000);
  // After the incident's Option 4: units in container.slice, one a quadlet with its payload.
  auto slice = cgroup("container.slice", 2'000'000'000);
  auto immich = cgroup("container.slice/immich-server.service", 517'000'000);
  auto immich_payload = cgroup("container.slice/immich-server.service/libpod-payload-77aa", 500'000'000);
  auto pause = cgroup("user.slice/podman-pause-2b6a1c0e.scope", 1'000'000);
  auto conmon = cgroup("user.slice/libpod-conmon-3f2a9c1e.scope", 2'000'000);
  snapshot.cgroups.insert(snapshot.cgroups.begin() + 2, {quadlet, payload, runtime});
  snapshot.cgroups.insert(snapshot.cgroups.end(), {slice, immich, immich_payload, pause, conmon});
  tick_normal(exporter, snapshot);
  std::string text = exporter.render();
  EXPECT_TRUE(has_line(
      text, "guardian_container_info{cgroup=\"app.slice/jellyfin.service\",container=\"jellyfin\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "guardian_container_info{cgroup=\"container.slice/"
                       "immich-server.service\",container=\"immich-server\"} 1"));
  EXPECT_TRUE(has_line(text,
                       "guardian_container_info{cgroup=\"user.slice/"
                       "libpod-3f2a9c1e.scope\",container=\"libpod-3f2a9c1e\"} 1"));
  EXPECT_FALSE(mentions(text, "container_info{cgroup=\"app.slice/jellyfin.service/libpod-payload"));
  EXPECT_FALSE(mentions(text, "container_info{cgroup=\"container.slice/immich-server.service/"));
  EXPECT_FALSE(mentions(text, "container=\"podman-pause"));
  EXPECT_FALSE(mentions(text, "libpod-conmon-3f2a9c1e\"} 1"));
  EXPECT_FALSE(mentions(text, "container_info{cgroup=\"container.slice\""));

  // Jellyfin stops: its container series goes with it.
  snapshot.cgroups.erase(snapshot.cgroups.begin() + 2, snapshot.cgroups.begin() + 5);
  tick_normal(exporter, snapshot);
  EXPECT_FALSE(mentions(exporter.render(), "container=\"jellyfin\""));
}

TEST(MetricsExporter, CountersFollowTheKernelTotalAndStartOverWhenItDrops) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);
  snapshot.cgroups[0].pressure->some.total_us = 15'000'000;
  tick_normal(exporter, snapshot);
  EXPECT_TRUE(
      has_line(exporter.render(), "guardian_pressure_memory_waiting_seconds_total{cgroup=\"app.slice\"} 15"));
  // app.slice re-created under the same path: the kernel's total starts from 0 again.
  snapshot.cgroups[0].pressure->some.total_us = 2'000'000;
  tick_normal(exporter, snapshot);
  EXPECT_TRUE(
      has_line(exporter.render(), "guardian_pressure_memory_waiting_seconds_total{cgroup=\"app.slice\"} 2"));
}

TEST(MetricsExporter, VanishedCgroupsLoseTheirSeriesAndLimitsComeAndGo) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);
  ASSERT_TRUE(mentions(exporter.render(), "libpod-3f2a9c1e.scope"));

  // The container stops: its cgroup is gone from the next snapshot.
  snapshot.cgroups.pop_back();
  // And app.slice gets a MemoryHigh.
  snapshot.cgroups[0].memory.high_bytes = 12ULL << 30;
  tick_normal(exporter, snapshot);
  std::string text = exporter.render();
  EXPECT_FALSE(mentions(text, "libpod-3f2a9c1e.scope")) << text;
  EXPECT_TRUE(has_line(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"high\"} 12884901888"));

  // MemoryHigh back to "max"; memory.pressure unreadable.
  snapshot.cgroups[0].memory.high_bytes.reset();
  snapshot.cgroups[0].pressure.reset();
  tick_normal(exporter, snapshot);
  text = exporter.render();
  EXPECT_FALSE(mentions(text, "cgroup=\"app.slice\",kind=\"high\""));
  EXPECT_FALSE(mentions(text, "guardian_pressure_memory_some_ratio{cgroup=\"app.slice\""));
  EXPECT_TRUE(mentions(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"current\"}"));
}

TEST(MetricsExporter, KernelKillsCountWhereTheyHappenedNotInEveryAncestor) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);
  // memory.events oom_kill is hierarchical: one kill in the Jellyfin container shows in
  // user.slice too; one in the transient Firefox scope shows in app.slice.
  snapshot.cgroups[3].memory.events_oom_kill += 1;
  snapshot.cgroups[2].memory.events_oom_kill += 1;
  snapshot.cgroups[1].memory.events_oom_kill += 1;
  snapshot.cgroups[0].memory.events_oom_kill += 1;
  tick_normal(exporter, snapshot);
  const std::string text = exporter.render();
  EXPECT_TRUE(has_line(
      text, "guardian_oom_kills_total{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",killer=\"kernel\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_oom_kills_total{cgroup=\"user.slice\",killer=\"kernel\"} 0"));
  EXPECT_TRUE(has_line(text, "guardian_oom_kills_total{cgroup=\"app.slice\",killer=\"kernel\"} 1")) << text;
}

TEST(MetricsExporter, OomKillEventsCountByKillerAndSurviveTheirCgroup) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);

  exporter.emit(oom_kill_event(std::string(kManager) + "/user.slice/libpod-3f2a9c1e.scope", "systemd-oomd"));
  // A transient scope: counted on its slice.
  exporter.emit(
      oom_kill_event(std::string(kManager) + "/app.slice/app-gnome-firefox-4242.scope", "systemd-oomd"));
  // A kernel kill in a cgroup guardian reads: memory.events counts it already.
  exporter.emit(oom_kill_event(std::string(kManager) + "/app.slice", "kernel"));
  // Outside what guardian reads: counted from the event.
  exporter.emit(oom_kill_event("/system.slice/packagekit.service", "kernel"));
  // An unknown killer would make the label unbounded.
  exporter.emit(oom_kill_event("/system.slice/x.service", "earlyoom-1234"));

  // The killed container's cgroup is gone on the next tick; its kill count stays.
  snapshot.cgroups.pop_back();
  tick_normal(exporter, snapshot);
  const std::string text = exporter.render();
  EXPECT_TRUE(has_line(
      text,
      "guardian_oom_kills_total{cgroup=\"user.slice/libpod-3f2a9c1e.scope\",killer=\"systemd-oomd\"} 1"))
      << text;
  EXPECT_FALSE(mentions(text, "cgroup=\"user.slice/libpod-3f2a9c1e.scope\",killer=\"kernel\""));
  EXPECT_TRUE(has_line(text, "guardian_oom_kills_total{cgroup=\"app.slice\",killer=\"systemd-oomd\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_oom_kills_total{cgroup=\"app.slice\",killer=\"kernel\"} 0"));
  EXPECT_TRUE(has_line(
      text, "guardian_oom_kills_total{cgroup=\"/system.slice/packagekit.service\",killer=\"kernel\"} 1"));
  EXPECT_FALSE(mentions(text, "earlyoom"));
}

TEST(MetricsExporter, OomdStateLevelAndActions) {
  MetricsExporter exporter;
  exporter.on_policy(elevated_log_policy());

  const auto snapshot = incident_snapshot();
  const auto layout = fedora_layout();
  OomdCgroupState app = watched_app_slice();
  app.full_avg10 = 84.0;
  app.over_limit = true;
  app.seconds_over = 6.0;
  app.seconds_until_kill = 14.0;
  OomdCgroupState user = app;
  user.rule.path = std::string(kManager) + "/user.slice";
  user.over_limit = false;
  user.seconds_over = 0;
  user.seconds_until_kill.reset();
  std::vector<OomdCgroupState> oomd = {app, user};
  LadderState ladder;
  ladder.level = 1;
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "elevated"));

  exporter.emit(action_event(EventType::ActionApplied, "log"));
  exporter.emit(action_event(EventType::ActionFailed, "log", "failed"));
  // A dry run's apply and revert, an unknown result.
  exporter.emit(action_event(EventType::ActionApplied, "log", "dry-run"));
  exporter.emit(action_event(EventType::ActionReverted, "log", "dry-run"));
  exporter.emit(action_event(EventType::ActionApplied, "log", "exploded-42"));

  std::string text = exporter.render();
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"dry-run-applied\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"dry-run-reverted\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"other\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"timed-out\"} 0"));
  EXPECT_FALSE(mentions(text, "exploded"));
  EXPECT_TRUE(has_line(text, "guardian_oomd_limit_ratio{cgroup=\"app.slice\"} 0.8"));
  EXPECT_TRUE(has_line(text, "guardian_oomd_duration_seconds{cgroup=\"app.slice\"} 20"));
  EXPECT_TRUE(has_line(text, "guardian_oomd_over_limit_seconds{cgroup=\"app.slice\"} 6"));
  EXPECT_TRUE(has_line(text, "guardian_oomd_seconds_until_kill{cgroup=\"app.slice\"} 14"));
  EXPECT_TRUE(has_line(text, "guardian_oomd_seconds_until_kill{cgroup=\"user.slice\"} +Inf")) << text;
  EXPECT_TRUE(has_line(text, "guardian_level 1"));
  EXPECT_TRUE(has_line(text, "guardian_level_info{level=\"elevated\"} 1"));
  EXPECT_FALSE(mentions(text, "level=\"normal\""));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"applied\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"failed\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_actions_total{action=\"log\",result=\"reverted\"} 0"));

  // user.slice no longer watched (a daemon-reload dropped it, systemd #43174): its series go.
  oomd.pop_back();
  ladder.level = 0;
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "normal"));
  text = exporter.render();
  EXPECT_FALSE(mentions(text, "guardian_oomd_seconds_until_kill{cgroup=\"user.slice\"}"));
  EXPECT_FALSE(mentions(text, "guardian_oomd_limit_ratio{cgroup=\"user.slice\"}"));
  EXPECT_TRUE(has_line(text, "guardian_level_info{level=\"normal\"} 1"));
  EXPECT_FALSE(mentions(text, "level=\"elevated\""));
}

TEST(MetricsExporter, JellyfinVaapiAndRestarts) {
  MetricsExporter exporter;
  exporter.set_jellyfin_view({{"living-room", "software", 2, 2'900'000'000}});
  std::string text = exporter.render();
  EXPECT_TRUE(has_line(text, "guardian_jellyfin_transcodes{hwaccel=\"software\",jellyfin=\"living-room\"} 2"))
      << text;
  EXPECT_TRUE(has_line(
      text,
      "guardian_jellyfin_transcode_memory_bytes{hwaccel=\"software\",jellyfin=\"living-room\"} 2900000000"));
  EXPECT_TRUE(has_line(text, "guardian_jellyfin_transcodes{hwaccel=\"vaapi\",jellyfin=\"living-room\"} 0"));
  exporter.set_jellyfin_view({});  // the instance left the policy
  EXPECT_FALSE(mentions(exporter.render(), "living-room"));

  EXPECT_FALSE(mentions(exporter.render(), "guardian_vaapi_available "));
  exporter.set_vaapi_available(false);
  EXPECT_TRUE(has_line(exporter.render(), "guardian_vaapi_available 0"));
  exporter.set_vaapi_available(true);
  EXPECT_TRUE(has_line(exporter.render(), "guardian_vaapi_available 1"));

  exporter.set_unit_restarts("jellyfin.service", 3);
  exporter.set_unit_restarts("jellyfin.service", 4);
  EXPECT_TRUE(has_line(exporter.render(), "guardian_unit_restarts_total{unit=\"jellyfin.service\"} 4"));
  exporter.set_unit_restarts("jellyfin.service", 1);  // user manager restarted: NRestarts from 0
  EXPECT_TRUE(has_line(exporter.render(), "guardian_unit_restarts_total{unit=\"jellyfin.service\"} 1"));
}

TEST(MetricsExporter, PromtoolCheckMetricsIsClean) {
  // Every family at once, linted by Prometheus's own promtool (Debian package prometheus).
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed";
  MetricsExporter exporter;
  exporter.on_policy(elevated_log_policy());
  auto snapshot = incident_snapshot();
  snapshot.cgroups.push_back(cgroup("app.slice/jellyfin.service", 1'200'000'000));
  snapshot.cgroups.push_back(cgroup("app.slice/jellyfin.service/libpod-payload-3f2a", 1'100'000'000));
  const auto layout = fedora_layout();
  std::vector<OomdCgroupState> oomd = {watched_app_slice()};
  LadderState ladder;
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "normal"));
  exporter.set_jellyfin_view({{"living-room", "vaapi", 1, 900'000'000}});
  exporter.set_vaapi_available(true);
  exporter.set_unit_restarts("jellyfin.service", 3);
  exporter.emit(oom_kill_event("/system.slice/packagekit.service", "kernel"));
  // A container whose name is not UTF-8 (issue 16: promtool rejected the whole scrape with
  // `invalid label value "container.slice/bad\xff\xfe.service"`).
  snapshot.cgroups.push_back(cgroup("container.slice", 1'000'000));
  snapshot.cgroups.push_back(cgroup("container.slice/bad\xff\xfe.service", 1'000'000));
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "normal"));
  const std::string text = exporter.render();
  EXPECT_TRUE(mentions(text, "cgroup=\"container.slice/bad\xEF\xBF\xBD\xEF\xBF\xBD.service\"")) << text;
  for (const char* family :
       {"guardian_container_info", "guardian_oomd_seconds_until_kill", "guardian_actions_total",
        "guardian_tick_lateness_seconds", "guardian_jellyfin_transcode_memory_bytes",
        "guardian_vaapi_available", "guardian_unit_restarts_total", "guardian_level_info"}) {
    EXPECT_TRUE(mentions(text, std::string("# TYPE ") + family)) << family;
  }

  char path[] = "/tmp/guardian-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  FILE* lint = ::popen((std::string("promtool check metrics < ") + path + " 2>&1").c_str(), "r");
  ASSERT_NE(lint, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, lint) != nullptr) output += buffer;
  const int status = ::pclose(lint);
  ::unlink(path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool check metrics complains";
}

TEST(Utf8LabelValue, KeepsValidTextAndReplacesEachBadByte) {
  EXPECT_EQ(utf8_label_value("app.slice/jellyfin.service"), "app.slice/jellyfin.service");
  EXPECT_EQ(utf8_label_value("caf\xC3\xA9.service"), "caf\xC3\xA9.service");        // é
  EXPECT_EQ(utf8_label_value("\xF0\x9F\x90\xA7.scope"), "\xF0\x9F\x90\xA7.scope");  // U+1F427
  EXPECT_EQ(utf8_label_value("bad\xff\xfe.service"), "bad\xEF\xBF\xBD\xEF\xBF\xBD.service");
  EXPECT_EQ(utf8_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(utf8_label_value("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(utf8_label_value("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // > U+10FFFF
  EXPECT_EQ(utf8_label_value("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");                // cut short
  EXPECT_EQ(cgroup_label(std::string(kManager) + "/app.slice/\xff.service", kManager),
            "app.slice/\xEF\xBF\xBD.service");
}

TEST(MetricsExporter, OnlyCgroupsADashboardOrRuleReadsAreExported) {
  MetricsExporter exporter;
  auto snapshot = incident_snapshot();
  snapshot.cgroups.push_back(cgroup("session.slice", 500'000'000));
  snapshot.cgroups.push_back(cgroup("session.slice/pipewire.service", 20'000'000));
  snapshot.cgroups.push_back(cgroup("session.slice/org.gnome.Shell@wayland.service", 400'000'000));
  snapshot.cgroups.push_back(cgroup("app.slice/jellyfin.service", 1'200'000'000));
  const auto layout = fedora_layout();
  // oomd watches gnome-shell's unit itself (a ManagedOOMMemoryPressure= drop-in on it).
  OomdCgroupState shell = watched_app_slice();
  shell.rule.path = std::string(kManager) + "/session.slice/org.gnome.Shell@wayland.service";
  std::vector<OomdCgroupState> oomd = {shell};
  LadderState ladder;
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "normal"));
  std::string text = exporter.render();
  EXPECT_TRUE(mentions(text, "guardian_cgroup_memory_bytes{cgroup=\"session.slice\",kind=\"current\"}"));
  EXPECT_TRUE(
      mentions(text, "guardian_cgroup_memory_bytes{cgroup=\"app.slice/jellyfin.service\",kind=\"current\"}"));
  EXPECT_TRUE(mentions(text,
                       "guardian_cgroup_memory_bytes{cgroup=\"session.slice/"
                       "org.gnome.Shell@wayland.service\",kind=\"current\"}"));
  EXPECT_FALSE(mentions(text, "pipewire")) << text;

  // A kernel OOM kill in the leaf that is not exported counts on its slice.
  snapshot.cgroups[snapshot.cgroups.size() - 3].memory.events_oom_kill = 1;
  snapshot.cgroups[snapshot.cgroups.size() - 4].memory.events_oom_kill = 1;
  // oomd stops watching gnome-shell: its series go, pipewire's never came.
  oomd.clear();
  exporter.on_tick(tick_of(snapshot, layout, &oomd, &ladder, "normal"));
  text = exporter.render();
  EXPECT_TRUE(has_line(text, "guardian_oom_kills_total{cgroup=\"session.slice\",killer=\"kernel\"} 1"))
      << text;
  EXPECT_FALSE(mentions(text, "org.gnome.Shell"));
  EXPECT_FALSE(mentions(text, "pipewire"));
}

TEST(MetricsExporter, UserBudgetAndTickLateness) {
  MetricsExporter exporter;
  const auto snapshot = incident_snapshot();
  const auto layout = fedora_layout();
  LadderState ladder;
  TickView view = tick_of(snapshot, layout, nullptr, &ladder, "normal");
  // The Debian 12 VM's user at 1.6 GiB of a 2 GiB MemoryMax, growing 12 MiB/s (model/user_budget.h).
  UserBudget budget;
  budget.known = true;
  budget.used_bytes = 1'717'986'918;
  budget.limit_bytes = 2'147'483'648;
  budget.room_bytes = 429'496'730;
  budget.seconds_to_exhaustion = 34.0;
  view.user_budget = &budget;
  TickLateness lateness;
  const auto start = std::chrono::steady_clock::now();
  lateness.arm(start, std::chrono::seconds(1));
  lateness.on_expiry(start + std::chrono::milliseconds(1003), 1);  // 3 ms late
  lateness.on_expiry(start + std::chrono::milliseconds(2700), 1);  // 700 ms late
  view.lateness = &lateness;
  exporter.on_tick(view);
  std::string text = exporter.render();
  EXPECT_TRUE(has_line(text, "guardian_user_budget_used_bytes 1717986918")) << text;
  EXPECT_TRUE(has_line(text, "guardian_user_budget_limit_bytes 2147483648"));
  EXPECT_TRUE(has_line(text, "guardian_user_budget_room_bytes 429496730"));
  EXPECT_TRUE(has_line(text, "guardian_user_budget_seconds_until_exhausted 34"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_bucket{le=\"0.005\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_bucket{le=\"0.5\"} 1"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_bucket{le=\"1\"} 2"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_count 2"));

  // Not growing: +Inf. Then the model no longer knows: the series go.
  budget.seconds_to_exhaustion = std::numeric_limits<double>::infinity();
  lateness.on_expiry(start + std::chrono::milliseconds(3001), 1);
  exporter.on_tick(view);
  text = exporter.render();
  EXPECT_TRUE(has_line(text, "guardian_user_budget_seconds_until_exhausted +Inf"));
  EXPECT_TRUE(has_line(text, "guardian_tick_lateness_seconds_count 3"));
  budget.known = false;
  exporter.on_tick(view);
  EXPECT_FALSE(mentions(exporter.render(), "guardian_user_budget_used_bytes "));
}

// --- over real sockets -------------------------------------------------------------------

class RecordingLoop : public DaemonLoop {
 public:
  void request_reload() override {}
  void request_rescan() override {}
  void request_tick() override {}
  void tell(const Event& event) override { events.push_back(event); }
  void note_oomd_kill(MonoTime) override {}
  [[nodiscard]] std::string explain() const override { return {}; }
  std::vector<Event> events;
};

// A plain HTTP/1.0 GET, as Prometheus's scraper sends it (minus the Accept header).
std::string http_get(uint16_t port, const std::string& target) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "connect failed";
  const std::string request = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), 0) != static_cast<ssize_t>(request.size()))
    return "send failed";
  std::string response;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  return response;
}

Policy policy_listening_on(const std::string& listen) {
  Policy policy;
  policy.metrics.listen = listen;
  return policy;
}

TEST(MetricsExporterServer, ServesMetricsOnTheConfiguredAddress) {
  MetricsExporter exporter;
  RecordingLoop loop;
  exporter.on_policy(policy_listening_on("127.0.0.1:0"));
  exporter.start(loop);
  ASSERT_TRUE(exporter.listening_port()) << (loop.events.empty() ? "" : loop.events[0].message);
  const auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);

  const uint16_t port = *exporter.listening_port();
  const std::string response = http_get(port, "/metrics");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 200);
  EXPECT_TRUE(mentions(response, "text/plain")) << response.substr(0, 300);
  EXPECT_TRUE(
      mentions(response, "guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"current\"} 13200000000"));
  EXPECT_TRUE(loop.events.empty());

  Policy off;
  off.metrics.enabled = false;
  const auto before = std::chrono::steady_clock::now();
  exporter.on_policy(off);
  // Closing must not stall the loop.
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(500));
  EXPECT_FALSE(exporter.listening_port());
  EXPECT_EQ(http_get(port, "/metrics"), "connect failed");
}

TEST(MetricsExporterServer, ListensOnlyOnceAPolicyIsInForce) {
  // The loop starts components first, then applies the policy (daemon.cpp).
  MetricsExporter exporter;
  RecordingLoop loop;
  exporter.start(loop);
  EXPECT_FALSE(exporter.listening_port()) << "must not take the default port before the policy says";
  exporter.on_policy(policy_listening_on("127.0.0.1:0"));
  ASSERT_TRUE(exporter.listening_port());
  EXPECT_TRUE(mentions(http_get(*exporter.listening_port(), "/metrics"), "guardian_build_info"));
  EXPECT_TRUE(loop.events.empty());
}

TEST(MetricsExporterServer, PortInUseIsAnErrorEventAndGuardianRunsOn) {
  // Hold a port the way another exporter would.
  UniqueFd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder.get(), 1), 0);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const std::string listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  MetricsExporter exporter;
  RecordingLoop loop;
  exporter.on_policy(policy_listening_on(listen));
  exporter.start(loop);
  EXPECT_FALSE(exporter.listening_port());
  ASSERT_EQ(loop.events.size(), 1u);
  EXPECT_EQ(loop.events[0].type, EventType::ComponentFailed);
  EXPECT_EQ(loop.events[0].priority, 3);
  EXPECT_TRUE(mentions(loop.events[0].message, listen)) << loop.events[0].message;
  EXPECT_TRUE(mentions(loop.events[0].message, "port in use"));
  // Still renders (and still takes ticks) without a server.
  const auto snapshot = incident_snapshot();
  tick_normal(exporter, snapshot);
  EXPECT_TRUE(mentions(exporter.render(), "guardian_build_info"));

  // Every address: a warning first (the test holds 127.0.0.1's port, so the wildcard bind fails
  // and nothing listens beyond loopback).
  exporter.on_policy(policy_listening_on("0.0.0.0:" + std::to_string(ntohs(addr.sin_port))));
  ASSERT_EQ(loop.events.size(), 3u);
  EXPECT_EQ(loop.events[1].type, EventType::ComponentWarning);
  EXPECT_EQ(loop.events[1].priority, Priority::Warning);
  EXPECT_TRUE(mentions(loop.events[1].message, "every address")) << loop.events[1].message;
  EXPECT_EQ(loop.events[2].type, EventType::ComponentFailed);
  loop.events.resize(1);

  // A bad address in a reloaded policy is reported too.
  exporter.on_policy(policy_listening_on("0.0.0.0.0:1"));
  ASSERT_EQ(loop.events.size(), 2u);
  EXPECT_TRUE(mentions(loop.events[1].message, "is not an IPv4 address"));
}

}  // namespace
}  // namespace guardian
