#include "support/systemd_double.h"

#include <sdbus-c++/sdbus-c++.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <limits>
#include <map>

#include "bus/bus_link.h"

namespace guardian::test {
namespace {

constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitInterface = "org.freedesktop.systemd1.Unit";

std::string type_interface(const std::string& unit) {
  if (unit.ends_with(".slice")) return "org.freedesktop.systemd1.Slice";
  if (unit.ends_with(".scope")) return "org.freedesktop.systemd1.Scope";
  return "org.freedesktop.systemd1.Service";
}

uint64_t or_infinity(const std::optional<uint64_t>& value) {
  return value.value_or(std::numeric_limits<uint64_t>::max());
}

// Runs `task` on the double's bus thread and waits for it (test thread only).
void run_on(bus::BusLink& link, std::function<void(sdbus::IConnection*)> task) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  link.post([task = std::move(task), done](sdbus::IConnection* connection) {
    task(connection);
    done->set_value();
  });
  future.wait_for(std::chrono::seconds(5));
}

}  // namespace

struct SystemdManagerDouble::State {
  mutable std::mutex mutex;
  std::map<std::string, UnitProperties> units;
  std::vector<RecordedSetProperties> set_calls;
  std::vector<std::string> calls;
  std::string fail_next_set;
  bool ready = false;
  // Bus-thread only.
  std::unique_ptr<sdbus::IObject> manager;
  std::map<std::string, std::unique_ptr<sdbus::IObject>> unit_objects;

  UnitProperties get(const std::string& name) {
    std::lock_guard lock(mutex);
    auto found = units.find(name);
    return found == units.end() ? UnitProperties{} : found->second;
  }

