// guardian status [--json] [--bus-address ADDR] [--timeout MS]: asks the running daemon over
// its D-Bus API (units/README.md) and prints a table, or one JSON object.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/help.h"
#include "tell/dbus_client.h"

namespace guardian::cli {

namespace {

void print_status_usage(FILE* out) {
  (void)std::fprintf(out,
                     "usage: guardian status [--json] [--bus-address ADDR] [--timeout MS]\n\n"
                     "Asks the running guardian (%s on the session bus) for its level, the cgroups\n"
                     "systemd-oomd watches with pressure vs limit and seconds until a kill, the active\n"
                     "actions, and why it is at its level.\n\n"
                     "  --json              one JSON object instead of the table\n"
                     "  --bus-address ADDR  a D-Bus address instead of DBUS_SESSION_BUS_ADDRESS\n"
                     "  --timeout MS        per-call timeout in milliseconds (default 5000)\n\n"
                     "exit: 0 ok, 2 guardian not running, no session bus, or a usage error\n",
                     std::string(kDbusBusName).c_str());
}

}  // namespace

int run_status(int argc, char** argv) {
  DbusClientOptions options;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view option) -> const char* {
      if (i + 1 >= argc) {
        (void)std::fprintf(stderr, "guardian status: %s needs a value\n", std::string(option).c_str());
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--json") {
      json = true;
    } else if (arg == "--bus-address") {
      const char* address = value(arg);
      if (address == nullptr) return kExitUsage;
      options.bus_address = address;
    } else if (arg.starts_with("--bus-address=")) {
      options.bus_address = std::string(arg.substr(std::strlen("--bus-address=")));
    } else if (arg == "--timeout") {
      const char* text = value(arg);
      if (text == nullptr) return kExitUsage;
      char* end = nullptr;
      errno = 0;
      const long ms = std::strtol(text, &end, 10);
      if (errno != 0 || end == text || *end != '\0' || ms <= 0 || ms > 600'000) {
        (void)std::fprintf(
            stderr, "guardian status: --timeout wants milliseconds between 1 and 600000, got \"%s\"\n", text);
        return kExitUsage;
      }
      options.timeout = std::chrono::milliseconds(ms);
    } else if (arg == "--help" || arg == "-h") {
      print_command_help(stdout, "status");
      return kExitOk;
    } else {
      (void)std::fprintf(stderr, "guardian status: unknown option \"%s\"\n\n", argv[i]);
      print_status_usage(stderr);
      return kExitUsage;
    }
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the CLI is single-threaded here
  if (options.bus_address.empty() && std::getenv("DBUS_SESSION_BUS_ADDRESS") == nullptr &&
      std::getenv("XDG_RUNTIME_DIR") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
    (void)std::fprintf(
        stderr,
        "guardian status: no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set "
        "(run it in the desktop session, or pass --bus-address)\n");
    return kExitUsage;
  }

  auto status = fetch_daemon_status(options);
  if (!status) {
    (void)std::fprintf(stderr, "guardian status: %s\n", status.error().message.c_str());
    return kExitUsage;
  }
  if (json) {
    (void)std::printf("%s\n", status_to_json(*status).dump(2).c_str());
  } else {
    (void)std::fputs(format_status_table(*status).c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace guardian::cli
