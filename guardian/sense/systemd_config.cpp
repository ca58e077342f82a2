#include "sense/systemd_config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "common/units.h"

namespace guardian {
namespace {

// The user's home from the host's /etc/passwd (through the host root, so fixtures carry their
// own), for ~/.config/systemd/user drop-ins. Empty when not found.
std::string home_of(const HostRoot& host, uint32_t uid) {
  auto passwd = read_file(host.path("/etc/passwd"));
  if (!passwd.ok()) return {};
  std::string_view text = *passwd;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    // name:password:uid:gid:gecos:home:shell
    std::string_view fields[7];
    size_t count = 0;
    while (count < 7) {
      const auto colon = line.find(':');
      fields[count++] = line.substr(0, colon);
      if (colon == std::string_view::npos) break;
      line = line.substr(colon + 1);
    }
    if (count >= 6 && parse_u64(fields[2]) == uid) return std::string(fields[5]);
  }
  return {};
}

// The directory families systemd layers configuration from, highest priority first
// (systemd's CONF_PATHS; /lib last for hosts without merged /usr).
constexpr const char* kConfRoots[] = {"/etc", "/run", "/usr/local/lib", "/usr/lib", "/lib"};

enum class EntryKind { kMissing, kMasked, kFile };

// A name symlinked to /dev/null masks it (systemd.unit(5), "Masking"); the link target is
// read, not followed, because under --host-root an absolute link points outside the fixture.
EntryKind entry_kind(const std::string& open_path) {
  struct stat st {};
  if (::lstat(open_path.c_str(), &st) != 0) return EntryKind::kMissing;
  if (S_ISLNK(st.st_mode)) {
    char target[64];
    const ssize_t n = ::readlink(open_path.c_str(), target, sizeof target);
    if (n == 9 && std::string_view(target, 9) == "/dev/null") return EntryKind::kMasked;
    if (::stat(open_path.c_str(), &st) != 0) return EntryKind::kMissing;
  }
  if (S_ISCHR(st.st_mode)) return EntryKind::kMasked;  // the /dev/null device itself
  return S_ISREG(st.st_mode) ? EntryKind::kFile : EntryKind::kMissing;
}

std::vector<std::string> list_conf_names(const std::string& open_dir) {
  std::vector<std::string> names;
  DIR* raw = ::opendir(open_dir.c_str());
  if (raw == nullptr) return names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(raw, ::closedir);
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".conf" && name.front() != '.')
      names.emplace_back(name);
  }
  return names;
}

// conf_files_list_strv(): every "*.conf" in `dirs` (highest priority first); a file name seen in
// an earlier dir hides the same name later; the survivors sorted by file name.
std::vector<ConfigFile> read_dropins(const HostRoot& host, const std::vector<std::string>& dirs) {
  std::map<std::string, std::optional<std::string>> by_name;  // name -> host path (nullopt: masked)
  for (const auto& dir : dirs) {
    for (auto& name : list_conf_names(host.path(dir))) {
      if (by_name.contains(name)) continue;
      const std::string host_path = dir + "/" + name;
      const EntryKind kind = entry_kind(host.path(host_path));
      if (kind == EntryKind::kMissing) continue;
      by_name.emplace(std::move(name), kind == EntryKind::kMasked ? std::nullopt : std::optional(host_path));
    }
  }
  std::vector<ConfigFile> out;
  for (const auto& [name, host_path] : by_name) {  // std::map iterates sorted by name
    if (!host_path) continue;
    if (auto content = read_file(host.path(*host_path))) out.push_back({*host_path, std::move(*content)});
  }
  return out;
}

std::vector<std::string> unit_search_path(ManagerScope scope, const std::string& home) {
  // systemd's lookup_paths_init() order (man systemd.unit, "Unit File Load Path"). The
  // $XDG_RUNTIME_DIR dirs are left out: they hold transient units, not oomd settings.
  if (scope == ManagerScope::System) {
    return {"/etc/systemd/system.control",   "/run/systemd/system.control",  "/run/systemd/transient",
            "/run/systemd/generator.early",  "/etc/systemd/system",          "/etc/systemd/system.attached",
            "/run/systemd/system",           "/run/systemd/system.attached", "/run/systemd/generator",
            "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",      "/lib/systemd/system",
            "/run/systemd/generator.late"};
  }
  std::vector<std::string> dirs;
  if (!home.empty()) dirs.push_back(home + "/.config/systemd/user.control");
  if (!home.empty()) dirs.push_back(home + "/.config/systemd/user");
  for (const char* dir : {"/etc/xdg/systemd/user", "/etc/systemd/user", "/run/systemd/user"})
    dirs.emplace_back(dir);
  if (!home.empty()) dirs.push_back(home + "/.local/share/systemd/user");
  for (const char* dir : {"/usr/local/share/systemd/user", "/usr/share/systemd/user",
                          "/usr/local/lib/systemd/user", "/usr/lib/systemd/user", "/lib/systemd/user"}) {
    dirs.emplace_back(dir);
  }
  return dirs;
}

// "user@1000.service" -> "user@.service"; empty when `unit` is not a template instance.
std::string template_of(const std::string& unit) {
  const size_t at = unit.find('@');
  const size_t dot = unit.rfind('.');
  if (at == std::string::npos || dot == std::string::npos || dot < at || dot == at + 1) return {};
  return unit.substr(0, at + 1) + unit.substr(dot);
}

