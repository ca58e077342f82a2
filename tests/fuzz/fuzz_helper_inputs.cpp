// libFuzzer target for what guardian-helper reads besides its clients' lines: Varlink calls on
// the pre-kill hook's socket (framing, call parsing, the answer it would give) and records from
// the BPF ring buffer (kind and size checks, argv splitting).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "helper/prekill_hook.h"
#include "helper/raw_event.h"
#include "helper/varlink.h"

using namespace guardian::helper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  varlink::Framer framer;
  framer.feed(bytes);
  while (auto message = framer.next()) {
    if (!*message) break;
    auto call = varlink::parse_call(message->value());
    if (!call) continue;
    if (!call->parameters.is_object()) __builtin_trap();
    auto direct = answer_directly(*call);
    if (direct && (direct->empty() || direct->back() != '\0')) __builtin_trap();
    if (!direct && !notify_cgroup(*call).ok()) __builtin_trap();  // held only when it is a valid Notify
  }
  if (auto record = decode_raw_event(data, size)) {
    if (const auto* exec = std::get_if<exec_event>(&*record)) {
      bool truncated = false;
      std::size_t total = 0;
      for (const auto& arg : split_args(*exec, truncated)) total += arg.size() + 1;
      if (total > sizeof(exec->args) + 1) __builtin_trap();
      if (c_string(exec->comm, sizeof(exec->comm)).size() > sizeof(exec->comm)) __builtin_trap();
    }
  }
  return 0;
}
