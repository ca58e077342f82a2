#include "sense/self_watch.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/fd.h"
#include "common/units.h"
#include "sense/text.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

namespace guardian {

// ---- TickLateness ---------------------------------------------------------------------------

void TickLateness::arm(MonoTime now, std::chrono::microseconds interval) {
  interval_ = interval;
  next_due_ = now + interval;
}

double TickLateness::on_expiry(MonoTime now, uint64_t expirations) {
  if (interval_.count() <= 0 || expirations == 0) return 0;
  const double late = std::max(0.0, std::chrono::duration<double>(now - next_due_).count());
  next_due_ += interval_ * static_cast<int64_t>(expirations);
  last_seconds_ = late;
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && late > kBucketBounds[bucket]) ++bucket;
  ++histogram_.buckets[bucket];
  ++histogram_.count;
  histogram_.sum_seconds += late;
  const int64_t index = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) / kSlot;
  Slot& slot = slots_[static_cast<size_t>(index) % slots_.size()];
  if (slot.index != index) slot = Slot{index, 0};
  slot.max_seconds = std::max(slot.max_seconds, late);
  return late;
}

double TickLateness::window_max_seconds(MonoTime now) const {
  const int64_t index = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) / kSlot;
  const auto slots = static_cast<int64_t>(slots_.size());
  double max = 0;
  for (const Slot& slot : slots_) {
    if (slot.index > index - slots && slot.index <= index) max = std::max(max, slot.max_seconds);
  }
  return max;
}

// ---- memory locking -------------------------------------------------------------------------

namespace {

struct ModeName {
  MemoryLockMode mode;
  std::string_view name;
};
constexpr std::array kModeNames = {
    ModeName{MemoryLockMode::None, "none"},
    ModeName{MemoryLockMode::All, "all"},
    ModeName{MemoryLockMode::AllOnFault, "all-onfault"},
    ModeName{MemoryLockMode::LoopOnly, "loop"},
};

// One line of /proc/self/maps.
struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool executable = false;
  std::string path;  // "" for anonymous, "[heap]", "[stack]", or the file
};

std::vector<Mapping> read_own_maps() {
  std::vector<Mapping> out;
  UniqueFd fd(::open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (!fd) return out;
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    int path_at = 0;
    // "start-end perms offset dev inode   path"
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) continue;
    Mapping mapping;
    mapping.start = start;
    mapping.end = end;
    mapping.executable = perms[2] == 'x';
    if (path_at > 0 && static_cast<size_t>(path_at) <= line.size())
      mapping.path = line.substr(static_cast<size_t>(path_at));
    out.push_back(std::move(mapping));
  }
  return out;
}

std::string own_binary() {
  char self[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
}

uint64_t memlock_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return limit.rlim_cur;
}

}  // namespace

std::string_view memory_lock_mode_name(MemoryLockMode mode) {
  for (const auto& entry : kModeNames) {
    if (entry.mode == mode) return entry.name;
  }
  return "none";
}

Result<MemoryLockMode> parse_memory_lock_mode(std::string_view text) {
  for (const auto& entry : kModeNames) {
    if (entry.name == text) return entry.mode;
  }
  return make_error("expected none, all, all-onfault or loop, got " + quote_excerpt(text));
}

std::string MemoryLockStatus::describe() const {
  const std::string limit = limit_bytes == UINT64_MAX ? "unlimited" : format_bytes(limit_bytes);
  const std::string how = std::string(memory_lock_mode_name(mode));
  if (mode == MemoryLockMode::None) return "not locked (--lock-memory=none)";
  if (locked)
    return "locked (" + how + ", " + format_bytes(needed_bytes) + " counted against RLIMIT_MEMLOCK " + limit +
           ")";
  return "not locked (" + how + "): " + problem;
}

void prepare_for_future_locking() {
  // With MCL_FUTURE every later mapping is locked and counted whole when it is made: glibc's
  // default 8 MiB thread stack and 64 MiB per-thread malloc arena would each overrun an 8 MiB
  // RLIMIT_MEMLOCK (pthread_create or malloc failing then). One arena, and stacks of 256 KiB
  // (the deepest guardian thread, sdbus-c++'s event loop, needs far less).
  ::mallopt(M_ARENA_MAX, 1);
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) == 0) {
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
  }
}

