// The memory limits above the user manager: memory.high and memory.max of each ancestor of
// user@UID.service below the root ("user-1000.slice", "user.slice"). A limit there caps the
// whole user as surely as one on the user manager itself (a desktop's RAM quota, or the VM test
// bed's user-1000.slice with MemoryMax=), and the sampler's walk starts at the user manager, so
// it never sees them. The files stay open and are re-read with pread into a fixed buffer, like
// the sampler's; the root cgroup has no such files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/host_root.h"
#include "sense/snapshot.h"

namespace guardian {

class AncestorLimitReader {
 public:
  // Opens the ancestors' files now; an ancestor without them (no memory controller delegated
  // there) is skipped.
  AncestorLimitReader(const HostRoot& host, const HostLayout& layout);

  // The smallest memory.high or memory.max of the ancestors; nullopt when all are "max" or
  // unreadable. No allocation.
  [[nodiscard]] std::optional<uint64_t> smallest_limit() const;

  // The ancestors' cgroup paths it reads ("/user.slice/user-1000.slice", "/user.slice").
  [[nodiscard]] const std::vector<std::string>& ancestors() const { return ancestors_; }

 private:
  std::vector<std::string> ancestors_;
  std::vector<UniqueFd> files_;  // memory.high and memory.max of each ancestor that has them
};

}  // namespace guardian
