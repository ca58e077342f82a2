#include "jellyfin/jellyfin_watcher.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <set>

#include "jellyfin/instances.h"
#include "jellyfin/status.h"
#include "jellyfin/transcodes.h"
#include "probe/vaapi_probe.h"

namespace guardian {

JellyfinWatcher::JellyfinWatcher(JellyfinWatcherOptions options)
    : options_(std::move(options)),
      host_(options_.host_root.empty() ? HostRoot() : HostRoot(options_.host_root)),
      event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  assert(options_.instances != nullptr && "the daemon hands the watcher its InstanceDirectory");
}

JellyfinWatcher::~JellyfinWatcher() { stop(); }

void JellyfinWatcher::start(DaemonLoop& loop) {
  loop_ = &loop;
  bool wanted = false;
  {
    std::lock_guard lock(mutex_);
    wanted = !settings_.empty();
  }
  // No [[jellyfin]] in the policy: no thread, nothing mapped, nothing polled.
  if (wanted && !thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void JellyfinWatcher::on_policy(const Policy& policy) {
  std::vector<jellyfin::Instance> instances;
  for (const auto& settings : policy.jellyfin) {
    jellyfin::Instance instance;
    instance.settings = settings;
    instance.cgroup_host_path =
        jellyfin::resolve_cgroup_host_path(settings.cgroup, cgroup2_mount_, user_manager_path_);
    auto client = jellyfin::make_client(settings);
    if (client.ok()) {
      instance.client = *client;
    } else {
      instance.client_error = client.error().message;
      Event event{EventType::SenseProblem,
                  Priority::Warning,
                  client.error().message +
                      " (watching its ffmpeg jobs through /proc only; guardian reads the key again every "
                      "poll_interval, so a fixed file is taken without a restart)",
                  {}};
      event.with("JELLYFIN_INSTANCE", settings.name);
      queue_event(std::move(event));
    }
    instances.push_back(std::move(instance));
  }
  options_.instances->set_instances(std::move(instances));
  {
    std::lock_guard lock(mutex_);
    settings_ = policy.jellyfin;
    policy_changed_ = true;
  }
  wake_.notify_all();
  // Before start() the thread waits for it; after, the first policy with instances starts it.
  if (!policy.jellyfin.empty() && !thread_.joinable() && loop_ != nullptr)
    thread_ = std::thread([this] { run(); });
}

void JellyfinWatcher::on_tick(const TickView& tick) {
  // Only cheap work here: learn where cgroups live (once, or when it changes).
  if (tick.layout == nullptr) return;
  if (tick.layout->cgroup2_mount == cgroup2_mount_ && tick.layout->user_manager_path == user_manager_path_)
    return;
  cgroup2_mount_ = tick.layout->cgroup2_mount;
  user_manager_path_ = tick.layout->user_manager_path;
  std::vector<JellyfinInstanceSettings> settings;
  {
    std::lock_guard lock(mutex_);
    settings = settings_;
  }
  for (const auto& s : settings) {
    options_.instances->set_cgroup_host_path(
        s.name, jellyfin::resolve_cgroup_host_path(s.cgroup, cgroup2_mount_, user_manager_path_));
  }
}

std::vector<int> JellyfinWatcher::fds() const { return {event_fd_.get()}; }

void JellyfinWatcher::on_fd_ready(int /*fd*/) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(event_fd_.get(), &count, sizeof count);
  for (auto& event : take_events()) {
    if (loop_ != nullptr) loop_->tell(event);
  }
}

void JellyfinWatcher::on_process_started(const helper_wire::ProcessExec& exec) {
  // ffprobe runs by the thousand in a library scan and is no transcode; only ffmpeg wakes us.
  if (exec.comm != "ffmpeg" || cgroup2_mount_.empty() || exec.cgroup.empty()) return;
  // Whether cgroup2_mount_ + exec.cgroup is an instance's cgroup or below it, compared in place:
  // an ffmpeg start reaches here on the loop, which allocates nothing for it.
  auto at_or_below = [&](std::string_view root) {
    if (root.empty() || !root.starts_with(cgroup2_mount_)) return false;
    root.remove_prefix(cgroup2_mount_.size());
    const std::string_view where = exec.cgroup;
    return where.starts_with(root) && (where.size() == root.size() || where[root.size()] == '/');
  };
  if (!options_.instances->any_cgroup(at_or_below)) return;
  {
    std::lock_guard lock(mutex_);
    look_now_ = true;
  }
  wake_.notify_all();
}

void JellyfinWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<Event> JellyfinWatcher::take_events() {
  std::lock_guard lock(mutex_);
  std::vector<Event> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

uint64_t JellyfinWatcher::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

void JellyfinWatcher::queue_event(Event event) {
  {
    std::lock_guard lock(mutex_);
    if (events_.size() > 256) events_.pop_front();  // a loop that never drains must not grow us
    events_.push_back(std::move(event));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd_.get(), &one, sizeof one);
}

void JellyfinWatcher::poll_instance(const std::string& name) {
  auto instance = options_.instances->find(name);
  if (!instance.ok()) return;
  if (!instance->client) {
    // The key file (or credential) could not be read when the policy loaded: try again, so a
    // fixed file is used from the next round on.
    auto client = jellyfin::make_client(instance->settings);
    if (client.ok()) {
      options_.instances->set_client(name, *client);
      instance->client = *client;
      Event event{EventType::SenseProblem,
                  Priority::Notice,
                  "Jellyfin \"" + name + "\": the API key is readable now, using it",
                  {}};
      event.with("JELLYFIN_INSTANCE", name);
      queue_event(std::move(event));
    }
  }
  std::optional<std::vector<jellyfin::SessionInfo>> sessions;
  if (instance->client) {
    auto deadline = std::chrono::steady_clock::now() + instance->settings.timeout;
    auto result = instance->client->get_sessions(deadline);
    if (result.ok()) sessions = std::move(*result);
    const auto& breaker = instance->client->breaker();
    std::string state(jellyfin::breaker_state_name(breaker.state()));
    std::string& last = last_breaker_state_[name];
    bool answers_again = false;
    if (state == "open" && last != "open" && last != "half-open") {
      Event event{EventType::SenseProblem,
                  Priority::Warning,
                  "Jellyfin \"" + name + "\" " +
                      std::string(jellyfin::failure_kind_description(breaker.last_failure_kind())) +
                      ", not calling it for a while (" + breaker.last_error() +
                      "); ffmpeg jobs still watched through /proc",
                  {}};
      event.with("JELLYFIN_INSTANCE", name).with("JELLYFIN_CIRCUIT", "open");
      queue_event(std::move(event));
    } else if (state == "closed" && (last == "open" || last == "half-open")) {
      answers_again = true;
      Event event{EventType::SenseProblem, Priority::Notice, "Jellyfin \"" + name + "\" answers again", {}};
      event.with("JELLYFIN_INSTANCE", name).with("JELLYFIN_CIRCUIT", "closed");
      queue_event(std::move(event));
    }
    last = state;
    // Jellyfin answered: retry what could not be restored (or written, or confirmed) yet.
    if (sessions && options_.kept != nullptr) {
      auto retry_deadline = std::chrono::steady_clock::now() + 2 * instance->settings.timeout;
      for (auto& event : options_.kept->retry_kept(name, answers_again, retry_deadline))
        queue_event(std::move(event));
    }
  }
  std::vector<FfmpegProcess> processes;
  if (!instance->cgroup_host_path.empty()) {
    auto scan = scan_ffmpeg_processes(host_, instance->cgroup_host_path);
    if (scan.ok()) {
      processes = std::move(scan->processes);
      reported_problem_[name] = false;
    } else if (!reported_problem_[name]) {
      reported_problem_[name] = true;  // said once, not every round
      Event event{EventType::SenseProblem,
                  Priority::Warning,
                  "Jellyfin \"" + name + "\": " + scan.error().message,
                  {}};
      event.with("JELLYFIN_INSTANCE", name);
      queue_event(std::move(event));
    }
  }
  auto view = std::make_shared<const TranscodeView>(
      build_transcode_view(std::move(processes), sessions ? &*sessions : nullptr));
  options_.instances->set_view(name, std::move(view));
}

void JellyfinWatcher::run() {
  // Render node -> what it looked like when last probed; a change (the GPU appears, the driver
  // reloads, permissions change) probes again.
  std::map<std::string, std::string> probed_nodes;
  for (;;) {
    std::vector<JellyfinInstanceSettings> settings;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      settings = settings_;
      policy_changed_ = false;
      look_now_ = false;
    }
    // The VA-API probe as a child process (libva and FFmpeg never load into the daemon): at
    // start and whenever the render node changes.
    if (!options_.probe_binary.empty()) {
      std::set<std::string> this_round;
      for (const auto& s : settings) {
        if (!this_round.insert(s.render_node).second) continue;
        struct stat st {};
        std::string seen = ::stat(host_.path(s.render_node).c_str(), &st) == 0
                               ? std::to_string(st.st_rdev) + ":" + std::to_string(st.st_ino) + ":" +
                                     std::to_string(st.st_mode) + ":" + std::to_string(st.st_gid) + ":" +
                                     std::to_string(st.st_ctim.tv_sec)
                               : "absent";
        auto known = probed_nodes.find(s.render_node);
        if (known != probed_nodes.end() && known->second == seen) continue;
        probed_nodes[s.render_node] = seen;
        auto probe =
            run_probe_child(options_.probe_binary, s.render_node, options_.host_root, options_.probe_timeout);
        if (!probe.ok()) {
          queue_event(Event{
              EventType::SenseProblem, Priority::Warning, "VA-API probe: " + probe.error().message, {}});
          continue;
        }
        std::string verdict = probe->available()
                                  ? "VA-API available on " + s.render_node + " (" + probe->vendor + ")"
                                  : "VA-API not available on " + s.render_node +
                                        (probe->errors.empty() ? "" : ": " + probe->errors.front());
        queue_event(Event{
            EventType::SenseProblem, probe->available() ? Priority::Info : Priority::Notice, verdict, {}});
        for (const auto& other : settings) {
          if (other.render_node == s.render_node) options_.instances->set_probe(other.name, *probe);
        }
        if (options_.publish_vaapi) options_.publish_vaapi(probe->available());
      }
    }
    auto interval = std::chrono::milliseconds(5000);
    for (const auto& s : settings) {
      poll_instance(s.name);
      interval = std::min(interval, s.poll_interval);
    }
    if (options_.publish_totals)
      options_.publish_totals(jellyfin::transcode_totals(options_.instances->all()));
    std::unique_lock lock(mutex_);
    ++rounds_;
    wake_.wait_for(lock, interval, [this] { return stopping_ || policy_changed_ || look_now_; });
    if (stopping_) return;
  }
}

}  // namespace guardian
