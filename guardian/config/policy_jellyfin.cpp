// [[jellyfin]]: a Jellyfin server guardian watches and steers (docs/jellyfin.md).
//   name = "home"                         # unique; actions name it with instance = "home"
//   url = "http://127.0.0.1:8096"
//   api_key_file = "~/.config/guardian/jellyfin.key"   # or credential = "jellyfin-api-key"
//   timeout = "2s"  action_timeout = "6s"  poll_interval = "5s"  failure_threshold = 3  retry_after = "30s"
//   cgroup = "app.slice/jellyfin.service"
//   render_node = "/dev/dri/renderD128"
//   default_priority = 50  user_priority = { kids = 10 }  client_priority = { "Jellyfin Web" = 40 }
#include <algorithm>
#include <cctype>
#include <chrono>

#include "config/policy_sections.h"
#include "net/http.h"

namespace guardian {
namespace {

void parse_priorities(const toml::table& table, std::string_view key, PolicyParseContext& context,
                      std::map<std::string, int64_t>& into) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return;
  const toml::table* priorities = node->as_table();
  if (priorities == nullptr) {
    context.error(*node, "\"" + std::string(key) +
                             "\": expected a table of name = priority, e.g. { kids = 10 }, got " +
                             std::string(toml_type_name(node->type())));
    return;
  }
  for (auto&& [name, value] : *priorities) {
    const auto* number = value.as_integer();
    if (number == nullptr || number->get() < 0 || number->get() > 1000) {
      context.error(
          value, "\"" + std::string(key) + "." + std::string(name.str()) + "\": expected an integer 0..1000");
      continue;
    }
    into[std::string(name.str())] = number->get();
  }
}

}  // namespace

bool valid_jellyfin_instance_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

void check_jellyfin_action_instances(PolicyParseContext& context, const Policy& policy) {
  std::string names;
  for (const auto& instance : policy.jellyfin)
    names += (names.empty() ? "\"" : ", \"") + instance.name + "\"";
  for (const auto& level : policy.levels) {
    // One state entry per level, action and instance: the same stateful action twice in a level
    // would share it.
    std::vector<std::pair<std::string, std::string>> stateful;  // (type, instance)
    for (const auto& action : level.actions) {
      if (!action.type.starts_with("jellyfin.")) continue;
      std::string instance;
      SourcePos at = action.pos;
      if (auto param = action.params.find("instance"); param != action.params.end()) {
        if (const auto* text = std::get_if<std::string>(&param->second.value)) instance = *text;
        at = param->second.pos;
        if (at.file.empty()) at.file = context.source_name();
        bool known = std::any_of(policy.jellyfin.begin(), policy.jellyfin.end(),
                                 [&](const auto& configured) { return configured.name == instance; });
        if (!known) {
          context.error(
              at, action.type + ": instance = \"" + instance + "\" names no [[jellyfin]] (" +
                      (names.empty() ? std::string("the policy has none") : "the policy has " + names) + ")");
          continue;
        }
      } else if (policy.jellyfin.size() > 1) {
        if (at.file.empty()) at.file = context.source_name();
        context.error(at, action.type + ": the policy has several [[jellyfin]] (" + names +
                              "): say which with instance = \"…\"");
        continue;
      } else if (policy.jellyfin.size() == 1) {
        instance = policy.jellyfin.front().name;
      }
      if (action.type == "jellyfin.prefer-vaapi" || action.type == "jellyfin.cheaper-software" ||
          action.type == "jellyfin.pause-background-tasks") {
        std::pair<std::string, std::string> id{action.type, instance};
        if (std::find(stateful.begin(), stateful.end(), id) != stateful.end()) {
          if (at.file.empty()) at.file = context.source_name();
          context.error(at, action.type + " appears twice in level \"" + level.name +
                                "\" for the same Jellyfin: merge the two into one");
        }
        stateful.push_back(std::move(id));
      }
    }
  }
}

