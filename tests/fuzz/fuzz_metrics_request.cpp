// libFuzzer target for the /metrics server's request-head parser (tell/metrics_server.h): never
// crashes; a complete head has a method of token characters and a path starting with '/', both
// inside the input; whatever the bytes, the answer is one HTTP/1.1 status line with a length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tell/metrics_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto head = guardian::parse_request_head(bytes);
  const auto inside = [&](std::string_view part) {
    return part.data() >= bytes.data() && part.data() + part.size() <= bytes.data() + bytes.size();
  };
  if (head.state == guardian::RequestHead::State::Complete) {
    if (head.method.empty() || head.path.empty() || head.path.front() != '/') std::abort();
    if (!inside(head.method) || !inside(head.path)) std::abort();
  }
  if (head.state == guardian::RequestHead::State::Incomplete && size > guardian::kMaxRequestHeadBytes)
    std::abort();
  const std::string answer = guardian::respond_to(head, [] { return std::string("guardian_level 0\n"); });
  if (!answer.starts_with("HTTP/1.1 ") || answer.find("\r\nContent-Length: ") == std::string::npos)
    std::abort();
  return 0;
}
