// The probe's child side: `guardian probe vaapi` opens the render node, loads libva and FFmpeg with
// dlopen() and asks them what the hardware does. Only this short-lived process maps them; the
// daemon runs it as a child (run_probe.cpp) and reads the JSON (vaapi_probe_result.cpp).
#include "probe/vaapi_probe.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
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

}  // namespace

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

}  // namespace guardian
