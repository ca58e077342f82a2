// A Varlink client of the tests' own (what systemd-oomd does when it calls a pre-kill hook, per
// its oomd-util.c: connect, call io.systemd.oom.Prekill.Notify {"cgroup": PATH}, wait for the
// reply up to PrekillHookTimeoutSec=): JSON objects, each followed by a NUL byte.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace guardian::testing {

class VarlinkClient {
 public:
  static Result<VarlinkClient> connect(const std::string& path, std::optional<uid_t> as_uid = std::nullopt);
  // Sends one call; does not wait.
  Result<void> call(const std::string& method, const nlohmann::json& parameters, bool oneway = false);
  // The next reply, or an error when none came within timeout_ms (or the server closed).
  Result<nlohmann::json> reply(int timeout_ms);
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  explicit VarlinkClient(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  std::string buffer_;
};

}  // namespace guardian::testing
