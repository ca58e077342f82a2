// [metrics]: the Prometheus exporter.
//   listen = "127.0.0.1:9464"    # HOST:PORT, IPv6 as "[::1]:9464"
//   enabled = true
#include "config/policy_sections.h"

namespace guardian {
namespace {

// Checks "HOST:PORT" / "[V6]:PORT"; returns the problem, or "" when fine. The exporter binds the
// address itself; here we only make sure it can be split into a host and a port 1..65535.
std::string listen_problem(std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "expected HOST:PORT, e.g. \"127.0.0.1:9464\"";
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return "an IPv6 host is written in brackets: \"[::1]:9464\"";
  } else if (host.find(':') != std::string_view::npos) {
    return "an IPv6 host is written in brackets: \"[::1]:9464\"";
  }
  const auto port = parse_u64(port_text);
  if (!port || *port == 0 || *port > 65535) return "port must be a number from 1 to 65535";
  return {};
}

}  // namespace

void parse_metrics_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [metrics]";
  context.check_known_keys(table, {"listen", "enabled"}, kWhere);
  if (auto enabled = context.get_bool(table, "enabled", kWhere)) policy.metrics.enabled = *enabled;
  if (auto listen = context.get_string(table, "listen", kWhere)) {
    const std::string problem = listen_problem(*listen);
    if (problem.empty())
      policy.metrics.listen = *listen;
    else
      context.error(*table.get("listen"), "\"listen\": invalid address \"" + *listen + "\": " + problem);
  }
}

}  // namespace guardian
