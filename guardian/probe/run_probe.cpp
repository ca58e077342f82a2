// The probe's parent side: the daemon starts `guardian probe vaapi --json` as a child, reads its
// output up to a deadline and parses it; a child that overruns is killed (it is ours).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "common/child.h"
#include "common/fd.h"
#include "probe/vaapi_probe.h"

namespace guardian {

Result<VaapiProbeResult> run_probe_child(const std::string& binary, const std::string& render_node,
                                         const std::string& host_root, std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  Child::Spec spec;
  spec.argv = {binary, "probe", "vaapi", "--json", "--device", render_node};
  if (!host_root.empty()) {
    spec.argv.emplace_back("--host-root");
    spec.argv.push_back(host_root);
  }
  spec.redirects = {{.child_fd = STDOUT_FILENO, .parent_fd = write_end.get()},
                    {.child_fd = STDIN_FILENO, .path = "/dev/null", .flags = O_RDONLY}};
  auto child = Child::spawn(spec);
  if (!child) return make_error(child.error().message + " probe vaapi", child.error().code);
  write_end.reset();
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[4096];
    ssize_t got = ::read(read_end.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buf, static_cast<size_t>(got));
    if (output.size() > 1024 * 1024) break;
  }
  if (timed_out) child->kill(SIGKILL);  // our own child, stuck in a driver
  const Child::Exit exit = child->wait();
  if (timed_out)
    return make_error("guardian probe vaapi did not answer within " + std::to_string(timeout.count()) +
                      " ms");
  // Exit status 1 means "probe ran, VA-API not available": the JSON still describes why.
  if (exit.signal != 0 || exit.code > 1) {
    return make_error("guardian probe vaapi failed (" +
                      (exit.signal != 0 ? "killed by signal " + std::to_string(exit.signal)
                                        : "exit status " + std::to_string(exit.code)) +
                      ")");
  }
  return parse_probe_result(output);
}

}  // namespace guardian
