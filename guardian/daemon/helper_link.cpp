#include "daemon/helper_link.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace guardian {
namespace {

// "/run/guardian/helper.sock" -> {"/run/guardian", "helper.sock"}; "/x" -> {"/", "x"};
// "x" -> {".", "x"}.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

constexpr uint32_t kDirectoryEvents =
    IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr uint32_t kParentEvents = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;

}  // namespace

HelperLink::HelperLink(std::string socket_path, HelperHandlers handlers, std::chrono::milliseconds retry)
    : socket_path_(std::move(socket_path)), handlers_(std::move(handlers)), retry_(retry) {
  if (socket_path_.empty()) return;
  std::tie(directory_, socket_name_) = split_path(socket_path_);
  if (directory_ != "/") std::tie(parent_, directory_name_) = split_path(directory_);
  // Without inotify (its limits reached) the link looks every `retry`, as it did before.
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (inotify_) add_watches();
}

bool HelperLink::add_watches() {
  directory_watch_ = ::inotify_add_watch(inotify_.get(), directory_.c_str(), kDirectoryEvents);
  if (directory_watch_ >= 0) {
    if (parent_watch_ >= 0) ::inotify_rm_watch(inotify_.get(), parent_watch_);
    parent_watch_ = -1;
    return true;
  }
  if (parent_watch_ < 0 && !parent_.empty())
    parent_watch_ = ::inotify_add_watch(inotify_.get(), parent_.c_str(), kParentEvents);
  // The directory may have come between the two: its creation event would be lost.
  if (parent_watch_ >= 0) {
    directory_watch_ = ::inotify_add_watch(inotify_.get(), directory_.c_str(), kDirectoryEvents);
    if (directory_watch_ >= 0) {
      ::inotify_rm_watch(inotify_.get(), parent_watch_);
      parent_watch_ = -1;
      return true;
    }
  }
  return false;
}

const std::optional<helper_wire::Hello>& HelperLink::hello() const {
  static const std::optional<helper_wire::Hello> kNone;
  return client_ ? client_->hello() : kNone;
}

void HelperLink::maintain(std::chrono::steady_clock::time_point now) {
  if (client_) {
    if (auto flushed = client_->flush(); !flushed) drop(flushed.error().message);
    return;
  }
  if (socket_path_.empty()) return;
  if (!inotify_) {
    if (last_attempt_ && now - *last_attempt_ < retry_) return;
    try_connect(now);
    return;
  }
  if (directory_watch_ < 0) {
    if (parent_watch_ >= 0) return;  // the parent's watch says when the directory comes
    // Neither can be watched: look for them now and then.
    if (last_slow_look_ && now - *last_slow_look_ < kSlowLook) return;
    last_slow_look_ = now;
    if (!add_watches()) return;
    look_ = Look::Now;
  }
  if (look_ == Look::OnEvent) return;
  if (look_ == Look::Retry && last_attempt_ && now - *last_attempt_ < retry_) return;
  try_connect(now);
}

