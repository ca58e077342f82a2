// guardian-helper as one more sense source of the loop (guardian/helper/, docs/helper.md).
// When its socket exists the daemon reads its events through sense/helper_client on the loop,
// never blocking, and hands each on the moment it arrives: an OOM kill or an oomd kill is told
// at once (merged with the later polled sightings of the same kill), an ffmpeg start makes the
// Jellyfin watcher look now, a systemd-oomd pre-kill notice is told and answered. Without the
// helper nothing is said and the polling goes on as before; when the helper goes away (a
// restart, an upgrade) the loop falls back to polling and connects again at a later tick.
//
// The socket is found by inotify, not by looking: a stat() of the missing path once a second
// costs a negative dentry, and under reclaim the kernel drops it and charges a new one to
// guardian's cgroup at each look (tests/vm/FINDINGS-issue10.md). The socket's directory is
// watched for the socket appearing (its creation, a rename into place, a permission change);
// while the directory itself is missing its parent is watched for it; only when neither can be
// watched (the parent is missing too, or no inotify) does the link look again, slowly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "common/fd.h"
#include "common/helper_wire.h"
#include "sense/helper_client.h"
#include "sense/kill_watch.h"
#include "sense/psi_trigger.h"

namespace guardian {

// What the loop does with the helper's events (all called on the loop thread).
struct HelperHandlers {
  std::function<void(const KillSeen&)> kill;                       // kernel OOM kill, oomd's SIGKILL
  std::function<void(const helper_wire::ProcessExec&)> exec;       // ffmpeg / ffprobe started
  std::function<void(const helper_wire::PrekillNotice&)> prekill;  // oomd is about to kill
  std::function<void(const Event&)> tell;                          // connected, lost, bad lines
  // A pressure watch fired: `index` into the cgroups last given to set_pressure_watches().
  std::function<void(size_t index)> pressure;
};

class HelperLink {
 public:
  // `socket_path` "" = never use a helper. `retry`: how long after a failed or lost connection
  // the next attempt may be made (maintain() is called every tick).
  HelperLink(std::string socket_path, HelperHandlers handlers,
             std::chrono::milliseconds retry = std::chrono::milliseconds(1000));

  // Connects when not connected and the socket may be there (at start, after a lost connection,
  // `retry` after a refused attempt); sends what is queued. A missing socket is the normal case
  // without a helper and is not told.
  void maintain(std::chrono::steady_clock::time_point now);
  // The inotify fd the loop polls (-1 without one) and what it calls when it is readable: reads
  // the events and connects at once when the socket appeared.
  [[nodiscard]] int watch_fd() const { return inotify_.get(); }
  void on_watch_readable(std::chrono::steady_clock::time_point now);
  // How long between looks for the directory when it cannot be watched.
  static constexpr std::chrono::seconds kSlowLook{30};
  // Reads what the socket holds and dispatches each message as it is decoded, allocating nothing
  // once warm (sense/helper_client.h); a closed or broken connection falls back. After a burst
  // of HelperClient::kReadPerCall bytes it returns with the rest still in the socket: the loop's
  // level-triggered epoll comes back at once, after a tick that is due.
  void on_readable(std::chrono::steady_clock::time_point now);
  // Tells the helper this guardian is ready for the kill announced by notice `id`.
  void prekill_done(uint64_t id);

  // Pressure watches (docs/helper.md, "Pressure watches"): PSI triggers the helper arms for
  // guardian on `cgroups` (paths below the cgroup2 mount) and relays as `pressure` lines. The
  // helper checks a trigger in the PSI poll thread, where guardian's own unprivileged 2 s trigger
  // is checked only every 2 s, so a firing reaches the loop within a fraction of a second instead
  // of mostly after the next tick. Asked for at every connection whose greeting offers them: first
  // with `spec` scaled to a kShortWindow window (the helper has CAP_SYS_RESOURCE), on refusal once
  // more with `spec` itself; a cgroup the helper refuses both (one the user owns, which it cannot
  // open) is left to guardian's own trigger, and told once per connection at Info. The same list
  // and spec again change nothing; a new one drops the old watches and asks anew.
  static constexpr std::chrono::microseconds kShortWindow{500000};
  void set_pressure_watches(const std::vector<std::string>& cgroups, const PsiTriggerSpec& spec);
  // How many of those cgroups the helper watches now, and what wakes the loop between ticks in
  // words ("guardian-helper's pressure watch (some 37500us/500000us) on 1 of 2 cgroups; ...").
  [[nodiscard]] size_t pressure_watches_served() const;
  // Made when it changes, read at every tick.
  [[nodiscard]] const std::string& wake_source() const { return wake_source_; }

  // The connection's fd (-1 without one) and a number that changes with every new connection,
  // so the loop adds a new fd to its epoll even when the kernel hands out the same number again.
  [[nodiscard]] int fd() const { return client_ ? client_->fd() : -1; }
  [[nodiscard]] uint64_t connection() const { return connections_; }
  [[nodiscard]] bool wants_write() const { return client_ && client_->wants_write(); }

  // "helper" while connected and greeted, else "polling".
  [[nodiscard]] const char* mode() const { return client_ && client_->hello() ? "helper" : "polling"; }
  [[nodiscard]] const std::optional<helper_wire::Hello>& hello() const;
  [[nodiscard]] uint64_t events() const { return events_; }  // dispatched since start
  [[nodiscard]] uint64_t lost() const { return lost_; }      // the helper dropped for us

 private:
  // When to look at the socket next: now, `retry_` after the last attempt, or on an event.
  enum class Look { Now, Retry, OnEvent };
  void dispatch(const helper_wire::ServerMessage& message);
  void drop(const std::string& why);
  // Watches the directory, else its parent; true when the directory is watched.
  bool add_watches();
  void try_connect(std::chrono::steady_clock::time_point now);
  struct PressureWatch;
  void ask_for_watch(PressureWatch& watch, bool short_window);
  void ask_for_watches();
  bool on_pressure_message(const helper_wire::ServerMessage& message);
  void on_reply(const helper_wire::Reply& reply);
  void describe_wake_source();

  std::string socket_path_;
  std::string directory_, socket_name_;  // "/run/guardian", "helper.sock"
  std::string parent_, directory_name_;  // "/run", "guardian"
  HelperHandlers handlers_;
  std::chrono::milliseconds retry_;
  UniqueFd inotify_;
  int directory_watch_ = -1;  // on directory_: the socket appearing
  int parent_watch_ = -1;     // on parent_, while directory_ is missing: it appearing
  Look look_ = Look::Now;
  std::optional<std::chrono::steady_clock::time_point> last_slow_look_;
  std::optional<HelperClient> client_;
  std::optional<std::chrono::steady_clock::time_point> last_attempt_;
  uint64_t connections_ = 0;
  uint64_t events_ = 0;
  uint64_t lost_ = 0;
  bool told_connected_ = false;
  KillSeen kill_;  // the kill being handed on, its strings refilled for each (no allocation)

  struct PressureWatch {
    std::string cgroup;
    uint64_t request = 0;        // the watch-pressure request awaiting its answer (0: none)
    bool short_window = false;   // that request asked for kShortWindow
    std::optional<uint32_t> id;  // the helper's watch, once it took it
  };
  std::vector<PressureWatch> watches_;
  PsiTriggerSpec watch_spec_;
  std::string wake_source_ = kOwnTriggers;
  static constexpr const char* kOwnTriggers = "guardian's own PSI triggers";
};

}  // namespace guardian
