// Connections made as another user, for tests of what SO_PEERCRED decides: a child process
// switches to the uid, connects, hands the connected fd back over SCM_RIGHTS and exits. The
// socket keeps the child's credentials (the kernel records them at connect()), so the test reads
// exactly what that user would. Needs root (CAP_SETUID); tests skip otherwise.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace guardian::testing {

[[nodiscard]] bool running_as_root();
// A connected, non-blocking stream socket to `path`, made by uid/gid `uid`.
Result<UniqueFd> connect_as(uid_t uid, const std::string& path);

// Reads what arrives on `fd` for up to `timeout_ms`, returning it once `until` is in it (or the
// time is up, or the peer closed).
std::string read_until(int fd, const std::string& until, int timeout_ms);
// Everything `fd` has to read right now, without waiting.
std::string drain(int fd);
// Lines (without '\n') read until `count` complete lines arrived or `timeout_ms` passed.
std::vector<std::string> read_lines(int fd, std::size_t count, int timeout_ms);

}  // namespace guardian::testing
