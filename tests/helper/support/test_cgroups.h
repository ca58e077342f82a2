// A throwaway cgroup v2 tree laid out the way systemd lays out users,
//   <mount>/guardian-test-PID-N/user.slice/user-UID.slice/user@UID.service/app.slice
// for tests that need real cgroup ids and real pressure files: the helper is pointed at
// /guardian-test-PID-N/user.slice as its scope. It is created in the cgroup2 mount (on a hybrid
// host that is /sys/fs/cgroup/unified, which has no memory controller: nothing is limited), only
// test processes are moved into it, and it is removed afterwards (its processes killed through
// cgroup.kill first). Needs root; never touches /sys/fs/cgroup/memory.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace guardian::testing {

class TestCgroups {
 public:
  static Result<TestCgroups> create(const std::vector<uid_t>& uids);
  TestCgroups(TestCgroups&& other) noexcept;
  TestCgroups& operator=(TestCgroups&&) = delete;
  ~TestCgroups();

  [[nodiscard]] const std::string& mount() const { return mount_; }
  [[nodiscard]] std::string scope() const { return base_ + "/user.slice"; }  // cgroup path
  [[nodiscard]] std::string owner(uid_t uid) const;                          // .../user@UID.service
  [[nodiscard]] std::string app(uid_t uid) const { return owner(uid) + "/app.slice"; }
  // Another cgroup beside the scope (not watched).
  [[nodiscard]] std::string outside() const { return base_ + "/system.slice"; }
  [[nodiscard]] uint64_t id_of(const std::string& cgroup) const;  // its inode number

  // Forks a child that joins `cgroup`, takes uid/gid `uid` (if given) and execs argv. Returns
  // its pid; the caller waits for it.
  Result<pid_t> spawn(const std::string& cgroup, const std::vector<std::string>& argv,
                      std::optional<uid_t> uid = std::nullopt) const;

 private:
  TestCgroups() = default;
  std::string mount_;
  std::string base_;  // "/guardian-test-PID-N"
};

// Runs argv to completion in a test cgroup, returning the wait status.
int run_in(const TestCgroups& cgroups, const std::string& cgroup, const std::vector<std::string>& argv,
           std::optional<uid_t> uid = std::nullopt);

}  // namespace guardian::testing
