// guardian sample: sense twice (so rates such as the pgscan delta and the stall share are
// real), model, evaluate the policy once, print one JSON object.
#include <thread>

#include "act/action.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/units.h"
#include "config/policy_loader.h"
#include "config/policy_location.h"
#include "decide/ladder.h"
#include "model/oomd_model.h"
#include "model/oomd_rules.h"
#include "model/user_budget.h"
#include "sense/ancestor_limits.h"
#include "sense/sampler.h"
#include "tell/snapshot_json.h"

namespace guardian::cli {

int run_sample(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"host-root", true, "prefix for every host path (default /)"},
      {"policy", true, "policy whose level to report (default: the one `guardian run` would take)"},
      {"uid", true, "the user whose manager to read (default: own uid)"},
      {"interval", true, "time between the two samples (default 1s)"},
      {"json", false, "print JSON (the only format today)"},
      {"help", false, "this text"},
  };
  Args args;
  if (!args.parse(argc, argv, specs)) return kExitUsage;
  if (args.has("help")) {
    print_command_help(stdout, "sample");
    return kExitOk;
  }
  SamplerOptions sampler_options;
  std::chrono::microseconds interval{1'000'000};
  if (!read_uid_option(args, "sample", sampler_options.uid) ||
      !read_interval_option(args, "sample", interval)) {
    return kExitUsage;
  }
  HostRoot host(args.get("host-root").value_or(""));
  // The policy `guardian run` would take: --policy, else the first of the XDG places, else embedded.
  std::optional<std::string> policy_path = args.get("policy");
  if (!policy_path) {
    const PolicyLocation location = locate_policy(host, ConfigDirs::from_environment());
    if (location.origin != PolicyOrigin::Embedded) policy_path = location.open_path;
  }
  PolicyLoadResult loaded = load_policy_or_default(policy_path, &builtin_actions());
  if (!loaded.policy) {
    for (const auto& diagnostic : loaded.diagnostics)
      std::fprintf(stderr, "%s\n", diagnostic.to_string().c_str());
    return kExitFinding;
  }

  Sampler sampler(host, sampler_options);
  OomdModel model;
  // The user's memory budget (the ancestors' limits come with the sampler's snapshot).
  UserBudgetModel budget;
  budget.set_window(loaded.policy->approach.window);
  Snapshot first = sampler.sample();
  budget.observe(first, sampler.layout().user_manager_path);
  model.set_rules(
      oomd_rules_from_files(
          read_oomd_config_files(host, sampler.layout(), user_manager_slices(sampler.layout(), first)), first)
          .watched);
  model.observe(first);
  std::this_thread::sleep_for(interval);
  Snapshot second = sampler.sample();
  model.observe(second);
  budget.observe(second, sampler.layout().user_manager_path);
  for (const auto& problem : sampler.take_problems()) {
    std::fprintf(stderr, "guardian sample: %s: %s\n", problem.where.c_str(), problem.message.c_str());
  }
  ModelView view{&second, &model.states(), sampler.layout().user_manager_path, &budget.budget()};
  Decision decision = decide(*loaded.policy, LadderState{}, view, second.mono);
  std::printf("%s\n", snapshot_to_json(second, sampler.layout(), model.states(),
                                       level_name(*loaded.policy, decision.next.level), 2, &budget.budget())
                          .c_str());
  return kExitOk;
}

}  // namespace guardian::cli
