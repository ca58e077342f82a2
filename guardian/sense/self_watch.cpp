#include "sense/self_watch.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
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

std::vector<Mapping> read_own_maps() {
  UniqueFd fd(::open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return parse_proc_maps(text);
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

constexpr uintptr_t kPage = 4096;
// The loop's frames below the lock call: Daemon::lock_loop_memory prefaults 64 KiB under its own,
// so 60 KiB of it lie above the stack mapping's lowest page.
constexpr uintptr_t kLoopStackBelow = 60 * 1024;

std::string_view file_name(std::string_view path) { return path.substr(path.rfind('/') + 1); }

bool is_library(std::string_view path, std::initializer_list<std::string_view> names) {
  if (path.empty() || path.front() != '/') return false;
  const std::string_view file = file_name(path);
  for (std::string_view name : names) {
    if (file.starts_with(name)) return true;
  }
  return false;
}

}  // namespace

std::vector<Mapping> parse_proc_maps(std::string_view text) {
  std::vector<Mapping> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    int path_at = 0;
    // "start-end perms offset dev inode   path"
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) continue;
    if (end <= start || std::strlen(perms) < 3) continue;
    Mapping mapping;
    mapping.start = start;
    mapping.end = end;
    mapping.readable = perms[0] == 'r';
    mapping.writable = perms[1] == 'w';
    mapping.executable = perms[2] == 'x';
    if (path_at > 0 && static_cast<size_t>(path_at) <= line.size())
      mapping.path = line.substr(static_cast<size_t>(path_at));
    out.push_back(std::move(mapping));
  }
  return out;
}

uint64_t memlock_reserve(uint64_t limit_bytes) {
  if (limit_bytes == UINT64_MAX) return 0;
  return std::min<uint64_t>(256 * 1024, limit_bytes / 16);
}

LoopLockPlan plan_loop_lock(const std::vector<Mapping>& maps, std::string_view binary,
                            uintptr_t loop_stack_address, uint64_t limit_bytes) {
  // The shared libraries' code, one part each so a lower limit drops the least used first.
  struct Shared {
    std::string_view file;
    std::string_view name;
  };
  constexpr std::array kShared = {
      Shared{"libc.so", "libc's code"},
      Shared{"libstdc++.so", "libstdc++'s code"},
      Shared{"libsystemd.so", "libsystemd's code"},
      Shared{"libm.so", "libm's code"},
      Shared{"libgcc_s.so", "libgcc_s's code"},
  };
  std::vector<LockPart> wanted = {
      {"the loop's stack", LockHow::Populate, {}, 0},
      {"guardian's code and data", LockHow::Populate, {}, 0},
      {"sdbus-c++ and prometheus-cpp-core", LockHow::Populate, {}, 0},
      {"the heap", LockHow::OnFault, {}, 0},
  };
  constexpr size_t kFirstShared = 4;
  for (const auto& shared : kShared) wanted.push_back({std::string(shared.name), LockHow::OnFault, {}, 0});
  auto add = [&wanted](size_t part, uintptr_t start, uintptr_t end) {
    wanted[part].ranges.emplace_back(start, end);
    wanted[part].bytes += end - start;
  };
  for (const auto& mapping : maps) {
    const bool stack = loop_stack_address >= mapping.start && loop_stack_address < mapping.end;
    if (stack) {
      // From just above the mapping's start, so the stack grows into an unlocked mapping that
      // counts nothing against the limit (a locked one would fail to grow past it: SIGSEGV).
      const uintptr_t page = loop_stack_address & ~(kPage - 1);
      const uintptr_t from = page - mapping.start > kLoopStackBelow ? page - kLoopStackBelow : page;
      add(0, from, mapping.end);
    } else if (!binary.empty() && mapping.path == binary) {
      add(1, mapping.start, mapping.end);
    } else if (mapping.readable &&
               is_library(mapping.path, {"libsdbus-c++.so", "libprometheus-cpp-core.so"})) {
      add(2, mapping.start, mapping.end);
    } else if (mapping.path == "[heap]") {
      add(3, mapping.start, mapping.end);
    } else if (mapping.executable && !mapping.path.empty() && mapping.path.front() == '/') {
      const std::string_view file = file_name(mapping.path);
      for (size_t i = 0; i < kShared.size(); ++i)
        if (file.starts_with(kShared[i].file)) add(kFirstShared + i, mapping.start, mapping.end);
    }
  }
  LoopLockPlan plan;
  const uint64_t room = limit_bytes == UINT64_MAX
                            ? UINT64_MAX
                            : limit_bytes - std::min(limit_bytes, memlock_reserve(limit_bytes));
  for (auto& part : wanted) {
    if (part.ranges.empty()) continue;
    plan.wanted_bytes += part.bytes;
    if (part.bytes <= room - plan.bytes) {  // plan.bytes <= room always
      plan.bytes += part.bytes;
      plan.parts.push_back(std::move(part));
    } else {
      plan.left_out.push_back(std::move(part));
    }
  }
  return plan;
}

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
  if (!locked) return "not locked (" + how + "): " + problem;
  std::string text = std::string(left_out.empty() ? "locked" : "partly locked") + " (" + how + ", " +
                     format_bytes(needed_bytes) + " counted against RLIMIT_MEMLOCK " + limit + ")";
  if (!left_out.empty()) {
    text += "; left out for the limit (" + format_bytes(left_out_bytes) + "): ";
    for (size_t i = 0; i < left_out.size(); ++i) text += (i ? ", " : "") + left_out[i];
  }
  return text;
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

  // LoopOnly: the parts plan_loop_lock chose for this limit, each populated or locked on fault.
  // The kernel counts a locked range whole against RLIMIT_MEMLOCK either way.
  const LoopLockPlan plan =
      plan_loop_lock(maps, own_binary(), reinterpret_cast<uintptr_t>(loop_stack_address), status.limit_bytes);
  for (const auto& part : plan.left_out) {
    status.left_out.push_back(part.name);
    status.left_out_bytes += part.bytes;
  }
  if (plan.parts.empty()) {
    status.problem = "nothing fits RLIMIT_MEMLOCK " + format_bytes(status.limit_bytes) +
                     " (the loop's set is " + format_bytes(plan.wanted_bytes) + ")";
    return status;
  }
  for (const auto& part : plan.parts) {
    const unsigned flags = part.how == LockHow::OnFault ? MLOCK_ONFAULT : 0;
    for (const auto& [start, end] : part.ranges) {
      if (::syscall(SYS_mlock2, start, end - start, flags) != 0) {
        const int error = errno;
        status.problem = "mlock2 (" + part.name + "): " + std::strerror(error);
        ::munlockall();
        return status;
      }
    }
    status.needed_bytes += part.bytes;
  }
  status.locked = true;
  return status;
}

LoopLockPlan plan_own_loop_lock(const void* loop_stack_address, uint64_t limit_bytes) {
  return plan_loop_lock(read_own_maps(), own_binary(), reinterpret_cast<uintptr_t>(loop_stack_address),
                        limit_bytes);
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
