#!/usr/bin/env python3
"""gen_cgroups.py N DIR: a host root with N cgroups under user@1000.service for the tick benchmark.

The shape follows the fedora42-podman fixture: app.slice full of app-*.scope (60 %), the inner
user.slice of rootless podman with libpod-<id>.scope containers (30 %), session.slice services
(10 %), background.slice and init.scope; every cgroup has the 10 memory files guardian reads, in
6.14 format (tests/fixtures/cgroupfs.py). /proc/meminfo, /proc/pressure/memory,
/proc/self/mountinfo and cgroup.controllers make it a complete --host-root.
"""
import hashlib
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from cgroupfs import psi, write_cgroup  # noqa: E402

MB = 1000 * 1000


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 6:
        sys.exit("usage: gen_cgroups.py N DIR   (N >= 6 cgroups under user@1000.service)")
    n, root = int(sys.argv[1]), sys.argv[2]
    shutil.rmtree(root, ignore_errors=True)
    cg = os.path.join(root, "sys/fs/cgroup")
    manager = "/user.slice/user-1000.slice/user@1000.service"

    leaves = n - 5  # app.slice, session.slice, background.slice, user.slice, init.scope
    n_user = leaves * 3 // 10
    n_session = leaves // 10
    n_app = leaves - n_user - n_session
    busy = psi(some=(3.10, 2.05, 0.90, 77_120_334), full=(1.40, 0.95, 0.41, 40_221_090))

    def leaf(path, i):
        current = (40 + (i * 7919) % 900) * MB // 4096 * 4096
        write_cgroup(cg, path, current, swap=current // 33 // 4096 * 4096, pgscan=current // 40960,
                     refault_file=current // 122880, pressure=busy if i % 5 == 0 else None, seed=i)
        return current

    total = 0
    i = 0
    for slice_name, count, name in (("app.slice", n_app, "app-gnome-org.example.App{}-{}.scope"),
                                    ("session.slice", n_session, "session-helper{}-{}.service"),
                                    ("user.slice", n_user, None)):
        sub = 0
        for k in range(count):
            i += 1
            unit = (f"libpod-{hashlib.sha256(str(k).encode()).hexdigest()}.scope" if name is None
                    else name.format(k, 2000 + k))
            sub += leaf(f"{manager}/{slice_name}/{unit}", i)
        write_cgroup(cg, f"{manager}/{slice_name}", sub + 4096 * 64, pgscan=sub // 40960, pressure=busy)
        total += sub
    for extra in ("background.slice", "init.scope"):
        i += 1
        total += leaf(f"{manager}/{extra}", i)
    write_cgroup(cg, manager, total + 4096 * 256, pgscan=total // 40960, controllers="cpu memory pids",
                 pressure=busy)

    def put(path, text):
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)

    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fedora42-podman")
    for path in ("/proc/meminfo", "/proc/self/mountinfo", "/sys/fs/cgroup/cgroup.controllers"):
        with open(fixtures + path) as f:
            put(path, f.read())
    put("/proc/pressure/memory", busy)


if __name__ == "__main__":
    main()
