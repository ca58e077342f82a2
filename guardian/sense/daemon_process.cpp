#include "sense/daemon_process.h"

#include <dirent.h>

#include <string>
#include <string_view>

#include "common/units.h"

namespace guardian {
namespace {

// The real uid from /proc/PID/status ("Uid:\treal\teffective\tsaved\tfs").
std::optional<uint32_t> real_uid(std::string_view status) {
  const size_t at = status.find("\nUid:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = status.substr(at + 5);
  rest = rest.substr(0, rest.find('\n'));
  rest = trim(rest);
  const auto value = parse_u64(rest.substr(0, rest.find_first_of(" \t")));
  if (!value || *value > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

}  // namespace

std::optional<GuardianProcess> find_guardian_daemon(const HostRoot& host, uint32_t uid, int except_pid) {
  const std::string proc = host.path("/proc");
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) return std::nullopt;
  std::optional<GuardianProcess> found;
  while (const dirent* entry = ::readdir(dir)) {
    const auto pid = parse_u64(entry->d_name);
    if (!pid || *pid == 0 || *pid > INT32_MAX || static_cast<int>(*pid) == except_pid) continue;
    const std::string base = proc + "/" + entry->d_name;
    auto comm = read_file(base + "/comm");
    if (!comm.ok() || trim(*comm) != "guardian") continue;
    // argv, NUL-separated: "guardian\0run\0--policy\0…".
    auto cmdline = read_file(base + "/cmdline");
    if (!cmdline.ok()) continue;
    const std::string_view argv = *cmdline;
    const size_t first_end = argv.find('\0');
    if (first_end == std::string_view::npos) continue;
    const std::string_view second =
        argv.substr(first_end + 1, argv.find('\0', first_end + 1) - first_end - 1);
    if (second != "run") continue;
    auto status = read_file(base + "/status");
    if (!status.ok() || real_uid(*status) != uid) continue;
    auto memory = parse_proc_status_memory(*status);
    if (!memory.ok()) continue;
    found = GuardianProcess{static_cast<int>(*pid), *memory};
    break;
  }
  ::closedir(dir);
  return found;
}

}  // namespace guardian
