// A cheap pass over the policy's text before toml++ sees it. toml++ builds one nested table per
// segment of a dotted key ("a.b.c…" or a [a.b.c…] header) and frees them recursively: 50,000
// segments in a 100 KB file overflowed the stack (SIGSEGV at start, on SIGHUP, in check-policy).
// Arrays and inline tables nest the same way. A policy needs a handful of each, so the scan bounds
// both far above any real policy and far below what the stack holds, and names FILE:LINE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace guardian {

struct PolicyShapeLimits {
  size_t max_key_segments = 16;  // "a.b.c" has 3; guardian's keys have at most 2
  size_t max_nesting = 16;       // [ and { open at once; guardian's policies use 3
};

struct PrescanProblem {
  uint32_t line = 0;  // 1-based
  uint32_t column = 0;
  std::string message;
};

// The first place where `text` goes past `limits`, or nullopt. Not a TOML validator: strings
// and comments are skipped so that their dots and brackets do not count; everything else is left
// to toml++ (a malformed file the scan lets through is toml++'s error, with its position).
std::optional<PrescanProblem> prescan_policy_shape(std::string_view text,
                                                   const PolicyShapeLimits& limits = {});

}  // namespace guardian
