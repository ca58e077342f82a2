#include "model/memory_lock_finding.h"

#include <algorithm>

#include "common/units.h"
#include "sense/self_watch.h"

namespace guardian {
namespace {

std::string limit_text(uint64_t bytes) { return bytes == kUnlimited ? "unlimited" : format_bytes(bytes); }

Result<uint64_t> parse_one(std::string_view text) {
  text = trim(text);
  if (text == "infinity") return kUnlimited;
  auto size = parse_size(text);
  if (!size.ok()) return make_error(size.error().message);
  if (!size->bytes) return make_error("a percentage is not a LimitMEMLOCK= value");
  return *size->bytes;
}

}  // namespace

Result<std::optional<MemlockLimit>> unit_memlock_limit(const std::vector<ConfigFile>& fragments,
                                                       std::string* where) {
  std::optional<MemlockLimit> limit;
  for (const auto& file : fragments) {
    std::string_view text = file.content;
    size_t line_number = 0;
    while (!text.empty()) {
      const size_t eol = std::min(text.find('\n'), text.size());
      const std::string_view line = trim(text.substr(0, eol));
      text.remove_prefix(std::min(eol + 1, text.size()));
      ++line_number;
      constexpr std::string_view kKey = "LimitMEMLOCK=";
      if (!line.starts_with(kKey)) continue;
      const std::string_view value = trim(line.substr(kKey.size()));
      const std::string place = file.path + ":" + std::to_string(line_number) + ": LimitMEMLOCK=";
      if (value.empty()) {  // systemd: an empty assignment resets to the default
        limit.reset();
        if (where) where->clear();
        continue;
      }
      const size_t colon = value.find(':');
      auto soft = parse_one(value.substr(0, colon));
      if (!soft.ok()) return make_error(place + std::string(value) + ": " + soft.error().message);
      uint64_t hard = *soft;
      if (colon != std::string_view::npos) {
        auto parsed = parse_one(value.substr(colon + 1));
        if (!parsed.ok()) return make_error(place + std::string(value) + ": " + parsed.error().message);
        hard = *parsed;
      }
      if (*soft > hard)
        return make_error(place + std::string(value) + ": the soft limit is above the hard one");
      limit = MemlockLimit{*soft, hard};
      if (where) *where = file.path;
    }
  }
  return limit;
}

uint64_t effective_memlock_soft(const MemoryLockFacts& facts) {
  return facts.unit ? facts.unit->soft : facts.own.soft;
}

LoopLockFit fit_loop_lock(const MemoryLockFacts& facts, uint64_t soft) {
  std::vector<std::pair<std::string, uint64_t>> parts = facts.loop_parts;
  if (parts.empty()) parts.emplace_back("the loop's set", facts.loop_bytes);
  const uint64_t room = soft == kUnlimited ? kUnlimited : soft - std::min(soft, memlock_reserve(soft));
  LoopLockFit fit;
  for (const auto& [name, bytes] : parts) {
    fit.wanted_bytes += bytes;
    if (bytes <= room - fit.locked_bytes)
      fit.locked_bytes += bytes;
    else
      fit.left_out.push_back(name);
  }
  return fit;
}

std::optional<SharedPagesFit> fit_shared_pages(const MemoryLockFacts& facts, uint64_t soft) {
  if (facts.shared_maps.empty()) return std::nullopt;
  SharedPagesFit fit;
  fit.room_bytes = kUnlimited;
  if (soft != kUnlimited) {
    const uint64_t used = fit_loop_lock(facts, soft).locked_bytes + memlock_reserve(soft);
    fit.room_bytes = soft > used ? soft - used : 0;
  }
  const SharedPagesPlan plan =
      plan_shared_pages_lock(facts.shared_maps, facts.binary, facts.shared_present, {}, fit.room_bytes);
  fit.present_bytes = plan.wanted_bytes;
  fit.locked_bytes = plan.bytes;
  fit.left_out = plan.left_out;
  fit.left_out_bytes = plan.left_out_bytes;
  fit.left_out_tick_pages = plan.left_out_tick_pages;
  return fit;
}

namespace {

// The detail's line on the shared libraries' pages: what the daemon locks after warm-up, the
// room the limit leaves for it, and what does not fit.
std::string shared_pages_line(const MemoryLockFacts& facts, const std::optional<SharedPagesFit>& fit,
                              uint64_t soft) {
  std::string line =
      "after five ticks the daemon also locks, page by page, the shared libraries' code and read-only "
      "data in use (libc, libstdc++, libsystemd, libm, libgcc_s first)";
  if (!fit) {
    return line + ": not estimated here (" +
           (facts.shared_problem.empty() ? std::string("another host's tree") : facts.shared_problem) + ")";
  }
  line += ": " + format_bytes(fit->present_bytes) + " in use in this process (the same binary)";
  if (fit->room_bytes == kUnlimited) return line + ", all locked (no limit)";
  line += "; RLIMIT_MEMLOCK " + limit_text(soft) + " leaves " + format_bytes(fit->room_bytes) +
          " for them after the loop's " + format_bytes(fit_loop_lock(facts, soft).locked_bytes) + " and " +
          format_bytes(memlock_reserve(soft)) + " kept free: " + format_bytes(fit->locked_bytes) + " locked";
  if (fit->left_out.empty()) return line;
  line += ", " + format_bytes(fit->left_out_bytes) + " left out (";
  for (size_t i = 0; i < fit->left_out.size(); ++i) line += (i ? ", " : "") + fit->left_out[i];
  line += fit->left_out_tick_pages ? "), among them pages a tick runs in"
                                   : "; other libraries' pages and headers only, none a tick runs in)";
  return line;
}

}  // namespace

Finding memory_lock_finding(const MemoryLockFacts& facts) {
  Finding finding;
  finding.topic = "memory-lock";
  const uint64_t soft = effective_memlock_soft(facts);
  const LoopLockFit fit = fit_loop_lock(facts, soft);
  const bool fits = fit.left_out.empty();
  std::string detail =
      "RLIMIT_MEMLOCK here: soft " + limit_text(facts.own.soft) + ", hard " + limit_text(facts.own.hard);
  if (facts.unit)
    detail += "\nthe unit: LimitMEMLOCK=" + limit_text(facts.unit->soft) + ":" +
              limit_text(facts.unit->hard) + " (" + facts.unit_file + ")";
  else if (!facts.unit_file.empty())
    detail +=
        "\nthe unit (" + facts.unit_file + ") sets no LimitMEMLOCK=: the user manager's default applies";
  else
    detail += "\nno installed guardian.service found";
  if (!facts.unit_problem.empty()) detail += "\n" + facts.unit_problem;
  detail += "\n--lock-memory=loop locks " + format_bytes(fit.wanted_bytes) + " (";
  if (facts.loop_parts.empty()) {
    detail += "measured: tests/bench/measure_lock.sh";
  } else {
    for (size_t i = 0; i < facts.loop_parts.size(); ++i)
      detail += (i ? ", " : "") + facts.loop_parts[i].first + " " + format_bytes(facts.loop_parts[i].second);
  }
  detail += "); it " + std::string(fits ? "fits" : "does not fit") + " in " + limit_text(soft);
  std::string left_out;
  for (size_t i = 0; i < fit.left_out.size(); ++i) left_out += (i ? ", " : "") + fit.left_out[i];
  if (!fits && fit.locked_bytes > 0)
    detail += ": guardian locks " + format_bytes(fit.locked_bytes) + " and leaves out " + left_out;
  const std::optional<SharedPagesFit> shared = fit_shared_pages(facts, soft);
  detail += "\n" + shared_pages_line(facts, shared, soft);
  if (facts.daemon) {
    detail += "\nrunning daemon (pid " + std::to_string(facts.daemon->pid) + "): VmLck " +
              format_bytes(facts.daemon->locked_bytes) + ", VmRSS " + format_bytes(facts.daemon->rss_bytes);
  } else {
    detail += "\nno running guardian daemon found";
  }
  finding.detail = detail;
  const std::string fix =
      "raise LimitMEMLOCK= in a drop-in (`systemctl --user edit guardian`, LimitMEMLOCK=8M); above the "
      "user manager's hard limit it needs DefaultLimitMEMLOCK= in the system's user@.service";
  if (!fits && fit.locked_bytes > 0) {
    finding.verdict = Finding::Verdict::Warning;
    finding.summary = "memory lock: RLIMIT_MEMLOCK " + limit_text(soft) + " holds " +
                      format_bytes(fit.locked_bytes) + " of the loop's " + format_bytes(fit.wanted_bytes) +
                      "; guardian locks that smaller set and leaves out " + left_out +
                      ", which may fault and stall it when memory runs short";
    finding.next_step = fix;
    return finding;
  }
  if (!fits) {
    finding.verdict = Finding::Verdict::Warning;
    finding.summary = "memory lock: the loop's " + format_bytes(fit.wanted_bytes) +
                      " do not fit RLIMIT_MEMLOCK " + limit_text(soft) +
                      "; guardian runs unlocked and may stall when memory runs short";
    finding.next_step = fix;
    return finding;
  }
  if (facts.daemon && facts.daemon->locked_bytes == 0) {
    finding.verdict = Finding::Verdict::Warning;
    finding.summary =
        "memory lock: the running daemon locked nothing (started with --lock-memory=none, or "
        "under a lower limit than now)";
    finding.next_step =
        "`guardian status` says why (MemoryLock); restart it: systemctl --user restart guardian";
    return finding;
  }
  if (shared && shared->left_out_tick_pages) {
    finding.verdict = Finding::Verdict::Warning;
    finding.summary = "memory lock: the loop's " + format_bytes(fit.wanted_bytes) + " fit RLIMIT_MEMLOCK " +
                      limit_text(soft) + ", but of the shared libraries' " +
                      format_bytes(shared->present_bytes) + " in use only " +
                      format_bytes(shared->locked_bytes) +
                      " fit the room left; pages a tick runs in stay unlocked and may fault and stall it "
                      "when memory runs short";
    finding.next_step = fix;
    return finding;
  }
  finding.verdict = Finding::Verdict::Ok;
  finding.summary =
      "memory lock: the loop's " + format_bytes(fit.wanted_bytes) + " fit RLIMIT_MEMLOCK " +
      limit_text(soft) +
      (shared ? ", and " + format_bytes(shared->locked_bytes) + " of the shared libraries' " +
                    format_bytes(shared->present_bytes) + " in use after warm-up"
              : std::string()) +
      (facts.daemon ? "; the running daemon has " + format_bytes(facts.daemon->locked_bytes) + " locked"
                    : std::string());
  return finding;
}

}  // namespace guardian
