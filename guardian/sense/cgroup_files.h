// Parsers for cgroup v2 memory controller files (Documentation/admin-guide/cgroup-v2.rst).
// Pure string -> value functions so they are fuzzable; reading lives in cgroup_reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "sense/snapshot.h"

namespace guardian {

// A single-value file: memory.current ("123\n") or a limit (memory.high: "max\n" -> nullopt).
Result<std::optional<uint64_t>> parse_cgroup_value(std::string_view text);
// memory.stat: "anon 1234\nfile 5678\n..." -> the fields of CgroupMemory it carries.
Result<void> parse_memory_stat(std::string_view text, CgroupMemory& into);
// memory.events: "low 0\nhigh 12\nmax 0\noom 0\noom_kill 0\n".
Result<void> parse_memory_events(std::string_view text, CgroupMemory& into);

}  // namespace guardian
