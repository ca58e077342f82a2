// Parsing of the human units that policies and systemd drop-ins use: sizes, durations and
// percentages. Pure functions; errors say what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace guardian {

// A memory size in a policy: plain bytes ("1073741824"), IEC suffixes as systemd reads them
// ("512K", "8G", "1.5G": K/M/G/T = 1024^n, optional trailing "B"/"iB"), or a percentage of
// physical RAM ("25%"), resolved later against MemTotal.
struct SizeSpec {
  std::optional<uint64_t> bytes;
  std::optional<double> percent_of_ram;
  [[nodiscard]] uint64_t resolve(uint64_t mem_total_bytes) const;
};
Result<SizeSpec> parse_size(std::string_view text);

// A duration the way systemd.time(7) writes it: "20s", "1min 30s", "500ms", "2h", or a bare
// number of seconds ("20"). Also used for policy durations.
Result<std::chrono::microseconds> parse_duration(std::string_view text);

// A percentage as systemd writes it for ManagedOOMMemoryPressureLimit=: "80%", "80.5%",
// "800‰", "8000‱". Returns percent (0..100).
Result<double> parse_percent(std::string_view text);

// Trims ASCII whitespace on both ends.
std::string_view trim(std::string_view text);

// Parses an unsigned decimal integer that must fill the whole text.
std::optional<uint64_t> parse_u64(std::string_view text);
// Parses a decimal number ("12.34") that must fill the whole text.
std::optional<double> parse_double(std::string_view text);

// "2.50 GiB" style rendering for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace guardian
