#include "jellyfin/status.h"

#include <map>

namespace guardian::jellyfin {

std::vector<JellyfinTranscodeTotals> transcode_totals(const std::vector<Instance>& instances) {
  std::vector<JellyfinTranscodeTotals> rows;
  for (const auto& i : instances) {
    if (!i.view) continue;
    std::map<std::string, JellyfinTranscodeTotals> by_accel;
    for (const auto& t : i.view->transcodes) {
      const auto& c = t.process.command;
      if (c.kind != FfmpegJobKind::Playback) continue;
      std::string accel;
      if (c.encode == VideoEncode::Software)
        accel = "software";
      else if (c.encode == VideoEncode::Hardware)
        accel = c.hardware_api;
      else
        continue;  // remux / audio only: not a video transcode
      auto& row = by_accel[accel];
      row.instance = i.settings.name;
      row.hwaccel = accel;
      row.transcodes += 1;
      row.memory_bytes += t.process.memory ? t.process.memory->pss_bytes : 0;
    }
    for (auto& [accel, row] : by_accel) rows.push_back(std::move(row));
    if (by_accel.empty()) rows.push_back({i.settings.name, "software", 0, 0});  // the instance exists
  }
  return rows;
}

nlohmann::json status_json(const std::vector<Instance>& instances) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& i : instances) {
    nlohmann::json entry = {
        {"name", i.settings.name}, {"url", i.settings.url}, {"cgroup", i.cgroup_host_path}};
    if (i.client) {
      entry["circuit"] = breaker_state_name(i.client->breaker().state());
      entry["last_error"] = i.client->breaker().last_error();
    } else {
      entry["circuit"] = nullptr;
      entry["last_error"] = i.client_error;
    }
    if (i.probe) entry["vaapi_available"] = i.probe->available();
    nlohmann::json transcodes = nlohmann::json::array();
    if (i.view) {
      for (const auto& t : i.view->transcodes) {
        nlohmann::json row = {
            {"pid", t.process.pid},
            {"kind", job_kind_name(t.process.command.kind)},
            {"video", video_encode_name(t.process.command.encode)},
            {"encoder", t.process.command.video_encoder},
            {"hardware_decode", t.process.command.hardware_decode},
            {"input", t.process.command.input_path},
            {"pss_bytes", t.process.memory ? nlohmann::json(t.process.memory->pss_bytes) : nlohmann::json()},
            {"rss_bytes", t.process.memory ? nlohmann::json(t.process.memory->rss_bytes) : nlohmann::json()}};
        if (t.session) {
          row["user"] = t.session->user_name;
          row["client"] = t.session->client;
          row["session_id"] = t.session->id;
        }
        transcodes.push_back(std::move(row));
      }
      entry["sessions_known"] = i.view->sessions_known;
    }
    entry["transcodes"] = std::move(transcodes);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace guardian::jellyfin
