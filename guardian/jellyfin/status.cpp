#include "jellyfin/status.h"

namespace guardian::jellyfin {
namespace {

std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string render_metrics(const std::vector<Instance>& instances) {
  std::string out;
  out += "# HELP guardian_jellyfin_up Whether the last call to the Jellyfin API succeeded.\n";
  out += "# TYPE guardian_jellyfin_up gauge\n";
  for (const auto& i : instances) {
    bool up = i.client && i.client->breaker().consecutive_failures() == 0 && i.view && i.view->sessions_known;
    out += "guardian_jellyfin_up{instance=\"" + label(i.settings.name) + "\"} " + (up ? "1" : "0") + "\n";
  }
  out +=
      "# HELP guardian_jellyfin_circuit_open Whether guardian stopped calling the Jellyfin API after "
      "failures.\n";
  out += "# TYPE guardian_jellyfin_circuit_open gauge\n";
  for (const auto& i : instances) {
    bool open = i.client && i.client->breaker().state() != CircuitBreaker::State::Closed;
    out += "guardian_jellyfin_circuit_open{instance=\"" + label(i.settings.name) + "\"} " +
           (open ? "1" : "0") + "\n";
  }
  out +=
      "# HELP guardian_jellyfin_transcodes Running Jellyfin playback ffmpeg jobs by video path (from their "
      "command lines).\n";
  out += "# TYPE guardian_jellyfin_transcodes gauge\n";
  std::string pss =
      "# HELP guardian_jellyfin_transcode_pss_bytes Proportional set size of those ffmpeg jobs.\n"
      "# TYPE guardian_jellyfin_transcode_pss_bytes gauge\n";
  for (const auto& i : instances) {
    if (!i.view) continue;
    std::string name = label(i.settings.name);
    const TranscodeView& v = *i.view;
    const std::pair<const char*, std::pair<unsigned, uint64_t>> rows[] = {
        {"hardware", {v.hardware_count, v.hardware_pss_bytes}},
        {"software", {v.software_count, v.software_pss_bytes}},
        {"copy", {v.copy_count, v.copy_pss_bytes}},
        {"other", {v.other_count, v.other_pss_bytes}}};
    for (const auto& [accel, values] : rows) {
      out += "guardian_jellyfin_transcodes{instance=\"" + name + "\",acceleration=\"" + accel + "\"} " +
             std::to_string(values.first) + "\n";
      pss += "guardian_jellyfin_transcode_pss_bytes{instance=\"" + name + "\",acceleration=\"" + accel +
             "\"} " + std::to_string(values.second) + "\n";
    }
  }
  out += pss;
  out +=
      "# HELP guardian_vaapi_available Whether the VA-API probe found a usable GPU for the instance's render "
      "node.\n";
  out += "# TYPE guardian_vaapi_available gauge\n";
  for (const auto& i : instances) {
    if (!i.probe) continue;
    out += "guardian_vaapi_available{instance=\"" + label(i.settings.name) + "\",render_node=\"" +
           label(i.probe->render_node) + "\"} " + (i.probe->available() ? "1" : "0") + "\n";
  }
  return out;
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
