#include "sense/sampler.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "common/fd.h"
#include "common/units.h"
#include "sense/ancestor_limits.h"
#include "sense/cgroup_files.h"
#include "sense/host_layout.h"
#include "sense/meminfo.h"
#include "sense/psi.h"

namespace guardian {
namespace {

// The per-cgroup files guardian reads, in the order they are read each tick.
enum FileSlot : size_t {
  kCurrent,
  kHigh,
  kMax,
  kLow,
  kMin,
  kSwapCurrent,
  kStat,
  kEvents,
  kOomGroup,
  kPressure,
  kSlots
};
constexpr std::array<const char*, kSlots> kFileNames = {
    "memory.current",      "memory.high", "memory.max",    "memory.low",       "memory.min",
    "memory.swap.current", "memory.stat", "memory.events", "memory.oom.group", "memory.pressure"};

// One cgroup with its files held open between ticks.
struct TrackedCgroup {
  std::string path;      // relative to the cgroup2 mount, "/user.slice/…"
  std::string unit;      // last component
  std::string host_dir;  // host view for messages: "/sys/fs/cgroup/user.slice/…"
  std::string open_dir;  // host-root mapped, to open
  std::array<UniqueFd, kSlots> fds;
  std::array<int, kSlots> open_errno{};       // why a file could not be opened (persists until rescan)
  std::array<int, kSlots> open_errno_told{};  // the open_errno last reported (0: none), said once
  bool without_memory_controller = false;     // at the last walk: its directory, no memory files
  bool has_children = false;
  bool oomd_omit = false;
  bool oomd_avoid = false;
  bool readonly = false;
};

// systemd writes "1" for these xattrs (src/core/cgroup.c); accept its parse_boolean() words.
bool read_bool_xattr(const std::string& dir, const char* name) {
  char value[16];
  const ssize_t n = ::getxattr(dir.c_str(), name, value, sizeof value - 1);
  if (n <= 0) return false;
  const std::string_view text = trim(std::string_view(value, static_cast<size_t>(n)));
  return text == "1" || text == "yes" || text == "y" || text == "true" || text == "t" || text == "on";
}

// kernfs answers ENODEV on an open file of a removed cgroup.
bool vanished(const Error& error) { return error.code == ENODEV || error.code == ENOENT; }

}  // namespace

struct Sampler::Impl {
  HostRoot host;
  SamplerOptions options;
  HostLayout layout;

  UniqueFd meminfo_fd;
  UniqueFd system_pressure_fd;
  std::vector<TrackedCgroup> cgroups;
  // The limits above the user manager (sense/ancestor_limits.h), opened again on every walk: a
  // walk follows the user manager going and coming back (a logout and login), and its ancestors
  // then are new cgroups — files kept open from before would go on reading the removed ones.
  std::optional<AncestorLimitReader> ancestors;
  bool rescan_pending = true;
  unsigned ticks_since_rescan = 0;
  // A directory made or removed anywhere in the walked tree: the walk adds an inotify watch on
  // every cgroup directory, so a steady tree costs one empty non-blocking read per tick instead
  // of a periodic re-walk (an opendir and a struct file per cgroup). Without inotify (no fd, or
  // the user's watch limit reached) the periodic re-walk stays.
  UniqueFd tree_watch = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  bool tree_watch_complete = false;  // every walked directory has a watch
  alignas(inotify_event) std::array<char, 4096> tree_events{};

  // Problems active in the previous tick and in this one: a problem is reported when it first
  // appears and again only after it has gone away for a tick.
  std::set<std::pair<std::string, std::string>> active_problems;
  std::set<std::pair<std::string, std::string>> tick_problems;
  std::vector<SenseProblem> pending_problems;

  std::string buffer = std::string(16384, '\0');

