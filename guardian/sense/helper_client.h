// guardian's side of guardian-helper (the privileged BPF relay, guardian/helper/): one more sense
// source, never a stage of its own. It connects to the helper's Unix socket, reads the events the
// helper relays for this user (exec/exit of ffmpeg and ffprobe, kernel OOM kills, systemd-oomd's
// SIGKILLs, PSI triggers it registered, systemd-oomd's pre-kill notices) and sends requests.
// Everything is non-blocking: the daemon polls fd() in its epoll loop and calls read_available()
// when it is readable. Reading allocates nothing once warm: the bytes go through one buffer set
// aside at connection and each line is decoded into messages the client keeps and refills
// (helper_wire::ServerDecoder), handed to the caller one at a time. When the socket is absent or the
// connection breaks, the caller falls back to polling; nothing here retries on its own. Depends only on
// common/ (the wire format is common/helper_wire.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/fd.h"
#include "common/helper_wire.h"
#include "common/result.h"

namespace guardian {

inline constexpr const char* kHelperSocketPath = "/run/guardian/helper.sock";

// A callable that takes each message as it is decoded, without owning or copying it (so handing
// a lambda over allocates nothing). The message lives until the call returns.
class MessageSink {
 public:
  template <class F>
  MessageSink(F&& f)  // NOLINT(google-explicit-constructor): a lambda passes as a sink
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, const helper_wire::ServerMessage& message) {
          (*static_cast<std::remove_reference_t<F>*>(object))(message);
        }) {}
  void operator()(const helper_wire::ServerMessage& message) const { call_(object_, message); }

 private:
  void* object_;
  void (*call_)(void*, const helper_wire::ServerMessage&);
};

class HelperClient {
 public:
  // The bytes one recv() takes; the framer is set aside for an unfinished line plus one of them.
  static constexpr std::size_t kReceiveChunk = 16384;
  // The most read_available() takes in one call: the largest burst the helper can have waiting
  // for this client (what it queues before it drops events and says `lost count=N`). Past it the
  // call returns ReadState::More and the rest stays in the socket, which stays readable, so a
  // level-triggered poll comes back to it at once, after the loop's other work; nothing is
  // dropped here.
  static constexpr std::size_t kReadPerCall = helper_wire::kClientQueueBytes;
  enum class ReadState {
    Drained,  // the socket had nothing more
    More,     // kReadPerCall taken; the rest waits in the socket
  };

  // Connects to the helper's socket. An error means "no helper": absent socket (ENOENT),
  // nobody listening (ECONNREFUSED), or no permission; the message names the path.
  static Result<HelperClient> connect(const std::string& socket_path = kHelperSocketPath);

  // A client on a socket already connected to the helper (by another process that passed it on,
  // or a test that connected as another user). The socket is made non-blocking.
  static HelperClient adopt(UniqueFd connected);

  [[nodiscard]] int fd() const { return fd_.get(); }

  // Reads what the socket has without blocking, up to kReadPerCall bytes, and hands each decoded
  // message to `sink` in order (message types this client does not know are skipped). Malformed
  // lines are skipped too and kept for take_problems(): the connection stays usable. An error
  // means the connection is gone (the helper stopped or dropped this client); the caller closes
  // it and falls back to polling. Messages that came before a close are handed over first, the
  // close is the next call's error. `sink` may send() but must not destroy this client.
  Result<ReadState> read_available(MessageSink sink);
  // A smaller share per call than kReadPerCall (at least one line's worth), for a caller that
  // wants shorter turns; the rule past it is the same.
  void limit_read_per_call(std::size_t bytes) {
    read_per_call_ = std::max(bytes, helper_wire::kMaxLineBytes);
  }

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
  explicit HelperClient(UniqueFd fd);
  // Decodes every complete line buffered and hands the messages to `sink`; how many it handed.
  std::size_t deliver(const MessageSink& sink);

  UniqueFd fd_;
  helper_wire::LineFramer framer_;
  helper_wire::ServerDecoder decoder_;
  std::optional<helper_wire::Hello> hello_;
  std::string outgoing_;
  uint64_t next_request_ = 1;
  std::vector<std::string> problems_;
  std::size_t read_per_call_ = kReadPerCall;
};

}  // namespace guardian