// unit_file_find_dirs(): "<name>.d", the template's dirs, then each dash prefix
// ("app-gnome-foo.scope" -> "app-gnome-.scope" -> "app-.scope"), in that order for one search dir.
void unit_dropin_dirs(const std::string& search_dir, const std::string& name, std::vector<std::string>& out,
                      unsigned depth = 0) {
  if (depth > 64) return;
  out.push_back(search_dir + "/" + name + ".d");
  if (const std::string tmpl = template_of(name); !tmpl.empty())
    unit_dropin_dirs(search_dir, tmpl, out, depth + 1);
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return;
  const size_t at = name.find('@');
  const std::string type_suffix = name.substr(dot);
  std::string instance;
  if (at != std::string::npos && at < dot) instance = name.substr(at + 1, dot - at - 1);
  std::string prefix = name.substr(0, std::min(at, dot));
  bool chopped = false;
  for (;;) {
    const size_t dash = prefix.rfind('-');
    if (dash == std::string::npos || dash == 0) return;
    if (dash + 1 != prefix.size() || chopped) {
      prefix.resize(dash + 1);
      break;
    }
    prefix.resize(dash);  // a trailing dash: drop it and look for the one before, once
    chopped = true;
  }
  const std::string built =
      at != std::string::npos && at < dot ? prefix + "@" + instance + type_suffix : prefix + type_suffix;
  unit_dropin_dirs(search_dir, built, out, depth + 1);
}

bool valid_unit_name(const std::string& unit) {
  return !unit.empty() && unit.size() < 256 && unit.find('/') == std::string::npos &&
         unit.find('.') != std::string::npos && unit.front() != '.';
}

}  // namespace

std::vector<ConfigFile> read_oomd_conf(const HostRoot& host) {
  std::vector<ConfigFile> out;
  for (const char* root : kConfRoots) {
    const std::string host_path = std::string(root) + "/systemd/oomd.conf";
    const EntryKind kind = entry_kind(host.path(host_path));
    if (kind == EntryKind::kMissing) continue;
    if (kind == EntryKind::kFile) {
      if (auto content = read_file(host.path(host_path))) out.push_back({host_path, std::move(*content)});
    }
    break;  // the first one found is the main file, even when masked
  }
  std::vector<std::string> dirs;
  for (const char* root : kConfRoots) dirs.push_back(std::string(root) + "/systemd/oomd.conf.d");
  for (auto& file : read_dropins(host, dirs)) out.push_back(std::move(file));
  return out;
}

std::vector<ConfigFile> read_unit_config(const HostRoot& host, ManagerScope scope, const std::string& unit,
                                         const std::string& home) {
  std::vector<ConfigFile> out;
  if (!valid_unit_name(unit)) return out;
  const std::vector<std::string> search = unit_search_path(scope, home);

  // The unit file: the name itself on the whole path first, then its template.
  bool found = false;
  for (const std::string& name : {unit, template_of(unit)}) {
    if (name.empty()) continue;
    for (const auto& dir : search) {
      const std::string host_path = dir + "/" + name;
      const EntryKind kind = entry_kind(host.path(host_path));
      if (kind == EntryKind::kMissing) continue;
      if (kind == EntryKind::kFile) {
        if (auto content = read_file(host.path(host_path))) out.push_back({host_path, std::move(*content)});
      }
      found = true;
      break;
    }
    if (found) break;
  }

  std::vector<std::string> dirs;
  for (const auto& dir : search) unit_dropin_dirs(dir, unit, dirs);
  // Top-level "<type>.d" drop-ins ("slice.d", "service.d") come last: the most generic, so a
  // more specific drop-in of the same name overrides them.
  const std::string type = unit.substr(unit.rfind('.') + 1);
  for (const auto& dir : search) dirs.push_back(dir + "/" + type + ".d");
  for (auto& file : read_dropins(host, dirs)) out.push_back(std::move(file));
  return out;
}

OomdConfigFiles read_oomd_config_files(const HostRoot& host, const HostLayout& layout,
                                       const std::set<std::string>& user_slices) {
  OomdConfigFiles files;
  files.oomd_conf = read_oomd_conf(host);
  auto add = [&](ManagerScope scope, const std::string& unit, const std::string& home) {
    auto fragments = read_unit_config(host, scope, unit, home);
    if (fragments.empty()) return;
    files.units.push_back({scope, unit, std::move(fragments)});
  };
  // System manager units that can be oomd targets guardian can see: the user's manager
  // (Debian 12 and older Fedora: user@.service at 50%) and system.slice (Fedora, read-only).
  if (!layout.user_manager_path.empty())
    add(ManagerScope::System, "user@" + std::to_string(layout.uid) + ".service", {});
  add(ManagerScope::System, "system.slice", {});
  // Every slice inside the user manager, by name: its fragments include the type drop-ins
  // (Fedora's user/slice.d/10-oomd-per-slice-defaults.conf) and its own.
  if (!layout.user_manager_path.empty()) {
    const std::string home = home_of(host, layout.uid);
    for (const auto& slice : user_slices) add(ManagerScope::User, slice, home);
  }
  return files;
}

}  // namespace guardian
