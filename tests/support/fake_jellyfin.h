// Starts tests/support/fake_jellyfin/fake_jellyfin.py (real HTTP on 127.0.0.1, an ephemeral
// port) and talks to its control endpoints. The server exits when this object closes its stdin.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/child.h"
#include "common/fd.h"
#include "config/policy.h"

namespace guardian::testing {

class FakeJellyfin {
 public:
  // `version`: "10.10" or "10.11" (which fixtures). `state_file`: persist EncodingOptions.
  explicit FakeJellyfin(const std::string& api_key, const std::string& version = "10.11",
                        const std::string& state_file = "");
  ~FakeJellyfin();
  FakeJellyfin(const FakeJellyfin&) = delete;
  FakeJellyfin& operator=(const FakeJellyfin&) = delete;

  [[nodiscard]] bool running() const { return port_ != 0; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  nlohmann::json requests();  // every API request so far
  nlohmann::json encoding();  // the server's current EncodingOptions
  // One fault for every API request (fake_jellyfin.py lists the modes); count < 0 = all.
  void set_mode(const std::string& mode, double delay = 0, int count = -1);
  // A fault for the requests with this method and path prefix only ("" = any), after the ones
  // already set: "hold" (no answer; applied or dropped at release()), "late" (no answer, applied
  // `delay` s later), "garble" (applied, then an answer that is not HTTP), "close" (dropped), …
  void add_fault(const std::string& method, const std::string& path, const std::string& mode,
                 double delay = 0, int count = 1);
  // Applies (or drops) every held request; returns how many there were.
  int release(bool apply = true);
  // API requests being answered right now (held ones included).
  int inflight();
  // The user changes fields in the dashboard.
  void edit(const nlohmann::json& fields);
  // Fixtures again, no faults, no requests, held requests dropped.
  void reset();
  void set_sessions(const nlohmann::json& sessions);
  void set_tasks(const nlohmann::json& tasks);
  void clear_requests();

  // A [[jellyfin]] entry pointing at this server, with a key file (mode 0600) in `dir`.
  JellyfinInstanceSettings settings(const std::string& dir, const std::string& name = "home");

  // The fixture payloads (without the _comment wrapper).
  static nlohmann::json fixture(const std::string& name);

 private:
  nlohmann::json control(const std::string& method, const std::string& path, const std::string& body = "");
  std::string api_key_;
  std::optional<Child> child_;  // while it runs
  UniqueFd stdin_;
  int port_ = 0;
};

}  // namespace guardian::testing
