// Loads and validates a policy (toml++). Every problem becomes one Diagnostic with
// FILE:LINE:COL; unknown keys get the nearest valid key suggested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/action_catalog.h"
#include "config/policy.h"

namespace guardian {

struct Diagnostic {
  SourcePos pos;
  std::string message;
  [[nodiscard]] std::string to_string() const;  // "FILE:LINE:COL: message"
};

struct PolicyLoadResult {
  std::optional<Policy> policy;  // set only when diagnostics is empty
  std::vector<Diagnostic> diagnostics;
  bool read_failed = false;  // the file could not be read at all (vs. read but invalid)
};

// Parses `text` as the policy file `source_name`. When `actions` is given, each action's type
// and arguments are checked against it too (act's registry in guardian; nullptr skips that).
PolicyLoadResult parse_policy(std::string_view text, const std::string& source_name,
                              const ActionCatalog* actions);

// Reads and parses a file. Never throws: an unreadable file is a diagnostic too (read_failed).
// The daemon's SIGHUP reload uses this and keeps the old policy when diagnostics is not empty.
PolicyLoadResult load_policy_file(const std::string& path, const ActionCatalog* actions);

// policies/default.toml, compiled into the binary, and the name its diagnostics and events use.
std::string_view embedded_default_policy();
inline constexpr const char* kEmbeddedPolicyName = "<embedded default>";

// The policy file `path` names, or without one the embedded default: what `guardian run` reads
// at start and on every reload, and `guardian sample` reads. Never throws.
PolicyLoadResult load_policy_or_default(const std::optional<std::string>& path, const ActionCatalog* actions);

}  // namespace guardian
