#include "bus/systemd_client.h"

#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "bus/bus_link.h"
#include "common/fd.h"

namespace guardian::bus {
namespace {

constexpr const char* kSystemdService = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char* kPropertiesInterface = "org.freedesktop.DBus.Properties";
constexpr const char* kOomdService = "org.freedesktop.oom1";
constexpr const char* kOomdPath = "/org/freedesktop/oom1";
constexpr const char* kOomdInterface = "org.freedesktop.oom1.Manager";

uint64_t to_usec(std::chrono::microseconds timeout) {
  return timeout.count() > 0 ? static_cast<uint64_t>(timeout.count()) : 1;
}

std::string error_text(const std::string& what, const sdbus::Error& error) {
  std::string text = what + ": " + error.getName();
  if (!error.getMessage().empty()) text += ": " + error.getMessage();
  return text;
}

// Waits for an asynchronous call's callback until the deadline. The callback may still run
// later (it then sets a promise nobody reads); shared state keeps that safe.
template <class T, class Start>
Result<T> wait_until_done(Start start, Deadline deadline, const std::string& what) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto future = promise->get_future();
  start([promise, answered](Result<T> result) {
    if (!answered->exchange(true)) promise->set_value(std::move(result));
  });
  if (future.wait_until(deadline) != std::future_status::ready) {
    return make_error(what + ": no answer from D-Bus before the deadline");
  }
  return future.get();
}

std::optional<uint64_t> memory_value(uint64_t value) {
  if (value == std::numeric_limits<uint64_t>::max()) return std::nullopt;  // infinity / unknown
  return value;
}

UnitProperties decode_unit(const std::string& name, std::map<std::string, sdbus::Variant>& properties) {
  UnitProperties unit;
  unit.name = name;
  auto text = [&](const char* key, std::string& into) {
    auto found = properties.find(key);
    if (found != properties.end() && found->second.containsValueOfType<std::string>()) {
      into = found->second.get<std::string>();
    }
  };
  auto u64 = [&](const char* key, std::optional<uint64_t>& into) {
    auto found = properties.find(key);
    if (found != properties.end() && found->second.containsValueOfType<uint64_t>()) {
      into = memory_value(found->second.get<uint64_t>());
    }
  };
  text("Id", unit.name);
  if (unit.name.empty()) unit.name = name;
  text("LoadState", unit.load_state);
  text("ActiveState", unit.active_state);
  text("SubState", unit.sub_state);
  text("FreezerState", unit.freezer_state);
  text("ControlGroup", unit.control_group);
  text("Slice", unit.slice);
  text("SourcePath", unit.source_path);
  text("FragmentPath", unit.fragment_path);
  text("ManagedOOMMemoryPressure", unit.managed_oom_memory_pressure);
  text("ManagedOOMPreference", unit.managed_oom_preference);
  u64("MemoryCurrent", unit.memory_current);
  u64("MemoryHigh", unit.memory_high);
  u64("MemoryMax", unit.memory_max);
  u64("MemoryLow", unit.memory_low);
  if (auto found = properties.find("ManagedOOMMemoryPressureLimit");
      found != properties.end() && found->second.containsValueOfType<uint32_t>()) {
    const uint32_t scaled = found->second.get<uint32_t>();
    if (scaled > 0) unit.managed_oom_memory_pressure_limit_percent = oom_limit_from_u32(scaled);
  }
  if (auto found = properties.find("NRestarts");
      found != properties.end() && found->second.containsValueOfType<uint32_t>()) {
    unit.n_restarts = found->second.get<uint32_t>();
  }
  if (auto found = properties.find("Environment");
      found != properties.end() && found->second.containsValueOfType<std::vector<std::string>>()) {
    unit.environment = found->second.get<std::vector<std::string>>();
  }
  return unit;
}

sdbus::Variant to_variant(const UnitPropertyValue& property) {
  return std::visit([](const auto& value) { return sdbus::Variant(value); }, property.value);
}

// Where a method call goes.
struct MethodTarget {
  const char* service;
  std::string object_path;
  const char* interface;
  std::string method;
};

// One asynchronous method call, made on the link's thread. `done` is answered exactly once: not
// connected, the callee's error, or what `decode` makes of the reply (an sdbus::Error thrown
// while reading the reply becomes the error). `what` names the call in every error.
template <class T, class AddArguments, class Decode>
void call_method(BusLink& link, MethodTarget target, std::string what, AddArguments add_arguments,
                 Decode decode, std::function<void(Result<T>)> done, std::chrono::microseconds timeout) {
  link.post([&link, target = std::move(target), what = std::move(what),
             add_arguments = std::move(add_arguments), decode = std::move(decode), done = std::move(done),
             timeout](sdbus::IConnection* connection) {
    if (!connection) return done(make_error(what + ": not connected"));
    auto& proxy = link.proxy(target.service, target.object_path);
    auto call = proxy.createMethodCall(target.interface, target.method);
    add_arguments(call);
    proxy.callMethod(
        call,
        [done, what, decode](sdbus::MethodReply& reply, const sdbus::Error* error) {
          if (error) return done(make_error(error_text(what, *error)));
          auto decoded = [&]() -> Result<T> {
            try {
              return decode(reply);
            } catch (const sdbus::Error& decode_error) {
              return make_error(error_text(what, decode_error));
            }
          }();
          done(std::move(decoded));
        },
        to_usec(timeout));
  });
}

void no_arguments(sdbus::MethodCall&) {}
Result<void> ignore_reply(sdbus::MethodReply&) { return {}; }

}  // namespace

