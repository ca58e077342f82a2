#include "probe/vaapi_probe.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

// Types and constants only: the libraries are dlopen()ed below.
#include <va/va.h>
extern "C" {
#include <libavutil/hwcontext.h>
}

#include "common/fd.h"

extern char** environ;

namespace guardian {
namespace {

// dlopen() handle. It is never dlclose()d: the probe is a short child that exits right after
// printing, and libva drivers and FFmpeg keep global state that is not safe to unload (unloaded,
// their allocations also become "<unknown module>" to LeakSanitizer, which then cannot tell
// them from ours; tests/lsan.supp names these libraries instead).
class Library {
 public:
  explicit Library(const char* soname) : handle_(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) {
      const char* why = ::dlerror();
      error_ = why ? why : soname;
    }
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() = default;
  [[nodiscard]] bool ok() const { return handle_ != nullptr; }
  [[nodiscard]] const std::string& error() const { return error_; }
  template <class F>
  F get(const char* name) const {
    return handle_ ? reinterpret_cast<F>(::dlsym(handle_, name)) : nullptr;
  }

 private:
  void* handle_;
  std::string error_;
};

// Jellyfin's codec names, in the order its dashboard lists them, with the VA profile prefix.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kCodecProfiles = {{
    {"h264", "VAProfileH264"},
    {"hevc", "VAProfileHEVC"},
    {"mpeg2video", "VAProfileMPEG2"},
    {"vc1", "VAProfileVC1"},
    {"vp8", "VAProfileVP8"},
    {"vp9", "VAProfileVP9"},
    {"av1", "VAProfileAV1"},
}};

bool user_has_group(gid_t gid) {
  if (::getegid() == gid) return true;
  int n = ::getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  n = ::getgroups(n, groups.data());
  return n > 0 && std::find(groups.begin(), groups.begin() + n, gid) != groups.begin() + n;
}

void probe_node(const HostRoot& host, VaapiProbeResult& r, UniqueFd& fd) {
  std::string path = host.path(r.render_node);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    r.errors.push_back("render node " + r.render_node + ": " + std::strerror(errno) +
                       (errno == ENOENT ? " (no GPU render node; pass the device to the container with "
                                          "--device /dev/dri/renderD128)"
                                        : ""));
    return;
  }
  r.node_exists = true;
  r.node_mode = st.st_mode & 07777;
  if (group* g = ::getgrgid(st.st_gid)) {
    r.node_group = g->gr_name;
  } else {
    r.node_group = std::to_string(st.st_gid);
  }
  r.user_in_node_group = user_has_group(st.st_gid);
  if (!S_ISCHR(st.st_mode)) {
    r.errors.push_back("render node " + r.render_node + ": not a character device");
    return;
  }
  fd.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    std::string why = std::strerror(errno);
    if (errno == EACCES && !r.user_in_node_group) {
      why += " (add the user to group \"" + r.node_group + "\": usermod -aG " + r.node_group +
             " $USER, then log in again)";
    }
    r.errors.push_back("render node " + r.render_node + ": " + why);
    return;
  }
  r.node_openable = true;
}

