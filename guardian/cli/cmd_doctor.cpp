// guardian doctor: the incident report's investigation as one command. Samples the host twice
// (so pressure trends and pgscan deltas are real), models oomd, and prints one finding per
// question with a verdict and the next step. Exit 0 when every finding is ok/info, 1 otherwise.
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "bus/doctor_systemd.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/style.h"
#include "common/units.h"
#include "config/policy_loader.h"
#include "model/findings.h"
#include "model/memory_lock_finding.h"
#include "model/oomd_rules.h"
#include "model/workloads.h"
#include "sense/daemon_process.h"
#include "sense/helper_client.h"
#include "sense/sampler.h"
#include "sense/self_watch.h"

namespace guardian::cli {
namespace {

nlohmann::json bytes_or_null(const std::optional<uint64_t>& bytes) {
  return bytes ? nlohmann::json(*bytes) : nlohmann::json(nullptr);
}

// container.slice's limits as the finding reports them: bytes, null for infinity.
nlohmann::json limits_json(const std::vector<SliceLimitReport>& limits) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& limit : limits) {
    out.push_back({{"property", limit.property},
                   {"found", bytes_or_null(limit.found)},
                   {"set_by", limit.set_by},
                   {"user_value", bytes_or_null(limit.user_value)},
                   {"policy_value", bytes_or_null(limit.policy_value)},
                   {"plan", limit.plan},
                   {"target", bytes_or_null(limit.target)},
                   {"reason", limit.reason}});
  }
  return out;
}

// Which mode `guardian run` works in on this host: with guardian-helper's events when its socket
// answers (what the daemon does too, daemon/helper_link.h), else polling only.
// `facts` are more keys of the finding in --json ("mode": "helper" | "polling").
Finding helper_finding(const std::string& socket_path,
                       std::vector<std::pair<std::string, std::string>>& facts) {
  Finding finding;
  finding.topic = "helper";
  auto polling = [&](const std::string& why) {
    finding.verdict = Finding::Verdict::Info;
    finding.summary = "mode: polling (no guardian-helper; guardian works fully without it)";
    finding.detail = why;
    finding.next_step =
        "optional: install and enable guardian-helper (README, \"guardian-helper\") to see OOM kills and "
        "ffmpeg starts the moment they happen";
    finding.detail += "\nwakes between ticks: guardian's own PSI triggers";
    facts = {{"mode", "polling"}, {"helper_socket", socket_path}, {"wake_source", "own-triggers"}};
    return finding;
  };
  auto client = HelperClient::connect(socket_path);
  if (!client) return polling(client.error().message);
  // The helper greets first; a helper that does not within 2 s is not one to rely on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!client->hello()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{client->fd(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
      return polling(socket_path + ": connected, but no greeting within 2 s");
    auto read =
        client->read_available([](const helper_wire::ServerMessage&) {});  // the client keeps the hello
    if (!read) return polling(socket_path + ": " + read.error().message);
  }
  const helper_wire::Hello& hello = *client->hello();
  std::string probes;
  for (const auto& probe : hello.probes) probes += (probes.empty() ? "" : ",") + probe;
  finding.verdict = Finding::Verdict::Ok;
  finding.summary = "mode: helper (guardian-helper relays this user's events; polling stays as the backstop)";
  finding.detail =
      socket_path + ": protocol " + std::to_string(hello.version) + ", uid " + std::to_string(hello.uid) +
      ", events under " + (hello.owner.empty() ? hello.scope : hello.owner) +
      "\nprobes: " + (probes.empty() ? "none" : probes) +
      "; sub-2 s pressure watches: " + (hello.pressure ? "yes" : "no") +
      "; systemd-oomd pre-kill hook: " + (hello.prekill ? "yes" : "no") +
      // What `guardian run` asks for (daemon/helper_link.h); `guardian status` says
      // what the helper granted.
      (hello.pressure ? "\nwakes between ticks: guardian-helper's pressure watches (500 ms window) on "
                        "the watched cgroups whose pressure file it can open, guardian's own PSI "
                        "triggers on the others (`guardian status`, \"wake:\", says which)"
                      : "\nwakes between ticks: guardian's own PSI triggers (this helper offers no "
                        "pressure watches)");
  facts = {{"mode", "helper"},
           {"helper_socket", socket_path},
           {"helper_probes", probes},
           {"helper_prekill", hello.prekill ? "true" : "false"},
           {"wake_source", hello.pressure ? "helper-pressure-watches" : "own-triggers"}};
  return finding;
}

