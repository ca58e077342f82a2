// The policy loader: TOML in, Policy or FILE:LINE:COL diagnostics out. Policies here are written
// the way a user would hand-edit one; line and column numbers are those of the text below
// (1-based, as toml++ reports them and as editors show them).
#include "config/policy_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "act/action.h"
#include "act/jellyfin_actions.h"
#include "act/systemd_actions.h"
#include "config/policy_sections.h"
#include "config/signals.h"

namespace guardian {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// A registry with test entries that validate the way real actions do: through ActionSpec.
ActionRegistry test_registry() {
  ActionRegistry registry;
  ActionRegistry::Entry log;
  log.summary = "write a message to the journal";
  log.validate = [](const ActionSpec& spec) {
    std::vector<std::pair<std::string, SourcePos>> problems;
    auto message = spec.params.find("message");
    if (message == spec.params.end())
      problems.emplace_back("action \"log\" needs a \"message\"", spec.pos);
    else if (!std::holds_alternative<std::string>(message->second.value))
      problems.emplace_back("argument \"message\" of action \"log\" must be a string", message->second.pos);
    return problems;
  };
  registry.add("log", log);
  ActionRegistry::Entry notify;
  notify.summary = "tell the desktop user";
  notify.validate = [](const ActionSpec& spec) {
    std::vector<std::pair<std::string, SourcePos>> problems;
    if (!spec.params.count("summary"))
      problems.emplace_back("action \"notify\" needs a \"summary\"", spec.pos);
    return problems;
  };
  registry.add("notify", notify);
  ActionRegistry::Entry set_high;
  set_high.summary = "lower a slice's MemoryHigh";
  set_high.validate = [](const ActionSpec& spec) {
    std::vector<std::pair<std::string, SourcePos>> problems;
    auto high = spec.params.find("memory_high");
    if (high == spec.params.end()) {
      problems.emplace_back("action \"slice.set-memory-high\" needs \"memory_high\"", spec.pos);
    } else if (const auto* text = std::get_if<std::string>(&high->second.value)) {
      auto size = parse_size(*text);
      if (!size) {
        problems.emplace_back(
            "argument \"memory_high\" of action \"slice.set-memory-high\": " + size.error().message,
            high->second.pos);
      }
    }
    return problems;
  };
  registry.add("slice.set-memory-high", set_high);
  return registry;
}

const ActionRegistry& registry() {
  static const ActionRegistry kRegistry = test_registry();
  return kRegistry;
}

std::vector<std::string> errors_of(std::string_view text, const ActionRegistry* actions = &registry()) {
  auto result = parse_policy(text, "p.toml", actions);
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.to_string());
  EXPECT_EQ(result.policy.has_value(), out.empty());
  return out;
}

using Lines = std::vector<std::string>;

constexpr std::string_view kMinimal = R"(version = 1
[[level]]
name = "elevated"
enter = [ { signal = "full_avg10", cgroup = "app.slice", above = 40 } ]
)";

