// A PSI trigger: an fd on a pressure file that becomes readable with POLLPRI when the stall
// threshold is crossed within the window (Documentation/accounting/psi.rst, "Monitoring for
// pressure thresholds"). Unprivileged (no CAP_SYS_RESOURCE) the window must be a multiple of
// 2 s; the string is written including its terminating NUL. Expect one event right after
// arming.
#pragma once

#include <chrono>
#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace guardian {

struct PsiTriggerSpec {
  enum class Kind { Some, Full } kind = Kind::Some;
  std::chrono::microseconds stall{150000};
  std::chrono::microseconds window{2000000};
  [[nodiscard]] std::string to_string() const;  // "some 150000 2000000"
  friend bool operator==(const PsiTriggerSpec&, const PsiTriggerSpec&) = default;
};

class PsiTrigger {
 public:
  // Opens `path` (already host-root mapped) O_RDWR|O_NONBLOCK and writes the trigger.
  static Result<PsiTrigger> arm(const std::string& path, const PsiTriggerSpec& spec);

  // Polls the fd for POLLPRI up to `timeout`: true when the trigger fired. POLLERR means the
  // pressure file went away (the cgroup was removed), which is an error naming the path.
  [[nodiscard]] Result<bool> wait_for_event(std::chrono::milliseconds timeout) const;

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  PsiTrigger(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

}  // namespace guardian
