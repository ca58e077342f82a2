// Reading a file guardian takes as input (the policy, the state file, a Jellyfin API key): opened
// without blocking and without waiting on a writer (a FIFO or a device in its place is refused, it
// never hangs the loop), only a regular file, never more than a cap (a huge file or /dev/zero is
// an error, not an allocation), and for the files guardian trusts as its own (the state file, the
// key) the owner and mode checked on the opened fd. One piece of code for every such file.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/result.h"

namespace guardian {

// Who may have written a file guardian trusts. The file (or directory) must be owned by guardian's
// own uid and have none of `forbidden_mode` set: 077 for a key (nobody else may read it), 022 for
// the state file and its directory (nobody else may write what guardian will restore).
struct OwnerRule {
  mode_t forbidden_mode = 077;
  const char* forbidden_text = "readable or writable by group or others";  // for the message
};

// Checks the fd's stat against `rule`; `what` names the thing in the message ("state file PATH").
// The error says the mode or owner found and the command that fixes it.
Result<void> check_owner(const struct stat& st, const std::string& what, const std::string& path,
                         const OwnerRule& rule);

struct InputFileRule {
  size_t max_bytes = 0;              // larger is an error naming the cap
  const OwnerRule* owner = nullptr;  // nullptr: any owner and mode (the policy may be root's)
  bool no_follow = false;            // refuse a symlink (O_NOFOLLOW) for files guardian trusts
  const char* what = "file";         // "policy", "state file", "API key file": starts each message
};

// Reads `path` under `rule`. Errors start with "<what> <path>: " and keep errno where one applies
// (ENOENT for a missing file).
Result<std::string> read_input_file(const std::string& path, const InputFileRule& rule);

// "a FIFO", "a character device", "a directory", … for a message about a file that is not regular.
const char* file_type_name(mode_t mode);

}  // namespace guardian
