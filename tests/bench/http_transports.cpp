// Should libcurl carry plain http too (issue 16, item 12)? The two transports side by side: the
// memory libcurl adds to a process once loaded, and the hostile servers of tests/net/
// http_hostile_test.cpp against each (result, wall time, CPU time of the calling thread).
//   cmake --build build --target http_transports && ./build/tests/bench/http_transports
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "net/http.h"
#include "support/hostile_http_server.h"

namespace {

using guardian::testing::HostileHttpServer;
using namespace guardian::jellyfin;
using Clock = std::chrono::steady_clock;

// Rss and Pss of this process, kB (smaps_rollup).
std::pair<long, long> rss_pss() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  long value = 0, rss = -1, pss = -1;
  std::string unit;
  while (in >> key) {
    if (key == "Rss:" && in >> value >> unit)
      rss = value;
    else if (key == "Pss:" && in >> value >> unit)
      pss = value;
    else
      in.ignore(1 << 20, '\n');
  }
  return {rss, pss};
}

double thread_cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

using Send = guardian::Result<HttpResponse> (*)(const Url&, const HttpRequest&, Deadline);

void run(const char* transport, Send send, const char* name, HostileHttpServer::Behaviour behaviour,
         std::chrono::milliseconds budget) {
  HostileHttpServer server(std::move(behaviour));
  auto url = parse_url(server.url());
  HttpRequest request;
  request.target = "/Sessions";
  const auto start = Clock::now();
  const double cpu = thread_cpu_ms();
  auto response = send(*url, request, start + budget);
  const double cpu_ms = thread_cpu_ms() - cpu;
  const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::string result = response.ok() ? "ok, body " + std::to_string(response->body.size()) + " bytes"
                                     : "error: " + response.error().message;
  const auto colon = result.find(": ", 7);  // drop "GET http://127.0.0.1:port/Sessions: "
  if (!response.ok() && colon != std::string::npos) result = "error: " + result.substr(colon + 2);
  std::printf("| %-7s | %-38s | %5.0f ms budget | %7.0f ms | %7.0f ms | %s |\n", transport, name,
              static_cast<double>(budget.count()), wall_ms, cpu_ms, result.substr(0, 90).c_str());
}

}  // namespace

int main() {
  // Memory: a plain request first (libcurl not loaded), then one through libcurl.
  HostileHttpServer ok([](int fd, const std::atomic<bool>& stop) {
    (void)HostileHttpServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  auto url = parse_url(ok.url());
  HttpRequest request;
  request.target = "/System/Info/Public";
  const auto plain = http_send(*url, request, Clock::now() + std::chrono::seconds(5));
  const auto [rss0, pss0] = rss_pss();
  const auto curl = http_send_with_curl(*url, request, Clock::now() + std::chrono::seconds(5));
  const auto [rss1, pss1] = rss_pss();
  std::printf("plain http request: %s; RSS %ld kB, PSS %ld kB\n",
              plain.ok() ? "ok" : plain.error().message.c_str(), rss0, pss0);
  std::printf("after one request through libcurl (loaded: %s): %s; RSS %ld kB (+%ld), PSS %ld kB (+%ld)\n",
              https_backend_loaded() ? "yes" : "no", curl.ok() ? "ok" : curl.error().message.c_str(), rss1,
              rss1 - rss0, pss1, pss1 - pss0);

  std::printf(
      "\n| client  | hostile server                         | deadline        | wall       | CPU        | "
      "result |\n");
  for (auto [transport, send] :
       {std::pair<const char*, Send>{"own", &http_send}, {"libcurl", &http_send_with_curl}}) {
    run(transport, send, "1.2 M one-byte chunks (7.2 MB)", HostileHttpServer::many_small_chunks(),
        std::chrono::seconds(20));
    run(transport, send, "endless one-byte chunks, full speed", HostileHttpServer::endless_chunks(0),
        std::chrono::seconds(3));
    run(transport, send, "endless one-byte chunks, 2 MB/s", HostileHttpServer::endless_chunks(2000),
        std::chrono::seconds(1));
    run(transport, send, "drip: 1 byte / 10 ms of a 1 MB body", HostileHttpServer::drip(10),
        std::chrono::seconds(1));
    run(transport, send, "Content-Length: 5 and Content-Length: 50", HostileHttpServer::conflicting_lengths(),
        std::chrono::seconds(2));
  }
  return 0;
}
