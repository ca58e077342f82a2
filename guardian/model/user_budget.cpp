#include "model/user_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/units.h"

namespace guardian {
namespace {

// Pairs closer in time than this say more about the sampling than about the ramp (a PSI
// trigger wakes a tick a few ms after the last one).
constexpr double kMinPairSeconds = 0.5;
// A slope needs samples spanning at least this share of the window.
constexpr double kMinSpanOfWindow = 0.5;

double seconds_between(MonoTime a, MonoTime b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

std::string_view limit_source_name(UserBudget::LimitSource source) {
  switch (source) {
    case UserBudget::LimitSource::None: return "none";
    case UserBudget::LimitSource::UserManagerHigh: return "memory.high of the user manager";
    case UserBudget::LimitSource::UserManagerMax: return "memory.max of the user manager";
    case UserBudget::LimitSource::Ancestor: return "a limit above the user manager";
    case UserBudget::LimitSource::MemTotal: return "MemTotal";
  }
  return "none";
}

std::string describe_budget(const UserBudget& budget) {
  std::string text;
  append_budget_description(text, budget);
  return text;
}

void append_budget_description(std::string& out, const UserBudget& budget) {
  if (!budget.known) {
    out.append("the user's memory budget is not known yet");
    return;
  }
  // Formatted into a fixed buffer, then appended once: format_bytes' short results fit in a
  // string's own storage, and `out` is kept by the caller.
  char text[256];
  size_t used = 0;
  auto print = [&](const char* format, auto... values) {
    if (used >= sizeof text) return;
    const int n = std::snprintf(text + used, sizeof text - used, format, values...);
    if (n > 0) used = std::min(sizeof text - 1, used + static_cast<size_t>(n));
  };
  const std::string_view source = limit_source_name(budget.limit_source);
  print("%s used of %s (%.0f%%, %.*s %s), ", format_bytes(budget.used_bytes).c_str(),
        format_bytes(budget.used_bytes + budget.room_bytes).c_str(), budget.used_percent,
        static_cast<int>(source.size()), source.data(), format_bytes(budget.limit_bytes).c_str());
  if (!budget.slope_bytes_per_second) {
    print("%s", "no slope yet");
  } else {
    print("%+.1f MiB/s", *budget.slope_bytes_per_second / (1024.0 * 1024.0));
    if (std::isfinite(budget.seconds_to_exhaustion))
      print(", exhausted in ~%.0f s", budget.seconds_to_exhaustion);
  }
  out.append(text, used);
}

void UserBudgetModel::observe(const Snapshot& snapshot, std::string_view user_manager_path) {
  const MemInfo& meminfo = snapshot.meminfo;
  UserBudget next;
  uint64_t used = 0;
  Point point;
  point.at = snapshot.mono;
  if (user_manager_path.empty()) {
    if (meminfo.total_bytes == 0) return;  // nothing read: keep the last budget
    used = meminfo.total_bytes - std::min(meminfo.available_bytes, meminfo.total_bytes);
    next.limit_bytes = meminfo.total_bytes;
    next.limit_source = UserBudget::LimitSource::MemTotal;
  } else {
    const CgroupSample* manager = snapshot.find(user_manager_path);
    if (!manager || !manager->memory.current_bytes) return;
    used = *manager->memory.current_bytes;
    point.pgscan = manager->memory.pgscan;
    point.refault_file = manager->memory.workingset_refault_file;
    point.has_stat = true;
    auto consider = [&](std::optional<uint64_t> limit, UserBudget::LimitSource source) {
      if (limit && (next.limit_source == UserBudget::LimitSource::None || *limit < next.limit_bytes)) {
        next.limit_bytes = *limit;
        next.limit_source = source;
      }
    };
    consider(manager->memory.high_bytes, UserBudget::LimitSource::UserManagerHigh);
    consider(manager->memory.max_bytes, UserBudget::LimitSource::UserManagerMax);
    consider(snapshot.user_ancestors_limit_bytes, UserBudget::LimitSource::Ancestor);
    if (next.limit_source == UserBudget::LimitSource::None) {
      if (meminfo.total_bytes == 0) return;
      next.limit_bytes = meminfo.total_bytes;
      next.limit_source = UserBudget::LimitSource::MemTotal;
    }
  }
  next.known = true;
  next.used_bytes = used;
  next.mem_available_bytes = meminfo.available_bytes;
  next.room_bytes = next.limit_bytes > used ? next.limit_bytes - used : 0;
  if (meminfo.total_bytes > 0) next.room_bytes = std::min(next.room_bytes, meminfo.available_bytes);
  const double total = static_cast<double>(used) + static_cast<double>(next.room_bytes);
  next.used_percent = total > 0 ? static_cast<double>(used) / total * 100.0 : 0;

  // The ring: a sample older than the newest (a clock that went back) restarts it.
  point.used = static_cast<double>(used);
  if (count_ > 0 && point.at < points_[(head_ + count_ - 1) % kPoints].at) count_ = 0;
  if (count_ == kPoints) {
    head_ = (head_ + 1) % kPoints;
    --count_;
  }
  points_[(head_ + count_) % kPoints] = point;
  ++count_;
  // Drop what fell out of the window.
  while (count_ > 1 &&
         seconds_between(points_[head_].at, point.at) > std::chrono::duration<double>(window_).count()) {
    head_ = (head_ + 1) % kPoints;
    --count_;
  }

  const Point& first = points_[head_];
  const double span = seconds_between(first.at, point.at);
  const double window = std::chrono::duration<double>(window_).count();
  if (count_ >= 3 && span >= window * kMinSpanOfWindow) {
    size_t n = 0;
    for (size_t i = 0; i < count_; ++i) {
      const Point& a = points_[(head_ + i) % kPoints];
      for (size_t j = i + 1; j < count_; ++j) {
        const Point& b = points_[(head_ + j) % kPoints];
        const double dt = seconds_between(a.at, b.at);
        if (dt < kMinPairSeconds) continue;
        slopes_[n++] = (b.used - a.used) / dt;
      }
    }
    if (n > 0) {
      auto middle = slopes_.begin() + static_cast<std::ptrdiff_t>(n / 2);
      std::nth_element(slopes_.begin(), middle, slopes_.begin() + static_cast<std::ptrdiff_t>(n));
      double median = *middle;
      if (n % 2 == 0) median = (median + *std::max_element(slopes_.begin(), middle)) / 2.0;
      next.slope_bytes_per_second = median;
      if (median > 0) next.seconds_to_exhaustion = static_cast<double>(next.room_bytes) / median;
    }
    if (first.has_stat && point.has_stat && span > 0) {
      // Counters: a drop means the cgroup was made anew; no rate then.
      if (point.pgscan >= first.pgscan)
        next.pgscan_per_second = static_cast<double>(point.pgscan - first.pgscan) / span;
      if (point.refault_file >= first.refault_file)
        next.refault_file_per_second = static_cast<double>(point.refault_file - first.refault_file) / span;
    }
  }
  budget_ = next;
}

}  // namespace guardian
