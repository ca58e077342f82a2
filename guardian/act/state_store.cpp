#include "act/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/fd.h"
#include "common/input_file.h"
#include "common/units.h"

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

// Only guardian's uid may write the state file and its directory: what is in it gets restored.
constexpr OwnerRule kStateOwner{022, "writable by group or others"};

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<void> write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path, errno);
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

Result<StateStore::Parsed> StateStore::parse(std::string_view text) {
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
  Parsed out;
  size_t seen = 0;
  for (const auto& [key, entry] : saved->items()) {
    if (++seen > kMaxStateEntries) {
      out.skipped.push_back(std::to_string(saved->size() - kMaxStateEntries) + " entries past the first " +
                            std::to_string(kMaxStateEntries) + " (more than guardian ever saves)");
      break;
    }
    // A bad entry is skipped alone: the others still hold originals worth restoring.
    std::string name = key.size() > 200 ? key.substr(0, 200) + "…" : key;
    auto skip = [&](const std::string& why) {
      out.skipped.push_back("saved[" + nlohmann::json(name).dump() + "]: " + why);
    };
    if (key.empty() || key.size() > 512) {
      skip("a key of 1 to 512 bytes expected");
      continue;
    }
    if (std::any_of(key.begin(), key.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      skip("control characters in the key");
      continue;
    }
    if (!entry.is_object()) {
      skip("expected an object");
      continue;
    }
    auto kind = entry.find("kind");
    auto original = entry.find("original");
    auto at = entry.find("saved_at");
    if (kind == entry.end() || !kind->is_string() || kind->get_ref<const std::string&>().empty() ||
        kind->get_ref<const std::string&>().size() > 64) {
      skip("expected a non-empty string \"kind\" (at most 64 bytes)");
      continue;
    }
    if (original == entry.end()) {
      skip("missing \"original\"");
      continue;
    }
    SavedValue value;
    value.kind = kind->get<std::string>();
    value.original_json = original->dump();
    if (at != entry.end() && at->is_string()) value.saved_at = at->get<std::string>();
    out.entries.emplace(key, std::move(value));
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

Result<StateStore::LoadReport> StateStore::load(OnCorrupt on_corrupt) {
  std::lock_guard lock(mutex_);
  entries_.clear();
  refused_.clear();
  LoadReport report;
  if (path_.empty()) return report;
  auto refuse = [&](const std::string& why) -> Result<LoadReport> {
    refused_ = why;
    return make_error(why);
  };
  // The directory first: whoever may write in it may swap the file guardian reads.
  const std::string dir = directory_of(path_);
  {
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) {
      if (errno == ENOENT) return report;  // never saved anything: created 0700 at the first save
      return refuse(errno_error("state directory " + dir, errno).message);
    }
    struct stat st {};
    if (::fstat(dir_fd.get(), &st) != 0) return refuse(errno_error("state directory " + dir, errno).message);
    if (auto owned = check_owner(st, "state directory", dir, kStateOwner); !owned.ok())
      return refuse(owned.error().message);
  }
  auto text = read_input_file(
      path_,
      {.max_bytes = kMaxStateFileBytes, .owner = &kStateOwner, .no_follow = true, .what = "state file"});
  std::string unreadable;
  Parsed parsed;
  if (!text.ok()) {
    if (text.error().code == ENOENT) return report;
    // Too large is not a file guardian wrote (moved aside like a corrupt one); anything else (not
    // regular, a symlink, another owner, writable by others) is not read and not replaced.
    if (text.error().code != EFBIG) return refuse(text.error().message);
    unreadable = text.error().message;
  } else {
    auto result = parse(*text);
    if (!result.ok())
      unreadable = path_ + ": " + result.error().message;
    else
      parsed = std::move(result.value());
  }
  report.unreadable = unreadable;
  report.skipped = parsed.skipped;
  if (unreadable.empty() && parsed.skipped.empty()) {
    entries_ = std::move(parsed.entries);
    return report;
  }
  if (on_corrupt == OnCorrupt::Leave) {
    entries_ = std::move(parsed.entries);
    return report;
  }
  // Kept aside before anything is saved: the next save would replace it with what was understood.
  const std::string aside = path_ + ".corrupt";
  if (::rename(path_.c_str(), aside.c_str()) != 0)
    return refuse(errno_error("state file " + path_ + ": cannot keep it aside as " + aside, errno).message);
  report.kept_aside = aside;
  entries_ = std::move(parsed.entries);
  if (!entries_.empty()) {
    // The good entries go back to the state file at once, or a crash now would lose them.
    if (auto written = write_locked(); !written.ok()) return refuse(written.error().message);
  }
  return report;
}

Result<void> StateStore::write_locked() {
  if (path_.empty()) return {};
  if (!refused_.empty()) return make_error(refused_ + " (guardian changes nothing it cannot save)");
  const std::string dir = directory_of(path_);
  if (auto made = make_dirs(dir); !made.ok()) return made;
  const std::string text = serialize(entries_);
  if (text.size() > kMaxStateFileBytes) {
    return make_error("state file " + path_ + " would be larger than the " +
                      format_bytes(kMaxStateFileBytes) + " guardian reads back; not saved");
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return errno_error("state directory " + dir, errno);
  struct stat st {};
  if (::fstat(dir_fd.get(), &st) != 0) return errno_error("state directory " + dir, errno);
  if (auto owned = check_owner(st, "state directory", dir, kStateOwner); !owned.ok()) return owned.error();
  const std::string base = path_.substr(path_.rfind('/') == std::string::npos ? 0 : path_.rfind('/') + 1);
  const std::string tmp = base + ".tmp";
  const std::string tmp_path = path_ + ".tmp";
  // A new file of guardian's own: O_EXCL|O_NOFOLLOW never writes through a link or into a file
  // someone else made. A stale one (a crash mid-save, or a planted link) is unlinked (the link,
  // not its target) and made again.
  auto create = [&] {
    return UniqueFd(
        ::openat(dir_fd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  };
  UniqueFd fd = create();
  if (!fd && errno == EEXIST && ::unlinkat(dir_fd.get(), tmp.c_str(), 0) == 0) fd = create();
  if (!fd) return errno_error(tmp_path, errno);
  // From here a failure removes the temporary file: a full disk leaves nothing behind.
  auto fail = [&](Error error) -> Result<void> {
    fd.reset();
    ::unlinkat(dir_fd.get(), tmp.c_str(), 0);
    return error;
  };
  if (auto written = write_all(fd.get(), text, tmp_path); !written.ok()) return fail(written.error());
  if (::fsync(fd.get()) != 0) return fail(errno_error(tmp_path + ": fsync", errno));
  if (::close(fd.release()) != 0) return fail(errno_error(tmp_path + ": close", errno));
  if (::renameat(dir_fd.get(), tmp.c_str(), dir_fd.get(), base.c_str()) != 0)
    return fail(errno_error(path_ + ": rename", errno));
  // The rename is durable only once the directory is synced.
  ::fsync(dir_fd.get());
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
