// A small HTTP/1.1 client for Jellyfin's REST API. Plain http (the usual http://127.0.0.1:8096)
// goes over a non-blocking socket of our own with one deadline for connect, send and receive, so
// the daemon maps no TLS stack. https loads libcurl with dlopen() on first use only: libcurl's
// dependency tree costs ~8 MB of RSS that an idle daemon talking to localhost must not pay.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace guardian::jellyfin {

using Deadline = std::chrono::steady_clock::time_point;

struct Url {
  std::string scheme;     // "http" or "https"
  std::string host;       // "127.0.0.1", "jellyfin.lan", "::1" (without brackets)
  uint16_t port = 0;      // defaulted from the scheme
  std::string base_path;  // "" or "/jellyfin" (a reverse-proxy prefix), never ending in '/'
  [[nodiscard]] std::string origin() const;  // "http://127.0.0.1:8096"
  [[nodiscard]] std::string to_string() const { return origin() + base_path; }
};
// Parses "http://host[:port][/base]". Rejects userinfo, queries and fragments by name.
Result<Url> parse_url(std::string_view text);

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path + query, starting with '/', already including Url::base_path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First header with this name (case-insensitive), or "".
  [[nodiscard]] std::string header(std::string_view name) const;
};

// The body size we accept from Jellyfin: a /Sessions answer with many clients is ~100 KB. Well
// below the unit's MemoryHigh=48M (a body is held once, plus its string's growth).
inline constexpr size_t kMaxResponseBytes = 4 * 1024 * 1024;
// All bytes of one response (head, chunk framing, body): 1.2 M one-byte chunks are 7.2 MB.
inline constexpr size_t kMaxResponseWireBytes = 2 * kMaxResponseBytes;

// Reads one HTTP/1.1 response as its bytes arrive (status line, headers, body by Content-Length,
// chunked transfer coding, or until close). Each byte is looked at a bounded number of times:
// the whole buffer is never parsed again (a chunked body of 1.2 M one-byte chunks cost 10 s of
// CPU when it was, issue 16). Two Content-Length headers that differ are an error (RFC 9112
// 6.3), as is a body or a wire larger than the caps above.
class ResponseReader {
 public:
  // More bytes. An error means they can never become a valid response.
  Result<void> feed(std::string_view bytes);
  // The server closed the connection: what was read must be a whole response now.
  Result<void> close();
  [[nodiscard]] bool complete() const { return complete_; }
  [[nodiscard]] size_t wire_bytes() const { return wire_bytes_; }
  HttpResponse take() { return std::move(response_); }

 private:
  enum class Body { Head, Length, Chunked, UntilClose };
  enum class Chunk { Size, Data, DataEnd, Trailer };
  Result<void> advance(bool closed);
  Result<void> read_head(size_t head_end);
  Result<void> read_chunks(bool closed);
  std::string pending_;  // bytes not consumed yet
  size_t head_scanned_ = 0;
  size_t wire_bytes_ = 0;
  bool complete_ = false;
  Body body_ = Body::Head;
  Chunk chunk_ = Chunk::Size;
  uint64_t left_ = 0;  // of the current chunk, or of Content-Length
  uint64_t length_ = 0;
  HttpResponse response_;
};

// Parses a complete HTTP/1.1 response (status line, headers, body by Content-Length, chunked
// transfer coding, or until close). `complete` says whether the whole message is present: false
// means "read more"; an error means the bytes can never become a valid response. Pure, fuzzable.
struct ParsedResponse {
  bool complete = false;
  HttpResponse response;
};
Result<ParsedResponse> parse_http_response(std::string_view bytes, bool connection_closed);

// Refuses a method, target, header name or header value with CR, LF or NUL in it (a value that
// would split into a header or request of its own). http_send checks every request with it.
Result<void> check_request_line_and_headers(const HttpRequest& request);

// Sends one request and waits for the whole answer until `deadline`. Never throws; every error
// names the URL. http uses our socket client, https the dlopen()ed libcurl.
Result<HttpResponse> http_send(const Url& url, const HttpRequest& request, Deadline deadline);

// The same request through the dlopen()ed libcurl, for http too: the transport comparison of
// issue 16 (tests/net/http_hostile_test.cpp, README "HTTP client"). The daemon does not use it
// for http.
Result<HttpResponse> http_send_with_curl(const Url& url, const HttpRequest& request, Deadline deadline);

// Whether libcurl has been loaded into this process (tests and the RSS check).
bool https_backend_loaded();

}  // namespace guardian::jellyfin
