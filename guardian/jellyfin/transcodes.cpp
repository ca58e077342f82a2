#include "jellyfin/transcodes.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "common/units.h"

namespace guardian {
namespace {

// Reads a /proc file; ENOENT/ESRCH mean the process is gone (not a problem worth a report).
bool gone(const Error& error) {
  return error.message.find(std::strerror(ENOENT)) != std::string::npos ||
         error.message.find(std::strerror(ESRCH)) != std::string::npos;
}

void walk_cgroups(const std::string& dir, std::vector<std::string>& out, size_t depth) {
  out.push_back(dir);
  if (depth > 32) return;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(d)) {
    if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) continue;
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string child = dir + "/" + std::string(name);
    if (entry->d_type == DT_UNKNOWN) {
      DIR* probe = ::opendir(child.c_str());
      if (probe == nullptr) continue;
      ::closedir(probe);
    }
    children.push_back(std::move(child));
  }
  ::closedir(d);
  std::sort(children.begin(), children.end());
  for (const auto& child : children) walk_cgroups(child, out, depth + 1);
}

}  // namespace

Result<ProcessMemory> parse_smaps_rollup(std::string_view text) {
  ProcessMemory memory;
  bool saw_rss = false;
  size_t line_no = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_no;
    if (line_no == 1 && line.find('[') != std::string_view::npos)
      continue;  // "00400000-… ---p 00000000 00:00 0   [rollup]"
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (trim(line).empty()) continue;
      return make_error("smaps_rollup line " + std::to_string(line_no) + ": no ':'");
    }
    std::string_view key = line.substr(0, colon);
    uint64_t* into = nullptr;
    if (key == "Rss")
      into = &memory.rss_bytes;
    else if (key == "Pss")
      into = &memory.pss_bytes;
    else if (key == "Pss_Anon")
      into = &memory.pss_anon_bytes;
    else if (key == "Swap")
      into = &memory.swap_bytes;
    if (into == nullptr) continue;
    std::string_view value = trim(line.substr(colon + 1));
    if (!value.ends_with(" kB"))
      return make_error("smaps_rollup " + std::string(key) + ": expected \"N kB\"");
    auto kb = parse_u64(trim(value.substr(0, value.size() - 3)));
    if (!kb || *kb > (UINT64_MAX >> 10))
      return make_error("smaps_rollup " + std::string(key) + ": bad number");
    *into = *kb * 1024;
    if (key == "Rss") saw_rss = true;
  }
  if (!saw_rss) return make_error("smaps_rollup: no Rss line");
  return memory;
}

Result<std::vector<int>> parse_cgroup_procs(std::string_view text) {
  std::vector<int> pids;
  size_t line_no = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_no;
    if (line.empty()) continue;
    auto pid = parse_u64(line);
    if (!pid || *pid == 0 || *pid > 4194304) {  // PID_MAX_LIMIT
      return make_error("cgroup.procs line " + std::to_string(line_no) + ": not a PID: \"" +
                        std::string(line.substr(0, 20)) + "\"");
    }
    pids.push_back(static_cast<int>(*pid));
  }
  return pids;
}

Result<uint64_t> parse_proc_stat_start_time(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos) return make_error("/proc/PID/stat: no ')' after comm");
  std::string_view rest = text.substr(close + 1);
  // After "(comm)" come fields 3.. ; starttime is field 22, the 20th after the comm.
  int field = 2;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto end = rest.find(' ');
    std::string_view value = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (value.empty()) break;
    ++field;
    if (field == 22) {
      auto start = parse_u64(trim(value));
      if (!start) return make_error("/proc/PID/stat: starttime is not a number");
      return *start;
    }
  }
  return make_error("/proc/PID/stat: fewer than 22 fields");
}

