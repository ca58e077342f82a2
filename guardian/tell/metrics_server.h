// The HTTP server behind /metrics: one thread, epoll, non-blocking sockets.
//
// Why not civetweb (prometheus-cpp's Exposer): it gives each connection a worker thread until the
// request arrives or request_timeout_ms passes, so 500 idle connections from anyone on the
// machine held the one worker and starved Prometheus (issue 16: 30 s, then 9 s per scrape; see
// tests/tell/metrics_server_test.cpp). Here an idle connection costs a slot and a buffer, a scrape
// is answered as soon as its request is in, at most kMaxConnections are open (the oldest one
// still sending its request makes room for a new one) and a request must arrive within
// kRequestTimeout.
//
// It answers `GET /metrics` and `HEAD /metrics` (HTTP/1.0 and 1.1, then closes: Prometheus opens
// one connection per scrape or keeps none), 405 to any other method on /metrics, 404 elsewhere,
// 400 to anything that is not an HTTP request head within 8 KiB.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/fd.h"
#include "common/result.h"

namespace guardian {

struct ListenAddress;

// A request head: "METHOD TARGET HTTP/1.x\r\n" headers "\r\n". Pure, fuzzed
// (tests/fuzz/fuzz_metrics_request.cpp).
struct RequestHead {
  enum class State { Incomplete, Complete, Bad };
  State state = State::Incomplete;
  std::string_view method;  // into the parsed bytes
  std::string_view path;    // the target without its query
};
inline constexpr size_t kMaxRequestHeadBytes = 8 * 1024;
RequestHead parse_request_head(std::string_view bytes);

// The status line, headers and body answering a request head (Connection: close).
std::string respond_to(const RequestHead& head, const std::function<std::string()>& render_metrics);

class MetricsServer {
 public:
  static constexpr size_t kMaxConnections = 64;
  static constexpr std::chrono::seconds kRequestTimeout{10};

  // Listens on `address` (port 0: any free port) and serves from a thread of its own.
  static Result<std::unique_ptr<MetricsServer>> start(const ListenAddress& address,
                                                      std::function<std::string()> render_metrics);
  ~MetricsServer();  // stops the thread, closes every connection
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  MetricsServer() = default;
  void run();

  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  uint16_t port_ = 0;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace guardian
