#include "sense/meminfo.h"

#include <array>
#include <limits>
#include <string>

#include "common/units.h"
#include "sense/text.h"

namespace guardian {

Result<MemInfo> parse_meminfo(std::string_view text) {
  MemInfo out;
  struct Wanted {
    std::string_view name;
    uint64_t MemInfo::*field;
    bool seen = false;
  };
  std::array<Wanted, 4> wanted{{{"MemTotal", &MemInfo::total_bytes},
                                {"MemAvailable", &MemInfo::available_bytes},
                                {"SwapTotal", &MemInfo::swap_total_bytes},
                                {"SwapFree", &MemInfo::swap_free_bytes}}};
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return make_error("line " + std::to_string(line_number) + ": no \"Name:\" in " + quote_excerpt(line));
    }
    const std::string_view name = line.substr(0, colon);
    for (auto& field : wanted) {
      if (field.name != name) continue;
      if (field.seen)
        return make_error("line " + std::to_string(line_number) + ": " + std::string(name) + " twice");
      // "MemTotal:       24554372 kB": the kernel pads with spaces and always says kB here.
      std::string_view value = trim(line.substr(colon + 1));
      if (value.size() < 3 || value.substr(value.size() - 3) != " kB") {
        return make_error("line " + std::to_string(line_number) + ": " + std::string(name) + " is " +
                          quote_excerpt(value, 32) + ", expected \"<number> kB\"");
      }
      auto kib = parse_u64(trim(value.substr(0, value.size() - 3)));
      if (!kib || *kib > std::numeric_limits<uint64_t>::max() / 1024) {
        return make_error("line " + std::to_string(line_number) + ": " + std::string(name) + " is " +
                          quote_excerpt(value, 32) + ", expected \"<number> kB\"");
      }
      out.*field.field = *kib * 1024;
      field.seen = true;
    }
  }
  for (const auto& field : wanted) {
    if (!field.seen) return make_error(std::string(field.name) + " is missing");
  }
  return out;
}

}  // namespace guardian
