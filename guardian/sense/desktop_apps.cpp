#include "sense/desktop_apps.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/fd.h"

namespace guardian {
namespace {

// A desktop file is a few KB; one larger than this is not read (and its Name= not trusted).
constexpr size_t kMaxDesktopFile = 256 * 1024;
// Names longer than this are cut: a notification line, not a document.
constexpr size_t kMaxName = 80;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The spec's escapes of string values.
std::string unescape_value(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    switch (value[++i]) {
      case 's': out += ' '; break;
      case 'n': out += ' '; break;  // one line in a notification
      case 't': out += ' '; break;
      case 'r': break;
      case '\\': out += '\\'; break;
      default: out += '\\', out += value[i];
    }
  }
  return out;
}

// systemd's unit name escaping: "\x2d" -> '-'. Anything else is left as it is.
std::string unescape_unit(std::string_view text) {
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x' && hex(text[i + 2]) >= 0 &&
        hex(text[i + 3]) >= 0) {
      out += static_cast<char>(hex(text[i + 2]) * 16 + hex(text[i + 3]));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool all_of_set(std::string_view text, std::string_view set) {
  return !text.empty() && text.find_first_not_of(set) == std::string_view::npos;
}

// "app-gnome-firefox-2871.scope" -> "gnome-firefox"; "" when not an application's unit.
std::string_view app_part(std::string_view unit) {
  if (!unit.starts_with("app-")) return {};
  unit.remove_prefix(4);
  if (unit.ends_with(".scope")) {
    unit.remove_suffix(6);
    // The random part: digits (a PID, GNOME) or hex (KDE, a random id).
    const size_t dash = unit.rfind('-');
    if (dash != std::string_view::npos && all_of_set(unit.substr(dash + 1), "0123456789abcdefABCDEF"))
      unit = unit.substr(0, dash);
  } else if (unit.ends_with(".service")) {
    unit.remove_suffix(8);
    if (const size_t at = unit.find('@'); at != std::string_view::npos) unit = unit.substr(0, at);
  } else {
    return {};
  }
  return unit;
}

}  // namespace

std::optional<std::string> desktop_entry_name(std::string_view text) {
  bool in_entry = false;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      in_entry = line == "[Desktop Entry]";
      continue;
    }
    if (!in_entry) continue;
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    if (trim(line.substr(0, equals)) != "Name") continue;  // Name[de], GenericName: not it
    std::string name = unescape_value(trim(line.substr(equals + 1)));
    // Control bytes have no place in one line of a notification.
    for (char& c : name)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (name.size() > kMaxName) name.resize(kMaxName);
    if (trim(name).empty()) return std::nullopt;
    return std::string(trim(name));
  }
  return std::nullopt;
}

std::vector<std::string> desktop_ids_of_unit(std::string_view unit) {
  const std::string_view app = app_part(unit);
  if (app.empty()) return {};
  std::vector<std::string> ids;
  auto add = [&](std::string_view escaped) {
    std::string id = unescape_unit(escaped);
    if (id.empty() || id.find('/') != std::string::npos || id.starts_with(".")) return;  // never a path
    for (const auto& known : ids)
      if (known == id) return;
    ids.push_back(std::move(id));
  };
  // The id is what follows the last unescaped '-' (a launcher comes before it); an unescaped
  // id with dashes of its own (an older launcher) is tried whole after the launcher, then whole.
  const size_t last = app.rfind('-');
  add(last == std::string_view::npos ? app : app.substr(last + 1));
  if (const size_t first = app.find('-'); first != std::string_view::npos && first != last)
    add(app.substr(first + 1));
  add(app);
  return ids;
}

std::string cleaned_app_name(std::string_view unit) {
  const auto ids = desktop_ids_of_unit(unit);
  std::string id;
  if (!ids.empty()) {
    id = ids.front();
  } else {
    // Not an app-* unit: its name without the type suffix ("gnome-shell.service" -> "gnome-shell").
    id = unescape_unit(
        unit.substr(0, unit.rfind('.') == std::string_view::npos ? unit.size() : unit.rfind('.')));
  }
  if (const size_t dot = id.rfind('.'); dot != std::string::npos && dot + 1 < id.size())
    id = id.substr(dot + 1);
  if (!id.empty() && id.front() >= 'a' && id.front() <= 'z')
    id.front() = static_cast<char>(id.front() - 'a' + 'A');
  for (char& c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (id.size() > kMaxName) id.resize(kMaxName);
  return id;
}

DataDirs DataDirs::from(const char* xdg_data_home, const char* home, const char* xdg_data_dirs) {
  DataDirs dirs;
  if (xdg_data_home != nullptr && xdg_data_home[0] == '/')
    dirs.data_home = xdg_data_home;
  else if (home != nullptr && home[0] == '/')
    dirs.data_home = std::string(home) + "/.local/share";
  const std::string_view list = xdg_data_dirs != nullptr ? xdg_data_dirs : "";
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(':', start), list.size());
    const std::string_view entry = list.substr(start, end - start);
    if (!entry.empty() && entry.front() == '/') dirs.data_dirs.emplace_back(entry);
    start = end + 1;
  }
  // The spec's default when unset or empty.
  if (dirs.data_dirs.empty()) dirs.data_dirs = {"/usr/local/share", "/usr/share"};
  return dirs;
}

DataDirs DataDirs::from_environment() {
  // NOLINTBEGIN(concurrency-mt-unsafe): read once at start, before any thread exists
  return from(std::getenv("XDG_DATA_HOME"), std::getenv("HOME"), std::getenv("XDG_DATA_DIRS"));
  // NOLINTEND(concurrency-mt-unsafe)
}

std::optional<std::string> DesktopNames::name_from_file(const std::string& id) {
  std::vector<std::string> dirs;
  if (!dirs_.data_home.empty()) dirs.push_back(dirs_.data_home);
  dirs.insert(dirs.end(), dirs_.data_dirs.begin(), dirs_.data_dirs.end());
  for (const auto& dir : dirs) {
    const std::string path = host_.path(dir + "/applications/" + id + ".desktop");
    // Regular files only, opened without blocking (a FIFO planted there must not stall the worker).
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) continue;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<size_t>(st.st_size) > kMaxDesktopFile)
      continue;
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    // The first file of that id is the one the desktop uses (the spec's precedence), Name= or not.
    return desktop_entry_name(text);
  }
  return std::nullopt;
}

std::string DesktopNames::name_of(std::string_view unit) {
  for (const auto& id : desktop_ids_of_unit(unit)) {
    auto found = by_id_.find(id);
    if (found == by_id_.end()) found = by_id_.emplace(id, name_from_file(id)).first;
    if (found->second) return *found->second;
  }
  return cleaned_app_name(unit);
}

}  // namespace guardian