// ---------------------------------------------------------------- SystemdClient

SystemdClient::SystemdClient(BusAddress address) : link_(std::make_unique<BusLink>(std::move(address))) {
  link_->start();
}

SystemdClient::~SystemdClient() = default;

bool SystemdClient::connected() const { return link_->connected(); }
bool SystemdClient::on_bus_thread() const { return link_->on_link_thread(); }
void SystemdClient::shutdown() { link_->shutdown(); }

void ReleasedClients::add() {
  std::lock_guard lock(mutex_);
  ++pending_;
}

void ReleasedClients::done() {
  std::lock_guard lock(mutex_);
  --pending_;
  cv_.notify_all();
}

void ReleasedClients::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [this] { return pending_ == 0; });
}

std::shared_ptr<SystemdClient> make_shared_systemd_client(BusAddress address,
                                                          std::shared_ptr<ReleasedClients> released) {
  return {new SystemdClient(std::move(address)), [released](SystemdClient* client) {
            if (!client->on_bus_thread()) {
              delete client;
              return;
            }
            if (released) released->add();
            std::thread([client, released] {
              delete client;  // joins the bus thread, which finishes the callback it is in first
              if (released) released->done();
            }).detach();
          }};
}

std::string SystemdClient::describe() const {
  return "systemd manager on the " + link_->address().describe();
}
void SystemdClient::set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max) {
  link_->set_retry_interval(first, max);
}

void SystemdClient::get_unit(const std::string& unit, Done<UnitProperties> done,
                             std::chrono::microseconds timeout) {
  // "" = every interface of the object (sd-bus's GetAll): Unit plus Service/Scope/Slice.
  call_method<UnitProperties>(
      *link_, {kSystemdService, unit_object_path(unit), kPropertiesInterface, "GetAll"},
      "reading " + unit + " from the " + link_->address().describe(),
      [](sdbus::MethodCall& call) { call << std::string(); },
      [unit](sdbus::MethodReply& reply) -> Result<UnitProperties> {
        std::map<std::string, sdbus::Variant> properties;
        reply >> properties;
        return decode_unit(unit, properties);
      },
      std::move(done), timeout);
}

void SystemdClient::list_units(Done<std::vector<UnitListEntry>> done, std::chrono::microseconds timeout) {
  call_method<std::vector<UnitListEntry>>(
      *link_, {kSystemdService, kManagerPath, kManagerInterface, "ListUnits"},
      "ListUnits on the " + link_->address().describe(), no_arguments,
      [](sdbus::MethodReply& reply) -> Result<std::vector<UnitListEntry>> {
        // a(ssssssouso): name, description, load, active, sub, following, path, job id, type, path.
        std::vector<sdbus::Struct<std::string, std::string, std::string, std::string, std::string,
                                  std::string, sdbus::ObjectPath, uint32_t, std::string, sdbus::ObjectPath>>
            rows;
        reply >> rows;
        std::vector<UnitListEntry> units;
        units.reserve(rows.size());
        for (auto& row : rows) {
          units.push_back(UnitListEntry{row.get<0>(), row.get<1>(), row.get<2>(), row.get<3>(), row.get<4>(),
                                        std::string(row.get<6>())});
        }
        return units;
      },
      std::move(done), timeout);
}

