#include "tell/exposition.h"

#include <charconv>
#include <cmath>

namespace guardian {
namespace {

void append_escaped(std::string& out, std::string_view text, bool quote_escape) {
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '"':
        if (quote_escape) {
          out += "\\\"";
          break;
        }
        [[fallthrough]];
      default: out += c;
    }
  }
}

}  // namespace

TextFamily::TextFamily(std::string name, std::string help, Kind kind) : name_(std::move(name)) {
  header_ = "# HELP " + name_ + " ";
  append_escaped(header_, help, /*quote_escape=*/false);  // HELP escapes only \ and newline
  header_ += "\n# TYPE " + name_ + (kind == Kind::Counter ? " counter\n" : " gauge\n");
}

std::string TextFamily::label_block(const LabelPairs& labels) {
  if (labels.empty()) return {};
  std::string block = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) block += ',';
    first = false;
    block += key;
    block += "=\"";
    append_escaped(block, value, /*quote_escape=*/true);
    block += '"';
  }
  block += '}';
  return block;
}

double& TextFamily::at(const LabelPairs& labels) {
  return series_.try_emplace(label_block(labels), 0.0).first->second;
}

const double* TextFamily::find(const LabelPairs& labels) const {
  const auto it = series_.find(label_block(labels));
  return it == series_.end() ? nullptr : &it->second;
}

void TextFamily::remove(const LabelPairs& labels) { series_.erase(label_block(labels)); }

void TextFamily::render(std::string& out) const {
  if (series_.empty()) return;
  out += header_;
  for (const auto& [labels, value] : series_) {
    out += name_;
    out += labels;
    out += ' ';
    append_sample_value(out, value);
    out += '\n';
  }
}

void append_sample_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[32];
  std::to_chars_result result;
  // Byte counts and other whole numbers read better (and diff better) without an exponent.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {  // 2^53
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out.append(buffer, result.ptr);
}

}  // namespace guardian
