// The typed Jellyfin REST API guardian uses, for one instance. Every call has a deadline (the
// smaller of the caller's and now + the instance's timeout) and goes through the instance's
// circuit breaker: when Jellyfin is down or lying, calls fail fast without touching the network.
// Thread-safe: the watcher thread and the action worker share one Client per instance.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/policy.h"
#include "jellyfin/circuit_breaker.h"
#include "jellyfin/models.h"
#include "net/http.h"

namespace guardian::jellyfin {

struct ClientSettings {
  std::string name = "jellyfin";
  Url url;
  std::string api_key;
  std::chrono::milliseconds timeout{2000};
  // Per request for an action's calls (Client::for_actions), when longer than `timeout`. The
  // watcher polls every few seconds and must not wait; an action is one call the ladder decided
  // it needs, on the worker thread, at the moment Jellyfin is slowest: throttled by a full
  // memory.high like everything else in the user's budget, it answered after the watcher's 2 s
  // had passed (the VM's whole-user squeeze on Fedora's rule, sqj-s23-fg1/fg2/fg5).
  std::chrono::milliseconds action_timeout{6000};
  CircuitBreaker::Settings breaker;
};

// The Authorization header Jellyfin 10.x accepts from every client kind (the legacy
// X-Emby-Token header is off by default from 12.0).
std::string authorization_header(const std::string& api_key, const std::string& device_id);

// The outcome of a request that changes something in Jellyfin. A timeout or a dropped connection
// after the request went out says nothing about whether Jellyfin applied it: Kestrel finishes a
// request whose body it has even when the client gave up, and slow answers are most likely when
// memory is short. Only an HTTP answer that is not 2xx means "not applied".
struct WriteResult {
  enum class Outcome { Applied, NotApplied, Unknown } outcome = Outcome::Applied;
  std::string error;  // empty when applied
  [[nodiscard]] bool applied() const { return outcome == Outcome::Applied; }
  [[nodiscard]] bool unknown() const { return outcome == Outcome::Unknown; }
};

// How many seconds back GET /Sessions looks (jellyfin-web asks for 960): older sessions are
// clients that went away without saying so, not viewers to cap or message.
inline constexpr int kActiveSessionSeconds = 960;

class Client {
 public:
  explicit Client(ClientSettings settings);

  [[nodiscard]] const std::string& name() const { return settings_.name; }
  [[nodiscard]] const Url& url() const { return settings_.url; }
  [[nodiscard]] CircuitBreaker& breaker() { return *breaker_; }
  [[nodiscard]] const CircuitBreaker& breaker() const { return *breaker_; }
  // The same instance, key and breaker, for an action's calls: each waits up to action_timeout,
  // and goes out even while the breaker is open, once per its action_probe_every (the breaker
  // spares the watcher's polls a server that does not answer; an action the ladder climbed for
  // must still be tried, and its answer, or its failure, is recorded in the shared breaker like
  // any other).
  [[nodiscard]] std::shared_ptr<Client> for_actions() const;
  [[nodiscard]] bool is_for_actions() const { return for_actions_; }

  Result<EncodingOptions> get_encoding_options(Deadline deadline);
  // POSTs the whole object (Jellyfin resets missing fields to defaults).
  WriteResult post_encoding_options(const nlohmann::json& options, Deadline deadline);
  // GET /Sessions?activeWithinSeconds=960: the sessions active in the last 16 minutes.
  Result<std::vector<SessionInfo>> get_sessions(Deadline deadline);
  Result<std::vector<ScheduledTask>> get_scheduled_tasks(Deadline deadline);
  WriteResult stop_task(const std::string& task_id,
                        Deadline deadline);  // DELETE /ScheduledTasks/Running/{id}
  WriteResult start_task(const std::string& task_id,
                         Deadline deadline);  // POST /ScheduledTasks/Running/{id}
  // POST /Sessions/{id}/Command {"Name": name, "Arguments": {...}}
  Result<void> send_command(const std::string& session_id, const std::string& command,
                            const nlohmann::json& arguments, Deadline deadline);
  // POST /Sessions/{id}/Command {"Name": "SetMaxStreamingBitrate", "Arguments": {"Bitrate": "N"}}, as
  // a write: a command that went out and got no answer may have reached the client.
  WriteResult set_max_streaming_bitrate(const std::string& session_id, int64_t bitrate, Deadline deadline);
  // POST /Sessions/{id}/Message {"Header","Text","TimeoutMs"}: a toast on the client.
  Result<void> send_message(const std::string& session_id, const std::string& header, const std::string& text,
                            int64_t timeout_ms, Deadline deadline);
  Result<void> stop_playback(const std::string& session_id,
                             Deadline deadline);  // POST /Sessions/{id}/Playing/Stop

 private:
  // One request through the breaker. 2xx = an answer; anything else is an error naming the
  // endpoint and the status, and counts as a failure. With `parse_follows`, a 2xx answer counts
  // as a success only once the caller has read its body (record_answer), so a server that
  // answers nonsense opens the breaker like one that does not answer. `delivery` says how far the
  // request got.
  enum class Delivery { NotSent, NoAnswer, Answered };
  Result<HttpResponse> call(const std::string& method, const std::string& path, std::string body,
                            Deadline deadline, bool parse_follows = false, Delivery* delivery = nullptr);
  template <class T>
  Result<T> record_answer(Result<T> parsed);
  WriteResult write(const std::string& method, const std::string& path, std::string body, Deadline deadline);
  ClientSettings settings_;
  std::shared_ptr<CircuitBreaker> breaker_;  // shared with the for_actions() view
  std::string device_id_;
  bool for_actions_ = false;
};

// Builds a client from a [[jellyfin]] policy entry: parses the URL and reads the API key (file or
// credential), each error naming the instance.
Result<std::shared_ptr<Client>> make_client(const JellyfinInstanceSettings& settings);

}  // namespace guardian::jellyfin
