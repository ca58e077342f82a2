#include "support/ffmpeg_jobs.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/jellyfin_ffmpeg.h"

extern char** environ;

namespace guardian::testing {

FfmpegJobs::FfmpegJobs() {
  char tmpl[] = "/tmp/guardian-ffmpeg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return;
  dir_ = tmpl;
  std::filesystem::create_directories(dir_ + "/media/movies/Big Buck Bunny (2008)");
  std::string clip = dir_ + "/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv";
  // 40 s of 640x360 H.264 + AAC: long enough for a real-time job to outlive the test's checks.
  pid_t pid = start({"/usr/bin/ffmpeg",
                     "-nostdin",
                     "-hide_banner",
                     "-loglevel",
                     "error",
                     "-f",
                     "lavfi",
                     "-i",
                     "testsrc2=size=640x360:rate=24",
                     "-f",
                     "lavfi",
                     "-i",
                     "sine=frequency=440:sample_rate=48000",
                     "-t",
                     "40",
                     "-c:v",
                     "libx264",
                     "-preset",
                     "ultrafast",
                     "-c:a",
                     "aac",
                     "-y",
                     clip});
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    clip_ = clip;
  std::erase(children_, pid);
}

FfmpegJobs::~FfmpegJobs() {
  for (pid_t pid : children_) {
    ::kill(pid, SIGKILL);  // only processes this object started
    ::waitpid(pid, nullptr, 0);
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

pid_t FfmpegJobs::start(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  if (pid > 0) children_.push_back(pid);
  return pid;
}

pid_t FfmpegJobs::start_software_hls() {
  std::filesystem::create_directories(dir_ + "/transcodes");
  return start(jellyfin_software_hls_cmdline({.ffmpeg = "/usr/bin/ffmpeg",
                                              .input = clip_,
                                              .output_prefix = dir_ + "/transcodes/5d1b9a1c",
                                              .realtime = true}));
}

pid_t FfmpegJobs::start_remux_hls() {
  std::filesystem::create_directories(dir_ + "/transcodes");
  return start(jellyfin_remux_hls_cmdline({.ffmpeg = "/usr/bin/ffmpeg",
                                           .input = clip_,
                                           .output_prefix = dir_ + "/transcodes/77aa",
                                           .realtime = true}));
}

pid_t FfmpegJobs::start_sleep() { return start({"/bin/sleep", "60"}); }

std::string FfmpegJobs::make_host_root(const std::string& cgroup, const std::vector<pid_t>& top_pids,
                                       const std::vector<pid_t>& child_pids) {
  std::string root = dir_ + "/root";
  std::filesystem::create_directories(root + cgroup + "/payload");
  if (!std::filesystem::exists(root + "/proc"))
    std::filesystem::create_directory_symlink("/proc", root + "/proc");
  auto write_procs = [](const std::string& path, const std::vector<pid_t>& pids) {
    std::ofstream out(path);
    for (pid_t pid : pids) out << pid << "\n";
  };
  write_procs(root + cgroup + "/cgroup.procs", top_pids);
  write_procs(root + cgroup + "/payload/cgroup.procs", child_pids);
  return root;
}

bool FfmpegJobs::exited(pid_t pid, int* signaled) {
  int status = 0;
  pid_t rc = ::waitpid(pid, &status, WNOHANG);
  if (rc != pid) return false;
  std::erase(children_, pid);
  if (signaled != nullptr) *signaled = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return true;
}

}  // namespace guardian::testing
