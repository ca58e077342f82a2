#include "helper/varlink.h"

namespace guardian::helper::varlink {

const char* const kPrekillInterface =
    "# Prekill notifications from oomd\n"
    "interface io.systemd.oom.Prekill\n"
    "\n"
    "# Notify about an imminent OOM kill\n"
    "method Notify(\n"
    "\t# The cgroup which is going to be killed\n"
    "\tcgroup: string\n"
    ") -> ()\n";

Result<Call> parse_call(std::string_view message) {
  nlohmann::json json = nlohmann::json::parse(message, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return make_error("varlink: message is not valid JSON");
  if (!json.is_object()) return make_error("varlink: message is not a JSON object");
  Call call;
  auto method = json.find("method");
  if (method == json.end() || !method->is_string()) return make_error("varlink: call has no string 'method'");
  call.method = method->get<std::string>();
  if (call.method.empty()) return make_error("varlink: empty 'method'");
  auto parameters = json.find("parameters");
  if (parameters == json.end() || parameters->is_null()) {
    call.parameters = nlohmann::json::object();
  } else if (parameters->is_object()) {
    call.parameters = *parameters;
  } else {
    return make_error("varlink: 'parameters' of " + call.method + " is not an object");
  }
  for (const char* flag : {"oneway", "more"}) {
    auto it = json.find(flag);
    if (it == json.end() || it->is_null()) continue;
    if (!it->is_boolean()) return make_error(std::string("varlink: '") + flag + "' is not a boolean");
    (std::string_view(flag) == "oneway" ? call.oneway : call.more) = it->get<bool>();
  }
  return call;
}

std::string reply(const nlohmann::json& parameters) {
  nlohmann::json message = {{"parameters", parameters}};
  std::string out = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\0';
  return out;
}

std::string error_reply(std::string_view error, const nlohmann::json& parameters) {
  nlohmann::json message = {{"error", std::string(error)}, {"parameters", parameters}};
  std::string out = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\0';
  return out;
}

std::optional<Result<std::string>> Framer::next() {
  const std::size_t nul = buffer_.find('\0');
  if (nul == std::string::npos) {
    if (buffer_.size() > kMaxMessageBytes) {
      buffer_.clear();
      return Result<std::string>(
          make_error("varlink: message over " + std::to_string(kMaxMessageBytes) + " bytes"));
    }
    return std::nullopt;
  }
  if (nul > kMaxMessageBytes) {
    buffer_.clear();
    return Result<std::string>(
        make_error("varlink: message over " + std::to_string(kMaxMessageBytes) + " bytes"));
  }
  std::string message = buffer_.substr(0, nul);
  buffer_.erase(0, nul + 1);
  return Result<std::string>(std::move(message));
}

}  // namespace guardian::helper::varlink
