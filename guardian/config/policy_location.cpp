#include "config/policy_location.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace guardian {
namespace {

constexpr std::string_view kPolicyFile = "/guardian/policy.toml";

bool absolute(const char* value) { return value != nullptr && value[0] == '/'; }

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

ConfigDirs ConfigDirs::from(const char* xdg_config_home, const char* home, const char* xdg_config_dirs) {
  ConfigDirs dirs;
  if (absolute(xdg_config_home))
    dirs.config_home = without_trailing_slashes(xdg_config_home);
  else if (absolute(home))
    dirs.config_home = without_trailing_slashes(std::string(home) + "/.config");
  const std::string_view list = xdg_config_dirs != nullptr ? xdg_config_dirs : "";
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(':', start), list.size());
    const std::string_view entry = list.substr(start, end - start);
    if (!entry.empty() && entry.front() == '/')
      dirs.config_dirs.push_back(without_trailing_slashes(std::string(entry)));
    start = end + 1;
  }
  // "If $XDG_CONFIG_DIRS is either not set or empty, a value equal to /etc/xdg should be used";
  // a list of relative entries only is as good as empty.
  if (dirs.config_dirs.empty()) dirs.config_dirs.emplace_back("/etc/xdg");
  return dirs;
}

ConfigDirs ConfigDirs::from_environment() {
  // NOLINTBEGIN(concurrency-mt-unsafe): read once at start, before any thread exists
  return from(std::getenv("XDG_CONFIG_HOME"), std::getenv("HOME"), std::getenv("XDG_CONFIG_DIRS"));
  // NOLINTEND(concurrency-mt-unsafe)
}

const char* policy_origin_name(PolicyOrigin origin) {
  switch (origin) {
    case PolicyOrigin::Option: return "--policy";
    case PolicyOrigin::User: return "user";
    case PolicyOrigin::System: return "system";
    case PolicyOrigin::Embedded: return "embedded";
  }
  return "embedded";
}

std::vector<std::pair<PolicyOrigin, std::string>> policy_candidates(const ConfigDirs& dirs) {
  std::vector<std::pair<PolicyOrigin, std::string>> out;
  if (!dirs.config_home.empty())
    out.emplace_back(PolicyOrigin::User, dirs.config_home + std::string(kPolicyFile));
  for (const auto& dir : dirs.config_dirs)
    out.emplace_back(PolicyOrigin::System, dir + std::string(kPolicyFile));
  return out;
}

PolicyLocation locate_policy(const HostRoot& host, const ConfigDirs& dirs) {
  for (auto& [origin, path] : policy_candidates(dirs)) {
    std::string open_path = host.path(path);
    struct stat st {};
    // stat, not open: whether it is readable, a regular file and valid is the loader's to say,
    // with the path in the message. Only "not there" (ENOENT, ENOTDIR) passes on to the next.
    if (::stat(open_path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) continue;
    return {origin, std::move(path), std::move(open_path)};
  }
  return {};
}

Result<std::string> user_policy_path(const ConfigDirs& dirs) {
  if (dirs.config_home.empty())
    return make_error("neither XDG_CONFIG_HOME nor HOME is set to an absolute path: no place for the policy");
  return dirs.config_home + std::string(kPolicyFile);
}

}  // namespace guardian
