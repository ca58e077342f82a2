// HostRoot: every path guardian reads or writes on the host goes through here, so a fixture
// tree (tests, `--host-root DIR`) can stand in for /proc, /sys/fs/cgroup and /etc/systemd.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace guardian {

class HostRoot {
 public:
  HostRoot() = default;  // the real host: "/"
  explicit HostRoot(std::string root);

  // Maps an absolute host path ("/proc/meminfo") to the path to open.
  [[nodiscard]] std::string path(std::string_view host_path) const;
  [[nodiscard]] const std::string& root() const { return root_; }
  [[nodiscard]] bool is_real_host() const { return root_.empty(); }

 private:
  std::string root_;  // without a trailing slash; empty for "/"
};

// Reads a whole (small) file. Errors name the path and errno text, and keep the errno.
Result<std::string> read_file(const std::string& path);

}  // namespace guardian