  void problem(std::string where, std::string message) {
    auto key = std::make_pair(std::move(where), std::move(message));
    if (!tick_problems.insert(key).second) return;
    // Bounded so a caller that never collects problems cannot grow memory without end.
    constexpr size_t kMaxPending = 1000;
    if (!active_problems.contains(key) && pending_problems.size() < kMaxPending) {
      pending_problems.push_back({key.first, key.second});
    }
  }

  // The file's text (valid until the next read), or the errno of the failed read. The common case
  // (one pread that fits the buffer) is inline: it runs for every file of every tick.
  Result<std::string_view> read_fd(int fd) {
    // cgroupfs and procfs regenerate the file on a read at offset 0, so one fd serves every tick.
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0 && static_cast<size_t>(n) < buffer.size()) [[likely]]
      return std::string_view(buffer.data(), static_cast<size_t>(n));
    return read_fd_again(fd, n);
  }
  // An interrupted read, a failed one, or a file larger than the buffer (grown, then read again).
  Result<std::string_view> read_fd_again(int fd, ssize_t first);
  void read_system(Snapshot& snapshot);
  void rescan();
  // Whether the tree changed since the walk (drains the inotify queue); true without a watch
  // once the periodic re-walk is due.
  bool tree_changed();
  // The cgroups of the previous walk, taken over by the next one: in the same pre-order, so the
  // next expected one is checked first and the index only built when the tree changed.
  struct PreviousWalk {
    std::vector<TrackedCgroup> cgroups;
    size_t cursor = 0;
    std::map<std::string, size_t> index;
    TrackedCgroup* take(const std::string& path);
  };
  void walk(const std::string& path, bool readonly, PreviousWalk& previous, std::vector<TrackedCgroup>& out,
            unsigned depth);
  void open_files(TrackedCgroup& cgroup);
  // Sampled; NoMemoryController: the cgroup has no memory files (its parent does not enable the
  // controller for it), skipped and nothing to re-walk for; Vanished: gone since the walk.
  enum class CgroupRead { Sampled, NoMemoryController, Vanished };
  CgroupRead sample_cgroup(TrackedCgroup& cgroup, CgroupSample& sample);
  // "/sys/fs/cgroup" + "/user.slice/…"; a cgroup2 mounted at "/" (some containers) gives "//…",
  // which the kernel resolves the same.
  std::string cgroup_host_path(std::string_view relative) const {
    return layout.cgroup2_mount + std::string(relative);
  }
};

Result<std::string_view> Sampler::Impl::read_fd_again(int fd, ssize_t first) {
  for (ssize_t n = first;; n = ::pread(fd, buffer.data(), buffer.size(), 0)) {
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read", errno);
    }
    if (static_cast<size_t>(n) == buffer.size()) {
      buffer.resize(buffer.size() * 2);  // memory.stat grows with kernel versions; never truncate
      continue;
    }
    return std::string_view(buffer.data(), static_cast<size_t>(n));
  }
}

void Sampler::Impl::read_system(Snapshot& snapshot) {
  struct SystemFile {
    const char* host_path;
    UniqueFd* fd;
  };
  for (const SystemFile& file :
       {SystemFile{"/proc/meminfo", &meminfo_fd}, SystemFile{"/proc/pressure/memory", &system_pressure_fd}}) {
    if (!*file.fd) {
      file.fd->reset(::open(host.path(file.host_path).c_str(), O_RDONLY | O_CLOEXEC));
      if (!*file.fd) {
        problem(file.host_path, std::strerror(errno));
        continue;
      }
    }
    auto read = read_fd(file.fd->get());
    if (!read) {
      problem(file.host_path, std::strerror(read.error().code));
      file.fd->reset();
      continue;
    }
    const std::string_view text = *read;
    if (file.fd == &meminfo_fd) {
      if (auto meminfo = parse_meminfo(text))
        snapshot.meminfo = *meminfo;
      else
        problem(file.host_path, meminfo.error().message);
    } else {
      if (auto psi = parse_psi(text))
        snapshot.system_pressure = *psi;
      else
        problem(file.host_path, psi.error().message);
    }
  }
}

