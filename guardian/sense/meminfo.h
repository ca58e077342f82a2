// /proc/meminfo: "MemTotal:       24554372 kB" lines; guardian reads four of them.
#pragma once

#include <string_view>

#include "common/result.h"
#include "sense/snapshot.h"

namespace guardian {

Result<MemInfo> parse_meminfo(std::string_view text);

}  // namespace guardian
