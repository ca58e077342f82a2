#include "act/basic_actions.h"

#include "act/desktop_notice.h"
#include "common/event.h"
#include "common/units.h"

namespace guardian {

namespace {

std::string_view type_name(ParamRule::Type type) {
  switch (type) {
    case ParamRule::Type::String: return "a string";
    case ParamRule::Type::Number: return "a number";
    case ParamRule::Type::Bool: return "true or false";
    case ParamRule::Type::Size: return "a size (bytes, \"8G\", \"25%\")";
    case ParamRule::Type::Duration: return "a duration (\"20s\")";
    case ParamRule::Type::StringList: return "a list of strings";
  }
  return "a value";
}

bool matches(const ParamValue& value, ParamRule::Type type) {
  switch (type) {
    case ParamRule::Type::String: return std::holds_alternative<std::string>(value);
    case ParamRule::Type::Number:
      return std::holds_alternative<int64_t>(value) || std::holds_alternative<double>(value);
    case ParamRule::Type::Bool: return std::holds_alternative<bool>(value);
    case ParamRule::Type::Size:
      if (const auto* text = std::get_if<std::string>(&value)) return parse_size(*text).ok();
      if (const auto* number = std::get_if<int64_t>(&value)) return *number >= 0;
      return false;
    case ParamRule::Type::Duration:
      if (const auto* text = std::get_if<std::string>(&value)) return parse_duration(*text).ok();
      return false;
    case ParamRule::Type::StringList: return std::holds_alternative<std::vector<std::string>>(value);
  }
  return false;
}

// `log`: one journal entry when the level is entered, one when it is left.
class LogAction final : public Action {
 public:
  LogAction(const ActionSpec& spec, const ActionEnv& env)
      : message_(param_string(spec, "message", "guardian level step")), env_(env) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override { return "log \"" + message_ + "\""; }
  ActionResult apply(Deadline /*deadline*/) override {
    return tell("entered: " + message_, ActionResult::Outcome::Applied);
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return tell("left: " + message_, ActionResult::Outcome::Reverted);
  }

 private:
  ActionResult tell(const std::string& text, ActionResult::Outcome outcome) {
    if (env_.teller) {
      Event event{EventType::Notify, Priority::Info, text, {}};
      event.with("ACTION", "log");
      env_.teller->emit(event);
    }
    return {outcome, text};
  }
  std::string type_ = "log";
  std::string message_;
  ActionEnv env_;
};

// `notify`: a message meant for the user: a journal entry at priority notice (so
// `journalctl -p notice` shows it) and the desktop notification (act/desktop_notice.h), updated
// in place, naming the largest apps and what guardian did.
class NotifyAction final : public Action {
 public:
  NotifyAction(const ActionSpec& spec, const ActionEnv& env)
      : summary_(param_string(spec, "summary")),
        body_(param_string(spec, "body")),
        interval_(interval_of(spec)),
        urgency_(urgency_level(param_string(spec, "urgency", "normal")).value_or(1)),
        env_(env) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override { return "notify \"" + summary_ + "\""; }
  ActionResult apply(Deadline deadline) override {
    if (env_.teller) {
      Event event{EventType::Notify, Priority::Notice, summary_ + (body_.empty() ? "" : ": " + body_), {}};
      event.with("ACTION", "notify").with("SUMMARY", summary_);
      if (!body_.empty()) event.with("BODY", body_);
      env_.teller->emit(event);
    }
    if (env_.notices == nullptr) return {ActionResult::Outcome::Applied, summary_};
    // A missing notification server is not this action failing: the journal has the message,
    // and DesktopNotices has said once that the desktop does not.
    const auto shown = env_.notices->show(summary_, body_, urgency_, interval_, deadline);
    return {ActionResult::Outcome::Applied, summary_ + " (" + shown.detail + ")"};
  }
  // A message cannot be taken back; leaving the level changes nothing.
  ActionResult revert(Deadline /*deadline*/) override { return {ActionResult::Outcome::Unchanged, {}}; }

