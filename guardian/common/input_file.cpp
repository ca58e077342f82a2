#include "common/input_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fd.h"
#include "common/units.h"

namespace guardian {

const char* file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symlink";
    default: return "not a regular file";
  }
}

Result<void> check_owner(const struct stat& st, const std::string& what, const std::string& path,
                         const OwnerRule& rule) {
  if ((st.st_mode & rule.forbidden_mode) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    const char* fix = rule.forbidden_mode == 022 ? "go-w" : S_ISDIR(st.st_mode) ? "700" : "600";
    return make_error(what + " " + path + " has mode " + mode + ": " + rule.forbidden_text +
                          ", refusing it; run: chmod " + fix + " " + path,
                      EPERM);
  }
  if (st.st_uid != ::geteuid()) {
    return make_error(what + " " + path + " is owned by uid " + std::to_string(st.st_uid) +
                          ", not by guardian's uid " + std::to_string(::geteuid()) + ", refusing it",
                      EPERM);
  }
  return {};
}

Result<std::string> read_input_file(const std::string& path, const InputFileRule& rule) {
  const std::string what = std::string(rule.what) + " " + path;
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer (the
  // fstat below then refuses it); on a regular file the flag changes nothing.
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (rule.no_follow) flags |= O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) {
    const int code = errno;
    return make_error(what + ": " + std::strerror(code) +
                          (code == ELOOP && rule.no_follow ? " (a symlink; name the file itself)" : ""),
                      code);
  }
  // fstat the opened fd, not the path: no window for a swap between the check and the read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error(what, errno);
  if (!S_ISREG(st.st_mode))
    return make_error(what + ": " + file_type_name(st.st_mode) + ", not a regular file", EINVAL);
  if (rule.owner != nullptr) {
    if (auto owned = check_owner(st, rule.what, path, *rule.owner); !owned.ok()) return owned.error();
  }
  if (static_cast<uint64_t>(st.st_size) > rule.max_bytes) {
    return make_error(what + ": " + format_bytes(static_cast<uint64_t>(st.st_size)) + ", larger than the " +
                          format_bytes(rule.max_bytes) + " guardian reads",
                      EFBIG);
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(what, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // The file may grow after the fstat: the cap holds for what is read, too.
    if (out.size() > rule.max_bytes)
      return make_error(what + ": larger than the " + format_bytes(rule.max_bytes) + " guardian reads",
                        EFBIG);
  }
  return out;
}

}  // namespace guardian
