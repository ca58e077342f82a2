// systemd-oomd's memory-pressure kill rule, as read in systemd's sources (v252 and v257 agree on
// everything below except where noted):
//
// src/oom/oomd-manager.h
//   MEM_PRESSURE_INTERVAL_USEC = 1 s: the pressure handler runs once a second.
//   RECLAIM_DURATION_USEC = 30 s, POST_ACTION_DELAY_USEC = 15 s.
//   DEFAULT_MEM_PRESSURE_LIMIT_PERCENT 60, DEFAULT_MEM_PRESSURE_DURATION_USEC 30 s.
// src/oom/oomd-manager.c
//   monitor_memory_pressure_contexts_handler(): re-acquires every monitored context
//     (update_monitored_cgroup_contexts -> oomd_insert_cgroup_context), computes
//     in_post_action_delay from mem_pressure_post_action_delay_start + POST_ACTION_DELAY_USEC,
//     calls oomd_pressure_above() every tick (so timers run during the delay), and for each target
//     skips it when now - t->last_had_mem_reclaim > RECLAIM_DURATION_USEC; otherwise refreshes the
//     candidates and calls oomd_select_by_pgscan_rate(candidates, prefix = t->path). After one kill
//     it sets the delay start and returns. (v252..v254 also start the delay when no candidate could
//     be killed; v257 only after a kill. Older releases kept one global last_reclaim_at for all
//     monitored cgroups and froze the timers during the delay; the model follows v252+.)
//     While any monitored cgroup is over its limit, the candidate contexts are refreshed every tick,
//     so by the time a kill is due the candidates' pgscan rate is a one-second delta; the model uses
//     the delta since guardian's previous snapshot.
//   recursively_get_cgroup_context(): from the monitored cgroup, a cgroup without subgroups is a
//     candidate (the monitored cgroup itself if it is a leaf); otherwise each child with
//     memory.oom.group=1 is a candidate (not descended into) and other children are recursed.
//   process_managed_oom_message(): the limit arrives as a uint32 scale of permyriad, 0 meaning
//     "use DefaultMemoryPressureLimit"; it is stored with store_loadavg_fixed_point(permyriad / 100,
//     permyriad % 100), i.e. as a loadavg with two decimals. v257 adds a per-unit duration
//     (USEC_INFINITY = use DefaultMemoryPressureDurationSec); v252 has only the default.
// src/oom/oomd-util.c
//   oomd_pressure_above(): ctx->memory_pressure.avg10 > ctx->mem_pressure_limit (strictly; both
//     loadavg fixed point, the avg10 parsed from the "full" line of memory.pressure by
//     read_resource_pressure(PRESSURE_TYPE_FULL)); the first tick above sets
//     mem_pressure_limit_hit_start = now, a tick at or below resets it to 0; a target once
//     now - hit_start >= duration.
//   oomd_insert_cgroup_context() / oomd_update_cgroup_contexts_between_hashmaps(): last_pgscan is
//     the previous tick's pgscan; oomd_pgscan_rate() = pgscan - last_pgscan (last treated as 0 when
//     it is larger, i.e. the cgroup was recreated, and 0 for a fresh context); a rate > 0 sets
//     last_had_mem_reclaim = now.
//   oomd_sort_cgroup_contexts(): keeps paths under the prefix, drops PREFERENCE_OMIT (xattr
//     user.oomd_omit), sorts with compare_pgscan_rate_and_memory_usage (oomd-util.h): preference
//     (none before avoid), then pgscan rate descending, then current_memory_usage descending.
//   oomd_select_by_pgscan_rate(): the first sorted candidate, skipping those with pgscan == 0 and
//     current_memory_usage == 0.
//
// The prediction of where avg10 goes is the kernel's (kernel/sched/psi.c, calc_avgs): every
// PSI_FREQ (2 s) avg10 = avg10 * e + share * (1 - e), e = EXP_10s / FIXED_1 = exp(-2/10).
#include "model/oomd_model.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace guardian {
namespace {

double seconds_between(MonoTime from, MonoTime to) {
  return std::chrono::duration<double>(to - from).count();
}

// oomd compares loadavg fixed point with two decimals; a percent maps onto hundredths exactly
// (1 hundredth = 20.48 fixed-point units, so distinct hundredths never collide).
long long hundredths(double percent) { return std::llround(percent * 100.0); }

std::string_view parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// pgscan - last_pgscan as oomd_pgscan_rate() computes it.
uint64_t pgscan_rate(uint64_t now, std::optional<uint64_t> before) {
  const uint64_t last = before && *before <= now ? *before : 0;
  return now - last;
}

struct Candidate {
  const CgroupSample* sample;
  uint64_t pgscan_rate;
};

}  // namespace

