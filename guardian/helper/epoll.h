// A small epoll owner: every fd the helper's loop waits on is registered with a tag that says
// what it is (the ring buffer, the listening socket, a client, a PSI trigger, ...) and which one.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "common/fd.h"
#include "common/result.h"

namespace guardian::helper {

enum class Source : uint32_t {
  Signal = 1,
  RingBuffer,
  Listener,
  Client,
  PressureWatch,
  VarlinkListener,
  VarlinkConnection,
  Timer,
};

struct Tag {
  Source source;
  uint32_t id;
  [[nodiscard]] uint64_t pack() const { return (static_cast<uint64_t>(source) << 32) | id; }
  static Tag unpack(uint64_t value) {
    return Tag{static_cast<Source>(value >> 32), static_cast<uint32_t>(value & 0xffffffffU)};
  }
};

class Epoll {
 public:
  static Result<Epoll> create();
  Result<void> add(int fd, uint32_t events, Tag tag);
  Result<void> modify(int fd, uint32_t events, Tag tag);
  void remove(int fd);
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  explicit Epoll(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace guardian::helper
