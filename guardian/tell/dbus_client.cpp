#include "tell/dbus_client.h"

#include <sdbus-c++/sdbus-c++.h>

#include "tell/dbus/guardian1_proxy.h"

namespace guardian {

namespace {

// The generated proxy, on a connection this process drives itself: synchronous calls only, no
// event-loop thread (sdbus-c++ 1.2 sends them with sd_bus_call when no loop runs).
class Guardian1Client final
    : public sdbus::ProxyInterfaces<io::github::guardian::Guardian1_proxy, sdbus::Properties_proxy> {
 public:
  Guardian1Client(sdbus::IConnection& connection)
      : ProxyInterfaces(connection, std::string(kDbusBusName), std::string(kDbusObjectPath)) {
    registerProxy();
  }
  ~Guardian1Client() { unregisterProxy(); }
  Guardian1Client(const Guardian1Client&) = delete;
  Guardian1Client& operator=(const Guardian1Client&) = delete;
  Guardian1Client(Guardian1Client&&) = delete;
  Guardian1Client& operator=(Guardian1Client&&) = delete;

 private:
  // `guardian status` reads and leaves; it does not listen to signals.
  void onLevelChanged(const std::string&, const std::string&, const std::string&) override {}
  void onActionApplied(const std::string&, const std::string&, const std::string&,
                       const std::string&) override {}
  void onOomKillSeen(const std::string&, const std::string&, const std::string&) override {}
  void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                           const std::vector<std::string>&) override {}
};

// One property out of GetAll's answer, as the XML types it.
template <class T>
T property(const std::map<std::string, sdbus::Variant>& all, const std::string& name) {
  const auto it = all.find(name);
  if (it == all.end()) {
    throw sdbus::Error("io.github.guardian.Error.MissingProperty",
                       "the daemon did not send property " + name + " (a different guardian version?)");
  }
  return it->second.get<T>();
}

std::string bus_name(const DbusClientOptions& options) {
  return options.bus_address.empty() ? "the session bus" : "bus " + options.bus_address;
}

Error explain_call_error(const sdbus::Error& error, const DbusClientOptions& options) {
  const std::string& name = error.getName();
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    return make_error("guardian is not running on " + bus_name(options) + " (nobody owns " +
                      std::string(kDbusBusName) + "); start it with `systemctl --user start guardian`");
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
      error.getMessage().find("Connection timed out") != std::string::npos) {
    return make_error("guardian on " + bus_name(options) + " did not answer within " +
                      std::to_string(options.timeout.count()) + " ms");
  }
  return make_error("D-Bus call to guardian on " + bus_name(options) + " failed: " + name + ": " +
                    error.getMessage());
}

Result<std::unique_ptr<sdbus::IConnection>> open_connection(const DbusClientOptions& options) {
  try {
    auto connection = options.bus_address.empty()
                          ? sdbus::createSessionBusConnection()
                          : sdbus::createSessionBusConnectionWithAddress(options.bus_address);
    connection->setMethodCallTimeout(options.timeout);
    return connection;
  } catch (const sdbus::Error& error) {
    std::string hint =
        options.bus_address.empty()
            ? " (is DBUS_SESSION_BUS_ADDRESS set? guardian runs on the desktop user's session bus)"
            : "";
    return make_error("cannot connect to " + bus_name(options) + ": " + error.getMessage() + hint);
  }
}

}  // namespace

Result<DaemonStatus> fetch_daemon_status(const DbusClientOptions& options) {
  auto connection = open_connection(options);
  if (!connection) return connection.error();
  try {
    Guardian1Client client(**connection);
    // One GetAll, so every property comes from the same tick (the daemon answers between ticks).
    const auto all = client.GetAll(std::string(kDbusInterface));
    DaemonStatus status;
    status.level = property<std::string>(all, "Level");
    status.level_index = property<uint32_t>(all, "LevelIndex");
    using Watched = sdbus::Struct<std::string, double, double, double, bool, double, double, std::string>;
    for (const auto& entry : property<std::vector<Watched>>(all, "WatchedCgroups")) {
      WatchedCgroupStatus watched;
      watched.path = entry.get<0>();
      watched.full_avg10 = entry.get<1>();
      watched.limit_percent = entry.get<2>();
      watched.duration_s = entry.get<3>();
      watched.over_limit = entry.get<4>();
      watched.seconds_over = entry.get<5>();
      if (entry.get<6>() >= 0) watched.seconds_until_kill = entry.get<6>();
      watched.likely_victim = entry.get<7>();
      status.watched.push_back(std::move(watched));
    }
    const auto system = property<sdbus::Struct<double, double>>(all, "SystemPressure");
    status.system_some_avg10 = system.get<0>();
    status.system_full_avg10 = system.get<1>();
    status.active_actions = property<std::vector<std::string>>(all, "ActiveActions");
    status.policy_path = property<std::string>(all, "PolicyPath");
    status.dry_run = property<bool>(all, "DryRun");
    status.mode = property<std::string>(all, "Mode");
    status.mode_reason = property<std::string>(all, "ModeReason");
    // Newer than the other properties: a daemon from before it leaves the line out.
    if (const auto it = all.find("WakeSource"); it != all.end())
      status.wake_source = it->second.get<std::string>();
    status.version = property<std::string>(all, "Version");
    status.tick_lateness_max_s = property<double>(all, "TickLatenessMax");
    status.memory_lock = property<std::string>(all, "MemoryLock");
    status.explanation = client.Explain();
    return status;
  } catch (const sdbus::Error& error) {
    return explain_call_error(error, options);
  }
}

Result<std::pair<bool, std::string>> request_daemon_reload(const DbusClientOptions& options) {
  auto connection = open_connection(options);
  if (!connection) return connection.error();
  try {
    Guardian1Client client(**connection);
    auto [ok, message] = client.Reload();
    return std::pair<bool, std::string>(ok, message);
  } catch (const sdbus::Error& error) {
    return explain_call_error(error, options);
  }
}

}  // namespace guardian
