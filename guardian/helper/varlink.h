// The parts of the Varlink protocol (varlink.org) the pre-kill hook needs, without the socket:
// a message is one JSON object followed by a NUL byte; a call is
//   {"method": "io.systemd.oom.Prekill.Notify", "parameters": {...}, "oneway": bool, "more": bool}
// and the answer is {"parameters": {...}} or {"error": "interface.Name", "parameters": {...}}.
// Calls are answered in the order they arrived; a oneway call gets no answer.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace guardian::helper::varlink {

inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;

struct Call {
  std::string method;         // "io.systemd.oom.Prekill.Notify"
  nlohmann::json parameters;  // always an object (empty when the call had none)
  bool oneway = false;
  bool more = false;
};

// Parses one message (without its NUL); errors name what is wrong.
Result<Call> parse_call(std::string_view message);

// Encoded answers, NUL included.
std::string reply(const nlohmann::json& parameters = nlohmann::json::object());
std::string error_reply(std::string_view error, const nlohmann::json& parameters = nlohmann::json::object());

// Cuts a byte stream at NULs; a message over kMaxMessageBytes is an error (the connection should
// be closed: unlike lines, a Varlink stream cannot be resynchronised by a reader that skipped
// into the middle of a JSON string).
class Framer {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  std::optional<Result<std::string>> next();

 private:
  std::string buffer_;
};

// io.systemd.oom.Prekill as systemd declares it (src/shared/varlink-io.systemd.oom.Prekill.c,
// systemd >= 260), in Varlink's interface definition language: for GetInterfaceDescription.
extern const char* const kPrekillInterface;

}  // namespace guardian::helper::varlink
