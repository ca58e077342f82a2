// guardian-helper: the privileged relay (see relay.h). Runs as a system service
// (units/guardian-helper.service); `--check` loads the probes, reports and exits.
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/units.h"
#include "helper/relay.h"

namespace {

using guardian::helper::Relay;
using guardian::helper::RelayOptions;

constexpr const char* kUsage =
    "usage: guardian-helper [--socket PATH] [--cgroup-root DIR] [--scope CGROUP] [--comm NAME]...\n"
    "                       [--oomd-comm NAME] [--no-probe exec|oom-kill|oomd-kill]... [--no-pressure]\n"
    "                       [--no-prekill] [--prekill-socket PATH] [--prekill-caller USER]... "
    "[--prekill-wait MS]\n"
    "                       [--check]\n"
    "  --socket          the clients' socket (default /run/guardian/helper.sock)\n"
    "  --cgroup-root     the cgroup2 mount (default: /sys/fs/cgroup, or /sys/fs/cgroup/unified)\n"
    "  --scope           the cgroup the probes report on, with everything below it (default /user.slice)\n"
    "  --comm            a program whose exec/exit is reported (default ffmpeg and ffprobe; at most 4)\n"
    "  --oomd-comm       the sender whose SIGKILLs are reported (default systemd-oomd)\n"
    "  --prekill-caller  a user besides root that may call the pre-kill hook (default systemd-oom)\n"
    "  --prekill-wait    how long to hold systemd-oomd's kill for the clients, in ms (default 20000)\n"
    "  --check           load the probes, print what loaded and how long it took, exit\n";

struct Cli {
  RelayOptions options;
  bool check = false;
  std::vector<std::string> prekill_callers{"systemd-oom"};
  bool callers_given = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "guardian-helper: %s\n%s", message.c_str(), kUsage);
  return 2;
}

