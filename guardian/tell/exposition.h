// The Prometheus text exposition format (version 0.0.4), written directly: the renderer /metrics
// used before it moved to prometheus-cpp's Registry + TextSerializer (tell/metrics_exporter.h).
// Kept as the yardstick of tests/bench/bench_metrics.cpp, which renders the same series both ways
// (grafana/README.md, "Benchmark"): a family here keeps each series' label block rendered once, at
// creation, so a scrape is one pass of memcpy and to_chars (0.43 ms CPU for 9,050 samples against
// prometheus-cpp's 17.5 ms). The daemon does not link it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace guardian {

using LabelPairs = std::vector<std::pair<std::string_view, std::string_view>>;

class TextFamily {
 public:
  enum class Kind { Counter, Gauge };
  TextFamily(std::string name, std::string help, Kind kind);

  // The value of the series with these labels, created at 0 when new. The reference stays valid
  // until the series is removed (std::map nodes do not move).
  double& at(const LabelPairs& labels);
  [[nodiscard]] const double* find(const LabelPairs& labels) const;
  void remove(const LabelPairs& labels);
  void clear() { series_.clear(); }
  [[nodiscard]] size_t size() const { return series_.size(); }
  [[nodiscard]] const std::string& name() const { return name_; }

  // Appends "# HELP", "# TYPE" and one line per series (sorted by labels: stable output).
  // A family without series renders nothing, as Prometheus's own clients do.
  void render(std::string& out) const;

  // The label block `{a="x",b="y"}` with values escaped (\\, \", \n); "" for no labels.
  static std::string label_block(const LabelPairs& labels);

 private:
  std::string name_;
  std::string header_;                    // "# HELP …\n# TYPE …\n"
  std::map<std::string, double> series_;  // by label block
};

// Appends a sample value as Prometheus writes it: integers without a fraction, "+Inf", "-Inf",
// "NaN", otherwise the shortest text that reads back as the same double.
void append_sample_value(std::string& out, double value);

}  // namespace guardian
