// OOM kills, from every place they show up, as one stream of KillSeen with duplicates merged:
//  - systemd-oomd's D-Bus signal org.freedesktop.oom1.Manager.Killed(s cgroup, s reason)
//    (systemd >= 252; any user receives it, ≈ 0.1 s before the journal says anything);
//  - the manager's journal entry MESSAGE_ID=d989611b15e44c9dbf31e3c81256e4ed
//    ("systemd-oomd killed N process(es) in this unit", fields N_PROCESSES, UNIT or USER_UNIT);
//  - the kernel OOM killer: the manager's MESSAGE_ID=fe6faa94e7774663a0da52717891d8ef
//    ("A process of this unit has been killed by the OOM killer", UNIT or USER_UNIT) and the
//    oom_kill counter of memory.events rising;
//  - guardian-helper's BPF probes (when it runs): the kernel's OOM-kill victim and systemd-oomd's
//    SIGKILLs, stamped by the kernel the moment they happen (tens of ms before any of the above).
// Seen on Debian 12's 252: Killed signal, then oomd's own log line, then the manager's
// d989611b entry for the same unit — one kill, three sightings. KillMerger turns them into one.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "common/fd.h"
#include "common/helper_wire.h"
#include "common/result.h"
#include "sense/snapshot.h"

namespace guardian {

inline constexpr std::string_view kOomdKillMessageId = "d989611b15e44c9dbf31e3c81256e4ed";
inline constexpr std::string_view kKernelOomMessageId = "fe6faa94e7774663a0da52717891d8ef";

struct KillSeen {
  enum class Killer { SystemdOomd, Kernel } killer = Killer::SystemdOomd;
  enum class Source { OomdSignal, Journal, MemoryEvents, Helper } source = Source::OomdSignal;
  std::string cgroup;                 // "/user.slice/…/app.slice/jellyfin.service" when known
  std::string unit;                   // "jellyfin.service" when known (journal), else the cgroup's last part
  std::string reason;                 // oomd: "memory-pressure" / "memory-used"; kernel: "oom-kill"
  std::optional<uint64_t> processes;  // N_PROCESSES (oomd) or the oom_kill delta (kernel)
  MonoTime seen{};
};

// A journal entry's fields -> KillSeen, or nullopt when it is not an OOM-kill entry.
// `fields` as sd_journal gives them: "MESSAGE_ID" -> "d989…", "USER_UNIT" -> "jellyfin.service".
std::optional<KillSeen> kill_from_journal_fields(const std::map<std::string, std::string>& fields,
                                                 MonoTime seen);

// Kernel OOM kills from memory.events between two snapshots. memory.events is hierarchical (a
// kill in a leaf counts in every ancestor), so only cgroups whose rise is not explained by their
// children are reported.
std::vector<KillSeen> kills_from_memory_events(const Snapshot& before, const Snapshot& after);

// guardian-helper's kill events as sightings, `seen` the kernel's CLOCK_MONOTONIC stamp (the
// clock of MonoTime). One event per killed process: the merger makes one kill of them. An oomd
// kill's reason is not in the signal; the D-Bus or journal sighting that follows cannot add it to
// the event already told, so it stays empty.
KillSeen kill_from_helper(const helper_wire::KernelOomKill& kill);
KillSeen kill_from_helper(const helper_wire::OomdKill& kill);
// The same into `into`, refilling its strings in place: the loop hands a relayed kill on with no
// heap allocation (a repeat the merger folds into a kill already told costs nothing).
void kill_from_helper(const helper_wire::KernelOomKill& kill, KillSeen& into);
void kill_from_helper(const helper_wire::OomdKill& kill, KillSeen& into);

// Merges sightings of the same kill: same killer and same unit (or one cgroup path ending in the
// other's unit) within `window`; a memory.events sighting in an ancestor of the other's cgroup
// too (the killed leaf was gone before the sample). The first sighting is reported; later ones
// only fill in fields.
class KillMerger {
 public:
  explicit KillMerger(std::chrono::milliseconds window = std::chrono::milliseconds(10'000))
      : window_(window) {}
  // Returns the kill when it is new; nullopt when it is another sighting of a recent one.
  std::optional<KillSeen> offer(const KillSeen& kill);

 private:
  std::chrono::milliseconds window_;
  std::deque<KillSeen> recent_;
};

// The guardian event for a kill, with what guardian was doing at that moment.
Event kill_event(const KillSeen& kill, const std::string& level,
                 const std::vector<std::string>& active_actions);

// Follows the journal for the two MESSAGE_IDs above, from now on (sd_journal, libsystemd).
// Non-blocking: fd() goes to the daemon loop's poll; read_new() on readiness.
class JournalKillReader {
 public:
  // Opens the local journal (the user's and the system's, as far as the user may read them).
  static Result<std::unique_ptr<JournalKillReader>> open();
  ~JournalKillReader();
  JournalKillReader(const JournalKillReader&) = delete;
  JournalKillReader& operator=(const JournalKillReader&) = delete;

  [[nodiscard]] int fd() const;
  // Entries that arrived since the last call (after sd_journal_process).
  std::vector<KillSeen> read_new(MonoTime now);

 private:
  JournalKillReader() = default;
  struct sd_journal_deleter {
    void operator()(void* journal) const;
  };
  std::unique_ptr<void, sd_journal_deleter> journal_;
};

}  // namespace guardian
