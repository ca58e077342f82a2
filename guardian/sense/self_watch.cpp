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

// Calls fn with each line of text as a NUL-terminated copy (sscanf needs one), without its '\n'.
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    fn(line);
  }
}

}  // namespace

std::vector<Mapping> parse_proc_maps(std::string_view text) {
  std::vector<Mapping> out;
  for_each_line(text, [&](const std::string& line) {
    unsigned long start = 0, end = 0, offset = 0;
    char perms[8] = {};
    int path_at = 0;
    // "start-end perms offset dev inode   path"
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4)
      return;
    if (end <= start || std::strlen(perms) < 3) return;
    Mapping mapping;
    mapping.start = start;
    mapping.end = end;
    mapping.readable = perms[0] == 'r';
    mapping.writable = perms[1] == 'w';
    mapping.executable = perms[2] == 'x';
    mapping.offset = offset;
    if (path_at > 0 && static_cast<size_t>(path_at) <= line.size())
      mapping.path = line.substr(static_cast<size_t>(path_at));
    out.push_back(std::move(mapping));
  });
  return out;
}

uint64_t memlock_reserve(uint64_t limit_bytes) {
  if (limit_bytes == UINT64_MAX) return 0;
  return std::min<uint64_t>(256 * 1024, limit_bytes / 16);
}

LoopLockPlan plan_loop_lock(const std::vector<Mapping>& maps, std::string_view binary,
                            uintptr_t loop_stack_address, uint64_t limit_bytes) {
  std::vector<LockPart> wanted = {
      {"the loop's stack", LockHow::Populate, {}, 0},
      {"guardian's code and data", LockHow::Populate, {}, 0},
      {"sdbus-c++ and prometheus-cpp-core", LockHow::Populate, {}, 0},
      {"the heap", LockHow::OnFault, {}, 0},
  };
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

bool is_shared_readonly(const Mapping& mapping, std::string_view binary) {
  if (!mapping.readable || mapping.writable || mapping.path.empty() || mapping.path.front() != '/')
    return false;
  if (!binary.empty() && mapping.path == binary) return false;
  if (file_name(mapping.path).find(".so") == std::string_view::npos) return false;
  return !is_library(mapping.path, {"libsdbus-c++.so", "libprometheus-cpp-core.so"});
}

SharedPagesPlan plan_shared_pages_lock(const std::vector<Mapping>& maps, std::string_view binary,
                                       const std::vector<PageRun>& present,
                                       const std::vector<PageRun>& locked, uint64_t room_bytes) {
  // The libraries a tick runs in first, so a lower limit leaves out the others' pages.
  constexpr std::array<std::string_view, 5> kFirst = {"libc.so", "libstdc++.so", "libsystemd.so", "libm.so",
                                                      "libgcc_s.so"};
  // Last of all, every library's read-only mapping at file offset 0: its ELF headers and dynamic
  // symbol tables, which the dynamic linker read at start (all symbols bound then: -z now,
  // LD_BIND_NOW) and a tick does not.
  auto rank = [&kFirst](const Mapping& mapping) {
    if (!mapping.executable && mapping.offset == 0) return kFirst.size() + 1;
    const std::string_view file = file_name(mapping.path);
    for (size_t i = 0; i < kFirst.size(); ++i)
      if (file.starts_with(kFirst[i])) return i;
    return kFirst.size();
  };
  std::vector<const Mapping*> order;
  for (const auto& mapping : maps)
    if (is_shared_readonly(mapping, binary)) order.push_back(&mapping);
  std::stable_sort(order.begin(), order.end(),
                   [&rank](const Mapping* a, const Mapping* b) { return rank(*a) < rank(*b); });

  // The present pages of [start, end) that no earlier plan locked, as runs.
  auto unlocked_present = [&present, &locked](uintptr_t start, uintptr_t end) {
    std::vector<PageRun> out;
    auto first = std::lower_bound(present.begin(), present.end(), start,
                                  [](const PageRun& run, uintptr_t at) { return run.end <= at; });
    for (auto it = first; it != present.end() && it->start < end; ++it) {
      uintptr_t from = std::max(it->start, start);
      const uintptr_t to = std::min(it->end, end);
      auto held = std::lower_bound(locked.begin(), locked.end(), from,
                                   [](const PageRun& run, uintptr_t at) { return run.end <= at; });
      for (; from < to && held != locked.end() && held->start < to; ++held) {
        if (held->start > from) out.push_back({from, held->start});
        from = std::max(from, held->end);
      }
      if (from < to) out.push_back({from, to});
    }
    return out;
  };

  SharedPagesPlan plan;
  for (const Mapping* mapping : order) {
    const std::string name =
        std::string(file_name(mapping->path)) + (rank(*mapping) > kFirst.size() ? " headers" : "");
    for (const PageRun& run : unlocked_present(mapping->start, mapping->end)) {
      const uint64_t bytes = run.end - run.start;
      plan.wanted_bytes += bytes;
      if (bytes <= room_bytes - plan.bytes) {  // plan.bytes <= room_bytes always
        plan.runs.push_back(run);
        plan.bytes += bytes;
      } else {
        plan.left_out_bytes += bytes;
        if (rank(*mapping) < kFirst.size()) plan.left_out_tick_pages = true;
        if (std::find(plan.left_out.begin(), plan.left_out.end(), name) == plan.left_out.end())
          plan.left_out.push_back(name);
      }
    }
  }
  return plan;
}

Result<std::vector<PageRun>> read_present_pages(int pagemap_fd, const std::vector<Mapping>& maps,
                                                std::string_view binary, std::vector<uint64_t>& buffer) {
  // One 64-bit entry per page; bit 63: present in this process's page table (proc(5)).
  constexpr uint64_t kPresent = uint64_t{1} << 63;
  constexpr size_t kEntries = 512;
  buffer.resize(kEntries);
  std::vector<PageRun> runs;
  for (const auto& mapping : maps) {
    if (!is_shared_readonly(mapping, binary)) continue;
    for (uintptr_t page = mapping.start; page < mapping.end;) {
      const size_t count = std::min<size_t>(kEntries, (mapping.end - page) / kPage);
      const auto offset = static_cast<off_t>(page / kPage * sizeof(uint64_t));
      const ssize_t got = ::pread(pagemap_fd, buffer.data(), count * sizeof(uint64_t), offset);
      if (got < 0)
        return make_error(std::string("/proc/self/pagemap: ") + std::strerror(errno) + " (" + mapping.path +
                          ")");
      const size_t entries = static_cast<size_t>(got) / sizeof(uint64_t);
      if (entries == 0) break;
      for (size_t i = 0; i < entries; ++i, page += kPage) {
        if ((buffer[i] & kPresent) == 0) continue;
        if (!runs.empty() && runs.back().end == page)
          runs.back().end = page + kPage;
        else
          runs.push_back({page, page + kPage});
      }
    }
  }
  std::sort(runs.begin(), runs.end(), [](const PageRun& a, const PageRun& b) { return a.start < b.start; });
  return runs;
}

std::vector<PageRun> parse_page_runs(std::string_view text) {
  std::vector<PageRun> out;
  for_each_line(text, [&](const std::string& line) {
    unsigned long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &start, &end) != 2 || end <= start) return;
    if (start % kPage != 0 || end % kPage != 0) return;
    out.push_back({start, end});
  });
  return out;
}

