// Test doubles of org.freedesktop.systemd1 (the user manager) and org.freedesktop.oom1
// (systemd-oomd), served with sdbus-c++ on a test's private dbus-daemon. They implement the real
// names and signatures — taken from systemd's org.freedesktop.systemd1(5) and
// org.freedesktop.oom1(5) (systemd 252) — and only the calls guardian uses:
//
//   /org/freedesktop/systemd1  org.freedesktop.systemd1.Manager
//     ListUnits() -> a(ssssssouso), SetUnitProperties(s name, b runtime, a(sv) properties),
//     FreezeUnit(s), ThawUnit(s), Subscribe(); signals UnitNew(s id, o unit), UnitRemoved(s, o)
//   /org/freedesktop/systemd1/unit/<escaped>  org.freedesktop.systemd1.Unit (Id, LoadState,
//     ActiveState, SubState, FreezerState, SourcePath, FragmentPath) and
//     org.freedesktop.systemd1.{Slice,Service,Scope} (Slice, ControlGroup, MemoryCurrent,
//     MemoryHigh, MemoryMax, MemoryLow, ManagedOOMMemoryPressure, ManagedOOMMemoryPressureLimit,
//     ManagedOOMPreference; Service also NRestarts, Environment), read with
//     org.freedesktop.DBus.Properties.GetAll; PropertiesChanged emitted on a change.
//   /org/freedesktop/oom1  org.freedesktop.oom1.Manager
//     DumpByFileDescriptor() -> h (a memfd with the dump text); signal Killed(s cgroup, s reason)
//
// Errors are systemd's: org.freedesktop.systemd1.NoSuchUnit for an unknown unit.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sense/systemd_units.h"

namespace guardian::bus {
class BusLink;
}

namespace guardian::test {

struct RecordedSetProperties {
  std::string unit;
  bool runtime = false;
  // (name, D-Bus signature, value as text): ("MemoryHigh", "t", "6442450944")
  std::vector<std::tuple<std::string, std::string, std::string>> properties;
};

class SystemdManagerDouble {
 public:
  // Connects to `address` and owns org.freedesktop.systemd1 there, serving `units`.
  SystemdManagerDouble(const std::string& address, std::vector<UnitProperties> units);
  ~SystemdManagerDouble();

  [[nodiscard]] bool ready() const;
  // Thread-safe views and changes; changes emit the signals real systemd emits.
  UnitProperties unit(const std::string& name) const;
  std::vector<RecordedSetProperties> set_calls() const;
  std::vector<std::string> calls()
      const;  // method names in call order ("Subscribe", "FreezeUnit jellyfin.service")
  void add_unit(const UnitProperties& unit);  // + UnitNew
  void remove_unit(const std::string& name);  // + UnitRemoved
  // + PropertiesChanged, except for MemoryCurrent (systemd emits none for it).
  void change_property(const std::string& unit, const std::string& property, uint64_t value);
  void fail_next_set(const std::string& dbus_error_name);  // the next SetUnitProperties fails with it

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<bus::BusLink> link_;
};

class OomdDouble {
 public:
  OomdDouble(const std::string& address, std::string dump_text);
  ~OomdDouble();
  [[nodiscard]] bool ready() const;
  void set_dump(std::string dump_text);
  // How many DumpByFileDescriptor calls it answered.
  [[nodiscard]] uint64_t dumps_served() const;
  void emit_killed(const std::string& cgroup, const std::string& reason);

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<bus::BusLink> link_;
};

}  // namespace guardian::test
