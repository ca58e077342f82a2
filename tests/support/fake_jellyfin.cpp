#include "support/fake_jellyfin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "common/host_root.h"
#include "net/http.h"

namespace guardian::testing {

namespace {
std::string fake_dir() { return std::string(GUARDIAN_SOURCE_DIR) + "/tests/support/fake_jellyfin"; }
}  // namespace

FakeJellyfin::FakeJellyfin(const std::string& api_key, const std::string& version,
                           const std::string& state_file)
    : api_key_(api_key) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) return;
  UniqueFd in_read(in_pipe[0]), out_write(out_pipe[1]), out_read(out_pipe[0]);
  stdin_.reset(in_pipe[1]);
  std::vector<std::string> args = {
      "/usr/bin/python3", fake_dir() + "/fake_jellyfin.py", "--version", version, "--api-key", api_key};
  if (!state_file.empty()) {
    args.emplace_back("--state-file");
    args.push_back(state_file);
  }
  auto started = Child::spawn({.argv = std::move(args),
                               .redirects = {{.child_fd = STDIN_FILENO, .parent_fd = in_read.get()},
                                             {.child_fd = STDOUT_FILENO, .parent_fd = out_write.get()}}});
  if (!started.ok()) return;
  child_.emplace(std::move(*started));
  out_write.reset();
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out_read.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    char buf[64];
    ssize_t n = ::read(out_read.get(), buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  if (line.starts_with("PORT ")) port_ = std::stoi(line.substr(5));
}

FakeJellyfin::~FakeJellyfin() {
  stdin_.reset();  // the server exits on EOF
  // SIGTERM to our own child too, in case a handler thread hangs in "hang" mode.
  if (child_) child_->stop(std::chrono::seconds(5));
}

nlohmann::json FakeJellyfin::control(const std::string& method, const std::string& path,
                                     const std::string& body) {
  auto url = jellyfin::parse_url(this->url());
  jellyfin::HttpRequest request;
  request.method = method;
  request.target = path;
  request.body = body;
  auto response =
      jellyfin::http_send(*url, request, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  if (!response.ok()) throw std::runtime_error(response.error().message);
  if (response->body.empty()) return nullptr;
  return nlohmann::json::parse(response->body);
}

nlohmann::json FakeJellyfin::requests() { return control("GET", "/__requests"); }
nlohmann::json FakeJellyfin::encoding() { return control("GET", "/__encoding"); }
void FakeJellyfin::set_mode(const std::string& mode, double delay, int count) {
  nlohmann::json body = {{"mode", mode}, {"delay", delay}};
  if (count > 0) body["count"] = count;
  control("POST", "/__mode", body.dump());
}
void FakeJellyfin::add_fault(const std::string& method, const std::string& path, const std::string& mode,
                             double delay, int count) {
  nlohmann::json rule = {{"mode", mode}, {"delay", delay}};
  if (!method.empty()) rule["method"] = method;
  if (!path.empty()) rule["path"] = path;
  if (count > 0) rule["count"] = count;
  control("POST", "/__faults", nlohmann::json::array({rule}).dump());
}
int FakeJellyfin::release(bool apply) {
  return control("POST", "/__release", nlohmann::json({{"apply", apply}}).dump())["released"].get<int>();
}
int FakeJellyfin::inflight() { return control("GET", "/__inflight")["inflight"].get<int>(); }
void FakeJellyfin::edit(const nlohmann::json& fields) { control("POST", "/__edit", fields.dump()); }
void FakeJellyfin::reset() { control("POST", "/__reset"); }
void FakeJellyfin::set_sessions(const nlohmann::json& sessions) {
  control("POST", "/__sessions", sessions.dump());
}
void FakeJellyfin::set_tasks(const nlohmann::json& tasks) { control("POST", "/__tasks", tasks.dump()); }
void FakeJellyfin::clear_requests() { control("POST", "/__clear"); }

JellyfinInstanceSettings FakeJellyfin::settings(const std::string& dir, const std::string& name) {
  std::string key_file = dir + "/" + name + ".key";
  {
    std::ofstream out(key_file);
    out << api_key_ << "\n";
  }
  ::chmod(key_file.c_str(), 0600);
  JellyfinInstanceSettings s;
  s.name = name;
  s.url = url();
  s.api_key_file = key_file;
  s.timeout = std::chrono::milliseconds(1500);
  return s;
}

nlohmann::json FakeJellyfin::fixture(const std::string& name) {
  auto text = read_file(fake_dir() + "/fixtures/" + name);
  if (!text.ok()) throw std::runtime_error(text.error().message);
  auto doc = nlohmann::json::parse(*text);
  doc.erase("_comment");
  if (doc.contains("sessions")) return doc["sessions"];
  if (doc.contains("tasks")) return doc["tasks"];
  return doc;
}

}  // namespace guardian::testing
