// Helpers for sense tests: fixture paths and throw-away copies of fixture trees that a test may
// damage (garbage files, removed cgroups, xattrs).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/host_root.h"
#include "support/scratch_dir.h"

namespace guardian::testing {

inline std::string fixture(const std::string& name) {
  return std::string(GUARDIAN_FIXTURES_DIR) + "/" + name;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Overwrites a file in place (same inode), as the kernel's values change under an open fd.
inline void rewrite(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A private copy of a fixture tree under /tmp, removed again at scope exit.
class FixtureCopy {
 public:
  explicit FixtureCopy(const std::string& name) {
    std::filesystem::copy(
        fixture(name), dir_.path(),
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  }
  [[nodiscard]] const std::string& root() const { return dir_.path(); }
  [[nodiscard]] std::string path(const std::string& host_path) const { return dir_.path() + host_path; }

 private:
  test::ScratchDir dir_{"sense"};
};

}  // namespace guardian::testing
