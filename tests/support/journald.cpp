#include "support/journald.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>

namespace guardian::test {
namespace {

constexpr const char* kSocket = "/run/systemd/journal/socket";

bool socket_accepts() {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, kSocket, sizeof addr.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Journald* Journald::instance(std::string* error) {
  static std::unique_ptr<Journald> journald;
  if (journald) return journald.get();
  auto created = std::unique_ptr<Journald>(new Journald());
  if (!socket_accepts()) {
    if (::geteuid() != 0) {
      *error = "starting systemd-journald for this test needs root";
      return nullptr;
    }
    const char* binary = "/lib/systemd/systemd-journald";
    if (::access(binary, X_OK) != 0) {
      *error = std::string(binary) + " not found (package systemd)";
      return nullptr;
    }
    created->created_run_dir_ = !std::filesystem::exists("/run/systemd/journal");
    auto started = Child::spawn({.argv = {binary}});
    if (!started.ok()) {
      *error = started.error().message;
      return nullptr;
    }
    created->child_.emplace(std::move(*started));
    for (int i = 0; i < 100 && !socket_accepts(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!socket_accepts()) {
      *error = "systemd-journald started but its socket does not accept";
      return nullptr;
    }
  }
  journald = std::move(created);
  return journald.get();
}

Journald::~Journald() {
  if (child_) {
    child_->stop(std::chrono::seconds(5));
    if (created_run_dir_) {
      std::error_code ignored;
      std::filesystem::remove_all("/run/systemd/journal", ignored);
    }
  }
}

std::vector<std::map<std::string, std::string>> Journald::read(const std::string& match_field,
                                                               const std::string& match_value,
                                                               size_t min_count, int timeout_ms) const {
  std::vector<std::map<std::string, std::string>> entries;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  do {
    entries.clear();
    sd_journal* journal = nullptr;
    if (sd_journal_open(&journal, SD_JOURNAL_LOCAL_ONLY) < 0) return entries;
    const std::string match = match_field + "=" + match_value;
    sd_journal_add_match(journal, match.data(), match.size());
    SD_JOURNAL_FOREACH(journal) {
      std::map<std::string, std::string> entry;
      const void* data = nullptr;
      size_t length = 0;
      SD_JOURNAL_FOREACH_DATA(journal, data, length) {
        std::string field(static_cast<const char*>(data), length);
        auto eq = field.find('=');
        if (eq != std::string::npos) entry[field.substr(0, eq)] = field.substr(eq + 1);
      }
      entries.push_back(std::move(entry));
    }
    sd_journal_close(journal);
    if (entries.size() >= min_count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return entries;
}

}  // namespace guardian::test
