// libFuzzer target for the PSI parsers (/proc/pressure/memory, memory.pressure).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sense/psi.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto psi = guardian::parse_psi(text);
  if (psi.ok() && (psi->some.avg10 < 0 || psi->some.avg10 > 100 || psi->full.avg300 > 100)) __builtin_trap();
  if (psi.ok()) {
    // parse_psi takes a fast path; every line it accepted must mean the same to parse_psi_line.
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t newline = rest.find('\n');
      std::string_view kind;
      auto line = guardian::parse_psi_line(rest.substr(0, newline), kind);
      if (!line.ok() || !(*line == (kind == "some" ? psi->some : psi->full))) __builtin_trap();
      rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    }
  }
  std::string_view kind;
  auto line = guardian::parse_psi_line(text, kind);
  if (line.ok() && kind != "some" && kind != "full") __builtin_trap();
  return 0;
}
