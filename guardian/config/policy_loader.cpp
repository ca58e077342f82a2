// The policy loader: TOML text -> Policy, or diagnostics. toml++ throws on a syntax error; that is
// caught here, at the edge, and becomes one Diagnostic like any other problem.
#include "config/policy_loader.h"

#include <exception>
#include <filesystem>

#include "common/input_file.h"
#include "common/units.h"
#include "config/policy_prescan.h"
#include "config/policy_sections.h"

namespace guardian {
namespace {

// The one version of the policy schema this build reads.
constexpr int64_t kPolicyVersion = 1;

// "\"level\": expected [[level]] tables …" when a section has the wrong TOML shape.
std::string shape_error(const std::string& key, const toml::node& node, bool array_of_tables) {
  std::string message = "\"" + key + "\": expected ";
  message += array_of_tables ? "[[" + key + "]] tables (an array of tables)" : "a [" + key + "] table";
  message += ", got ";
  message += toml_type_name(node.type());
  if (array_of_tables && node.is_table()) message += " — write [[" + key + "]], not [" + key + "]";
  return message;
}

}  // namespace

std::string Diagnostic::to_string() const {
  if (pos.line == 0) return pos.file + ": " + message;
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + message;
}

const std::vector<SectionParser>& policy_sections() {
  static const std::vector<SectionParser> kSections = {
      {"sampling", false, parse_sampling_section},
      {"metrics", false, parse_metrics_section},
      {"level", true, parse_level_section},
      // After [[level]]: [containers] checks the levels' unit.freeze actions against its lists.
      {"container_slice", false, parse_container_slice_section},
      {"containers", false, parse_containers_section},
      // After [[level]]: [approach] names one of the levels.
      {"approach", false, parse_approach_section},
      {"jellyfin", true, parse_jellyfin_section},
  };
  return kSections;
}

PolicyLoadResult parse_policy(std::string_view text, const std::string& source_name,
                              const ActionCatalog* actions) {
  PolicyLoadResult result;
  PolicyParseContext context(source_name, actions);
  // Bounded before toml++ sees the text: it recurses per nested table and per dotted key part.
  if (text.size() > kMaxPolicyBytes) {
    context.error(SourcePos{source_name, 0, 0}, std::to_string(text.size()) + " bytes, more than the " +
                                                    format_bytes(kMaxPolicyBytes) + " a policy may have");
    result.diagnostics = context.take_diagnostics();
    return result;
  }
  if (auto problem = prescan_policy_shape(text)) {
    context.error(SourcePos{source_name, problem->line, problem->column}, problem->message);
    result.diagnostics = context.take_diagnostics();
    return result;
  }
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    context.error(context.pos(e.source()), std::string(e.description()));
    result.diagnostics = context.take_diagnostics();
    return result;
  } catch (const std::exception& e) {
    // std::bad_alloc and the like from inside toml++: still a diagnostic, never an unwinding loop.
    context.error(SourcePos{source_name, 0, 0}, std::string("cannot parse: ") + e.what());
    result.diagnostics = context.take_diagnostics();
    return result;
  }

  Policy policy;
  policy.source = source_name;
  const std::string stem = std::filesystem::path(source_name).stem().string();
  if (!stem.empty() && source_name.front() != '<') policy.name = stem;

  std::vector<std::string_view> known_top_level = {"version", "name"};
  for (const auto& section : policy_sections()) known_top_level.push_back(section.key);
  for (auto&& [key, value] : root) {
    bool known = false;
    for (auto candidate : known_top_level) known = known || candidate == key.str();
    if (!known) {
      context.error(key, "unknown key \"" + std::string(key.str()) + "\" at the top level" +
                             did_you_mean(key.str(), known_top_level));
    }
  }

  constexpr std::string_view kTop = "at the top level (write version = 1 first)";
  if (auto version = context.get_integer(root, "version", kTop, /*required=*/true)) {
    if (*version != kPolicyVersion) {
      context.error(*root.get("version"), "unsupported policy version " + std::to_string(*version) +
                                              ": this guardian reads version 1");
    }
  }
  if (auto name = context.get_string(root, "name", kTop)) {
    if (name->empty())
      context.error(*root.get("name"), "\"name\": cannot be empty");
    else
      policy.name = *name;
  }

  for (const auto& section : policy_sections()) {
    const toml::node* node = root.get(section.key);
    if (!node) continue;
    const std::string key(section.key);
    if (section.array_of_tables) {
      const toml::array* array = node->as_array();
      if (!array || !array->is_array_of_tables()) {
        context.error(*node, shape_error(key, *node, /*array_of_tables=*/true));
        continue;
      }
      for (const toml::node& element : *array) section.parse(*element.as_table(), context, policy);
    } else {
      const toml::table* table = node->as_table();
      if (!table) {
        context.error(*node, shape_error(key, *node, /*array_of_tables=*/false));
        continue;
      }
      section.parse(*table, context, policy);
    }
  }

  check_jellyfin_action_instances(context, policy);

  result.diagnostics = context.take_diagnostics();
  if (result.diagnostics.empty()) result.policy = std::move(policy);
  return result;
}

PolicyLoadResult load_policy_file(const std::string& path, const ActionCatalog* actions) {
  // The daemon calls this on SIGHUP: nothing may escape it.
  try {
    // A regular file only, opened without waiting for a writer (a FIFO never hangs the reload),
    // and never more than the cap (a device or a huge file is an error, not an allocation).
    auto text = read_input_file(path, {.max_bytes = kMaxPolicyBytes, .what = "policy"});
    if (!text) {
      PolicyLoadResult result;
      result.read_failed = true;
      // The message says "policy PATH: reason"; the diagnostic already starts with the path.
      std::string reason = text.error().message;
      if (reason.starts_with("policy " + path + ": ")) reason.erase(0, path.size() + 9);
      result.diagnostics.push_back(Diagnostic{SourcePos{path, 0, 0}, "cannot read policy: " + reason});
      return result;
    }
    return parse_policy(*text, path, actions);
  } catch (const std::exception& e) {
    PolicyLoadResult result;
    result.read_failed = true;
    result.diagnostics.push_back(
        Diagnostic{SourcePos{path, 0, 0}, std::string("cannot load policy: ") + e.what()});
    return result;
  }
}

PolicyLoadResult load_policy_or_default(const std::optional<std::string>& path,
                                        const ActionCatalog* actions) {
  if (path) return load_policy_file(*path, actions);
  return parse_policy(embedded_default_policy(), kEmbeddedPolicyName, actions);
}

}  // namespace guardian
