// Where things are on this host, found once at start: the cgroup2 mount (from mountinfo, else
// where systemd mounts it), the user manager's cgroup, whether the memory controller is on, and
// why guardian falls back to system-only mode when it cannot watch cgroups.
#include "sense/host_layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace guardian {
namespace {

constexpr std::string_view kSystemOnlyTail =
    ": system-only mode, reading /proc/pressure/memory and /proc/meminfo";

// A mount from /proc/self/mountinfo (proc(5)): "36 35 0:30 / /sys/fs/cgroup rw,… - cgroup2 cgroup2 rw".
struct MountEntry {
  std::string mount_point;
  std::string fs_type;
  std::string super_options;
};

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string unescape_mount_field(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  const auto octal = [&](size_t k) { return k < field.size() && field[k] >= '0' && field[k] <= '7'; };
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(
          static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    std::vector<std::string_view> fields;
    while (!line.empty()) {
      const size_t space = line.find(' ');
      fields.push_back(line.substr(0, space));
      line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    }
    // Fields: id parent major:minor root mount-point options [optional…] - fstype source super-options
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4 || dash - fields.begin() < 6)
      continue;
    mounts.push_back({unescape_mount_field(fields[4]), std::string(dash[1]), std::string(dash[3])});
  }
  return mounts;
}

bool has_word(std::string_view text, std::string_view word) {
  while (!text.empty()) {
    const size_t sep = text.find_first_of(" ,\n");
    if (text.substr(0, sep) == word) return true;
    if (sep == std::string_view::npos) break;
    text = text.substr(sep + 1);
  }
  return false;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

HostLayout discover_host_layout(const HostRoot& host, std::optional<uint32_t> uid_override) {
  HostLayout layout;
  // "/sys/fs/cgroup" + "/user.slice/…"; a cgroup2 mounted at "/" (some containers) gives "//…",
  // which the kernel resolves the same.
  auto cgroup_host_path = [&](std::string_view relative) {
    return layout.cgroup2_mount + std::string(relative);
  };
  layout.uid = uid_override ? *uid_override : static_cast<uint32_t>(::getuid());
  std::vector<MountEntry> mounts;
  if (auto mountinfo = read_file(host.path("/proc/self/mountinfo"))) mounts = parse_mountinfo(*mountinfo);
  for (const auto& mount : mounts) {
    if (mount.fs_type == "cgroup2") {
      layout.cgroup2_mount = mount.mount_point;
      break;
    }
  }
  if (layout.cgroup2_mount.empty()) {
    // No (readable) mountinfo: look where systemd mounts it, unified first, then hybrid.
    for (const char* candidate : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
      if (::access(host.path(std::string(candidate) + "/cgroup.controllers").c_str(), R_OK) == 0) {
        layout.cgroup2_mount = candidate;
        break;
      }
    }
  }
  if (layout.cgroup2_mount.empty()) {
    layout.system_only_reason =
        "no cgroup2 mount found (looked in /proc/self/mountinfo, /sys/fs/cgroup and "
        "/sys/fs/cgroup/unified)" +
        std::string(kSystemOnlyTail);
    return layout;
  }
  const std::string mount_name = layout.cgroup2_mount;

  const std::string uid = std::to_string(layout.uid);
  const std::string manager = "/user.slice/user-" + uid + ".slice/user@" + uid + ".service";
  if (is_directory(host.path(cgroup_host_path(manager)))) layout.user_manager_path = manager;

  auto root_controllers = read_file(host.path(cgroup_host_path("/cgroup.controllers")));
  layout.memory_controller = root_controllers && has_word(*root_controllers, "memory");
  if (!layout.memory_controller && !layout.user_manager_path.empty()) {
    // Inside a cgroup namespace or container the root may not list it, but the manager does.
    auto manager_controllers = read_file(host.path(cgroup_host_path(manager + "/cgroup.controllers")));
    layout.memory_controller = manager_controllers && has_word(*manager_controllers, "memory");
  }
  if (!layout.memory_controller) {
    const bool memory_on_v1 = std::any_of(mounts.begin(), mounts.end(), [](const MountEntry& m) {
      return m.fs_type == "cgroup" && has_word(m.super_options, "memory");
    });
    layout.system_only_reason =
        "cgroup2 at " + mount_name + " has no memory controller " +
        (memory_on_v1 ? "(hybrid host, memory is on cgroup v1)" : "(not enabled in cgroup.controllers)") +
        std::string(kSystemOnlyTail);
    return layout;
  }
  if (layout.user_manager_path.empty()) {
    layout.system_only_reason = "no user manager cgroup " + mount_name + manager +
                                " (is systemd --user running for uid " + uid + "?)" +
                                std::string(kSystemOnlyTail);
  }
  return layout;
}

}  // namespace guardian
