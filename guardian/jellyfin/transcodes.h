// The transcode view of one Jellyfin instance: the ffmpeg processes in its cgroup (cgroup.procs of
// the cgroup and its descendants), what each does (ffmpeg_cmdline.h), how much memory each holds
// (/proc/PID/smaps_rollup), joined to Jellyfin's sessions when Jellyfin answers. Without Jellyfin
// (circuit open, no key) the processes are still seen: that is the safe local fallback.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/host_root.h"
#include "common/result.h"
#include "jellyfin/models.h"
#include "sense/ffmpeg_cmdline.h"

namespace guardian {

// /proc/PID/smaps_rollup (kB in the file; bytes here).
struct ProcessMemory {
  uint64_t rss_bytes = 0;
  uint64_t pss_bytes = 0;
  uint64_t pss_anon_bytes = 0;
  uint64_t swap_bytes = 0;
};
Result<ProcessMemory> parse_smaps_rollup(std::string_view text);

// cgroup.procs: one PID per line.
Result<std::vector<int>> parse_cgroup_procs(std::string_view text);

struct FfmpegProcess {
  int pid = 0;
  uint64_t start_time_ticks = 0;  // /proc/PID/stat field 22: tells a reused PID apart
  FfmpegCommand command;
  std::optional<ProcessMemory> memory;  // nullopt when smaps_rollup could not be read
};

// Field 22 (starttime) of /proc/PID/stat; the comm field may hold spaces and parentheses.
Result<uint64_t> parse_proc_stat_start_time(std::string_view text);

struct FfmpegScan {
  std::vector<FfmpegProcess> processes;
  std::vector<std::string>
      problems;  // unreadable files, each naming the path (processes that exit mid-scan are not problems)
};
// Scans the cgroup at `cgroup_host_path` (a host path: "/sys/fs/cgroup/…/jellyfin.service") and
// every cgroup below it. Errors only when the cgroup itself cannot be read.
Result<FfmpegScan> scan_ffmpeg_processes(const HostRoot& host, const std::string& cgroup_host_path);

// Reads and classifies one process (used again right before a signal, to make sure the PID still
// is the same software transcode).
Result<FfmpegProcess> read_ffmpeg_process(const HostRoot& host, int pid);

struct Transcode {
  FfmpegProcess process;
  std::optional<jellyfin::SessionInfo> session;  // joined by input path == NowPlayingItem.Path
};

struct TranscodeView {
  std::vector<Transcode> transcodes;            // playback jobs first, then other ffmpeg work
  std::vector<jellyfin::SessionInfo> sessions;  // Jellyfin's sessions (empty when unknown)
  bool sessions_known = false;
  // Sessions that Jellyfin says are transcoding but whose ffmpeg was not found in the cgroup.
  std::vector<std::string> sessions_without_process;
  // Totals over playback jobs, by video path (bytes of PSS; RSS double-counts shared libraries).
  uint64_t hardware_pss_bytes = 0, software_pss_bytes = 0, copy_pss_bytes = 0, other_pss_bytes = 0;
  unsigned hardware_count = 0, software_count = 0, copy_count = 0, other_count = 0;
};
TranscodeView build_transcode_view(std::vector<FfmpegProcess> processes,
                                   const std::vector<jellyfin::SessionInfo>* sessions);

}  // namespace guardian