void probe_libva(VaapiProbeResult& r, int fd) {
  Library va("libva.so.2");
  Library va_drm("libva-drm.so.2");
  if (!va.ok() || !va_drm.ok()) {
    r.errors.push_back("libva: " + (va.ok() ? va_drm.error() : va.error()) +
                       " (install libva2 and libva-drm2)");
    return;
  }
  auto get_display = va_drm.get<VADisplay (*)(int)>("vaGetDisplayDRM");
  auto initialize = va.get<VAStatus (*)(VADisplay, int*, int*)>("vaInitialize");
  auto terminate = va.get<VAStatus (*)(VADisplay)>("vaTerminate");
  auto error_str = va.get<const char* (*)(VAStatus)>("vaErrorStr");
  auto vendor = va.get<const char* (*)(VADisplay)>("vaQueryVendorString");
  auto max_profiles = va.get<int (*)(VADisplay)>("vaMaxNumProfiles");
  auto query_profiles = va.get<VAStatus (*)(VADisplay, VAProfile*, int*)>("vaQueryConfigProfiles");
  auto max_entrypoints = va.get<int (*)(VADisplay)>("vaMaxNumEntrypoints");
  auto query_entrypoints =
      va.get<VAStatus (*)(VADisplay, VAProfile, VAEntrypoint*, int*)>("vaQueryConfigEntrypoints");
  auto profile_str = va.get<const char* (*)(VAProfile)>("vaProfileStr");
  if (!get_display || !initialize || !terminate || !error_str || !vendor || !max_profiles ||
      !query_profiles || !max_entrypoints || !query_entrypoints || !profile_str) {
    r.errors.push_back("libva: a required symbol is missing (libva older than 2.x?)");
    return;
  }
  r.libva_loaded = true;
  if (fd < 0) return;  // the node did not open; the error is already recorded
  VADisplay display = get_display(fd);
  if (display == nullptr) {
    r.errors.push_back("vaGetDisplayDRM(" + r.render_node + ") returned no display");
    return;
  }
  int major = 0, minor = 0;
  VAStatus status = initialize(display, &major, &minor);
  if (status != VA_STATUS_SUCCESS) {
    r.errors.push_back(std::string("vaInitialize: ") + error_str(status) +
                       " (no VA driver for this GPU? install intel-media-va-driver or mesa-va-drivers; "
                       "LIBVA_DRIVER_NAME selects one)");
    terminate(display);
    return;
  }
  r.va_initialized = true;
  r.va_version = std::to_string(major) + "." + std::to_string(minor);
  if (const char* v = vendor(display)) r.vendor = v;
  std::vector<VAProfile> profiles(static_cast<size_t>(std::max(0, max_profiles(display))));
  int profile_count = 0;
  if (!profiles.empty() && query_profiles(display, profiles.data(), &profile_count) == VA_STATUS_SUCCESS) {
    std::vector<VAEntrypoint> entrypoints(static_cast<size_t>(std::max(0, max_entrypoints(display))));
    for (int p = 0; p < profile_count; ++p) {
      VaapiProfile profile;
      const char* name = profile_str(profiles[static_cast<size_t>(p)]);
      profile.name = name ? name : std::to_string(static_cast<int>(profiles[static_cast<size_t>(p)]));
      int entry_count = 0;
      if (!entrypoints.empty() && query_entrypoints(display, profiles[static_cast<size_t>(p)],
                                                    entrypoints.data(), &entry_count) == VA_STATUS_SUCCESS) {
        for (int e = 0; e < entry_count; ++e) {
          switch (entrypoints[static_cast<size_t>(e)]) {
            case VAEntrypointVLD: profile.decode = true; break;
            case VAEntrypointEncSlice: profile.encode = true; break;
            case VAEntrypointEncSliceLP: profile.encode_low_power = true; break;
            default: break;
          }
        }
      }
      r.profiles.push_back(std::move(profile));
    }
  }
  terminate(display);
}

void probe_ffmpeg(const HostRoot& host, VaapiProbeResult& r) {
  Library avutil("libavutil.so.57");
  Library avcodec("libavcodec.so.59");
  if (!avutil.ok() || !avcodec.ok()) {
    r.errors.push_back("FFmpeg libraries: " + (avutil.ok() ? avcodec.error() : avutil.error()));
    return;
  }
  auto create = avutil.get<int (*)(AVBufferRef**, AVHWDeviceType, const char*, AVDictionary*, int)>(
      "av_hwdevice_ctx_create");
  auto unref = avutil.get<void (*)(AVBufferRef**)>("av_buffer_unref");
  auto strerror_av = avutil.get<int (*)(int, char*, size_t)>("av_strerror");
  auto find_encoder = avcodec.get<const void* (*)(const char*)>("avcodec_find_encoder_by_name");
  if (!create || !unref || !strerror_av || !find_encoder) {
    r.errors.push_back("FFmpeg libraries: a required symbol is missing");
    return;
  }
  r.ffmpeg_loaded = true;
  for (const char* encoder : {"h264_vaapi", "hevc_vaapi", "av1_vaapi"}) {
    if (find_encoder(encoder) != nullptr) r.ffmpeg_vaapi_encoders.emplace_back(encoder);
  }
  if (!r.node_openable) return;
  AVBufferRef* device = nullptr;
  std::string path = host.path(r.render_node);
  int rc = create(&device, AV_HWDEVICE_TYPE_VAAPI, path.c_str(), nullptr, 0);
  if (rc < 0) {
    char text[128] = {};
    strerror_av(rc, text, sizeof text);
    r.errors.push_back("av_hwdevice_ctx_create(vaapi, " + r.render_node + "): " + text);
    return;
  }
  r.ffmpeg_hwdevice = true;
  unref(&device);
}

