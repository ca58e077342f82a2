// `guardian doctor`'s Jellyfin findings — the incident report's "Verify VA-API is actually being
// used!" as checks with verdicts and next steps. Pure: the probe result, Jellyfin's
// EncodingOptions and the transcode view in, findings out (each input may be missing).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jellyfin/models.h"
#include "jellyfin/transcodes.h"
#include "probe/vaapi_probe.h"

namespace guardian::jellyfin {

struct DoctorFinding {
  enum class Verdict { Ok, Info, Warning, Problem } verdict = Verdict::Ok;
  std::string id;         // stable: "vaapi.render-node", "jellyfin.decoding-codecs", …
  std::string title;      // one line: what was found
  std::string next_step;  // what to do ("" when nothing)
};
std::string_view verdict_name(DoctorFinding::Verdict verdict);  // "ok", "info", "warning", "problem"

std::vector<DoctorFinding> vaapi_findings(const std::optional<VaapiProbeResult>& probe,
                                          const std::optional<EncodingOptions>& options,
                                          const TranscodeView* view);

}  // namespace guardian::jellyfin
