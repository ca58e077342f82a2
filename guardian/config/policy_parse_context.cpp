// The checks every policy section needs: positions, known keys with suggestions, typed getters.
#include <algorithm>
#include <cmath>
#include <limits>

#include "config/policy_sections.h"

namespace guardian {

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown TOML type";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and adjacent transpositions
  // ("thresold" -> "threshold" is 1, "hlod" -> "hold" is 1). Three rolling rows.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string_view> nearest_word(std::string_view word,
                                             const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (auto candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // A plausible typo: at most a third of the longer word changed (at least one edit allowed),
  // so "thresold" finds "threshold" but "colour" does not suggest "hold".
  if (!best) return std::nullopt;
  const size_t longest = std::max(word.size(), best->size());
  const size_t allowed = std::max<size_t>(1, longest / 3);
  if (best_distance > allowed) return std::nullopt;
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  auto nearest = nearest_word(word, candidates);
  if (!nearest) return {};
  return "; did you mean \"" + std::string(*nearest) + "\"?";
}

SourcePos PolicyParseContext::pos(const toml::source_region& region) const {
  return SourcePos{source_name_, region.begin.line, region.begin.column};
}

void PolicyParseContext::error(const SourcePos& where, std::string message) {
  diagnostics_.push_back(Diagnostic{where, std::move(message)});
}

std::vector<Diagnostic> PolicyParseContext::take_diagnostics() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  return std::move(diagnostics_);
}

void PolicyParseContext::check_known_keys(const toml::table& table,
                                          std::initializer_list<std::string_view> known,
                                          std::string_view where) {
  const std::vector<std::string_view> candidates(known);
  for (auto&& [key, value] : table) {
    if (std::find(candidates.begin(), candidates.end(), key.str()) != candidates.end()) continue;
    error(key, "unknown key \"" + std::string(key.str()) + "\" " + std::string(where) +
                   did_you_mean(key.str(), candidates));
  }
}

const toml::node* PolicyParseContext::lookup(const toml::table& table, std::string_view key,
                                             std::string_view where, bool required) {
  const toml::node* node = table.get(key);
  if (!node && required) {
    error(table, "missing required key \"" + std::string(key) + "\" " + std::string(where));
  }
  return node;
}

namespace {
std::string expected_got(std::string_view key, std::string_view expected, const toml::node& node) {
  return "\"" + std::string(key) + "\": expected " + std::string(expected) + ", got " +
         std::string(toml_type_name(node.type()));
}
}  // namespace

std::optional<std::string> PolicyParseContext::get_string(const toml::table& table, std::string_view key,
                                                          std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* value = node->as_string()) return value->get();
  error(*node, expected_got(key, "a string", *node));
  return std::nullopt;
}

std::optional<bool> PolicyParseContext::get_bool(const toml::table& table, std::string_view key,
                                                 std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* value = node->as_boolean()) return value->get();
  error(*node, expected_got(key, "a boolean (true or false)", *node));
  return std::nullopt;
}

std::optional<int64_t> PolicyParseContext::get_integer(const toml::table& table, std::string_view key,
                                                       std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* value = node->as_integer()) return value->get();
  error(*node, expected_got(key, "an integer", *node));
  return std::nullopt;
}

std::optional<double> PolicyParseContext::get_number(const toml::table& table, std::string_view key,
                                                     std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* integer = node->as_integer()) return static_cast<double>(integer->get());
  if (const auto* floating = node->as_floating_point()) {
    if (std::isfinite(floating->get())) return floating->get();
    error(*node,
          "\"" + std::string(key) + "\": expected a finite number, got " + std::to_string(floating->get()));
    return std::nullopt;
  }
  error(*node, expected_got(key, "a number", *node));
  return std::nullopt;
}

std::optional<std::chrono::microseconds> PolicyParseContext::get_duration(const toml::table& table,
                                                                          std::string_view key,
                                                                          std::string_view where,
                                                                          bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* text = node->as_string()) {
    auto parsed = parse_duration(text->get());
    if (parsed) return *parsed;
    error(*node, "\"" + std::string(key) + "\": " + parsed.error().message);
    return std::nullopt;
  }
  double seconds = -1;
  if (const auto* integer = node->as_integer())
    seconds = static_cast<double>(integer->get());
  else if (const auto* floating = node->as_floating_point())
    seconds = floating->get();
  else {
    error(*node, expected_got(key, "a duration (a string like \"30s\" or a number of seconds)", *node));
    return std::nullopt;
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
    error(*node, "\"" + std::string(key) + "\": a duration must be between 0 and 1e9 seconds");
    return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<int64_t>(std::llround(seconds * 1e6)));
}

std::optional<SizeSpec> PolicyParseContext::get_size(const toml::table& table, std::string_view key,
                                                     std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return std::nullopt;
  if (const auto* text = node->as_string()) {
    auto parsed = parse_size(text->get());
    if (parsed) return *parsed;
    error(*node, "\"" + std::string(key) + "\": " + parsed.error().message);
    return std::nullopt;
  }
  if (const auto* integer = node->as_integer()) {
    if (integer->get() < 0) {
      error(*node, "\"" + std::string(key) + "\": a size cannot be negative");
      return std::nullopt;
    }
    return SizeSpec{static_cast<uint64_t>(integer->get()), std::nullopt};
  }
  error(*node, expected_got(key, "a size (bytes, or a string like \"8G\" or \"25%\")", *node));
  return std::nullopt;
}

const toml::array* PolicyParseContext::get_array(const toml::table& table, std::string_view key,
                                                 std::string_view where, bool required) {
  const toml::node* node = lookup(table, key, where, required);
  if (!node) return nullptr;
  if (const auto* array = node->as_array()) return array;
  error(*node, expected_got(key, "an array", *node));
  return nullptr;
}

}  // namespace guardian
