// [[level]]: one rung of the ladder, mildest first.
//   name = "elevated"
//   hold = "30s"
//   enter = [ { signal = "oomd_limit_percent", cgroup = "oomd-watched", above = 50 }, … ]
//   exit  = [ … ]          # optional: default is "none of enter holds"
//   actions = [ { type = "log", message = "…" }, … ]
#include <cctype>
#include <cmath>

#include "config/policy_sections.h"
#include "config/signals.h"

namespace guardian {
namespace {

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A relative cgroup path: components separated by '/', no empty, "." or ".." components; '*'
// is a wildcard inside one component. Returns the problem, or "" when fine.
std::string cgroup_selector_problem(std::string_view selector) {
  if (selector.empty()) return "a cgroup cannot be empty";
  if (selector.front() == '/') {
    return "cgroup paths are relative to the user manager: write \"app.slice\", not "
           "\"/user.slice/…/app.slice\"";
  }
  size_t start = 0;
  while (start <= selector.size()) {
    const auto slash = selector.find('/', start);
    const auto end = slash == std::string_view::npos ? selector.size() : slash;
    const std::string_view component = selector.substr(start, end - start);
    if (component.empty()) return "empty path component in \"" + std::string(selector) + "\"";
    if (component == "." || component == "..") return "\".\" and \"..\" are not allowed in a cgroup path";
    for (char c : component) {
      if (std::iscntrl(static_cast<unsigned char>(c))) return "control character in cgroup path";
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

// "budget_used_percent and seconds_to_budget_exhausted": the signals measured on the user's budget.
std::string budget_signal_names() {
  std::vector<std::string_view> names;
  for (const SignalInfo& info : signal_table()) {
    if (info.on_user_budget) names.push_back(info.name);
  }
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " and " : ", ";
    text += names[i];
  }
  return text;
}

// Threshold range per signal (its row in config/signals.cpp); returns the problem or "".
std::string threshold_problem(const SignalInfo& info, double threshold) {
  if (threshold < 0) return "a threshold cannot be negative";
  if (threshold > info.max) return std::string(info.name) + std::string(info.too_high);
  return {};
}

std::optional<Condition> parse_condition(const toml::node& node, PolicyParseContext& context,
                                         std::string_view list_name) {
  const auto* table = node.as_table();
  if (!table) {
    context.error(
        node, "\"" + std::string(list_name) +
                  "\": each condition is a table like { signal = \"full_avg10\", cgroup = \"oomd-watched\", "
                  "above = 40 }, got " +
                  std::string(toml_type_name(node.type())));
    return std::nullopt;
  }
  const std::string where = "in a condition";
  const size_t errors_before = context.error_count();
  context.check_known_keys(*table, {"signal", "cgroup", "above", "below"}, where);

  Condition condition;
  condition.pos = context.pos(node);
  std::optional<Signal> signal;
  if (auto name = context.get_string(*table, "signal", where, /*required=*/true)) {
    signal = signal_from_name(*name);
    if (!signal) {
      context.error(*table->get("signal"),
                    "unknown signal " + quoted(*name) + did_you_mean(*name, signal_names()));
    }
  }
  if (signal) condition.signal = *signal;

  const SignalInfo* info = signal ? &signal_info(*signal) : nullptr;
  const toml::node* cgroup_node = table->get("cgroup");
  if (auto cgroup = context.get_string(*table, "cgroup", where)) {
    condition.cgroup = *cgroup;
  } else if (!cgroup_node && info) {
    condition.cgroup = std::string(info->default_cgroup);
  }
  if (info && (!cgroup_node || cgroup_node->is_string())) {
    const toml::node& at = cgroup_node ? *cgroup_node : node;
    if (info->on_user_budget) {
      // One budget per user: no other cgroup, the system or oomd's list has a value for it.
      if (condition.cgroup != kUserBudgetSelector) {
        context.error(at, quoted(info->name) +
                              " measures the user's memory budget (user@UID.service against its limits, "
                              "one value): use cgroup = \"user\" (or leave cgroup out); for the machine "
                              "use mem_available_percent, for one cgroup memory_high_percent");
      }
    } else if (condition.cgroup == kUserBudgetSelector) {
      // A word of its own, like "system": a cgroup named "user" below the user manager is not
      // worth the misreading (the user manager's own pressure is not what it would measure).
      context.error(at, "cgroup = \"user\" is the user's memory budget, which only " + budget_signal_names() +
                            " measure, not " + quoted(info->name));
    } else if (condition.cgroup == "system") {
      if (!info->on_system) {
        context.error(
            at, quoted(info->name) +
                    " is measured on a cgroup, not on \"system\": use \"oomd-watched\" or a cgroup path");
      }
    } else if (!info->on_cgroup) {
      context.error(at,
                    quoted(info->name) + " is system-wide: use cgroup = \"system\" (or leave cgroup out)");
    } else if (condition.cgroup != "oomd-watched") {
      const std::string problem = cgroup_selector_problem(condition.cgroup);
      if (!problem.empty()) context.error(at, "\"cgroup\": " + problem);
    }
  }

  const auto above = context.get_number(*table, "above", where);
  const auto below = context.get_number(*table, "below", where);
  const bool has_above = table->contains("above");
  const bool has_below = table->contains("below");
  if (has_above && has_below) {
    context.error(node, "a condition has either \"above\" or \"below\", not both");
  } else if (!has_above && !has_below) {
    context.error(node, "a condition needs \"above = N\" or \"below = N\"");
  } else if (above || below) {
    condition.compare = above ? Condition::Compare::Above : Condition::Compare::Below;
    condition.threshold = above ? *above : *below;
    if (info) {
      const std::string problem = threshold_problem(*info, condition.threshold);
      if (!problem.empty()) context.error(*table->get(above ? "above" : "below"), problem);
    }
  }
  if (context.error_count() != errors_before) return std::nullopt;
  return condition;
}

std::vector<Condition> parse_conditions(const toml::table& level, std::string_view key,
                                        std::string_view where, PolicyParseContext& context) {
  std::vector<Condition> conditions;
  const toml::array* array = context.get_array(level, key, where);
  if (!array) return conditions;
  for (const toml::node& element : *array) {
    if (auto condition = parse_condition(element, context, key)) conditions.push_back(std::move(*condition));
  }
  return conditions;
}

// TOML value -> action argument. Tables, dates and mixed arrays have no ParamValue.
std::optional<ParamValue> to_param_value(const toml::node& node) {
  if (const auto* b = node.as_boolean()) return ParamValue{b->get()};
  if (const auto* i = node.as_integer()) return ParamValue{i->get()};
  if (const auto* f = node.as_floating_point()) {
    if (!std::isfinite(f->get())) return std::nullopt;
    return ParamValue{f->get()};
  }
  if (const auto* s = node.as_string()) return ParamValue{s->get()};
  if (const auto* array = node.as_array()) {
    std::vector<std::string> strings;
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (!s) return std::nullopt;
      strings.push_back(s->get());
    }
    return ParamValue{std::move(strings)};
  }
  return std::nullopt;
}

std::optional<ActionSpec> parse_action(const toml::node& node, PolicyParseContext& context) {
  const auto* table = node.as_table();
  if (!table) {
    context.error(node, "\"actions\": each action is a table like { type = \"log\", message = \"…\" }, got " +
                            std::string(toml_type_name(node.type())));
    return std::nullopt;
  }
  ActionSpec spec;
  spec.pos = context.pos(node);
  auto type = context.get_string(*table, "type", "in an action", /*required=*/true);
  if (!type) return std::nullopt;
  spec.type = *type;
  bool ok = true;
  for (auto&& [key, value] : *table) {
    if (key.str() == "type") continue;
    auto param = to_param_value(value);
    if (!param) {
      context.error(value, "action argument " + quoted(key.str()) +
                               ": expected a boolean, a number, a string or an array of strings, got " +
                               std::string(toml_type_name(value.type())));
      ok = false;
      continue;
    }
    spec.params.emplace(std::string(key.str()), Param{std::move(*param), context.pos(value)});
  }

  if (const ActionCatalog* catalog = context.actions()) {
    if (!catalog->has_type(spec.type)) {
      const auto known = catalog->types();
      const std::vector<std::string_view> candidates(known.begin(), known.end());
      std::string list;
      for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
      context.error(*table->get("type"), "unknown action type " + quoted(spec.type) +
                                             did_you_mean(spec.type, candidates) +
                                             " (this build knows: " + list + ")");
      return std::nullopt;
    }
    // The catalog is other stages' code: an exception there must not escape the loader.
    try {
      for (auto& [message, where] : catalog->check(spec)) {
        SourcePos at = where.line == 0 ? spec.pos : where;
        if (at.file.empty()) at.file = context.source_name();
        context.error(at, message);  // the catalog names the action in its messages
        ok = false;
      }
    } catch (const std::exception& e) {
      context.error(spec.pos, "action \"" + spec.type + "\": validation failed: " + e.what());
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return spec;
}

bool valid_level_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

void parse_level_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  const size_t index = policy.levels.size() + 1;
  if (index > kMaxLevels) {
    // Said once, at the first level past the cap; the rest are not read.
    if (index == kMaxLevels + 1)
      context.error(table,
                    "more than " + std::to_string(kMaxLevels) + " [[level]] tables; a ladder needs a few");
    policy.levels.emplace_back();
    return;
  }
  Level level;
  level.pos = context.pos(table);
  std::string where = "in [[level]] #" + std::to_string(index);

  if (auto name = context.get_string(table, "name", where, /*required=*/true)) {
    const toml::node& at = *table.get("name");
    if (!valid_level_name(*name)) {
      context.error(
          at,
          "level name " + quoted(*name) +
              ": use 1 to 64 letters, digits, '-' or '_' (it becomes a journal field and a metric label)");
    } else if (*name == "normal") {
      context.error(at, "level name \"normal\" is reserved for the implicit level below the ladder");
    } else {
      for (const Level& other : policy.levels) {
        if (other.name == *name) {
          context.error(at, "duplicate level name " + quoted(*name) + " (first defined at line " +
                                std::to_string(other.pos.line) + ")");
        }
      }
    }
    level.name = *name;
    where = "in [[level]] " + quoted(*name);
  }

  context.check_known_keys(table, {"name", "hold", "enter", "exit", "actions"}, where);
  if (auto hold = context.get_duration(table, "hold", where)) level.hold = *hold;

  if (!table.contains("enter")) {
    context.error(table, "level " + quoted(level.name) +
                             " has no \"enter\" conditions: without them it could never be reached");
  } else {
    const toml::array* enter = table.get("enter")->as_array();
    if (enter && enter->empty()) {
      context.error(*table.get("enter"),
                    "level " + quoted(level.name) +
                        " has no \"enter\" conditions: without them it could never be reached");
    }
    level.enter = parse_conditions(table, "enter", where, context);
  }
  level.exit = parse_conditions(table, "exit", where, context);

  if (const toml::array* actions = context.get_array(table, "actions", where)) {
    if (actions->size() > kMaxActionsPerLevel) {
      context.error(*actions, "level " + quoted(level.name) + " has " + std::to_string(actions->size()) +
                                  " actions, more than the " + std::to_string(kMaxActionsPerLevel) +
                                  " guardian takes");
    }
    for (const toml::node& element : *actions) {
      if (auto action = parse_action(element, context)) level.actions.push_back(std::move(*action));
    }
  }
  policy.levels.push_back(std::move(level));
}

}  // namespace guardian
