#!/usr/bin/env python3
"""Tests of tests/vm/helper_events.py: guardian-helper's events in a squeeze run, put on the run's
real-time axis and next to the watched cgroups' pressure. The fixture is in the shape of a run's
files: marks.csv rows "NAME,UPTIME,REALTIME" (lib.sh mark), helper-root.log lines "RECV_NS LINE"
(guest/helper-client.py, CLOCK_MONOTONIC ns; the lines as docs/helper.md's wire table gives them),
and the pressure trace as analyze.load_trace returns it ((t_real, full, some, full_total)).
Run: python3 tests/vm/helper_events_test.py [-v]
"""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import helper_events  # noqa: E402

USER = "/user.slice/user-1000.slice/user@1000.service"
JF = USER + "/container.slice/jellyfin.service"
# The guest booted 1700000000 s after the epoch (real = uptime + 1700000000).
BOOT = 1700000000.0


def ns(uptime_s):
    return int(uptime_s * 1e9)


class HelperEventsTest(unittest.TestCase):
    def run_dir(self, log_lines):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        with open(os.path.join(d.name, "marks.csv"), "w") as f:
            f.write(f"workload_start,100.00,{BOOT + 100.0:.3f}\n")
        with open(os.path.join(d.name, "helper-root.log"), "w") as f:
            f.write("\n".join(log_lines) + "\n")
        return d.name

    def setUp(self):
        # user@1000.service: quiet until +40 s, some avg10 30 % from +40 s (Debian's rule watches it)
        self.trace = {USER: [(BOOT + 100 + t, 0.0 if t < 40 else 20.0, 0.0 if t < 40 else 30.0, 0)
                             for t in range(0, 120, 2)]}
        self.watched = {USER: 50.0}

    def test_events_are_placed_on_the_run_axis_with_the_pressure_of_their_moment(self):
        out = self.run_dir([
            f"{ns(99)} hello version=1 uid=0 scope= owner= probes=exec,oom-kill,oomd-kill pressure=1 prekill=0",
            # the spike's third transcode, before any pressure; received 4 ms after the kernel's exec
            f"{ns(115.004)} exec ts={ns(115)} pid=900 ppid=700 uid=1000 cgroup={JF} cgroup_id=77 comm=ffmpeg arg=-i",
            # a job restarted under pressure
            f"{ns(150.010)} exec ts={ns(150)} pid=901 ppid=700 uid=1000 cgroup={JF} cgroup_id=77 comm=ffmpeg arg=-i",
            # a desktop app's ffmpeg is not a transcode of the stand-in
            f"{ns(151)} exec ts={ns(151)} pid=902 ppid=1 uid=1000 cgroup={USER}/app.slice/x.service cgroup_id=9 comm=ffmpeg",
            f"{ns(160.002)} oomd-kill ts={ns(160)} pid=700 tgid=700 uid=1000 sender_pid=300 cgroup={JF} cgroup_id=77 comm=python3 result=0",
            "garbage that is not a line of the wire",
        ])
        kills = [{"t": BOOT + 160.5, "victim": JF}]
        he = helper_events.helper_events(out, BOOT + 100.0, self.trace, self.watched, kills)
        self.assertEqual(he["events"], 4)
        self.assertEqual(he["transcode_execs"], 2)
        self.assertEqual(he["transcode_execs_under_pressure"], 1)
        self.assertEqual(he["oomd_kill_events"], 1)
        self.assertEqual(he["oomd_kill_events_under_pressure"], 1)
        first = he["first"][0]
        self.assertEqual((first["at_s"], first["relay_ms"], first["under_pressure"]), (15.0, 4.0, False))
        self.assertEqual(he["first"][1]["some_avg10"], 30.0)
        self.assertEqual(he["oomd_kills"], [{"journal_at_s": 60.5, "helper_at_s": 60.0, "helper_before_journal_s": 0.5}])
        failures = []
        helper_events.verdict(he, True, lambda ok, why: ok or failures.append(why))
        self.assertEqual(failures, [])

    def test_a_kill_the_helper_did_not_relay_fails_the_run(self):
        out = self.run_dir([f"{ns(115)} exec ts={ns(115)} pid=900 ppid=700 uid=1000 cgroup={JF} cgroup_id=77 comm=ffmpeg"])
        he = helper_events.helper_events(out, BOOT + 100.0, self.trace, self.watched, [{"t": BOOT + 160.5}])
        self.assertEqual(he["oomd_kills"][0]["helper_at_s"], None)
        failures = []
        helper_events.verdict(he, True, lambda ok, why: ok or failures.append(why))
        self.assertEqual(len(failures), 2, failures)
        self.assertIn("no oomd-kill event", failures[0])

    def test_a_run_without_the_helper_has_no_helper_section_and_no_criterion(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        self.assertIsNone(helper_events.helper_events(d.name, BOOT, self.trace, self.watched, []))
        failures = []
        helper_events.verdict(None, True, lambda ok, why: ok or failures.append(why))
        self.assertEqual(failures, [])

    def test_a_run_with_the_helper_but_no_log_fails(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        with open(os.path.join(d.name, "facts.env"), "w") as f:
            f.write("policy=default\nhelper=1\n")
        he = helper_events.helper_events(d.name, BOOT, self.trace, self.watched, [])
        failures = []
        helper_events.verdict(he, False, lambda ok, why: ok or failures.append(why))
        self.assertTrue(any("no helper-root.log" in f for f in failures), failures)


if __name__ == "__main__":
    unittest.main()
