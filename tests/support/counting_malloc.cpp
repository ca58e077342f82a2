// Counting replacements of malloc, of the libc entry points that open a file or make a
// socket, of those that look a path up (stat, access) and of those that send on a socket, for the tests that
// hold a steady tick to "no allocation, no open" (issue 10): tests/daemon/steady_tick.cpp (the whole loop)
// and tests/tell/metrics_exporter_steady.cpp (the metrics exporter alone). Linked only into those binaries:
// replacing malloc is process-wide. GUARDIAN_STEADY_TICK_TRACE=1 prints a backtrace for each counted call.
#include "support/counting_malloc.h"

#include <execinfo.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace {

// Counted on the thread that turned counting on only (the loop's, or the exporter's tick): other
// threads (the action worker, a scrape) allocate freely. Plain __thread: no constructor, safe
// inside malloc.
__thread bool t_counting = false;
__thread bool t_inside = false;  // a backtrace while tracing may itself allocate
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_opens{0};
std::atomic<uint64_t> g_trigger_arms{0};
std::atomic<uint64_t> g_lookups{0};
std::atomic<uint64_t> g_sends{0};
bool g_trace = std::getenv("GUARDIAN_STEADY_TICK_TRACE") != nullptr;  // NOLINT

void note(std::atomic<uint64_t>& counter, const char* what) {
  if (!t_counting || t_inside) return;
  ++counter;
  if (!g_trace) return;
  t_inside = true;
  void* frames[32];
  const int n = ::backtrace(frames, 32);
  ::dprintf(2, "---- %s on the loop thread:\n", what);
  ::backtrace_symbols_fd(frames, n, 2);
  t_inside = false;
}

// What each open entry point does once counted: the mode argument exists only with O_CREAT or
// O_TMPFILE; the open itself is the syscall libc would make.
bool ends_with(const char* text, const char* suffix) {
  size_t n = 0, m = 0;
  while (text[n] != '\0') ++n;
  while (suffix[m] != '\0') ++m;
  if (m > n) return false;
  for (size_t i = 0; i < m; ++i)
    if (text[n - m + i] != suffix[i]) return false;
  return true;
}

int counted_open(const char* what, int dir, const char* path, int flags, va_list args) {
  note(g_opens, what);
  if (t_counting && !t_inside && path != nullptr && (flags & O_ACCMODE) == O_RDWR &&
      ends_with(path, "memory.pressure"))
    ++g_trigger_arms;
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) mode = static_cast<mode_t>(va_arg(args, int));
  return static_cast<int>(::syscall(SYS_openat, dir, path, flags, mode));
}

}  // namespace

extern "C" {
void* malloc(size_t size) {
  note(g_allocations, "malloc");
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  note(g_allocations, "calloc");
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  note(g_allocations, "realloc");
  return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
  note(g_allocations, "memalign");
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  note(g_allocations, "aligned_alloc");
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  note(g_allocations, "posix_memalign");
  void* pointer = __libc_memalign(alignment, size);
  if (pointer == nullptr) return ENOMEM;
  *out = pointer;
  return 0;
}

// Every way guardian's code (and the libraries it calls) opens a file or makes a socket goes
// through one of these public entry points; each is counted, then done as libc would.
int open(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = counted_open("open", AT_FDCWD, path, flags, args);
  va_end(args);
  return fd;
}
int open64(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = counted_open("open64", AT_FDCWD, path, flags, args);
  va_end(args);
  return fd;
}
int openat(int dir, const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = counted_open("openat", dir, path, flags, args);
  va_end(args);
  return fd;
}
int openat64(int dir, const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = counted_open("openat64", dir, path, flags, args);
  va_end(args);
  return fd;
}
int socket(int domain, int type, int protocol) {
  note(g_opens, "socket");
  return static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
}

// A path looked up without being opened (stat, access): of a missing path, a negative dentry
// the kernel may have dropped under reclaim and charges again. x86-64's struct stat is the
// kernel's, so newfstatat fills it as libc would.
int stat(const char* path, struct stat* out) noexcept {
  note(g_lookups, "stat");
  return static_cast<int>(::syscall(SYS_newfstatat, AT_FDCWD, path, out, 0));
}
int lstat(const char* path, struct stat* out) noexcept {
  note(g_lookups, "lstat");
  return static_cast<int>(::syscall(SYS_newfstatat, AT_FDCWD, path, out, AT_SYMLINK_NOFOLLOW));
}
int fstatat(int dir, const char* path, struct stat* out, int flags) noexcept {
  note(g_lookups, "fstatat");
  return static_cast<int>(::syscall(SYS_newfstatat, dir, path, out, flags));
}
int stat64(const char* path, struct stat64* out) noexcept {
  note(g_lookups, "stat64");
  return static_cast<int>(::syscall(SYS_newfstatat, AT_FDCWD, path, out, 0));
}
int lstat64(const char* path, struct stat64* out) noexcept {
  note(g_lookups, "lstat64");
  return static_cast<int>(::syscall(SYS_newfstatat, AT_FDCWD, path, out, AT_SYMLINK_NOFOLLOW));
}
int fstatat64(int dir, const char* path, struct stat64* out, int flags) noexcept {
  note(g_lookups, "fstatat64");
  return static_cast<int>(::syscall(SYS_newfstatat, dir, path, out, flags));
}
int statx(int dir, const char* path, int flags, unsigned int mask, struct statx* out) noexcept {
  note(g_lookups, "statx");
  return static_cast<int>(::syscall(SYS_statx, dir, path, flags, mask, out));
}
int access(const char* path, int mode) noexcept {
  note(g_lookups, "access");
  return static_cast<int>(::syscall(SYS_faccessat, AT_FDCWD, path, mode));
}

// A message sent on a socket: an skb charged to the sender's memory cgroup (sd-bus writes each
// D-Bus message with sendmsg; sd_notify too).
ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  note(g_sends, "sendmsg");
  return ::syscall(SYS_sendmsg, fd, message, flags);
}
ssize_t sendto(int fd, const void* data, size_t size, int flags, const struct sockaddr* to,
               socklen_t length) {
  note(g_sends, "sendto");
  return ::syscall(SYS_sendto, fd, data, size, flags, to, length);
}
ssize_t send(int fd, const void* data, size_t size, int flags) {
  note(g_sends, "send");
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}
int sendmmsg(int fd, struct mmsghdr* messages, unsigned int count, int flags) {
  note(g_sends, "sendmmsg");
  return static_cast<int>(::syscall(SYS_sendmmsg, fd, messages, count, flags));
}
}

namespace guardian::test {

void count_calls_on_this_thread(bool on) { t_counting = on; }
uint64_t counted_allocations() { return g_allocations.load(); }
uint64_t counted_opens() { return g_opens.load(); }
uint64_t counted_trigger_arms() { return g_trigger_arms.load(); }
uint64_t counted_path_lookups() { return g_lookups.load(); }
uint64_t counted_sends() { return g_sends.load(); }

}  // namespace guardian::test
