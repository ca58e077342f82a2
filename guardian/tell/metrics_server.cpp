#include "tell/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <unordered_map>

#include "tell/metrics_exporter.h"

namespace guardian {
namespace {

using Clock = std::chrono::steady_clock;

bool is_token_char(char c) {
  // RFC 9110 tchar
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string status_response(std::string_view status, std::string_view extra_headers, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\n";
  out += extra_headers;
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

RequestHead parse_request_head(std::string_view bytes) {
  RequestHead head;
  const auto end = bytes.find("\r\n\r\n");
  const auto bare_end = bytes.find("\n\n");  // tolerated, as most servers do
  if (end == std::string_view::npos && bare_end == std::string_view::npos) {
    if (bytes.size() > kMaxRequestHeadBytes) head.state = RequestHead::State::Bad;
    return head;
  }
  const size_t head_size = std::min(end == std::string_view::npos ? bytes.size() : end + 4,
                                    bare_end == std::string_view::npos ? bytes.size() : bare_end + 2);
  head.state = RequestHead::State::Bad;
  if (head_size > kMaxRequestHeadBytes) return head;
  const auto line_end = bytes.find('\n');
  std::string_view line = bytes.substr(0, line_end);
  if (line.ends_with('\r')) line.remove_suffix(1);
  const auto first = line.find(' ');
  if (first == std::string_view::npos || first == 0) return head;
  const auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second == first + 1) return head;
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!std::all_of(method.begin(), method.end(), is_token_char)) return head;
  if (target.front() != '/' || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    return head;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return head;
  head.state = RequestHead::State::Complete;
  head.method = method;
  head.path = target.substr(0, target.find('?'));
  return head;
}

std::string respond_to(const RequestHead& head, const std::function<std::string()>& render_metrics) {
  if (head.state != RequestHead::State::Complete)
    return status_response("400 Bad Request", "", "bad request\n");
  if (head.path != "/metrics") return status_response("404 Not Found", "", "guardian serves /metrics only\n");
  if (head.method != "GET" && head.method != "HEAD")
    return status_response("405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                           "/metrics answers GET and HEAD only\n");
  const std::string body = render_metrics();
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (head.method == "GET") out += body;
  return out;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const ListenAddress& address,
                                                            std::function<std::string()> render_metrics) {
  const bool v6 = address.host.front() == '[';
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v6) {
    auto* addr = reinterpret_cast<sockaddr_in6*>(&storage);
    addr->sin6_family = AF_INET6;
    addr->sin6_port = htons(address.port);
    const std::string literal = address.host.substr(1, address.host.size() - 2);
    if (::inet_pton(AF_INET6, literal.c_str(), &addr->sin6_addr) != 1)
      return make_error("metrics: " + address.host + " is not an IPv6 address");
    length = sizeof(sockaddr_in6);
  } else {
    auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
    addr->sin_family = AF_INET;
    addr->sin_port = htons(address.port);
    const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
    if (::inet_pton(AF_INET, host.c_str(), &addr->sin_addr) != 1)
      return make_error("metrics: " + address.host + " is not an IPv4 address");
    length = sizeof(sockaddr_in);
  }
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  server->render_ = std::move(render_metrics);
  server->listener_.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!server->listener_) return make_error(std::string("metrics: socket: ") + std::strerror(errno));
  const int one = 1;
  (void)::setsockopt(server->listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) (void)::setsockopt(server->listener_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(server->listener_.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0 ||
      ::listen(server->listener_.get(), 128) != 0) {
    return make_error("metrics: cannot listen on " + address.host + ":" + std::to_string(address.port) +
                      " (" + std::strerror(errno) + (errno == EADDRINUSE ? "; is the port in use?" : "") +
                      "); guardian runs on without /metrics");
  }
  socklen_t bound_length = sizeof storage;
  (void)::getsockname(server->listener_.get(), reinterpret_cast<sockaddr*>(&storage), &bound_length);
  server->port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                           : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  server->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  server->wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!server->epoll_ || !server->wake_)
    return make_error(std::string("metrics: epoll: ") + std::strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = server->listener_.get();
  (void)::epoll_ctl(server->epoll_.get(), EPOLL_CTL_ADD, server->listener_.get(), &event);
  event.data.fd = server->wake_.get();
  (void)::epoll_ctl(server->epoll_.get(), EPOLL_CTL_ADD, server->wake_.get(), &event);
  server->thread_ = std::thread([raw = server.get()] { raw->run(); });
  return server;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
}

void MetricsServer::run() {
  struct Connection {
    UniqueFd fd;
    Clock::time_point deadline;
    std::string in;
    std::string out;  // the response, once the request is in
    size_t sent = 0;
  };
  // Oldest first: the first entry still reading is the one to drop when all slots are taken.
  std::list<Connection> connections;
  std::unordered_map<int, std::list<Connection>::iterator> by_fd;
  auto close_connection = [&](std::list<Connection>::iterator it) {
    by_fd.erase(it->fd.get());
    connections.erase(it);  // closes; a closed fd leaves the epoll set
  };
  auto write_some = [&](std::list<Connection>::iterator it) {
    while (it->sent < it->out.size()) {
      const ssize_t n = ::send(it->fd.get(), it->out.data() + it->sent, it->out.size() - it->sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        it->sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      break;  // the peer went away
    }
    close_connection(it);
  };
  epoll_event events[32];
  for (;;) {
    int timeout_ms = -1;
    if (!connections.empty()) {
      const auto earliest =
          std::min_element(connections.begin(), connections.end(), [](const auto& a, const auto& b) {
            return a.deadline < b.deadline;
          })->deadline;
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(earliest - Clock::now()).count() + 1, 0,
          60'000));
    }
    const int count = ::epoll_wait(epoll_.get(), events, 32, timeout_ms);
    if (count < 0 && errno != EINTR) return;
    for (int i = 0; i < count; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.get()) return;
      if (fd == listener_.get()) {
        for (;;) {
          UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
          if (!client) break;
          if (connections.size() >= kMaxConnections) {
            // Make room: the oldest connection still sending its request.
            auto oldest = std::find_if(connections.begin(), connections.end(),
                                       [](const Connection& c) { return c.out.empty(); });
            if (oldest == connections.end()) continue;  // all are being answered: refuse this one
            close_connection(oldest);
          }
          epoll_event event{};
          event.events = EPOLLIN | EPOLLRDHUP;
          event.data.fd = client.get();
          if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) continue;
          const int client_fd = client.get();
          connections.push_back(Connection{std::move(client), Clock::now() + kRequestTimeout, {}, {}, 0});
          by_fd[client_fd] = std::prev(connections.end());
        }
        continue;
      }
      const auto found = by_fd.find(fd);
      if (found == by_fd.end()) continue;
      const auto it = found->second;
      if (!it->out.empty()) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) write_some(it);
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_connection(it);
        continue;
      }
      if (n < 0) continue;
      it->in.append(buffer, static_cast<size_t>(n));
      const RequestHead head = parse_request_head(it->in);
      if (head.state == RequestHead::State::Incomplete) continue;
      it->out = respond_to(head, render_);
      it->in.clear();
      it->in.shrink_to_fit();
      it->deadline = Clock::now() + kRequestTimeout;  // to take the answer
      epoll_event event{};
      event.events = EPOLLOUT;
      event.data.fd = fd;
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event);
      write_some(it);
    }
    const auto now = Clock::now();
    for (auto it = connections.begin(); it != connections.end();) {
      auto next = std::next(it);
      if (it->deadline <= now) close_connection(it);
      it = next;
    }
  }
}

}  // namespace guardian
