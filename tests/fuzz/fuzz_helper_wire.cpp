// libFuzzer target for guardian-helper's wire format (common/helper_wire.h): the line framer, the
// line parser and both message decoders. Whatever decodes must encode to a line that decodes to
// the same message (so a client and the helper agree on every message either can produce), and
// the decoder guardian keeps for a whole connection (refilling its messages in place) must decode
// every line exactly as a fresh one does.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/helper_wire.h"

using namespace guardian::helper_wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  LineFramer framer;
  ServerDecoder kept;
  // Fed in two pieces, as a socket might deliver it.
  framer.feed(bytes.substr(0, size / 2));
  framer.feed(bytes.substr(size / 2));
  while (auto line = framer.next()) {
    if (!*line) continue;
    if (line->value().size() + 1 > kMaxLineBytes || line->value().find('\n') != std::string::npos)
      __builtin_trap();
    auto reused = kept.decode(line->value());
    auto fresh = decode_server_message(line->value());
    if (reused.ok() != fresh.ok()) __builtin_trap();
    if (reused.ok() && encode(**reused) != encode(*fresh)) __builtin_trap();
    if (!reused.ok() && reused.error().message != fresh.error().message) __builtin_trap();
    if (auto message = decode_server_message(line->value())) {
      const std::string encoded = encode(*message);
      if (encoded.empty() || encoded.back() != '\n') __builtin_trap();
      auto again = decode_server_message(std::string_view(encoded).substr(0, encoded.size() - 1));
      if (!again || encode(*again) != encoded) __builtin_trap();
    }
    if (auto request = decode_client_request(line->value())) {
      const std::string encoded = encode(*request);
      auto again = decode_client_request(std::string_view(encoded).substr(0, encoded.size() - 1));
      if (!again || encode(*again) != encoded) __builtin_trap();
    }
  }
  if (framer.buffered() > kMaxLineBytes) __builtin_trap();
  if (auto raw = unescape_value(bytes)) {
    if (escape_value(*raw).find_first_of(" \n") != std::string::npos) __builtin_trap();
  }
  return 0;
}
