#include "model/oomd_model.h"

#include <gtest/gtest.h>

#include <cmath>

namespace guardian {
namespace {

using std::chrono::seconds;

// Paths of a Fedora 42 desktop with rootless podman (systemd-cgls --user-unit).
const std::string kUserManager = "/user.slice/user-1000.slice/user@1000.service";
const std::string kAppSlice = kUserManager + "/app.slice";
const std::string kFirefox = kAppSlice + "/app-gnome-firefox-4242.scope";
const std::string kEvolution = kAppSlice + "/app-gnome-org.gnome.Evolution-2345.scope";
const std::string kAvoided = kAppSlice + "/app-gnome-org.gnome.Nautilus-777.scope";
const std::string kSession = kUserManager + "/session.slice";
const std::string kShell = kSession + "/org.gnome.Shell@wayland.service";
const std::string kBackground = kUserManager + "/background.slice";
const std::string kOmitted = kBackground + "/tracker-miner-fs-3.service";
const std::string kInnerUser = kUserManager + "/user.slice";
const std::string kJellyfin = kInnerUser + "/libpod-3f2a8c1b9d0e.scope";

const MonoTime kT0 = MonoTime{} + seconds(100'000);
MonoTime at(double s) {
  return kT0 + std::chrono::duration_cast<MonoTime::duration>(std::chrono::duration<double>(s));
}

struct Row {
  std::string path;
  double full_avg10 = 0;
  uint64_t full_total_us = 0;
  uint64_t pgscan = 0;
  uint64_t current = 0;
  bool oom_group = false;
  bool avoid = false;
  bool omit = false;
};

// memory.pressure values as the kernel prints them: "full avg10=81.00 avg60=… total=…";
// only full avg10 and total matter to oomd and the model.
Snapshot snap(double t, const std::vector<Row>& rows) {
  Snapshot s;
  s.mono = at(t);
  for (const auto& r : rows) {
    CgroupSample c;
    c.path = r.path;
    c.unit = r.path.substr(r.path.rfind('/') + 1);
    c.pressure = Psi{};
    c.pressure->full.avg10 = r.full_avg10;
    c.pressure->full.total_us = r.full_total_us;
    c.pressure->some.avg10 = r.full_avg10;
    c.memory.pgscan = r.pgscan;
    c.memory.current_bytes = r.current;
    c.memory.oom_group = r.oom_group;
    c.oomd_avoid = r.avoid;
    c.oomd_omit = r.omit;
    s.cgroups.push_back(c);
  }
  for (auto& c : s.cgroups) {
    for (const auto& other : s.cgroups) {
      if (other.path.starts_with(c.path + "/")) c.has_children = true;
    }
  }
  return s;
}

WatchedCgroup fedora_rule(const std::string& path) {
  // Fedora: slice.d/10-oomd-per-slice-defaults.conf (80%) + oomd.conf.d 20 s.
  return WatchedCgroup{path, path.substr(path.rfind('/') + 1), 80.0, seconds(20), "fedora"};
}

TEST(OomdModel, HandComputedFedoraSliceSequence) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  // One sample per second. full total grows 900'000 µs per second: a 90% stall share.
  // pgscan grows every second (reclaim going on). app.slice has one leaf (firefox).
  const double avg10[] = {50, 81, 85, 79, 82};
  std::vector<const OomdCgroupState*> seen;
  std::vector<OomdCgroupState> states;
  auto feed = [&](int t, double a) {
    const uint64_t total = 1'000'000'000 + static_cast<uint64_t>(t) * 900'000;
    const uint64_t scan = 10'000 + static_cast<uint64_t>(t) * 100;
    model.observe(snap(t, {{kAppSlice, a, total, scan, 6ULL << 30}, {kFirefox, 0, 0, scan, 6ULL << 30}}));
    states.push_back(model.states().at(0));
  };
  for (int t = 0; t < 5; ++t) feed(t, avg10[t]);

  // t=0: 50 <= 80, no previous total -> no stall share, no prediction.
  EXPECT_FALSE(states[0].over_limit);
  EXPECT_FALSE(states[0].stall_share_percent);
  EXPECT_FALSE(states[0].seconds_until_kill);
  EXPECT_DOUBLE_EQ(states[0].limit_fraction, 50.0 / 80.0);
  // t=1: 81 > 80 starts the timer: seconds_over 0, kill in 20 - 0 = 20 s.
  EXPECT_TRUE(states[1].over_limit);
  EXPECT_DOUBLE_EQ(states[1].seconds_over, 0.0);
  EXPECT_DOUBLE_EQ(*states[1].seconds_until_over, 0.0);
  EXPECT_DOUBLE_EQ(*states[1].seconds_until_kill, 20.0);
  EXPECT_NEAR(*states[1].stall_share_percent, 90.0, 1e-9);  // 900'000 µs / 1 s
  // t=2: 85, over for 2 - 1 = 1 s, kill in 19 s.
  EXPECT_DOUBLE_EQ(states[2].seconds_over, 1.0);
  EXPECT_DOUBLE_EQ(*states[2].seconds_until_kill, 19.0);
  // t=3: 79 <= 80 resets the timer. Prediction at a 90% share from 79:
  // (90-80)/(90-79) = 0.90909, ln = -0.09531, / ln(e) = / -0.2 -> 0.4766 updates -> 1 update,
  // 2*1 - 1 = 1 s until over, + 20 s duration = 21 s until kill.
  EXPECT_FALSE(states[3].over_limit);
  EXPECT_DOUBLE_EQ(states[3].seconds_over, 0.0);
  EXPECT_DOUBLE_EQ(*states[3].seconds_until_over, 1.0);
  EXPECT_DOUBLE_EQ(*states[3].seconds_until_kill, 21.0);
  // t=4: 82 > 80: a fresh timer, 20 s again (not 20 - 3).
  EXPECT_TRUE(states[4].over_limit);
  EXPECT_DOUBLE_EQ(states[4].seconds_over, 0.0);
  EXPECT_DOUBLE_EQ(*states[4].seconds_until_kill, 20.0);
  EXPECT_FALSE(states[4].kill_possible_now);

  // t=5..24 at 82: counting down one second per sample, kill possible at t=24 (20 s over).
  for (int t = 5; t <= 24; ++t) {
    feed(t, 82);
    const auto& s = states.back();
    EXPECT_DOUBLE_EQ(s.seconds_over, t - 4.0) << "t=" << t;
    EXPECT_DOUBLE_EQ(*s.seconds_until_kill, 24.0 - t) << "t=" << t;
    EXPECT_TRUE(s.reclaim_recent);
    EXPECT_EQ(s.kill_possible_now, t == 24) << "t=" << t;
    EXPECT_EQ(s.likely_victim, kFirefox);
  }
  // Past the duration seconds_until_kill stays at 0 (oomd fires on its next tick).
  feed(25, 90);
  EXPECT_DOUBLE_EQ(*states.back().seconds_until_kill, 0.0);
}

TEST(OomdModel, ExactlyAtTheLimitDoesNotStartTheTimer) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  // oomd compares two-decimal fixed point strictly: 80.00 is not above 80%, 80.01 is.
  model.observe(snap(0, {{kAppSlice, 80.00, 0, 1, 1}}));
  EXPECT_FALSE(model.states()[0].over_limit);
  model.observe(snap(1, {{kAppSlice, 80.004, 0, 1, 1}}));  // rounds to 80.00
  EXPECT_FALSE(model.states()[0].over_limit);
  model.observe(snap(2, {{kAppSlice, 80.01, 0, 1, 1}}));
  EXPECT_TRUE(model.states()[0].over_limit);
  EXPECT_DOUBLE_EQ(model.states()[0].seconds_over, 0.0);
  model.observe(snap(3, {{kAppSlice, 80.00, 0, 1, 1}}));  // back at the limit: reset
  EXPECT_FALSE(model.states()[0].over_limit);
  model.observe(snap(4, {{kAppSlice, 81.00, 0, 1, 1}}));
  EXPECT_DOUBLE_EQ(model.states()[0].seconds_over, 0.0);
}

TEST(OomdModel, KillNeedsReclaimWithin30Seconds) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  // pgscan 5000 at the first sample: a fresh oomd context has last_pgscan 0, so that counts as
  // reclaim at t=0 (oomd_insert_cgroup_context). Then pgscan stays flat.
  for (int t = 0; t <= 35; ++t) {
    const double a = t < 15 ? 40.0 : 90.0;  // over from t=15
    model.observe(snap(t, {{kAppSlice, a, 0, 5000, 1 << 30}, {kFirefox, 0, 0, 5000, 1 << 30}}));
    const auto& s = model.states()[0];
    EXPECT_EQ(s.reclaim_recent, t <= 30) << "t=" << t;  // now - last_had_mem_reclaim <= 30 s
    if (t == 35) {
      // 20 s over, but no reclaim in the last 30 s: oomd skips the target. The pressure timer
      // still says 0 s (documented: the prediction does not drop without reclaim).
      EXPECT_DOUBLE_EQ(s.seconds_over, 20.0);
      EXPECT_DOUBLE_EQ(*s.seconds_until_kill, 0.0);
      EXPECT_FALSE(s.kill_possible_now);
    }
  }
  // pgscan rises again: reclaim, and the kill is possible at once.
  model.observe(snap(36, {{kAppSlice, 90, 0, 5100, 1 << 30}, {kFirefox, 0, 0, 5100, 1 << 30}}));
  EXPECT_TRUE(model.states()[0].reclaim_recent);
  EXPECT_TRUE(model.states()[0].kill_possible_now);
}