void parse_jellyfin_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [[jellyfin]]";
  context.check_known_keys(table,
                           {"name", "url", "api_key_file", "credential", "timeout", "action_timeout",
                            "poll_interval", "cgroup", "failure_threshold", "retry_after", "render_node",
                            "user_priority", "client_priority", "default_priority"},
                           kWhere);
  JellyfinInstanceSettings instance;
  instance.pos = context.pos(table);
  if (auto name = context.get_string(table, "name", kWhere)) {
    if (!valid_jellyfin_instance_name(*name))
      context.error(*table.get("name"),
                    "\"name\": use letters, digits, '-' and '_' (it names state file entries)");
    instance.name = *name;
  }
  for (const auto& other : policy.jellyfin) {
    if (other.name == instance.name) {
      context.error(instance.pos, "a [[jellyfin]] named \"" + instance.name +
                                      "\" is already defined at line " + std::to_string(other.pos.line) +
                                      "; give each instance its own name");
    }
  }
  if (auto url = context.get_string(table, "url", kWhere)) {
    auto parsed = jellyfin::parse_url(*url);
    if (!parsed.ok()) context.error(*table.get("url"), "\"url\": " + parsed.error().message);
    instance.url = *url;
  }
  auto key_file = context.get_string(table, "api_key_file", kWhere);
  auto credential = context.get_string(table, "credential", kWhere);
  if (key_file && credential) {
    context.error(*table.get("credential"), "give either api_key_file or credential, not both");
  } else if (!key_file && !credential) {
    context.error(
        instance.pos,
        "[[jellyfin]] \"" + instance.name +
            "\" needs api_key_file = \"…\" (mode 0600) or credential = \"NAME\" (systemd LoadCredential=)");
  }
  if (key_file) {
    if (key_file->empty() || (key_file->front() != '/' && !key_file->starts_with("~/"))) {
      context.error(*table.get("api_key_file"), "\"api_key_file\": expected an absolute path or ~/…");
    }
    instance.api_key_file = *key_file;
  }
  if (credential) instance.credential = *credential;
  auto millis = [](std::chrono::microseconds us) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(us);
  };
  if (auto timeout = context.get_duration(table, "timeout", kWhere)) {
    if (*timeout < std::chrono::milliseconds(100) || *timeout > std::chrono::seconds(30)) {
      context.error(*table.get("timeout"), "\"timeout\": expected 100ms..30s");
    }
    instance.timeout = millis(*timeout);
  }
  if (auto timeout = context.get_duration(table, "action_timeout", kWhere)) {
    if (*timeout < std::chrono::milliseconds(100) || *timeout > std::chrono::seconds(30)) {
      context.error(*table.get("action_timeout"), "\"action_timeout\": expected 100ms..30s");
    }
    instance.action_timeout = millis(*timeout);
  }
  if (auto interval = context.get_duration(table, "poll_interval", kWhere)) {
    if (*interval < std::chrono::seconds(1) || *interval > std::chrono::minutes(10)) {
      context.error(*table.get("poll_interval"), "\"poll_interval\": expected 1s..10min");
    }
    instance.poll_interval = millis(*interval);
  }
  if (auto retry = context.get_duration(table, "retry_after", kWhere)) {
    if (*retry < std::chrono::seconds(1))
      context.error(*table.get("retry_after"), "\"retry_after\": expected at least 1s");
    instance.retry_after = millis(*retry);
  }
  if (auto threshold = context.get_integer(table, "failure_threshold", kWhere)) {
    if (*threshold < 1 || *threshold > 100)
      context.error(*table.get("failure_threshold"), "\"failure_threshold\": expected 1..100");
    else
      instance.failure_threshold = static_cast<unsigned>(*threshold);
  }
  if (auto cgroup = context.get_string(table, "cgroup", kWhere)) {
    if (cgroup->empty() || cgroup->find("..") != std::string::npos || cgroup->back() == '/' ||
        cgroup->find('*') != std::string::npos) {
      context.error(
          *table.get("cgroup"),
          "\"cgroup\": expected a unit's cgroup such as \"app.slice/jellyfin.service\" (no '..', no '*')");
    }
    instance.cgroup = *cgroup;
  }
  if (auto node = context.get_string(table, "render_node", kWhere)) {
    if (!node->starts_with("/dev/"))
      context.error(*table.get("render_node"),
                    "\"render_node\": expected a /dev path such as /dev/dri/renderD128");
    instance.render_node = *node;
  }
  if (auto priority = context.get_integer(table, "default_priority", kWhere)) {
    if (*priority < 0 || *priority > 1000)
      context.error(*table.get("default_priority"), "\"default_priority\": expected 0..1000");
    instance.default_priority = *priority;
  }
  parse_priorities(table, "user_priority", context, instance.user_priority);
  parse_priorities(table, "client_priority", context, instance.client_priority);
  policy.jellyfin.push_back(std::move(instance));
}

}  // namespace guardian
