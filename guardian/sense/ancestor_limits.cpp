#include "sense/ancestor_limits.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "sense/cgroup_files.h"

namespace guardian {

AncestorLimitReader::AncestorLimitReader(const HostRoot& host, const HostLayout& layout) {
  if (layout.cgroup2_mount.empty() || layout.user_manager_path.empty()) return;
  std::string path = layout.user_manager_path;
  for (;;) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) break;  // the root: no memory.high/max there
    path.resize(slash);
    ancestors_.push_back(path);
    for (const char* name : {"/memory.high", "/memory.max"}) {
      const std::string file = host.path(layout.cgroup2_mount + path + name);
      UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) files_.push_back(std::move(fd));
    }
  }
}

std::optional<uint64_t> AncestorLimitReader::smallest_limit() const {
  std::optional<uint64_t> smallest;
  std::array<char, 64> buffer{};  // "max\n" or a decimal u64
  for (const auto& fd : files_) {
    const ssize_t n = ::pread(fd.get(), buffer.data(), buffer.size(), 0);
    if (n <= 0 || static_cast<size_t>(n) == buffer.size()) continue;
    auto value = parse_cgroup_value(std::string_view(buffer.data(), static_cast<size_t>(n)));
    if (!value || !*value) continue;
    if (!smallest || **value < *smallest) smallest = **value;
  }
  return smallest;
}

}  // namespace guardian
