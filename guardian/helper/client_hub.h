// The helper's clients: the listening Unix socket (/run/guardian/helper.sock, mode 0666: anyone
// may connect, and SO_PEERCRED decides what each one sees) and every connection on it.
//
// No client can hold up the others or the ring buffer: sockets are non-blocking, each client has
// a bounded outgoing queue (queue_bytes) and when it does not read, its new events are dropped
// and counted, then announced as `lost count=N` once its queue has drained; a client's input is
// cut into bounded lines and one that keeps sending malformed lines is disconnected. Connections
// are capped in total and per uid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/helper_wire.h"
#include "common/result.h"
#include "helper/epoll.h"

namespace guardian::helper {

struct HubLimits {
  std::size_t max_clients = 64;
  std::size_t max_clients_per_uid = 8;
  std::size_t queue_bytes = helper_wire::kClientQueueBytes;  // per client
  std::size_t max_bad_lines = 16;                            // then the client is dropped
  std::size_t read_budget = 64 * 1024;                       // bytes read from one client per wakeup
};

struct ClientInfo {
  uint32_t id = 0;
  uid_t uid = 0;
  pid_t pid = 0;
};

class ClientHub {
 public:
  // Creates the socket at `path` (replacing a stale one) with mode 0666.
  static Result<ClientHub> listen(const std::string& path, Epoll& epoll, HubLimits limits = {});

  ClientHub(ClientHub&&) noexcept = default;
  ~ClientHub();

  // Accepts pending connections; `greet` makes each new client's first line. Returns the new
  // clients (after the caps: refused connections are told why and closed).
  std::vector<ClientInfo> accept_pending(const std::function<helper_wire::Hello(const ClientInfo&)>& greet);

  struct Input {
    std::vector<helper_wire::ClientRequest> requests;
    bool closed = false;  // the client went away or was dropped; its id is no longer valid
  };
  // Reads what the client sent. Malformed lines are answered with `error request=0 message=…`.
  Input read_from(uint32_t id);
  void on_writable(uint32_t id);

  // Queues a message for one client (dropped and counted when its queue is full).
  void send(uint32_t id, const helper_wire::ServerMessage& message);
  // Sends a message to the owner's clients and to root's (owner == nullopt: root's only).
  // Returns how many clients it was queued for. With write_now false it is only queued, for a
  // burst of messages written with one send() per client by flush_all().
  std::size_t deliver(const helper_wire::ServerMessage& message, std::optional<uid_t> owner,
                      bool write_now = true);
  void flush_all();

  void close(uint32_t id);
  [[nodiscard]] std::optional<ClientInfo> info(uint32_t id) const;
  [[nodiscard]] std::vector<ClientInfo> clients() const;
  [[nodiscard]] std::size_t size() const { return clients_.size(); }
  [[nodiscard]] int listen_fd() const { return listener_.get(); }
  [[nodiscard]] uint64_t total_lost() const { return total_lost_; }
  // Called with the id of every client that goes away (to drop what it registered).
  void on_close(std::function<void(uint32_t)> callback) { on_close_ = std::move(callback); }

 private:
  struct Client {
    ClientInfo info;
    UniqueFd fd;
    helper_wire::LineFramer framer;
    std::string outgoing;
    uint64_t lost = 0;
    std::size_t bad_lines = 0;
    bool want_write = false;
  };

  ClientHub(UniqueFd listener, std::string path, Epoll& epoll, HubLimits limits)
      : listener_(std::move(listener)), path_(std::move(path)), epoll_(&epoll), limits_(limits) {}
  void enqueue(Client& client, const std::string& bytes);
  void flush(Client& client);
  void update_interest(Client& client);

  UniqueFd listener_;
  std::string path_;
  Epoll* epoll_;
  HubLimits limits_;
  std::map<uint32_t, Client> clients_;
  uint32_t next_id_ = 1;
  uint64_t total_lost_ = 0;
  std::function<void(uint32_t)> on_close_;
  std::vector<uint32_t> doomed_;  // clients to close once the current send loop is done
};

}  // namespace guardian::helper
