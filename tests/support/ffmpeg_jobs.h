// Real ffmpeg processes for tests (Debian's ffmpeg): a generated clip (-f lavfi testsrc2 + sine)
// and Jellyfin-style HLS jobs on it, started in a temp dir, plus a fixture host root whose /proc
// is a symlink to the real /proc and whose cgroup.procs lists only the PIDs started here — this
// machine's own cgroups are never touched.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/child.h"

namespace guardian::testing {

class FfmpegJobs {
 public:
  FfmpegJobs();   // creates the temp dir and the clip (a few seconds of CPU)
  ~FfmpegJobs();  // SIGKILLs and reaps every process it started; removes the temp dir
  FfmpegJobs(const FfmpegJobs&) = delete;
  FfmpegJobs& operator=(const FfmpegJobs&) = delete;

  [[nodiscard]] bool ok() const { return !clip_.empty(); }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::string& clip() const { return clip_; }

  // Jellyfin's software HLS command line (support/jellyfin_ffmpeg.h) on the clip, read in real
  // time so the job stays alive while the test looks at it.
  pid_t start_software_hls();
  // Jellyfin's remux to HLS (-codec:v:0 copy) on the clip, likewise.
  pid_t start_remux_hls();
  // Not an ffmpeg at all.
  pid_t start_sleep();
  pid_t start(const std::vector<std::string>& argv);

  // Host root "<dir>/root": proc -> /proc, and CGROUP (a host path under /sys/fs/cgroup) with a
  // cgroup.procs of `top_pids` and a child cgroup "payload" with `child_pids`.
  std::string make_host_root(const std::string& cgroup, const std::vector<pid_t>& top_pids,
                             const std::vector<pid_t>& child_pids);

  // Whether `pid` (our child) has exited; reaps it. `signaled` receives the signal, if any.
  bool exited(pid_t pid, int* signaled = nullptr);

 private:
  std::string dir_;
  std::string clip_;
  Child* find(pid_t pid);
  void forget(pid_t pid);        // drops it (and any already reaped)
  std::vector<Child> children_;  // only processes this object started
};

}  // namespace guardian::testing
