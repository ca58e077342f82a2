#include "cli/args.h"

#include "common/units.h"

namespace guardian::cli {

bool Args::parse(int argc, char** argv, const std::vector<OptionSpec>& specs) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional_.emplace_back(argv[i]);
      break;
    }
    if (!arg.starts_with("--")) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& candidate : specs) {
      if (candidate.name == name) spec = &candidate;
    }
    if (!spec) {
      std::fprintf(stderr, "%s: unknown option --%s (see --help)\n", argv[0], name.c_str());
      return false;
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: --%s needs a value\n", argv[0], name.c_str());
        return false;
      }
      value = argv[++i];
    } else if (!spec->takes_value && value) {
      std::fprintf(stderr, "%s: --%s takes no value\n", argv[0], name.c_str());
      return false;
    }
    values_[name] = value.value_or("");
  }
  return true;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void Args::print_help(FILE* out, const std::string& usage, const std::vector<OptionSpec>& specs) {
  std::fprintf(out, "usage: %s\n\noptions:\n", usage.c_str());
  for (const auto& spec : specs) {
    std::string left = "--" + spec.name + (spec.takes_value ? " VALUE" : "");
    std::fprintf(out, "  %-22s %s\n", left.c_str(), spec.help.c_str());
  }
}

bool read_uid_option(const Args& args, const char* command, std::optional<uint32_t>& uid) {
  auto text = args.get("uid");
  if (!text) return true;
  auto parsed = parse_u64(*text);
  if (!parsed || *parsed > UINT32_MAX) {
    std::fprintf(stderr, "guardian %s: --uid wants a number, got \"%s\"\n", command, text->c_str());
    return false;
  }
  uid = static_cast<uint32_t>(*parsed);
  return true;
}

bool read_interval_option(const Args& args, const char* command, std::chrono::microseconds& interval) {
  auto text = args.get("interval");
  if (!text) return true;
  auto parsed = parse_duration(*text);
  if (!parsed.ok()) {
    std::fprintf(stderr, "guardian %s: --interval: %s\n", command, parsed.error().message.c_str());
    return false;
  }
  interval = *parsed;
  return true;
}

}  // namespace guardian::cli
