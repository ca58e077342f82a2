#include "jellyfin/doctor.h"

#include <algorithm>

#include "common/units.h"

namespace guardian::jellyfin {
namespace {

using V = DoctorFinding::Verdict;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

std::string_view verdict_name(DoctorFinding::Verdict verdict) {
  switch (verdict) {
    case V::Ok: return "ok";
    case V::Info: return "info";
    case V::Warning: return "warning";
    case V::Problem: return "problem";
  }
  return "?";
}

std::vector<DoctorFinding> vaapi_findings(const std::optional<VaapiProbeResult>& probe,
                                          const std::optional<EncodingOptions>& options,
                                          const TranscodeView* view) {
  std::vector<DoctorFinding> out;
  bool available = probe && probe->available();
  if (!probe) {
    out.push_back({V::Info, "vaapi.probe", "VA-API was not probed", "run: guardian probe vaapi"});
  } else {
    const auto& p = *probe;
    if (!p.node_exists) {
      out.push_back({V::Problem, "vaapi.render-node", "no render node " + p.render_node + " on this machine",
                     "install the GPU driver; for a container pass it in: --device " + p.render_node});
    } else if (!p.node_openable) {
      out.push_back({V::Problem, "vaapi.render-node",
                     p.render_node + " does not open for this user (group " + p.node_group + ")",
                     p.user_in_node_group ? "check the device's permissions and SELinux labels"
                                          : "add the user to group \"" + p.node_group +
                                                "\" (rootless podman: --group-add keep-groups)"});
    } else {
      out.push_back({V::Ok, "vaapi.render-node", p.render_node + " opens (group " + p.node_group + ")", ""});
    }
    if (p.node_openable && !p.va_initialized) {
      out.push_back({V::Problem, "vaapi.driver", "libva could not initialise a driver on " + p.render_node,
                     "install intel-media-va-driver (Intel Gen 8+) or mesa-va-drivers (AMD)"});
    } else if (p.va_initialized) {
      out.push_back({V::Ok, "vaapi.driver", "VA-API " + p.va_version + ": " + p.vendor, ""});
    }
    if (p.va_initialized && !p.ffmpeg_hwdevice) {
      out.push_back({V::Problem, "vaapi.ffmpeg",
                     "FFmpeg could not create a VA-API device on " + p.render_node,
                     "see `guardian probe vaapi` for FFmpeg's error"});
    }
    if (p.va_initialized && p.hardware_encoding_codecs.empty()) {
      out.push_back(
          {V::Warning, "vaapi.encode", "the GPU decodes but has no H.264/HEVC encode entrypoint",
           "hardware decode still helps; keep software encoding cheap (jellyfin.cheaper-software)"});
    }
  }
  if (options) {
    std::string type = options->hardware_acceleration_type();
    if (type != "vaapi") {
      if (available) {
        out.push_back({V::Problem, "jellyfin.hwaccel-type",
                       "Jellyfin's hardware acceleration is \"" + type + "\" although VA-API works here",
                       "Dashboard > Playback > Transcoding: Hardware acceleration = VA-API, device " +
                           probe->render_node +
                           "; then restart Jellyfin (it detects the driver only at start)"});
      } else {
        out.push_back({V::Info, "jellyfin.hwaccel-type",
                       "Jellyfin transcodes in software (hardware acceleration \"" + type + "\")",
                       probe ? "fix VA-API first (findings above)" : ""});
      }
    } else {
      if (probe && !available) {
        out.push_back({V::Problem, "jellyfin.hwaccel-type",
                       "Jellyfin is set to VA-API but VA-API does not work on this machine",
                       "fix the VA-API findings above, or transcodes fail or fall back to software"});
      } else {
        out.push_back({V::Ok, "jellyfin.hwaccel-type", "Jellyfin is set to VA-API", ""});
      }
      if (!options->enable_hardware_encoding()) {
        out.push_back(
            {V::Warning, "jellyfin.hw-encoding",
             "hardware encoding is off: decode on the GPU, encode with libx264",
             "Dashboard > Playback > Transcoding: Enable hardware encoding (or jellyfin.prefer-vaapi)"});
      }
      if (probe && probe->va_initialized && options->vaapi_device() != probe->render_node) {
        out.push_back(
            {V::Warning, "jellyfin.vaapi-device",
             "Jellyfin uses " + options->vaapi_device() + ", the probe checked " + probe->render_node,
             "set render_node in [[jellyfin]] to Jellyfin's VA-API device"});
      }
    }
    if (probe && probe->va_initialized) {
      auto enabled = options->hardware_decoding_codecs();
      std::vector<std::string> unused, unsupported;
      for (const auto& c : probe->hardware_decoding_codecs) {
        if (!contains(enabled, c)) unused.push_back(c);
      }
      for (const auto& c : enabled) {
        if (!contains(probe->hardware_decoding_codecs, c)) unsupported.push_back(c);
      }
      if (!unused.empty()) {
        out.push_back({V::Warning, "jellyfin.decoding-codecs",
                       "the GPU decodes " + join(unused) + " but Jellyfin decodes them in software",
                       "enable them under Enable hardware decoding for (or jellyfin.prefer-vaapi)"});
      }
      if (!unsupported.empty()) {
        out.push_back({V::Warning, "jellyfin.decoding-codecs-unsupported",
                       "Jellyfin hardware-decodes " + join(unsupported) + ", which this GPU cannot",
                       "untick them, or those transcodes fail over to software"});
      }
    }
  }
  if (view != nullptr) {
    if (view->software_count > 0) {
      out.push_back(
          {available ? V::Warning : V::Info, "jellyfin.vaapi-used",
           std::to_string(view->software_count) + " software transcode(s) hold " +
               format_bytes(view->software_pss_bytes) + " (PSS)" +
               (view->hardware_count ? ", " + std::to_string(view->hardware_count) + " on VA-API" : ""),
           available ? "VA-API is available: move them (jellyfin.prefer-vaapi + respawn-software-transcodes)"
                     : ""});
    } else if (view->hardware_count > 0) {
      out.push_back({V::Ok, "jellyfin.vaapi-used",
                     std::to_string(view->hardware_count) + " transcode(s) on VA-API, " +
                         format_bytes(view->hardware_pss_bytes) + " (PSS)",
                     ""});
    }
  }
  return out;
}

}  // namespace guardian::jellyfin
