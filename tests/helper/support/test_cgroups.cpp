#include "helper/support/test_cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "helper/cgroup_tree.h"

namespace guardian::testing {
namespace {

std::atomic<int> counter{0};

bool write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

Result<TestCgroups> TestCgroups::create(const std::vector<uid_t>& uids) {
  auto mount = helper::CgroupTree::find_cgroup2_mount();
  if (!mount) return mount.error();
  if (mount->find("/sys/fs/cgroup/memory") == 0) return make_error("refusing the v1 memory hierarchy");
  TestCgroups cgroups;
  cgroups.mount_ = *mount;
  cgroups.base_ = "/guardian-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::vector<std::string> dirs{cgroups.base_, cgroups.scope(), cgroups.outside()};
  for (uid_t uid : uids) {
    const std::string n = std::to_string(uid);
    dirs.push_back(cgroups.scope() + "/user-" + n + ".slice");
    dirs.push_back(cgroups.owner(uid));
    dirs.push_back(cgroups.app(uid));
  }
  for (const auto& dir : dirs) {
    if (::mkdir((cgroups.mount_ + dir).c_str(), 0755) != 0) {
      return make_error("mkdir " + cgroups.mount_ + dir + ": " + std::strerror(errno));
    }
  }
  return cgroups;
}

TestCgroups::TestCgroups(TestCgroups&& other) noexcept
    : mount_(std::move(other.mount_)), base_(std::exchange(other.base_, std::string())) {}

TestCgroups::~TestCgroups() {
  if (base_.empty()) return;
  const std::string top = mount_ + base_;
  // Only this test's processes can be in here: end any that are left, then remove the tree
  // from the leaves up.
  write_file(top + "/cgroup.kill", "1");
  std::vector<std::string> dirs;
  auto collect = [&](auto& self, const std::string& dir) -> void {
    dirs.push_back(dir);
    if (DIR* d = ::opendir(dir.c_str())) {
      while (const dirent* entry = ::readdir(d)) {
        if (entry->d_type == DT_DIR && entry->d_name[0] != '.') self(self, dir + "/" + entry->d_name);
      }
      ::closedir(d);
    }
  };
  collect(collect, top);
  for (int attempt = 0; attempt < 50; ++attempt) {
    bool all = true;
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      if (::rmdir(it->c_str()) != 0 && errno != ENOENT) all = false;
    }
    if (all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string TestCgroups::owner(uid_t uid) const {
  const std::string n = std::to_string(uid);
  return scope() + "/user-" + n + ".slice/user@" + n + ".service";
}

uint64_t TestCgroups::id_of(const std::string& cgroup) const {
  struct stat st {};
  return ::stat((mount_ + cgroup).c_str(), &st) == 0 ? st.st_ino : 0;
}

Result<pid_t> TestCgroups::spawn(const std::string& cgroup, const std::vector<std::string>& argv,
                                 std::optional<uid_t> uid) const {
  const std::string procs = mount_ + cgroup + "/cgroup.procs";
  const pid_t child = ::fork();
  if (child < 0) return make_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    if (!write_file(procs, "0")) ::_exit(126);
    if (uid && (::setresgid(*uid, *uid, *uid) != 0 || ::setgroups(0, nullptr) != 0 ||
                ::setresuid(*uid, *uid, *uid) != 0)) {
      ::_exit(126);
    }
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return child;
}

int run_in(const TestCgroups& cgroups, const std::string& cgroup, const std::vector<std::string>& argv,
           std::optional<uid_t> uid) {
  auto pid = cgroups.spawn(cgroup, argv, uid);
  if (!pid) return -1;
  int status = 0;
  ::waitpid(*pid, &status, 0);
  return status;
}

}  // namespace guardian::testing
