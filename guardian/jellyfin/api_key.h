// Where guardian gets a Jellyfin API key (Dashboard -> API Keys; a key acts as an administrator).
// Either a file only its owner can read, or a systemd credential (LoadCredential= /
// SetCredentialEncrypted= in the unit; read from $CREDENTIALS_DIRECTORY/NAME).
#pragma once

#include <string>

#include "common/result.h"

namespace guardian::jellyfin {

// Reads the key from `path`. Refuses a file readable or writable by group or others, naming the
// file and its mode; the key is the file's one line (surrounding whitespace ignored).
Result<std::string> read_api_key_file(const std::string& path);

// Reads $CREDENTIALS_DIRECTORY/`name`. `credentials_directory` overrides the environment (tests).
Result<std::string> read_api_key_credential(const std::string& name,
                                            const char* credentials_directory = nullptr);

// Checks a key's text: non-empty, printable ASCII, no quotes, spaces or commas (it goes inside
// the Authorization header's Token="…").
Result<std::string> validate_api_key(std::string text, const std::string& source);

}  // namespace guardian::jellyfin
