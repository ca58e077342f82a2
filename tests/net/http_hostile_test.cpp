// The HTTP client against hostile servers on 127.0.0.1 (issue 16, item 12): 1.2 M one-byte chunks
// (10 s of CPU when every recv() parsed the whole buffer again), a server that keeps sending past
// the deadline (13.9 s against 10 s), a slow drip, and two Content-Length headers that differ.
// The bounds below are generous, for a loaded test machine; the figures for the README come from
// tests/bench/http_transports.cpp.
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>

#include "net/http.h"
#include "support/hostile_http_server.h"

namespace guardian::jellyfin {
namespace {

using guardian::testing::HostileHttpServer;
using Clock = std::chrono::steady_clock;

struct Outcome {
  Result<HttpResponse> response;
  std::chrono::milliseconds wall;
  std::chrono::milliseconds cpu;
};

std::chrono::milliseconds thread_cpu() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::milliseconds(now.tv_sec * 1000 + now.tv_nsec / 1'000'000);
}

Outcome get(const HostileHttpServer& server, std::chrono::milliseconds budget) {
  auto url = parse_url(server.url());
  HttpRequest request;
  request.target = "/Sessions";
  const auto start = Clock::now();
  const auto cpu_start = thread_cpu();
  auto response = http_send(*url, request, start + budget);
  return Outcome{std::move(response),
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start),
                 thread_cpu() - cpu_start};
}

TEST(HttpHostile, OnePointTwoMillionOneByteChunksAreReadInLinearTime) {
  HostileHttpServer server(HostileHttpServer::many_small_chunks());
  ASSERT_NE(server.port(), 0);
  const auto outcome = get(server, std::chrono::seconds(20));
  ASSERT_TRUE(outcome.response.ok()) << outcome.response.error().message;
  EXPECT_EQ(outcome.response->body.size(), 1'200'000u);
  EXPECT_EQ(outcome.response->body.find_first_not_of('x'), std::string::npos);
  // Before: ~10 s of CPU (every recv() decoded every chunk again). Linear: tens of ms.
  EXPECT_LT(outcome.cpu, std::chrono::seconds(2)) << "CPU " << outcome.cpu.count() << " ms";
  std::printf("1.2 M one-byte chunks: %lld ms wall, %lld ms CPU\n",
              static_cast<long long>(outcome.wall.count()), static_cast<long long>(outcome.cpu.count()));
}

TEST(HttpHostile, AServerThatKeepsSendingIsCutAtTheDeadlineOrTheCap) {
  // As fast as it goes: the wire cap ends it (well before the deadline).
  {
    HostileHttpServer server(HostileHttpServer::endless_chunks(0));
    const auto outcome = get(server, std::chrono::seconds(3));
    ASSERT_FALSE(outcome.response.ok());
    EXPECT_LT(outcome.wall, std::chrono::milliseconds(3500)) << outcome.response.error().message;
    std::printf("endless chunks, full speed: %lld ms, %s\n", static_cast<long long>(outcome.wall.count()),
                outcome.response.error().message.c_str());
  }
  // 2 MB/s: bytes are always arriving, and the deadline (1 s) comes first.
  {
    HostileHttpServer server(HostileHttpServer::endless_chunks(2000));
    const auto outcome = get(server, std::chrono::seconds(1));
    ASSERT_FALSE(outcome.response.ok());
    EXPECT_NE(outcome.response.error().message.find("timed out after"), std::string::npos)
        << outcome.response.error().message;
    EXPECT_LT(outcome.wall, std::chrono::milliseconds(1500));
  }
}

TEST(HttpHostile, ASlowDripTimesOutAtTheDeadline) {
  HostileHttpServer server(HostileHttpServer::drip(10));
  const auto outcome = get(server, std::chrono::seconds(1));
  ASSERT_FALSE(outcome.response.ok());
  EXPECT_NE(outcome.response.error().message.find("timed out after"), std::string::npos)
      << outcome.response.error().message;
  EXPECT_LT(outcome.wall, std::chrono::milliseconds(1500));
}

TEST(HttpHostile, TwoContentLengthsThatDifferAreRefused) {
  HostileHttpServer server(HostileHttpServer::conflicting_lengths());
  const auto outcome = get(server, std::chrono::seconds(2));
  ASSERT_FALSE(outcome.response.ok());
  EXPECT_NE(outcome.response.error().message.find("conflicting Content-Length headers (5 and 50)"),
            std::string::npos)
      << outcome.response.error().message;
  // The same length twice (or as a list) is one length.
  auto same =
      parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4, 4\r\n\r\ntrue", false);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->response.body, "true");
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 4, 5\r\n\r\ntrue", false).ok());
}

TEST(HttpHostile, BodiesAreCappedWellBelowTheUnitsMemoryHigh) {
  static_assert(kMaxResponseWireBytes <= 8 * 1024 * 1024, "units/guardian.service: MemoryHigh=48M");
  const std::string too_long =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxResponseBytes + 1) + "\r\n\r\n";
  auto refused = parse_http_response(too_long, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("larger than"), std::string::npos);
}

}  // namespace
}  // namespace guardian::jellyfin