  void export_unit(sdbus::IConnection& connection, const std::string& name) {
    auto object = sdbus::createObject(connection, unit_object_path(name));
    auto text = [this, name](std::string UnitProperties::*field) {
      return [this, name, field]() { return get(name).*field; };
    };
    object->registerProperty("Id").onInterface(kUnitInterface).withGetter(text(&UnitProperties::name));
    object->registerProperty("LoadState")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::load_state));
    object->registerProperty("ActiveState")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::active_state));
    object->registerProperty("SubState")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::sub_state));
    object->registerProperty("FreezerState")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::freezer_state));
    object->registerProperty("SourcePath")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::source_path));
    object->registerProperty("FragmentPath")
        .onInterface(kUnitInterface)
        .withGetter(text(&UnitProperties::fragment_path));
    const std::string type = type_interface(name);
    object->registerProperty("Slice").onInterface(type).withGetter(text(&UnitProperties::slice));
    object->registerProperty("ControlGroup")
        .onInterface(type)
        .withGetter(text(&UnitProperties::control_group));
    auto memory = [this, name](std::optional<uint64_t> UnitProperties::*field) {
      return [this, name, field]() { return or_infinity(get(name).*field); };
    };
    object->registerProperty("MemoryCurrent")
        .onInterface(type)
        .withGetter(memory(&UnitProperties::memory_current));
    object->registerProperty("MemoryHigh").onInterface(type).withGetter(memory(&UnitProperties::memory_high));
    object->registerProperty("MemoryMax").onInterface(type).withGetter(memory(&UnitProperties::memory_max));
    object->registerProperty("MemoryLow").onInterface(type).withGetter([this, name]() {
      return get(name).memory_low.value_or(0);
    });
    object->registerProperty("ManagedOOMMemoryPressure")
        .onInterface(type)
        .withGetter(text(&UnitProperties::managed_oom_memory_pressure));
    object->registerProperty("ManagedOOMMemoryPressureLimit").onInterface(type).withGetter([this, name]() {
      auto limit = get(name).managed_oom_memory_pressure_limit_percent;
      return limit ? oom_limit_to_u32(*limit) : uint32_t{0};
    });
    object->registerProperty("ManagedOOMPreference")
        .onInterface(type)
        .withGetter(text(&UnitProperties::managed_oom_preference));
    if (name.ends_with(".service")) {
      object->registerProperty("NRestarts").onInterface(type).withGetter([this, name]() {
        return get(name).n_restarts.value_or(0);
      });
      object->registerProperty("Environment").onInterface(type).withGetter([this, name]() {
        return get(name).environment;
      });
    }
    object->finishRegistration();
    unit_objects[name] = std::move(object);
  }

  [[noreturn]] static void no_such_unit(const std::string& name) {
    throw sdbus::Error("org.freedesktop.systemd1.NoSuchUnit", "Unit " + name + " not loaded.");
  }

  void export_manager(sdbus::IConnection& connection) {
    manager = sdbus::createObject(connection, "/org/freedesktop/systemd1");
    using Row = sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string,
                              sdbus::ObjectPath, uint32_t, std::string, sdbus::ObjectPath>;
    manager->registerMethod("ListUnits").onInterface(kManagerInterface).implementedAs([this]() {
      std::lock_guard lock(mutex);
      calls.push_back("ListUnits");
      std::vector<Row> rows;
      for (const auto& [name, unit] : units) {
        rows.emplace_back(name, name, unit.load_state, unit.active_state, unit.sub_state, std::string(),
                          sdbus::ObjectPath(unit_object_path(name)), uint32_t{0}, std::string(),
                          sdbus::ObjectPath("/"));
      }
      return rows;
    });
    manager->registerMethod("SetUnitProperties")
        .onInterface(kManagerInterface)
        .implementedAs([this](const std::string& name, const bool& runtime,
                              const std::vector<sdbus::Struct<std::string, sdbus::Variant>>& properties) {
          std::vector<std::string> changed;
          {
            std::lock_guard lock(mutex);
            calls.push_back("SetUnitProperties " + name);
            if (!fail_next_set.empty()) {
              auto error_name = std::exchange(fail_next_set, {});
              throw sdbus::Error(error_name, "injected failure");
            }
            auto found = units.find(name);
            if (found == units.end()) no_such_unit(name);
            RecordedSetProperties record{name, runtime, {}};
            for (const auto& property : properties) {
              const std::string& key = property.get<0>();
              const sdbus::Variant& value = property.get<1>();
              const std::string signature = value.peekValueType();
              std::string text;
              if (signature == "t") {
                const auto number = value.get<uint64_t>();
                text = std::to_string(number);
                const std::optional<uint64_t> limit = number == std::numeric_limits<uint64_t>::max()
                                                          ? std::nullopt
                                                          : std::optional<uint64_t>(number);
                if (key == "MemoryHigh")
                  found->second.memory_high = limit;
                else if (key == "MemoryMax")
                  found->second.memory_max = limit;
                else if (key == "MemoryLow")
                  found->second.memory_low = limit;
                else
                  throw sdbus::Error("org.freedesktop.DBus.Error.PropertyReadOnly",
                                     "Cannot set property " + key);
              } else {
                throw sdbus::Error("org.freedesktop.DBus.Error.InvalidArgs", "Invalid type for " + key);
              }
              record.properties.emplace_back(key, signature, text);
              changed.push_back(key);
            }
            set_calls.push_back(std::move(record));
          }
          auto object = unit_objects.find(name);
          if (object != unit_objects.end())
            object->second->emitPropertiesChangedSignal(type_interface(name), changed);
        });
    auto freeze = [this](const std::string& method, const std::string& state) {
      return [this, method, state](const std::string& name) {
        {
          std::lock_guard lock(mutex);
          calls.push_back(method + " " + name);
          auto found = units.find(name);
          if (found == units.end()) no_such_unit(name);
          found->second.freezer_state = state;
        }
        auto object = unit_objects.find(name);
        if (object != unit_objects.end())
          object->second->emitPropertiesChangedSignal(kUnitInterface, {"FreezerState"});
      };
    };
    manager->registerMethod("FreezeUnit")
        .onInterface(kManagerInterface)
        .implementedAs(freeze("FreezeUnit", "frozen"));
    manager->registerMethod("ThawUnit")
        .onInterface(kManagerInterface)
        .implementedAs(freeze("ThawUnit", "running"));
    manager->registerMethod("Subscribe").onInterface(kManagerInterface).implementedAs([this]() {
      std::lock_guard lock(mutex);
      calls.push_back("Subscribe");
    });
    manager->registerSignal("UnitNew")
        .onInterface(kManagerInterface)
        .withParameters<std::string, sdbus::ObjectPath>();
    manager->registerSignal("UnitRemoved")
        .onInterface(kManagerInterface)
        .withParameters<std::string, sdbus::ObjectPath>();
    manager->finishRegistration();
  }
};

SystemdManagerDouble::SystemdManagerDouble(const std::string& address, std::vector<UnitProperties> units)
    : state_(std::make_shared<State>()), link_(std::make_unique<bus::BusLink>(bus::BusAddress::at(address))) {
  for (auto& unit : units) state_->units[unit.name] = std::move(unit);
  auto state = state_;
  link_->add_on_connect([state](sdbus::IConnection& connection) {
    state->export_manager(connection);
    std::vector<std::string> names;
    {
      std::lock_guard lock(state->mutex);
      for (const auto& [name, unit] : state->units) names.push_back(name);
    }
    for (const auto& name : names) state->export_unit(connection, name);
    connection.requestName("org.freedesktop.systemd1");
    std::lock_guard lock(state->mutex);
    state->ready = true;
  });
  link_->start();
  for (int i = 0; i < 500 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

SystemdManagerDouble::~SystemdManagerDouble() {
  // Objects go on the bus thread, before the link (and its connection) goes.
  auto state = state_;
  run_on(*link_, [state](sdbus::IConnection*) {
    state->unit_objects.clear();
    state->manager.reset();
  });
  link_.reset();
}

bool SystemdManagerDouble::ready() const {
  std::lock_guard lock(state_->mutex);
  return state_->ready;
}

UnitProperties SystemdManagerDouble::unit(const std::string& name) const { return state_->get(name); }

std::vector<RecordedSetProperties> SystemdManagerDouble::set_calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->set_calls;
}

std::vector<std::string> SystemdManagerDouble::calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->calls;
}

