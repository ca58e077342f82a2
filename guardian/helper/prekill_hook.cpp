#include "helper/prekill_hook.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace guardian::helper {
namespace {

constexpr const char* kNotify = "io.systemd.oom.Prekill.Notify";
constexpr std::size_t kMaxConnections = 16;
constexpr std::size_t kMaxPendingPerConnection = 64;

}  // namespace

Result<std::string> notify_cgroup(const varlink::Call& call) {
  auto cgroup = call.parameters.find("cgroup");
  if (cgroup == call.parameters.end() || !cgroup->is_string() || cgroup->get<std::string>().empty() ||
      cgroup->get<std::string>().front() != '/') {
    return make_error(
        varlink::error_reply("org.varlink.service.InvalidParameter", {{"parameter", "cgroup"}}));
  }
  return cgroup->get<std::string>();
}

std::optional<std::string> answer_directly(const varlink::Call& call) {
  if (call.method == kNotify) {
    if (auto cgroup = notify_cgroup(call); !cgroup) return cgroup.error().message;
    return std::nullopt;
  }
  if (call.method == "org.varlink.service.GetInfo") {
    return varlink::reply({{"vendor", "guardian"},
                           {"product", "guardian-helper"},
                           {"version", GUARDIAN_VERSION},
                           {"url", "https://github.com/guardian/guardian"},
                           {"interfaces", {"org.varlink.service", "io.systemd.oom.Prekill"}}});
  }
  if (call.method == "org.varlink.service.GetInterfaceDescription") {
    auto name = call.parameters.find("interface");
    if (name == call.parameters.end() || !name->is_string()) {
      return varlink::error_reply("org.varlink.service.InvalidParameter", {{"parameter", "interface"}});
    }
    if (name->get<std::string>() != "io.systemd.oom.Prekill") {
      return varlink::error_reply("org.varlink.service.InterfaceNotFound", {{"interface", *name}});
    }
    return varlink::reply({{"description", varlink::kPrekillInterface}});
  }
  const std::size_t dot = call.method.rfind('.');
  const std::string interface = dot == std::string::npos ? call.method : call.method.substr(0, dot);
  if (interface != "io.systemd.oom.Prekill" && interface != "org.varlink.service") {
    return varlink::error_reply("org.varlink.service.InterfaceNotFound", {{"interface", interface}});
  }
  return varlink::error_reply("org.varlink.service.MethodNotFound", {{"method", call.method}});
}

Result<PrekillHook> PrekillHook::listen(const std::string& path, Epoll& epoll, std::set<uid_t> callers) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path))
    return make_error("socket path '" + path + "' is empty or too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(std::string("socket(): ") + std::strerror(errno));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(path + " exists and is not a socket");
    ::unlink(path.c_str());
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return make_error("bind " + path + ": " + std::strerror(errno));
  }
  // systemd-oomd runs as its own user (systemd-oom): it must be able to connect. Who may call
  // is checked per connection.
  if (::chmod(path.c_str(), 0666) != 0) return make_error("chmod 0666 " + path + ": " + std::strerror(errno));
  if (::listen(fd.get(), 16) != 0) return make_error("listen " + path + ": " + std::strerror(errno));
  if (auto added = epoll.add(fd.get(), EPOLLIN, Tag{Source::VarlinkListener, 0}); !added)
    return added.error();
  return PrekillHook(std::move(fd), path, epoll, std::move(callers));
}

PrekillHook::~PrekillHook() {
  if (listener_.valid()) ::unlink(path_.c_str());
}

void PrekillHook::accept_pending() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR) continue;
      return;
    }
    ucred cred{};
    socklen_t length = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) continue;
    if (!callers_.contains(cred.uid) || connections_.size() >= kMaxConnections) continue;  // closed
    const uint32_t id = next_connection_++;
    if (!epoll_->add(fd.get(), EPOLLIN | EPOLLRDHUP, Tag{Source::VarlinkConnection, id})) continue;
    Connection connection;
    connection.fd = std::move(fd);
    connections_.emplace(id, std::move(connection));
  }
}

std::vector<PrekillHook::Notice> PrekillHook::read_from(uint32_t id) {
  std::vector<Notice> notices;
  auto it = connections_.find(id);
  if (it == connections_.end()) return notices;
  Connection& connection = it->second;
  char buffer[4096];
  bool gone = false;
  while (!connection.eof) {
    const ssize_t got = ::recv(connection.fd.get(), buffer, sizeof(buffer), 0);
    if (got > 0) {
      connection.framer.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
      continue;
    }
    if (got == 0) {
      connection.eof = true;  // the calls already sent are still answered
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    gone = true;
    break;
  }
  while (!gone) {
    auto message = connection.framer.next();
    if (!message) break;
    if (!*message) {
      gone = true;  // over the size limit: cannot resynchronise
      break;
    }
    auto call = varlink::parse_call(message->value());
    if (!call) {
      gone = true;  // not Varlink: nothing sensible to answer
      break;
    }
    if (connection.slots.size() >= kMaxPendingPerConnection) {
      gone = true;
      break;
    }
    if (auto direct = answer_directly(*call)) {
      if (!call->oneway) connection.slots.push_back(Slot{0, std::move(*direct)});
      continue;
    }
    auto cgroup = notify_cgroup(*call);
    const uint64_t notice = next_notice_++;
    notices.push_back(Notice{notice, *cgroup});
    if (!call->oneway) {
      connection.slots.push_back(Slot{notice, std::nullopt});
      notice_connection_[notice] = id;
    }
  }
  if (gone) {
    close(id);
    return notices;
  }
  release(id, connection);
  return notices;
}

void PrekillHook::answer(uint64_t notice) {
  auto where = notice_connection_.find(notice);
  if (where == notice_connection_.end()) return;
  const uint32_t id = where->second;
  notice_connection_.erase(where);
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  for (auto& slot : it->second.slots) {
    if (slot.notice == notice) slot.bytes = varlink::reply();
  }
  release(id, it->second);
}

void PrekillHook::release(uint32_t id, Connection& connection) {
  while (!connection.slots.empty() && connection.slots.front().bytes) {
    connection.outgoing += *connection.slots.front().bytes;
    connection.slots.pop_front();
  }
  while (!connection.outgoing.empty()) {
    const ssize_t sent = ::send(connection.fd.get(), connection.outgoing.data(), connection.outgoing.size(),
                                MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      connection.outgoing.erase(0, static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(id);
    return;
  }
  if (connection.eof && connection.slots.empty() && connection.outgoing.empty()) {
    close(id);
    return;
  }
  // After EOF, EPOLLIN would report the end again on every wait (level-triggered): only wait
  // for writability then.
  const uint32_t events = (connection.eof ? 0U : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP)) |
                          (connection.outgoing.empty() ? 0U : static_cast<uint32_t>(EPOLLOUT));
  (void)epoll_->modify(connection.fd.get(), events, Tag{Source::VarlinkConnection, id});
}

void PrekillHook::on_writable(uint32_t id) {
  auto it = connections_.find(id);
  if (it != connections_.end()) release(id, it->second);
}

void PrekillHook::close(uint32_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  for (const auto& slot : it->second.slots) {
    if (slot.notice != 0 && !slot.bytes) {
      notice_connection_.erase(slot.notice);
      abandoned_.push_back(slot.notice);
    }
  }
  epoll_->remove(it->second.fd.get());
  connections_.erase(it);
}

std::vector<uint64_t> PrekillHook::take_abandoned() { return std::exchange(abandoned_, {}); }

}  // namespace guardian::helper
