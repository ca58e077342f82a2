// A steady-state tick charges no memory (issue 10): the real daemon loop (run_daemon, as
// `guardian run` calls it) over a fixture host, with malloc and the libc entry points that open
// a file replaced by counting ones in this binary. After a warm-up, many ticks of an unchanged
// host — sense -> model -> decide -> tell, the timer read, the components' on_tick, the
// systemd notification — must make no heap allocation and open nothing, on the loop thread.
//
// Why it matters: when the user's whole memory budget is exhausted, the kernel makes a task wait
// in reclaim and in memory.high's penalty only when it charges memory — a new heap page, a
// struct file per open(). A tick that charges nothing cannot be held there.
//
// This is its own binary (not in guardian_tests): replacing malloc is process-wide.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "daemon/daemon.h"
#include "sense/fixture_support.h"
#include "support/counting_malloc.h"
#include "support/dbus_daemon.h"
#include "support/fake_helper.h"
#include "support/sampled_fixture.h"
#include "support/systemd_double.h"
#include "support/systemd_fixtures.h"
#include "tell/dbus_client.h"

namespace guardian {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The embedded default policy as shipped, ticking every 100 ms (the fastest it allows) so the
// test is short, and without the /metrics listener (a test must not take a port).
std::string default_policy_for_test() {
  std::string policy = read_text(std::string(GUARDIAN_SOURCE_DIR) + "/policies/default.toml");
  auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = policy.find(from);
    if (at == std::string::npos) {
      ADD_FAILURE() << "policies/default.toml has no " << from;
      return;
    }
    policy.replace(at, from.size(), to);
  };
  replace("interval = \"1s\"", "interval = \"100ms\"");
  replace("listen = \"127.0.0.1:9464\"", "enabled = false");
  return policy;
}

struct Counts {
  uint64_t allocations = 0;
  uint64_t opens = 0;
  uint64_t path_lookups = 0;  // stat(), access() and the like
  uint64_t sends = 0;         // sendmsg(), sendto() and the like: each an skb charged to guardian
  uint64_t measured_ticks = 0;
  uint64_t watchdog_pings = 0;     // WATCHDOG=1 datagrams the test's notify socket received
  uint64_t oomd_dumps = 0;         // DumpByFileDescriptor calls answered in the measured ticks
  uint64_t pings_while_stuck = 0;  // WATCHDOG=1 datagrams received while the loop was held (Stuck)
};

// The loop held in its after-tick hook (the test's stand-in for a loop stuck in reclaim): after
// tick `at`, for `for_how_long`.
struct Stuck {
  uint64_t at = 0;
  std::chrono::milliseconds for_how_long{0};
};

// systemd-oomd on a live system bus, for the tests that read its dump.
struct LiveOomd {
  std::string system_bus_address;
  const test::OomdDouble* oomd = nullptr;
  std::chrono::seconds dump_interval{1};
};

// The test's own systemd notify socket: a datagram socket on an abstract name, as systemd hands
// a service in $NOTIFY_SOCKET (a path works the same; the daemon keeps either connected).
class NotifyListener {
 public:
  NotifyListener() {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    name_ = "@guardian-steady-tick-" + std::to_string(::getpid());
    sockaddr_un where{};
    where.sun_family = AF_UNIX;
    std::memcpy(where.sun_path + 1, name_.data() + 1, name_.size() - 1);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&where), length) != 0) ADD_FAILURE() << "bind";
  }
  ~NotifyListener() { ::close(fd_); }
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  // Reads every datagram waiting; counts the WATCHDOG=1 ones.
  uint64_t drain_watchdog_pings() {
    uint64_t pings = 0;
    char buffer[512];
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0) break;
      if (std::string_view(buffer, static_cast<size_t>(n)).find("WATCHDOG=1") != std::string_view::npos)
        ++pings;
    }
    return pings;
  }

 private:
  int fd_ = -1;
  std::string name_;
};

