// The journal sink: one structured entry per Event (sd_journal_sendv) with MESSAGE_ID,
// MESSAGE, PRIORITY, GUARDIAN_EVENT and GUARDIAN_* fields. Where there is no journal socket
// (these build machines, a container) the same structure goes to stderr, one line per event:
//   guardian: <message> [event=level-changed level=critical …]
#pragma once

#include <cstdio>
#include <string>

#include "common/event.h"

namespace guardian {

class JournalSink : public EventSink {
 public:
  void emit(const Event& event) override;
};

class StderrSink : public EventSink {
 public:
  explicit StderrSink(FILE* out = stderr) : out_(out) {}
  void emit(const Event& event) override;
  static std::string format(const Event& event);

 private:
  FILE* out_;
};

// True when journald's socket exists: libsystemd always sends to /run/systemd/journal/socket.
bool journal_available();

}  // namespace guardian
