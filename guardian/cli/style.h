// Colour on the terminal: only when the stream is a TTY, never when NO_COLOR is set to anything
// non-empty (no-color.org) or TERM is "dumb".
#pragma once

#include <cstdio>

namespace guardian::cli {

bool color_enabled(FILE* stream);

}  // namespace guardian::cli
