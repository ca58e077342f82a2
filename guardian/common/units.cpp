#include "common/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace guardian {

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  double value = 0;
  if (text.empty()) return std::nullopt;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

uint64_t SizeSpec::resolve(uint64_t mem_total_bytes) const {
  if (bytes) return *bytes;
  if (percent_of_ram) {
    return static_cast<uint64_t>(static_cast<double>(mem_total_bytes) * *percent_of_ram / 100.0);
  }
  return 0;
}

Result<SizeSpec> parse_size(std::string_view text) {
  const std::string_view original = text;
  text = trim(text);
  auto bad = [&] {
    return make_error("invalid size \"" + std::string(original) +
                      "\": expected bytes, a number with K/M/G/T (1024-based), or a percent of RAM like \"25%\"");
  };
  if (text.empty()) return bad();
  if (text.back() == '%') {
    auto pct = parse_double(trim(text.substr(0, text.size() - 1)));
    if (!pct || *pct < 0 || *pct > 100) return bad();
    return SizeSpec{std::nullopt, *pct};
  }
  // Strip an optional "B" / "iB" after the multiplier letter ("8GiB", "8GB" are both 8*1024^3 as in systemd).
  if (text.size() >= 3 && text.substr(text.size() - 2) == "iB") text.remove_suffix(2);
  else if (text.size() >= 2 && text.back() == 'B' && std::isalpha(static_cast<unsigned char>(text[text.size() - 2]))) text.remove_suffix(1);
  uint64_t multiplier = 1;
  switch (text.empty() ? '\0' : text.back()) {
    case 'K': case 'k': multiplier = 1ULL << 10; break;
    case 'M': case 'm': multiplier = 1ULL << 20; break;
    case 'G': case 'g': multiplier = 1ULL << 30; break;
    case 'T': case 't': multiplier = 1ULL << 40; break;
    default: break;
  }
  if (multiplier != 1) text.remove_suffix(1);
  text = trim(text);
  if (auto whole = parse_u64(text)) {
    if (*whole > UINT64_MAX / multiplier) return bad();
    return SizeSpec{*whole * multiplier, std::nullopt};
  }
  auto number = parse_double(text);
  if (!number || *number < 0) return bad();
  const double value = *number * static_cast<double>(multiplier);
  if (value >= 1.8e19) return bad();
  return SizeSpec{static_cast<uint64_t>(value), std::nullopt};
}

Result<std::chrono::microseconds> parse_duration(std::string_view text) {
  const std::string_view original = text;
  auto bad = [&] {
    return make_error("invalid duration \"" + std::string(original) +
                      "\": expected e.g. \"20s\", \"1min 30s\", \"500ms\" or a number of seconds");
  };
  text = trim(text);
  if (text.empty()) return bad();
  if (auto secs = parse_double(text)) {
    if (*secs < 0 || *secs > 1e9) return bad();
    return std::chrono::microseconds(static_cast<int64_t>(std::llround(*secs * 1e6)));
  }
  // systemd.time(7) units, longest first so "ms" is not read as "m" + "s".
  struct UnitName { std::string_view name; double usec; };
  static constexpr UnitName kUnits[] = {
      {"usec", 1}, {"us", 1}, {"msec", 1e3}, {"ms", 1e3}, {"seconds", 1e6}, {"second", 1e6},
      {"sec", 1e6}, {"s", 1e6}, {"minutes", 60e6}, {"minute", 60e6}, {"min", 60e6}, {"m", 60e6},
      {"hours", 3600e6}, {"hour", 3600e6}, {"hr", 3600e6}, {"h", 3600e6}, {"days", 86400e6},
      {"day", 86400e6}, {"d", 86400e6}};
  double total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    auto number = parse_double(text.substr(start, i - start));
    if (!number) return bad();
    while (i < text.size() && text[i] == ' ') ++i;
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    const UnitName* found = nullptr;
    for (const auto& candidate : kUnits) {
      if (candidate.name == unit) { found = &candidate; break; }
    }
    if (!found) return bad();
    total += *number * found->usec;
    any = true;
  }
  if (!any || total > 1e15) return bad();
  return std::chrono::microseconds(static_cast<int64_t>(std::llround(total)));
}

Result<double> parse_percent(std::string_view text) {
  const std::string_view original = text;
  text = trim(text);
  auto bad = [&] {
    return make_error("invalid percentage \"" + std::string(original) + "\": expected e.g. \"80%\"");
  };
  double scale = 0;
  if (text.ends_with("%")) { text.remove_suffix(1); scale = 1; }
  else if (text.ends_with("\u2030")) { text.remove_suffix(3); scale = 0.1; }      // permille
  else if (text.ends_with("\u2031")) { text.remove_suffix(3); scale = 0.01; }     // permyriad
  else return bad();
  auto number = parse_double(trim(text));
  if (!number || *number < 0 || *number * scale > 100) return bad();
  return *number * scale;
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kSuffix[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) { value /= 1024; ++unit; }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.2f %s", value, kSuffix[unit]);
  return buf;
}

}  // namespace guardian
