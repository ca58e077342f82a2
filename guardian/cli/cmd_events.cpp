// guardian events: the journal review (review/): guardian's events and every OOM kill as one
// timeline, as a table or JSON lines, once or --follow.
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/style.h"
#include "review/journal_source.h"
#include "review/journal_time.h"
#include "review/timeline.h"
#include "review/timeline_format.h"

namespace guardian::cli {
namespace {

int64_t realtime_now_us() {
  timeval now{};
  ::gettimeofday(&now, nullptr);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000 + now.tv_usec;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

class Printer {
 public:
  Printer(bool json, bool color) : json_(json), color_(color) {}
  // The table's columns fit the rows printed at once; --follow keeps the first layout.
  void print(const std::vector<review::TimelineRow>& rows, const review::TimelineFilter& filter) {
    std::vector<review::TimelineRow> shown;
    for (const auto& row : rows) {
      if (filter.matches(row)) shown.push_back(row);
    }
    if (!json_ && !header_printed_) {
      layout_ = review::TableLayout::fit(shown);
      std::fputs(review::format_table_header(layout_, color_).c_str(), stdout);
      header_printed_ = true;
    }
    for (const auto& row : shown) {
      const std::string line =
          json_ ? review::format_json_row(row) : review::format_table_row(row, layout_, color_);
      std::fputs(line.c_str(), stdout);
    }
    printed_ += shown.size();
    std::fflush(stdout);
  }
  [[nodiscard]] size_t printed() const { return printed_; }

 private:
  bool json_;
  bool color_;
  bool header_printed_ = false;
  review::TableLayout layout_;
  size_t printed_ = 0;
};

}  // namespace

int run_events(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"since", true, ""},       {"until", true, ""},   {"event", true, ""},     {"unit", true, ""},
      {"json", false, ""},       {"follow", false, ""}, {"namespace", true, ""}, {"directory", true, ""},
      {"from-export", true, ""}, {"help", false, ""},
  };
  Args args;
  if (!args.parse(argc, argv, specs)) return kExitUsage;
  if (args.has("help")) {
    print_command_help(stdout, "events");
    return kExitOk;
  }
  if (!args.positional().empty()) {
    std::fprintf(stderr, "guardian events: unexpected argument \"%s\" (see --help)\n",
                 args.positional()[0].c_str());
    return kExitUsage;
  }
  const int64_t now = realtime_now_us();
  review::JournalSourceOptions source_options;
  review::TimelineFilter filter;
  for (const char* name : {"since", "until"}) {
    auto text = args.get(name);
    if (!text) continue;
    auto parsed = review::parse_journal_time(*text, now);
    if (!parsed) {
      std::fprintf(stderr, "guardian events: --%s: %s\n", name, parsed.error().message.c_str());
      return kExitUsage;
    }
    (std::string_view(name) == "since" ? source_options.since_us : source_options.until_us) = *parsed;
  }
  filter.since_us = source_options.since_us;
  filter.until_us = source_options.until_us;
  if (auto events = args.get("event")) {
    const auto known = review::timeline_event_names();
    for (const auto& name : split_commas(*events)) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (const auto& candidate : known) list += (list.empty() ? "" : ", ") + candidate;
        std::fprintf(stderr, "guardian events: --event: unknown event \"%s\" (known: %s)\n", name.c_str(),
                     list.c_str());
        return kExitUsage;
      }
      filter.events.push_back(name);
    }
  }
  if (auto units = args.get("unit")) filter.units = split_commas(*units);
  source_options.name_space = args.get("namespace").value_or("");
  source_options.directory = args.get("directory").value_or("");
  source_options.export_file = args.get("from-export").value_or("");
  if (static_cast<int>(!source_options.name_space.empty()) +
          static_cast<int>(!source_options.directory.empty()) +
          static_cast<int>(!source_options.export_file.empty()) >
      1) {
    std::fprintf(stderr, "guardian events: give one of --namespace, --directory and --from-export\n");
    return kExitUsage;
  }
  const bool follow = args.has("follow");
  if (follow && !source_options.export_file.empty()) {
    std::fprintf(stderr, "guardian events: --follow reads a live journal, not an export file\n");
    return kExitUsage;
  }
  // --follow alone starts now (the state guardian was in is still read from before).
  if (follow && !source_options.since_us) source_options.since_us = now;

  auto source = review::JournalSource::open(source_options);
  if (!source) {
    std::fprintf(stderr, "guardian events: %s\n", source.error().message.c_str());
    return kExitUsage;
  }
  if (!(*source)->hint().empty()) std::fprintf(stderr, "%s\n", (*source)->hint().c_str());

  review::TimelineBuilder builder((*source)->state_before_since());
  Printer printer(args.has("json"), color_enabled(stdout));
  for (const auto& record : (*source)->read_available()) builder.add(record);
  if (!follow) {
    printer.print(builder.finish(), filter);
    if (printer.printed() == 0 && !args.has("json")) std::fputs("-- no entries --\n", stdout);
    return kExitOk;
  }
  // --follow: what is there now (kills whose sightings may still come wait up to the merge
  // window), then new entries as they arrive. Ends with SIGINT/SIGTERM, like journalctl -f.
  printer.print(builder.take_ready(realtime_now_us()), filter);
  for (;;) {
    auto more = (*source)->wait_for_more(std::chrono::milliseconds(1000));
    if (!more) {
      std::fprintf(stderr, "guardian events: %s\n", more.error().message.c_str());
      return kExitUsage;
    }
    for (const auto& record : *more) builder.add(record);
    const int64_t at = realtime_now_us();
    if (filter.until_us && at > *filter.until_us + review::TimelineBuilder::kMergeWindowUs) {
      printer.print(builder.finish(), filter);  // --until has passed: nothing more can come
      return kExitOk;
    }
    printer.print(builder.take_ready(at), filter);
  }
}

}  // namespace guardian::cli
