#include "sense/kill_watch.h"

#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstring>

#include "common/units.h"

namespace guardian {

namespace {
std::string_view last_component_view(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
std::string last_component(const std::string& path) { return std::string(last_component_view(path)); }
}  // namespace

std::optional<KillSeen> kill_from_journal_fields(const std::map<std::string, std::string>& fields,
                                                 MonoTime seen) {
  auto field = [&](const char* name) -> std::string {
    auto found = fields.find(name);
    return found == fields.end() ? std::string() : found->second;
  };
  const std::string id = field("MESSAGE_ID");
  KillSeen kill;
  kill.source = KillSeen::Source::Journal;
  kill.seen = seen;
  if (id == kOomdKillMessageId) {
    kill.killer = KillSeen::Killer::SystemdOomd;
    kill.reason = "memory-pressure";
    if (auto n = parse_u64(field("N_PROCESSES"))) kill.processes = *n;
  } else if (id == kKernelOomMessageId) {
    kill.killer = KillSeen::Killer::Kernel;
    kill.reason = "oom-kill";
  } else {
    return std::nullopt;
  }
  // The user manager logs USER_UNIT=, the system manager UNIT=.
  kill.unit = field("USER_UNIT");
  if (kill.unit.empty()) kill.unit = field("UNIT");
  if (kill.unit.empty()) return std::nullopt;  // not from a manager: nothing to attribute it to
  return kill;
}

std::vector<KillSeen> kills_from_memory_events(const Snapshot& before, const Snapshot& after) {
  std::map<std::string, uint64_t> previous;
  for (const auto& cgroup : before.cgroups) previous[cgroup.path] = cgroup.memory.events_oom_kill;
  std::map<std::string, uint64_t> rise;
  for (const auto& cgroup : after.cgroups) {
    auto found = previous.find(cgroup.path);
    // A cgroup new since the last snapshot: its counter started at 0 with it.
    const uint64_t old = found == previous.end() ? 0 : found->second;
    if (cgroup.memory.events_oom_kill > old) rise[cgroup.path] = cgroup.memory.events_oom_kill - old;
  }
  std::vector<KillSeen> kills;
  for (const auto& [path, delta] : rise) {
    // Subtract what the direct children account for.
    uint64_t children = 0;
    const std::string prefix = path + "/";
    for (const auto& [other, other_delta] : rise) {
      if (other.starts_with(prefix) && other.find('/', prefix.size()) == std::string::npos)
        children += other_delta;
    }
    if (delta <= children) continue;
    KillSeen kill;
    kill.killer = KillSeen::Killer::Kernel;
    kill.source = KillSeen::Source::MemoryEvents;
    kill.cgroup = path;
    kill.unit = last_component(path);
    kill.reason = "oom-kill";
    kill.processes = delta - children;
    kill.seen = after.mono;
    kills.push_back(std::move(kill));
  }
  return kills;
}

void kill_from_helper(const helper_wire::KernelOomKill& kill, KillSeen& into) {
  into.killer = KillSeen::Killer::Kernel;
  into.source = KillSeen::Source::Helper;
  into.cgroup.assign(kill.cgroup);
  into.unit.assign(last_component_view(kill.cgroup));
  into.reason.assign("oom-kill");
  into.processes = 1;
  into.seen = MonoTime(std::chrono::nanoseconds(kill.ts_ns));
}

void kill_from_helper(const helper_wire::OomdKill& kill, KillSeen& into) {
  into.killer = KillSeen::Killer::SystemdOomd;
  into.source = KillSeen::Source::Helper;
  into.cgroup.assign(kill.cgroup);
  into.unit.assign(last_component_view(kill.cgroup));
  into.reason.clear();
  into.processes.reset();
  into.seen = MonoTime(std::chrono::nanoseconds(kill.ts_ns));
}

KillSeen kill_from_helper(const helper_wire::KernelOomKill& kill) {
  KillSeen seen;
  kill_from_helper(kill, seen);
  return seen;
}

KillSeen kill_from_helper(const helper_wire::OomdKill& kill) {
  KillSeen seen;
  kill_from_helper(kill, seen);
  return seen;
}

namespace {
bool is_under(std::string_view path, std::string_view ancestor) {
  return path.size() > ancestor.size() && path.starts_with(ancestor) && path[ancestor.size()] == '/';
}

// memory.events names the deepest cgroup *still there* at the next sample: a leaf that systemd
// removed at once (a collected transient unit, the VM test bed's OOM hogs) is counted in its parent.
// guardian-helper saw the same kill in the leaf, tens of ms earlier, or could not resolve the leaf
// at all (an empty path). So a memory.events sighting at P is the same kill as another source's
// sighting in P or below it, or as the helper's unresolved one. Two memory.events sightings are
// never merged: the same sample already subtracted the children's share from each parent.
bool same_kill_counted_in_ancestor(const KillSeen& counted, const KillSeen& other) {
  if (counted.source != KillSeen::Source::MemoryEvents || other.source == KillSeen::Source::MemoryEvents)
    return false;
  if (other.cgroup.empty()) return other.source == KillSeen::Source::Helper;
  return is_under(other.cgroup, counted.cgroup);
}

bool same_target(const KillSeen& a, const KillSeen& b) {
  if (same_kill_counted_in_ancestor(a, b) || same_kill_counted_in_ancestor(b, a)) return true;
  if (!a.cgroup.empty() && !b.cgroup.empty()) return a.cgroup == b.cgroup;
  const std::string& unit_a = a.unit.empty() ? last_component(a.cgroup) : a.unit;
  const std::string& unit_b = b.unit.empty() ? last_component(b.cgroup) : b.unit;
  return !unit_a.empty() && unit_a == unit_b;
}
}  // namespace

std::optional<KillSeen> KillMerger::offer(const KillSeen& kill) {
  while (!recent_.empty() && kill.seen - recent_.front().seen > window_) recent_.pop_front();
  for (auto& earlier : recent_) {
    if (earlier.killer != kill.killer || !same_target(earlier, kill)) continue;
    if (kill.seen - earlier.seen > window_ || earlier.seen - kill.seen > window_) continue;
    // Another sighting: keep what it adds.
    if (earlier.cgroup.empty()) earlier.cgroup = kill.cgroup;
    if (!earlier.processes) earlier.processes = kill.processes;
    if (earlier.reason.empty()) earlier.reason = kill.reason;
    return std::nullopt;
  }
  KillSeen stored = kill;
  if (stored.unit.empty()) stored.unit = last_component(stored.cgroup);
  recent_.push_back(stored);
  return stored;
}

Event kill_event(const KillSeen& kill, const std::string& level,
                 const std::vector<std::string>& active_actions) {
  const bool oomd = kill.killer == KillSeen::Killer::SystemdOomd;
  std::string where = kill.unit.empty() ? kill.cgroup : kill.unit;
  // guardian-helper resolves a cgroup's path after the kill; a unit whose cgroup systemd removed
  // at once (a --collect'ed transient service) is gone by then (seen in the VM test bed).
  if (where.empty()) where = "a cgroup already removed";
  std::string message = (oomd ? "systemd-oomd killed " : "the kernel OOM killer killed in ") + where;
  if (kill.processes)
    message += " (" + std::to_string(*kill.processes) + " process" + (*kill.processes == 1 ? "" : "es") + ")";
  message += oomd && !kill.reason.empty() ? " because of " + kill.reason : "";
  message += "; guardian was at level " + level;
  Event event{EventType::OomKill, Priority::Warning, message, {}};
  event.with("KILLER", oomd ? "systemd-oomd" : "kernel");
  if (!kill.cgroup.empty()) event.with("CGROUP", kill.cgroup);
  if (!kill.unit.empty()) event.with("UNIT", kill.unit);
  if (!kill.reason.empty()) event.with("REASON", kill.reason);
  if (kill.processes) event.with("N_PROCESSES", std::to_string(*kill.processes));
  event.with("LEVEL", level);
  std::string actions;
  for (const auto& action : active_actions) actions += (actions.empty() ? "" : ",") + action;
  event.with("ACTIVE_ACTIONS", actions.empty() ? "none" : actions);
  const char* source = kill.source == KillSeen::Source::OomdSignal     ? "dbus-signal"
                       : kill.source == KillSeen::Source::Journal      ? "journal"
                       : kill.source == KillSeen::Source::MemoryEvents ? "memory.events"
                                                                       : "guardian-helper";
  event.with("SEEN_BY", source);
  return event;
}

// ---------------------------------------------------------------- JournalKillReader

void JournalKillReader::sd_journal_deleter::operator()(void* journal) const {
  sd_journal_close(static_cast<sd_journal*>(journal));
}

Result<std::unique_ptr<JournalKillReader>> JournalKillReader::open() {
  sd_journal* journal = nullptr;
  int r = sd_journal_open(&journal, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0) return make_error(std::string("opening the journal: ") + std::strerror(-r));
  std::unique_ptr<JournalKillReader> reader(new JournalKillReader());
  reader->journal_.reset(journal);
  const std::string oomd = "MESSAGE_ID=" + std::string(kOomdKillMessageId);
  const std::string kernel = "MESSAGE_ID=" + std::string(kKernelOomMessageId);
  if ((r = sd_journal_add_match(journal, oomd.c_str(), 0)) < 0 ||
      (r = sd_journal_add_disjunction(journal)) < 0 ||
      (r = sd_journal_add_match(journal, kernel.c_str(), 0)) < 0) {
    return make_error(std::string("journal match: ") + std::strerror(-r));
  }
  // Only what comes after guardian started: kills before it are `guardian events`' business.
  if ((r = sd_journal_seek_tail(journal)) < 0)
    return make_error(std::string("journal seek: ") + std::strerror(-r));
  sd_journal_previous(journal);
  if ((r = sd_journal_get_fd(journal)) < 0)
    return make_error(std::string("journal fd: ") + std::strerror(-r));
  return reader;
}

JournalKillReader::~JournalKillReader() = default;

int JournalKillReader::fd() const { return sd_journal_get_fd(static_cast<sd_journal*>(journal_.get())); }

std::vector<KillSeen> JournalKillReader::read_new(MonoTime now) {
  auto* journal = static_cast<sd_journal*>(journal_.get());
  std::vector<KillSeen> kills;
  sd_journal_process(journal);
  while (sd_journal_next(journal) > 0) {
    std::map<std::string, std::string> fields;
    const void* data = nullptr;
    size_t length = 0;
    SD_JOURNAL_FOREACH_DATA(journal, data, length) {
      std::string_view field(static_cast<const char*>(data), length);
      const auto equals = field.find('=');
      if (equals == std::string_view::npos) continue;
      const std::string_view name = field.substr(0, equals);
      if (name == "MESSAGE_ID" || name == "UNIT" || name == "USER_UNIT" || name == "N_PROCESSES") {
        fields.emplace(std::string(name), std::string(field.substr(equals + 1)));
      }
    }
    if (auto kill = kill_from_journal_fields(fields, now)) kills.push_back(std::move(*kill));
  }
  return kills;
}

}  // namespace guardian