void SystemdManagerDouble::fail_next_set(const std::string& dbus_error_name) {
  std::lock_guard lock(state_->mutex);
  state_->fail_next_set = dbus_error_name;
}

void SystemdManagerDouble::add_unit(const UnitProperties& unit) {
  auto state = state_;
  run_on(*link_, [state, unit](sdbus::IConnection* connection) {
    if (!connection) return;
    {
      std::lock_guard lock(state->mutex);
      state->units[unit.name] = unit;
    }
    state->export_unit(*connection, unit.name);
    state->manager->emitSignal("UnitNew")
        .onInterface(kManagerInterface)
        .withArguments(unit.name, sdbus::ObjectPath(unit_object_path(unit.name)));
  });
}

void SystemdManagerDouble::remove_unit(const std::string& name) {
  auto state = state_;
  run_on(*link_, [state, name](sdbus::IConnection* connection) {
    if (!connection) return;
    {
      std::lock_guard lock(state->mutex);
      state->units.erase(name);
    }
    state->unit_objects.erase(name);
    state->manager->emitSignal("UnitRemoved")
        .onInterface(kManagerInterface)
        .withArguments(name, sdbus::ObjectPath(unit_object_path(name)));
  });
}

void SystemdManagerDouble::change_property(const std::string& unit, const std::string& property,
                                           uint64_t value) {
  auto state = state_;
  run_on(*link_, [state, unit, property, value](sdbus::IConnection* connection) {
    if (!connection) return;
    {
      std::lock_guard lock(state->mutex);
      auto& target = state->units[unit];
      if (property == "MemoryHigh")
        target.memory_high = value;
      else if (property == "MemoryMax")
        target.memory_max = value;
      else if (property == "MemoryCurrent")
        target.memory_current = value;
    }
    // systemd declares MemoryCurrent without EmitsChangedSignal (it is read on each Get): no
    // signal for it, so a client must look again itself.
    if (property == "MemoryCurrent") return;
    auto object = state->unit_objects.find(unit);
    if (object != state->unit_objects.end()) {
      object->second->emitPropertiesChangedSignal(type_interface(unit), {property});
    }
  });
}

// ---------------------------------------------------------------- OomdDouble

struct OomdDouble::State {
  std::mutex mutex;
  std::string dump;
  uint64_t served = 0;
  bool ready = false;
  std::unique_ptr<sdbus::IObject> manager;
};

OomdDouble::OomdDouble(const std::string& address, std::string dump_text)
    : state_(std::make_shared<State>()), link_(std::make_unique<bus::BusLink>(bus::BusAddress::at(address))) {
  state_->dump = std::move(dump_text);
  auto state = state_;
  link_->add_on_connect([state](sdbus::IConnection& connection) {
    state->manager = sdbus::createObject(connection, "/org/freedesktop/oom1");
    state->manager->registerMethod("DumpByFileDescriptor")
        .onInterface("org.freedesktop.oom1.Manager")
        .implementedAs([state]() {
          std::string text;
          {
            std::lock_guard lock(state->mutex);
            text = state->dump;
            ++state->served;
          }
          // Like oomd: the text in a memfd, handed over as the reply's fd.
          const int fd = ::memfd_create("oomd-dump", MFD_CLOEXEC);
          if (fd < 0) throw sdbus::Error("org.freedesktop.DBus.Error.Failed", "memfd_create failed");
          size_t written = 0;
          while (written < text.size()) {
            const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
            if (n <= 0) break;
            written += static_cast<size_t>(n);
          }
          return sdbus::UnixFd(fd, sdbus::adopt_fd);
        });
    state->manager->registerSignal("Killed")
        .onInterface("org.freedesktop.oom1.Manager")
        .withParameters<std::string, std::string>();
    state->manager->finishRegistration();
    connection.requestName("org.freedesktop.oom1");
    std::lock_guard lock(state->mutex);
    state->ready = true;
  });
  link_->start();
  for (int i = 0; i < 500 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

OomdDouble::~OomdDouble() {
  auto state = state_;
  run_on(*link_, [state](sdbus::IConnection*) { state->manager.reset(); });
  link_.reset();
}

bool OomdDouble::ready() const {
  std::lock_guard lock(state_->mutex);
  return state_->ready;
}

uint64_t OomdDouble::dumps_served() const {
  std::lock_guard lock(state_->mutex);
  return state_->served;
}

void OomdDouble::set_dump(std::string dump_text) {
  std::lock_guard lock(state_->mutex);
  state_->dump = std::move(dump_text);
}

void OomdDouble::emit_killed(const std::string& cgroup, const std::string& reason) {
  auto state = state_;
  run_on(*link_, [state, cgroup, reason](sdbus::IConnection* connection) {
    if (!connection || !state->manager) return;
    state->manager->emitSignal("Killed")
        .onInterface("org.freedesktop.oom1.Manager")
        .withArguments(cgroup, reason);
  });
}

}  // namespace guardian::test
