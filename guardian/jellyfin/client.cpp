#include "jellyfin/client.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "jellyfin/api_key.h"

namespace guardian::jellyfin {
namespace {

// Jellyfin ids are 32 hex digits (Guid "N" format); anything else is not sent as a path segment.
bool safe_path_segment(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

}  // namespace

std::string authorization_header(const std::string& api_key, const std::string& device_id) {
  return "MediaBrowser Client=\"guardian\", Device=\"guardian\", DeviceId=\"" + device_id + "\", Version=\"" +
         std::string(GUARDIAN_VERSION) + "\", Token=\"" + api_key + "\"";
}

Client::Client(ClientSettings settings)
    : settings_(std::move(settings)), breaker_(std::make_shared<CircuitBreaker>(settings_.breaker)) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  // Stable per host and instance, so Jellyfin shows one "guardian" device, not one per call.
  device_id_ = "guardian-" + std::string(host) + "-" + settings_.name;
  std::replace_if(
      device_id_.begin(), device_id_.end(), [](char c) { return c == '"' || c == ',' || c == ' '; }, '_');
}

std::shared_ptr<Client> Client::for_actions() const {
  auto view = std::make_shared<Client>(*this);
  view->for_actions_ = true;
  return view;
}

template <class T>
Result<T> Client::record_answer(Result<T> parsed) {
  if (parsed.ok())
    breaker_->record_success();
  else
    breaker_->record_failure(std::chrono::steady_clock::now(), parsed.error().message,
                             CircuitBreaker::FailureKind::BadAnswer);
  return parsed;
}

Result<HttpResponse> Client::call(const std::string& method, const std::string& path, std::string body,
                                  Deadline deadline, bool parse_follows, Delivery* delivery) {
  if (delivery != nullptr) *delivery = Delivery::NotSent;
  auto now = std::chrono::steady_clock::now();
  std::string what = method + " " + settings_.url.to_string() + path;
  // An action's call goes out past an open breaker, now and then (see for_actions()).
  if (!(for_actions_ ? breaker_->allow_action(now) : breaker_->allow(now))) {
    return make_error(what + ": not called, circuit breaker open after " +
                      std::to_string(breaker_->consecutive_failures()) +
                      " failures (last: " + breaker_->last_error() + ")");
  }
  HttpRequest request;
  request.method = method;
  request.target = settings_.url.base_path + path;
  request.headers.emplace_back("Authorization", authorization_header(settings_.api_key, device_id_));
  request.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);
  if (auto checked = check_request_line_and_headers(request); !checked.ok()) {
    return make_error(what + ": " + checked.error().message);  // never sent; not Jellyfin's fault
  }
  if (delivery != nullptr) *delivery = Delivery::NoAnswer;
  const auto timeout =
      for_actions_ ? std::max(settings_.timeout, settings_.action_timeout) : settings_.timeout;
  auto response = http_send(settings_.url, request, std::min(deadline, now + timeout));
  if (!response.ok()) {
    breaker_->record_failure(std::chrono::steady_clock::now(), response.error().message);
    return response.error();
  }
  if (delivery != nullptr) *delivery = Delivery::Answered;
  if (response->status < 200 || response->status > 299) {
    std::string why = what + ": HTTP " + std::to_string(response->status);
    auto kind = CircuitBreaker::FailureKind::HttpError;
    if (response->status == 401 || response->status == 403) {
      why += " (the API key was refused)";
      kind = CircuitBreaker::FailureKind::KeyRefused;
    }
    breaker_->record_failure(std::chrono::steady_clock::now(), why, kind);
    return make_error(why);
  }
  if (!parse_follows) breaker_->record_success();
  return response;
}

WriteResult Client::write(const std::string& method, const std::string& path, std::string body,
                          Deadline deadline) {
  Delivery delivery = Delivery::NotSent;
  auto response = call(method, path, std::move(body), deadline, false, &delivery);
  if (response.ok()) return {};
  // An HTTP answer, or a request that never left, was not applied; a request that went out and
  // got no answer may have been.
  return {delivery == Delivery::NoAnswer ? WriteResult::Outcome::Unknown : WriteResult::Outcome::NotApplied,
          response.error().message};
}

Result<EncodingOptions> Client::get_encoding_options(Deadline deadline) {
  auto response = call("GET", "/System/Configuration/encoding", "", deadline, true);
  if (!response.ok()) return response.error();
  return record_answer(parse_encoding_options(
      response->body, "GET " + settings_.url.to_string() + "/System/Configuration/encoding"));
}

WriteResult Client::post_encoding_options(const nlohmann::json& options, Deadline deadline) {
  if (!options.is_object())
    return {WriteResult::Outcome::NotApplied, "refusing to POST EncodingOptions that are not an object"};
  return write("POST", "/System/Configuration/encoding", options.dump(), deadline);
}

