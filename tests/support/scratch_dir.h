// A test's own directory under /tmp: made by mkdtemp (so mode 0700 and a name no other test or
// run shares), removed with everything in it when the object goes, also when an ASSERT returned
// early. Header-only, so the helper's and the BPF tests (which do not link tests/support/*.cpp)
// use it too.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

namespace guardian::test {

class ScratchDir {
 public:
  // No directory yet (a fixture that makes its directory in SetUp assigns one there).
  ScratchDir() = default;
  // /tmp/guardian-NAME-XXXXXX. A failure is the test's failure; path() is then empty.
  explicit ScratchDir(std::string_view name) {
    std::string made = "/tmp/guardian-" + std::string(name) + "-XXXXXX";
    if (::mkdtemp(made.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << made << ": " << std::strerror(errno);
      return;
    }
    path_ = std::move(made);
  }
  ~ScratchDir() { remove(); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  // Removes the directory this one held and takes over the other's.
  ScratchDir& operator=(ScratchDir&& other) noexcept {
    if (this != &other) {
      remove();
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }

  [[nodiscard]] const std::string& path() const { return path_; }
  // The path of `relative` inside the directory ("state.json", "root/sys/fs/cgroup"); a host
  // path ("/etc/systemd/oomd.conf") lands at the same place under it, as HostRoot maps it.
  [[nodiscard]] std::string operator/(std::string_view relative) const {
    if (relative.starts_with('/')) relative.remove_prefix(1);
    return path_ + "/" + std::string(relative);
  }
  // Writes `text` to `relative`, making the directories above it; returns the file's path.
  std::string write(std::string_view relative, std::string_view text) const {
    const std::string file = *this / relative;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    return file;
  }
  // Removes the directory and everything in it now; afterwards the object holds none.
  void remove() {
    if (path_.empty()) return;
    std::error_code ignored;  // a test that already removed a part of it is no error
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }

 private:
  std::string path_;
};

}  // namespace guardian::test
