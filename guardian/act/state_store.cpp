#include "act/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/fd.h"
#include "common/host_root.h"

namespace guardian {
namespace {

std::string now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// mkdir -p for the state directory (0700: the file names what guardian changed).
Result<void> make_dirs(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return make_error(partial + ": " + std::strerror(errno));
    }
  }
  return {};
}

Result<void> write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(path + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

StateStore::StateStore(std::string path) : path_(std::move(path)) {}

std::string StateStore::default_path() {
  const char* state_home = std::getenv("XDG_STATE_HOME");  // NOLINT(concurrency-mt-unsafe): read at start
  if (state_home && *state_home == '/') return std::string(state_home) + "/guardian/state.json";
  const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
  return std::string(home && *home ? home : "/tmp") + "/.local/state/guardian/state.json";
}

Result<std::map<std::string, SavedValue>> StateStore::parse(std::string_view text) {
  // nlohmann throws on malformed input: this is the edge where that becomes an error value.
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("not valid JSON");
  if (!doc.is_object()) return make_error("expected a JSON object at the top level");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != 1) {
    return make_error("expected \"version\": 1");
  }
  auto saved = doc.find("saved");
  if (saved == doc.end() || !saved->is_object()) return make_error("expected an object \"saved\"");
  std::map<std::string, SavedValue> out;
  for (const auto& [key, entry] : saved->items()) {
    if (!entry.is_object()) return make_error("saved[\"" + key + "\"]: expected an object");
    auto kind = entry.find("kind");
    auto original = entry.find("original");
    auto at = entry.find("saved_at");
    if (kind == entry.end() || !kind->is_string() || kind->get_ref<const std::string&>().empty()) {
      return make_error("saved[\"" + key + "\"]: expected a non-empty string \"kind\"");
    }
    if (original == entry.end()) return make_error("saved[\"" + key + "\"]: missing \"original\"");
    SavedValue value;
    value.kind = kind->get<std::string>();
    value.original_json = original->dump();
    if (at != entry.end() && at->is_string()) value.saved_at = at->get<std::string>();
    out.emplace(key, std::move(value));
  }
  return out;
}

std::string StateStore::serialize(const std::map<std::string, SavedValue>& entries) {
  nlohmann::json saved = nlohmann::json::object();
  for (const auto& [key, value] : entries) {
    nlohmann::json original = nlohmann::json::parse(value.original_json, nullptr, false);
    if (original.is_discarded()) original = value.original_json;  // keep it as text rather than lose it
    saved[key] = {{"kind", value.kind}, {"original", original}, {"saved_at", value.saved_at}};
  }
  nlohmann::json doc = {{"version", 1}, {"saved", saved}};
  return doc.dump(2) + "\n";
}

Result<void> StateStore::load() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  if (path_.empty()) return {};
  auto text = read_file(path_);
  if (!text.ok()) {
    if (::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return {};
    return text.error();
  }
  auto parsed = parse(*text);
  if (!parsed.ok()) return make_error(path_ + ": " + parsed.error().message);
  entries_ = std::move(parsed.value());
  return {};
}

Result<void> StateStore::write_locked() {
  if (path_.empty()) return {};
  const auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  if (auto made = make_dirs(dir); !made.ok()) return made;
  const std::string tmp = path_ + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return make_error(tmp + ": " + std::strerror(errno));
    if (auto written = write_all(fd.get(), serialize(entries_), tmp); !written.ok()) return written;
    if (::fsync(fd.get()) != 0) return make_error(tmp + ": fsync: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0)
    return make_error(path_ + ": rename: " + std::strerror(errno));
  // The rename is durable only once the directory is synced.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());
  return {};
}

Result<bool> StateStore::save_original(const std::string& key, const std::string& kind,
                                       const std::string& original_json) {
  std::lock_guard lock(mutex_);
  if (entries_.contains(key)) return false;
  entries_[key] = SavedValue{kind, original_json, now_iso8601()};
  auto written = write_locked();
  if (!written.ok()) {
    entries_.erase(key);  // not durable: the caller must not make the change
    return written.error();
  }
  return true;
}

Result<void> StateStore::commit(const std::vector<Change>& changes) {
  std::lock_guard lock(mutex_);
  auto before = entries_;
  for (const auto& change : changes) {
    if (change.kind.empty()) {
      entries_.erase(change.key);
      continue;
    }
    auto it = entries_.find(change.key);
    std::string saved_at = it != entries_.end() ? it->second.saved_at : now_iso8601();
    entries_[change.key] = SavedValue{change.kind, change.original_json, saved_at};
  }
  if (entries_ == before) return {};
  auto written = write_locked();
  if (!written.ok()) {
    entries_ = std::move(before);  // not durable: the caller must not make the change
    return written.error();
  }
  return {};
}

std::optional<SavedValue> StateStore::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

Result<void> StateStore::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (entries_.erase(key) == 0) return {};
  return write_locked();
}

std::map<std::string, SavedValue> StateStore::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

}  // namespace guardian