std::optional<double> predict_seconds_until_above(double avg10_percent, double share_percent,
                                                  double limit_percent) {
  if (hundredths(avg10_percent) > hundredths(limit_percent)) return 0.0;
  if (share_percent <= limit_percent) return std::nullopt;
  // After k updates: avg_k = share + (avg_0 - share) * e^k. avg_k > limit once
  // e^k < (share - limit) / (share - avg_0), i.e. k > ln(ratio) / ln(e).
  const double ratio = (share_percent - limit_percent) / (share_percent - avg10_percent);
  const double updates_exact = std::log(ratio) / std::log(kPsiAvg10Decay);
  const double updates = std::floor(updates_exact) + 1.0;
  return updates * kPsiAvgPeriodSeconds - kPsiAvgPeriodSeconds / 2.0;
}

void OomdModel::set_rules(std::vector<WatchedCgroup> rules) {
  rules_ = std::move(rules);
  // Timers of cgroups that are no longer watched would be stale if they come back.
  std::map<std::string, Tracked> kept;
  for (const auto& rule : rules_) {
    if (auto it = tracked_.find(rule.path); it != tracked_.end()) kept.insert(*it);
  }
  tracked_ = std::move(kept);
}

void OomdModel::note_kill(MonoTime when) {
  if (!last_kill_ || when > *last_kill_) last_kill_ = when;
}

