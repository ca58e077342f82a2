// Shared between slice_actions.cpp and unit_actions.cpp; not for other code.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act/action.h"
#include "act/unit_manager.h"

namespace guardian {
namespace systemd_actions {

// The user manager from env.systemd, or an error saying there is none.
Result<std::shared_ptr<UnitManager>> client(const ActionEnv& env);
// Checks that argument `param` names a unit ("x.service"), ending in `required_suffix` if given.
std::vector<std::pair<std::string, SourcePos>> check_unit_name(const ActionSpec& spec, const char* param,
                                                               std::string_view required_suffix);
Result<void> restore_unit_property(const ActionEnv& env, const std::string& key,
                                   const std::string& original_json, Deadline deadline);

}  // namespace systemd_actions
}  // namespace guardian
