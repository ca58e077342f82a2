// Finds a running `guardian run` of one user in /proc, for `guardian doctor`: its pid and its
// VmLck / VmRSS from /proc/PID/status (sense/self_watch.h parses them). Read-only; a process
// that goes away while it is read is skipped.
#pragma once

#include <cstdint>
#include <optional>

#include "common/host_root.h"
#include "sense/self_watch.h"

namespace guardian {

struct GuardianProcess {
  int pid = 0;
  OwnMemory memory;  // VmLck, VmRSS
};

// The first process whose comm is "guardian", whose command line is `guardian run …` and whose
// real uid is `uid`; `except_pid` (the caller itself) is skipped. nullopt when none runs.
std::optional<GuardianProcess> find_guardian_daemon(const HostRoot& host, uint32_t uid, int except_pid);

}  // namespace guardian
