// guardian init-policy: writes the embedded default policy (commented) to
// $XDG_CONFIG_HOME/guardian/policy.toml, where `guardian run` finds it, for editing. An existing
// file is never replaced without --force, and with --force it is kept first (FILE.old, .old.2 …):
// it is the user's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/fd.h"
#include "config/policy_loader.h"
#include "config/policy_location.h"

namespace guardian::cli {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// mkdir -p with mode 0700 for what it creates (the XDG spec's mode for a directory it makes).
Result<void> make_directories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = slash == std::string::npos ? path : path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(errno_text("cannot create", prefix));
    if (slash == std::string::npos) return {};
  }
}

// The first free FILE.old, FILE.old.2, … (a link, so the saved copy is the very file).
Result<std::string> keep_old(const std::string& path) {
  for (int n = 1; n <= 100; ++n) {
    const std::string saved = path + ".old" + (n == 1 ? "" : "." + std::to_string(n));
    if (::link(path.c_str(), saved.c_str()) == 0) return saved;
    if (errno != EEXIST) return make_error(errno_text("cannot keep the old policy as", saved));
  }
  return make_error("cannot keep the old policy: " + path + ".old … .old.100 all exist");
}

Result<void> write_all(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(errno_text("cannot write", path));
    text.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return make_error(errno_text("cannot sync", path));
  return {};
}

// Writes `text` to `path` whole or not at all: a temporary file beside it, then link (refuses an
// existing file) or, with `replace`, rename. The temporary file is removed on every failure.
Result<void> install_file(const std::string& path, std::string_view text, bool replace) {
  std::string temp = path + ".XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));  // O_EXCL, mode 0600
  if (!fd) return make_error(errno_text("cannot create a file beside", path));
  auto written = write_all(fd.get(), text, temp);
  fd.reset();
  if (written.ok() &&
      (replace ? ::rename(temp.c_str(), path.c_str()) : ::link(temp.c_str(), path.c_str())) != 0)
    written = make_error(errno == EEXIST ? path + " exists" : errno_text("cannot write", path));
  ::unlink(temp.c_str());  // after link the policy has its own name; after rename this is a no-op
  return written;
}

}  // namespace

int run_init_policy(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"force", false, "replace an existing policy (it is kept as FILE.old first)"},
      {"host-root", true, "prefix for every host path (a fixture tree; default /)"},
      {"help", false, "this text"},
  };
  Args args;
  if (!args.parse(argc, argv, specs)) return kExitUsage;
  if (args.has("help")) {
    print_command_help(stdout, "init-policy");
    return kExitOk;
  }
  if (!args.positional().empty()) {
    (void)std::fprintf(
        stderr, "guardian init-policy: takes no file (it writes $XDG_CONFIG_HOME/guardian/policy.toml)\n");
    return kExitUsage;
  }
  const ConfigDirs dirs = ConfigDirs::from_environment();
  auto target = user_policy_path(dirs);
  if (!target.ok()) {
    (void)std::fprintf(stderr, "guardian init-policy: %s\n", target.error().message.c_str());
    return kExitUsage;
  }
  const HostRoot host(args.get("host-root").value_or(""));
  const std::string path = host.path(*target);
  const bool force = args.has("force");
  struct stat st {};
  const bool exists = ::lstat(path.c_str(), &st) == 0;
  if (exists && !force) {
    (void)std::fprintf(stderr,
                       "guardian init-policy: %s exists and stays as it is; edit it, or run with --force to "
                       "replace it with the default (the old one is kept as %s.old)\n",
                       target->c_str(), target->c_str());
    return kExitFinding;
  }
  if (exists && !S_ISREG(st.st_mode)) {
    (void)std::fprintf(stderr, "guardian init-policy: %s is not a regular file; not replacing it\n",
                       target->c_str());
    return kExitFinding;
  }
  if (auto made = make_directories(path.substr(0, path.rfind('/'))); !made.ok()) {
    (void)std::fprintf(stderr, "guardian init-policy: %s\n", made.error().message.c_str());
    return kExitUsage;
  }
  std::string kept;
  if (exists) {
    auto saved = keep_old(path);
    if (!saved.ok()) {
      (void)std::fprintf(stderr, "guardian init-policy: %s; nothing written\n",
                         saved.error().message.c_str());
      return kExitUsage;
    }
    kept = *saved;
  }
  if (auto written = install_file(path, embedded_default_policy(), exists); !written.ok()) {
    (void)std::fprintf(stderr, "guardian init-policy: %s\n", written.error().message.c_str());
    return kExitUsage;
  }
  (void)std::printf("%s: written (the default policy, commented)\n", path.c_str());
  if (!kept.empty()) (void)std::printf("%s: the policy it replaced\n", kept.c_str());
  (void)std::printf(
      "Edit it, check it with `guardian check-policy`, then `systemctl --user reload guardian` takes it.\n");
  return kExitOk;
}

}  // namespace guardian::cli
