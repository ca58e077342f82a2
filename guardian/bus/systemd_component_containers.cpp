// The systemd component's view of the containers: podman's quadlet services and scopes, found
// through the user manager (a unit's properties say whether it is a container), with one notice
// for each that runs outside container.slice.
#include "bus/systemd_client.h"
#include "bus/systemd_component.h"

namespace guardian::bus {

void SystemdComponent::refresh_containers() {
  if (!systemd_) return;
  std::shared_ptr<SystemdClient> client = systemd_;
  systemd_->list_units(
      [this, client](Result<std::vector<UnitListEntry>> units) {
        if (!units) return;  // the connection handler says why
        // Candidates: services (quadlets) and podman scopes; their properties tell which are containers.
        auto pending = std::make_shared<std::vector<UnitProperties>>();
        auto remaining = std::make_shared<size_t>(0);
        std::vector<std::string> names;
        for (const auto& unit : *units) {
          if (unit.name.ends_with(".service") || podman_scope_id(unit.name)) names.push_back(unit.name);
        }
        if (names.empty()) {
          mailbox_.post([this] { containers_.clear(); });
          return;
        }
        *remaining = names.size();
        // Runs on the bus thread: the callbacks of these calls run there too, one at a time.
        for (const auto& name : names) {
          client->get_unit(
              name,
              [this, pending, remaining](Result<UnitProperties> unit) {
                if (unit) pending->push_back(std::move(*unit));
                if (--*remaining > 0) return;
                std::vector<ContainerUnit> found;
                for (const auto& properties : *pending) {
                  if (auto container = classify_container(properties)) found.push_back(std::move(*container));
                }
                mailbox_.post([this, found = std::move(found)] {
                  containers_ = found;
                  for (const auto& container : containers_) {
                    if (container.in_container_slice) continue;
                    Event event{EventType::Notify,
                                Priority::Notice,
                                container.name + " (" + container.unit + ") runs in " + container.slice +
                                    ", outside " + options_.slice +
                                    (container.kind == ContainerKind::Quadlet
                                         ? "; `guardian adopt " + container.name + "` moves it"
                                         : std::string("; run it as a quadlet to move it")),
                                {}};
                    event.with("UNIT", container.unit).with("CONTAINER", container.name);
                    tell_once("outside:" + container.unit, event);
                  }
                });
              },
              kCallTimeout);
        }
      },
      kCallTimeout);
}

}  // namespace guardian::bus