// `metrics_exporter`: whether the exporter component runs (its /metrics listener stays off
// either way: a test takes no port).
// `helper_socket`: guardian-helper's socket when one runs, "" = none (its directory without it).
// `ticks_done`: where the number of the last tick is published, for a thread that plays a part
// in step with the loop.
// `session_bus`: a live session bus for guardian's D-Bus API, "" = none (the API stays inert).
// `host_root`: a copy of the fixture the test changes while the loop runs, "" = the fixture.
// `after_tick`: called after each tick on the loop thread, for a test that changes the host.
Counts count_steady_ticks(const std::string& fixture, uint64_t warmup, uint64_t measured,
                          bool metrics_exporter = false, const LiveOomd* live_oomd = nullptr,
                          const std::string& helper_socket = "", std::atomic<uint64_t>* ticks_done = nullptr,
                          Stuck stuck = {}, const std::string& session_bus = "",
                          const std::string& host_root = "",
                          const std::function<void(uint64_t)>& after_tick = {}) {
  const fs::path dir = fs::temp_directory_path() / ("guardian-steady-tick-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string policy_path = (dir / "policy.toml").string();
  std::ofstream(policy_path) << default_policy_for_test();
  // No bus to talk to unless the test gives one: the D-Bus API and the systemd component say so
  // once and stay inert.
  ::setenv("DBUS_SESSION_BUS_ADDRESS",
           session_bus.empty() ? "unix:path=/nonexistent/guardian-test-bus" : session_bus.c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS",
           live_oomd ? live_oomd->system_bus_address.c_str() : "unix:path=/nonexistent/guardian-test-bus", 1);
  // systemd's watchdog, as a unit with WatchdogSec= starts guardian (400 ms here, so the pinger
  // thread looks every 100 ms, as often as the test's loop ticks): pinged from the pinger's own
  // thread (daemon/watchdog_pinger.h) on a socket connected at start, never a new one.
  NotifyListener listener;
  ::setenv("NOTIFY_SOCKET", listener.name().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);

  DaemonOptions options;
  options.host_root = host_root.empty() ? std::string(GUARDIAN_FIXTURES_DIR) + "/" + fixture : host_root;
  options.policy_path = policy_path;
  options.uid = 1000;
  options.dry_run = true;
  options.state_path = ":memory:";
  options.status_lines = false;
  options.log_target = DaemonOptions::LogTarget::Stderr;
  options.metrics_exporter = metrics_exporter;
  options.lock_memory = MemoryLockMode::None;  // measured separately (README "Benchmarks")
  options.max_ticks = warmup + measured;
  // guardian-helper not running: its directory is there, its socket is not.
  options.helper_socket = helper_socket.empty() ? (dir / "helper.sock").string() : helper_socket;
  if (live_oomd) options.oomd_dump_interval = live_oomd->dump_interval;
  Counts counts;
  uint64_t start_allocations = 0, start_opens = 0, start_lookups = 0, start_dumps = 0, start_sends = 0;
  auto dumps_served = [&] { return live_oomd ? live_oomd->oomd->dumps_served() : 0; };
  options.after_tick = [&](uint64_t tick) {
    if (ticks_done) ticks_done->store(tick);
    if (after_tick) {
      // The test's own work (rewriting a file of the host) is not the loop's: not counted.
      const bool counting = tick > warmup && tick <= warmup + measured;
      if (counting) test::count_calls_on_this_thread(false);
      after_tick(tick);
      if (counting) test::count_calls_on_this_thread(true);
    }
    // Read as systemd does, as they come: a datagram socket queues only ~10 (max_dgram_qlen).
    const uint64_t pings = listener.drain_watchdog_pings();
    if (tick > warmup) counts.watchdog_pings += pings;
    if (stuck.at != 0 && tick == stuck.at) {
      // Held before this tick's beat: the pinger may still send the one ping the previous tick
      // earned, then none until the loop moves again.
      std::this_thread::sleep_for(stuck.for_how_long);
      counts.pings_while_stuck = listener.drain_watchdog_pings();
    }
    if (tick == warmup) {
      start_allocations = test::counted_allocations();
      start_opens = test::counted_opens();
      start_lookups = test::counted_path_lookups();
      start_dumps = dumps_served();
      start_sends = test::counted_sends();
      test::count_calls_on_this_thread(true);
    } else if (tick == warmup + measured) {
      test::count_calls_on_this_thread(false);
      counts.allocations = test::counted_allocations() - start_allocations;
      counts.opens = test::counted_opens() - start_opens;
      counts.path_lookups = test::counted_path_lookups() - start_lookups;
      counts.measured_ticks = measured;
      counts.oomd_dumps = dumps_served() - start_dumps;
      counts.sends = test::counted_sends() - start_sends;
    }
  };
  EXPECT_EQ(run_daemon(options), 0);
  test::count_calls_on_this_thread(false);
  // The ping of tick N goes out right after after_tick(N): the measured ticks' pings are those
  // of ticks warmup .. warmup + measured.
  counts.watchdog_pings += listener.drain_watchdog_pings();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  fs::remove_all(dir);
  return counts;
}

// Fedora 42 with rootless podman (the incident's machine, 30 cgroups): oomd's user.slice at 86%
// of its limit, so the default ladder climbs on the first tick and stays; the measured ticks
// change no level. The whole loop opens nothing.
TEST(SteadyTick, TheLoopOpensNothingOverFiftyTicksOfTheIncidentHost) {
  const Counts counts = count_steady_ticks("fedora42-podman", 10, 50);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.opens, 0u) << "files opened on the loop thread in 50 steady ticks "
                                 "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
}

