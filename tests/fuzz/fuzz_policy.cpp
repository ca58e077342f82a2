// libFuzzer target: the policy loader (config/policy_loader, toml++ underneath) and the ladder
// that runs what it accepts. The loader must never crash or throw, every problem must come back as
// a diagnostic with a position in the file, and an accepted policy must drive decide()/unwind()
// to commands that name real levels and actions.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "act/action.h"
#include "config/policy_loader.h"
#include "config/policy_sections.h"
#include "decide/ladder.h"

namespace {

void check_commands(const guardian::Policy& policy, const guardian::Decision& decision) {
  for (const auto& command : decision.commands) {
    if (command.level == 0 || command.level > policy.levels.size()) std::abort();
    if (command.action_index >= policy.levels[command.level - 1].actions.size()) std::abort();
  }
  if (decision.next.level > policy.levels.size()) std::abort();
  if (decision.next.entered_at.size() != decision.next.level) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The trigger syntax has its own parser; feed it the raw bytes too.
  (void)guardian::parse_psi_trigger_spec(text);

  auto result = guardian::parse_policy(text, "fuzz.toml", &guardian::builtin_actions());
  if (result.policy.has_value() == !result.diagnostics.empty()) std::abort();
  for (const auto& diagnostic : result.diagnostics) {
    if (diagnostic.message.empty() || diagnostic.pos.file != "fuzz.toml") std::abort();
    (void)diagnostic.to_string();
  }
  if (!result.policy) return 0;

  // Drive the ladder: a host where nothing matches, then one where every signal is extreme.
  const guardian::Policy& policy = *result.policy;
  guardian::Snapshot snapshot;
  snapshot.meminfo.total_bytes = 30ULL << 30;
  snapshot.meminfo.available_bytes = 1ULL << 20;
  snapshot.system_pressure = guardian::Psi{{99, 99, 99, 1}, {95, 95, 95, 1}};
  guardian::CgroupSample sample;
  sample.path = "/user.slice/user-1000.slice/user@1000.service/app.slice";
  sample.unit = "app.slice";
  sample.pressure = snapshot.system_pressure;
  sample.memory.current_bytes = 9ULL << 30;
  sample.memory.high_bytes = 8ULL << 30;
  snapshot.cgroups.push_back(sample);
  snapshot.triggers_fired = {"/", sample.path};
  std::vector<guardian::OomdCgroupState> oomd(1);
  oomd[0].rule.path = sample.path;
  oomd[0].rule.limit_percent = 80;
  oomd[0].present = true;
  oomd[0].full_avg10 = 95;
  oomd[0].seconds_until_kill = 0.5;

  const auto start = guardian::MonoTime{} + std::chrono::hours(1);
  guardian::LadderState state;
  const guardian::ModelView empty{};
  const guardian::ModelView hot{&snapshot, &oomd, "/user.slice/user-1000.slice/user@1000.service"};
  for (int tick = 0; tick < 4; ++tick) {
    auto decision =
        guardian::decide(policy, state, tick % 2 == 0 ? hot : empty, start + std::chrono::hours(tick));
    check_commands(policy, decision);
    state = decision.next;
  }
  check_commands(policy, guardian::unwind(policy, state));
  return 0;
}
