// A real systemd-journald for tests. journald is not running on the build machines; tests that
// check journal entries start one (root needed), send through libsystemd as the daemon does, and
// read the entries back with sd_journal. If a journald is already listening it is reused.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/child.h"

namespace guardian::test {

class Journald {
 public:
  // Starts journald unless one is listening. `error` receives why it could not (then the
  // caller skips with that text).
  static Journald* instance(std::string* error);
  ~Journald();
  Journald(const Journald&) = delete;
  Journald& operator=(const Journald&) = delete;

  // Entries whose field `match_field` equals `match_value` (e.g. "GUARDIAN_TEST_RUN", a
  // unique id), each as field -> value. Waits up to `timeout_ms` for at least `min_count`.
  std::vector<std::map<std::string, std::string>> read(const std::string& match_field,
                                                       const std::string& match_value, size_t min_count,
                                                       int timeout_ms = 3000) const;

 private:
  Journald() = default;
  std::optional<Child> child_;  // empty: a journald we did not start
  bool created_run_dir_ = false;
};

}  // namespace guardian::test
