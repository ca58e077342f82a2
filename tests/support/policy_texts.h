// Policy texts several tests run the real binary with.
#pragma once

#include <string>

namespace guardian::test {

// A policy whose one level is always entered (MemAvailable is always below 100% of MemTotal),
// named after `tag` so a test can tell which policy is in force: level "always-<tag>", and its
// log action says "policy <tag> is in force".
inline std::string always_policy(const std::string& tag) {
  return "version = 1\n[sampling]\ninterval = \"1s\"\n[[level]]\nname = \"always-" + tag +
         "\"\nhold = \"1s\"\n"
         "enter = [ { signal = \"mem_available_percent\", cgroup = \"system\", below = 100 } ]\n"
         "actions = [ { type = \"log\", message = \"policy " +
         tag + " is in force\" } ]\n";
}

// Two plain levels (elevated, critical on the system's full avg10) and an [approach] section with
// `section`'s keys: what the [approach] parsing tests feed parse_policy().
inline std::string policy_with_approach(const std::string& section) {
  return R"(version = 1
[[level]]
name = "elevated"
enter = [{ signal = "full_avg10", cgroup = "system", above = 20 }]
[[level]]
name = "critical"
enter = [{ signal = "full_avg10", cgroup = "system", above = 40 }]

[approach]
)" + section;
}

}  // namespace guardian::test
