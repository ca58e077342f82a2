#include "helper/support/varlink_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "helper/support/as_user.h"

namespace guardian::testing {

Result<VarlinkClient> VarlinkClient::connect(const std::string& path, std::optional<uid_t> as_uid) {
  if (as_uid) {
    auto fd = connect_as(*as_uid, path);
    if (!fd) return fd.error();
    return VarlinkClient(std::move(*fd));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return make_error("connect " + path + ": " + std::strerror(errno));
  }
  return VarlinkClient(std::move(fd));
}

Result<void> VarlinkClient::call(const std::string& method, const nlohmann::json& parameters, bool oneway) {
  nlohmann::json message = {{"method", method}, {"parameters", parameters}};
  if (oneway) message["oneway"] = true;
  std::string bytes = message.dump();
  bytes += '\0';
  if (::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    return make_error(std::string("varlink send: ") + std::strerror(errno));
  }
  return {};
}

Result<nlohmann::json> VarlinkClient::reply(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const std::size_t nul = buffer_.find('\0');
    if (nul != std::string::npos) {
      nlohmann::json json = nlohmann::json::parse(buffer_.substr(0, nul), nullptr, false);
      buffer_.erase(0, nul + 1);
      if (json.is_discarded()) return make_error("varlink reply is not JSON");
      return json;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error("no varlink reply within " + std::to_string(timeout_ms) + " ms");
    pollfd entry{fd_.get(), POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    const ssize_t got = ::recv(fd_.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
    if (got == 0) return make_error("varlink server closed the connection");
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return make_error(std::string("varlink recv: ") + std::strerror(errno));
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

}  // namespace guardian::testing
