#include "support/fake_clock_journald.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace guardian::test {
namespace {

constexpr const char* kJournald = "/lib/systemd/systemd-journald";

std::string clock_text(int64_t time_us) {
  // libfaketime's absolute form, read in the zone of the process (TZ=UTC below). It reads the
  // seconds as a double: 500 ns more keeps the microsecond from rounding down (…:58.003999).
  const time_t seconds = static_cast<time_t>(time_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06lld500\n", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(time_us % 1'000'000));
  return text;
}

std::string socket_path(const std::string& name_space) {
  return "/run/systemd/journal." + name_space + "/socket";
}

// journald's native protocol (systemd's src/journal/journald-native.c): "NAME=value\n", or for a
// value with a newline "NAME\n" + 64-bit little-endian length + value + "\n".
std::string native_datagram(const std::map<std::string, std::string>& fields) {
  std::string datagram;
  for (const auto& [name, value] : fields) {
    if (name.empty() || name.front() == '_') continue;
    if (value.find('\n') == std::string::npos) {
      datagram += name + "=" + value + "\n";
      continue;
    }
    datagram += name + "\n";
    uint64_t size = value.size();
    for (int i = 0; i < 8; ++i) datagram += static_cast<char>((size >> (8 * i)) & 0xff);
    datagram += value + "\n";
  }
  return datagram;
}

}  // namespace

std::string FakeClockJournald::libfaketime() {
  for (const char* path :
       {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1"}) {
    if (::access(path, R_OK) == 0) return path;
  }
  return {};
}

std::unique_ptr<FakeClockJournald> FakeClockJournald::start(int64_t start_us, std::string* error) {
  if (::geteuid() != 0) {
    *error = "a journald of its own needs root (it creates /run/systemd/journal.NAMESPACE)";
    return nullptr;
  }
  if (::access(kJournald, X_OK) != 0) {
    *error = std::string(kJournald) + " not found (package systemd)";
    return nullptr;
  }
  const std::string faketime = libfaketime();
  if (faketime.empty()) {
    *error = "libfaketime not found (package faketime; scripts/install-deps.sh installs it)";
    return nullptr;
  }
  std::unique_ptr<FakeClockJournald> journald(new FakeClockJournald());
  journald->name_space_ = "guardian-test-" + std::to_string(::getpid());
  char work[] = "/tmp/guardian-journald-XXXXXX";
  if (::mkdtemp(work) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return nullptr;
  }
  journald->work_dir_ = work;
  journald->clock_file_ = journald->work_dir_ + "/now";
  journald->set_clock(start_us);

  const auto env = journald->faked_env();
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    ::execl(kJournald, kJournald, journald->name_space_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  journald->pid_ = pid;
  const std::string socket = socket_path(journald->name_space_);
  for (int i = 0; i < 200 && ::access(socket.c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  if (::access(socket.c_str(), F_OK) != 0) {
    *error = "systemd-journald " + journald->name_space_ + " did not create " + socket;
    return nullptr;
  }
  // The reader must open after journald has created its file: a namespace directory that does not
  // exist yet is not watched, and entries written into it later would never be seen.
  std::string machine_id;
  if (sd_id128_t machine{}; sd_id128_get_machine(&machine) >= 0) {
    char id[SD_ID128_STRING_MAX];
    sd_id128_to_string(machine, id);
    machine_id = id;
  }
  const std::string files[] = {
      "/var/log/journal/" + machine_id + "." + journald->name_space_ + "/system.journal",
      "/run/log/journal/" + machine_id + "." + journald->name_space_ + "/system.journal"};
  for (int i = 0; i < 200 && ::access(files[0].c_str(), F_OK) != 0 && ::access(files[1].c_str(), F_OK) != 0;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  sd_journal* reader = nullptr;
  for (int i = 0; i < 100; ++i) {
    if (sd_journal_open_namespace(&reader, journald->name_space_.c_str(), SD_JOURNAL_LOCAL_ONLY) >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (reader == nullptr) {
    *error = "cannot open journal namespace " + journald->name_space_;
    return nullptr;
  }
  sd_journal_get_fd(reader);  // inotify on the journal directory, so new files are seen
  sd_journal_seek_head(reader);
  journald->reader_ = reader;
  return journald;
}

FakeClockJournald::~FakeClockJournald() {
  if (reader_ != nullptr) sd_journal_close(static_cast<sd_journal*>(reader_));
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  if (!name_space_.empty()) {
    std::filesystem::remove_all("/run/systemd/journal." + name_space_, ignored);
    sd_id128_t machine{};
    if (sd_id128_get_machine(&machine) >= 0) {
      char id[SD_ID128_STRING_MAX];
      sd_id128_to_string(machine, id);
      std::filesystem::remove_all(std::string("/var/log/journal/") + id + "." + name_space_, ignored);
      std::filesystem::remove_all(std::string("/run/log/journal/") + id + "." + name_space_, ignored);
    }
  }
  if (!work_dir_.empty()) std::filesystem::remove_all(work_dir_, ignored);
}

void FakeClockJournald::set_clock(int64_t time_us) {
  const std::string temporary = clock_file_ + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << clock_text(time_us);
  }
  std::filesystem::rename(temporary, clock_file_);  // libfaketime never reads half a line
}

std::map<std::string, std::string> FakeClockJournald::faked_env() const {
  return {
      {"LD_PRELOAD", libfaketime()},
      {"FAKETIME_TIMESTAMP_FILE", clock_file_},
      {"FAKETIME_NO_CACHE", "1"},
      // Only the wall clock moves: journald's timers and the monotonic stamps stay real.
      {"DONT_FAKE_MONOTONIC", "1"},
      {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
      {"TZ", "UTC"},
  };
}

bool FakeClockJournald::send(const std::map<std::string, std::string>& fields, int64_t time_us,
                             std::string* error) {
  set_clock(time_us);
  const std::string datagram = native_datagram(fields);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket_path(name_space_);
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const ssize_t sent = ::sendto(fd, datagram.data(), datagram.size(), 0,
                                reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::close(fd);
  if (sent != static_cast<ssize_t>(datagram.size())) {
    *error = std::string("sendto ") + path + ": " + std::strerror(errno);
    return false;
  }
  // The clock must not move on before journald has stamped this entry.
  auto* reader = static_cast<sd_journal*>(reader_);
  for (int i = 0; i < 400; ++i) {
    sd_journal_process(reader);
    while (sd_journal_next(reader) > 0) {
      uint64_t realtime = 0;
      if (sd_journal_get_realtime_usec(reader, &realtime) >= 0 && static_cast<int64_t>(realtime) == time_us)
        return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "journald did not write the entry of " + clock_text(time_us);
  return false;
}

}  // namespace guardian::test
