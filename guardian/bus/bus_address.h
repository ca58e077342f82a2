// Which D-Bus bus a client talks to. Plain values, no sdbus-c++ here.
#pragma once

#include <string>

namespace guardian::bus {

struct BusAddress {
  enum class Kind {
    User,     // the session/user bus ($DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus)
    System,   // the system bus (read-only use: systemd-oomd, the system manager)
    Address,  // an explicit address ("unix:path=/tmp/…"), for tests and --bus-address
  } kind = Kind::User;
  std::string address;  // only for Kind::Address

  static BusAddress user() { return {Kind::User, {}}; }
  static BusAddress system() { return {Kind::System, {}}; }
  static BusAddress at(std::string address) { return {Kind::Address, std::move(address)}; }
  [[nodiscard]] std::string describe() const {
    switch (kind) {
      case Kind::User: return "user bus";
      case Kind::System: return "system bus";
      case Kind::Address: return "bus at " + address;
    }
    return "bus";
  }
};

}  // namespace guardian::bus
