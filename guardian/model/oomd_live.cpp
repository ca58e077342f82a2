#include "model/oomd_live.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace guardian {

std::vector<WatchedCgroup> watched_from_dump(const OomdDump& dump) {
  std::vector<WatchedCgroup> out;
  out.reserve(dump.pressure_monitored.size());
  for (const auto& cgroup : dump.pressure_monitored) {
    WatchedCgroup watched;
    watched.path = cgroup.path;
    const auto slash = cgroup.path.rfind('/');
    watched.unit = slash == std::string::npos ? cgroup.path : cgroup.path.substr(slash + 1);
    watched.limit_percent = cgroup.limit_percent;
    watched.duration = cgroup.duration.value_or(dump.default_duration);
    watched.source = "oomd live dump";
    out.push_back(std::move(watched));
  }
  return out;
}

namespace {
std::string describe_rule(double percent, std::chrono::microseconds duration) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%% for %gs", percent, static_cast<double>(duration.count()) / 1e6);
  return buf;
}
}  // namespace

WatchReconciliation reconcile_watched(const std::vector<WatchedCgroup>& from_dropins, const OomdDump& live,
                                      const std::string& user_manager_path) {
  WatchReconciliation result;
  result.effective = watched_from_dump(live);
  std::map<std::string, const WatchedCgroup*> live_by_path;
  for (const auto& watched : result.effective) live_by_path[watched.path] = &watched;
  std::map<std::string, const WatchedCgroup*> dropin_by_path;
  for (const auto& watched : from_dropins) dropin_by_path[watched.path] = &watched;

  for (const auto& expected : from_dropins) {
    auto found = live_by_path.find(expected.path);
    if (found == live_by_path.end()) {
      WatchDisagreement disagreement;
      disagreement.kind = WatchDisagreement::Kind::MissingFromLive;
      disagreement.path = expected.path;
      disagreement.detail = "the drop-ins (" + expected.source + ") say systemd-oomd kills in " +
                            expected.path + " at " +
                            describe_rule(expected.limit_percent, expected.duration) +
                            ", but oomd's live list does not have it";
      const bool user_manager_or_inside =
          !user_manager_path.empty() && expected.path.starts_with(user_manager_path);
      if (user_manager_or_inside) {
        disagreement.next_step =
            "a `systemctl --user daemon-reload` drops the user manager's cgroups from oomd's list until the "
            "next "
            "system reload (systemd issue #43174); run `sudo systemctl daemon-reload` (or log out and back "
            "in), "
            "then `oomctl` to check";
      } else {
        disagreement.next_step =
            "run `sudo systemctl daemon-reload` so the manager re-sends its ManagedOOM units to oomd, then "
            "`oomctl`";
      }
      result.disagreements.push_back(std::move(disagreement));
      continue;
    }
    const WatchedCgroup& actual = *found->second;
    if (std::fabs(actual.limit_percent - expected.limit_percent) > 0.005 ||
        actual.duration != expected.duration) {
      WatchDisagreement disagreement;
      disagreement.kind = WatchDisagreement::Kind::LimitDiffers;
      disagreement.path = expected.path;
      disagreement.detail = "drop-ins: " + describe_rule(expected.limit_percent, expected.duration) +
                            ", live: " + describe_rule(actual.limit_percent, actual.duration) +
                            " (guardian uses the live values)";
      disagreement.next_step =
          "a drop-in guardian did not see, or one not yet loaded: check `systemctl cat` of the unit and "
          "`systemctl daemon-reload`";
      result.disagreements.push_back(std::move(disagreement));
    }
  }
  for (const auto& actual : result.effective) {
    if (dropin_by_path.count(actual.path)) continue;
    WatchDisagreement disagreement;
    disagreement.kind = WatchDisagreement::Kind::OnlyInLive;
    disagreement.path = actual.path;
    disagreement.detail = "oomd kills in " + actual.path + " at " +
                          describe_rule(actual.limit_percent, actual.duration) +
                          ", which no drop-in guardian read explains (guardian models it anyway)";
    disagreement.next_step =
        "check `systemctl show -p ManagedOOMMemoryPressure` for the unit owning " + actual.path;
    result.disagreements.push_back(std::move(disagreement));
  }
  return result;
}

}  // namespace guardian