// Debian 12 (systemd 252, a calm desktop): the ladder stays at normal.
TEST(SteadyTick, TheLoopOpensNothingOverFiftyTicksOfACalmHost) {
  const Counts counts = count_steady_ticks("debian12", 10, 50);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.opens, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
}

// The whole loop — sense, model, decide, the D-Bus API's and the systemd and Jellyfin
// components' on_tick, the timer, the watchdog ping — allocates nothing on the loop thread once
// warm: kept buffers are refilled in place, and strings are built only for what is told (a level
// change, an event). GUARDIAN_STEADY_TICK_TRACE=1 prints a backtrace per allocation.
TEST(SteadyTick, TheLoopAllocatesNothingOverFiftyTicksOfTheIncidentHost) {
  const Counts counts = count_steady_ticks("fedora42-podman", 10, 50);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
}

TEST(SteadyTick, TheLoopAllocatesNothingOverFiftyTicksOfACalmHost) {
  const Counts counts = count_steady_ticks("debian12", 10, 50);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
}

// Without guardian-helper (its socket missing from its directory) the loop looks up no path:
// the directory's inotify watch says when the socket comes. A stat() of the missing path once a
// second cost a negative dentry each time under reclaim (tests/vm/FINDINGS-issue10.md).
TEST(SteadyTick, TheLoopLooksUpNoPathWhileNoHelperRuns) {
  const Counts counts = count_steady_ticks("debian12", 10, 50);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.path_lookups, 0u) << "stat()s and the like on the loop thread in 5 s of ticks "
                                        "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
}

