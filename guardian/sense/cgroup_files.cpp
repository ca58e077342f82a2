#include "sense/cgroup_files.h"

#include <string>

#include "common/units.h"
#include "sense/text.h"

namespace guardian {
namespace {

// Walks "key value\n" lines (memory.stat, memory.events) and hands each known key's value to
// `on_value`; unknown keys are skipped (the kernel adds fields over time) but every line must
// still be "key value" so that garbage is caught.
template <class OnValue>
Result<void> for_each_key_value(std::string_view text, OnValue on_value) {
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size()) {
      return make_error("line " + std::to_string(line_number) + ": expected \"key value\", got " + quote_excerpt(line));
    }
    const std::string_view key = line.substr(0, space);
    const std::string_view value = line.substr(space + 1);
    auto handled = on_value(key, value);
    if (!handled) return make_error("line " + std::to_string(line_number) + ": " + handled.error().message);
  }
  return {};
}

Result<uint64_t> counter(std::string_view key, std::string_view value) {
  if (auto number = parse_u64(value)) return *number;
  return make_error(std::string(key) + " is " + quote_excerpt(value) + ", expected an unsigned integer");
}

}  // namespace

Result<std::optional<uint64_t>> parse_cgroup_value(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text == "max") return std::optional<uint64_t>{};
  if (auto number = parse_u64(text)) return std::optional<uint64_t>{*number};
  return make_error("expected an unsigned integer or \"max\", got " + quote_excerpt(text));
}

Result<void> parse_memory_stat(std::string_view text, CgroupMemory& into) {
  bool have_anon = false;
  bool have_file = false;
  bool have_split_refaults = false;
  std::optional<uint64_t> legacy_refaults;
  CgroupMemory parsed = into;
  auto result = for_each_key_value(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    uint64_t* target = nullptr;
    // Only the fields guardian uses are converted; the others are ~45 lines we skip cheaply.
    switch (key.size()) {
      case 4:
        if (key == "anon") target = &parsed.anon_bytes, have_anon = true;
        if (key == "file") target = &parsed.file_bytes, have_file = true;
        break;
      case 5:
        if (key == "shmem") target = &parsed.shmem_bytes;
        break;
      case 6:
        if (key == "pgscan") target = &parsed.pgscan;
        break;
      case 7:
        if (key == "pgsteal") target = &parsed.pgsteal;
        break;
      case 18:
        if (key == "workingset_refault") {
          // Kernels before 5.9 had one refault counter; it counted file pages only.
          auto number = counter(key, value);
          if (!number) return number.error();
          legacy_refaults = *number;
        }
        break;
      case 23:
        if (key == "workingset_refault_anon") target = &parsed.workingset_refault_anon, have_split_refaults = true;
        if (key == "workingset_refault_file") target = &parsed.workingset_refault_file, have_split_refaults = true;
        break;
      default: break;
    }
    if (target == nullptr) return {};
    auto number = counter(key, value);
    if (!number) return number.error();
    *target = *number;
    return {};
  });
  if (!result) return result;
  if (!have_anon || !have_file) return make_error(std::string("no \"") + (have_anon ? "file" : "anon") + "\" line");
  if (!have_split_refaults && legacy_refaults) parsed.workingset_refault_file = *legacy_refaults;
  into = parsed;
  return {};
}

Result<void> parse_memory_events(std::string_view text, CgroupMemory& into) {
  // Every kernel with cgroup v2 memory.events prints these five; oom_group_kill came later in 5.x.
  constexpr unsigned kLow = 1, kHigh = 2, kMax = 4, kOom = 8, kOomKill = 16, kAll = 31;
  unsigned seen = 0;
  CgroupMemory parsed = into;
  parsed.events_oom_group_kill = 0;
  auto result = for_each_key_value(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    uint64_t* target = nullptr;
    unsigned bit = 0;
    if (key == "low") target = &parsed.events_low, bit = kLow;
    else if (key == "high") target = &parsed.events_high, bit = kHigh;
    else if (key == "max") target = &parsed.events_max, bit = kMax;
    else if (key == "oom") target = &parsed.events_oom, bit = kOom;
    else if (key == "oom_kill") target = &parsed.events_oom_kill, bit = kOomKill;
    else if (key == "oom_group_kill") target = &parsed.events_oom_group_kill;
    else return {};
    auto number = counter(key, value);
    if (!number) return number.error();
    *target = *number;
    seen |= bit;
    return {};
  });
  if (!result) return result;
  if (seen != kAll) {
    std::string missing;
    const std::pair<unsigned, const char*> names[] = {
        {kLow, "low"}, {kHigh, "high"}, {kMax, "max"}, {kOom, "oom"}, {kOomKill, "oom_kill"}};
    for (const auto& [bit, name] : names) {
      if ((seen & bit) == 0) missing += std::string(missing.empty() ? "" : ", ") + name;
    }
    return make_error("missing " + missing);
  }
  into = parsed;
  return {};
}

}  // namespace guardian
