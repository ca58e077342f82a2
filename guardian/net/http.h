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

// The size we accept from Jellyfin: a /Sessions answer with many clients is ~100 KB.
inline constexpr size_t kMaxResponseBytes = 8 * 1024 * 1024;

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

// Whether libcurl has been loaded into this process (tests and the RSS check).
bool https_backend_loaded();

}  // namespace guardian::jellyfin
