// systemd-oomd's pre-kill hook, served by the helper (systemd >= 260). Before systemd-oomd
// kills a cgroup it connects to every socket in /run/systemd/oomd.prekill.hook/ and calls
// io.systemd.oom.Prekill.Notify({"cgroup": "/user.slice/…"}); it kills once every hook has
// answered or PrekillHookTimeoutSec= (oomd.conf, default 0 = hooks off) has passed. The helper
// forwards the notice to the owning user's clients and answers once they all said prekill-done,
// went away, or the helper's own wait ran out — whichever comes first.
//
// Only systemd-oomd may call: connections from other uids than root and the configured oomd
// user (systemd-oom) are closed at once, so a user cannot announce fake kills to another user.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "helper/epoll.h"
#include "helper/varlink.h"

namespace guardian::helper {

inline constexpr const char* kPrekillHookDir = "/run/systemd/oomd.prekill.hook";

class PrekillHook {
 public:
  // Listens on `path` (mode 0666; callers are filtered by uid), answering calls from `callers`.
  static Result<PrekillHook> listen(const std::string& path, Epoll& epoll, std::set<uid_t> callers);
  PrekillHook(PrekillHook&&) noexcept = default;
  ~PrekillHook();

  void accept_pending();

  struct Notice {
    uint64_t id = 0;
    std::string cgroup;
  };
  // Reads what a connection sent. Notify calls come back as notices (answered later with
  // answer()); other calls are answered here. A connection that sends garbage is closed.
  std::vector<Notice> read_from(uint32_t connection);
  void on_writable(uint32_t connection);
  // The notice's kill may go ahead: answers oomd's call (in order with the connection's others).
  void answer(uint64_t notice);
  // The connection hung up or failed (EPOLLHUP/EPOLLERR): its owed answers are abandoned.
  void drop(uint32_t connection) { close(connection); }
  // Notices whose connection went away since the last call (nobody to answer any more).
  std::vector<uint64_t> take_abandoned();

  [[nodiscard]] int listen_fd() const { return listener_.get(); }
  [[nodiscard]] std::size_t connections() const { return connections_.size(); }

 private:
  struct Slot {
    uint64_t notice = 0;               // 0: an answer that is already known
    std::optional<std::string> bytes;  // the answer, once known
  };
  struct Connection {
    UniqueFd fd;
    varlink::Framer framer;
    std::deque<Slot> slots;  // answers owed, in call order
    std::string outgoing;
    bool eof = false;  // the caller shut its side: answer what is owed, then close
  };

  PrekillHook(UniqueFd listener, std::string path, Epoll& epoll, std::set<uid_t> callers)
      : listener_(std::move(listener)),
        path_(std::move(path)),
        epoll_(&epoll),
        callers_(std::move(callers)) {}
  void release(uint32_t id, Connection& connection);
  void close(uint32_t id);

  UniqueFd listener_;
  std::string path_;
  Epoll* epoll_;
  std::set<uid_t> callers_;
  std::map<uint32_t, Connection> connections_;
  std::map<uint64_t, uint32_t> notice_connection_;
  std::vector<uint64_t> abandoned_;
  uint32_t next_connection_ = 1;
  uint64_t next_notice_ = 1;
};

// The answer to one call that is not Notify (GetInfo, GetInterfaceDescription, errors), or
// nullopt for Notify, which the caller holds until the clients are ready.
std::optional<std::string> answer_directly(const varlink::Call& call);
// The cgroup of a Notify call, or the error answer to send instead.
Result<std::string> notify_cgroup(const varlink::Call& call);

}  // namespace guardian::helper