Result<std::vector<SessionInfo>> Client::get_sessions(Deadline deadline) {
  const std::string path = "/Sessions?activeWithinSeconds=" + std::to_string(kActiveSessionSeconds);
  auto response = call("GET", path, "", deadline, true);
  if (!response.ok()) return response.error();
  return record_answer(parse_sessions(response->body, "GET " + settings_.url.to_string() + "/Sessions"));
}

Result<std::vector<ScheduledTask>> Client::get_scheduled_tasks(Deadline deadline) {
  auto response = call("GET", "/ScheduledTasks", "", deadline, true);
  if (!response.ok()) return response.error();
  return record_answer(
      parse_scheduled_tasks(response->body, "GET " + settings_.url.to_string() + "/ScheduledTasks"));
}

WriteResult Client::stop_task(const std::string& task_id, Deadline deadline) {
  if (!safe_path_segment(task_id))
    return {WriteResult::Outcome::NotApplied, "task id \"" + task_id + "\" is not a Jellyfin id"};
  return write("DELETE", "/ScheduledTasks/Running/" + task_id, "", deadline);
}

WriteResult Client::start_task(const std::string& task_id, Deadline deadline) {
  if (!safe_path_segment(task_id))
    return {WriteResult::Outcome::NotApplied, "task id \"" + task_id + "\" is not a Jellyfin id"};
  return write("POST", "/ScheduledTasks/Running/" + task_id, "", deadline);
}

Result<void> Client::send_command(const std::string& session_id, const std::string& command,
                                  const nlohmann::json& arguments, Deadline deadline) {
  if (!safe_path_segment(session_id))
    return make_error("session id \"" + session_id + "\" is not a Jellyfin id");
  nlohmann::json body = {{"Name", command}, {"Arguments", arguments}};
  auto response = call("POST", "/Sessions/" + session_id + "/Command", body.dump(), deadline);
  if (!response.ok()) return response.error();
  return {};
}

WriteResult Client::set_max_streaming_bitrate(const std::string& session_id, int64_t bitrate,
                                              Deadline deadline) {
  if (!safe_path_segment(session_id))
    return {WriteResult::Outcome::NotApplied, "session id \"" + session_id + "\" is not a Jellyfin id"};
  // Jellyfin's GeneralCommand arguments are strings.
  nlohmann::json body = {{"Name", "SetMaxStreamingBitrate"},
                         {"Arguments", {{"Bitrate", std::to_string(bitrate)}}}};
  return write("POST", "/Sessions/" + session_id + "/Command", body.dump(), deadline);
}

Result<void> Client::send_message(const std::string& session_id, const std::string& header,
                                  const std::string& text, int64_t timeout_ms, Deadline deadline) {
  if (!safe_path_segment(session_id))
    return make_error("session id \"" + session_id + "\" is not a Jellyfin id");
  nlohmann::json body = {{"Header", header}, {"Text", text}, {"TimeoutMs", timeout_ms}};
  auto response = call("POST", "/Sessions/" + session_id + "/Message", body.dump(), deadline);
  if (!response.ok()) return response.error();
  return {};
}

Result<void> Client::stop_playback(const std::string& session_id, Deadline deadline) {
  if (!safe_path_segment(session_id))
    return make_error("session id \"" + session_id + "\" is not a Jellyfin id");
  auto response = call("POST", "/Sessions/" + session_id + "/Playing/Stop", "", deadline);
  if (!response.ok()) return response.error();
  return {};
}

Result<std::shared_ptr<Client>> make_client(const JellyfinInstanceSettings& settings) {
  auto url = parse_url(settings.url);
  if (!url.ok()) return make_error("[[jellyfin]] \"" + settings.name + "\": " + url.error().message);
  Result<std::string> key = make_error("no key");
  if (!settings.credential.empty()) {
    key = read_api_key_credential(settings.credential);
  } else if (!settings.api_key_file.empty()) {
    std::string path = settings.api_key_file;
    if (path.starts_with("~/")) {
      const char* home = std::getenv("HOME");
      if (home == nullptr || *home == '\0')
        return make_error("[[jellyfin]] \"" + settings.name +
                          "\": api_key_file starts with ~ but $HOME is not set");
      path = std::string(home) + path.substr(1);
    }
    key = read_api_key_file(path);
  } else {
    return make_error("[[jellyfin]] \"" + settings.name + "\": set api_key_file or credential");
  }
  if (!key.ok()) return make_error("[[jellyfin]] \"" + settings.name + "\": " + key.error().message);
  ClientSettings client;
  client.name = settings.name;
  client.url = std::move(*url);
  client.api_key = std::move(*key);
  client.timeout = settings.timeout;
  client.action_timeout = settings.action_timeout;
  client.breaker.failure_threshold = std::max(1u, settings.failure_threshold);
  client.breaker.open_for = settings.retry_after;
  client.breaker.max_open_for = std::max(settings.retry_after, std::chrono::milliseconds(300'000));
  return std::make_shared<Client>(std::move(client));
}

}  // namespace guardian::jellyfin
