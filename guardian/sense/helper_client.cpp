#include "sense/helper_client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <utility>

namespace guardian {

Result<HelperClient> HelperClient::connect(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(address.sun_path)) {
    return make_error("guardian-helper socket path '" + socket_path + "' is empty or too long");
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(std::string("guardian-helper: socket(): ") + std::strerror(errno));
  // A Unix socket connects at once or fails; EAGAIN (backlog full) counts as "not now".
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return make_error("guardian-helper socket " + socket_path + ": " + std::strerror(errno));
  }
  return HelperClient(std::move(fd));
}

HelperClient::HelperClient(UniqueFd fd) : fd_(std::move(fd)) {
  framer_.reserve(helper_wire::kMaxLineBytes + kReceiveChunk);
}

HelperClient HelperClient::adopt(UniqueFd connected) {
  ::fcntl(connected.get(), F_SETFL, ::fcntl(connected.get(), F_GETFL) | O_NONBLOCK);
  return HelperClient(std::move(connected));
}

Result<HelperClient::ReadState> HelperClient::read_available(MessageSink sink) {
  std::size_t taken = 0, delivered = 0;
  char buffer[kReceiveChunk];
  while (taken < read_per_call_) {
    const ssize_t got = ::recv(fd_.get(), buffer, std::min(sizeof(buffer), read_per_call_ - taken), 0);
    if (got > 0) {
      // Every complete line is taken before the next feed, so the framer holds at most an
      // unfinished line and this chunk: the room set aside at connection.
      taken += static_cast<std::size_t>(got);
      framer_.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
      delivered += deliver(sink);
      continue;
    }
    if (got == 0) {
      if (delivered > 0) return ReadState::Drained;
      return make_error("guardian-helper closed the connection");
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadState::Drained;
    return make_error(std::string("guardian-helper connection: ") + std::strerror(errno));
  }
  return ReadState::More;
}

std::size_t HelperClient::deliver(const MessageSink& sink) {
  std::size_t delivered = 0;
  while (auto line = framer_.next_line()) {
    if (!*line) {
      problems_.push_back(line->error().message);
      continue;
    }
    auto message = decoder_.decode(line->value());
    if (!message) {
      problems_.push_back(message.error().message);
      continue;
    }
    const helper_wire::ServerMessage& decoded = **message;
    if (std::holds_alternative<helper_wire::Unknown>(decoded)) continue;
    if (const auto* hello = std::get_if<helper_wire::Hello>(&decoded)) hello_ = *hello;
    sink(decoded);
    ++delivered;
  }
  return delivered;
}

uint64_t HelperClient::send(helper_wire::ClientRequest request) {
  uint64_t id = 0;
  std::visit(
      [&](auto& r) {
        if constexpr (requires { r.request; }) {
          id = next_request_++;
          r.request = id;
        }
      },
      request);
  outgoing_ += helper_wire::encode(request);
  (void)flush();  // an error shows again at the next flush() or read
  return id;
}

Result<void> HelperClient::flush() {
  while (!outgoing_.empty()) {
    const ssize_t sent = ::send(fd_.get(), outgoing_.data(), outgoing_.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      outgoing_.erase(0, static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    return make_error(std::string("guardian-helper connection: send: ") + std::strerror(errno));
  }
  return {};
}

std::vector<std::string> HelperClient::take_problems() { return std::exchange(problems_, {}); }

}  // namespace guardian
