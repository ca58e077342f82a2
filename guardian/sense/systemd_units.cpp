#include "sense/systemd_units.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/units.h"

namespace guardian {

double oom_limit_from_u32(uint32_t scaled) {
  return static_cast<double>(scaled) * 100.0 / static_cast<double>(std::numeric_limits<uint32_t>::max());
}

uint32_t oom_limit_to_u32(double percent) {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(
      std::llround(percent / 100.0 * static_cast<double>(std::numeric_limits<uint32_t>::max())));
}

std::string unit_object_path(std::string_view unit) {
  std::string out = "/org/freedesktop/systemd1/unit/";
  if (unit.empty()) return out + "_";
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : unit) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9')) {
      out.push_back(c);
    } else {
      out.push_back('_');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
  return out;
}

std::optional<std::string> unit_name_from_object_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/org/freedesktop/systemd1/unit/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return std::nullopt;
  if (path == "_") return std::string();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '_') {
      out.push_back(path[i]);
      continue;
    }
    if (i + 2 >= path.size()) return std::nullopt;  // "_" needs two hex digits after it
    const int high = hex(path[i + 1]);
    const int low = hex(path[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

Result<std::optional<uint64_t>> parse_unit_memory_value(std::string_view text) {
  text = trim(text);
  if (text == "infinity" || text == "[not set]") return std::optional<uint64_t>{};
  auto value = parse_u64(text);
  if (!value)
    return make_error("invalid memory value \"" + std::string(text) + "\": expected bytes or \"infinity\"");
  if (*value == std::numeric_limits<uint64_t>::max()) return std::optional<uint64_t>{};
  return std::optional<uint64_t>{*value};
}

namespace {

// `systemctl show` splits Environment= on spaces, quoting values that contain them
// ("A=1 \"B=two words\""). Good enough for the PODMAN_SYSTEMD_UNIT check: split on unquoted spaces.
std::vector<std::string> split_environment(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (c == ' ' && !quoted) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

Result<UnitProperties> parse_unit_show(std::string_view text) {
  UnitProperties unit;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (trim(line).empty()) continue;
    const auto equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return make_error("line " + std::to_string(line_number) + ": expected Key=Value, got \"" +
                        std::string(line.substr(0, 80)) + "\"");
    }
    const std::string_view key = line.substr(0, equals);
    const std::string_view value = line.substr(equals + 1);
    auto where = [&](const Error& error) {
      return make_error("line " + std::to_string(line_number) + " (" + std::string(key) +
                        "): " + error.message);
    };
    auto memory = [&](std::optional<uint64_t>& into) -> Result<void> {
      auto parsed = parse_unit_memory_value(value);
      if (!parsed) return where(parsed.error());
      into = *parsed;
      return {};
    };
    Result<void> status;
    if (key == "Id")
      unit.name = value;
    else if (key == "LoadState")
      unit.load_state = value;
    else if (key == "ActiveState")
      unit.active_state = value;
    else if (key == "SubState")
      unit.sub_state = value;
    else if (key == "FreezerState")
      unit.freezer_state = value;
    else if (key == "ControlGroup")
      unit.control_group = value;
    else if (key == "Slice")
      unit.slice = value;
    else if (key == "SourcePath")
      unit.source_path = value;
    else if (key == "FragmentPath")
      unit.fragment_path = value;
    else if (key == "MemoryCurrent")
      status = memory(unit.memory_current);
    else if (key == "MemoryHigh")
      status = memory(unit.memory_high);
    else if (key == "MemoryMax")
      status = memory(unit.memory_max);
    else if (key == "MemoryLow")
      status = memory(unit.memory_low);
    else if (key == "ManagedOOMMemoryPressure")
      unit.managed_oom_memory_pressure = value;
    else if (key == "ManagedOOMPreference")
      unit.managed_oom_preference = value;
    else if (key == "ManagedOOMMemoryPressureLimit") {
      // systemctl prints the percentage ("80%"), or "0" when unset (oomd's default applies).
      if (trim(value) == "0") continue;
      auto percent = parse_percent(value);
      if (!percent) return where(percent.error());
      if (*percent > 0) unit.managed_oom_memory_pressure_limit_percent = *percent;
    } else if (key == "NRestarts") {
      auto restarts = parse_u64(trim(value));
      if (!restarts || *restarts > std::numeric_limits<uint32_t>::max()) {
        return where(make_error("expected a count, got \"" + std::string(value) + "\""));
      }
      unit.n_restarts = static_cast<uint32_t>(*restarts);
    } else if (key == "Environment") {
      unit.environment = split_environment(value);
    }
    if (!status) return status.error();
  }
  return unit;
}

std::optional<std::string> podman_scope_id(std::string_view unit) {
  constexpr std::string_view kPrefix = "libpod-";
  constexpr std::string_view kSuffix = ".scope";
  if (!unit.starts_with(kPrefix) || !unit.ends_with(kSuffix)) return std::nullopt;
  std::string_view id = unit.substr(kPrefix.size(), unit.size() - kPrefix.size() - kSuffix.size());
  if (id.size() != 64) return std::nullopt;  // also excludes "libpod-conmon-<id>.scope"
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return std::string(id);
}

namespace {
bool slice_is_container_slice(std::string_view slice) {
  // container.slice itself or a slice below it ("container-media.slice").
  return slice == "container.slice" || (slice.starts_with("container-") && slice.ends_with(".slice"));
}

std::string basename_without(std::string_view path, std::string_view suffix) {
  const auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (base.ends_with(suffix)) base.remove_suffix(suffix.size());
  return std::string(base);
}
}  // namespace

std::optional<ContainerUnit> classify_container(const UnitProperties& unit) {
  ContainerUnit container;
  container.unit = unit.name;
  container.slice = unit.slice;
  container.control_group = unit.control_group;
  container.memory_current = unit.memory_current;
  container.in_container_slice = slice_is_container_slice(unit.slice);
  if (auto id = podman_scope_id(unit.name)) {
    container.kind = ContainerKind::PodmanScope;
    container.container_id = *id;
    container.name = id->substr(0, 12);  // podman's short id until a name is found
    return container;
  }
  if (!unit.name.ends_with(".service")) return std::nullopt;
  bool quadlet = unit.source_path.ends_with(".container");
  for (const auto& variable : unit.environment) {
    if (variable.starts_with("PODMAN_SYSTEMD_UNIT=")) quadlet = true;
  }
  if (!quadlet) return std::nullopt;
  container.kind = ContainerKind::Quadlet;
  container.quadlet_file = unit.source_path;
  // The quadlet's base name is what `guardian adopt NAME` takes and what NAME.container.d is named after.
  container.name = unit.source_path.empty() ? basename_without(unit.name, ".service")
                                            : basename_without(unit.source_path, ".container");
  return container;
}

namespace {
std::optional<std::string> first_name(const nlohmann::json& entry) {
  if (!entry.is_object()) return std::nullopt;
  auto names = entry.find("names");
  if (names != entry.end() && names->is_array() && !names->empty() && names->front().is_string()) {
    return names->front().get<std::string>();
  }
  // An OCI runtime config (userdata/config.json) carries podman's annotations instead.
  auto annotations = entry.find("annotations");
  if (annotations != entry.end() && annotations->is_object()) {
    for (const char* key : {"io.podman.annotations.name", "io.kubernetes.cri-o.ContainerName"}) {
      auto found = annotations->find(key);
      if (found != annotations->end() && found->is_string()) return found->get<std::string>();
    }
  }
  return std::nullopt;
}
}  // namespace

Result<std::string> parse_podman_container_name(std::string_view json, std::string_view container_id) {
  nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return make_error("not valid JSON");
  if (document.is_array()) {
    for (const auto& entry : document) {
      if (!entry.is_object()) continue;
      auto id = entry.find("id");
      if (id == entry.end() || !id->is_string()) continue;
      if (!container_id.empty() && id->get<std::string>() != container_id) continue;
      if (auto name = first_name(entry)) return *name;
      return make_error("container " + id->get<std::string>() + " has no name");
    }
    return make_error(container_id.empty() ? std::string("no containers listed")
                                           : "no container with id " + std::string(container_id));
  }
  if (document.is_object()) {
    if (auto name = first_name(document)) return *name;
    return make_error("no \"names\" array and no name annotation");
  }
  return make_error("expected a JSON array or object");
}

Result<QuadletInfo> parse_quadlet(std::string_view text, QuadletInfo base) {
  QuadletInfo info = std::move(base);
  std::string section;
  size_t line_number = 0;
  std::string pending;  // a line continued with '\'
  size_t pending_start = 0;
  while (!text.empty() || !pending.empty()) {
    std::string_view raw;
    if (!text.empty()) {
      ++line_number;
      const auto end = text.find('\n');
      raw = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    std::string_view line = trim(raw);
    if (pending.empty() && (line.empty() || line.front() == '#' || line.front() == ';')) continue;
    if (!line.empty() && line.back() == '\\' && !text.empty()) {
      if (pending.empty()) pending_start = line_number;
      pending.append(line.substr(0, line.size() - 1));
      pending.push_back(' ');
      continue;
    }
    std::string joined;
    size_t at_line = line_number;
    if (!pending.empty()) {
      joined = std::move(pending) + std::string(line);
      pending.clear();
      at_line = pending_start;
      line = trim(joined);
      if (line.empty()) continue;
    }
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return make_error("line " + std::to_string(at_line) + ": malformed section header \"" +
                          std::string(line.substr(0, 80)) + "\"");
      }
      section = std::string(line.substr(1, line.size() - 2));
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      return make_error("line " + std::to_string(at_line) + ": expected Key=Value, got \"" +
                        std::string(line.substr(0, 80)) + "\"");
    }
    if (section.empty()) {
      return make_error("line " + std::to_string(at_line) + ": assignment outside of any [Section]");
    }
    const std::string_view key = trim(line.substr(0, equals));
    const std::string_view value = trim(line.substr(equals + 1));
    if (section == "Container" && key == "ContainerName") {
      info.container_name = value.empty() ? std::nullopt : std::optional<std::string>(value);
    } else if (section == "Service" && key == "Slice") {
      info.service_slice = value.empty() ? std::nullopt : std::optional<std::string>(value);
    }
  }
  return info;
}

}  // namespace guardian