// A user manager watched as a whole (Debian 12: user@.service at 50%), with its candidates.
std::vector<Row> victims_tree(uint64_t base, uint64_t firefox_scan, uint64_t evolution_scan,
                              uint64_t session_scan) {
  return {
      {kUserManager, 60, 0, base, 20ULL << 30},
      {kAppSlice, 0, 0, base, 10ULL << 30},
      {kFirefox, 0, 0, firefox_scan, 3ULL << 30},            // leaf
      {kEvolution, 0, 0, evolution_scan, 1ULL << 30},        // leaf
      {kAvoided, 0, 0, base * 10, 4ULL << 30, false, true},  // user.oomd_avoid
      {kBackground, 0, 0, base, 1ULL << 30},
      {kOmitted, 0, 0, base * 20, 5ULL << 30, false, false, true},  // user.oomd_omit
      {kSession, 0, 0, session_scan, 2ULL << 30, true},             // memory.oom.group=1
      {kShell, 0, 0, session_scan, 2ULL << 30},                     // inside an oom.group: not a candidate
      {kInnerUser, 0, 0, base, 2ULL << 30},
      {kJellyfin, 0, 0, base, 2ULL << 30},
      {kUserManager + "/init.scope", 0, 0, 0, 0},  // pgscan 0 and no memory: skipped
  };
}

