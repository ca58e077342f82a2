// The records the BPF probes (bpf/*.bpf.c) put in the ring buffer, checked and copied out of the
// ring buffer's memory: each starts with `__u32 kind` and must have exactly the size of its
// kind's struct (bpf/exec.h, oom_kill.h, oomd_kill.h), so a skeleton built from other headers
// is noticed instead of misread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"

extern "C" {
#include "exec.h"
#include "oom_kill.h"
#include "oomd_kill.h"
}

namespace guardian::helper {

using RawEvent = std::variant<exec_event, exit_event, oom_kill_event, oomd_kill_event>;

Result<RawEvent> decode_raw_event(const void* data, std::size_t size);

// A fixed-size char array from the kernel (comm) up to its first NUL.
std::string c_string(const char* chars, std::size_t capacity);
// exec_event.args: argv strings, each NUL-terminated; the last one may be cut at args_len.
// `truncated` says the command line went on past what the probe copied.
std::vector<std::string> split_args(const exec_event& event, bool& truncated);

}  // namespace guardian::helper