std::vector<std::string> codecs_with(const std::vector<VaapiProfile>& profiles,
                                     bool (*has)(const VaapiProfile&), bool only_video_encoders) {
  std::vector<std::string> codecs;
  for (const auto& [codec, prefix] : kCodecProfiles) {
    if (only_video_encoders && codec != "h264" && codec != "hevc" && codec != "av1") continue;
    for (const auto& profile : profiles) {
      if (profile.name.starts_with(prefix) && has(profile)) {
        codecs.emplace_back(codec);
        break;
      }
    }
  }
  return codecs;
}

}  // namespace

bool VaapiProbeResult::available() const {
  bool can_encode = std::find(hardware_encoding_codecs.begin(), hardware_encoding_codecs.end(), "h264") !=
                        hardware_encoding_codecs.end() ||
                    std::find(hardware_encoding_codecs.begin(), hardware_encoding_codecs.end(), "hevc") !=
                        hardware_encoding_codecs.end();
  return node_openable && va_initialized && ffmpeg_hwdevice && !hardware_decoding_codecs.empty() &&
         can_encode;
}

std::vector<std::string> decoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles) {
  return codecs_with(
      profiles, [](const VaapiProfile& p) { return p.decode; }, false);
}

std::vector<std::string> encoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles) {
  return codecs_with(
      profiles, [](const VaapiProfile& p) { return p.encode || p.encode_low_power; }, true);
}

VaapiProbeResult probe_vaapi(const HostRoot& host, const std::string& render_node) {
  VaapiProbeResult r;
  r.render_node = render_node;
  UniqueFd fd;
  probe_node(host, r, fd);
  probe_libva(r, fd.get());
  probe_ffmpeg(host, r);
  r.hardware_decoding_codecs = decoding_codecs_from_profiles(r.profiles);
  r.hardware_encoding_codecs = encoding_codecs_from_profiles(r.profiles);
  return r;
}

nlohmann::json probe_result_to_json(const VaapiProbeResult& r) {
  nlohmann::json profiles = nlohmann::json::array();
  for (const auto& p : r.profiles) {
    nlohmann::json entrypoints = nlohmann::json::array();
    if (p.decode) entrypoints.push_back("VLD");
    if (p.encode) entrypoints.push_back("EncSlice");
    if (p.encode_low_power) entrypoints.push_back("EncSliceLP");
    profiles.push_back({{"profile", p.name}, {"entrypoints", entrypoints}});
  }
  return {
      {"available", r.available()},
      {"render_node",
       {{"path", r.render_node},
        {"exists", r.node_exists},
        {"openable", r.node_openable},
        {"group", r.node_group},
        {"mode", r.node_mode},
        {"user_in_group", r.user_in_node_group}}},
      {"libva",
       {{"loaded", r.libva_loaded},
        {"initialized", r.va_initialized},
        {"version", r.va_version},
        {"vendor", r.vendor},
        {"profiles", profiles}}},
      {"ffmpeg",
       {{"loaded", r.ffmpeg_loaded},
        {"hwdevice", r.ffmpeg_hwdevice},
        {"vaapi_encoders", r.ffmpeg_vaapi_encoders}}},
      {"HardwareDecodingCodecs", r.hardware_decoding_codecs},
      {"hardware_encoding_codecs", r.hardware_encoding_codecs},
      {"errors", r.errors},
  };
}