  static std::chrono::microseconds interval_of(const ActionSpec& spec) {
    auto interval = parse_duration(param_string(spec, "interval", "60s"));
    return interval.ok() ? *interval : std::chrono::seconds(60);
  }
  static std::optional<uint8_t> urgency_level(const std::string& name) {
    if (name == "low") return 0;
    if (name == "normal") return 1;
    if (name == "critical") return 2;
    return std::nullopt;
  }

 private:
  std::string type_ = "notify";
  std::string summary_;
  std::string body_;
  std::chrono::microseconds interval_;
  uint8_t urgency_;
  ActionEnv env_;
};

}  // namespace

std::vector<std::pair<std::string, SourcePos>> check_params(const ActionSpec& spec,
                                                            const std::vector<ParamRule>& rules) {
  std::vector<std::pair<std::string, SourcePos>> problems;
  for (const auto& [name, param] : spec.params) {
    const ParamRule* rule = nullptr;
    for (const auto& candidate : rules) {
      if (candidate.name == name) rule = &candidate;
    }
    if (!rule) {
      std::string known;
      for (const auto& candidate : rules) known += (known.empty() ? "" : ", ") + candidate.name;
      problems.emplace_back("action \"" + spec.type + "\" has no argument \"" + name + "\"" +
                                (known.empty() ? " (it takes none)" : " (it takes: " + known + ")"),
                            param.pos);
      continue;
    }
    if (!matches(param.value, rule->type)) {
      problems.emplace_back("argument \"" + name + "\" of action \"" + spec.type + "\" must be " +
                                std::string(type_name(rule->type)),
                            param.pos);
    }
  }
  for (const auto& rule : rules) {
    if (rule.required && !spec.params.contains(rule.name)) {
      problems.emplace_back("action \"" + spec.type + "\" needs argument \"" + rule.name + "\"", spec.pos);
    }
  }
  return problems;
}

std::string param_string(const ActionSpec& spec, const std::string& name, const std::string& fallback) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return fallback;
  if (const auto* text = std::get_if<std::string>(&it->second.value)) return *text;
  return fallback;
}

double param_number(const ActionSpec& spec, const std::string& name, double fallback) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return fallback;
  if (const auto* i = std::get_if<int64_t>(&it->second.value)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&it->second.value)) return *d;
  return fallback;
}

bool param_bool(const ActionSpec& spec, const std::string& name, bool fallback) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return fallback;
  if (const auto* b = std::get_if<bool>(&it->second.value)) return *b;
  return fallback;
}

std::vector<std::string> param_strings(const ActionSpec& spec, const std::string& name) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return {};
  if (const auto* list = std::get_if<std::vector<std::string>>(&it->second.value)) return *list;
  return {};
}

void register_basic_actions(ActionRegistry& registry) {
  registry.add("log", {[](const ActionSpec& spec) {
                         return check_params(spec, {{"message", ParamRule::Type::String, false}});
                       },
                       [](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
                         return std::unique_ptr<Action>(std::make_unique<LogAction>(spec, env));
                       },
                       "write a journal entry when the level is entered and left",
                       nullptr});  // frees nothing
  registry.add("notify",
               {[](const ActionSpec& spec) {
                  auto problems = check_params(spec, {{"summary", ParamRule::Type::String, true},
                                                      {"body", ParamRule::Type::String, false},
                                                      {"interval", ParamRule::Type::Duration, false},
                                                      {"urgency", ParamRule::Type::String, false}});
                  if (auto it = spec.params.find("urgency"); it != spec.params.end()) {
                    const auto* name = std::get_if<std::string>(&it->second.value);
                    if (name != nullptr && !NotifyAction::urgency_level(*name))
                      problems.emplace_back(
                          "argument \"urgency\" of action \"notify\" must be "
                          "\"low\", \"normal\" or \"critical\"",
                          it->second.pos);
                  }
                  return problems;
                },
                [](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
                  return std::unique_ptr<Action>(std::make_unique<NotifyAction>(spec, env));
                },
                "tell the user what guardian is doing: journal (priority notice) and one desktop "
                "notification, updated in place",
                nullptr});  // frees nothing
}

}  // namespace guardian
