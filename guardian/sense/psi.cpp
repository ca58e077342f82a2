#include "sense/psi.h"

#include <string>

#include "common/units.h"
#include "sense/text.h"

namespace guardian {
namespace {

// Reads one "name=value" token at `pos` (after skipping one space separator) and advances `pos`.
// Returns the value text; `error` is set when the token is missing or named differently.
bool take_field(std::string_view line, size_t& pos, std::string_view name, std::string_view& value,
                std::string& error) {
  if (pos >= line.size() || line[pos] != ' ') {
    error = "expected \" " + std::string(name) + "=\" at column " + std::to_string(pos + 1);
    return false;
  }
  ++pos;
  if (line.substr(pos, name.size()) != name || pos + name.size() >= line.size() ||
      line[pos + name.size()] != '=') {
    error = "expected \"" + std::string(name) + "=\" at column " + std::to_string(pos + 1);
    return false;
  }
  pos += name.size() + 1;
  const size_t end = line.find(' ', pos);
  value = line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
  pos += value.size();
  return true;
}

bool take_average(std::string_view line, size_t& pos, std::string_view name, double& out,
                  std::string& error) {
  std::string_view text;
  if (!take_field(line, pos, name, text, error)) return false;
  // The kernel prints averages as "%lu.%02lu": digits, a dot, two digits; never a sign.
  auto value = text.empty() || text.front() == '-' || text.front() == '+' ? std::nullopt : parse_double(text);
  if (!value || *value > 100.0) {
    error = std::string(name) + " is " + quote_excerpt(text) + ", expected a percentage 0.00..100.00";
    return false;
  }
  out = *value;
  return true;
}

}  // namespace

Result<PsiLine> parse_psi_line(std::string_view line, std::string_view& kind) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  const size_t space = line.find(' ');
  const std::string_view head = line.substr(0, space);
  if (head != "some" && head != "full") {
    return make_error("PSI line starts with " + quote_excerpt(head, 16) + ", expected \"some\" or \"full\"");
  }
  PsiLine out;
  std::string error;
  size_t pos = head.size();
  std::string_view total;
  if (!take_average(line, pos, "avg10", out.avg10, error) ||
      !take_average(line, pos, "avg60", out.avg60, error) ||
      !take_average(line, pos, "avg300", out.avg300, error) || !take_field(line, pos, "total", total, error)) {
    return make_error(std::string(head) + " line: " + error);
  }
  auto total_us = parse_u64(total);
  if (!total_us) {
    return make_error(std::string(head) + " line: total is " + quote_excerpt(total, 32) +
                      ", expected microseconds as an unsigned integer");
  }
  if (pos != line.size()) {
    return make_error(std::string(head) + " line: unexpected text after total at column " +
                      std::to_string(pos + 1));
  }
  out.total_us = *total_us;
  kind = head;
  return out;
}

Result<Psi> parse_psi(std::string_view text) {
  Psi out;
  bool have_some = false;
  bool have_full = false;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    std::string_view kind;
    auto parsed = parse_psi_line(line, kind);
    if (!parsed) return make_error("line " + std::to_string(line_number) + ": " + parsed.error().message);
    bool& seen = kind == "some" ? have_some : have_full;
    if (seen) return make_error("line " + std::to_string(line_number) + ": second \"" + std::string(kind) + "\" line");
    seen = true;
    (kind == "some" ? out.some : out.full) = *parsed;
  }
  if (!have_some || !have_full) {
    return make_error(std::string("memory pressure needs both lines, \"") + (have_some ? "full" : "some") +
                      "\" is missing");
  }
  return out;
}

}  // namespace guardian