SharedPagesLock::SharedPagesLock(std::string binary, uint64_t limit_bytes, uint64_t already_locked_bytes)
    : binary_(std::move(binary)),
      limit_bytes_(limit_bytes),
      already_locked_bytes_(already_locked_bytes),
      pagemap_(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) {}

SharedPagesLock::Scan SharedPagesLock::scan_and_lock() {
  Scan scan;
  if (!pagemap_) {
    scan.problem = std::string("/proc/self/pagemap: cannot be opened");
    return scan;
  }
  const std::vector<Mapping> maps = read_own_maps();
  for (const auto& mapping : maps)
    if (is_shared_readonly(mapping, binary_)) scan.scanned_pages += (mapping.end - mapping.start) / kPage;
  auto present = read_present_pages(pagemap_.get(), maps, binary_, buffer_);
  if (!present.ok()) {
    scan.problem = present.error().message;
    return scan;
  }
  uint64_t room = UINT64_MAX;
  if (limit_bytes_ != UINT64_MAX) {
    const uint64_t used = already_locked_bytes_ + locked_bytes_ + memlock_reserve(limit_bytes_);
    room = limit_bytes_ > used ? limit_bytes_ - used : 0;
  }
  const SharedPagesPlan plan = plan_shared_pages_lock(maps, binary_, present.value(), locked_, room);
  for (const PageRun& run : plan.runs) {
    if (::syscall(SYS_mlock2, run.start, run.end - run.start, 0) != 0) {
      // A library unmapped since the maps were read (none is, in guardian), or the limit.
      if (scan.problem.empty()) scan.problem = std::string("mlock2: ") + std::strerror(errno);
      continue;
    }
    locked_.push_back(run);
    locked_bytes_ += run.end - run.start;
    scan.locked_now_bytes += run.end - run.start;
  }
  std::sort(locked_.begin(), locked_.end(),
            [](const PageRun& a, const PageRun& b) { return a.start < b.start; });
  // Adjacent runs locked by different scans as one, so the next plan's subtraction stays short.
  std::vector<PageRun> merged;
  for (const PageRun& run : locked_) {
    if (!merged.empty() && merged.back().end >= run.start)
      merged.back().end = std::max(merged.back().end, run.end);
    else
      merged.push_back(run);
  }
  locked_ = std::move(merged);
  scan.locked_bytes = locked_bytes_;
  scan.left_out = plan.left_out;
  scan.left_out_bytes = plan.left_out_bytes;
  scan.left_out_tick_pages = plan.left_out_tick_pages;
  return scan;
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
  if (shared_scanned) {
    text += "; shared libraries' pages in use: " + format_bytes(shared_locked_bytes) + " locked";
    if (!shared_left_out.empty()) {
      text += ", left out for the limit (" + format_bytes(shared_left_out_bytes) + "): ";
      for (size_t i = 0; i < shared_left_out.size(); ++i) text += (i ? ", " : "") + shared_left_out[i];
    }
    if (!shared_problem.empty()) text += " (" + shared_problem + ")";
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

Result<OwnSharedPages> read_own_shared_pages() {
  OwnSharedPages own;
  own.binary = own_binary();
  own.maps = read_own_maps();
  if (own.maps.empty()) return make_error("/proc/self/maps: cannot be read");
  UniqueFd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pagemap) return make_error(std::string("/proc/self/pagemap: ") + std::strerror(errno));
  std::vector<uint64_t> buffer;
  auto present = read_present_pages(pagemap.get(), own.maps, own.binary, buffer);
  if (!present.ok()) return make_error(present.error().message);
  own.present = std::move(present.value());
  return own;
}

std::string own_executable() { return own_binary(); }

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