void SystemdClient::set_unit_properties(const std::string& unit, bool runtime,
                                        std::vector<UnitPropertyValue> properties, Done<void> done,
                                        std::chrono::microseconds timeout) {
  call_method<void>(
      *link_, {kSystemdService, kManagerPath, kManagerInterface, "SetUnitProperties"},
      "SetUnitProperties " + unit + " on the " + link_->address().describe(),
      [unit, runtime, properties = std::move(properties)](sdbus::MethodCall& call) {
        std::vector<sdbus::Struct<std::string, sdbus::Variant>> assignments;
        for (const auto& property : properties) assignments.emplace_back(property.name, to_variant(property));
        call << unit << runtime << assignments;
      },
      ignore_reply, std::move(done), timeout);
}

void SystemdClient::call_void(const std::string& method, const std::string& unit, Done<void> done,
                              std::chrono::microseconds timeout) {
  call_method<void>(
      *link_, {kSystemdService, kManagerPath, kManagerInterface, method},
      method + " " + unit + " on the " + link_->address().describe(),
      [unit](sdbus::MethodCall& call) { call << unit; }, ignore_reply, std::move(done), timeout);
}

void SystemdClient::freeze_unit(const std::string& unit, Done<void> done, std::chrono::microseconds timeout) {
  call_void("FreezeUnit", unit, std::move(done), timeout);
}

void SystemdClient::thaw_unit(const std::string& unit, Done<void> done, std::chrono::microseconds timeout) {
  call_void("ThawUnit", unit, std::move(done), timeout);
}

namespace {
std::chrono::microseconds until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  return left.count() > 1000 ? left : std::chrono::microseconds(1000);
}
}  // namespace

Result<UnitProperties> SystemdClient::get_unit_wait(const std::string& unit, Deadline deadline) {
  return wait_until_done<UnitProperties>([&](auto done) { get_unit(unit, std::move(done), until(deadline)); },
                                         deadline, "reading " + unit);
}

Result<std::vector<UnitListEntry>> SystemdClient::list_units_wait(Deadline deadline) {
  return wait_until_done<std::vector<UnitListEntry>>(
      [&](auto done) { list_units(std::move(done), until(deadline)); }, deadline, "ListUnits");
}

Result<void> SystemdClient::set_unit_properties_wait(const std::string& unit, bool runtime,
                                                     std::vector<UnitPropertyValue> properties,
                                                     Deadline deadline) {
  return wait_until_done<void>(
      [&](auto done) {
        set_unit_properties(unit, runtime, std::move(properties), std::move(done), until(deadline));
      },
      deadline, "SetUnitProperties " + unit);
}

Result<void> SystemdClient::freeze_unit_wait(const std::string& unit, Deadline deadline) {
  return wait_until_done<void>([&](auto done) { freeze_unit(unit, std::move(done), until(deadline)); },
                               deadline, "FreezeUnit " + unit);
}

Result<void> SystemdClient::thaw_unit_wait(const std::string& unit, Deadline deadline) {
  return wait_until_done<void>([&](auto done) { thaw_unit(unit, std::move(done), until(deadline)); },
                               deadline, "ThawUnit " + unit);
}

void SystemdClient::watch_units(std::function<void(const UnitSignal&)> handler) {
  BusLink* link = link_.get();
  link_->add_on_connect([link, handler](sdbus::IConnection& connection) {
    auto on_unit = [handler](sdbus::Message& message) {
      try {
        std::string id;
        sdbus::ObjectPath path;
        message >> id >> path;
        UnitSignal signal;
        signal.kind =
            message.getMemberName() == "UnitNew" ? UnitSignal::Kind::New : UnitSignal::Kind::Removed;
        signal.unit = id;
        handler(signal);
      } catch (const sdbus::Error&) {
        // A malformed signal from the bus: nothing to deliver.
      }
    };
    const std::string manager_match = std::string("type='signal',sender='") + kSystemdService + "',path='" +
                                      kManagerPath + "',interface='" + kManagerInterface + "',member=";
    connection.addMatch(manager_match + "'UnitNew'", on_unit, sdbus::floating_slot);
    connection.addMatch(manager_match + "'UnitRemoved'", on_unit, sdbus::floating_slot);
    connection.addMatch(
        std::string("type='signal',sender='") + kSystemdService + "',interface='" + kPropertiesInterface +
            "',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'",
        [handler](sdbus::Message& message) {
          try {
            auto unit = unit_name_from_object_path(message.getPath());
            if (!unit) return;
            std::string interface;
            std::map<std::string, sdbus::Variant> changed;
            std::vector<std::string> invalidated;
            message >> interface >> changed >> invalidated;
            UnitSignal signal;
            signal.kind = UnitSignal::Kind::PropertiesChanged;
            signal.unit = *unit;
            signal.interface = interface;
            for (auto& [name, value] : changed) signal.properties.push_back(name);
            for (auto& name : invalidated) signal.properties.push_back(name);
            handler(signal);
          } catch (const sdbus::Error&) {
          }
        },
        sdbus::floating_slot);
    // Without Subscribe() the manager sends most of these signals to nobody.
    auto& proxy = link->proxy(kSystemdService, kManagerPath);
    auto call = proxy.createMethodCall(kManagerInterface, "Subscribe");
    proxy.callMethod(
        call, [](sdbus::MethodReply&, const sdbus::Error*) {}, to_usec(kDefaultCallTimeout));
  });
}

