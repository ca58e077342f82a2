// A hostile HTTP server on 127.0.0.1 for the client's tests and the transport comparison
// (issue 16, item 12): it reads each request head, then runs its behaviour on the socket
// (blocking writes) until the behaviour returns, the client goes away or the server stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "common/fd.h"

namespace guardian::testing {

class HostileHttpServer {
 public:
  // `stop` turns true when the server is being destroyed; a behaviour that loops checks it.
  using Behaviour = std::function<void(int fd, const std::atomic<bool>& stop)>;
  explicit HostileHttpServer(Behaviour behaviour);
  ~HostileHttpServer();
  HostileHttpServer(const HostileHttpServer&) = delete;
  HostileHttpServer& operator=(const HostileHttpServer&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Writes all of `bytes`; false when the client went away or the server stops.
  static bool send_all(int fd, std::string_view bytes, const std::atomic<bool>& stop);

  // The behaviours of issue 16:
  // 1.2 M one-byte chunks (7.2 MB on the wire, a 1.2 MB body), then the last chunk.
  static Behaviour many_small_chunks(size_t chunks = 1'200'000);
  // One-byte chunks without end, `bytes_per_ms` of wire per millisecond (0 = as fast as it goes).
  static Behaviour endless_chunks(size_t bytes_per_ms);
  // A Content-Length of 1 MB, then one byte every `interval_ms`.
  static Behaviour drip(int interval_ms);
  // Two Content-Length headers that differ (5 and 50), then 5 bytes and close.
  static Behaviour conflicting_lengths();

 private:
  void run();
  Behaviour behaviour_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace guardian::testing
