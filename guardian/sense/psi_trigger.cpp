#include "sense/psi_trigger.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace guardian {

std::string PsiTriggerSpec::to_string() const {
  return std::string(kind == Kind::Some ? "some" : "full") + " " + std::to_string(stall.count()) + " " +
         std::to_string(window.count());
}

Result<PsiTrigger> PsiTrigger::arm(const std::string& path, const PsiTriggerSpec& spec) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return make_error(path + ": cannot open for a PSI trigger: " + std::strerror(errno));
  // Only procfs and cgroupfs pressure files take triggers. Anywhere else (a fixture tree under
  // --host-root) the write would overwrite the file's first bytes, so refuse before writing.
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return make_error(path + ": fstatfs: " + std::strerror(errno));
  if (fs.f_type != PROC_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC) {
    return make_error(path + ": not on procfs or cgroup2 (a fixture tree?): no PSI trigger, sampling on the interval only");
  }
  const std::string trigger = spec.to_string();
  // psi.rst: the kernel takes the string with its terminating NUL.
  const ssize_t written = ::write(fd.get(), trigger.c_str(), trigger.size() + 1);
  if (written < 0) {
    const int err = errno;
    std::string message = path + ": writing trigger \"" + trigger + "\" failed: " + std::strerror(err);
    if (err == EINVAL) {
      message +=
          " (the window must be 500 ms..10 s with 0 < stall <= window; without CAP_SYS_RESOURCE the "
          "window must also be a multiple of 2 s)";
    } else if (err == EBUSY) {
      message += " (this fd already has a trigger)";
    } else if (err == EOPNOTSUPP) {
      message += " (PSI is disabled or this kernel has no PSI triggers)";
    }
    return make_error(std::move(message));
  }
  if (static_cast<size_t>(written) != trigger.size() + 1) {
    return make_error(path + ": short write of trigger \"" + trigger + "\"");
  }
  return PsiTrigger(std::move(fd), path);
}

Result<bool> PsiTrigger::wait_for_event(std::chrono::milliseconds timeout) const {
  pollfd entry{fd_.get(), POLLPRI, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, static_cast<int>(timeout.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return make_error(path_ + ": poll failed: " + std::strerror(errno));
    }
    if (ready == 0) return false;
    if ((entry.revents & POLLERR) != 0) return make_error(path_ + ": the pressure file went away (POLLERR)");
    return (entry.revents & POLLPRI) != 0;
  }
}

}  // namespace guardian
