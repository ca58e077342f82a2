#include "review/timeline.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/event.h"

namespace guardian::review {
namespace {

std::string last_component(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

std::string killer_event(const std::string& killer) {
  return killer == "kernel" ? "kernel-oom-kill" : "oomd-kill";
}

bool is_kill_record(const JournalRecord& record) {
  return record.kind != JournalRecord::Kind::Guardian || record.event == "oom-kill";
}

unsigned kind_bit(const JournalRecord& record) { return 1U << static_cast<unsigned>(record.kind); }

std::string seen_by_name(JournalRecord::Kind kind) {
  switch (kind) {
    case JournalRecord::Kind::Guardian: return "guardian";
    case JournalRecord::Kind::OomdKill: return "systemd-oomd";
    case JournalRecord::Kind::ManagerOomdKill:
    case JournalRecord::Kind::ManagerKernelOom: return "manager";
    case JournalRecord::Kind::KernelOomContext:
    case JournalRecord::Kind::KernelOomKill: return "kernel";
  }
  return "?";
}

// The text after the first ": " of a guardian message ("elevated/log applied: entered: …" ->
// "entered: …"), which is what an action changed or why it failed.
std::string detail_of(const std::string& message) {
  const std::string line = first_line(message);
  const size_t colon = line.find(": ");
  return colon == std::string::npos ? std::string() : line.substr(colon + 2);
}

void update_state(GuardianState& state, const JournalRecord& record) {
  if (record.kind != JournalRecord::Kind::Guardian) return;
  if (record.event == "started") {
    state.running = true;
    state.level = "normal";
    state.boot_id = record.boot_id;
  } else if (record.event == "stopping") {
    state.running = false;
    state.level = "normal";
  } else if (record.event == "level-changed" && !record.level.empty()) {
    state.level = record.level;
  }
}

bool running_at(const GuardianState& state, const JournalRecord& record) {
  // A guardian started in another boot is not running in this one, whatever it logged last.
  return state.running &&
         (state.boot_id.empty() || record.boot_id.empty() || state.boot_id == record.boot_id);
}

std::string format_mib(uint64_t kb) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(kb) / 1024.0);
  return text;
}

void finalize(TimelineRow& row) {
  if (!row.kill) return;
  KillDetail& kill = *row.kill;
  if (row.unit.empty() && !row.cgroup.empty()) row.unit = last_component(row.cgroup);
  // What guardian was doing: its level and how many actions it had applied (the rows before the
  // kill name them; --json lists them).
  if (kill.guardian_running) {
    row.action = "guardian at " + (kill.guardian_level.empty() ? std::string("normal") : kill.guardian_level);
    const size_t active = kill.active_actions.size();
    if (active > 0) row.action += " (" + std::to_string(active) + " action" + (active == 1 ? "" : "s") + ")";
  } else {
    row.action = "guardian not running";
  }
  row.level = kill.guardian_running ? kill.guardian_level : std::string();
  if (kill.killer == "systemd-oomd") {
    row.result = "killed";
    if (kill.processes) {
      row.result += " " + std::to_string(*kill.processes) + " process" + (*kill.processes == 1 ? "" : "es");
    }
    if (kill.reason == "memory-used") row.result += " (memory and swap used up)";
  } else {
    row.result = "killed " + (kill.task.empty() ? std::string("a process") : kill.task);
    if (kill.pid) row.result += " (pid " + std::to_string(*kill.pid) + ")";
    if (kill.anon_rss_kb) row.result += ", " + format_mib(*kill.anon_rss_kb) + " anon";
    if (kill.reason == "cgroup-limit") row.result += ", at its cgroup's memory limit";
    if (kill.reason == "out-of-memory") row.result += ", the machine was out of memory";
  }
}

}  // namespace

