// libFuzzer target for the [metrics] listen parser: never crashes, and whatever it accepts
// renders back to host:port with port <= 65535. And the cgroup label mapping: any bytes in,
// valid UTF-8 out (a label Prometheus takes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tell/metrics_exporter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = guardian::parse_listen_address(text);
  if (parsed.ok()) {
    const auto& address = parsed.value();
    if (address.host.empty()) std::abort();
    if (text != address.host + ":" + std::to_string(address.port) &&
        text.substr(text.rfind(':') + 1).front() != '0') {  // leading zeros ("9464" vs "09464") are fine
      std::abort();
    }
  } else if (parsed.error().message.empty()) {
    std::abort();
  }
  // The label mapping sees cgroup paths from the kernel: any bytes but NUL.
  const auto label = guardian::cgroup_label(text, "/user.slice/user-1000.slice/user@1000.service");
  if (label && guardian::utf8_label_value(*label) != *label) std::abort();  // valid UTF-8 is kept as is
  return 0;
}
