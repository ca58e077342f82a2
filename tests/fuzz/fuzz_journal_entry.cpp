// libFuzzer target: `guardian events`' reading of the journal (review/): journal export format ->
// entries -> records -> the timeline -> table and JSON. Nothing may crash or throw, every kill row
// carries its detail, and JSON stays valid whatever bytes a journal field holds.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "review/journal_entry.h"
#include "review/timeline.h"
#include "review/timeline_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace guardian::review;
  const auto parsed = parse_journal_export(std::string_view(reinterpret_cast<const char*>(data), size));
  TimelineBuilder builder;
  int64_t time = 0;
  for (const auto& fields : parsed.entries) {
    auto record = parse_journal_entry(fields, time);
    time += 1'000'000;
    if (!record) continue;
    if (record->kind != JournalRecord::Kind::Guardian && record->killer.empty()) std::abort();
    if (record->pressure_percent && !(*record->pressure_percent > -1e12 && *record->pressure_percent < 1e12))
      std::abort();
    builder.add(*record);
  }
  const auto rows = builder.finish();
  const TableLayout layout = TableLayout::fit(rows);
  for (const auto& row : rows) {
    if ((row.event == "oomd-kill" || row.event == "kernel-oom-kill") != row.kill.has_value()) std::abort();
    (void)format_table_row(row, layout, true);
    const std::string json = format_json_row(row);
    if (!nlohmann::json::accept(json)) std::abort();
  }
  return 0;
}
