#include "helper/raw_event.h"

#include <cstring>

namespace guardian::helper {
namespace {

template <class T>
Result<RawEvent> copy_as(const void* data, std::size_t size, const char* name) {
  if (size != sizeof(T)) {
    return make_error(std::string("ring buffer: ") + name + " record of " + std::to_string(size) +
                      " bytes, expected " + std::to_string(sizeof(T)) +
                      " (helper and BPF programs built apart?)");
  }
  T event;
  std::memcpy(&event, data, sizeof(T));
  return RawEvent(event);
}

}  // namespace

Result<RawEvent> decode_raw_event(const void* data, std::size_t size) {
  if (size < sizeof(__u32))
    return make_error("ring buffer: record of " + std::to_string(size) + " bytes has no kind");
  __u32 kind = 0;
  std::memcpy(&kind, data, sizeof(kind));
  switch (kind) {
    case GUARDIAN_EVENT_EXEC: return copy_as<exec_event>(data, size, "exec");
    case GUARDIAN_EVENT_EXIT: return copy_as<exit_event>(data, size, "exit");
    case GUARDIAN_EVENT_OOM_KILL: return copy_as<oom_kill_event>(data, size, "oom-kill");
    case GUARDIAN_EVENT_OOMD_KILL: return copy_as<oomd_kill_event>(data, size, "oomd-kill");
    default: return make_error("ring buffer: unknown record kind " + std::to_string(kind));
  }
}

std::string c_string(const char* chars, std::size_t capacity) {
  const void* nul = std::memchr(chars, 0, capacity);
  return std::string(chars, nul ? static_cast<const char*>(nul) - chars : capacity);
}

std::vector<std::string> split_args(const exec_event& event, bool& truncated) {
  std::vector<std::string> args;
  const std::size_t used = event.args_len < sizeof(event.args) ? event.args_len : sizeof(event.args);
  std::size_t start = 0;
  truncated = false;
  while (start < used) {
    const void* nul = std::memchr(event.args + start, 0, used - start);
    if (!nul) {
      // The copy ended inside this argument.
      args.emplace_back(event.args + start, used - start);
      truncated = true;
      break;
    }
    const std::size_t end = static_cast<const char*>(nul) - event.args;
    args.emplace_back(event.args + start, end - start);
    start = end + 1;
  }
  // The probe copies at most sizeof(args) - 1 bytes; a full copy means there may be more.
  if (used >= sizeof(event.args) - 1) truncated = true;
  return args;
}

}  // namespace guardian::helper
