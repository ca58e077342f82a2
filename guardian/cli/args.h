// A small option parser for the subcommands: "--name VALUE", "--name=VALUE", "--flag".
// Unknown options are a usage error naming the option.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace guardian::cli {

struct OptionSpec {
  std::string name;  // without "--"
  bool takes_value = false;
  std::string help;
};

class Args {
 public:
  // Parses argv[1..]; returns false (after printing the problem to stderr) on a usage error.
  bool parse(int argc, char** argv, const std::vector<OptionSpec>& specs);
  [[nodiscard]] bool has(const std::string& name) const { return values_.contains(name); }
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  [[nodiscard]] const std::vector<std::string>& positional() const { return positional_; }
  static void print_help(FILE* out, const std::string& usage, const std::vector<OptionSpec>& specs);

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Shared options: `--uid N` and `--interval DURATION`. Each returns false after printing the
// problem as "guardian COMMAND: --NAME ..." to stderr; the value is left alone when the option
// is absent.
bool read_uid_option(const Args& args, const char* command, std::optional<uint32_t>& uid);
bool read_interval_option(const Args& args, const char* command, std::chrono::microseconds& interval);

}  // namespace guardian::cli
