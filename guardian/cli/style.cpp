#include "cli/style.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace guardian::cli {

bool color_enabled(FILE* stream) {
  // NOLINTBEGIN(concurrency-mt-unsafe): read once by the single-threaded CLI
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  // NOLINTEND(concurrency-mt-unsafe)
  if (no_color != nullptr && no_color[0] != '\0') return false;
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(::fileno(stream)) == 1;
}

}  // namespace guardian::cli
