#include "review/journal_entry.h"

#include <cctype>
#include <charconv>
#include <cstring>

#include "common/event.h"

namespace guardian::review {
namespace {

std::string_view field(const JournalFields& fields, std::string_view name) {
  auto found = fields.find(name);
  return found == fields.end() ? std::string_view() : std::string_view(found->second);
}

std::optional<double> number(std::string_view text) {
  while (!text.empty() && text.back() == '%') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!(value > -1e12 && value < 1e12)) return std::nullopt;  // also rejects NaN
  return value;
}

std::optional<uint64_t> unsigned_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The word that starts at `text` (up to a space or the end).
std::string_view word_at(std::string_view text) { return text.substr(0, text.find(' ')); }

// After `marker` in `text`: the rest, or empty when the marker is not there.
std::optional<std::string_view> after(std::string_view text, std::string_view marker) {
  const size_t at = text.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  return text.substr(at + marker.size());
}

// systemd-oomd's "Killed VICTIM due to memory pressure for WATCHED being P% > L% for > DURATION
// with reclaim activity" (and the "memory used … being more than L%" and "Marked VICTIM for
// killing due to …" forms).
bool parse_oomd_line(std::string_view message, JournalRecord& record) {
  std::string_view rest;
  if (message.starts_with("Killed ")) {
    rest = message.substr(7);
  } else if (message.starts_with("Marked ")) {
    rest = message.substr(7);
  } else {
    return false;
  }
  const size_t due = rest.find(" due to memory ");
  if (due == std::string_view::npos) return false;
  std::string_view victim = rest.substr(0, due);
  if (victim.ends_with(" for killing")) victim.remove_suffix(std::strlen(" for killing"));
  if (victim.empty() || victim.front() != '/' || victim.find(' ') != std::string_view::npos) return false;
  record.cgroup = std::string(victim);
  const std::string_view cause = rest.substr(due + std::strlen(" due to memory "));
  if (cause.starts_with("pressure for ")) {
    record.kill_reason = "memory-pressure";
    const std::string_view watched = word_at(cause.substr(std::strlen("pressure for ")));
    record.watched_cgroup = std::string(watched);
    if (auto being = after(cause, " being ")) {
      record.pressure_percent = number(word_at(*being));
      if (auto limit = after(*being, "% > ")) record.limit_percent = number(word_at(*limit));
    }
    if (auto duration = after(cause, " for > ")) {
      const std::string_view text = word_at(*duration);
      // oomd prints the duration with FORMAT_TIMESPAN: "20s", "1min 30s" is not seen with whole seconds.
      if (text.ends_with("s") && !text.ends_with("ms"))
        record.seconds_over = number(text.substr(0, text.size() - 1));
    }
  } else if (cause.starts_with("used ")) {
    record.kill_reason = "memory-used";
    if (auto more = after(cause, "being more than ")) record.limit_percent = number(word_at(*more));
  } else {
    return false;
  }
  return true;
}

// "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/…,
// task_memcg=/…,task=ffmpeg,pid=4242,uid=1000" (mm/oom_kill.c, dump_oom_summary).
bool parse_kernel_context(std::string_view message, JournalRecord& record) {
  auto list = after(message, "oom-kill:");
  if (!list) return false;
  bool any = false;
  while (!list->empty()) {
    const size_t comma = list->find(',');
    const std::string_view pair = list->substr(0, comma);
    *list = comma == std::string_view::npos ? std::string_view() : list->substr(comma + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = pair.substr(0, equals);
    const std::string_view value = pair.substr(equals + 1);
    if (key == "constraint") {
      record.constraint = std::string(value);
      any = true;
    } else if (key == "task_memcg") {
      record.cgroup = std::string(value);
    } else if (key == "oom_memcg") {
      record.watched_cgroup = std::string(value);
    } else if (key == "task") {
      record.task = std::string(value);
    } else if (key == "pid") {
      record.pid = unsigned_number(value);
    }
  }
  return any && record.pid.has_value();
}

// "Memory cgroup out of memory: Killed process 4242 (ffmpeg) total-vm:912344kB, anon-rss:501232kB, …"
// "Out of memory: Killed process 4242 (ffmpeg) …" (mm/oom_kill.c, __oom_kill_process).
bool parse_kernel_kill(std::string_view message, JournalRecord& record) {
  auto rest = after(message, "Killed process ");
  if (!rest) return false;
  const bool memcg = message.find("Memory cgroup out of memory") != std::string_view::npos;
  if (!memcg && message.find("Out of memory") == std::string_view::npos) return false;
  const size_t open = rest->find(" (");
  if (open == std::string_view::npos) return false;
  record.pid = unsigned_number(rest->substr(0, open));
  if (!record.pid) return false;
  const size_t close = rest->find(')', open);
  if (close == std::string_view::npos) return false;
  record.task = std::string(rest->substr(open + 2, close - open - 2));
  if (auto anon = after(*rest, "anon-rss:")) {
    const std::string_view value = anon->substr(0, anon->find("kB"));
    record.anon_rss_kb = unsigned_number(value);
  }
  record.constraint = memcg ? "CONSTRAINT_MEMCG" : "CONSTRAINT_NONE";
  return true;
}

}  // namespace

std::optional<JournalRecord> parse_journal_entry(const JournalFields& fields, int64_t time_us) {
  JournalRecord record;
  record.time_us = time_us;
  record.boot_id = std::string(field(fields, "_BOOT_ID"));
  record.message = std::string(field(fields, "MESSAGE"));
  const std::string_view id = field(fields, "MESSAGE_ID");
  const std::string_view user_unit = field(fields, "USER_UNIT");
  const std::string_view system_unit = field(fields, "UNIT");

  if (auto type = event_type_from_message_id(id)) {
    record.kind = JournalRecord::Kind::Guardian;
    // The MESSAGE_ID says which event it is; GUARDIAN_EVENT is the same, readable.
    record.event = std::string(event_name(*type));
    auto guardian = [&](std::string_view name) {
      return std::string(field(fields, "GUARDIAN_" + std::string(name)));
    };
    record.level = guardian("LEVEL");
    record.previous_level = guardian("PREVIOUS_LEVEL");
    record.reason = guardian("REASON");
    record.action = guardian("ACTION");
    record.result = guardian("RESULT");
    record.killer = guardian("KILLER");
    record.active_actions = guardian("ACTIVE_ACTIONS");
    record.mode = guardian("MODE");
    record.policy = guardian("POLICY");
    record.cgroup = guardian("CGROUP");
    record.unit = guardian("UNIT");
    record.kill_reason = guardian("REASON");
    record.pressure_percent = number(guardian("FULL_AVG10"));
    record.limit_percent = number(guardian("OOMD_LIMIT_PERCENT"));
    record.seconds_until_kill = number(guardian("SECONDS_UNTIL_KILL"));
    record.seconds_over = number(guardian("SECONDS_OVER"));
    record.processes = unsigned_number(guardian("N_PROCESSES"));
    return record;
  }
  if (id == kManagerOomdKillId || id == kManagerKernelOomId) {
    // The user manager writes USER_UNIT=, the system manager UNIT=.
    record.unit = std::string(user_unit.empty() ? system_unit : user_unit);
    if (record.unit.empty()) return std::nullopt;
    if (id == kManagerOomdKillId) {
      record.kind = JournalRecord::Kind::ManagerOomdKill;
      record.event = "oomd-kill";
      record.killer = "systemd-oomd";
      record.processes = unsigned_number(field(fields, "N_PROCESSES"));
    } else {
      record.kind = JournalRecord::Kind::ManagerKernelOom;
      record.event = "kernel-oom-kill";
      record.killer = "kernel";
    }
    return record;
  }
  const std::string_view identifier = field(fields, "SYSLOG_IDENTIFIER");
  if (identifier == "systemd-oomd" || field(fields, "_COMM") == "systemd-oomd") {
    if (!parse_oomd_line(record.message, record)) return std::nullopt;
    record.kind = JournalRecord::Kind::OomdKill;
    record.event = "oomd-kill";
    record.killer = "systemd-oomd";
    return record;
  }
  if (identifier == "kernel" || field(fields, "_TRANSPORT") == "kernel") {
    record.event = "kernel-oom-kill";
    record.killer = "kernel";
    if (parse_kernel_context(record.message, record)) {
      record.kind = JournalRecord::Kind::KernelOomContext;
      return record;
    }
    if (parse_kernel_kill(record.message, record)) {
      record.kind = JournalRecord::Kind::KernelOomKill;
      return record;
    }
  }
  return std::nullopt;
}

ExportParse parse_journal_export(std::string_view text) {
  ExportParse parsed;
  JournalFields entry;
  size_t entry_start = 0;
  size_t i = 0;
  size_t line = 1;
  auto fail = [&](const std::string& why) {
    parsed.error =
        "line " + std::to_string(line) + " (entry at byte " + std::to_string(entry_start) + "): " + why;
  };
  while (i < text.size()) {
    if (text[i] == '\n') {  // an empty line ends the entry
      if (!entry.empty()) parsed.entries.push_back(std::move(entry));
      entry.clear();
      ++i;
      ++line;
      entry_start = i;
      continue;
    }
    const size_t eol = text.find('\n', i);
    const std::string_view head =
        text.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    const size_t equals = head.find('=');
    if (equals != std::string_view::npos) {
      if (equals == 0) return fail("a field without a name"), parsed;
      entry[std::string(head.substr(0, equals))] = std::string(head.substr(equals + 1));
      if (eol == std::string_view::npos) {
        i = text.size();
      } else {
        i = eol + 1;
        ++line;
      }
      continue;
    }
    // A binary field: NAME\n, 64-bit little-endian size, the bytes, \n.
    if (eol == std::string_view::npos || head.empty()) return fail("a field without '=' or a size"), parsed;
    const size_t size_at = eol + 1;
    if (text.size() - size_at < 8) return fail("a binary field's size is cut off"), parsed;
    uint64_t size = 0;
    for (int b = 7; b >= 0; --b)
      size = (size << 8) | static_cast<unsigned char>(text[size_at + static_cast<size_t>(b)]);
    const size_t data_at = size_at + 8;
    if (size > text.size() - data_at || text.size() - data_at - size < 1 || text[data_at + size] != '\n') {
      return fail("binary field \"" + std::string(head) + "\" is cut off or not followed by a newline"),
             parsed;
    }
    const std::string_view value = text.substr(data_at, size);
    for (char c : value) line += c == '\n' ? 1 : 0;
    entry[std::string(head)] = std::string(value);
    i = data_at + size + 1;
    line += 2;
  }
  if (!entry.empty()) parsed.entries.push_back(std::move(entry));
  return parsed;
}

}  // namespace guardian::review
