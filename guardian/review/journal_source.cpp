#include "review/journal_source.h"

#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "common/event.h"

namespace guardian::review {
namespace {

// The matches: any one of them lets an entry through. guardian's events by their MESSAGE_IDs
// (units/guardian.catalog), systemd-oomd's lines and the kernel's by who wrote them (they carry no
// MESSAGE_ID), the managers' entries about oomd and kernel kills by theirs.
std::vector<std::string> journal_matches() {
  std::vector<std::string> matches;
  for (EventType type : all_event_types()) matches.push_back("MESSAGE_ID=" + std::string(message_id(type)));
  matches.push_back("MESSAGE_ID=" + std::string(kManagerOomdKillId));
  matches.push_back("MESSAGE_ID=" + std::string(kManagerKernelOomId));
  matches.emplace_back("SYSLOG_IDENTIFIER=systemd-oomd");
  matches.emplace_back("_COMM=systemd-oomd");
  matches.emplace_back("SYSLOG_IDENTIFIER=kernel");
  matches.emplace_back("_TRANSPORT=kernel");
  return matches;
}

sd_journal* as_journal(void* journal) { return static_cast<sd_journal*>(journal); }

Result<void> add_matches(sd_journal* journal) {
  const auto matches = journal_matches();
  for (size_t i = 0; i < matches.size(); ++i) {
    if (i > 0) {
      if (int r = sd_journal_add_disjunction(journal); r < 0)
        return make_error(std::string("journal match: ") + std::strerror(-r));
    }
    if (int r = sd_journal_add_match(journal, matches[i].c_str(), 0); r < 0)
      return make_error(std::string("journal match: ") + std::strerror(-r));
  }
  return {};
}

int64_t realtime_of(const JournalFields& fields) {
  auto found = fields.find("__REALTIME_TIMESTAMP");
  if (found == fields.end()) return 0;
  try {
    return std::max<int64_t>(0, std::stoll(found->second));
  } catch (...) {
    return 0;  // not a number: sorted first, shown at the epoch
  }
}

// The system journal exists but this user may not read it: say what is missing and how to see it.
std::string system_journal_hint() {
  sd_id128_t machine{};
  if (sd_id128_get_machine(&machine) < 0) return {};
  char id[SD_ID128_STRING_MAX];
  sd_id128_to_string(machine, id);
  for (const char* base : {"/var/log/journal/", "/run/log/journal/"}) {
    const std::string path = std::string(base) + id + "/system.journal";
    if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), R_OK) != 0) {
      return "guardian events: the system journal (" + path +
             ") is not readable for you, so systemd-oomd's own lines (pressure at the kill) and the "
             "kernel's OOM kills are missing; the user manager's entries still show oomd's kills in your "
             "units. To see everything: sudo usermod -aG systemd-journal $USER (then log in again).";
    }
  }
  return {};
}

}  // namespace

bool journal_field_wanted(std::string_view name) {
  return name.starts_with("GUARDIAN_") || name == "MESSAGE" || name == "MESSAGE_ID" ||
         name == "SYSLOG_IDENTIFIER" || name == "_COMM" || name == "_TRANSPORT" || name == "_BOOT_ID" ||
         name == "UNIT" || name == "USER_UNIT" || name == "N_PROCESSES";
}

void JournalSource::Closer::operator()(void* journal) const { sd_journal_close(as_journal(journal)); }

JournalSource::~JournalSource() = default;