// guardian-helper running, serving guardian's pressure watches and relaying what it sees, as it
// does while the user's processes are under pressure (a fake one on threads of its own, speaking
// the real wire format; it grants every watch-pressure, as a helper that can open the pressure
// files would). Every half second, all through the measured ticks: each watch fires, an ffmpeg
// and an ffprobe start in the Jellyfin container, the ffprobe exits, systemd-oomd's SIGKILL
// reaches one more of the container's processes and the kernel OOM killer takes one more in
// Firefox's scope. The loop reads them (the helper's socket is empty again after each round),
// decodes each into the messages its client keeps, wakes a tick per firing, hands each exec to
// the Jellyfin watcher and each kill to the systemd component's merger — and allocates and opens
// nothing. The first kill of each cgroup, in the warm-up, is new and told (an event's text is
// made only for what is told); the measured ones are further sightings of those kills within
// the merger's window, as oomd's kill of a many-process cgroup arrives: one SIGKILL per process.
TEST(SteadyTick, TheLoopAllocatesNothingWhileGuardianHelperWatchesPressure) {
  test::FakeHelper helper;
  helper.listen();
  std::mutex sending;  // the two threads below share the connection
  auto send = [&](const helper_wire::ServerMessage& message) {
    std::lock_guard lock(sending);
    helper.send(message);
  };
  std::atomic<bool> greeted{false};
  std::mutex watches_mutex;
  std::vector<std::pair<uint32_t, std::string>> watches;  // granted: id, cgroup
  std::thread serve([&] {
    if (!helper.accept(std::chrono::seconds(30))) {
      ADD_FAILURE() << "guardian did not connect to the helper";
      return;
    }
    send(test::FakeHelper::hello_for_user_1000());
    greeted = true;
    uint32_t next_watch = 1;
    // Until guardian closes the connection (or asks nothing more for 5 s).
    for (std::string line = helper.read_line(); !line.empty(); line = helper.read_line()) {
      auto request = helper_wire::decode_client_request(line);
      if (!request.ok()) {
        ADD_FAILURE() << request.error().message;
        return;
      }
      const auto* watch = std::get_if<helper_wire::WatchPressure>(&*request);
      if (watch == nullptr) continue;
      helper_wire::Reply reply;
      reply.request = watch->request;
      reply.ok = true;
      reply.watch = next_watch++;
      {
        std::lock_guard lock(watches_mutex);
        watches.emplace_back(*reply.watch, watch->cgroup);
      }
      send(reply);
    }
  });

  constexpr uint64_t kWarmup = 20, kMeasured = 50;
  const std::string user = "/user.slice/user-1000.slice/user@1000.service";
  const std::string container =
      user + "/user.slice/libpod-1809f7cd0c75acf34f56d8c19782b99c6b5fcd14128a3cc79aca38a4f94af3ff.scope";
  const std::string firefox = user + "/app.slice/app-gnome-firefox-2871.scope";
  std::atomic<uint64_t> ticks{0};
  std::atomic<bool> stop{false};
  int measured_rounds = 0, rounds_read = 0, firings = 0;
  std::thread relay([&] {
    auto now_ns = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch())
                                       .count());
    };
    // A round every 5 ticks from tick 3 (warm-up rounds at 3, 8, 13, 18); none after the last
    // measured tick's round can be read.
    uint32_t round = 0;
    for (uint64_t at = 3; at + 5 <= kWarmup + kMeasured && !stop; at += 5, ++round) {
      while (ticks.load() < at && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (stop || !greeted) break;
      std::vector<std::pair<uint32_t, std::string>> fire;
      {
        std::lock_guard lock(watches_mutex);
        fire = watches;
      }
      for (const auto& [id, cgroup] : fire) send(helper_wire::PressureFired{now_ns(), id, cgroup});
      helper_wire::ProcessExec ffmpeg{now_ns(), 41000 + round, 40990, 1000, container,
                                      9100,     "ffmpeg",      {},    true};
      ffmpeg.argv = {"/usr/lib/jellyfin-ffmpeg/ffmpeg",
                     "-analyzeduration",
                     "200M",
                     "-f",
                     "matroska",
                     "-i",
                     "file:/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv"};
      send(ffmpeg);
      helper_wire::ProcessExec ffprobe{now_ns(), 42000 + round, 40990, 1000, container,
                                       9100,     "ffprobe",     {},    false};
      ffprobe.argv = {"/usr/lib/jellyfin-ffmpeg/ffprobe", "-i", "file:/media/music/a.flac"};
      send(ffprobe);
      send(helper_wire::ProcessExit{now_ns(), 42000 + round, 1000, container, 9100, "ffprobe", 0, 180000000});
      send(helper_wire::OomdKill{now_ns(), 43000 + round, 43000 + round, 1000, 712, container, 9100, "ffmpeg",
                                 0});
      send(helper_wire::KernelOomKill{now_ns(), 44000 + round, 44000 + round, 1000, firefox, 9200, firefox,
                                      9200, "Isolated Web Co", 200});
      // The loop takes the round in: nothing of it stays unread.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (helper.unread() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const bool read = helper.unread() == 0;
      if (at > kWarmup) {
        ++measured_rounds;
        rounds_read += read ? 1 : 0;
        firings += static_cast<int>(fire.size());
      }
    }
  });
  const Counts counts =
      count_steady_ticks("fedora42-podman", kWarmup, kMeasured, false, nullptr, helper.path(), &ticks);
  stop = true;
  relay.join();
  serve.join();
  // The fixture's oomd watches the user manager's slices (Fedora's slice.d defaults).
  EXPECT_GT(watches.size(), 0u) << "guardian asked the helper for no pressure watch";
  EXPECT_GE(measured_rounds, 9) << "rounds of events sent during the measured ticks";
  EXPECT_EQ(rounds_read, measured_rounds) << "rounds guardian's loop read in full within 2 s";
  EXPECT_GE(firings, 9);
  EXPECT_GE(counts.measured_ticks, kMeasured);
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
}

// The watchdog still reaches systemd, from the pinger's thread (the loop's only part is a counter
// it bumps): pings arrive while the loop ticks, none while it is held for a second (ten of the
// pinger's periods) but the one its last tick earned, and no socket was made for them (opens
// count socket()). A loop stuck for WatchdogSec= gets no ping, and systemd restarts guardian.
TEST(SteadyTick, TheWatchdogIsPingedWhileTheLoopTicksAndNotWhileItIsStuck) {
  const Counts counts = count_steady_ticks("debian12", 10, 50, false, nullptr, "", nullptr,
                                           Stuck{30, std::chrono::milliseconds(1000)});
  EXPECT_EQ(counts.opens, 0u);
  EXPECT_GE(counts.watchdog_pings, 10u) << "pings in 5 s of ticks, every 100 ms while the loop moves";
  EXPECT_LE(counts.pings_while_stuck, 1u) << "pings while the loop was held for 1 s";
}

