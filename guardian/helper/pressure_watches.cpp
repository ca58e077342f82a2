#include "helper/pressure_watches.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "helper/cgroup_tree.h"

namespace guardian::helper {
namespace {

uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace

Result<std::string> psi_trigger_text(const helper_wire::WatchPressure& request) {
  if (request.window_us < 500'000 || request.window_us > 10'000'000) {
    return make_error("window_us " + std::to_string(request.window_us) +
                      " is outside 500000..10000000 (psi.rst)");
  }
  if (request.stall_us == 0 || request.stall_us > request.window_us) {
    return make_error("stall_us " + std::to_string(request.stall_us) + " must be > 0 and <= window_us");
  }
  return std::string(request.full ? "full " : "some ") + std::to_string(request.stall_us) + " " +
         std::to_string(request.window_us);
}

Result<uint32_t> PressureWatches::add(uint32_t client, const std::string& allowed_base,
                                      const helper_wire::WatchPressure& request) {
  if (!CgroupTree::is_within(request.cgroup, allowed_base)) {
    return make_error("cgroup '" + request.cgroup + "' is not at or under " + allowed_base);
  }
  std::size_t mine = 0;
  for (const auto& [id, w] : watches_) mine += w.client == client ? 1 : 0;
  if (mine >= max_per_client_)
    return make_error("at most " + std::to_string(max_per_client_) + " pressure watches per client");
  auto trigger = psi_trigger_text(request);
  if (!trigger) return trigger.error();

  const std::string path = root_ + (request.cgroup == "/" ? "" : request.cgroup) + "/memory.pressure";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    const int err = errno;
    std::string message = path + ": " + std::strerror(err);
    struct stat st {};
    if (err == EACCES && ::stat(path.c_str(), &st) == 0) {
      message +=
          " (owned by uid " + std::to_string(st.st_uid) +
          "; guardian-helper runs without CAP_DAC_OVERRIDE and opens only root's pressure files: watch "
          "an ancestor the user manager did not create, e.g. user@UID.service on systemd < 254)";
    }
    return make_error(std::move(message));
  }
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
    return make_error(path + ": not on cgroup2");
  }
  // psi.rst: the kernel takes the trigger with its terminating NUL.
  if (::write(fd.get(), trigger->c_str(), trigger->size() + 1) != static_cast<ssize_t>(trigger->size() + 1)) {
    const int err = errno;
    std::string message = path + ": writing trigger \"" + *trigger + "\": " + std::strerror(err);
    if (err == EINVAL && request.window_us % 2'000'000 != 0) {
      message +=
          " (since Linux 6.5 a window that is not a multiple of 2 s needs CAP_SYS_RESOURCE, which this "
          "process lacks)";
    }
    return make_error(std::move(message));
  }
  const uint32_t id = next_id_++;
  if (auto added = epoll_->add(fd.get(), EPOLLPRI, Tag{Source::PressureWatch, id}); !added)
    return added.error();
  watches_.emplace(id, Watch{client, request.cgroup, std::move(fd)});
  return id;
}

Result<void> PressureWatches::remove(uint32_t client, uint32_t watch) {
  auto it = watches_.find(watch);
  if (it == watches_.end() || it->second.client != client)
    return make_error("no pressure watch " + std::to_string(watch));
  epoll_->remove(it->second.fd.get());
  watches_.erase(it);
  return {};
}

void PressureWatches::remove_client(uint32_t client) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.client == client) {
      epoll_->remove(it->second.fd.get());
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<PressureWatches::Fired> PressureWatches::on_ready(uint32_t watch, uint32_t events) {
  auto it = watches_.find(watch);
  if (it == watches_.end()) return std::nullopt;
  if ((events & EPOLLERR) != 0) {
    Fired gone{it->second.client,
               helper_wire::WatchEnded{watch, "the cgroup " + it->second.cgroup + " went away"}};
    epoll_->remove(it->second.fd.get());
    watches_.erase(it);
    return gone;
  }
  if ((events & EPOLLPRI) == 0) return std::nullopt;
  return Fired{it->second.client, helper_wire::PressureFired{monotonic_ns(), watch, it->second.cgroup}};
}

}  // namespace guardian::helper