Result<std::unique_ptr<JournalSource>> JournalSource::open(const JournalSourceOptions& options) {
  std::unique_ptr<JournalSource> source(new JournalSource());
  source->options_ = options;
  if (!options.export_file.empty()) {
    std::string text;
    if (options.export_file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(options.export_file, std::ios::binary);
      if (!in) return make_error(options.export_file + ": " + std::strerror(errno));
      std::ostringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    ExportParse parsed = parse_journal_export(text);
    if (!parsed.error.empty()) return make_error(options.export_file + ": " + parsed.error);
    source->exported_ = std::move(parsed.entries);
    std::stable_sort(
        source->exported_.begin(), source->exported_.end(),
        [](const JournalFields& a, const JournalFields& b) { return realtime_of(a) < realtime_of(b); });
    return source;
  }
  sd_journal* journal = nullptr;
  int r = 0;
  std::string what;
  if (!options.directory.empty()) {
    what = "journal directory " + options.directory;
    r = sd_journal_open_directory(&journal, options.directory.c_str(), 0);
  } else if (!options.name_space.empty()) {
    what = "journal namespace " + options.name_space;
    r = sd_journal_open_namespace(&journal, options.name_space.c_str(), SD_JOURNAL_LOCAL_ONLY);
  } else {
    what = "the journal";
    r = sd_journal_open(&journal, SD_JOURNAL_LOCAL_ONLY);
    source->hint_ = system_journal_hint();
  }
  if (r < 0) return make_error("opening " + what + ": " + std::strerror(-r));
  source->journal_.reset(journal);
  if (auto matched = add_matches(journal); !matched) return matched.error();
  r = options.since_us ? sd_journal_seek_realtime_usec(journal, static_cast<uint64_t>(*options.since_us))
                       : sd_journal_seek_head(journal);
  if (r < 0) return make_error("seeking in " + what + ": " + std::strerror(-r));
  return source;
}

std::optional<JournalRecord> JournalSource::record_here() {
  sd_journal* journal = as_journal(journal_.get());
  uint64_t realtime = 0;
  if (sd_journal_get_realtime_usec(journal, &realtime) < 0) return std::nullopt;
  JournalFields fields;
  const void* data = nullptr;
  size_t length = 0;
  SD_JOURNAL_FOREACH_DATA(journal, data, length) {
    const std::string_view item(static_cast<const char*>(data), length);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = item.substr(0, equals);
    if (journal_field_wanted(name)) fields.emplace(std::string(name), std::string(item.substr(equals + 1)));
  }
  // __REALTIME_TIMESTAMP: when journald wrote the entry, which is also what --since/--until
  // (sd_journal_seek_realtime_usec) compare with, as in journalctl.
  return parse_journal_entry(fields, static_cast<int64_t>(realtime));
}

GuardianState JournalSource::state_before_since() {
  if (!options_.since_us) return {};
  std::vector<JournalRecord> before;  // newest first
  if (journal_) {
    sd_journal* journal = as_journal(journal_.get());
    // Walk back from --since until guardian's last start or stop; at most a day's worth of
    // entries, so a journal without guardian does not make this read everything.
    size_t looked = 0;
    while (looked++ < 100'000 && sd_journal_previous(journal) > 0) {
      uint64_t realtime = 0;
      if (sd_journal_get_realtime_usec(journal, &realtime) < 0 ||
          static_cast<int64_t>(realtime) >= *options_.since_us)
        continue;
      auto record = record_here();
      if (!record || record->kind != JournalRecord::Kind::Guardian) continue;
      before.push_back(*record);
      if (record->event == "started" || record->event == "stopping") break;
    }
    sd_journal_seek_realtime_usec(journal, static_cast<uint64_t>(*options_.since_us));
  } else {
    for (const auto& fields : exported_) {
      const int64_t time = realtime_of(fields);
      if (time >= *options_.since_us) break;
      if (auto record = parse_journal_entry(fields, time);
          record && record->kind == JournalRecord::Kind::Guardian)
        before.insert(before.begin(), *record);
    }
  }
  std::reverse(before.begin(), before.end());
  return guardian_state_after(before);
}

std::vector<JournalRecord> JournalSource::read_available() {
  std::vector<JournalRecord> records;
  if (!journal_) {
    for (; exported_next_ < exported_.size(); ++exported_next_) {
      const JournalFields& fields = exported_[exported_next_];
      const int64_t time = realtime_of(fields);
      if (options_.since_us && time < *options_.since_us) continue;
      if (options_.until_us && time > *options_.until_us) break;
      if (auto record = parse_journal_entry(fields, time)) records.push_back(std::move(*record));
    }
    return records;
  }
  sd_journal* journal = as_journal(journal_.get());
  while (!reached_until_ && sd_journal_next(journal) > 0) {
    uint64_t realtime = 0;
    if (sd_journal_get_realtime_usec(journal, &realtime) < 0) continue;
    if (options_.since_us && static_cast<int64_t>(realtime) < *options_.since_us) continue;
    if (options_.until_us && static_cast<int64_t>(realtime) > *options_.until_us) {
      reached_until_ = true;
      break;
    }
    if (auto record = record_here()) records.push_back(std::move(*record));
  }
  return records;
}

Result<std::vector<JournalRecord>> JournalSource::wait_for_more(std::chrono::milliseconds timeout) {
  if (!journal_) return make_error("--follow needs a journal, not an export file");
  const int r = sd_journal_wait(as_journal(journal_.get()), static_cast<uint64_t>(timeout.count()) * 1000);
  if (r < 0) return make_error(std::string("waiting for the journal: ") + std::strerror(-r));
  return read_available();
}

}  // namespace guardian::review
