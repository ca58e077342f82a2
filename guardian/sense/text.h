// Quoting file content in error messages: bounded length, and bytes that are not printable
// ASCII shown as \xNN so a garbage file cannot put control characters into the journal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace guardian {

inline std::string quote_excerpt(std::string_view text, size_t max_bytes = 40) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  if (text.size() > max_bytes) out += "...";
  out.push_back('"');
  return out;
}

}  // namespace guardian

namespace guardian {

// The hot-path number parsers of a tick (about 5000 files per tick with 500 cgroups), written
// out so a tick costs little more than the reads themselves (tests/bench).

// An unsigned decimal filling [begin, end); false on anything else or on overflow.
inline bool parse_decimal(const char* begin, const char* end, uint64_t& out) {
  if (begin == end) return false;
  uint64_t value = 0;
  for (const char* p = begin; p < end; ++p) {
    const auto digit = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
    if (digit > 9) return false;
    if (__builtin_mul_overflow(value, 10u, &value) || __builtin_add_overflow(value, digit, &value))
      return false;
  }
  out = value;
  return true;
}

// A PSI average as the kernel prints it ("%lu.%02lu"): digits, optionally '.' and digits.
inline bool parse_fixed_point(const char* begin, const char* end, double& out) {
  const char* p = begin;
  uint64_t whole = 0;
  const char* dot = p;
  while (dot < end && *dot != '.') ++dot;
  if (dot == begin || dot - begin > 6 || !parse_decimal(begin, dot, whole)) return false;
  double value = static_cast<double>(whole);
  if (dot < end) {
    const char* fraction = dot + 1;
    if (fraction == end || end - fraction > 6) return false;
    uint64_t digits = 0;
    if (!parse_decimal(fraction, end, digits)) return false;
    double scale = 1;
    for (const char* q = fraction; q < end; ++q) scale *= 10;
    value += static_cast<double>(digits) / scale;
  }
  out = value;
  return true;
}

// True when [p, end) starts with the literal; the fixed length lets the compiler inline it.
template <size_t N>
inline bool starts_with_literal(const char* p, const char* end, const char (&literal)[N]) {
  return static_cast<size_t>(end - p) >= N - 1 && __builtin_memcmp(p, literal, N - 1) == 0;
}

}  // namespace guardian