MemoryLockStatus lock_memory(MemoryLockMode mode, const void* loop_stack_address) {
  MemoryLockStatus status;
  status.mode = mode;
  status.limit_bytes = memlock_limit();
  if (mode == MemoryLockMode::None) return status;
  const std::vector<Mapping> maps = read_own_maps();

  if (mode == MemoryLockMode::All || mode == MemoryLockMode::AllOnFault) {
    // The kernel refuses MCL_CURRENT when the whole address space (VmSize) exceeds the limit.
    for (const auto& mapping : maps) status.needed_bytes += mapping.end - mapping.start;
    int flags = MCL_CURRENT | MCL_FUTURE;
    if (mode == MemoryLockMode::AllOnFault) flags |= MCL_ONFAULT;
    if (::mlockall(flags) != 0) {
      status.problem = std::string("mlockall: ") + std::strerror(errno) + " (address space " +
                       format_bytes(status.needed_bytes) + ")";
      return status;
    }
    status.locked = true;
    return status;
  }

  // LoopOnly: guardian's own text and data, the code of the libraries a tick runs in, the heap
  // and the stack the loop runs on, each locked as it is touched. Every executable mapping would
  // be 8.6 MiB, over the 8 MiB default (measured, README "Benchmarks"): libsystemd's journal
  // compressors and crypto (zstd, lz4, lzma, gcrypt: 1.8 MiB), toml++, civetweb and sdbus-c++
  // run only at start, on a reload or on other threads.
  const std::string binary = own_binary();
  const auto stack = reinterpret_cast<uintptr_t>(loop_stack_address);
  auto tick_library = [](std::string_view path) {
    const std::string_view file = path.substr(path.rfind('/') + 1);
    for (std::string_view name : {"libc.so", "libstdc++.so", "libm.so", "libsystemd.so", "libgcc_s.so"}) {
      if (file.starts_with(name)) return true;
    }
    return false;
  };
  std::vector<const Mapping*> chosen;
  for (const auto& mapping : maps) {
    const bool own = !binary.empty() && mapping.path == binary;
    const bool loop_stack = stack >= mapping.start && stack < mapping.end;
    if (own || (mapping.executable && tick_library(mapping.path)) || mapping.path == "[heap]" || loop_stack)
      chosen.push_back(&mapping);
  }
  for (const Mapping* mapping : chosen) status.needed_bytes += mapping->end - mapping->start;
  if (status.needed_bytes > status.limit_bytes) {
    status.problem = "needs " + format_bytes(status.needed_bytes) + ", more than RLIMIT_MEMLOCK " +
                     format_bytes(status.limit_bytes);
    return status;
  }
  for (const Mapping* mapping : chosen) {
    if (::syscall(SYS_mlock2, mapping->start, mapping->end - mapping->start, MLOCK_ONFAULT) != 0) {
      const int error = errno;
      status.problem = "mlock2 " +
                       (mapping->path.empty() ? std::string("anonymous mapping") : mapping->path) + ": " +
                       std::strerror(error);
      ::munlockall();
      return status;
    }
  }
  status.locked = true;
  return status;
}

Result<OwnMemory> parse_proc_status_memory(std::string_view text) {
  OwnMemory memory;
  bool have_locked = false, have_rss = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    uint64_t* field = nullptr;
    if (line.starts_with("VmLck:")) {
      field = &memory.locked_bytes;
      have_locked = true;
    } else if (line.starts_with("VmRSS:")) {
      field = &memory.rss_bytes;
      have_rss = true;
    } else {
      continue;
    }
    line.remove_prefix(6);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!line.ends_with(" kB")) return make_error("expected a size in kB, got " + quote_excerpt(line));
    line.remove_suffix(3);
    uint64_t kib = 0;
    if (!parse_decimal(line.data(), line.data() + line.size(), kib) || kib > UINT64_MAX / 1024)
      return make_error("expected a size in kB, got " + quote_excerpt(line));
    *field = kib * 1024;
  }
  if (!have_locked || !have_rss) return make_error("no VmLck or VmRSS line");
  return memory;
}

}  // namespace guardian