// Whether `guardian run --lock-memory=loop` can lock here: this process's RLIMIT_MEMLOCK, the
// installed unit's LimitMEMLOCK=, and the running daemon's VmLck / VmRSS.
MemoryLockFacts memory_lock_facts(const HostRoot& host, uint32_t uid) {
  MemoryLockFacts facts;
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) == 0) {
    facts.own.soft = limit.rlim_cur == RLIM_INFINITY ? kUnlimited : limit.rlim_cur;
    facts.own.hard = limit.rlim_max == RLIM_INFINITY ? kUnlimited : limit.rlim_max;
  }
  std::string home;
  if (host.is_real_host())
    if (const char* value = std::getenv("HOME")) home = value;  // NOLINT(concurrency-mt-unsafe)
  const auto fragments = read_unit_config(host, ManagerScope::User, "guardian.service", home);
  std::string where;
  auto unit = unit_memlock_limit(fragments, &where);
  if (!unit.ok())
    facts.unit_problem = unit.error().message;
  else
    facts.unit = *unit;
  facts.unit_file = !where.empty() ? where : fragments.empty() ? std::string() : fragments.front().path;
  // The daemon is this binary: its lock's parts are this process's, bar the heap's size.
  if (host.is_real_host()) {
    int here = 0;
    LoopLockPlan plan = plan_own_loop_lock(&here, kUnlimited);
    facts.loop_bytes = plan.wanted_bytes;
    for (auto& part : plan.parts) facts.loop_parts.emplace_back(std::move(part.name), part.bytes);
    // The shared libraries' pages in use here, after this process has sampled the host as a
    // tick does: what the daemon locks of them after warm-up is estimated from these.
    if (auto shared = read_own_shared_pages(); shared.ok()) {
      facts.shared_maps = std::move(shared->maps);
      facts.shared_present = std::move(shared->present);
      facts.binary = std::move(shared->binary);
    } else {
      facts.shared_problem = shared.error().message;
    }
  }
  if (auto daemon = find_guardian_daemon(host, uid, host.is_real_host() ? ::getpid() : 0))
    facts.daemon = DaemonMemory{daemon->pid, daemon->memory.locked_bytes, daemon->memory.rss_bytes};
  return facts;
}

// The facts in --json: bytes, null for no limit (as the sample's high_bytes); a key is left out
// when it is not known (no LimitMEMLOCK= in the unit, no running daemon).
nlohmann::json memory_lock_json(const MemoryLockFacts& facts) {
  auto limit = [](uint64_t bytes) {
    return bytes == kUnlimited ? nlohmann::json(nullptr) : nlohmann::json(bytes);
  };
  nlohmann::json out{{"own_soft_bytes", limit(facts.own.soft)},
                     {"own_hard_bytes", limit(facts.own.hard)},
                     {"unit_file", facts.unit_file},
                     {"loop_bytes", fit_loop_lock(facts, kUnlimited).wanted_bytes},
                     {"effective_soft_bytes", limit(effective_memlock_soft(facts))}};
  const LoopLockFit fit = fit_loop_lock(facts, effective_memlock_soft(facts));
  out["loop_fits"] = fit.left_out.empty();
  out["loop_locked_bytes"] = fit.locked_bytes;
  out["loop_left_out"] = fit.left_out;
  if (const auto shared = fit_shared_pages(facts, effective_memlock_soft(facts))) {
    out["shared_present_bytes"] = shared->present_bytes;
    out["shared_room_bytes"] = limit(shared->room_bytes);
    out["shared_locked_bytes"] = shared->locked_bytes;
    out["shared_left_out"] = shared->left_out;
    out["shared_left_out_bytes"] = shared->left_out_bytes;
    out["shared_left_out_tick_pages"] = shared->left_out_tick_pages;
  }
  if (facts.unit) {
    out["unit_soft_bytes"] = limit(facts.unit->soft);
    out["unit_hard_bytes"] = limit(facts.unit->hard);
  }
  if (facts.daemon) {
    out["daemon_pid"] = facts.daemon->pid;
    out["daemon_locked_bytes"] = facts.daemon->locked_bytes;
    out["daemon_rss_bytes"] = facts.daemon->rss_bytes;
  }
  return out;
}

}  // namespace

