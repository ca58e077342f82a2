// The state file ($XDG_STATE_HOME/guardian/state.json): original values of everything guardian
// changed that the user owns, written (atomic rename + fsync) before the change is made, removed
// after it is restored. At start, entries left by a crashed guardian are restored.
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

class StateStore {
 public:
  explicit StateStore(std::string path);  // "" = in memory only (tests, --dry-run)

  // Loads the file; a missing file is an empty store. A corrupt file is an error naming it (the
  // caller keeps it aside as state.json.corrupt and starts empty).
  Result<void> load();

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

  // Pure (de)serialisation, fuzzable.
  static Result<std::map<std::string, SavedValue>> parse(std::string_view text);
  static std::string serialize(const std::map<std::string, SavedValue>& entries);

  // $XDG_STATE_HOME/guardian/state.json, or ~/.local/state/guardian/state.json.
  static std::string default_path();

 private:
  Result<void> write_locked();
  mutable std::mutex mutex_;  // actions run on the worker thread, status reads from the loop
  std::string path_;
  std::map<std::string, SavedValue> entries_;
};

}  // namespace guardian
