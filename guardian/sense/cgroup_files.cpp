#include "sense/cgroup_files.h"

#include <cstring>
#include <string>

#include "sense/text.h"

namespace guardian {
namespace {

// One "key value" line of memory.stat / memory.events, as pointers into the text.
struct Line {
  const char* begin;
  const char* end;  // at the '\n' or the end of the text
};

// The value after "key " in `line`, or an error naming the key.
Result<uint64_t> value_after(const Line& line, size_t key_size) {
  const std::string_view key(line.begin, key_size);
  uint64_t value = 0;
  if (!parse_decimal(line.begin + key_size + 1, line.end, value)) {
    return make_error(
        std::string(key) + " is " +
        quote_excerpt(std::string_view(line.begin + key_size + 1, line.end - line.begin - key_size - 1)) +
        ", expected an unsigned integer");
  }
  return value;
}

std::string at_line(size_t line_number, const std::string& message) {
  return "line " + std::to_string(line_number) + ": " + message;
}

// Walks the lines; `on_line` returns the error of a line it could not take. Lines guardian does
// not use are only checked to start like a kernel key (a lowercase letter), so garbage is still
// caught without paying for the ~50 lines of memory.stat nobody reads.
template <class OnLine>
Result<void> for_each_line(std::string_view text, OnLine on_line) {
  const char* p = text.data();
  const char* const end = p + text.size();
  size_t line_number = 0;
  while (p < end) {
    ++line_number;
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const Line line{p, newline != nullptr ? newline : end};
    if (*p < 'a' || *p > 'z') {
      return make_error(at_line(
          line_number, "expected \"key value\", got " + quote_excerpt(std::string_view(p, line.end - p))));
    }
    if (auto taken = on_line(line); !taken) return make_error(at_line(line_number, taken.error().message));
    p = line.end + 1;
  }
  return {};
}

}  // namespace

Result<std::optional<uint64_t>> parse_cgroup_value(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text == "max") return std::optional<uint64_t>{};
  uint64_t value = 0;
  if (parse_decimal(text.data(), text.data() + text.size(), value)) return std::optional<uint64_t>{value};
  return make_error("expected an unsigned integer or \"max\", got " + quote_excerpt(text));
}

Result<void> parse_memory_stat(std::string_view text, CgroupMemory& into) {
  // A direct loop: memory.stat is ~60 lines in each of ~500 cgroups per tick and only 7 of its
  // keys are used, so the common path does nothing but find the next line. (Measured with
  // tests/bench: a 16-bytes-at-a-time newline scan was slower under callgrind than memchr.)
  // Once every key it uses has been seen the rest is not scanned (on 6.1 the last of them,
  // pgsteal, comes about 40 lines into 50; this saved ~10% of a tick's instructions).
  enum : unsigned {
    kAnon = 1,
    kFile = 2,
    kShmem = 4,
    kPgscan = 8,
    kPgsteal = 16,
    kRefaultAnon = 32,
    kRefaultFile = 64
  };
  constexpr unsigned kAll = 127;
  unsigned seen = 0;
  bool have_anon = false;
  bool have_file = false;
  bool have_split_refaults = false;
  std::optional<uint64_t> legacy_refaults;
  CgroupMemory parsed = into;
  const char* p = text.data();
  const char* const end = p + text.size();
  size_t line_number = 0;
  while (p < end) {
    ++line_number;
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const Line line{p, newline != nullptr ? newline : end};
    uint64_t* target = nullptr;
    size_t key_size = 0;
    switch (*p) {
      case 'a':
        if (starts_with_literal(p, line.end, "anon "))
          target = &parsed.anon_bytes, key_size = 4, have_anon = true, seen |= kAnon;
        break;
      case 'f':
        if (starts_with_literal(p, line.end, "file "))
          target = &parsed.file_bytes, key_size = 4, have_file = true, seen |= kFile;
        break;
      case 's':
        if (starts_with_literal(p, line.end, "shmem "))
          target = &parsed.shmem_bytes, key_size = 5, seen |= kShmem;
        break;
      case 'p':
        if (p + 2 < line.end && p[1] == 'g' && p[2] == 's') {
          if (starts_with_literal(p, line.end, "pgscan "))
            target = &parsed.pgscan, key_size = 6, seen |= kPgscan;
          else if (starts_with_literal(p, line.end, "pgsteal "))
            target = &parsed.pgsteal, key_size = 7, seen |= kPgsteal;
        }
        break;
      case 'w':
        if (line.end - p > 18 && p[11] == 'r' && starts_with_literal(p, line.end, "workingset_refault")) {
          if (starts_with_literal(p, line.end, "workingset_refault_anon ")) {
            target = &parsed.workingset_refault_anon, key_size = 23, have_split_refaults = true,
            seen |= kRefaultAnon;
          } else if (starts_with_literal(p, line.end, "workingset_refault_file ")) {
            target = &parsed.workingset_refault_file, key_size = 23, have_split_refaults = true,
            seen |= kRefaultFile;
          } else if (starts_with_literal(p, line.end, "workingset_refault ")) {
            // Kernels before 5.9 had one refault counter; it counted file pages only.
            legacy_refaults.emplace();
            target = &*legacy_refaults, key_size = 18;
          }
        }
        break;
      default:
        // Every kernel key starts with a lowercase letter: anything else is garbage.
        if (*p < 'a' || *p > 'z') {
          return make_error(at_line(line_number, "expected \"key value\", got " +
                                                     quote_excerpt(std::string_view(p, line.end - p))));
        }
        break;
    }
    if (target != nullptr && !parse_decimal(p + key_size + 1, line.end, *target)) {
      return make_error(at_line(line_number, value_after(line, key_size).error().message));
    }
    if (seen == kAll) break;
    p = line.end + 1;
  }
  if (!have_anon || !have_file)
    return make_error(std::string("no \"") + (have_anon ? "file" : "anon") + "\" line");
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
  auto result = for_each_line(text, [&](const Line& line) -> Result<void> {
    uint64_t* target = nullptr;
    size_t key_size = 0;
    unsigned bit = 0;
    if (starts_with_literal(line.begin, line.end, "low "))
      target = &parsed.events_low, key_size = 3, bit = kLow;
    else if (starts_with_literal(line.begin, line.end, "high "))
      target = &parsed.events_high, key_size = 4, bit = kHigh;
    else if (starts_with_literal(line.begin, line.end, "max "))
      target = &parsed.events_max, key_size = 3, bit = kMax;
    else if (starts_with_literal(line.begin, line.end, "oom "))
      target = &parsed.events_oom, key_size = 3, bit = kOom;
    else if (starts_with_literal(line.begin, line.end, "oom_kill ")) {
      target = &parsed.events_oom_kill, key_size = 8, bit = kOomKill;
    } else if (starts_with_literal(line.begin, line.end, "oom_group_kill ")) {
      target = &parsed.events_oom_group_kill, key_size = 14;
    } else {
      return {};
    }
    if (!parse_decimal(line.begin + key_size + 1, line.end, *target))
      return value_after(line, key_size).error();
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
