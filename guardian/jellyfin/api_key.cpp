#include "jellyfin/api_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/fd.h"
#include "common/units.h"

namespace guardian::jellyfin {
namespace {

Result<std::string> read_fd(int fd, const std::string& path) {
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) return make_error(path + ": larger than 4 KiB, not an API key file");
  }
  return out;
}

}  // namespace

Result<std::string> validate_api_key(std::string text, const std::string& source) {
  std::string key(trim(text));
  if (key.empty()) return make_error(source + ": empty; put the API key (Dashboard > API Keys) in it");
  for (char c : key) {
    if (c <= ' ' || c > '~' || c == '"' || c == ',' || c == '\\') {
      return make_error(
          source + ": the key must be one word of printable characters (Jellyfin keys are 32 hex digits)");
    }
  }
  return key;
}

Result<std::string> read_api_key_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    return make_error("API key file " + path + ": " + std::strerror(errno) +
                      (errno == ELOOP ? " (a symlink; point api_key_file at the file itself)" : ""));
  }
  // fstat the opened fd, not the path: no window for a swap between check and read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return make_error("API key file " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("API key file " + path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return make_error("API key file " + path + " has mode " + mode +
                      ": readable by group or others, refusing it; run: chmod 600 " + path);
  }
  if (st.st_uid != ::geteuid()) {
    return make_error("API key file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                      ", not by guardian's uid " + std::to_string(::geteuid()));
  }
  auto text = read_fd(fd.get(), path);
  if (!text.ok()) return text.error();
  return validate_api_key(std::move(*text), "API key file " + path);
}

Result<std::string> read_api_key_credential(const std::string& name, const char* credentials_directory) {
  const char* dir = credentials_directory ? credentials_directory : std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') {
    return make_error("credential \"" + name +
                      "\": $CREDENTIALS_DIRECTORY is not set (give the unit LoadCredential=" + name +
                      ":FILE)");
  }
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return make_error("credential \"" + name + "\": not a valid credential name");
  }
  std::string path = std::string(dir) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return make_error("credential " + path + ": " + std::strerror(errno));
  auto text = read_fd(fd.get(), path);
  if (!text.ok()) return text.error();
  return validate_api_key(std::move(*text), "credential " + path);
}

}  // namespace guardian::jellyfin
