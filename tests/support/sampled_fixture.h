// A fixture host read the way the daemon's loop reads it, for the binaries that count what the
// loop allocates (tests/daemon/steady_tick.cpp, tests/tell/metrics_exporter_steady.cpp): the real
// Sampler for uid 1000 over tests/fixtures/NAME, a first snapshot, and the oomd model with the
// rules the fixture's drop-ins give (read_oomd_config_files + oomd_rules_from_files, as the
// daemon's refresh_rules does). warm_up() samples and observes as many ticks as asked, so what a
// test counts after it is the steady state.
#pragma once

#include <set>
#include <string>

#include "common/host_root.h"
#include "model/oomd_model.h"
#include "model/oomd_rules.h"
#include "sense/sampler.h"

namespace guardian::test {

class SampledFixture {
 public:
  explicit SampledFixture(const std::string& fixture, uint32_t uid = 1000)
      : root_(std::string(GUARDIAN_FIXTURES_DIR) + "/" + fixture), sampler(HostRoot(root_), options(uid)) {
    sampler.sample_into(snapshot);
    const std::set<std::string> slices = user_manager_slices(sampler.layout(), snapshot);
    OomdRuleSet rules =
        oomd_rules_from_files(read_oomd_config_files(HostRoot(root_), sampler.layout(), slices), snapshot);
    watched_rules = rules.watched.size();
    model.set_rules(rules.watched);
  }

  // `ticks` more samples, each observed by the model; the sampler's problems are dropped (a
  // fixture tree has no PSI triggers and says so).
  void warm_up(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      sampler.sample_into(snapshot);
      model.observe(snapshot);
    }
    (void)sampler.take_problems();
  }

 private:
  static SamplerOptions options(uint32_t uid) {
    SamplerOptions made;
    made.uid = uid;
    return made;
  }
  std::string root_;

 public:
  Sampler sampler;
  Snapshot snapshot;
  OomdModel model;
  size_t watched_rules = 0;  // cgroups the fixture's drop-ins have oomd watch
};

}  // namespace guardian::test
