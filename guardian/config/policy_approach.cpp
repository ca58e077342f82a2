// [approach]: climbing on the prediction that the user's memory runs out, before PSI shows it
// (model/user_budget.h, decide/ladder.cpp).
//
//   [approach]
//   enabled = true        # default
//   level = "elevated"    # default: the first level
//   within = "60s"        # predicted exhaustion sooner than this…
//   used_percent = 80     # …while at least this share of the budget is in use
//   window = "5s"         # the slope is taken over this much history
//   full_percent = 98     # a budget this full holds the level only while…
//   refault_pages_per_second = 256  # …file refaults show the working set no longer fits
//   hold_refault_pages_per_second = 64  # at its level: held while used_percent and these refaults
//   max_rebound_hold = "10m"  # at its level: held while its actions' relief coming back would
//                             # fill used_percent again, at most this long at a stretch ("0s": off)
#include "config/policy_sections.h"

namespace guardian {

void parse_approach_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [approach]";
  context.check_known_keys(table,
                           {"enabled", "level", "within", "used_percent", "window", "full_percent",
                            "refault_pages_per_second", "hold_refault_pages_per_second", "max_rebound_hold"},
                           kWhere);
  auto& approach = policy.approach;
  approach.pos = context.pos(table);
  if (auto enabled = context.get_bool(table, "enabled", kWhere)) approach.enabled = *enabled;
  if (auto level = context.get_string(table, "level", kWhere)) {
    bool found = false;
    std::vector<std::string_view> names;
    for (const auto& candidate : policy.levels) {
      names.push_back(candidate.name);
      found = found || candidate.name == *level;
    }
    if (!found)
      context.error(*table.get("level"),
                    "\"level\": no level is named \"" + *level + "\"" + did_you_mean(*level, names));
    else
      approach.level = *level;
  }
  if (auto within = context.get_duration(table, "within", kWhere)) {
    if (within->count() <= 0 || *within > std::chrono::hours(1))
      context.error(*table.get("within"), "\"within\": expected a time between 1s and 1h");
    else
      approach.within_seconds = std::chrono::duration<double>(*within).count();
  }
  if (auto used = context.get_number(table, "used_percent", kWhere)) {
    if (*used < 0 || *used > 100)
      context.error(*table.get("used_percent"), "\"used_percent\" is a percentage: 0 to 100");
    else
      approach.used_percent = *used;
  }
  if (auto full = context.get_number(table, "full_percent", kWhere)) {
    // Above 100 a budget is never full (memory.current passes memory.high only by a little);
    // below 50 "full" would be a budget with half its room left.
    if (*full < 50 || *full > 100)
      context.error(*table.get("full_percent"), "\"full_percent\" is a percentage: 50 to 100");
    else
      approach.full_percent = *full;
  }
  if (auto refaults = context.get_number(table, "refault_pages_per_second", kWhere)) {
    if (!(*refaults > 0) || *refaults > 1e7)
      context.error(*table.get("refault_pages_per_second"),
                    "\"refault_pages_per_second\": expected more than 0 pages per second (at most 10000000)");
    else
      approach.refault_pages_per_second = *refaults;
  }
  if (auto refaults = context.get_number(table, "hold_refault_pages_per_second", kWhere)) {
    if (!(*refaults > 0) || *refaults > 1e7)
      context.error(
          *table.get("hold_refault_pages_per_second"),
          "\"hold_refault_pages_per_second\": expected more than 0 pages per second (at most 10000000)");
    else
      approach.hold_refault_pages_per_second = *refaults;
  }
  if (auto hold = context.get_duration(table, "max_rebound_hold", kWhere)) {
    // 0 turns the rule off; more than a day would be a level held for ever in all but name.
    if (hold->count() < 0 || *hold > std::chrono::hours(24))
      context.error(*table.get("max_rebound_hold"),
                    "\"max_rebound_hold\": expected a time between 0s (off) and 24h");
    else
      approach.max_rebound_hold = *hold;
  }
  if (auto window = context.get_duration(table, "window", kWhere)) {
    // At least two ticks of history on each side of the median; at most what the model keeps
    // (32 samples, model/user_budget.h) at 1 s ticks.
    if (*window < std::chrono::seconds(2) || *window > std::chrono::seconds(30))
      context.error(*table.get("window"), "\"window\": expected a time between 2s and 30s");
    else
      approach.window = *window;
  }
}

}  // namespace guardian
