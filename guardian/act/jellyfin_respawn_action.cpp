// jellyfin.respawn-software-transcodes: end software playback ffmpegs so Jellyfin restarts them
// (on the next segment request) with the options in force now. Nothing to revert.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "act/basic_actions.h"
#include "act/jellyfin_actions_internal.h"
#include "common/fd.h"
#include "common/host_root.h"
#include "jellyfin/transcodes.h"

namespace guardian {
namespace {

using Outcome = ActionResult::Outcome;

class RespawnAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: end software transcodes (SIG" + param_string(spec_, "signal", "TERM") +
           ") so they restart with the new settings";
  }

  ActionResult apply(Deadline deadline) override {
    auto found = instance();
    if (!found.ok()) return not_found(found.error());
    if (found->cgroup_host_path.empty()) {
      return jellyfin_failed("Jellyfin \"" + found->settings.name +
                             "\": its cgroup is not known (set cgroup = \"…\" in [[jellyfin]])");
    }
    HostRoot host = env_.host ? *env_.host : HostRoot();
    auto scan = scan_ffmpeg_processes(host, found->cgroup_host_path);
    if (!scan.ok()) return jellyfin_failed(scan.error().message);
    int signal_number = param_string(spec_, "signal", "TERM") == "INT" ? SIGINT : SIGTERM;
    auto limit = static_cast<size_t>(param_number(spec_, "max", 1e9));
    std::string detail;
    size_t ended = 0;
    for (const auto& process : scan->processes) {
      if (ended >= limit || std::chrono::steady_clock::now() >= deadline) break;
      if (!process.command.software_playback()) continue;
      if (env_.dry_run) {
        detail += (detail.empty() ? "" : ", ") + std::string("would end ") + std::to_string(process.pid);
        continue;
      }
      auto sent = signal_verified(process, signal_number);
      if (!sent.ok()) {
        detail += (detail.empty() ? "" : ", ") + sent.error().message;
        continue;
      }
      ++ended;
      detail += (detail.empty() ? "" : ", ") + std::string("ended ffmpeg ") + std::to_string(process.pid) +
                " (" + process.command.video_encoder + ", " + process.command.input_path + ")";
    }
    if (ended == 0 && !env_.dry_run) {
      return {Outcome::Unchanged, detail.empty() ? "no software playback transcode running" : detail};
    }
    return {env_.dry_run ? Outcome::Unchanged : Outcome::Applied, detail};
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return {Outcome::Unchanged, "nothing to put back: Jellyfin restarted the streams itself"};
  }

 private:
  // Signals `process` only if its PID is, on this machine, the same software transcode. The scan
  // read the host root's cgroup.procs and /proc; under --host-root those may be a copy of another
  // machine (a fixture, a mounted image) whose PIDs are unrelated processes here. So: a pidfd of
  // the PID pins whatever runs under it now, then this machine's own /proc must show the same
  // start time and command line, and the signal goes through the pidfd (never kill(): the PID
  // could be reused in between). No pidfd (kernel < 5.3), no signal.
  static Result<void> signal_verified(const FfmpegProcess& process, int signal_number) {
    const std::string who = "ffmpeg " + std::to_string(process.pid);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, process.pid, 0)));
    if (!pidfd) {
      if (errno == ESRCH) return make_error(who + " already gone");
      return make_error(who + ": no pidfd (" + std::string(std::strerror(errno)) + "), not signalled");
    }
    HostRoot real;
    auto again = read_ffmpeg_process(real, process.pid);
    if (!again.ok() || again->start_time_ticks != process.start_time_ticks ||
        !again->command.software_playback() || again->command.argv != process.command.argv) {
      return make_error(who + " is not that transcode in this machine's /proc, left alone");
    }
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal_number, nullptr, 0) != 0)
      return make_error("signal to " + who + ": " + std::strerror(errno));
    return {};
  }
};

}  // namespace

std::unique_ptr<Action> make_jellyfin_respawn_action(std::string type, ActionSpec spec, ActionEnv env) {
  return std::make_unique<RespawnAction>(std::move(type), std::move(spec), std::move(env));
}

}  // namespace guardian