void OomdModel::observe(const Snapshot& snapshot) {
  if (last_observed_ && snapshot.mono < *last_observed_) return;
  const MonoTime now = snapshot.mono;
  // 0 on the first snapshot: no interval to take a stall share over yet.
  const double interval_s = last_observed_ ? seconds_between(*last_observed_, now) : 0.0;

  // One hashed pass over the snapshot: the previous counters of each cgroup (then replaced in
  // place, so a steady tree allocates nothing), its pgscan rate, and the tree as flat child lists.
  const auto& cgroups = snapshot.cgroups;
  const size_t n = cgroups.size();
  ++tick_;
  auto& before = scratch_.before;
  auto& rate = scratch_.rate;
  before.assign(n, std::nullopt);
  rate.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const CgroupSample& c = cgroups[i];
    auto [it, inserted] = counters_.try_emplace(c.path);
    if (!inserted && it->second.seen_in_tick == tick_) continue;  // a duplicate path: first one counts
    if (!inserted) before[i] = it->second;
    rate[i] =
        pgscan_rate(c.memory.pgscan, before[i] ? std::optional<uint64_t>(before[i]->pgscan) : std::nullopt);
    it->second = Counters{c.memory.pgscan, c.pressure ? c.pressure->full.total_us : 0, c.pressure.has_value(),
                          tick_, i};
  }
  std::erase_if(counters_, [&](const auto& entry) { return entry.second.seen_in_tick != tick_; });
  auto index_of = [&](std::string_view path) -> std::optional<size_t> {
    auto it = counters_.find(path);
    if (it == counters_.end()) return std::nullopt;
    return it->second.index;
  };
  // children of i: child_list[child_begin[i] .. child_begin[i + 1])
  auto& parent = scratch_.parent;
  auto& child_begin = scratch_.child_begin;
  parent.assign(n, n);
  child_begin.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    if (auto p = index_of(parent_of(cgroups[i].path)); p && *p != i) {
      parent[i] = *p;
      ++child_begin[*p + 1];
    }
  }
  for (size_t i = 0; i < n; ++i) child_begin[i + 1] += child_begin[i];
  auto& child_list = scratch_.child_list;
  child_list.assign(child_begin[n], 0);
  {
    auto& fill = scratch_.fill;
    fill.assign(child_begin.begin(), child_begin.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      if (parent[i] != n) child_list[fill[parent[i]]++] = i;
    }
  }

  std::optional<double> pause_remaining;
  if (last_kill_) {
    const double left = seconds_between(now, *last_kill_ + kOomdPostActionDelay);
    if (left > 0) pause_remaining = left;
  }

  // states_ is rewritten in place: each state's strings keep their storage from the last tick.
  if (states_.size() > rules_.size()) states_.resize(rules_.size());
  while (states_.size() < rules_.size()) states_.emplace_back();
  for (size_t rule_index = 0; rule_index < rules_.size(); ++rule_index) {
    const WatchedCgroup& rule = rules_[rule_index];
    OomdCgroupState& state = states_[rule_index];
    {
      WatchedCgroup kept_rule = std::move(state.rule);
      std::optional<std::string> kept_victim = std::move(state.likely_victim);
      state = OomdCgroupState{};
      state.rule = std::move(kept_rule);
      state.likely_victim = std::move(kept_victim);
    }
    state.rule = rule;
    state.pause_remaining_seconds = pause_remaining;
    const std::optional<size_t> found = index_of(rule.path);
    if (!found || !cgroups[*found].pressure) {
      // Gone (or its memory.pressure unreadable): oomd drops the context, and with it the timer
      // and the reclaim history; a cgroup that comes back starts fresh.
      state.present = found.has_value();
      state.likely_victim.reset();
      tracked_.erase(rule.path);
      continue;
    }
    const size_t self_index = *found;
    const CgroupSample& sample = cgroups[self_index];
    Tracked& tracked = tracked_[rule.path];
    state.present = true;
    state.full_avg10 = sample.pressure->full.avg10;
    state.limit_fraction = rule.limit_percent > 0 ? state.full_avg10 / rule.limit_percent : 0.0;
    state.over_limit = hundredths(state.full_avg10) > hundredths(rule.limit_percent);
    if (state.over_limit) {
      if (!tracked.over_since) tracked.over_since = now;
      state.seconds_over = seconds_between(*tracked.over_since, now);
    } else {
      tracked.over_since.reset();
    }

    if (rate[self_index] > 0) tracked.last_reclaim = now;
    state.reclaim_recent = tracked.last_reclaim && now - *tracked.last_reclaim <= kOomdReclaimWindow;

    if (const auto& prev = before[self_index]; prev && prev->has_pressure && interval_s > 0 &&
                                               sample.pressure->full.total_us >= prev->full_total_us) {
      const double stalled_s =
          static_cast<double>(sample.pressure->full.total_us - prev->full_total_us) / 1e6;
      state.stall_share_percent = std::clamp(stalled_s / interval_s * 100.0, 0.0, 100.0);
    }
    const double duration_s = std::chrono::duration<double>(rule.duration).count();
    if (state.over_limit) {
      state.seconds_until_over = 0.0;
      state.seconds_until_kill = std::max(0.0, duration_s - state.seconds_over);
    } else if (state.stall_share_percent) {
      state.seconds_until_over =
          predict_seconds_until_above(state.full_avg10, *state.stall_share_percent, rule.limit_percent);
      if (state.seconds_until_over) state.seconds_until_kill = *state.seconds_until_over + duration_s;
    }
    if (state.seconds_until_kill && pause_remaining) {
      state.seconds_until_kill = std::max(*state.seconds_until_kill, *pause_remaining);
    }

    // Candidates below the watched cgroup (recursively_get_cgroup_context).
    auto& candidates = scratch_.candidates;
    candidates.clear();
    auto collect = [&](auto& self, size_t node) -> void {
      if (child_begin[node] == child_begin[node + 1]) {
        // has_children without children in the snapshot: sense could not read them, so the
        // candidates below are unknown rather than this cgroup.
        if (!cgroups[node].has_children) candidates.emplace_back(&cgroups[node], rate[node]);
        return;
      }
      for (size_t k = child_begin[node]; k < child_begin[node + 1]; ++k) {
        const size_t kid = child_list[k];
        if (cgroups[kid].memory.oom_group) {
          candidates.emplace_back(&cgroups[kid], rate[kid]);
        } else {
          self(self, kid);
        }
      }
    };
    collect(collect, self_index);
    std::erase_if(candidates, [](const auto& entry) {
      const Candidate c{entry.first, entry.second};
      return c.sample->oomd_omit ||
             (c.sample->memory.pgscan == 0 && c.sample->memory.current_bytes.value_or(0) == 0);
    });
    auto sort_key = [](const auto& entry) {
      const Candidate c{entry.first, entry.second};
      // Ascending tuple order == oomd's order: not-avoided first, then larger rate, larger usage.
      return std::make_tuple(c.sample->oomd_avoid, ~c.pgscan_rate,
                             ~c.sample->memory.current_bytes.value_or(0), std::string_view(c.sample->path));
    };
    auto best = std::min_element(candidates.begin(), candidates.end(),
                                 [&](const auto& a, const auto& b) { return sort_key(a) < sort_key(b); });
    if (best == candidates.end())
      state.likely_victim.reset();
    else if (state.likely_victim)
      state.likely_victim->assign(best->first->path);
    else
      state.likely_victim.emplace(best->first->path);

    state.kill_possible_now = state.over_limit && state.seconds_over >= duration_s && state.reclaim_recent &&
                              !pause_remaining && state.likely_victim.has_value();
  }

  last_observed_ = now;
}

// ---- resolve_watched ----

