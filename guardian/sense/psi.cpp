#include "sense/psi.h"

#include <cstring>
#include <string>

#include "sense/text.h"

namespace guardian {
namespace {

// A cursor over one PSI line. Fields are " name=value", the value running to the next space.
struct Cursor {
  const char* begin;
  const char* p;
  const char* end;
  std::string error;

  [[nodiscard]] std::string column() const { return std::to_string(p - begin + 1); }

  // Takes " name=" and returns the value text after it.
  template <size_t N>
  bool field(const char (&name)[N], std::string_view& value) {
    constexpr size_t kNameSize = N - 1;
    if (p >= end || *p != ' ') {
      error = std::string("expected \" ") + name + "=\" at column " + column();
      return false;
    }
    ++p;
    if (!starts_with_literal(p, end, name) || p + kNameSize >= end || p[kNameSize] != '=') {
      error = std::string("expected \"") + name + "=\" at column " + column();
      return false;
    }
    p += kNameSize + 1;
    const char* value_end = p;
    while (value_end < end && *value_end != ' ') ++value_end;
    value = std::string_view(p, static_cast<size_t>(value_end - p));
    p = value_end;
    return true;
  }

  template <size_t N>
  bool average(const char (&name)[N], double& out) {
    std::string_view text;
    if (!field(name, text)) return false;
    double value = 0;
    if (!parse_fixed_point(text.data(), text.data() + text.size(), value) || value > 100.0) {
      error = std::string(name) + " is " + quote_excerpt(text) + ", expected a percentage 0.00..100.00";
      return false;
    }
    out = value;
    return true;
  }
};

// The same grammar as Cursor, in one pass and without building anything: a tick reads ~500
// pressure files. Returns false on any deviation; the caller then runs the slow parser, which
// says what is wrong.
template <size_t N>
bool take_literal(const char*& p, const char* end, const char (&literal)[N]) {
  if (!starts_with_literal(p, end, literal)) return false;
  p += N - 1;
  return true;
}

bool take_average_fast(const char*& p, const char* end, double& out) {
  static constexpr double kScale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  uint64_t whole = 0;
  int digits = 0;
  for (; p < end && *p >= '0' && *p <= '9'; ++p, ++digits)
    whole = whole * 10 + static_cast<uint64_t>(*p - '0');
  if (digits == 0 || digits > 6) return false;
  double value = static_cast<double>(whole);
  if (p < end && *p == '.') {
    ++p;
    uint64_t fraction = 0;
    digits = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p, ++digits)
      fraction = fraction * 10 + static_cast<uint64_t>(*p - '0');
    if (digits == 0 || digits > 6) return false;
    value += static_cast<double>(fraction) / kScale[digits];
  }
  if (value > 100.0 || (p < end && *p != ' ')) return false;
  out = value;
  return true;
}

bool parse_psi_line_fast(const char* p, const char* end, PsiLine& out, bool& is_some) {
  if (starts_with_literal(p, end, "some "))
    is_some = true;
  else if (starts_with_literal(p, end, "full "))
    is_some = false;
  else
    return false;
  p += 4;
  return take_literal(p, end, " avg10=") && take_average_fast(p, end, out.avg10) &&
         take_literal(p, end, " avg60=") && take_average_fast(p, end, out.avg60) &&
         take_literal(p, end, " avg300=") && take_average_fast(p, end, out.avg300) &&
         take_literal(p, end, " total=") && parse_decimal(p, end, out.total_us);
}

}  // namespace

Result<PsiLine> parse_psi_line(std::string_view line, std::string_view& kind) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  const char* const end = line.data() + line.size();
  std::string_view head;
  if (starts_with_literal(line.data(), end, "some")) head = "some";
  if (starts_with_literal(line.data(), end, "full")) head = "full";
  if (head.empty() || (line.size() > 4 && line[4] != ' ')) {
    return make_error("PSI line starts with " + quote_excerpt(line.substr(0, line.find(' ')), 16) +
                      ", expected \"some\" or \"full\"");
  }
  PsiLine out;
  Cursor cursor{line.data(), line.data() + 4, end, {}};
  std::string_view total;
  if (!cursor.average("avg10", out.avg10) || !cursor.average("avg60", out.avg60) ||
      !cursor.average("avg300", out.avg300) || !cursor.field("total", total)) {
    return make_error(std::string(head) + " line: " + cursor.error);
  }
  if (!parse_decimal(total.data(), total.data() + total.size(), out.total_us)) {
    return make_error(std::string(head) + " line: total is " + quote_excerpt(total, 32) +
                      ", expected microseconds as an unsigned integer");
  }
  if (cursor.p != end) {
    return make_error(std::string(head) + " line: unexpected text after total at column " + cursor.column());
  }
  kind = head;
  return out;
}

Result<Psi> parse_psi(std::string_view text) {
  Psi out;
  bool have_some = false;
  bool have_full = false;
  size_t line_number = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    ++line_number;
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = newline != nullptr ? newline : end;
    PsiLine fast;
    bool is_some = false;
    if (parse_psi_line_fast(p, line_end, fast, is_some)) {
      bool& seen = is_some ? have_some : have_full;
      if (!seen) {
        seen = true;
        (is_some ? out.some : out.full) = fast;
        p = line_end + 1;
        continue;
      }
    }
    std::string_view kind;
    auto parsed = parse_psi_line(std::string_view(p, static_cast<size_t>(line_end - p)), kind);
    if (!parsed) return make_error("line " + std::to_string(line_number) + ": " + parsed.error().message);
    bool& seen = kind == "some" ? have_some : have_full;
    if (seen)
      return make_error("line " + std::to_string(line_number) + ": second \"" + std::string(kind) +
                        "\" line");
    seen = true;
    (kind == "some" ? out.some : out.full) = *parsed;
    p = line_end + 1;
  }
  if (!have_some || !have_full) {
    return make_error(std::string("memory pressure needs both lines, \"") + (have_some ? "full" : "some") +
                      "\" is missing");
  }
  return out;
}

}  // namespace guardian
