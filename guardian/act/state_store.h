// The state file ($XDG_STATE_HOME/guardian/state.json): original values of everything guardian
// changed that the user owns, written (a new 0600 file created beside it with O_EXCL|O_NOFOLLOW,
// fsync, atomic rename, directory fsync) before the change is made, removed after it is restored.
// At start, entries left by a crashed guardian are restored (ActionRunner::restore_saved). It is
// input, not orders: read only from a regular file guardian's uid owns and nobody else can write,
// capped in size and entries.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace guardian {

struct SavedValue {
  std::string kind;           // restorer kind, e.g. "systemd.unit-property"
  std::string original_json;  // the value as it was before guardian's first change (JSON text)
  std::string saved_at;       // ISO 8601 UTC
  bool operator==(const SavedValue&) const = default;
};

// Caps on the state file (README "Reliability"): guardian writes one entry per change it holds, a
// few hundred bytes to a few KiB each, a few KiB in all; a file past the caps is not one guardian
// wrote. Measured: a file at 1 MiB took guardian from 9.5 MB to 19.3 MB peak RSS (parsed, and one
// event per entry told), so 256 KiB keeps that a small part of the unit's MemoryHigh=48M.
inline constexpr size_t kMaxStateFileBytes = 256 * 1024;
inline constexpr size_t kMaxStateEntries = 1024;

class StateStore {
 public:
  explicit StateStore(std::string path);  // "" = in memory only (tests, --dry-run)

  // What load() found beside the entries it took.
  struct LoadReport {
    std::vector<std::string> skipped;  // one line per entry not taken: "KEY: why"
    std::string unreadable;            // why the file as a whole was not taken ("" = it was)
    std::string kept_aside;            // where the file was moved before anything is saved
  };
  enum class OnCorrupt { MoveAside, Leave };
  // Loads the file; a missing file is an empty store. The file and its directory must be owned by
  // guardian's uid and writable by nobody else, and the file must be regular and at most
  // kMaxStateFileBytes: otherwise the error names the path and the store refuses every save
  // after it (no change is made that could not be saved where only guardian writes).
  // A file that is not a state file (truncated, not JSON, too large) or holds entries that are not
  // entries (each skipped and named) is moved aside to PATH.corrupt with OnCorrupt::MoveAside
  // before anything is saved; the entries that were good are written back at once.
  Result<LoadReport> load(OnCorrupt on_corrupt = OnCorrupt::MoveAside);

  // Saves `original_json` under `key` unless the key already holds an original (the first
  // original wins: re-applying must not overwrite it with guardian's own value). Durable on return.
  // true: this call saved it (the caller owns the entry and forgets it after restoring); false:
  // an earlier change (a slice correction, a lower level's action) holds the user's original, and
  // the caller restores only the value it found, leaving that entry for its owner.
  Result<bool> save_original(const std::string& key, const std::string& kind,
                             const std::string& original_json);
  // Puts (overwriting) and forgets several entries in one durable write: a change with an empty
  // `kind` forgets its key. On failure nothing changes, in memory or on disk. For owners that
  // keep an entry current while their change is in force (the Jellyfin layers).
  struct Change {
    std::string key;
    std::string kind;  // "" = forget
    std::string original_json;
  };
  Result<void> commit(const std::vector<Change>& changes);
  std::optional<SavedValue> get(const std::string& key) const;
  // Forgets `key` after its value was restored. Durable on return.
  Result<void> forget(const std::string& key);
  std::map<std::string, SavedValue> entries() const;

  [[nodiscard]] const std::string& path() const { return path_; }

  // Pure (de)serialisation, fuzzable. A file that is not a state file is an error; an entry that
  // is not an entry is skipped and named in `skipped`, the others kept.
  struct Parsed {
    std::map<std::string, SavedValue> entries;
    std::vector<std::string> skipped;
  };
  static Result<Parsed> parse(std::string_view text);
  static std::string serialize(const std::map<std::string, SavedValue>& entries);

  // $XDG_STATE_HOME/guardian/state.json, or ~/.local/state/guardian/state.json.
  static std::string default_path();

 private:
  Result<void> write_locked();
  mutable std::mutex mutex_;  // actions run on the worker thread, status reads from the loop
  std::string path_;
  std::map<std::string, SavedValue> entries_;
  std::string refused_;  // why the file was refused at load: every save fails with it
};

}  // namespace guardian
