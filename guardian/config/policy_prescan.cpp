#include "config/policy_prescan.h"

#include <vector>

namespace guardian {
namespace {

class ShapeScanner {
 public:
  ShapeScanner(std::string_view text, const PolicyShapeLimits& limits) : text_(text), limits_(limits) {}

  std::optional<PrescanProblem> run() {
    while (i_ < text_.size() && !problem_) {
      const char c = text_[i_];
      if (c == '\n') {
        advance();
        if (stack_.empty()) start_key();
        continue;
      }
      if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n') advance();
        continue;
      }
      if (c == '"' || c == '\'') {
        skip_string(c);
        continue;
      }
      if (key_mode_)
        key_char(c);
      else
        value_char(c);
      advance();
    }
    return problem_;
  }

 private:
  void advance() {
    if (text_[i_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++i_;
  }
  void start_key() {
    key_mode_ = true;
    dots_ = 0;
  }
  void fail(std::string message) {
    if (!problem_) problem_ = PrescanProblem{line_, column_, std::move(message)};
  }

  void key_char(char c) {
    if (c == '[' && stack_.empty() && !in_header_) {
      in_header_ = true;  // [table] or [[array]]: its name is a dotted key like any other
      dots_ = 0;
      return;
    }
    if (c == ']' && in_header_) {
      in_header_ = false;
      dots_ = 0;
      return;
    }
    if (c == '.') {
      if (++dots_ + 1 > limits_.max_key_segments) {
        fail("a key of more than " + std::to_string(limits_.max_key_segments) +
             " dotted parts (a.b.c…); a policy's keys have at most 2");
      }
      return;
    }
    if (c == '=' && !in_header_) {
      key_mode_ = false;
      dots_ = 0;
      return;
    }
    if (c == '}' && !stack_.empty() && stack_.back() == '{') {  // an empty inline table "{}"
      stack_.pop_back();
      key_mode_ = false;
    }
  }

  void value_char(char c) {
    switch (c) {
      case '[':
      case '{':
        stack_.push_back(c);
        if (stack_.size() > limits_.max_nesting) {
          fail("arrays and inline tables nested more than " + std::to_string(limits_.max_nesting) +
               " deep; a policy needs 3");
        }
        if (c == '{') start_key();
        break;
      case ']':
      case '}':
        if (!stack_.empty()) stack_.pop_back();
        break;
      case ',':
        if (!stack_.empty() && stack_.back() == '{') start_key();
        break;
      default: break;
    }
  }

  // Skips a TOML string of any of the four kinds; a dot or bracket inside it does not count. An
  // unterminated one runs to the end of its line (single-line) or of the text (multi-line):
  // toml++ reports it.
  void skip_string(char quote) {
    const bool basic = quote == '"';
    const bool multi = text_.substr(i_, 3) == std::string_view(quote == '"' ? "\"\"\"" : "'''");
    for (int k = 0; k < (multi ? 3 : 1); ++k) advance();
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == '\n' && !multi) return;
      if (basic && c == '\\') {
        advance();
        if (i_ < text_.size()) advance();
        continue;
      }
      if (c == quote) {
        if (!multi) {
          advance();
          return;
        }
        if (text_.substr(i_, 3) == std::string_view(quote == '"' ? "\"\"\"" : "'''")) {
          for (int k = 0; k < 3; ++k) advance();
          // Up to two more quotes belong to the string ("""a"""" ends with a quote).
          while (i_ < text_.size() && text_[i_] == quote) advance();
          return;
        }
      }
      advance();
    }
  }

  std::string_view text_;
  const PolicyShapeLimits& limits_;
  size_t i_ = 0;
  uint32_t line_ = 1;
  uint32_t column_ = 1;
  bool key_mode_ = true;
  bool in_header_ = false;
  size_t dots_ = 0;
  std::vector<char> stack_;  // '[' and '{' open in the current value
  std::optional<PrescanProblem> problem_;
};

}  // namespace

std::optional<PrescanProblem> prescan_policy_shape(std::string_view text, const PolicyShapeLimits& limits) {
  return ShapeScanner(text, limits).run();
}

}  // namespace guardian
