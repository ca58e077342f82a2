// Finding the running daemon in /proc (sense/daemon_process.h), over a small /proc tree: the
// status files are cut from a real `guardian run` (Debian 12, --lock-memory=loop, the figures
// of README "Benchmarks": VmLck 6.2 MiB, VmRSS 8.8 MB), with a `guardian status` of the same
// user and another user's daemon beside it.
#include "sense/daemon_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace guardian {
namespace {

namespace fs = std::filesystem;

std::string status_text(uint32_t uid, const char* locked, const char* rss) {
  const std::string id = std::to_string(uid);
  return "Name:\tguardian\nUmask:\t0022\nState:\tS "
         "(sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1201\n"
         "TracerPid:\t0\nUid:\t" +
         id + "\t" + id + "\t" + id + "\t" + id + "\nGid:\t" + id + "\t" + id + "\t" + id + "\t" + id +
         "\nFDSize:\t64\nVmPeak:\t  318712 kB\nVmSize:\t  252152 kB\nVmLck:\t" + locked +
         "\nVmPin:\t       0 kB\nVmHWM:\t    9104 kB\nVmRSS:\t" + rss + "\nThreads:\t6\n";
}

class ProcTree {
 public:
  ProcTree() : root_(fs::temp_directory_path() / ("guardian-proc-" + std::to_string(::getpid()))) {
    fs::create_directories(root_ / "proc");
  }
  ~ProcTree() { fs::remove_all(root_); }
  ProcTree(const ProcTree&) = delete;
  ProcTree& operator=(const ProcTree&) = delete;
  void add(int pid, const std::string& comm, const std::string& cmdline, const std::string& status) {
    const fs::path dir = root_ / "proc" / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "comm") << comm << "\n";
    std::ofstream(dir / "cmdline", std::ios::binary) << cmdline;
    std::ofstream(dir / "status") << status;
  }
  [[nodiscard]] HostRoot host() const { return HostRoot(root_.string()); }

 private:
  fs::path root_;
};

using namespace std::string_literals;

TEST(DaemonProcess, FindsThisUsersGuardianRunWithItsLockedMemory) {
  ProcTree proc;
  proc.add(4100, "guardian", "guardian\0status\0"s, status_text(1000, "       0 kB", "    3100 kB"));
  proc.add(4200, "guardian", "/usr/bin/guardian\0run\0"s, status_text(1001, "    6349 kB", "    8790 kB"));
  proc.add(4242, "guardian", "/usr/bin/guardian\0run\0--lock-memory=loop\0"s,
           status_text(1000, "    6349 kB", "    8812 kB"));
  proc.add(4300, "bash", "bash\0"s, status_text(1000, "       0 kB", "    4000 kB"));
  auto daemon = find_guardian_daemon(proc.host(), 1000, 0);
  ASSERT_TRUE(daemon.has_value());
  EXPECT_EQ(daemon->pid, 4242);
  EXPECT_EQ(daemon->memory.locked_bytes, 6349u * 1024);
  EXPECT_EQ(daemon->memory.rss_bytes, 8812u * 1024);
  // The caller is never its own answer.
  EXPECT_FALSE(find_guardian_daemon(proc.host(), 1000, 4242).has_value());
}

TEST(DaemonProcess, NoneWhenNoGuardianRuns) {
  ProcTree proc;
  proc.add(4300, "bash", "bash\0"s, status_text(1000, "       0 kB", "    4000 kB"));
  EXPECT_FALSE(find_guardian_daemon(proc.host(), 1000, 0).has_value());
}

}  // namespace
}  // namespace guardian
