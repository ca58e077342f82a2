// guardian's side of guardian-helper (the privileged BPF relay, guardian/helper/): one more sense
// source, never a stage of its own. It connects to the helper's Unix socket, reads the events the
// helper relays for this user (exec/exit of ffmpeg and ffprobe, kernel OOM kills, systemd-oomd's
// SIGKILLs, PSI triggers it registered, systemd-oomd's pre-kill notices) and sends requests.
// Everything is non-blocking: the daemon polls fd() in its epoll loop and calls read_available()
// when it is readable. When the socket is absent or the connection breaks, the caller falls back
// to polling; nothing here retries on its own. Depends only on common/ (the wire format is
// common/helper_wire.h).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/helper_wire.h"
#include "common/result.h"

namespace guardian {

inline constexpr const char* kHelperSocketPath = "/run/guardian/helper.sock";

class HelperClient {
 public:
  // Connects to the helper's socket. An error means "no helper": absent socket (ENOENT),
  // nobody listening (ECONNREFUSED), or no permission; the message names the path.
  static Result<HelperClient> connect(const std::string& socket_path = kHelperSocketPath);

  // A client on a socket already connected to the helper (by another process that passed it on,
  // or a test that connected as another user). The socket is made non-blocking.
  static HelperClient adopt(UniqueFd connected);

  [[nodiscard]] int fd() const { return fd_.get(); }

  // Reads what the socket has without blocking and returns the decoded messages in order
  // (message types this client does not know are skipped). Malformed lines are skipped too and
  // kept for take_problems(): the connection stays usable. An error means the connection is gone
  // (the helper stopped or dropped this client); the caller closes it and falls back to polling.
  Result<std::vector<helper_wire::ServerMessage>> read_available();

  // The helper's greeting, once read (it is the first line the helper sends).
  [[nodiscard]] const std::optional<helper_wire::Hello>& hello() const { return hello_; }

  // Queues a request and writes as much as the socket takes now; the rest goes out with the next
  // flush() (call it when fd() is writable, i.e. while wants_write()). Returns the request id
  // given to requests that carry one (watch-pressure, unwatch-pressure), else 0.
  uint64_t send(helper_wire::ClientRequest request);
  Result<void> flush();
  [[nodiscard]] bool wants_write() const { return !outgoing_.empty(); }

  // Lines that could not be decoded since the last call, each with the reason.
  std::vector<std::string> take_problems();

 private:
  explicit HelperClient(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  helper_wire::LineFramer framer_;
  std::optional<helper_wire::Hello> hello_;
  std::string outgoing_;
  uint64_t next_request_ = 1;
  std::vector<std::string> problems_;
};

}  // namespace guardian
