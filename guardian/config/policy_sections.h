// How the policy loader is extended: each top-level section of a policy file ([sampling],
// [metrics], [[level]], and the sections other issues add) is parsed by one function in its own
// file, listed once in policy_sections(). The helpers here do the checks every section needs —
// known keys with a "did you mean" suggestion, typed getters that report FILE:LINE:COL and what
// was expected — so a section parser is only its own rules.
//
// toml++ types stay in this header and the config/*.cpp that include it; policy.h is plain values.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"
#include "config/policy.h"
#include "config/policy_loader.h"

namespace guardian {

// Collects diagnostics while one policy file is parsed.
class PolicyParseContext {
 public:
  PolicyParseContext(std::string source_name, const ActionCatalog* actions)
      : source_name_(std::move(source_name)), actions_(actions) {}

  [[nodiscard]] const std::string& source_name() const { return source_name_; }
  // nullptr when the caller asked for no action validation.
  [[nodiscard]] const ActionCatalog* actions() const { return actions_; }

  [[nodiscard]] SourcePos pos(const toml::source_region& region) const;
  [[nodiscard]] SourcePos pos(const toml::node& node) const { return pos(node.source()); }

  void error(const SourcePos& where, std::string message);
  void error(const toml::node& node, std::string message) { error(pos(node), std::move(message)); }
  void error(const toml::key& key, std::string message) { error(pos(key.source()), std::move(message)); }

  // Reports every key of `table` not in `known`, at the key, with the nearest known key
  // suggested. `where` names the table in the message ("in [sampling]").
  void check_known_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                        std::string_view where);

  // Typed getters. Each returns nullopt when the key is absent (reporting it when `required`) or
  // has the wrong type / an invalid value (always reported, at the value, saying what was
  // expected). `where` names the enclosing table for "missing key" messages.
  std::optional<std::string> get_string(const toml::table& table, std::string_view key,
                                        std::string_view where, bool required = false);
  std::optional<bool> get_bool(const toml::table& table, std::string_view key, std::string_view where,
                               bool required = false);
  std::optional<int64_t> get_integer(const toml::table& table, std::string_view key, std::string_view where,
                                     bool required = false);
  // An integer or a float; non-finite values are rejected.
  std::optional<double> get_number(const toml::table& table, std::string_view key, std::string_view where,
                                   bool required = false);
  // A string in systemd.time(7) form ("30s", "1min 30s") or a number of seconds.
  std::optional<std::chrono::microseconds> get_duration(const toml::table& table, std::string_view key,
                                                        std::string_view where, bool required = false);
  // Bytes as an integer, or a string "8G" / "25%" (common/units.h parse_size).
  std::optional<SizeSpec> get_size(const toml::table& table, std::string_view key, std::string_view where,
                                   bool required = false);
  // An array; elements are checked by the caller.
  const toml::array* get_array(const toml::table& table, std::string_view key, std::string_view where,
                               bool required = false);

  std::vector<Diagnostic> take_diagnostics();
  [[nodiscard]] size_t error_count() const { return diagnostics_.size(); }

 private:
  const toml::node* lookup(const toml::table& table, std::string_view key, std::string_view where,
                           bool required);
  std::string source_name_;
  const ActionCatalog* actions_;
  std::vector<Diagnostic> diagnostics_;
};

// "a string", "an integer", "a table", … for "expected X, got Y" messages.
std::string_view toml_type_name(toml::node_type type);

// Damerau–Levenshtein (optimal string alignment) distance.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate nearest to `word`, when near enough to be a plausible typo.
std::optional<std::string_view> nearest_word(std::string_view word,
                                             const std::vector<std::string_view>& candidates);
// " did you mean \"x\"?" or "" — appended to "unknown …" messages.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

struct SectionParser {
  std::string_view key;  // top-level key: "sampling", "level", …
  bool array_of_tables;  // [[key]] (parse is called once per table) or [key]
  void (*parse)(const toml::table& table, PolicyParseContext& context, Policy& policy);
};

// Every section the loader knows, in the order they are parsed (so a later section may rely on
// an earlier one). Add a section here, implement it in config/policy_section_<key>.cpp.
const std::vector<SectionParser>& policy_sections();

// The section parsers (one file each).
void parse_sampling_section(const toml::table& table, PolicyParseContext& context, Policy& policy);
void parse_metrics_section(const toml::table& table, PolicyParseContext& context, Policy& policy);
void parse_level_section(const toml::table& table, PolicyParseContext& context, Policy& policy);
void parse_container_slice_section(const toml::table& table, PolicyParseContext& context, Policy& policy);
void parse_containers_section(const toml::table& table, PolicyParseContext& context, Policy& policy);
void parse_jellyfin_section(const toml::table& table, PolicyParseContext& context,
                            Policy& policy);  // policy_jellyfin.cpp
// After every section: each jellyfin.* action names a [[jellyfin]] the policy has (or there is
// exactly one), and no level lists the same stateful Jellyfin action twice for one instance.
void check_jellyfin_action_instances(PolicyParseContext& context, const Policy& policy);

// Parses a PSI trigger the way a policy writes it: "some 150ms 2s" (kind, stall, window; the
// durations in systemd.time(7) form). Checks the kernel's rules for an unprivileged trigger:
// 0 < stall < window, window a multiple of 2 s between 2 s and 10 s.
Result<PsiTriggerSpec> parse_psi_trigger_spec(std::string_view text);

}  // namespace guardian