Result<FfmpegProcess> read_ffmpeg_process(const HostRoot& host, int pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  auto cmdline = read_file(host.path(proc + "/cmdline"));
  if (!cmdline.ok()) return cmdline.error();
  auto command = parse_ffmpeg_cmdline(std::string_view(*cmdline));
  if (!command.ok()) return command.error();
  FfmpegProcess process;
  process.pid = pid;
  process.command = std::move(*command);
  if (auto stat = read_file(host.path(proc + "/stat")); stat.ok()) {
    if (auto start = parse_proc_stat_start_time(*stat); start.ok()) process.start_time_ticks = *start;
  }
  if (auto smaps = read_file(host.path(proc + "/smaps_rollup")); smaps.ok()) {
    if (auto memory = parse_smaps_rollup(*smaps); memory.ok()) process.memory = *memory;
  }
  return process;
}

Result<FfmpegScan> scan_ffmpeg_processes(const HostRoot& host, const std::string& cgroup_host_path) {
  std::string root = host.path(cgroup_host_path);
  auto top = read_file(root + "/cgroup.procs");
  if (!top.ok()) return top.error();
  std::vector<std::string> cgroups;
  walk_cgroups(root, cgroups, 0);
  FfmpegScan scan;
  for (const auto& dir : cgroups) {
    auto text = dir == root ? Result<std::string>(*top) : read_file(dir + "/cgroup.procs");
    if (!text.ok()) {
      if (!gone(text.error())) scan.problems.push_back(text.error().message);
      continue;
    }
    auto pids = parse_cgroup_procs(*text);
    if (!pids.ok()) {
      scan.problems.push_back(dir + "/" + pids.error().message);
      continue;
    }
    for (int pid : *pids) {
      auto process = read_ffmpeg_process(host, pid);
      if (!process.ok()) {
        // Not an ffmpeg, or exited since cgroup.procs was read: both are normal.
        if (!gone(process.error()) && process.error().message.find("not an ffmpeg") == std::string::npos &&
            process.error().message.find("empty command line") == std::string::npos) {
          scan.problems.push_back(process.error().message);
        }
        continue;
      }
      scan.processes.push_back(std::move(*process));
    }
  }
  return scan;
}

TranscodeView build_transcode_view(std::vector<FfmpegProcess> processes,
                                   const std::vector<jellyfin::SessionInfo>* sessions) {
  TranscodeView view;
  std::vector<bool> session_taken;
  if (sessions != nullptr) {
    view.sessions = *sessions;
    view.sessions_known = true;
    session_taken.assign(sessions->size(), false);
  }
  std::stable_sort(processes.begin(), processes.end(), [](const FfmpegProcess& a, const FfmpegProcess& b) {
    bool pa = a.command.kind == FfmpegJobKind::Playback;
    bool pb = b.command.kind == FfmpegJobKind::Playback;
    if (pa != pb) return pa;
    return a.pid < b.pid;
  });
  for (auto& process : processes) {
    Transcode transcode;
    uint64_t pss = process.memory ? process.memory->pss_bytes : 0;
    if (process.command.kind == FfmpegJobKind::Playback) {
      if (sessions != nullptr) {
        for (size_t i = 0; i < sessions->size(); ++i) {
          const auto& s = (*sessions)[i];
          if (!session_taken[i] && s.playing() && !s.now_playing_path.empty() &&
              s.now_playing_path == process.command.input_path) {
            session_taken[i] = true;
            transcode.session = s;
            break;
          }
        }
      }
      switch (process.command.encode) {
        case VideoEncode::Hardware:
          view.hardware_pss_bytes += pss;
          ++view.hardware_count;
          break;
        case VideoEncode::Software:
          view.software_pss_bytes += pss;
          ++view.software_count;
          break;
        case VideoEncode::Copy:
          view.copy_pss_bytes += pss;
          ++view.copy_count;
          break;
        case VideoEncode::None:
          view.other_pss_bytes += pss;
          ++view.other_count;
          break;
      }
    } else {
      view.other_pss_bytes += pss;
      ++view.other_count;
    }
    transcode.process = std::move(process);
    view.transcodes.push_back(std::move(transcode));
  }
  if (sessions != nullptr) {
    for (size_t i = 0; i < sessions->size(); ++i) {
      const auto& s = (*sessions)[i];
      if (!session_taken[i] && s.transcoding && !s.transcoding->is_video_direct)
        view.sessions_without_process.push_back(s.id);
    }
  }
  return view;
}

}  // namespace guardian