// With the metrics exporter on (its listener off), as the daemon runs by default: the exporter
// keeps a reference to each prometheus-cpp series and only sets values on a tick.
TEST(SteadyTick, TheLoopWithTheMetricsExporterAllocatesNothingOverFiftyTicks) {
  const Counts counts = count_steady_ticks("fedora42-podman", 10, 50, /*metrics_exporter=*/true);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
}

// With a live system bus: systemd-oomd (a double on a private dbus-daemon answering
// DumpByFileDescriptor with Debian 12's dump of this host, in a memfd as oomd does) is read
// every second, so dumps arrive all through the measured ticks. The call, the memfd's read, the
// parse and the reconciliation with the drop-ins run on the oomd client's bus thread; the loop
// posts one small task to ask, and takes the ready result in by moving it.
TEST(SteadyTick, TheLoopAllocatesNothingWhileOomdDumpsArrive) {
  test::DbusDaemon system_bus;
  ASSERT_FALSE(system_bus.address().empty()) << system_bus.error();
  test::OomdDouble oomd(system_bus.address(), test::kOomdDump252Debian12);
  ASSERT_TRUE(oomd.ready());
  const LiveOomd live{system_bus.address(), &oomd, std::chrono::seconds(1)};
  // 30 warm-up ticks (3 s): the first dumps replace the drop-in rules and tell what differs.
  const Counts counts = count_steady_ticks("debian12", 30, 50, /*metrics_exporter=*/false, &live);
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_GE(counts.oomd_dumps, 3u) << "dumps answered in the 5 s of measured ticks";
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
}

// A unit that comes and goes makes the loop read oomd's rules again; rules that did not change
// keep the PSI triggers armed. Re-arming opened every watched slice's memory.pressure and added
// it to epoll again, kernel memory charged to the user's budget from the loop thread: at a full
// memory.high the kernel then held the loop in its throttle for 9 s (the VM's whole-user squeeze,
// sqj-s24-fg3; its charge trace: 3 openat and 3 epoll_ctl charges, then 9.15 s of penalty).
TEST(SteadyTick, AUnitThatComesAndGoesDoesNotArmThePsiTriggersAgain) {
  testing::FixtureCopy copy("fedora42-podman");
  const fs::path unit =
      copy.path("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-u42.service");
  uint64_t start_arms = 0, arms = 0;
  constexpr uint64_t kWarmup = 5, kMeasured = 30;
  const Counts counts = count_steady_ticks("fedora42-podman", kWarmup, kMeasured, false, nullptr, "", nullptr,
                                           {}, "", copy.root(), [&](uint64_t tick) {
                                             if (tick == kWarmup) start_arms = test::counted_trigger_arms();
                                             // A transient unit every 5 ticks (systemd-run --user, a runuser
                                             // session's scope), gone again 2 ticks later: each a walk of the
                                             // tree and a refresh of the rules.
                                             if (tick > kWarmup && tick % 5 == 0) {
                                               fs::create_directories(unit);
                                               std::ofstream(unit / "memory.current") << "1048576\n";
                                             }
                                             if (tick > kWarmup && tick % 5 == 2) fs::remove_all(unit);
                                             if (tick == kWarmup + kMeasured)
                                               arms = test::counted_trigger_arms() - start_arms;
                                           });
  EXPECT_EQ(counts.measured_ticks, kMeasured);
  EXPECT_EQ(arms, 0u) << "PSI triggers armed again while the rules stayed the same";
}

