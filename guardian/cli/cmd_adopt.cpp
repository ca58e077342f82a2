// guardian adopt NAME [--home DIR] [--host-root DIR] [--dry-run]
//
// Quadlet (podman's systemd generator) merges drop-ins from NAME.container.d/*.conf into the
// generated unit since podman 4.8; `[Service] Slice=container.slice` there moves the container's
// service into container.slice at its next start. guardian writes the drop-in and prints the
// commands; the user decides when to restart (a restart interrupts the container's work).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/adopt.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/fd.h"
#include "sense/systemd_units.h"

namespace guardian::cli {
namespace {

constexpr const char* kDropInName = "50-guardian-slice.conf";

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@';
  });
}

Result<void> write_atomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return make_error(temporary + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(temporary + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return make_error(temporary + ": " + std::strerror(errno));
  fd.reset();
  if (::rename(temporary.c_str(), path.c_str()) != 0) return make_error(path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<AdoptOutcome> adopt_container(const HostRoot& host, const AdoptOptions& options) {
  if (!valid_name(options.name)) {
    return make_error("\"" + options.name +
                      "\" is not a quadlet name (expected NAME of NAME.container, e.g. \"jellyfin\")");
  }
  const std::string config_home =
      options.config_home.empty() ? options.home + "/.config" : options.config_home;
  const std::string quadlet_dir = config_home + "/containers/systemd";
  const std::string quadlet = quadlet_dir + "/" + options.name + ".container";
  auto base_text = read_file(host.path(quadlet));
  if (!base_text) {
    return make_error(
        "no quadlet " + quadlet + " (" + base_text.error().message +
        "); guardian adopt moves quadlet containers. A `podman run` container can be started with "
        "--cgroup-parent=container.slice instead");
  }
  auto info = parse_quadlet(*base_text);
  if (!info) return make_error(quadlet + ": " + info.error().message);

  // Drop-ins in name order, as quadlet applies them: a later one may set Slice= again.
  const std::string dropin_dir = quadlet + ".d";
  std::vector<std::string> dropins;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(host.path(dropin_dir), ignored)) {
    const std::string file = entry.path().filename().string();
    if (file.ends_with(".conf")) dropins.push_back(file);
  }
  std::sort(dropins.begin(), dropins.end());
  std::string overriding;
  QuadletInfo merged = *info;
  for (const auto& file : dropins) {
    auto text = read_file(host.path(dropin_dir + "/" + file));
    if (!text) return make_error(text.error().message);
    auto layered = parse_quadlet(*text, merged);
    if (!layered) return make_error(dropin_dir + "/" + file + ": " + layered.error().message);
    if (file > kDropInName && layered->service_slice != merged.service_slice) overriding = file;
    merged = *layered;
  }

  AdoptOutcome outcome;
  outcome.dropin_path = dropin_dir + "/" + kDropInName;
  const std::string service = options.name + ".service";
  if (merged.service_slice == options.slice) {
    outcome.already_adopted = true;
    outcome.report = options.name + " is already in " + options.slice + " (" +
                     (info->service_slice == options.slice ? quadlet : dropin_dir) +
                     " sets Slice=" + options.slice + ").\nIf `systemctl --user show -p Slice " + service +
                     "` says otherwise, it has not been restarted since:\n"
                     "  systemctl --user daemon-reload\n  systemctl --user restart " +
                     service + "\n";
    return outcome;
  }

  const std::string content =
      "# Written by `guardian adopt " + options.name + "`: run this container in " + options.slice +
      ",\n"
      "# the user slice guardian keeps apart from the desktop (units/container.slice), so desktop\n"
      "# memory pressure no longer makes systemd-oomd pick this container. Quadlet merges\n"
      "# NAME.container.d/*.conf drop-ins from podman 4.8 on. Delete this file to undo.\n"
      "[Service]\n"
      "Slice=" +
      options.slice + "\n";
  if (!options.dry_run) {
    if (::mkdir(host.path(dropin_dir).c_str(), 0755) != 0 && errno != EEXIST) {
      return make_error(dropin_dir + ": " + std::strerror(errno));
    }
    auto written = write_atomically(host.path(outcome.dropin_path), content);
    if (!written) return written.error();
  }
  std::string report = (options.dry_run ? "Would write " : "Wrote ") + outcome.dropin_path + ":\n";
  report += "  [Service]\n  Slice=" + options.slice + "\n\n";
  if (!overriding.empty()) {
    report +=
        "Warning: " + dropin_dir + "/" + overriding + " sorts after it and sets Slice= again; it wins.\n\n";
  }
  report +=
      "Quadlet reads NAME.container.d/ drop-ins from podman 4.8 on (check `podman --version`); with an "
      "older\n"
      "podman, put `Slice=" +
      options.slice + "` under [Service] in " + quadlet +
      " instead.\n\n"
      "guardian does not restart containers. When a restart suits you (it interrupts " +
      options.name +
      "), run:\n"
      "  systemctl --user daemon-reload\n"
      "  systemctl --user restart " +
      service +
      "\n\n"
      "Warning: `systemctl --user daemon-reload` makes systemd-oomd drop the user manager's cgroups from\n"
      "its watch list (systemd issue #43174) until the next `sudo systemctl daemon-reload` or re-login.\n"
      "Run `sudo systemctl daemon-reload` afterwards, then `guardian doctor` to check oomd's live list.\n";
  outcome.report = std::move(report);
  return outcome;
}

int run_adopt(int argc, char** argv) {
  AdoptOptions options;
  std::string host_root;
  if (const char* home = std::getenv("HOME")) options.home = home;
  if (const char* config = std::getenv("XDG_CONFIG_HOME"); config && *config) options.config_home = config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "guardian adopt: %s needs a value\n", flag);
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      print_command_help(stdout, "adopt");
      return kExitOk;
    } else if (arg == "--home") {
      const char* v = value("--home");
      if (!v) return kExitUsage;
      options.home = v;
      options.config_home.clear();
    } else if (arg == "--host-root") {
      const char* v = value("--host-root");
      if (!v) return kExitUsage;
      host_root = v;
    } else if (arg == "--dry-run") {
      options.dry_run = true;
    } else if (!arg.empty() && arg.front() == '-') {
      std::fprintf(stderr, "guardian adopt: unknown option %s\n", arg.c_str());
      return kExitUsage;
    } else if (options.name.empty()) {
      options.name = arg;
    } else {
      std::fprintf(stderr, "guardian adopt: one container at a time (got \"%s\" and \"%s\")\n",
                   options.name.c_str(), arg.c_str());
      return kExitUsage;
    }
  }
  if (options.name.empty()) {
    std::fprintf(stderr, "usage: guardian adopt NAME [--home DIR] [--host-root DIR] [--dry-run]\n");
    return kExitUsage;
  }
  if (options.home.empty()) {
    std::fprintf(stderr, "guardian adopt: HOME is not set; pass --home DIR\n");
    return kExitUsage;
  }
  auto outcome = adopt_container(host_root.empty() ? HostRoot() : HostRoot(host_root), options);
  if (!outcome) {
    std::fprintf(stderr, "guardian adopt: %s\n", outcome.error().message.c_str());
    return kExitFinding;
  }
  std::fputs(outcome->report.c_str(), stdout);
  return kExitOk;
}

}  // namespace guardian::cli