TEST(OomdModel, VictimByPgscanDeltaThenMemoryCurrent) {
  OomdModel model;
  model.set_rules({{kUserManager, "user@1000.service", 50.0, seconds(20), "debian"}});
  model.observe(snap(0, victims_tree(1000, 1000, 1000, 1000)));
  // Deltas over 1 s: firefox +500, evolution +500 (tie: firefox has 3 GiB > 1 GiB), session +300,
  // jellyfin +0; the avoided scope +9000 and the omitted service +19000 do not win.
  auto rows = victims_tree(1000, 1500, 1500, 1300);
  rows[4].pgscan = 19'000;  // avoid: +9000
  rows[6].pgscan = 39'000;  // omit: +19000
  model.observe(snap(1, rows));
  EXPECT_EQ(model.states()[0].likely_victim, kFirefox);

  // Evolution one page ahead: the pgscan delta decides before memory.current.
  rows = victims_tree(1000, 2000, 2001, 1600);
  model.observe(snap(2, rows));
  EXPECT_EQ(model.states()[0].likely_victim, kEvolution);

  // The oom.group slice is one candidate (its own, hierarchical pgscan), never its child.
  rows = victims_tree(1000, 2000, 2001, 5000);
  model.observe(snap(3, rows));
  EXPECT_EQ(model.states()[0].likely_victim, kSession);
}