// The loop never waits on the session bus (docs/loop-audit.md): a real dbus-daemon, which
// guardian's D-Bus API and the systemd component are connected to, stops answering (SIGSTOP, as
// a bus daemon stalled in reclaim would) for 3 s, and in that time the level climbs (a
// LevelChanged signal and PropertiesChanged for the stopped bus, actions submitted). The ticks
// keep their 100 ms interval: no gap comes near the 3 s the bus was away.
TEST(SteadyTick, TicksKeepTheirIntervalWhileTheSessionBusStopsAnswering) {
  test::DbusDaemon bus;
  ASSERT_FALSE(bus.address().empty()) << bus.error();
  testing::FixtureCopy copy("debian12");
  const fs::path dir = fs::temp_directory_path() / ("guardian-bus-stop-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string policy_path = (dir / "policy.toml").string();
  std::ofstream(policy_path) << default_policy_for_test();
  ::setenv("DBUS_SESSION_BUS_ADDRESS", bus.address().c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/guardian-test-bus", 1);
  ::unsetenv("NOTIFY_SOCKET");

  DaemonOptions options;
  options.host_root = copy.root();
  options.policy_path = policy_path;
  options.uid = 1000;
  options.dry_run = true;
  options.state_path = ":memory:";
  options.status_lines = false;
  options.log_target = DaemonOptions::LogTarget::Stderr;
  options.lock_memory = MemoryLockMode::None;
  options.metrics_exporter = false;
  constexpr uint64_t kStop = 10, kPressure = 15, kResume = 40, kLast = 50;
  options.max_ticks = kLast;
  std::vector<std::chrono::steady_clock::time_point> at;
  at.reserve(kLast + 1);
  options.after_tick = [&](uint64_t tick) {
    at.push_back(std::chrono::steady_clock::now());
    if (tick == kStop) bus.stop_answering();
    // user@1000.service (oomd's Debian rule, limit 50%) at 90% of oomd's limit: the ladder climbs.
    if (tick == kPressure)
      testing::rewrite(
          copy.path("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.pressure"),
          "some avg10=60.00 avg60=20.00 avg300=5.00 total=90000000\n"
          "full avg10=45.00 avg60=15.00 avg300=4.00 total=60000000\n");
    if (tick == kResume) bus.answer_again();
  };
  EXPECT_EQ(run_daemon(options), 0);
  bus.answer_again();
  fs::remove_all(dir);
  ASSERT_EQ(at.size(), kLast);
  double widest = 0;
  for (uint64_t i = kStop; i < kResume; ++i)
    widest = std::max(widest, std::chrono::duration<double>(at[i] - at[i - 1]).count());
  const double stopped = std::chrono::duration<double>(at[kResume - 1] - at[kStop - 1]).count();
  EXPECT_GT(stopped, 2.5) << "the bus was stopped for the ticks between";
  EXPECT_LT(widest, 1.0) << "the widest gap between ticks while the bus was stopped (interval 0.1 s)";
}

// guardian's D-Bus API connected to a live session bus, and a client (`guardian status`'s own
// call) reading every property every 100 ms all through the measured ticks: the loop hands each
// tick's status to the API's bus thread in a kept slot (common/triple_buffer.h) and wakes it only
// when an announced property changes; the bus thread answers. The loop allocates, opens and
// sends nothing.
TEST(SteadyTick, TheLoopAllocatesAndSendsNothingWhileTheDbusApiIsRead) {
  test::DbusDaemon session_bus;
  ASSERT_FALSE(session_bus.address().empty()) << session_bus.error();
  std::atomic<uint64_t> ticks{0};
  std::atomic<bool> stop{false};
  int reads = 0, good_reads = 0;
  std::string policy_read;
  std::thread client([&] {
    while (!stop) {
      if (ticks.load() > 10) {
        auto status = fetch_daemon_status({session_bus.address(), std::chrono::seconds(2)});
        ++reads;
        if (status.ok()) {
          ++good_reads;
          policy_read = status->policy_path;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const Counts counts =
      count_steady_ticks("fedora42-podman", 10, 50, false, nullptr, "", &ticks, {}, session_bus.address());
  stop = true;
  client.join();
  EXPECT_EQ(counts.measured_ticks, 50u);
  EXPECT_GE(good_reads, 10) << "reads of the API's properties that succeeded while the loop ticked (" << reads
                            << " made)";
  EXPECT_TRUE(policy_read.ends_with("/policy.toml")) << "the policy the API told: " << policy_read;
  EXPECT_EQ(counts.allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(counts.opens, 0u);
  EXPECT_EQ(counts.sends, 0u) << "messages sent by the loop thread";
}

// The level climbs in the measured ticks with guardian's D-Bus API on a live session bus and a
// client listening for its signals: LevelChanged and PropertiesChanged reach the client, and the
// loop thread sent none of them (each D-Bus message is an skb charged to the task that sends it;
// in the VM's run-up these sends were the loop's last charges, tests/vm/FINDINGS-issue10.md).
// The loop still allocates for what a level change tells (the event's text, the journal entry):
// that count is printed, not held to zero.
TEST(SteadyTick, TheLoopSendsNothingOnTheBusWhenTheLevelChanges) {
  test::DbusDaemon session_bus;
  ASSERT_FALSE(session_bus.address().empty()) << session_bus.error();
  testing::FixtureCopy copy("debian12");
  std::mutex mutex;
  std::vector<std::string> levels_heard;
  int properties_changed = 0;
  auto listener = sdbus::createProxy(sdbus::createSessionBusConnectionWithAddress(session_bus.address()),
                                     "io.github.guardian.Guardian1", "/io/github/guardian/Guardian1");
  listener->uponSignal("LevelChanged")
      .onInterface("io.github.guardian.Guardian1")
      .call([&](const std::string& /*from*/, const std::string& to, const std::string& /*reason*/) {
        std::lock_guard lock(mutex);
        levels_heard.push_back(to);
      });
  listener->uponSignal("PropertiesChanged")
      .onInterface("org.freedesktop.DBus.Properties")
      .call([&](const std::string& interface, const std::map<std::string, sdbus::Variant>& changed,
                const std::vector<std::string>&) {
        std::lock_guard lock(mutex);
        if (interface == "io.github.guardian.Guardian1" && changed.count("Level") == 1) ++properties_changed;
      });
  listener->finishRegistration();
  constexpr uint64_t kWarmup = 10, kMeasured = 40, kPressure = 15;
  const Counts counts = count_steady_ticks(
      "debian12", kWarmup, kMeasured, false, nullptr, "", nullptr, {}, session_bus.address(), copy.root(),
      [&](uint64_t tick) {
        // user@1000.service (oomd's Debian rule, limit 50%) at 90% of oomd's limit: the ladder climbs.
        if (tick == kPressure)
          testing::rewrite(
              copy.path("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.pressure"),
              "some avg10=60.00 avg60=20.00 avg300=5.00 total=90000000\n"
              "full avg10=45.00 avg60=15.00 avg300=4.00 total=60000000\n");
      });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if ((!levels_heard.empty() && properties_changed > 0) || std::chrono::steady_clock::now() > deadline)
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard lock(mutex);
  EXPECT_EQ(counts.measured_ticks, kMeasured);
  ASSERT_FALSE(levels_heard.empty()) << "no LevelChanged signal reached the listener";
  EXPECT_NE(levels_heard.front(), "normal");
  EXPECT_GE(properties_changed, 1) << "no PropertiesChanged with Level reached the listener";
  EXPECT_EQ(counts.sends, 0u) << "messages sent by the loop thread while the level changed";
  std::printf("loop thread over the %llu ticks with the climb: %llu allocations, %llu opens, %llu sends\n",
              static_cast<unsigned long long>(kMeasured), static_cast<unsigned long long>(counts.allocations),
              static_cast<unsigned long long>(counts.opens), static_cast<unsigned long long>(counts.sends));
}

// The session bus daemon dies while guardian runs (killed, as one under memory pressure may be)
// and comes back two seconds later on the same socket: the loop keeps its 100 ms interval
// throughout — the D-Bus API's connection is its bus thread's, which notices the loss and
// reconnects — and once the bus is back, `guardian status`'s call is answered again by this
// daemon, with its current status.
TEST(SteadyTick, TicksGoOnWhileTheSessionBusIsDeadAndTheApiComesBackWithIt) {
  test::DbusDaemon bus;
  ASSERT_FALSE(bus.address().empty()) << bus.error();
  const fs::path dir = fs::temp_directory_path() / ("guardian-bus-dead-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string policy_path = (dir / "policy.toml").string();
  std::ofstream(policy_path) << default_policy_for_test();
  // Without the guid: the restarted daemon has a new one.
  ::setenv("DBUS_SESSION_BUS_ADDRESS", bus.listen_address().c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/guardian-test-bus", 1);
  ::unsetenv("NOTIFY_SOCKET");

  DaemonOptions options;
  options.host_root = std::string(GUARDIAN_FIXTURES_DIR) + "/debian12";
  options.policy_path = policy_path;
  options.uid = 1000;
  options.dry_run = true;
  options.state_path = ":memory:";
  options.status_lines = false;
  options.log_target = DaemonOptions::LogTarget::Stderr;
  options.lock_memory = MemoryLockMode::None;
  options.metrics_exporter = false;
  constexpr uint64_t kKill = 10, kBack = 30, kAsk = 45, kLast = 80;
  options.max_ticks = kLast;
  std::vector<std::chrono::steady_clock::time_point> at;
  at.reserve(kLast + 1);
  std::atomic<uint64_t> ticks{0};
  bool restarted = false;
  options.after_tick = [&](uint64_t tick) {
    at.push_back(std::chrono::steady_clock::now());
    ticks = tick;
    if (tick == kKill) bus.kill_now();
    if (tick == kBack) restarted = bus.restart();
  };
  std::string answered_policy;
  uint64_t answered_at = 0;
  std::thread client([&] {
    while (ticks.load() < kAsk) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    while (ticks.load() < kLast - 5 && answered_at == 0) {
      auto status = fetch_daemon_status({bus.listen_address(), std::chrono::seconds(1)});
      if (status.ok()) {
        answered_policy = status->policy_path;
        answered_at = ticks.load();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  EXPECT_EQ(run_daemon(options), 0);
  client.join();
  fs::remove_all(dir);
  ASSERT_EQ(at.size(), kLast);
  double widest = 0;
  for (uint64_t i = kKill; i < kBack - 1; ++i)
    widest = std::max(widest, std::chrono::duration<double>(at[i] - at[i - 1]).count());
  EXPECT_LT(widest, 1.0) << "the widest gap between ticks while the bus was dead (interval 0.1 s)";
  EXPECT_TRUE(restarted) << bus.error();
  EXPECT_NE(answered_at, 0u) << "no answer from guardian's D-Bus API after the bus came back";
  EXPECT_EQ(answered_policy, policy_path);
}

// The zeros below mean something only if the shim sees what it counts: one open of each entry
// point (with and without a creation mode) and one allocation, on this thread.
TEST(SteadyTick, TheCountingShimSeesEachOpenAndAllocation) {
  const uint64_t opens = test::counted_opens();
  const uint64_t allocations = test::counted_allocations();
  const std::string scratch = std::filesystem::temp_directory_path() / "guardian-shim-XXXXXX";
  std::vector<char> name(scratch.begin(), scratch.end());
  name.push_back('\0');
  ASSERT_NE(::mkdtemp(name.data()), nullptr);
  const std::string dir(name.data());
  const std::string made_path = dir + "/made";
  const mode_t old_umask = ::umask(0);  // so the file's mode is exactly the one passed
  test::count_calls_on_this_thread(true);
  const int a = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int b = ::openat(AT_FDCWD, made_path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0640);
  void* volatile block = std::malloc(64);  // volatile: a malloc/free pair may be elided
  int pair[2] = {-1, -1};
  test::count_calls_on_this_thread(false);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  const uint64_t sends = test::counted_sends();
  test::count_calls_on_this_thread(true);
  const char byte = 'x';
  const ssize_t sent = ::send(pair[0], &byte, 1, 0);
  test::count_calls_on_this_thread(false);
  ::close(pair[0]);
  ::close(pair[1]);
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(test::counted_sends() - sends, 1u);
  ::umask(old_umask);
  std::free(block);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  struct stat made {};
  ASSERT_EQ(::fstat(b, &made), 0);
  EXPECT_EQ(made.st_mode & 0777, 0640u) << "the creation mode reached the syscall";
  ::close(a);
  ::close(b);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(test::counted_opens() - opens, 2u);
  EXPECT_GE(test::counted_allocations() - allocations, 1u);
}

// sense -> model, as the daemon calls them (Sampler::sample_into into a kept Snapshot, then
// OomdModel::observe with the rules the fixture's drop-ins give), over the incident host.
TEST(SteadyTick, SenseAndModelAllocateAndOpenNothingAfterWarmUp) {
  test::SampledFixture host("fedora42-podman");
  ASSERT_FALSE(host.snapshot.cgroups.empty());
  ASSERT_GT(host.watched_rules, 0u);
  host.warm_up(5);
  const uint64_t allocations = test::counted_allocations(), opens = test::counted_opens();
  test::count_calls_on_this_thread(true);
  for (int i = 0; i < 200; ++i) {
    host.sampler.sample_into(host.snapshot);
    host.model.observe(host.snapshot);
  }
  test::count_calls_on_this_thread(false);
  EXPECT_EQ(test::counted_allocations() - allocations, 0u) << "(GUARDIAN_STEADY_TICK_TRACE=1 prints where)";
  EXPECT_EQ(test::counted_opens() - opens, 0u);
  EXPECT_EQ(host.snapshot.cgroups.size(), 30u);
  EXPECT_FALSE(host.model.states().empty());
}

}  // namespace
}  // namespace guardian
