// TripleBuffer: one writer thread hands whole values to one reader thread, neither ever waiting
// for the other, and nothing allocated by the hand-over itself.
//
// Why not the sequence lock of daemon/watchdog_pinger.h's StatusMailbox: that copies fixed words
// a reader may read while they change and then throws the copy away. A value with strings and
// vectors (the D-Bus API's DaemonStatus) cannot be read while it is being written at all. Here
// the writer fills a slot the reader cannot reach, then trades it for the middle slot in one
// atomic exchange; the reader trades its slot for the middle one when that is newer. Each side
// always owns exactly one slot, the third is in the middle. The exchanges are acquire-release,
// so what one side wrote into a slot is seen by the side that gets it; no standalone fences
// (ThreadSanitizer does not model them, and gcc refuses them under -fsanitize=thread).
//
// A slot's storage is reused when it comes back (copy-assign into back() keeps a string's
// capacity), so once each slot has held the largest value no hand-over allocates.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace guardian {

template <class T>
class TripleBuffer {
 public:
  TripleBuffer() = default;
  TripleBuffer(const TripleBuffer&) = delete;
  TripleBuffer& operator=(const TripleBuffer&) = delete;

  // The writer: the slot it fills next (its own until publish()).
  T& back() { return slots_[back_]; }
  // The writer: back() becomes the newest value; back() is now another slot, holding an older
  // value (or one the reader is done with).
  void publish() {
    back_ = static_cast<uint8_t>(
        middle_.exchange(static_cast<uint8_t>(back_ | kFresh), std::memory_order_acq_rel) & kIndex);
  }
  // The writer, before its first publish() only: every slot gets `value`, so no slot that comes
  // round later starts small (the reader reads no slot before it has taken a published one).
  void fill_all_before_first_publish(const T& value) {
    for (auto& slot : slots_) slot = value;
  }

  // The reader: takes the newest published value if there is one it has not taken. True when
  // front() changed.
  bool take() {
    if ((middle_.load(std::memory_order_relaxed) & kFresh) == 0) return false;
    front_ = static_cast<uint8_t>(middle_.exchange(front_, std::memory_order_acq_rel) & kIndex);
    return true;
  }
  // The reader: the value taken last (a default T until the first take()).
  const T& front() const { return slots_[front_]; }

 private:
  static constexpr uint8_t kIndex = 3;
  static constexpr uint8_t kFresh = 4;
  std::array<T, 3> slots_{};
  uint8_t back_ = 0;                // the writer's
  std::atomic<uint8_t> middle_{1};  // index | kFresh when published and not yet taken
  uint8_t front_ = 2;               // the reader's
};

}  // namespace guardian