TEST(OomdModel, AvoidedOnlyWhenNothingElseAndOmitNever) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  auto rows = std::vector<Row>{{kAppSlice, 90, 0, 100, 8ULL << 30},
                               {kAvoided, 0, 0, 100, 4ULL << 30, false, true},
                               {kFirefox, 0, 0, 100, 1ULL << 20, false, false, true}};
  model.observe(snap(0, rows));
  rows[1].pgscan = 200;
  rows[2].pgscan = 900;
  model.observe(snap(1, rows));
  EXPECT_EQ(model.states()[0].likely_victim, kAvoided);
  rows[1].omit = true;
  model.observe(snap(2, rows));
  EXPECT_FALSE(model.states()[0].likely_victim);
  EXPECT_FALSE(model.states()[0].kill_possible_now);
}

TEST(OomdModel, LeafWatchedCgroupIsItsOwnCandidate) {
  OomdModel model;
  model.set_rules({fedora_rule(kBackground)});
  model.observe(snap(0, {{kBackground, 10, 0, 50, 1 << 20}}));
  EXPECT_EQ(model.states()[0].likely_victim, kBackground);
}

// The kernel's avg10 (kernel/sched/psi.c calc_avgs -> calc_load, include/linux/sched/loadavg.h):
// FIXED_1 = 2048, EXP_10s = 1677; every 2 s: avg = (avg*EXP + pct*FIXED_1*(FIXED_1-EXP)
// [+ FIXED_1-1 when rising]) / FIXED_1; printed as LOAD_INT.LOAD_FRAC (two decimals).
struct KernelAvg10 {
  uint64_t avg = 0;
  void update(uint64_t stall_percent) {
    constexpr uint64_t kFixed1 = 2048, kExp10s = 1677;
    const uint64_t active = stall_percent * kFixed1;
    uint64_t next = avg * kExp10s + active * (kFixed1 - kExp10s);
    if (active >= avg) next += kFixed1 - 1;
    avg = next / kFixed1;
  }
  [[nodiscard]] double printed() const {
    const uint64_t whole = avg >> 11;
    const uint64_t frac = ((avg & 2047) * 100) >> 11;
    return static_cast<double>(whole) + static_cast<double>(frac) / 100.0;
  }
};

TEST(OomdModel, PredictionMatchesSimulatedKernelAvg10AtTotalStall) {
  // A total memory stall (100% full) starts at t=0; the kernel updates avg10 at t=2,4,…;
  // guardian samples every second, the full `total` counter growing 1 s per second.
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  KernelAvg10 kernel;
  std::optional<double> predicted_crossing;
  std::optional<int> actual_crossing;
  std::optional<double> predicted_kill_at;
  model.observe(snap(0, {{kAppSlice, 0.0, 5'000'000, 1, 1}}));
  for (int t = 1; t <= 45; ++t) {
    if (t % 2 == 0) kernel.update(100);
    const uint64_t total = 5'000'000 + static_cast<uint64_t>(t) * 1'000'000;
    model.observe(snap(t, {{kAppSlice, kernel.printed(), total, 1 + static_cast<uint64_t>(t), 1}}));
    const auto& s = model.states()[0];
    if (t == 1) {
      ASSERT_TRUE(s.stall_share_percent);
      EXPECT_NEAR(*s.stall_share_percent, 100.0, 1e-9);
      ASSERT_TRUE(s.seconds_until_over);
      predicted_crossing = t + *s.seconds_until_over;
      predicted_kill_at = t + *s.seconds_until_kill;
    }
    if (!actual_crossing && kernel.printed() > 80.0) actual_crossing = t;
  }
  ASSERT_TRUE(actual_crossing);
  // 100 * (1 - 0.8188^k) > 80 first at k = 9 (79.81% at k = 8), i.e. t = 18.
  EXPECT_GE(*actual_crossing, 16);
  EXPECT_LE(*actual_crossing, 18);
  EXPECT_LE(std::abs(*predicted_crossing - *actual_crossing), 2.0)
      << "predicted " << *predicted_crossing << " actual " << *actual_crossing;
  // With Fedora's 20 s, the kill comes ~38 s after onset.
  EXPECT_NEAR(*predicted_kill_at, *actual_crossing + 20.0, 2.0);
}

