#include "helper/client_hub.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace guardian::helper {
namespace {

constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

}  // namespace

Result<ClientHub> ClientHub::listen(const std::string& path, Epoll& epoll, HubLimits limits) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path))
    return make_error("socket path '" + path + "' is empty or too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(std::string("socket(): ") + std::strerror(errno));
  // A socket file left by an earlier run would make bind() fail; only a socket is removed.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(path + " exists and is not a socket");
    ::unlink(path.c_str());
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return make_error("bind " + path + ": " + std::strerror(errno));
  }
  // Everyone may connect; what a client receives is decided by its SO_PEERCRED.
  if (::chmod(path.c_str(), 0666) != 0) return make_error("chmod 0666 " + path + ": " + std::strerror(errno));
  if (::listen(fd.get(), 64) != 0) return make_error("listen " + path + ": " + std::strerror(errno));
  if (auto added = epoll.add(fd.get(), EPOLLIN, Tag{Source::Listener, 0}); !added) return added.error();
  return ClientHub(std::move(fd), path, epoll, limits);
}

ClientHub::~ClientHub() {
  if (listener_.valid()) ::unlink(path_.c_str());
}

std::vector<ClientInfo> ClientHub::accept_pending(
    const std::function<helper_wire::Hello(const ClientInfo&)>& greet) {
  std::vector<ClientInfo> accepted;
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: none left; other errors (EMFILE, ...) retry on the next wakeup
    }
    ucred cred{};
    socklen_t length = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) continue;
    std::size_t same_uid = 0;
    for (const auto& [id, c] : clients_) same_uid += c.info.uid == cred.uid ? 1 : 0;
    std::string refusal;
    if (clients_.size() >= limits_.max_clients) {
      refusal = "too many clients (" + std::to_string(limits_.max_clients) + ")";
    } else if (cred.uid != 0 && same_uid >= limits_.max_clients_per_uid) {
      refusal = "too many connections for uid " + std::to_string(cred.uid) + " (" +
                std::to_string(limits_.max_clients_per_uid) + ")";
    }
    if (!refusal.empty()) {
      const std::string line = helper_wire::encode(helper_wire::Reply{0, false, refusal, std::nullopt});
      (void)!::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    const uint32_t id = next_id_++;
    Client client;
    client.info = ClientInfo{id, cred.uid, cred.pid};
    client.fd = std::move(fd);
    if (!epoll_->add(client.fd.get(), kReadEvents, Tag{Source::Client, id})) continue;
    auto [it, inserted] = clients_.emplace(id, std::move(client));
    accepted.push_back(it->second.info);
    send(id, greet(it->second.info));
  }
  return accepted;
}

ClientHub::Input ClientHub::read_from(uint32_t id) {
  Input input;
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    input.closed = true;
    return input;
  }
  Client& client = it->second;
  char buffer[4096];
  std::size_t budget = limits_.read_budget;
  bool gone = false;
  while (budget > 0) {
    const ssize_t got = ::recv(client.fd.get(), buffer, std::min(sizeof(buffer), budget), 0);
    if (got > 0) {
      client.framer.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
      budget -= static_cast<std::size_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    gone = true;  // 0: orderly close; other errors: reset
    break;
  }
  while (auto line = client.framer.next()) {
    std::string problem;
    if (!*line) {
      problem = line->error().message;
    } else if (auto request = helper_wire::decode_client_request(line->value())) {
      input.requests.push_back(std::move(*request));
      continue;
    } else {
      problem = request.error().message;
    }
    send(id, helper_wire::Reply{0, false, problem, std::nullopt});
    if (++client.bad_lines >= limits_.max_bad_lines) {
      gone = true;
      break;
    }
  }
  if (gone) {
    close(id);
    input.closed = true;
  }
  return input;
}

void ClientHub::on_writable(uint32_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  flush(it->second);
  for (uint32_t doomed : std::exchange(doomed_, {})) close(doomed);
}

void ClientHub::enqueue(Client& client, const std::string& bytes) {
  if (client.outgoing.size() + bytes.size() > limits_.queue_bytes) {
    ++client.lost;
    ++total_lost_;
    return;
  }
  client.outgoing += bytes;
}

void ClientHub::send(uint32_t id, const helper_wire::ServerMessage& message) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  enqueue(it->second, helper_wire::encode(message));
  flush(it->second);
  for (uint32_t doomed : std::exchange(doomed_, {})) close(doomed);
}

std::size_t ClientHub::deliver(const helper_wire::ServerMessage& message, std::optional<uid_t> owner,
                               bool write_now) {
  const std::string bytes = helper_wire::encode(message);
  std::size_t queued = 0;
  for (auto& [id, client] : clients_) {
    if (client.info.uid != 0 && (!owner || client.info.uid != *owner)) continue;
    enqueue(client, bytes);
    if (write_now) flush(client);
    ++queued;
  }
  for (uint32_t doomed : std::exchange(doomed_, {})) close(doomed);
  return queued;
}

void ClientHub::flush_all() {
  for (auto& [id, client] : clients_) {
    if (!client.outgoing.empty() || client.lost > 0) flush(client);
  }
  for (uint32_t doomed : std::exchange(doomed_, {})) close(doomed);
}

void ClientHub::flush(Client& client) {
  for (;;) {
    while (!client.outgoing.empty()) {
      const ssize_t sent = ::send(client.fd.get(), client.outgoing.data(), client.outgoing.size(),
                                  MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        client.outgoing.erase(0, static_cast<std::size_t>(sent));
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      doomed_.push_back(client.info.id);  // EPIPE, ECONNRESET: the client is gone
      return;
    }
    // Once the backlog is gone (or at least half of it), say how much was dropped meanwhile.
    if (client.lost > 0 && client.outgoing.size() <= limits_.queue_bytes / 2) {
      const uint64_t count = std::exchange(client.lost, 0);
      client.outgoing += helper_wire::encode(helper_wire::Lost{count});
      continue;
    }
    break;
  }
  update_interest(client);
}

void ClientHub::update_interest(Client& client) {
  const bool want = !client.outgoing.empty() || client.lost > 0;
  if (want == client.want_write) return;
  client.want_write = want;
  (void)epoll_->modify(client.fd.get(), kReadEvents | (want ? EPOLLOUT : 0U),
                       Tag{Source::Client, client.info.id});
}

void ClientHub::close(uint32_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  epoll_->remove(it->second.fd.get());
  clients_.erase(it);
  if (on_close_) on_close_(id);
}

std::optional<ClientInfo> ClientHub::info(uint32_t id) const {
  auto it = clients_.find(id);
  if (it == clients_.end()) return std::nullopt;
  return it->second.info;
}

std::vector<ClientInfo> ClientHub::clients() const {
  std::vector<ClientInfo> out;
  for (const auto& [id, c] : clients_) out.push_back(c.info);
  return out;
}

}  // namespace guardian::helper
