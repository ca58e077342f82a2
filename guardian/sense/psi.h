// PSI file parsing: /proc/pressure/memory and a cgroup's memory.pressure share one format,
// Documentation/accounting/psi.rst:
//   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
#pragma once

#include <string_view>

#include "common/result.h"
#include "sense/snapshot.h"

namespace guardian {

// Parses one line; `kind` receives "some" or "full".
Result<PsiLine> parse_psi_line(std::string_view line, std::string_view& kind);
// Parses a whole file; both "some" and "full" must be present (memory always has both).
Result<Psi> parse_psi(std::string_view text);

}  // namespace guardian
