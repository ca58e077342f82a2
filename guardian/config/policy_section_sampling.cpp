// [sampling]: how often guardian samples, and the PSI trigger that wakes it between ticks.
//   interval = "1s"
//   trigger = "some 150ms 2s"   # or false: no trigger, interval only
#include <vector>

#include "config/policy_sections.h"

namespace guardian {
namespace {

using std::chrono::microseconds;

// The kernel's limits for a trigger window (kernel/sched/psi.c, WINDOW_MIN_US / WINDOW_MAX_US),
// and the 2 s granularity an unprivileged trigger must use (psi_trigger_create: without
// CAP_SYS_RESOURCE the window must be a multiple of the 2 s averaging period).
constexpr microseconds kWindowMax{10'000'000};
constexpr microseconds kUnprivilegedWindowStep{2'000'000};

// The interval bounds are ours: faster than 100 ms costs CPU for nothing (PSI averages move every
// 2 s); slower than 10 s would miss oomd, which kills ~20 s after avg10 crosses its limit.
constexpr microseconds kIntervalMin{100'000};
constexpr microseconds kIntervalMax{10'000'000};

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

Result<microseconds> trigger_duration(std::string_view word, std::string_view what) {
  // A bare number would be read as seconds by parse_duration, while the kernel's own trigger
  // syntax is microseconds: refuse the ambiguity instead of arming a 150000-second window.
  if (parse_double(word)) {
    return make_error(
        "PSI trigger " + std::string(what) + " \"" + std::string(word) +
        "\" needs a unit (\"150ms\", \"2s\"); the kernel's microsecond form is not accepted here");
  }
  auto parsed = parse_duration(word);
  if (!parsed) return make_error("PSI trigger " + std::string(what) + ": " + parsed.error().message);
  return *parsed;
}

}  // namespace

Result<PsiTriggerSpec> parse_psi_trigger_spec(std::string_view text) {
  const auto words = split_words(text);
  if (words.size() != 3) {
    return make_error("invalid PSI trigger \"" + std::string(text) +
                      "\": expected \"some|full STALL WINDOW\", e.g. \"some 150ms 2s\"");
  }
  PsiTriggerSpec spec;
  if (words[0] == "some")
    spec.kind = PsiTriggerSpec::Kind::Some;
  else if (words[0] == "full")
    spec.kind = PsiTriggerSpec::Kind::Full;
  else {
    return make_error("invalid PSI trigger kind \"" + std::string(words[0]) +
                      "\": expected \"some\" or \"full\"");
  }
  auto stall = trigger_duration(words[1], "stall");
  if (!stall) return stall.error();
  auto window = trigger_duration(words[2], "window");
  if (!window) return window.error();
  spec.stall = *stall;
  spec.window = *window;
  if (spec.window.count() == 0 || spec.window.count() % kUnprivilegedWindowStep.count() != 0 ||
      spec.window > kWindowMax) {
    return make_error(
        "PSI trigger window must be 2s, 4s, 6s, 8s or 10s: without CAP_SYS_RESOURCE the kernel "
        "accepts only multiples of 2 s, at most 10 s");
  }
  if (spec.stall.count() <= 0 || spec.stall >= spec.window) {
    return make_error("PSI trigger stall must be more than 0 and less than the window (" +
                      std::to_string(spec.window.count() / 1000) + "ms)");
  }
  return spec;
}

void parse_sampling_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [sampling]";
  context.check_known_keys(table, {"interval", "trigger"}, kWhere);

  if (auto interval = context.get_duration(table, "interval", kWhere)) {
    if (*interval < kIntervalMin || *interval > kIntervalMax) {
      context.error(*table.get("interval"), "\"interval\": must be between 100ms and 10s");
    } else {
      policy.sampling.interval = *interval;
    }
  }

  if (const toml::node* trigger = table.get("trigger")) {
    if (const auto* off = trigger->as_boolean()) {
      if (off->get()) {
        context.error(*trigger, "\"trigger\": write a trigger like \"some 150ms 2s\", or false for none");
      } else {
        policy.sampling.trigger.reset();
      }
    } else if (const auto* text = trigger->as_string()) {
      auto spec = parse_psi_trigger_spec(text->get());
      if (spec)
        policy.sampling.trigger = *spec;
      else
        context.error(*trigger, "\"trigger\": " + spec.error().message);
    } else {
      context.error(*trigger, "\"trigger\": expected a string like \"some 150ms 2s\" or false, got " +
                                  std::string(toml_type_name(trigger->type())));
    }
  }
}

}  // namespace guardian