int run_doctor(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"host-root", true, "prefix for every host path (default /)"},
      {"uid", true, "the user whose manager to inspect (default: own uid)"},
      {"interval", true, "time between the two samples (default 1s)"},
      {"json", false, "print the findings as JSON"},
      {"helper-socket", true, "guardian-helper's socket (default /run/guardian/helper.sock)"},
      {"help", false, "this text"},
  };
  Args args;
  if (!args.parse(argc, argv, specs)) return kExitUsage;
  if (args.has("help")) {
    print_command_help(stdout, "doctor");
    return kExitOk;
  }
  SamplerOptions sampler_options;
  std::chrono::microseconds interval{1'000'000};
  if (!read_uid_option(args, "doctor", sampler_options.uid) ||
      !read_interval_option(args, "doctor", interval)) {
    return kExitUsage;
  }

  HostRoot host(args.get("host-root").value_or(""));
  Sampler sampler(host, sampler_options);
  Snapshot first = sampler.sample();
  OomdRuleSet rules = oomd_rules_from_files(
      read_oomd_config_files(host, sampler.layout(), user_manager_slices(sampler.layout(), first)), first);
  OomdModel model;
  model.set_rules(rules.watched);
  model.observe(first);
  std::this_thread::sleep_for(interval);
  Snapshot second = sampler.sample();
  model.observe(second);

  WorkloadSplit workloads = classify_workloads(second, sampler.layout().user_manager_path, {});
  DoctorInput input;
  input.layout = &sampler.layout();
  input.snapshot = &second;
  input.oomd_defaults = &rules.defaults;
  input.oomd_sources = &rules.defaults.sources;
  input.oomd = &model.states();
  input.workloads = sampler.layout().system_only() ? nullptr : &workloads;
  // Installed: its binary, or its configuration (Fedora's systemd-oomd-defaults ships only the
  // drop-ins; the binary comes with another package).
  auto exists = [&](const char* path) { return ::access(host.path(path).c_str(), F_OK) == 0; };
  input.oomd_installed = exists("/usr/lib/systemd/systemd-oomd") || exists("/lib/systemd/systemd-oomd") ||
                         exists("/etc/systemd/oomd.conf") || exists("/usr/lib/systemd/oomd.conf") ||
                         !rules.defaults.sources.empty();
  std::vector<Finding> findings = core_findings(input);
  for (const auto& warning : rules.warnings) {
    findings.push_back({Finding::Verdict::Warning,
                        "oomd-config",
                        "configuration problem: " + warning,
                        {},
                        "fix the file; systemd ignores the bad line the same way"});
  }
  for (const auto& problem : sampler.take_problems()) {
    findings.push_back(
        {Finding::Verdict::Warning, "unreadable", problem.where + ": " + problem.message, {}, {}});
  }
  // Over D-Bus (real host with a user manager only): container.slice against the policy, the
  // containers outside it with their `guardian adopt` command, and oomd's live watch list.
  if (host.is_real_host() && !sampler.layout().user_manager_path.empty()) {
    bus::DoctorSystemdInput systemd_input;
    auto policy = load_policy_or_default(std::nullopt, nullptr);
    if (policy.policy) {
      const uint64_t ram = second.meminfo.total_bytes;
      const auto& slice = policy.policy->container_slice;
      systemd_input.slice = slice.unit;
      if (slice.memory_high) systemd_input.wanted.memory_high = slice.memory_high->resolve(ram);
      if (slice.memory_max) systemd_input.wanted.memory_max = slice.memory_max->resolve(ram);
      systemd_input.wanted.hard = slice.hard_correction;
      // Which limits guardian set itself: the running daemon's state file holds the user's originals.
      StateStore state(StateStore::default_path());
      if (state.load(StateStore::OnCorrupt::Leave)) {
        auto original = [&](const char* property) -> std::optional<std::optional<uint64_t>> {
          auto saved = state.get(unit_property_key(slice.unit, property));
          if (!saved) return std::nullopt;
          return saved_property_value(saved->original_json);
        };
        systemd_input.saved.memory_high = original("MemoryHigh");
        systemd_input.saved.memory_max = original("MemoryMax");
      }
    }
    systemd_input.dropin_rules = rules.watched;
    systemd_input.user_manager_path = sampler.layout().user_manager_path;
    if (const char* home = std::getenv("HOME")) systemd_input.home = home;
    auto report = bus::doctor_systemd(host, systemd_input);
    for (auto& finding : report.findings) findings.push_back(std::move(finding));
  }
  const MemoryLockFacts lock_facts = memory_lock_facts(host, sampler.layout().uid);
  findings.push_back(memory_lock_finding(lock_facts));
  std::vector<std::pair<std::string, std::string>> helper_facts;
  // guardian-helper is this host's service: a fixture tree says nothing about it.
  if (host.is_real_host())
    findings.push_back(helper_finding(args.get("helper-socket").value_or(kHelperSocketPath), helper_facts));

  bool clean = true;
  for (const auto& finding : findings) {
    clean = clean && (finding.verdict == Finding::Verdict::Ok || finding.verdict == Finding::Verdict::Info);
  }
  if (args.has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& finding : findings) {
      nlohmann::json item{{"verdict", verdict_name(finding.verdict)},
                          {"topic", finding.topic},
                          {"summary", finding.summary},
                          {"detail", finding.detail},
                          {"next_step", finding.next_step}};
      if (!finding.limits.empty()) item["limits"] = limits_json(finding.limits);
      if (finding.topic == "memory-lock") item["memory_lock"] = memory_lock_json(lock_facts);
      if (finding.topic == "helper")
        for (const auto& [key, value] : helper_facts) item[key] = value;
      out.push_back(std::move(item));
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    const bool color = color_enabled(stdout);
    for (const auto& finding : findings) {
      std::string tag(verdict_name(finding.verdict));
      for (auto& c : tag) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      tag.resize(std::max<size_t>(tag.size(), 7), ' ');
      // Colour only the tag, so the text stays greppable and the columns line up.
      const char* paint = !color                                         ? ""
                          : finding.verdict == Finding::Verdict::Ok      ? "\033[32m"
                          : finding.verdict == Finding::Verdict::Info    ? ""
                          : finding.verdict == Finding::Verdict::Warning ? "\033[33m"
                                                                         : "\033[1;31m";
      std::printf("[%s%s%s] %s\n", paint, tag.c_str(), *paint ? "\033[0m" : "", finding.summary.c_str());
      std::string detail = finding.detail;
      while (!detail.empty()) {
        const auto eol = detail.find('\n');
        std::printf("          %s\n", detail.substr(0, eol).c_str());
        detail = eol == std::string::npos ? "" : detail.substr(eol + 1);
      }
      if (!finding.next_step.empty()) std::printf("          next: %s\n", finding.next_step.c_str());
    }
  }
  return clean ? kExitOk : kExitFinding;
}

}  // namespace guardian::cli