TimelineRow TimelineBuilder::guardian_row(const JournalRecord& record) {
  TimelineRow row;
  row.time_us = record.time_us;
  row.event = record.event;
  row.cgroup = record.cgroup;
  row.unit = record.unit;
  row.full_avg10 = record.pressure_percent;
  row.oomd_limit_percent = record.limit_percent;
  row.seconds_until_kill = record.seconds_until_kill;
  row.message = record.message;
  row.level = state_.running ? state_.level : std::string();
  if (record.event == "level-changed") {
    row.action = (record.previous_level.empty() ? "?" : record.previous_level) + " -> " + record.level;
    row.result = record.reason.empty() ? detail_of(record.message) : record.reason;
  } else if (record.event == "action-applied" || record.event == "action-reverted" ||
             record.event == "action-failed") {
    row.action = record.level.empty() ? record.action : record.level + "/" + record.action;
    const std::string detail = detail_of(record.message);
    row.result = record.result.empty() ? detail : record.result + (detail.empty() ? "" : ": " + detail);
  } else if (record.event == "notify") {
    row.action = record.action;
    row.result = first_line(record.message);
  } else if (record.event == "state-restored") {
    row.result = record.result + (record.message.empty() ? "" : ": " + record.message);
  } else {
    row.result = record.message;  // a multi-line message (a refused policy's errors) prints on one line
  }
  return row;
}

TimelineRow* TimelineBuilder::find_kill(const JournalRecord& record) {
  const std::string event = killer_event(record.killer);
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    TimelineRow& row = *it;
    if (!row.kill || row.event != event) continue;
    if (record.time_us - row.time_us > kMergeWindowUs || row.time_us - record.time_us > kMergeWindowUs)
      continue;
    if ((row.kill->sightings & kind_bit(record)) != 0) {
      continue;  // this party already logged this kill: a second line from it is another kill
    }
    if (row.kill->pid && record.pid) {
      if (*row.kill->pid == *record.pid) return &row;
      continue;
    }
    if (!row.cgroup.empty() && !record.cgroup.empty()) {
      if (row.cgroup == record.cgroup) return &row;
      continue;
    }
    const std::string row_unit = row.unit.empty() ? last_component(row.cgroup) : row.unit;
    const std::string record_unit = record.unit.empty() ? last_component(record.cgroup) : record.unit;
    if (!row_unit.empty() && row_unit == record_unit) return &row;
  }
  return nullptr;
}

void TimelineBuilder::fold(TimelineRow& row, const JournalRecord& record) {
  KillDetail& kill = *row.kill;
  kill.sightings |= kind_bit(record);
  const std::string party = seen_by_name(record.kind);
  if (std::find(kill.seen_by.begin(), kill.seen_by.end(), party) == kill.seen_by.end())
    kill.seen_by.push_back(party);
  row.time_us = std::min(row.time_us, record.time_us);
  if (row.cgroup.empty()) row.cgroup = record.cgroup;
  if (row.unit.empty()) row.unit = record.unit;
  if (!kill.processes) kill.processes = record.processes;
  switch (record.kind) {
    case JournalRecord::Kind::OomdKill:
      row.full_avg10 = record.pressure_percent;
      row.oomd_limit_percent = record.limit_percent;
      row.seconds_until_kill = 0;
      kill.watched_cgroup = record.watched_cgroup;
      kill.reason = record.kill_reason;
      row.message = record.message;  // oomd's line says the most about an oomd kill
      break;
    case JournalRecord::Kind::Guardian:
      kill.guardian_running = true;
      kill.guardian_level = record.level;
      kill.active_actions.clear();
      if (record.active_actions != "none") kill.active_actions = split_list(record.active_actions);
      if (kill.reason.empty() && record.killer == "systemd-oomd") kill.reason = record.kill_reason;
      if (row.message.empty()) row.message = record.message;
      break;
    case JournalRecord::Kind::KernelOomContext:
      kill.pid = record.pid;
      if (kill.task.empty()) kill.task = record.task;
      if (!record.cgroup.empty()) row.cgroup = record.cgroup;
      kill.watched_cgroup = record.watched_cgroup;
      kill.reason = record.constraint == "CONSTRAINT_MEMCG" ? "cgroup-limit" : "out-of-memory";
      if (row.message.empty()) row.message = record.message;
      break;
    case JournalRecord::Kind::KernelOomKill:
      kill.pid = record.pid;
      kill.task = record.task;
      kill.anon_rss_kb = record.anon_rss_kb;
      kill.reason = record.constraint == "CONSTRAINT_MEMCG" ? "cgroup-limit" : "out-of-memory";
      row.message = record.message;  // the kernel's kill line is the one a reader looks for
      break;
    case JournalRecord::Kind::ManagerOomdKill:
    case JournalRecord::Kind::ManagerKernelOom:
      if (row.message.empty()) row.message = record.message;
      break;
  }
}

