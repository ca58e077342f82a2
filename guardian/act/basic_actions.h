// The actions whose whole effect is telling: `log` (a journal entry at the level's step) and
// `notify` (a message for the user: the journal, and the desktop notification through
// ActionEnv::notices, act/desktop_notice.h).
#pragma once

#include "act/action.h"

namespace guardian {

void register_basic_actions(ActionRegistry& registry);

// Helpers for validating action parameters, shared by every action family.
struct ParamRule {
  std::string name;
  enum class Type { String, Number, Bool, Size, Duration, StringList } type = Type::String;
  bool required = false;
};
std::vector<std::pair<std::string, SourcePos>> check_params(const ActionSpec& spec,
                                                            const std::vector<ParamRule>& rules);
// Typed getters (after check_params passed).
std::string param_string(const ActionSpec& spec, const std::string& name, const std::string& fallback = {});
double param_number(const ActionSpec& spec, const std::string& name, double fallback);
bool param_bool(const ActionSpec& spec, const std::string& name, bool fallback);
std::vector<std::string> param_strings(const ActionSpec& spec, const std::string& name);

}  // namespace guardian