void SystemdClient::on_connection_change(std::function<void(bool, const std::string&)> handler) {
  link_->add_on_connect([handler](sdbus::IConnection&) { handler(true, {}); });
  link_->add_on_disconnect([handler](const std::string& why) { handler(false, why); });
}

// ---------------------------------------------------------------- OomdClient

OomdClient::OomdClient(BusAddress address) : link_(std::make_unique<BusLink>(std::move(address))) {
  link_->start();
}
OomdClient::~OomdClient() = default;
bool OomdClient::connected() const { return link_->connected(); }
void OomdClient::set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max) {
  link_->set_retry_interval(first, max);
}

namespace {
Result<std::string> read_memfd(int fd) {
  std::string text;
  char buffer[16384];
  off_t offset = 0;
  for (;;) {
    const ssize_t got = ::pread(fd, buffer, sizeof buffer, offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("reading oomd's dump fd: ") + std::strerror(errno));
    }
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
    offset += got;
    if (text.size() > (64u << 20)) return make_error("oomd's dump is larger than 64 MiB");
  }
  return text;
}
}  // namespace

void OomdClient::dump(SystemdClient::Done<std::string> done, std::chrono::microseconds timeout) {
  std::string what = "systemd-oomd DumpByFileDescriptor on the " + link_->address().describe();
  call_method<std::string>(
      *link_, {kOomdService, kOomdPath, kOomdInterface, "DumpByFileDescriptor"}, what, no_arguments,
      [what](sdbus::MethodReply& reply) -> Result<std::string> {
        sdbus::UnixFd fd;
        reply >> fd;
        auto text = read_memfd(fd.get());
        if (!text) return make_error(what + ": " + text.error().message);
        return text;
      },
      std::move(done), timeout);
}

void OomdClient::on_dump(SystemdClient::Done<std::string> handler) { dump_handler_ = std::move(handler); }

void OomdClient::request_dump(std::chrono::microseconds timeout) {
  // `this` and the timeout: small and trivially copyable, so the task needs no heap block; the
  // call itself (its strings, the message) is made on the bus thread.
  link_->post([this, timeout](sdbus::IConnection*) {
    if (dump_handler_) dump(dump_handler_, timeout);
  });
}

Result<std::string> OomdClient::dump_wait(Deadline deadline) {
  return wait_until_done<std::string>([&](auto done) { dump(std::move(done), until(deadline)); }, deadline,
                                      "systemd-oomd DumpByFileDescriptor");
}

void OomdClient::watch_kills(std::function<void(const OomdKilled&)> handler) {
  link_->add_on_connect([handler](sdbus::IConnection& connection) {
    connection.addMatch(
        std::string("type='signal',sender='") + kOomdService + "',path='" + kOomdPath + "',interface='" +
            kOomdInterface + "',member='Killed'",
        [handler](sdbus::Message& message) {
          try {
            OomdKilled killed;
            message >> killed.cgroup >> killed.reason;
            handler(killed);
          } catch (const sdbus::Error&) {
          }
        },
        sdbus::floating_slot);
  });
}

void OomdClient::on_connection_change(std::function<void(bool, const std::string&)> handler) {
  link_->add_on_connect([handler](sdbus::IConnection&) { handler(true, {}); });
  link_->add_on_disconnect([handler](const std::string& why) { handler(false, why); });
}

}  // namespace guardian::bus