void HelperLink::try_connect(std::chrono::steady_clock::time_point now) {
  last_attempt_ = now;
  look_ = Look::OnEvent;
  // Not there: the directory's watch says when it comes. A socket() per attempt would allocate
  // kernel memory each time under the user's shortage, so none is made before it is there.
  struct stat info {};
  if (::stat(socket_path_.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) return;
  // There but refusing (a helper between bind() and listen(), a stale file, no permission):
  // no helper for now, which is a normal way to run; tried again after `retry`.
  auto connected = HelperClient::connect(socket_path_);
  if (!connected) {
    look_ = Look::Retry;
    return;
  }
  client_.emplace(std::move(*connected));
  ++connections_;
}

void HelperLink::on_watch_readable(std::chrono::steady_clock::time_point now) {
  if (!inotify_) return;
  bool socket_changed = false, directory_came = false, directory_went = false;
  alignas(inotify_event) char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(inotify_.get(), buffer, sizeof buffer);
    if (got <= 0) break;  // EAGAIN: every event read
    const auto size = static_cast<size_t>(got);
    for (size_t at = 0; at + sizeof(inotify_event) <= size;) {
      inotify_event event{};
      std::memcpy(&event, buffer + at, sizeof event);
      const char* name_at = buffer + at + sizeof(inotify_event);
      const std::string_view name(name_at, event.len == 0 ? 0 : ::strnlen(name_at, event.len));
      at += sizeof(inotify_event) + event.len;
      if (event.mask & IN_Q_OVERFLOW) {
        socket_changed = directory_came = true;  // events were lost: look
      } else if (event.wd == directory_watch_) {
        if (event.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
          directory_went = true;
        else if (name == socket_name_)
          socket_changed = true;
      } else if (event.wd == parent_watch_ && name == directory_name_) {
        directory_came = true;
      }
    }
  }
  if (directory_went && directory_watch_ >= 0) {
    ::inotify_rm_watch(inotify_.get(), directory_watch_);  // fails harmlessly after IN_IGNORED
    directory_watch_ = -1;
  }
  if ((directory_went || directory_came) && directory_watch_ < 0) {
    if (!add_watches()) return;
    socket_changed = true;  // the socket may be in the directory already
  }
  if (socket_changed && !client_) try_connect(now);
}

void HelperLink::on_readable(std::chrono::steady_clock::time_point /*now*/) {
  if (!client_) return;
  auto read =
      client_->read_available([this](const helper_wire::ServerMessage& message) { dispatch(message); });
  for (const auto& problem : client_->take_problems()) {
    Event event{
        EventType::SenseProblem, Priority::Warning, "guardian-helper sent a bad line: " + problem, {}};
    event.with("WHERE", socket_path_);
    if (handlers_.tell) handlers_.tell(event);
  }
  if (!read) drop(read.error().message);
}

void HelperLink::dispatch(const helper_wire::ServerMessage& message) {
  if (on_pressure_message(message)) return;
  std::visit(
      [this](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, helper_wire::Hello>) {
          if (told_connected_) return;
          told_connected_ = true;
          std::string probes;
          for (const auto& probe : m.probes) probes += (probes.empty() ? "" : ",") + probe;
          Event event{EventType::SenseProblem,
                      Priority::Info,
                      "guardian-helper connected (probes: " + (probes.empty() ? "none" : probes) +
                          (m.prekill ? "; systemd-oomd pre-kill notices" : "") +
                          "): OOM kills and ffmpeg starts are seen the moment they happen",
                      {}};
          event.with("WHERE", socket_path_)
              .with("HELPER", "connected")
              .with("HELPER_PROBES", probes)
              .with("HELPER_SCOPE", m.owner.empty() ? m.scope : m.owner);
          if (handlers_.tell) handlers_.tell(event);
        } else if constexpr (std::is_same_v<T, helper_wire::ProcessExec>) {
          ++events_;
          if (handlers_.exec) handlers_.exec(m);
        } else if constexpr (std::is_same_v<T, helper_wire::KernelOomKill> ||
                             std::is_same_v<T, helper_wire::OomdKill>) {
          ++events_;
          kill_from_helper(m, kill_);
          if (handlers_.kill) handlers_.kill(kill_);
        } else if constexpr (std::is_same_v<T, helper_wire::PrekillNotice>) {
          ++events_;
          if (handlers_.prekill) handlers_.prekill(m);
        } else if constexpr (std::is_same_v<T, helper_wire::Lost>) {
          lost_ += m.count;
          Event event{EventType::SenseProblem,
                      Priority::Notice,
                      "guardian-helper dropped " + std::to_string(m.count) +
                          " event(s) for guardian, which read too slowly; polling still sees those kills",
                      {}};
          event.with("WHERE", socket_path_).with("HELPER", "lost");
          if (handlers_.tell) handlers_.tell(event);
        }
        // Exits: guardian needs none. Pressure watches and replies: on_pressure_message().
      },
      message);
}

// The messages about guardian's pressure watches: a greeting that offers them (asked for, then
// handled as every greeting), the answers, the firings and the ends. True when handled here.
bool HelperLink::on_pressure_message(const helper_wire::ServerMessage& message) {
  if (const auto* hello = std::get_if<helper_wire::Hello>(&message)) {
    if (hello->pressure) ask_for_watches();
    return false;
  }
  if (const auto* reply = std::get_if<helper_wire::Reply>(&message)) {
    on_reply(*reply);
    return true;
  }
  if (const auto* fired = std::get_if<helper_wire::PressureFired>(&message)) {
    for (size_t i = 0; i < watches_.size(); ++i) {
      if (watches_[i].id != fired->watch) continue;
      ++events_;
      if (handlers_.pressure) handlers_.pressure(i);
    }
    return true;
  }
  if (const auto* ended = std::get_if<helper_wire::WatchEnded>(&message)) {
    // The cgroup went away; the next rules refresh gives the new list.
    for (auto& watch : watches_)
      if (watch.id == ended->watch) watch.id.reset();
    describe_wake_source();
    return true;
  }
  return false;
}