Result<VaapiProbeResult> parse_probe_result(std::string_view json_text) {
  using nlohmann::json;
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("probe output: not a JSON object");
  VaapiProbeResult r;
  // Every field is checked with its path; json::value() would throw on a type mismatch.
  std::optional<Error> error;
  auto object = [&](const json& parent, const char* key) -> const json* {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) {
      if (!error) error = make_error(std::string("probe output: ") + key + ": expected an object");
      return nullptr;
    }
    return &*it;
  };
  auto boolean = [&](const json* parent, const char* key, bool& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it != parent->end() && it->is_boolean())
      into = it->get<bool>();
    else if (!error)
      error = make_error(std::string("probe output: ") + key + ": expected a boolean");
  };
  auto string = [&](const json* parent, const char* key, std::string& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it != parent->end() && it->is_string())
      into = it->get<std::string>();
    else if (!error)
      error = make_error(std::string("probe output: ") + key + ": expected a string");
  };
  auto strings = [&](const json* parent, const char* key, std::vector<std::string>& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it == parent->end() || !it->is_array()) {
      if (!error) error = make_error(std::string("probe output: ") + key + ": expected an array");
      return;
    }
    for (const auto& s : *it) {
      if (!s.is_string()) {
        if (!error) error = make_error(std::string("probe output: ") + key + ": expected strings");
        return;
      }
      into.push_back(s.get<std::string>());
    }
  };
  const json* node = object(j, "render_node");
  string(node, "path", r.render_node);
  boolean(node, "exists", r.node_exists);
  boolean(node, "openable", r.node_openable);
  string(node, "group", r.node_group);
  boolean(node, "user_in_group", r.user_in_node_group);
  if (node != nullptr) {
    auto mode = node->find("mode");
    if (mode != node->end() && mode->is_number_unsigned() && mode->get<uint64_t>() <= 07777) {
      r.node_mode = static_cast<uint32_t>(mode->get<uint64_t>());
    } else if (!error) {
      error = make_error("probe output: mode: expected 0..4095");
    }
  }
  const json* va = object(j, "libva");
  boolean(va, "loaded", r.libva_loaded);
  boolean(va, "initialized", r.va_initialized);
  string(va, "version", r.va_version);
  string(va, "vendor", r.vendor);
  if (va != nullptr) {
    auto profiles = va->find("profiles");
    if (profiles == va->end() || !profiles->is_array()) {
      if (!error) error = make_error("probe output: profiles: expected an array");
    } else {
      for (const auto& p : *profiles) {
        VaapiProfile profile;
        std::vector<std::string> entrypoints;
        if (!p.is_object()) {
          if (!error) error = make_error("probe output: profiles: expected objects");
          break;
        }
        string(&p, "profile", profile.name);
        strings(&p, "entrypoints", entrypoints);
        for (const auto& e : entrypoints) {
          if (e == "VLD")
            profile.decode = true;
          else if (e == "EncSlice")
            profile.encode = true;
          else if (e == "EncSliceLP")
            profile.encode_low_power = true;
        }
        r.profiles.push_back(std::move(profile));
      }
    }
  }
  const json* ff = object(j, "ffmpeg");
  boolean(ff, "loaded", r.ffmpeg_loaded);
  boolean(ff, "hwdevice", r.ffmpeg_hwdevice);
  strings(ff, "vaapi_encoders", r.ffmpeg_vaapi_encoders);
  strings(&j, "errors", r.errors);
  if (error) return *error;
  // Derived again from the profiles rather than trusted from the text.
  r.hardware_decoding_codecs = decoding_codecs_from_profiles(r.profiles);
  r.hardware_encoding_codecs = encoding_codecs_from_profiles(r.profiles);
  return r;
}

Result<VaapiProbeResult> run_probe_child(const std::string& binary, const std::string& render_node,
                                         const std::string& host_root, std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  std::vector<std::string> args = {binary, "probe", "vaapi", "--json", "--device", render_node};
  if (!host_root.empty()) {
    args.emplace_back("--host-root");
    args.push_back(host_root);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return make_error("cannot start " + binary + " probe vaapi: " + std::strerror(rc));
  write_end.reset();
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[4096];
    ssize_t got = ::read(read_end.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buf, static_cast<size_t>(got));
    if (output.size() > 1024 * 1024) break;
  }
  if (timed_out) ::kill(pid, SIGKILL);  // our own child, stuck in a driver
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return make_error("guardian probe vaapi did not answer within " + std::to_string(timeout.count()) +
                      " ms");
  // Exit status 1 means "probe ran, VA-API not available": the JSON still describes why.
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
    return make_error("guardian probe vaapi failed (status " + std::to_string(status) + ")");
  }
  return parse_probe_result(output);
}

}  // namespace guardian
