#include "daemon/helper_link.h"

#include <sys/stat.h>

#include <type_traits>
#include <utility>
#include <variant>

namespace guardian {

HelperLink::HelperLink(std::string socket_path, HelperHandlers handlers, std::chrono::milliseconds retry)
    : socket_path_(std::move(socket_path)), handlers_(std::move(handlers)), retry_(retry) {}

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
  if (last_attempt_ && now - *last_attempt_ < retry_) return;
  last_attempt_ = now;
  // No helper installed is the common case: a stat of a missing path charges nothing, while a
  // socket() per attempt would allocate kernel memory every second under the user's shortage.
  struct stat info {};
  if (::stat(socket_path_.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) return;
  // Nobody listening, no permission: no helper, which is a normal way to run.
  auto connected = HelperClient::connect(socket_path_);
  if (!connected) return;
  client_.emplace(std::move(*connected));
  ++connections_;
}

void HelperLink::on_readable(std::chrono::steady_clock::time_point /*now*/) {
  if (!client_) return;
  auto messages = client_->read_available();
  if (messages) dispatch(*messages);
  for (const auto& problem : client_->take_problems()) {
    Event event{
        EventType::SenseProblem, Priority::Warning, "guardian-helper sent a bad line: " + problem, {}};
    event.with("WHERE", socket_path_);
    if (handlers_.tell) handlers_.tell(event);
  }
  if (!messages) drop(messages.error().message);
}

void HelperLink::dispatch(const std::vector<helper_wire::ServerMessage>& messages) {
  for (const auto& message : messages) {
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
            if (handlers_.kill) handlers_.kill(kill_from_helper(m));
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
          // Exits, pressure watches and replies: guardian registers no watches and needs no exits.
        },
        message);
  }
}

void HelperLink::prekill_done(uint64_t id) {
  if (client_) client_->send(helper_wire::PrekillDone{id});
}

void HelperLink::drop(const std::string& why) {
  client_.reset();
  last_attempt_.reset();  // the next tick tries again (a restarting helper is back in a moment)
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