double cpu_ms() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_usec) / 1000.0;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  bool comms_given = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--check") {
      cli.check = true;
    } else if (arg == "--no-pressure") {
      cli.options.pressure = false;
    } else if (arg == "--no-prekill") {
      cli.options.prekill = false;
    } else if (!value(v)) {
      return usage_error(arg.starts_with("--") ? arg + " needs a value or is unknown"
                                               : "unexpected argument '" + arg + "'");
    } else if (arg == "--socket") {
      cli.options.socket_path = v;
    } else if (arg == "--cgroup-root") {
      cli.options.cgroup_root = v;
    } else if (arg == "--scope") {
      cli.options.scope = v;
    } else if (arg == "--comm") {
      if (!comms_given) cli.options.probes.exec_comms.clear();
      comms_given = true;
      cli.options.probes.exec_comms.push_back(v);
    } else if (arg == "--oomd-comm") {
      cli.options.probes.oomd_comm = v;
    } else if (arg == "--no-probe") {
      if (v == "exec") {
        cli.options.probes.exec = false;
      } else if (v == "oom-kill") {
        cli.options.probes.oom_kill = false;
      } else if (v == "oomd-kill") {
        cli.options.probes.oomd_kill = false;
      } else {
        return usage_error("--no-probe: unknown probe '" + v + "'");
      }
    } else if (arg == "--prekill-socket") {
      cli.options.prekill_socket = v;
    } else if (arg == "--prekill-caller") {
      if (!cli.callers_given) cli.prekill_callers.clear();
      cli.callers_given = true;
      cli.prekill_callers.push_back(v);
    } else if (arg == "--prekill-wait") {
      auto ms = guardian::parse_u64(v);
      if (!ms || *ms > 600'000)
        return usage_error("--prekill-wait: expected milliseconds up to 600000, got '" + v + "'");
      cli.options.prekill_wait = std::chrono::milliseconds(*ms);
    } else {
      return usage_error("unknown option '" + arg + "'");
    }
  }
  for (const auto& name : cli.prekill_callers) {
    if (auto uid = guardian::parse_u64(name)) {
      cli.options.prekill_callers.insert(static_cast<uid_t>(*uid));
    } else if (const passwd* user = ::getpwnam(name.c_str())) {
      cli.options.prekill_callers.insert(user->pw_uid);
    } else if (cli.callers_given) {
      return usage_error("--prekill-caller: no user '" + name + "'");
    }
  }

  // SIGTERM/SIGINT end the loop through a signalfd; nothing runs in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  guardian::UniqueFd stop_fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!stop_fd) {
    std::fprintf(stderr, "guardian-helper: signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  const double cpu_before_load = cpu_ms();
  const auto load_start = std::chrono::steady_clock::now();
  if (cli.check) {
    guardian::helper::ProbeOptions probes = cli.options.probes;
    auto root = cli.options.cgroup_root.empty() ? guardian::helper::CgroupTree::find_cgroup2_mount()
                                                : guardian::Result<std::string>(cli.options.cgroup_root);
    if (!root) {
      std::fprintf(stderr, "guardian-helper: %s\n", root.error().message.c_str());
      return 1;
    }
    auto tree = guardian::helper::CgroupTree::open(*root, cli.options.scope);
    if (!tree) {
      std::fprintf(stderr, "guardian-helper: %s\n", tree.error().message.c_str());
      return 1;
    }
    probes.scope_cgroup_id = tree->scope_id();
    probes.scope_level = tree->scope_level();
    auto loaded = guardian::helper::Probes::load(probes);
    if (!loaded) {
      std::fprintf(stderr, "guardian-helper: %s\n", loaded.error().message.c_str());
      return 1;
    }
    for (const auto& s : loaded->status()) {
      std::printf("%-10s %s", s.name.c_str(), s.loaded ? "loaded" : "FAILED");
      if (s.loaded) std::printf(" in %.1f ms", s.load_ms);
      if (!s.loaded) std::printf(": %s", s.error.c_str());
      std::printf("\n");
    }
    std::printf("scope %s (cgroup id %llu, level %u) on %s\n", cli.options.scope.c_str(),
                static_cast<unsigned long long>(tree->scope_id()), tree->scope_level(), root->c_str());
    return loaded->loaded_names().size() == loaded->status().size() ? 0 : 1;
  }

  auto relay = Relay::start(cli.options);
  if (!relay) {
    std::fprintf(stderr, "guardian-helper: %s\n", relay.error().message.c_str());
    sd_notifyf(0, "STATUS=failed: %s", relay.error().message.c_str());
    return 1;
  }
  if (auto watched = (*relay)->watch_stop_fd(stop_fd.get()); !watched) {
    std::fprintf(stderr, "guardian-helper: %s\n", watched.error().message.c_str());
    return 1;
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  std::string probes;
  for (const auto& name : (*relay)->probes().loaded_names()) probes += (probes.empty() ? "" : ",") + name;
  std::fprintf(
      stderr,
      "guardian-helper: serving %s: probes %s on %s%s (started in %.0f ms, %.0f ms CPU); pre-kill hook %s\n",
      cli.options.socket_path.c_str(), probes.c_str(), (*relay)->tree().root().c_str(),
      (*relay)->tree().scope().c_str(), load_ms, cpu_ms() - cpu_before_load,
      (*relay)->serves_prekill() ? cli.options.prekill_socket.c_str() : "off");
  sd_notifyf(0, "READY=1\nSTATUS=relaying %s for %s", probes.c_str(), (*relay)->tree().scope().c_str());

  const double cpu_at_ready = cpu_ms();
  for (;;) {
    auto running = (*relay)->step(std::chrono::seconds(60));
    if (!running) {
      std::fprintf(stderr, "guardian-helper: %s\n", running.error().message.c_str());
      return 1;
    }
    if (!*running) break;
  }
  sd_notify(0, "STOPPING=1");
  const auto& stats = (*relay)->stats();
  const double cpu_serving = cpu_ms() - cpu_at_ready;
  std::fprintf(
      stderr,
      "guardian-helper: stopping: %llu records (%llu bad, %llu dropped in the kernel), %llu messages queued, "
      "%llu lost to slow clients, %llu pressure events, %llu pre-kill notices; %.1f ms CPU since ready "
      "(%.1f us per record)\n",
      static_cast<unsigned long long>(stats.records), static_cast<unsigned long long>(stats.bad_records),
      static_cast<unsigned long long>(stats.kernel_dropped), static_cast<unsigned long long>(stats.delivered),
      static_cast<unsigned long long>((*relay)->hub().total_lost()),
      static_cast<unsigned long long>(stats.pressure_events),
      static_cast<unsigned long long>(stats.prekill_notices), cpu_serving,
      stats.records > 0 ? cpu_serving * 1000.0 / static_cast<double>(stats.records) : 0.0);
  for (const auto& program : (*relay)->probes().program_stats()) {
    if (program.run_count == 0) continue;  // BPF statistics off, or never ran
    std::fprintf(stderr, "guardian-helper: program %s ran %llu times, %.0f ns each in the kernel\n",
                 program.name.c_str(), static_cast<unsigned long long>(program.run_count),
                 static_cast<double>(program.run_time_ns) / static_cast<double>(program.run_count));
  }
  return 0;
}
