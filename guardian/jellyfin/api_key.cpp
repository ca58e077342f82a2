#include "jellyfin/api_key.h"

#include <cstdlib>

#include "common/input_file.h"
#include "common/units.h"

namespace guardian::jellyfin {

Result<std::string> validate_api_key(std::string text, const std::string& source) {
  std::string key(trim(text));
  if (key.empty()) return make_error(source + ": empty; put the API key (Dashboard > API Keys) in it");
  for (char c : key) {
    if (c <= ' ' || c > '~' || c == '"' || c == ',' || c == '\\') {
      return make_error(
          source + ": the key must be one word of printable characters (Jellyfin keys are 32 hex digits)");
    }
  }
  return key;
}

Result<std::string> read_api_key_file(const std::string& path) {
  // The key acts as an administrator: only guardian's own uid may read or write its file.
  static constexpr OwnerRule kKeyOwner{077, "readable by group or others"};
  auto text = read_input_file(
      path, {.max_bytes = 4096, .owner = &kKeyOwner, .no_follow = true, .what = "API key file"});
  if (!text.ok()) return text.error();
  return validate_api_key(std::move(*text), "API key file " + path);
}

Result<std::string> read_api_key_credential(const std::string& name, const char* credentials_directory) {
  const char* dir = credentials_directory ? credentials_directory : std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') {
    return make_error("credential \"" + name +
                      "\": $CREDENTIALS_DIRECTORY is not set (give the unit LoadCredential=" + name +
                      ":FILE)");
  }
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return make_error("credential \"" + name + "\": not a valid credential name");
  }
  std::string path = std::string(dir) + "/" + name;
  auto text = read_input_file(path, {.max_bytes = 4096, .what = "credential"});
  if (!text.ok()) return text.error();
  return validate_api_key(std::move(*text), "credential " + path);
}

}  // namespace guardian::jellyfin
