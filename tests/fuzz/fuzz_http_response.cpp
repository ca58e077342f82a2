// libFuzzer target: the HTTP/1.1 response parser (status line, headers, chunked / length bodies)
// and the URL parser. Feeding every prefix checks the incremental contract: a prefix of a
// complete response is either incomplete or the same error, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto closed = guardian::jellyfin::parse_http_response(bytes, true);
  auto open = guardian::jellyfin::parse_http_response(bytes, false);
  if (open.ok() && open->complete && closed.ok() && closed->complete &&
      open->response.body != closed->response.body && open->response.header("Content-Length").empty() &&
      open->response.header("Transfer-Encoding").empty() && open->response.status >= 200) {
    std::abort();
  }
  if (open.ok() && open->complete && open->response.body.size() > size) std::abort();
  auto url = guardian::jellyfin::parse_url(bytes.substr(0, 256));
  if (url.ok() && (url->host.empty() || url->port == 0)) std::abort();
  return 0;
}
