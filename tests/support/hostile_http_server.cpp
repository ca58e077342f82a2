#include "support/hostile_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string_view>

namespace guardian::testing {

HostileHttpServer::HostileHttpServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
  socklen_t length = sizeof addr;
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 8) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

HostileHttpServer::~HostileHttpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool HostileHttpServer::send_all(int fd, std::string_view bytes, const std::atomic<bool>& stop) {
  while (!bytes.empty()) {
    if (stop.load()) return false;
    pollfd out{fd, POLLOUT, 0};
    if (::poll(&out, 1, 50) <= 0) continue;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void HostileHttpServer::run() {
  while (!stop_.load()) {
    pollfd in{listener_.get(), POLLIN, 0};
    if (::poll(&in, 1, 50) <= 0) continue;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    // The request head (the client sends it at once).
    std::string head;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (head.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until &&
           !stop_.load()) {
      pollfd readable{client.get(), POLLIN, 0};
      if (::poll(&readable, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
      if (n <= 0) break;
      head.append(buffer, static_cast<size_t>(n));
    }
    behaviour_(client.get(), stop_);
  }
}

HostileHttpServer::Behaviour HostileHttpServer::many_small_chunks(size_t chunks) {
  return [chunks](int fd, const std::atomic<bool>& stop) {
    std::string wire =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    wire.reserve(wire.size() + chunks * 6 + 5);
    for (size_t i = 0; i < chunks; ++i) wire += "1\r\nx\r\n";
    wire += "0\r\n\r\n";
    (void)send_all(fd, wire, stop);
  };
}

HostileHttpServer::Behaviour HostileHttpServer::endless_chunks(size_t bytes_per_ms) {
  return [bytes_per_ms](int fd, const std::atomic<bool>& stop) {
    if (!send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", stop)) return;
    std::string block;
    for (int i = 0; i < 1000; ++i) block += "1\r\nx\r\n";  // 6000 bytes
    auto next = std::chrono::steady_clock::now();
    while (!stop.load()) {
      if (bytes_per_ms > 0) {
        next += std::chrono::microseconds(block.size() * 1000 / bytes_per_ms);
        std::this_thread::sleep_until(next);
      }
      if (!send_all(fd, block, stop)) return;
    }
  };
}

HostileHttpServer::Behaviour HostileHttpServer::drip(int interval_ms) {
  return [interval_ms](int fd, const std::atomic<bool>& stop) {
    if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", stop)) return;
    while (!stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
      if (!send_all(fd, "x", stop)) return;
    }
  };
}

HostileHttpServer::Behaviour HostileHttpServer::conflicting_lengths() {
  return [](int fd, const std::atomic<bool>& stop) {
    (void)send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello", stop);
  };
}

}  // namespace guardian::testing
