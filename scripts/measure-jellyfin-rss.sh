#!/usr/bin/env bash
# Measures what the Jellyfin client costs an idle daemon, on stubs that link what `guardian run`
# links (guardian's stage libraries: libsystemd, toml++, nlohmann-json, pthread):
#   base     idles, no Jellyfin code used
#   watcher  the Jellyfin watcher polling a fake Jellyfin over http:// every 5 s (our client)
#   libcurl  the same requests through a linked libcurl (what the issue warned against)
#   https    the watcher after one https:// request: libcurl dlopen()ed on demand
# and checks that none of them maps libva or libavcodec. Prints RSS (ps -o rss, KiB).
# Usage: scripts/measure-jellyfin-rss.sh [BUILD_DIR]   (after cmake --build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
cat >"$out/stub.cpp" <<'CPP'
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#ifdef WITH_CURL
#include <curl/curl.h>
#endif
#include "jellyfin/instances.h"
#include "jellyfin/jellyfin_watcher.h"
#include "net/http.h"
int main(int argc, char** argv) {
  std::string mode = argv[1];
  guardian::JellyfinWatcher* watcher = nullptr;
  if (mode != "base") {
    guardian::Policy policy;
    guardian::JellyfinInstanceSettings s;
    s.name = "home"; s.url = argv[2]; s.api_key_file = argv[3];
    policy.jellyfin.push_back(s);
    static guardian::jellyfin::InstanceDirectory instances;
    watcher = new guardian::JellyfinWatcher({"", "", std::chrono::milliseconds(1000), {}, {}, &instances});
    watcher->on_policy(policy);
    struct Loop : guardian::DaemonLoop {
      void request_reload() override {} void request_rescan() override {} void request_tick() override {}
      void tell(const guardian::Event&) override {} void note_oomd_kill(guardian::MonoTime) override {}
      std::string explain() const override { return ""; }
    };
    static Loop loop;
    watcher->start(loop);
  }
  if (mode == "https") {
    auto url = guardian::jellyfin::parse_url("https://127.0.0.1:1");
    guardian::jellyfin::HttpRequest r; r.target = "/";
    (void)guardian::jellyfin::http_send(*url, r, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  }
#ifdef WITH_CURL
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, (std::string(argv[2]) + "/System/Info/Public").c_str());
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_perform(c);
  curl_easy_cleanup(c);
#endif
  std::puts("ready"); std::fflush(stdout);
  for (;;) pause();
}
CPP
# The stages the stub uses, each before the ones it uses (guardian/CMakeLists.txt).
libs=()
for stage in jellyfin config model sense probe net common; do libs+=("$build/guardian/libguardian_$stage.a"); done
flags=(-std=c++20 -O2 -Iguardian "$out/stub.cpp" "${libs[@]}" -ltomlplusplus -lsystemd -lpthread -ldl)
c++ "${flags[@]}" -o "$out/stub"
c++ -DWITH_CURL "${flags[@]}" -lcurl -o "$out/stub-curl"
key=$out/key; echo 4f1b2c3d4e5f60718293a4b5c6d7e8f9 >"$key"; chmod 600 "$key"
coproc FAKE { python3 tests/support/fake_jellyfin/fake_jellyfin.py --api-key 4f1b2c3d4e5f60718293a4b5c6d7e8f9; }
read -r _ port <&"${FAKE[0]}"
url=http://127.0.0.1:$port
measure() {  # name binary mode
  "$2" "$3" "$url" "$key" >"$out/$1.out" & local pid=$!
  for _ in $(seq 50); do grep -q ready "$out/$1.out" 2>/dev/null && break; sleep 0.1; done
  sleep 6  # a full poll round at the default 5 s interval
  local rss; rss=$(ps -o rss= -p "$pid" | tr -d ' ')
  local heavy; heavy=$(grep -cE 'libva|libavcodec|libavutil' "/proc/$pid/maps" || true)
  local curl; curl=$(grep -c 'libcurl' "/proc/$pid/maps" || true)
  printf '%-8s RSS %6s KiB   libva/libav* mappings: %s   libcurl mappings: %s\n' "$1" "$rss" "$heavy" "$curl"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
measure base "$out/stub" base
measure watcher "$out/stub" watcher
measure libcurl "$out/stub-curl" watcher
measure https "$out/stub" https