void Sampler::Impl::open_files(TrackedCgroup& cgroup) {
  UniqueFd dir;
  for (size_t slot = 0; slot < kSlots; ++slot) {
    if (cgroup.fds[slot]) continue;
    if (!dir) dir.reset(::open(cgroup.open_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    cgroup.open_errno[slot] = 0;
    const int fd = dir ? ::openat(dir.get(), kFileNames[slot], O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
      cgroup.open_errno[slot] = errno;
      continue;
    }
    cgroup.fds[slot].reset(fd);
    cgroup.open_errno_told[slot] = 0;
  }
  // Its directory was there and listed no memory.current: no memory controller (a cgroup that
  // went away would have failed the directory's open).
  cgroup.without_memory_controller = dir && !cgroup.fds[kCurrent] && cgroup.open_errno[kCurrent] == ENOENT;
  cgroup.oomd_omit = read_bool_xattr(cgroup.open_dir, "user.oomd_omit");
  cgroup.oomd_avoid = read_bool_xattr(cgroup.open_dir, "user.oomd_avoid");
}

TrackedCgroup* Sampler::Impl::PreviousWalk::take(const std::string& path) {
  size_t found = cgroups.size();
  if (cursor < cgroups.size() && cgroups[cursor].path == path) {
    found = cursor;
  } else {
    if (index.empty()) {
      for (size_t i = 0; i < cgroups.size(); ++i) index.emplace(cgroups[i].path, i);
    }
    if (auto hit = index.find(path); hit != index.end()) found = hit->second;
  }
  if (found >= cgroups.size() || cgroups[found].path.empty()) return nullptr;
  cursor = found + 1;
  return &cgroups[found];
}

void Sampler::Impl::walk(const std::string& path, bool readonly, PreviousWalk& previous,
                         std::vector<TrackedCgroup>& out, unsigned depth) {
  const std::string host_dir = cgroup_host_path(path);
  const std::string open_dir = host.path(host_dir);
  if (tree_watch &&
      ::inotify_add_watch(tree_watch.get(), open_dir.c_str(),
                          IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR) < 0 &&
      errno != ENOENT) {
    tree_watch_complete = false;  // ENOSPC: the user's inotify watch limit; re-walk periodically
  }
  std::vector<std::string> children;
  {
    DIR* raw = ::opendir(open_dir.c_str());
    if (raw == nullptr) {
      if (errno != ENOENT) problem(host_dir, std::string("cannot list: ") + std::strerror(errno));
      return;
    }
    std::unique_ptr<DIR, int (*)(DIR*)> dir(raw, ::closedir);
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = entry->d_type == DT_DIR;
      if (entry->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISDIR(st.st_mode);
      }
      if (is_dir) children.emplace_back(name);
    }
  }
  std::sort(children.begin(), children.end());

  if (TrackedCgroup* earlier = previous.take(path)) {
    out.push_back(std::move(*earlier));
    earlier->path.clear();  // taken
  } else {
    out.emplace_back();
    out.back().path = path;
    out.back().unit = path.substr(path.rfind('/') + 1);
    out.back().host_dir = host_dir;
    out.back().open_dir = open_dir;
  }
  TrackedCgroup& cgroup = out.back();  // not used after the recursion below, which may reallocate
  cgroup.readonly = readonly;
  cgroup.has_children = !children.empty();
  open_files(cgroup);

  // cgroup.max.depth defaults to unlimited; bound the walk so a pathological tree cannot stall a tick.
  constexpr unsigned kMaxDepth = 32;
  if (depth >= kMaxDepth) {
    problem(host_dir, "cgroup tree deeper than 32 levels, not walking further");
    return;
  }
  for (const auto& child : children) walk(path + "/" + child, readonly, previous, out, depth + 1);
}

void Sampler::Impl::rescan() {
  PreviousWalk previous{std::move(cgroups), 0, {}};
  tree_watch_complete = static_cast<bool>(tree_watch);
  std::vector<TrackedCgroup> found;
  found.reserve(previous.cgroups.size());
  walk(layout.user_manager_path, false, previous, found, 0);
  if (found.empty()) {
    // The user logged out (or the manager restarted); reported once until it is back.
    problem(cgroup_host_path(layout.user_manager_path), "user manager cgroup is gone");
    ancestors.reset();
  } else {
    ancestors.emplace(host, layout);
  }
  if (options.include_system_slice) {
    // Read-only context for the model (Fedora's oomd also watches system.slice); skipped quietly
    // when this user may not list it.
    const std::string system_dir = host.path(cgroup_host_path("/system.slice"));
    if (::access(system_dir.c_str(), R_OK | X_OK) == 0) walk("/system.slice", true, previous, found, 0);
  }
  cgroups = std::move(found);  // cgroups no longer present close their fds here
  rescan_pending = false;
  ticks_since_rescan = 0;
}

bool Sampler::Impl::tree_changed() {
  if (!tree_watch_complete) return ticks_since_rescan >= options.rescan_every_ticks;
  bool changed = false;
  for (;;) {
    const ssize_t n = ::read(tree_watch.get(), tree_events.data(), tree_events.size());
    if (n > 0) {
      changed = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: drained. An overflowed queue (IN_Q_OVERFLOW) was a read with n > 0.
    return changed;
  }
}

Sampler::Impl::CgroupRead Sampler::Impl::sample_cgroup(TrackedCgroup& cgroup, CgroupSample& sample) {
  if (!cgroup.fds[kCurrent] && cgroup.open_errno[kCurrent] == ENOENT) {
    // No memory.current: its parent does not enable the memory controller for it (Debian 12's
    // system.slice/systemd-udevd.service/udev), or it went away since the walk. Neither is worth
    // a message per file; only the second is worth one at all, and only the second a re-walk:
    // a re-walk per tick for the first (every tick on Debian 12, where that cgroup always is)
    // opened every cgroup directory and re-read oomd's drop-ins each second, each open a kernel
    // charge that puts the loop under the user's memory.high penalty when the user runs short
    // (tests/vm/FINDINGS-issue10.md, sqs-s19-2). The memory files appearing later is a change
    // the tree watch sees (IN_CREATE in the cgroup's own directory).
    if (cgroup.without_memory_controller) return CgroupRead::NoMemoryController;
    problem(cgroup.host_dir, "cgroup vanished before it was read");
    return CgroupRead::Vanished;
  }
  // Filled in place: a tick that finds the same tree reuses every string's storage.
  sample.memory = CgroupMemory{};
  sample.pressure.reset();
  for (size_t slot = 0; slot < kSlots; ++slot) {
    const std::string_view file_name = kFileNames[slot];
    if (!cgroup.fds[slot]) {
      // Said once per failure (it persists until a re-walk opens the file), not every tick.
      if (cgroup.open_errno_told[slot] != cgroup.open_errno[slot]) {
        cgroup.open_errno_told[slot] = cgroup.open_errno[slot];
        problem(cgroup.host_dir + "/" + std::string(file_name),
                std::string("cannot open: ") + std::strerror(cgroup.open_errno[slot]));
      }
      continue;
    }
    auto read = read_fd(cgroup.fds[slot].get());
    if (!read) {
      if (vanished(read.error())) {
        problem(cgroup.host_dir, "cgroup vanished while reading " + std::string(file_name));
        return CgroupRead::Vanished;
      }
      problem(cgroup.host_dir + "/" + std::string(file_name),
              std::string("cannot read: ") + std::strerror(read.error().code));
      continue;
    }
    const std::string_view text = *read;
    Result<void> parsed;
    auto set_value = [&](std::optional<uint64_t>& field) {
      auto value = parse_cgroup_value(text);
      if (!value) {
        parsed = value.error();
        return;
      }
      field = *value;
    };
    switch (slot) {
      case kCurrent: set_value(sample.memory.current_bytes); break;
      case kHigh: set_value(sample.memory.high_bytes); break;
      case kMax: set_value(sample.memory.max_bytes); break;
      case kLow: set_value(sample.memory.low_bytes); break;
      case kMin: set_value(sample.memory.min_bytes); break;
      case kSwapCurrent: set_value(sample.memory.swap_current_bytes); break;
      case kStat: parsed = parse_memory_stat(text, sample.memory); break;
      case kEvents: parsed = parse_memory_events(text, sample.memory); break;
      case kOomGroup: {
        std::optional<uint64_t> value;
        set_value(value);
        if (parsed && value && *value > 1)
          parsed = make_error("expected 0 or 1, got " + std::to_string(*value));
        sample.memory.oom_group = value.value_or(0) == 1;
        break;
      }
      case kPressure: {
        auto psi = parse_psi(text);
        if (psi)
          sample.pressure = *psi;
        else
          parsed = psi.error();
        break;
      }
      default: break;
    }
    if (!parsed) problem(cgroup.host_dir + "/" + std::string(file_name), parsed.error().message);
  }
  sample.path.assign(cgroup.path);
  sample.unit.assign(cgroup.unit);
  sample.has_children = cgroup.has_children;
  sample.oomd_omit = cgroup.oomd_omit;
  sample.oomd_avoid = cgroup.oomd_avoid;
  sample.readonly = cgroup.readonly;
  return CgroupRead::Sampled;
}

Sampler::Sampler(HostRoot host, SamplerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->options = options;
  if (impl_->options.rescan_every_ticks == 0) impl_->options.rescan_every_ticks = 1;
  impl_->layout = discover_host_layout(impl_->host, impl_->options.uid);
}

Sampler::~Sampler() = default;

const HostLayout& Sampler::layout() const { return impl_->layout; }
const HostRoot& Sampler::host() const { return impl_->host; }
void Sampler::request_rescan() { impl_->rescan_pending = true; }

Snapshot Sampler::sample() {
  Snapshot snapshot;
  sample_into(snapshot);
  return snapshot;
}

void Sampler::sample_into(Snapshot& snapshot) {
  Impl& self = *impl_;
  snapshot.mono = std::chrono::steady_clock::now();
  snapshot.wall = std::chrono::system_clock::now();
  snapshot.meminfo = MemInfo{};
  snapshot.system_pressure.reset();
  self.read_system(snapshot);
  size_t used = 0;
  if (!self.layout.system_only()) {
    if (self.tree_changed()) self.rescan_pending = true;
    if (self.rescan_pending) self.rescan();
    ++self.ticks_since_rescan;
    if (snapshot.cgroups.size() < self.cgroups.size()) snapshot.cgroups.resize(self.cgroups.size());
    for (auto& cgroup : self.cgroups) {
      switch (self.sample_cgroup(cgroup, snapshot.cgroups[used])) {
        case Impl::CgroupRead::Sampled: ++used; break;
        case Impl::CgroupRead::NoMemoryController: break;
        case Impl::CgroupRead::Vanished: self.rescan_pending = true; break;
      }
    }
  }
  snapshot.cgroups.resize(used);  // shrinking keeps the capacity for the next tick
  snapshot.user_ancestors_limit_bytes =
      self.ancestors ? self.ancestors->smallest_limit() : std::optional<uint64_t>();
  self.active_problems = std::move(self.tick_problems);
  self.tick_problems.clear();
}

bool Sampler::rescanned_last_tick() const { return impl_->ticks_since_rescan == 1; }

std::vector<SenseProblem> Sampler::take_problems() { return std::exchange(impl_->pending_problems, {}); }

}  // namespace guardian
