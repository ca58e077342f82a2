// guardian probe vaapi [--json] [--device /dev/dri/renderD128] [--host-root DIR]
// Loads libva and the FFmpeg libraries (dlopen) in this short-lived process only; the daemon runs
// it as a child and reads the JSON. Exit 0: VA-API available; 1: not available (the output says
// why); 2: usage.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "cli/help.h"
#include "common/host_root.h"
#include "probe/vaapi_probe.h"

namespace guardian::cli {
namespace {

void probe_usage(FILE* out) {
  std::fprintf(out,
               "usage: guardian probe vaapi [--json] [--device NODE] [--host-root DIR]\n"
               "  checks the render node (default /dev/dri/renderD128), libva (vendor, profiles,\n"
               "  entrypoints) and FFmpeg's VA-API device and encoders; prints the\n"
               "  HardwareDecodingCodecs list for Jellyfin. Exit 0 available, 1 not available.\n");
}

void print_text(const VaapiProbeResult& r) {
  std::printf("render node   %s: %s", r.render_node.c_str(),
              !r.node_exists    ? "missing"
              : r.node_openable ? "opens"
                                : "does not open");
  if (r.node_exists)
    std::printf(" (group %s, mode %04o, you are%s in the group)", r.node_group.c_str(), r.node_mode,
                r.user_in_node_group ? "" : " not");
  std::printf("\nlibva         %s", !r.libva_loaded    ? "not loaded"
                                    : r.va_initialized ? "initialised"
                                                       : "loaded, not initialised");
  if (r.va_initialized) std::printf(" (VA-API %s, %s)", r.va_version.c_str(), r.vendor.c_str());
  std::printf("\n");
  for (const auto& p : r.profiles) {
    std::printf("  %-36s%s%s%s\n", p.name.c_str(), p.decode ? " VLD" : "", p.encode ? " EncSlice" : "",
                p.encode_low_power ? " EncSliceLP" : "");
  }
  std::string encoders;
  for (const auto& e : r.ffmpeg_vaapi_encoders) encoders += (encoders.empty() ? "" : ", ") + e;
  std::printf("ffmpeg        %s; VA-API device %s; encoders: %s\n", r.ffmpeg_loaded ? "loaded" : "not loaded",
              r.ffmpeg_hwdevice ? "created" : "not created", encoders.empty() ? "none" : encoders.c_str());
  std::string codecs;
  for (const auto& c : r.hardware_decoding_codecs) codecs += (codecs.empty() ? "" : ", ") + c;
  std::printf("HardwareDecodingCodecs: %s\n", codecs.empty() ? "(none)" : codecs.c_str());
  for (const auto& e : r.errors) std::printf("problem: %s\n", e.c_str());
  std::printf("VA-API %s\n", r.available() ? "available" : "NOT available");
}

}  // namespace

int run_probe(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    print_command_help(stdout, "probe");
    return kExitOk;
  }
  if (argc < 2) {
    probe_usage(stderr);
    return kExitUsage;
  }
  if (std::strcmp(argv[1], "vaapi") != 0) {
    std::fprintf(stderr, "guardian probe: unknown probe \"%s\" (known: vaapi)\n", argv[1]);
    return kExitUsage;
  }
  bool json = false;
  std::string device = "/dev/dri/renderD128";
  std::string host_root;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--device" && i + 1 < argc) {
      device = argv[++i];
    } else if (arg == "--host-root" && i + 1 < argc) {
      host_root = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      print_command_help(stdout, "probe");
      return kExitOk;
    } else {
      std::fprintf(stderr, "guardian probe vaapi: unknown option \"%s\"\n", argv[i]);
      probe_usage(stderr);
      return kExitUsage;
    }
  }
  if (device.empty() || device.front() != '/') {
    std::fprintf(stderr, "guardian probe vaapi: --device must be an absolute path, got \"%s\"\n",
                 device.c_str());
    return kExitUsage;
  }
  HostRoot host = host_root.empty() ? HostRoot() : HostRoot(host_root);
  VaapiProbeResult result = probe_vaapi(host, device);
  if (json) {
    std::printf("%s\n", probe_result_to_json(result).dump(2).c_str());
  } else {
    print_text(result);
  }
  return result.available() ? kExitOk : kExitFinding;
}

}  // namespace guardian::cli
