// Where `guardian events` reads the journal from, with sd_journal (libsystemd):
//  - the local journal: the user's own journal and, where the user may read it (root, groups
//    systemd-journal/adm), the system journal with systemd-oomd's and the kernel's lines;
//  - a journal namespace (`--namespace`, journalctl's option of that name) or a directory of
//    journal files (`--directory`, e.g. a VM's /var/log/journal copied out);
//  - a file in journal export format (`--from-export`, `journalctl -o export` of another machine).
// Only entries that can matter are read: guardian's MESSAGE_IDs, systemd-oomd's and the kernel's
// lines, and the managers' two OOM MESSAGE_IDs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "review/journal_entry.h"
#include "review/timeline.h"

namespace guardian::review {

struct JournalSourceOptions {
  std::string name_space;   // --namespace
  std::string directory;    // --directory
  std::string export_file;  // --from-export ("-": standard input)
  std::optional<int64_t> since_us;
  std::optional<int64_t> until_us;
};

class JournalSource {
 public:
  static Result<std::unique_ptr<JournalSource>> open(const JournalSourceOptions& options);
  ~JournalSource();
  JournalSource(const JournalSource&) = delete;
  JournalSource& operator=(const JournalSource&) = delete;

  // guardian's state before --since (started/stopping and its level), read backwards from it.
  GuardianState state_before_since();
  // The records from --since (or the start) up to --until (or the end of the journal now).
  std::vector<JournalRecord> read_available();
  // --follow: waits up to `timeout` for new entries and returns their records (possibly none).
  Result<std::vector<JournalRecord>> wait_for_more(std::chrono::milliseconds timeout);
  [[nodiscard]] bool can_follow() const { return journal_ != nullptr; }
  // A hint for the user when the system journal exists but cannot be read (so oomd's and the
  // kernel's lines are missing); empty otherwise.
  [[nodiscard]] const std::string& hint() const { return hint_; }

 private:
  JournalSource() = default;
  struct Closer {
    void operator()(void* journal) const;
  };
  std::optional<JournalRecord> record_here();
  std::unique_ptr<void, Closer> journal_;
  JournalSourceOptions options_;
  std::vector<JournalFields> exported_;  // --from-export
  size_t exported_next_ = 0;
  bool reached_until_ = false;
  std::string hint_;
};

// The journal fields the timeline reads from an entry (everything else is skipped).
bool journal_field_wanted(std::string_view name);

}  // namespace guardian::review
