// A real systemd-journald of its own for a test: a journal namespace ("systemd-journald NS",
// socket /run/systemd/journal.NS/socket) whose clock the test sets through libfaketime, so
// entries recorded on another day land in the journal with their recorded __REALTIME_TIMESTAMP
// and a test can expect exact times. It reads no kernel log and leaves the machine's journal
// alone; stopping it removes its files. Needs root (it creates /run/systemd/journal.NS).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace guardian::test {

class FakeClockJournald {
 public:
  // The shared object that fakes the clock (Debian's libfaketime), or "" when not installed.
  static std::string libfaketime();
  // Starts one with its clock at `start_us`; nullptr with `error` saying why not.
  static std::unique_ptr<FakeClockJournald> start(int64_t start_us, std::string* error);
  ~FakeClockJournald();
  FakeClockJournald(const FakeClockJournald&) = delete;
  FakeClockJournald& operator=(const FakeClockJournald&) = delete;

  [[nodiscard]] const std::string& name_space() const { return name_space_; }
  // The file libfaketime reads the time from: a child run with faked_env() sees the same clock.
  [[nodiscard]] const std::string& clock_file() const { return clock_file_; }
  void set_clock(int64_t time_us);
  // Environment for a child that should see this clock ("LD_PRELOAD=…", …).
  [[nodiscard]] std::map<std::string, std::string> faked_env() const;

  // Sends one entry over the native protocol with journald's clock at `time_us` and waits until
  // journald has written it. Fields whose names start with '_' are journald's own (it sets them
  // from the sender) and are not sent, as no client can send them.
  bool send(const std::map<std::string, std::string>& fields, int64_t time_us, std::string* error);

 private:
  FakeClockJournald() = default;
  pid_t pid_ = -1;
  std::string name_space_;
  std::string clock_file_;
  std::string work_dir_;
  void* reader_ = nullptr;  // sd_journal on the namespace, to see entries arrive
};

}  // namespace guardian::test