namespace {

bool is_user_manager_path(std::string_view path) {
  // "/user.slice/user-UID.slice/user@UID.service"
  const auto last = path.substr(path.rfind('/') + 1);
  return path.starts_with("/user.slice/user-") && last.starts_with("user@") && last.ends_with(".service") &&
         parent_of(path) != "/user.slice";
}

bool is_inside(std::string_view path, std::string_view ancestor) {
  return path.size() > ancestor.size() && path.starts_with(ancestor) && path[ancestor.size()] == '/';
}

// systemd's slice naming: "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice; "-.slice" is root.
std::string slice_cgroup_path(std::string_view slice) {
  std::string_view name = slice.substr(0, slice.size() - std::string_view(".slice").size());
  if (name.empty() || name == "-") return "/";
  std::string path;
  for (size_t dash = name.find('-');; dash = name.find('-', dash + 1)) {
    path += "/";
    path += name.substr(0, dash);
    path += ".slice";
    if (dash == std::string_view::npos) break;
  }
  return path;
}

std::string_view unit_of(std::string_view path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

std::vector<WatchedCgroup> resolve_watched(
    const OomdDefaults& defaults, const std::vector<std::pair<std::string, ManagedOomSettings>>& units,
    const Snapshot& snapshot) {
  std::vector<std::string> user_managers;
  for (const auto& cgroup : snapshot.cgroups) {
    if (is_user_manager_path(cgroup.path)) user_managers.push_back(cgroup.path);
  }

  // path -> rule (nullopt = explicitly not watched by a named unit)
  std::map<std::string, std::optional<WatchedCgroup>> chosen;
  auto make_rule = [&](const std::string& path, const ManagedOomSettings& settings) {
    WatchedCgroup rule;
    rule.path = path;
    rule.unit = path == "/" ? "-.slice" : std::string(unit_of(path));
    rule.limit_percent = settings.memory_pressure_limit_percent && *settings.memory_pressure_limit_percent > 0
                             ? *settings.memory_pressure_limit_percent
                             : defaults.memory_pressure_limit_percent;
    rule.duration = settings.memory_pressure_duration.value_or(defaults.memory_pressure_duration);
    rule.source = settings.source;
    return rule;
  };
  auto assign = [&](const std::string& path, const ManagedOomSettings& settings) {
    if (!snapshot.find(path)) return;
    if (settings.memory_pressure_kill)
      chosen[path] = make_rule(path, settings);
    else
      chosen[path] = std::nullopt;
  };

  // Pass 1: type drop-ins ("user/slice"); pass 2: named units, which carry their full config.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [key, settings] : units) {
      const auto slash = key.find('/');
      if (slash == std::string::npos) continue;
      const std::string_view scope = std::string_view(key).substr(0, slash);
      const std::string_view unit = std::string_view(key).substr(slash + 1);
      const bool type_only = unit.find('.') == std::string_view::npos;
      if ((pass == 0) != type_only || unit.empty()) continue;
      if (scope == "user") {
        const std::string suffix = type_only ? "." + std::string(unit) : std::string();
        for (const auto& manager : user_managers) {
          for (const auto& cgroup : snapshot.cgroups) {
            if (!is_inside(cgroup.path, manager)) continue;
            const std::string_view name = unit_of(cgroup.path);
            if (type_only ? name.ends_with(suffix) : name == unit) {
              if (type_only && !settings.memory_pressure_kill) continue;  // a type drop-in only adds
              assign(cgroup.path, settings);
            }
          }
        }
      } else if (scope == "system") {
        if (unit == "user@.service") {
          for (const auto& manager : user_managers) assign(manager, settings);
        } else if (unit.starts_with("user@") && unit.ends_with(".service")) {
          for (const auto& manager : user_managers) {
            if (unit_of(manager) == unit) assign(manager, settings);
          }
        } else if (unit.ends_with(".slice")) {
          assign(slice_cgroup_path(unit), settings);
        } else if (!type_only) {
          assign("/system.slice/" + std::string(unit), settings);
        } else if (settings.memory_pressure_kill) {
          // A system type drop-in ("system/slice"): every such unit outside the user managers.
          const std::string suffix = "." + std::string(unit);
          for (const auto& cgroup : snapshot.cgroups) {
            const bool in_user_manager =
                std::any_of(user_managers.begin(), user_managers.end(),
                            [&](const std::string& m) { return is_inside(cgroup.path, m); });
            if (!in_user_manager && unit_of(cgroup.path).ends_with(suffix)) assign(cgroup.path, settings);
          }
        }
      }
    }
  }

  std::vector<WatchedCgroup> result;
  for (const auto& cgroup : snapshot.cgroups) {
    auto it = chosen.find(cgroup.path);
    if (it != chosen.end() && it->second) result.push_back(*it->second);
  }
  return result;
}

}  // namespace guardian