TEST(PolicyLoader, EmbeddedDefaultLoads) {
  ActionRegistry with_jellyfin = test_registry();
  register_jellyfin_actions(with_jellyfin);  // the embedded default's ladder uses them
  register_systemd_actions(with_jellyfin);   // and slice.balance
  auto result = parse_policy(embedded_default_policy(), "<embedded default>", &with_jellyfin);
  ASSERT_TRUE(result.policy) << (result.diagnostics.empty() ? "" : result.diagnostics[0].to_string());
  const Policy& policy = *result.policy;
  EXPECT_EQ(policy.name, "default");
  EXPECT_EQ(policy.source, "<embedded default>");
  EXPECT_EQ(policy.sampling.interval, seconds(1));
  ASSERT_TRUE(policy.sampling.trigger);
  EXPECT_EQ(policy.sampling.trigger->kind, PsiTriggerSpec::Kind::Some);
  EXPECT_EQ(policy.sampling.trigger->stall, microseconds(150'000));
  EXPECT_EQ(policy.sampling.trigger->window, seconds(2));
  EXPECT_EQ(policy.metrics.listen, "127.0.0.1:9464");
  ASSERT_EQ(policy.levels.size(), 2u);
  EXPECT_EQ(policy.levels[0].name, "elevated");
  EXPECT_EQ(policy.levels[0].hold, seconds(30));
  ASSERT_FALSE(policy.levels[0].enter.empty());
  EXPECT_EQ(policy.levels[0].enter[0].signal, Signal::OomdLimitPercent);
  EXPECT_EQ(policy.levels[0].enter[0].cgroup, "oomd-watched");
  EXPECT_EQ(policy.levels[0].enter[0].compare, Condition::Compare::Above);
  EXPECT_EQ(policy.levels[0].enter[0].threshold, 50);
  EXPECT_EQ(policy.levels[1].name, "critical");
  ASSERT_EQ(policy.levels[1].actions.size(), 4u);  // three Jellyfin actions, then notify
  EXPECT_EQ(policy.levels[1].actions[3].type, "notify");
  // Every exit threshold sits on the calm side of the matching enter threshold (hysteresis).
  for (const auto& level : policy.levels) {
    for (const auto& exit : level.exit) {
      bool paired = false;
      for (const auto& enter : level.enter) {
        if (enter.signal != exit.signal || enter.cgroup != exit.cgroup) continue;
        paired = true;
        if (enter.compare == Condition::Compare::Above)
          EXPECT_LT(exit.threshold, enter.threshold);
        else
          EXPECT_GT(exit.threshold, enter.threshold);
      }
      EXPECT_TRUE(paired) << level.name << " exit on " << signal_name(exit.signal);
    }
  }
}

TEST(PolicyLoader, ReadsEveryFieldOfALevel) {
  auto result = parse_policy(R"(version = 1
name = "desk"
[sampling]
interval = "500ms"
trigger = "full 200ms 4s"
[metrics]
enabled = false
listen = "[::1]:9500"
[[level]]
name = "containers-tight"
hold = "1min 30s"
enter = [
  { signal = "memory_high_percent", cgroup = "container.slice", above = 95.5 },
  { signal = "trigger_fired", cgroup = "container.slice", above = 0 },
  { signal = "mem_available_percent", below = 10 },
]
exit = [ { signal = "memory_high_percent", cgroup = "container.slice", below = 80 } ]
[[level.actions]]
type = "slice.set-memory-high"
memory_high = "6G"
relative = false
step = 2
factor = 0.5
units = ["jellyfin.service", "immich-server.service"]
)",
                             "desk.toml", &registry());
  ASSERT_TRUE(result.policy) << result.diagnostics.at(0).to_string();
  const Policy& policy = *result.policy;
  EXPECT_EQ(policy.name, "desk");
  EXPECT_EQ(policy.sampling.interval, microseconds(500'000));
  EXPECT_EQ(policy.sampling.trigger->kind, PsiTriggerSpec::Kind::Full);
  EXPECT_EQ(policy.sampling.trigger->stall, microseconds(200'000));
  EXPECT_EQ(policy.sampling.trigger->window, seconds(4));
  EXPECT_FALSE(policy.metrics.enabled);
  EXPECT_EQ(policy.metrics.listen, "[::1]:9500");
  const Level& level = policy.levels.at(0);
  EXPECT_EQ(level.hold, seconds(90));
  ASSERT_EQ(level.enter.size(), 3u);
  EXPECT_EQ(level.enter[0].threshold, 95.5);
  EXPECT_EQ(level.enter[0].pos.line, 13u);
  EXPECT_EQ(level.enter[0].pos.column, 3u);
  EXPECT_EQ(level.enter[1].signal, Signal::TriggerFired);
  EXPECT_EQ(level.enter[2].cgroup, "system");  // mem_available_percent defaults to the system
  EXPECT_EQ(level.enter[2].compare, Condition::Compare::Below);
  ASSERT_EQ(level.actions.size(), 1u);
  const ActionSpec& action = level.actions[0];
  EXPECT_EQ(action.type, "slice.set-memory-high");
  EXPECT_EQ(std::get<std::string>(action.params.at("memory_high").value), "6G");
  EXPECT_EQ(action.params.at("memory_high").pos.line, 20u);
  EXPECT_EQ(action.params.at("memory_high").pos.column, 15u);
  EXPECT_EQ(std::get<bool>(action.params.at("relative").value), false);
  EXPECT_EQ(std::get<int64_t>(action.params.at("step").value), 2);
  EXPECT_EQ(std::get<double>(action.params.at("factor").value), 0.5);
  EXPECT_EQ(std::get<std::vector<std::string>>(action.params.at("units").value),
            (std::vector<std::string>{"jellyfin.service", "immich-server.service"}));
  EXPECT_FALSE(action.params.count("type"));
}

TEST(PolicyLoader, DefaultsWhenSectionsAreLeftOut) {
  auto result = parse_policy(kMinimal, "/etc/guardian/laptop.toml", &registry());
  ASSERT_TRUE(result.policy);
  EXPECT_EQ(result.policy->name, "laptop");  // the file's stem
  EXPECT_EQ(result.policy->sampling.interval, seconds(1));
  EXPECT_TRUE(result.policy->sampling.trigger);
  EXPECT_TRUE(result.policy->metrics.enabled);
  EXPECT_EQ(result.policy->levels.at(0).hold, seconds(10));
  EXPECT_TRUE(result.policy->levels.at(0).exit.empty());
}

TEST(PolicyLoader, UnknownKeysSuggestTheNearestValidKey) {
  EXPECT_EQ(errors_of(R"(version = 1
[sampeling]
interval = "1s"
[[levels]]
name = "x"
[metrics]
listn = "127.0.0.1:1"
[[level]]
name = "elevated"
hlod = "30s"
enter = [ { signal = "full_avg10", cgroup = "app.slice", abvoe = 40 } ]
actions = [ { type = "log", message = "m" } ]
colour = "blue"
)"),
            (Lines{"p.toml:2:2: unknown key \"sampeling\" at the top level; did you mean \"sampling\"?",
                   "p.toml:4:3: unknown key \"levels\" at the top level; did you mean \"level\"?",
                   "p.toml:7:1: unknown key \"listn\" in [metrics]; did you mean \"listen\"?",
                   "p.toml:10:1: unknown key \"hlod\" in [[level]] \"elevated\"; did you mean \"hold\"?",
                   "p.toml:11:11: a condition needs \"above = N\" or \"below = N\"",
                   "p.toml:11:58: unknown key \"abvoe\" in a condition; did you mean \"above\"?",
                   "p.toml:13:1: unknown key \"colour\" in [[level]] \"elevated\""}));
}

TEST(PolicyLoader, SyntaxErrorIsOneDiagnosticWithItsPosition) {
  EXPECT_EQ(errors_of("version = 1\n[[level]\nname = \"x\"\n"),
            (Lines{"p.toml:2:9: Error while parsing table header: expected ']', saw '\\n'"}));
  // TOML 1.0 inline tables are one line: the mistake the first default.toml made.
  auto lines = errors_of(
      "version = 1\n[[level]]\nname = \"x\"\nenter = [ { signal = \"full_avg10\",\n"
      "  above = 1 } ]\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("p.toml:4:")) << lines[0];
  // Not UTF-8.
  lines = errors_of("version = 1\nname = \"\xff\"\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("p.toml:2:")) << lines[0];
}

TEST(PolicyLoader, VersionIsRequiredAndChecked) {
  EXPECT_EQ(
      errors_of("[metrics]\nenabled = true\n"),
      (Lines{"p.toml:1:1: missing required key \"version\" at the top level (write version = 1 first)"}));
  EXPECT_EQ(errors_of("version = 2\n"),
            (Lines{"p.toml:1:11: unsupported policy version 2: this guardian reads version 1"}));
  EXPECT_EQ(errors_of("version = \"1\"\n"),
            (Lines{"p.toml:1:11: \"version\": expected an integer, got a string"}));
}

TEST(PolicyLoader, LevelRules) {
  EXPECT_EQ(
      errors_of(R"(version = 1
[[level]]
name = "elevated"
[[level]]
name = "elevated"
enter = []
[[level]]
name = "normal"
enter = [ { signal = "full_avg10", above = 1 } ]
[[level]]
name = "Über level"
enter = [ { signal = "full_avg10", above = 1 } ]
[[level]]
enter = [ { signal = "full_avg10", above = 1 } ]
hold = "forever"
)"),
      (Lines{"p.toml:2:1: level \"elevated\" has no \"enter\" conditions: without them it could never be "
             "reached",
             "p.toml:5:8: duplicate level name \"elevated\" (first defined at line 2)",
             "p.toml:6:9: level \"elevated\" has no \"enter\" conditions: without them it could never be "
             "reached",
             "p.toml:8:8: level name \"normal\" is reserved for the implicit level below the ladder",
             "p.toml:11:8: level name \"Über level\": use 1 to 64 letters, digits, '-' or '_' (it becomes a "
             "journal field and a metric label)",
             "p.toml:13:1: missing required key \"name\" in [[level]] #5",
             "p.toml:15:8: \"hold\": invalid duration \"forever\": expected e.g. \"20s\", \"1min 30s\", "
             "\"500ms\" "
             "or a number of seconds"}));
  EXPECT_EQ(
      errors_of("version = 1\n[level]\nname = \"x\"\n"),
      (Lines{"p.toml:2:1: \"level\": expected [[level]] tables (an array of tables), got a table — write "
             "[[level]], not [level]"}));
  EXPECT_EQ(errors_of("version = 1\nsampling = 3\n"),
            (Lines{"p.toml:2:12: \"sampling\": expected a [sampling] table, got an integer"}));
}

TEST(PolicyLoader, ConditionRules) {
  EXPECT_EQ(
      errors_of(R"(version = 1
[[level]]
name = "x"
enter = [
  { signal = "full_avg10", cgroup = "app.slice", above = 40, below = 10 },
  { signal = "ful_avg10", above = 40 },
  { signal = "full_avg10", above = "40" },
  { signal = "memory_high_percent", cgroup = "system", above = 90 },
  { signal = "mem_available_percent", cgroup = "app.slice", below = 10 },
  { signal = "full_avg10", cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice", above = 40 },
  { signal = "full_avg10", cgroup = "container.slice//x", above = 40 },
  { signal = "full_avg10", cgroup = "../system.slice", above = 40 },
  { signal = "some_avg10", above = 140 },
  { signal = "trigger_fired", above = 2 },
  { signal = "seconds_until_kill", below = -5 },
  { signal = "full_avg10", above = nan },
  "full_avg10 > 40",
  { cgroup = "app.slice", above = 1 },
]
)"),
      (Lines{
          "p.toml:5:3: a condition has either \"above\" or \"below\", not both",
          "p.toml:6:14: unknown signal \"ful_avg10\"; did you mean \"full_avg10\"?",
          "p.toml:7:36: \"above\": expected a number, got a string",
          "p.toml:8:46: \"memory_high_percent\" is measured on a cgroup, not on \"system\": use "
          "\"oomd-watched\" or a cgroup path",
          "p.toml:9:48: \"mem_available_percent\" is system-wide: use cgroup = \"system\" (or leave cgroup "
          "out)",
          "p.toml:10:37: \"cgroup\": cgroup paths are relative to the user manager: write \"app.slice\", not "
          "\"/user.slice/…/app.slice\"",
          "p.toml:11:37: \"cgroup\": empty path component in \"container.slice//x\"",
          "p.toml:12:37: \"cgroup\": \".\" and \"..\" are not allowed in a cgroup path",
          "p.toml:13:36: some_avg10 is a percentage: 0 to 100",
          "p.toml:14:39: trigger_fired is 1 or 0: write above = 0 (fired) or below = 1 (not fired)",
          "p.toml:15:44: a threshold cannot be negative",
          "p.toml:16:36: \"above\": expected a finite number, got nan",
          "p.toml:17:3: \"enter\": each condition is a table like { signal = \"full_avg10\", cgroup = "
          "\"oomd-watched\", above = 40 }, got a string",
          "p.toml:18:3: missing required key \"signal\" in a condition"}));
}

// The user's memory budget is one value (model/user_budget.h): its signals take cgroup = "user"
// or nothing, and "user" names nothing else.
TEST(PolicyLoader, BudgetSignalsTakeOnlyTheUserSelector) {
  auto result = parse_policy(R"(version = 1
[[level]]
name = "running-out"
enter = [
  { signal = "seconds_to_budget_exhausted", below = 30 },
  { signal = "budget_used_percent", cgroup = "user", above = 90 },
]
exit = [ { signal = "seconds_to_budget_exhausted", above = 120 } ]
)",
                             "budget.toml", &registry());
  ASSERT_TRUE(result.policy) << result.diagnostics.at(0).to_string();
  const Level& level = result.policy->levels.at(0);
  ASSERT_EQ(level.enter.size(), 2u);
  EXPECT_EQ(level.enter[0].signal, Signal::SecondsToBudgetExhausted);
  EXPECT_EQ(level.enter[0].cgroup, "user");  // the default: the only selector it has
  EXPECT_EQ(level.enter[0].compare, Condition::Compare::Below);
  EXPECT_EQ(level.enter[0].threshold, 30);
  EXPECT_EQ(level.enter[1].signal, Signal::BudgetUsedPercent);
  EXPECT_EQ(level.enter[1].cgroup, "user");
  EXPECT_EQ(level.exit.at(0).threshold, 120);

  const std::string budget_only =
      "measures the user's memory budget (user@UID.service against its limits, one value): use cgroup = "
      "\"user\" (or leave cgroup out); for the machine use mem_available_percent, for one cgroup "
      "memory_high_percent";
  EXPECT_EQ(
      errors_of(R"(version = 1
[[level]]
name = "x"
enter = [
  { signal = "seconds_to_budget_exhausted", cgroup = "system", below = 30 },
  { signal = "budget_used_percent", cgroup = "oomd-watched", above = 90 },
  { signal = "budget_used_percent", cgroup = "container.slice", above = 90 },
  { signal = "budget_used_percent", above = 101 },
  { signal = "seconds_to_budget_exhausted", below = -1 },
  { signal = "full_avg10", cgroup = "user", above = 40 },
]
)"),
      (Lines{
          "p.toml:5:54: \"seconds_to_budget_exhausted\" " + budget_only,
          "p.toml:6:46: \"budget_used_percent\" " + budget_only,
          "p.toml:7:46: \"budget_used_percent\" " + budget_only,
          "p.toml:8:45: budget_used_percent is a percentage: 0 to 100",
          "p.toml:9:53: a threshold cannot be negative",
          "p.toml:10:37: cgroup = \"user\" is the user's memory budget, which only budget_used_percent and "
          "seconds_to_budget_exhausted measure, not \"full_avg10\""}));
}

TEST(PolicyLoader, SamplingAndTriggerRules) {
  auto one = [](std::string_view sampling) {
    auto lines = errors_of("version = 1\n[sampling]\n" + std::string(sampling) + "\n");
    return lines.size() == 1 ? lines[0] : "(" + std::to_string(lines.size()) + " errors)";
  };
  EXPECT_EQ(
      one("trigger = \"some 150ms 1s\""),
      "p.toml:3:11: \"trigger\": PSI trigger window must be 2s, 4s, 6s, 8s or 10s: without CAP_SYS_RESOURCE "
      "the kernel accepts only multiples of 2 s, at most 10 s");
  EXPECT_EQ(
      one("trigger = \"some 150ms 12s\""),
      "p.toml:3:11: \"trigger\": PSI trigger window must be 2s, 4s, 6s, 8s or 10s: without CAP_SYS_RESOURCE "
      "the kernel accepts only multiples of 2 s, at most 10 s");
  EXPECT_EQ(
      one("trigger = \"some 2s 2s\""),
      "p.toml:3:11: \"trigger\": PSI trigger stall must be more than 0 and less than the window (2000ms)");
  EXPECT_EQ(
      one("trigger = \"some 150000 2000000\""),
      "p.toml:3:11: \"trigger\": PSI trigger stall \"150000\" needs a unit (\"150ms\", \"2s\"); the kernel's "
      "microsecond form is not accepted here");
  EXPECT_EQ(one("trigger = \"medium 150ms 2s\""),
            "p.toml:3:11: \"trigger\": invalid PSI trigger kind \"medium\": expected \"some\" or \"full\"");
  EXPECT_EQ(one("trigger = \"some 150ms\""),
            "p.toml:3:11: \"trigger\": invalid PSI trigger \"some 150ms\": expected \"some|full STALL "
            "WINDOW\", e.g. "
            "\"some 150ms 2s\"");
  EXPECT_EQ(one("trigger = true"),
            "p.toml:3:11: \"trigger\": write a trigger like \"some 150ms 2s\", or false for none");
  EXPECT_EQ(one("trigger = 150"),
            "p.toml:3:11: \"trigger\": expected a string like \"some 150ms 2s\" or false, got an integer");
  EXPECT_EQ(one("interval = \"50ms\""), "p.toml:3:12: \"interval\": must be between 100ms and 10s");
  EXPECT_EQ(
      one("interval = [1]"),
      "p.toml:3:12: \"interval\": expected a duration (a string like \"30s\" or a number of seconds), got an "
      "array");

  auto off = parse_policy("version = 1\n[sampling]\ntrigger = false\ninterval = 2\n", "p.toml", &registry());
  ASSERT_TRUE(off.policy);
  EXPECT_FALSE(off.policy->sampling.trigger);
  EXPECT_EQ(off.policy->sampling.interval, seconds(2));

  auto ten = parse_psi_trigger_spec("full  500ms  10s");
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(ten->window, seconds(10));
}

TEST(PolicyLoader, MetricsRules) {
  EXPECT_EQ(errors_of("version = 1\n[metrics]\nlisten = \"localhost\"\nenabled = \"yes\"\n"),
            (Lines{"p.toml:3:10: \"listen\": invalid address \"localhost\": expected HOST:PORT, e.g. "
                   "\"127.0.0.1:9464\"",
                   "p.toml:4:11: \"enabled\": expected a boolean (true or false), got a string"}));
  EXPECT_EQ(
      errors_of("version = 1\n[metrics]\nlisten = \"127.0.0.1:70000\"\n"),
      (Lines{"p.toml:3:10: \"listen\": invalid address \"127.0.0.1:70000\": port must be a number from 1 to "
             "65535"}));
  EXPECT_EQ(
      errors_of("version = 1\n[metrics]\nlisten = \"::1:9464\"\n"),
      (Lines{"p.toml:3:10: \"listen\": invalid address \"::1:9464\": an IPv6 host is written in brackets: "
             "\"[::1]:9464\""}));
}

TEST(PolicyLoader, ActionsAreValidatedByTheRegistry) {
  EXPECT_EQ(
      errors_of(R"(version = 1
[[level]]
name = "x"
enter = [ { signal = "full_avg10", above = 40 } ]
actions = [
  { type = "notfy", summary = "s" },
  { type = "log" },
  { type = "log", message = 42 },
  { type = "slice.set-memory-high", memory_high = "6 parsecs" },
  { type = "log", message = "m", extra = { nested = true } },
  { type = "log", message = "m", mixed = ["a", 1] },
  { message = "no type" },
  "log",
]
)"),
      (Lines{
          "p.toml:6:12: unknown action type \"notfy\"; did you mean \"notify\"? (this build knows: log, "
          "notify, slice.set-memory-high)",
          "p.toml:7:3: action \"log\" needs a \"message\"",
          "p.toml:8:29: argument \"message\" of action \"log\" must be a string",
          "p.toml:9:51: argument \"memory_high\" of action \"slice.set-memory-high\": invalid size \"6 "
          "parsecs\": expected bytes, a number with "
          "K/M/G/T (1024-based), or a percent of RAM like \"25%\"",
          "p.toml:10:42: action argument \"extra\": expected a boolean, a number, a string or an array of "
          "strings, got a table",
          "p.toml:11:42: action argument \"mixed\": expected a boolean, a number, a string or an array of "
          "strings, got an array",
          "p.toml:12:3: missing required key \"type\" in an action",
          "p.toml:13:3: \"actions\": each action is a table like { type = \"log\", message = \"…\" }, got a "
          "string"}));
  // Without a registry only the shape is checked (what a unit test of another section may want).
  EXPECT_TRUE(
      errors_of("version = 1\n[[level]]\nname = \"x\"\nenter = [ { signal = \"full_avg10\", above = 4 } ]\n"
                "actions = [ { type = \"unit.freeze\", unit = \"immich-ml.service\" } ]\n",
                nullptr)
          .empty());
}

TEST(PolicyLoader, AValidatorThatThrowsBecomesADiagnostic) {
  ActionRegistry throwing;
  ActionRegistry::Entry entry;
  entry.validate = [](const ActionSpec&) -> std::vector<std::pair<std::string, SourcePos>> {
    throw std::runtime_error("boom");
  };
  throwing.add("log", entry);
  auto result =
      parse_policy(std::string(kMinimal) + "actions = [ { type = \"log\" } ]\n", "p.toml", &throwing);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].to_string(), "p.toml:5:13: action \"log\": validation failed: boom");
}

TEST(PolicyLoader, TypedGettersSayWhatWasExpected) {
  toml::table table = toml::parse(R"(big = "8G"
quarter = "25%"
bytes = 1073741824
negative = -1
bad = "8X"
flag = 1
)");
  PolicyParseContext context("s.toml", nullptr);
  EXPECT_EQ(context.get_size(table, "big", "in [t]")->bytes, 8ULL << 30);
  EXPECT_EQ(context.get_size(table, "quarter", "in [t]")->percent_of_ram, 25.0);
  EXPECT_EQ(context.get_size(table, "bytes", "in [t]")->bytes, 1ULL << 30);
  EXPECT_FALSE(context.get_size(table, "negative", "in [t]"));
  EXPECT_FALSE(context.get_size(table, "bad", "in [t]"));
  EXPECT_FALSE(context.get_size(table, "missing", "in [t]"));
  EXPECT_FALSE(context.get_size(table, "required", "in [t]", /*required=*/true));
  EXPECT_FALSE(context.get_bool(table, "flag", "in [t]"));
  Lines lines;
  for (const auto& d : context.take_diagnostics()) lines.push_back(d.to_string());
  EXPECT_EQ(lines, (Lines{"s.toml:1:1: missing required key \"required\" in [t]",
                          "s.toml:4:12: \"negative\": a size cannot be negative",
                          "s.toml:5:7: \"bad\": invalid size \"8X\": expected bytes, a number with K/M/G/T "
                          "(1024-based), or a percent of RAM like \"25%\"",
                          "s.toml:6:8: \"flag\": expected a boolean (true or false), got an integer"}));
}

TEST(PolicyLoader, SuggestionsUseDamerauLevenshtein) {
  EXPECT_EQ(edit_distance("thresold", "threshold"), 1u);  // deletion
  EXPECT_EQ(edit_distance("hlod", "hold"), 1u);           // transposition
  EXPECT_EQ(edit_distance("enterr", "enter"), 1u);
  EXPECT_EQ(edit_distance("", "exit"), 4u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  const std::vector<std::string_view> keys = {"name", "hold", "enter", "exit", "actions", "threshold"};
  EXPECT_EQ(did_you_mean("thresold", keys), "; did you mean \"threshold\"?");
  EXPECT_EQ(did_you_mean("action", keys), "; did you mean \"actions\"?");
  EXPECT_EQ(did_you_mean("colour", keys), "");  // nothing close: no misleading guess
  EXPECT_EQ(did_you_mean("x", keys), "");
}

TEST(PolicyLoader, LoadPolicyFileNeverThrows) {
  auto missing = load_policy_file("/nonexistent/guardian/policy.toml", &registry());
  EXPECT_TRUE(missing.read_failed);
  ASSERT_EQ(missing.diagnostics.size(), 1u);
  EXPECT_EQ(missing.diagnostics[0].to_string(),
            "/nonexistent/guardian/policy.toml: cannot read policy: No such file or directory");

  auto directory = load_policy_file(std::filesystem::temp_directory_path().string(), &registry());
  EXPECT_TRUE(directory.read_failed);
  EXPECT_FALSE(directory.policy);

  const auto path =
      std::filesystem::temp_directory_path() / ("guardian-policy-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << kMinimal;
  auto good = load_policy_file(path.string(), &registry());
  std::filesystem::remove(path);
  EXPECT_FALSE(good.read_failed);
  ASSERT_TRUE(good.policy);
  EXPECT_EQ(good.policy->source, path.string());
  EXPECT_EQ(good.policy->levels.size(), 1u);
}

}  // namespace
}  // namespace guardian
