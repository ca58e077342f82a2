#include "support/ffmpeg_jobs.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/jellyfin_ffmpeg.h"

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
  if (Child* encoder = find(pid); encoder != nullptr && encoder->wait().exited_with(0)) clip_ = clip;
  forget(pid);
}

FfmpegJobs::~FfmpegJobs() {
  children_.clear();  // each Child SIGKILLs and reaps its own process
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

Child* FfmpegJobs::find(pid_t pid) {
  for (auto& child : children_) {
    if (child.pid() == pid) return &child;
  }
  return nullptr;
}

void FfmpegJobs::forget(pid_t pid) {
  std::erase_if(children_, [pid](const Child& child) { return child.pid() == pid || child.pid() <= 0; });
}

pid_t FfmpegJobs::start(const std::vector<std::string>& args) {
  auto child =
      Child::spawn({.argv = args,
                    .redirects = {{.child_fd = STDIN_FILENO, .path = "/dev/null", .flags = O_RDONLY},
                                  {.child_fd = STDOUT_FILENO, .path = "/dev/null", .flags = O_WRONLY},
                                  {.child_fd = STDERR_FILENO, .path = "/dev/null", .flags = O_WRONLY}}});
  if (!child) return -1;
  const pid_t pid = child->pid();
  children_.push_back(std::move(*child));
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
  Child* child = find(pid);
  if (child == nullptr) return false;
  auto exit = child->try_wait();
  if (!exit) return false;
  forget(pid);
  if (signaled != nullptr) *signaled = exit->signal;
  return true;
}

}  // namespace guardian::testing
