#include "common/result.h"

#include <cstdio>
#include <cstdlib>

namespace guardian::detail {

void bad_result_access(const char* what, const Error* error) {
  std::fprintf(stderr, "guardian: bug: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

}  // namespace guardian::detail