void TimelineBuilder::add(const JournalRecord& record) {
  if (!is_kill_record(record)) {
    update_state(state_, record);
    pending_.push_back(guardian_row(record));
    return;
  }
  TimelineRow* row = find_kill(record);
  if (row == nullptr) {
    TimelineRow fresh;
    fresh.time_us = record.time_us;
    fresh.event = killer_event(record.killer);
    fresh.kill.emplace();
    fresh.kill->killer = record.killer.empty() ? "systemd-oomd" : record.killer;
    fresh.kill->guardian_running = running_at(state_, record);
    fresh.kill->guardian_level = fresh.kill->guardian_running ? state_.level : std::string();
    // Keep rows in time order: a kill's first sighting can be a little older than the last row.
    auto at = std::find_if(pending_.begin(), pending_.end(),
                           [&](const TimelineRow& other) { return other.time_us > record.time_us; });
    row = &*pending_.insert(at, std::move(fresh));
  }
  fold(*row, record);
}

std::vector<TimelineRow> TimelineBuilder::take_ready(int64_t now_us) {
  std::vector<TimelineRow> ready;
  size_t taken = 0;
  for (; taken < pending_.size(); ++taken) {
    const TimelineRow& row = pending_[taken];
    if (row.kill && now_us - row.time_us < kMergeWindowUs) break;
  }
  for (size_t i = 0; i < taken; ++i) ready.push_back(std::move(pending_[i]));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
  for (auto& row : ready) finalize(row);
  return ready;
}

std::vector<TimelineRow> TimelineBuilder::finish() { return take_ready(INT64_MAX); }

GuardianState guardian_state_after(const std::vector<JournalRecord>& records) {
  GuardianState state;
  for (const auto& record : records) update_state(state, record);
  return state;
}

std::string short_cgroup_name(const std::string& cgroup) {
  // /user.slice/user-UID.slice/user@UID.service/REST -> REST
  const size_t manager = cgroup.find("/user@");
  if (manager == std::string::npos) return cgroup;
  const size_t slash = cgroup.find('/', manager + 1);
  if (slash == std::string::npos || slash + 1 >= cgroup.size()) return cgroup;
  return cgroup.substr(slash + 1);
}

bool TimelineFilter::matches(const TimelineRow& row) const {
  if (since_us && row.time_us < *since_us) return false;
  if (until_us && row.time_us > *until_us) return false;
  if (!events.empty()) {
    const bool wanted = std::any_of(events.begin(), events.end(), [&](const std::string& name) {
      return name == row.event || (name == "oom-kill" && row.kill.has_value());
    });
    if (!wanted) return false;
  }
  if (!units.empty()) {
    std::vector<std::string> names;
    if (!row.unit.empty()) names.push_back(row.unit);
    size_t start = 0;
    while (start < row.cgroup.size()) {
      const size_t slash = row.cgroup.find('/', start);
      const std::string part =
          row.cgroup.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if (!part.empty()) names.push_back(part);
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    const bool wanted = std::any_of(units.begin(), units.end(), [&](const std::string& unit) {
      std::string pattern = unit;
      if (pattern.find_first_of(".*?[") == std::string::npos) pattern += ".service";
      return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
        return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
      });
    });
    if (!wanted) return false;
  }
  return true;
}

std::vector<std::string> timeline_event_names() {
  std::vector<std::string> names;
  for (EventType type : all_event_types()) {
    names.emplace_back(event_name(type));
  }
  names.emplace_back("oomd-kill");
  names.emplace_back("kernel-oom-kill");
  return names;
}

}  // namespace guardian::review