void HelperLink::set_pressure_watches(const std::vector<std::string>& cgroups, const PsiTriggerSpec& spec) {
  const bool same_spec =
      spec.kind == watch_spec_.kind && spec.stall == watch_spec_.stall && spec.window == watch_spec_.window;
  if (same_spec && cgroups.size() == watches_.size() &&
      std::equal(
          cgroups.begin(), cgroups.end(), watches_.begin(),
          [](const std::string& cgroup, const PressureWatch& watch) { return cgroup == watch.cgroup; })) {
    return;
  }
  for (const auto& watch : watches_)
    if (client_ && watch.id) client_->send(helper_wire::UnwatchPressure{0, *watch.id});
  watches_.clear();
  for (const auto& cgroup : cgroups) watches_.push_back(PressureWatch{cgroup, 0, false, std::nullopt});
  watch_spec_ = spec;
  describe_wake_source();
  if (client_ && client_->hello() && client_->hello()->pressure) ask_for_watches();
}

void HelperLink::ask_for_watches() {
  for (auto& watch : watches_) ask_for_watch(watch, true);
}

void HelperLink::ask_for_watch(PressureWatch& watch, bool short_window) {
  helper_wire::WatchPressure request;
  request.cgroup = watch.cgroup;
  request.full = watch_spec_.kind == PsiTriggerSpec::Kind::Full;
  auto stall = watch_spec_.stall;
  auto window = watch_spec_.window;
  if (short_window && window > kShortWindow) {
    // The same share of the window: "some 150ms 2s" becomes "some 37.5ms 500ms".
    stall = std::max(std::chrono::microseconds(1), stall * kShortWindow.count() / window.count());
    window = kShortWindow;
  }
  request.stall_us = static_cast<uint64_t>(stall.count());
  request.window_us = static_cast<uint64_t>(window.count());
  watch.short_window = short_window && window == kShortWindow;
  watch.id.reset();
  watch.request = client_ ? client_->send(std::move(request)) : 0;
}

void HelperLink::on_reply(const helper_wire::Reply& reply) {
  for (auto& watch : watches_) {
    if (watch.request == 0 || watch.request != reply.request) continue;
    watch.request = 0;
    if (reply.ok && reply.watch) {
      watch.id = reply.watch;
      describe_wake_source();
      return;
    }
    // A short window the helper cannot arm (no CAP_SYS_RESOURCE): the policy's own window.
    if (watch.short_window && watch_spec_.window != kShortWindow) {
      ask_for_watch(watch, false);
      return;
    }
    Event event{EventType::SenseProblem,
                Priority::Info,
                "guardian-helper does not watch pressure on " + watch.cgroup + " (" + reply.message +
                    "); guardian's own PSI trigger wakes it there",
                {}};
    event.with("WHERE", socket_path_).with("HELPER", "watch-refused").with("CGROUP", watch.cgroup);
    if (handlers_.tell) handlers_.tell(event);
    return;
  }
}

size_t HelperLink::pressure_watches_served() const {
  if (!client_) return 0;
  return static_cast<size_t>(std::count_if(watches_.begin(), watches_.end(),
                                           [](const PressureWatch& watch) { return watch.id.has_value(); }));
}

void HelperLink::describe_wake_source() {
  const size_t served = pressure_watches_served();
  if (served == 0) {
    wake_source_ = kOwnTriggers;
    return;
  }
  wake_source_ = "guardian-helper's pressure watches on " + std::to_string(served) + " of " +
                 std::to_string(watches_.size()) + " watched cgroup(s)";
  if (served < watches_.size()) wake_source_ += ", guardian's own PSI triggers on the rest";
}

void HelperLink::prekill_done(uint64_t id) {
  if (client_) client_->send(helper_wire::PrekillDone{id});
}

void HelperLink::drop(const std::string& why) {
  client_.reset();
  // The helper's watches ended with the connection; the next one asks again.
  for (auto& watch : watches_) {
    watch.request = 0;
    watch.id.reset();
  }
  describe_wake_source();
  // The next tick looks once more (a helper that dropped us may still be listening); a
  // restarting helper's new socket is an event of the directory's watch.
  last_attempt_.reset();
  look_ = Look::Now;
  if (!told_connected_) return;
  told_connected_ = false;
  Event event{EventType::SenseProblem,
              Priority::Notice,
              "guardian-helper connection lost (" + why + "); polling until it is back",
              {}};
  event.with("WHERE", socket_path_).with("HELPER", "lost-connection");
  if (handlers_.tell) handlers_.tell(event);
}

}  // namespace guardian
