#include "tell/journal.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <string>
#include <vector>

namespace guardian {

bool journal_available() {
  struct stat st {};
  return ::stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode);
}

void JournalSink::emit(const Event& event) {
  std::vector<std::string> lines;
  lines.reserve(5 + event.fields.size());
  lines.push_back("MESSAGE=" + event.message);
  lines.push_back("MESSAGE_ID=" + std::string(message_id(event.type)));
  lines.push_back("PRIORITY=" + std::to_string(event.priority));
  lines.push_back("SYSLOG_IDENTIFIER=guardian");
  lines.push_back("GUARDIAN_EVENT=" + std::string(event_name(event.type)));
  for (const auto& [name, value] : event.fields) lines.push_back("GUARDIAN_" + name + "=" + value);
  std::vector<iovec> iov(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    iov[i].iov_base = lines[i].data();
    iov[i].iov_len = lines[i].size();
  }
  // Fields may contain newlines (explanations): sd_journal_sendv sends them as binary-safe
  // fields, so nothing needs escaping here.
  if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) {
    StderrSink().emit(event);  // journald went away: keep the record on stderr
  }
}

std::string StderrSink::format(const Event& event) {
  std::string line = "guardian: " + event.message + " [event=" + std::string(event_name(event.type));
  for (const auto& [name, value] : event.fields) {
    line += ' ';
    for (char c : name) line += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    line += '=';
    const bool quote = value.empty() || value.find_first_of(" \t\"") != std::string::npos;
    if (quote) line += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') line += '\\';
      line += c == '\n' ? ' ' : c;
    }
    if (quote) line += '"';
  }
  line += ']';
  return line;
}

void StderrSink::emit(const Event& event) {
  const std::string line = format(event) + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace guardian
