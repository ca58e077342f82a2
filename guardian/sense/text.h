// Quoting file content in error messages: bounded length, and bytes that are not printable
// ASCII shown as \xNN so a garbage file cannot put control characters into the journal.
#pragma once

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