TEST(OomdModel, PredictionHelper) {
  EXPECT_EQ(predict_seconds_until_above(10, 80, 80), std::nullopt);  // share at the limit: never above
  EXPECT_EQ(predict_seconds_until_above(10, 50, 80), std::nullopt);
  EXPECT_DOUBLE_EQ(*predict_seconds_until_above(81, 0, 80), 0.0);
  // 0 -> 100 at 80: ln(0.2)/-0.2 = 8.047 -> 9 updates -> 17 s.
  EXPECT_DOUBLE_EQ(*predict_seconds_until_above(0, 100, 80), 17.0);
}

TEST(OomdModel, FifteenSecondPauseAfterAKill) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  for (int t = 0; t <= 20; ++t) {
    model.observe(
        snap(t, {{kAppSlice, 95, 0, 100 + static_cast<uint64_t>(t), 1}, {kFirefox, 0, 0, 7, 1 << 20}}));
  }
  EXPECT_TRUE(model.states()[0].kill_possible_now);
  model.note_kill(at(20));
  // Pressure stays high: oomd's timer keeps running, but nothing happens until t = 35.
  for (int t = 21; t <= 36; ++t) {
    model.observe(
        snap(t, {{kAppSlice, 95, 0, 100 + static_cast<uint64_t>(t), 1}, {kFirefox, 0, 0, 7, 1 << 20}}));
    const auto& s = model.states()[0];
    EXPECT_DOUBLE_EQ(s.seconds_over, t) << t;
    if (t < 35) {
      ASSERT_TRUE(s.pause_remaining_seconds) << t;
      EXPECT_DOUBLE_EQ(*s.pause_remaining_seconds, 35.0 - t);
      EXPECT_DOUBLE_EQ(*s.seconds_until_kill, 35.0 - t);  // max(0 from the timer, the pause left)
      EXPECT_FALSE(s.kill_possible_now) << t;
    } else {
      EXPECT_FALSE(s.pause_remaining_seconds) << t;
      EXPECT_TRUE(s.kill_possible_now) << t;
    }
  }
}

TEST(OomdModel, VanishedCgroupResetsItsTimers) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  for (int t = 0; t < 5; ++t) model.observe(snap(t, {{kAppSlice, 90, 0, 1, 1}}));
  EXPECT_DOUBLE_EQ(model.states()[0].seconds_over, 4.0);
  model.observe(snap(5, {}));
  const auto& gone = model.states()[0];
  EXPECT_FALSE(gone.present);
  EXPECT_FALSE(gone.over_limit);
  EXPECT_FALSE(gone.seconds_until_kill);
  EXPECT_FALSE(gone.likely_victim);
  model.observe(snap(6, {{kAppSlice, 90, 0, 1, 1}}));
  EXPECT_TRUE(model.states()[0].present);
  EXPECT_DOUBLE_EQ(model.states()[0].seconds_over, 0.0);
}

TEST(OomdModel, UnreadableChildrenOrPressureAreNotGuessed) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice), fedora_rule(kSession)});
  auto s = snap(0, {{kAppSlice, 90, 0, 10, 1 << 30}, {kSession, 90, 0, 10, 1 << 30}});
  // sense saw that app.slice has children but could not read them: the victim is unknown, and
  // app.slice itself (not a leaf) is not a candidate.
  s.cgroups[0].has_children = true;
  // session.slice's memory.pressure could not be read: present, but nothing modelled.
  s.cgroups[1].pressure.reset();
  model.observe(s);
  const auto& app = model.states()[0];
  EXPECT_TRUE(app.over_limit);
  EXPECT_FALSE(app.likely_victim);
  const auto& session = model.states()[1];
  EXPECT_TRUE(session.present);
  EXPECT_FALSE(session.over_limit);
  EXPECT_FALSE(session.seconds_until_kill);
}

TEST(OomdModel, OlderSnapshotIsIgnored) {
  OomdModel model;
  model.set_rules({fedora_rule(kAppSlice)});
  model.observe(snap(5, {{kAppSlice, 90, 0, 1, 1}}));
  model.observe(snap(6, {{kAppSlice, 90, 0, 1, 1}}));
  model.observe(snap(2, {{kAppSlice, 10, 0, 1, 1}}));
  EXPECT_TRUE(model.states()[0].over_limit);
  EXPECT_DOUBLE_EQ(model.states()[0].seconds_over, 1.0);
}

}  // namespace
}  // namespace guardian
