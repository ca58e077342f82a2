// The wire format between guardian-helper (the privileged BPF relay, guardian/helper/) and its
// clients (guardian's sense stage, guardian/sense/helper_client.h). Both sides include this file;
// docs/helper.md describes the protocol for anyone writing another client.
//
// A stream socket carries lines of text, each at most kMaxLineBytes including its '\n':
//     TYPE key=value key=value ...
// TYPE and keys are [a-z0-9_-]+. A value is any bytes, with every byte outside '!'..'~' and the
// backslash written as \xHH (two lowercase hex digits), so a value never holds a space or a
// newline. A key may repeat (argv is one `arg=` per argument, in order). A reader ignores keys it
// does not know and reports message types it does not know as Unknown, so either side can add
// fields and messages without breaking the other; a missing or malformed field it needs is an
// error naming the message type and the field.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace guardian::helper_wire {

inline constexpr unsigned kProtocolVersion = 1;
inline constexpr std::size_t kMaxLineBytes = 4096;  // including the '\n'
// The most guardian-helper holds queued for one client: past it, that client's new events are
// dropped and counted, and announced as `lost count=N` once the client has read (the helper's
// ClientHub). So it is also the largest burst a client finds waiting after it did not read.
inline constexpr std::size_t kClientQueueBytes = 256 * 1024;

// One line, before its fields are given meaning.
struct Line {
  std::string type;
  std::vector<std::pair<std::string, std::string>> fields;  // values unescaped, in line order

  [[nodiscard]] const std::string* find(std::string_view key) const;  // first value of key
  [[nodiscard]] std::vector<std::string> all(std::string_view key) const;
  Line& add(std::string key, std::string value);
};

// A field as it stands in a line: its key and its value, still escaped.
struct FieldView {
  std::string_view key;
  std::string_view value;
};

std::string escape_value(std::string_view raw);
Result<std::string> unescape_value(std::string_view escaped);
// Unescapes a value that scan_line() accepted into `out`, reusing out's storage.
void unescape_into(std::string_view escaped, std::string& out);
// Encodes a line, '\n' included. Keys and the type must already be valid (the encoders below
// only use literal ones).
std::string encode_line(const Line& line);
// Checks one line (without its '\n'): its type, every field's key=value form and every escape.
// Returns the type and lists the fields, as views into `text`, in `fields` (cleared first, its
// storage reused). Errors say what is wrong and where. The one parser of the wire: the decoders
// below and parse_line() read lines through it.
Result<std::string_view> scan_line(std::string_view text, std::vector<FieldView>& fields);
// Parses one line (without its '\n') into owned strings; errors as scan_line()'s.
Result<Line> parse_line(std::string_view text);

// ---- server -> client ---------------------------------------------------------------------
// All ts_ns are CLOCK_MONOTONIC nanoseconds (the kernel's bpf_ktime_get_ns for probe events).
// cgroup paths are relative to the cgroup2 mount ("/user.slice/…/app.slice/x.service"), empty
// when the helper could not resolve the id any more (the cgroup was already removed).

struct Hello {
  unsigned version = kProtocolVersion;
  uint32_t uid = 0;                 // the client, as SO_PEERCRED says
  std::string scope;                // "/user.slice": the subtree the probes watch
  std::string owner;                // this client sees events under here ("" for root: all)
  std::vector<std::string> probes;  // loaded probes: "exec", "oom-kill", "oomd-kill"
  bool pressure = false;            // watch-pressure is served
  bool prekill = false;             // systemd-oomd's pre-kill hook is served
};

struct ProcessExec {  // a watched program (ffmpeg, ffprobe) started
  uint64_t ts_ns = 0;
  uint32_t pid = 0, ppid = 0, uid = 0;
  std::string cgroup;
  uint64_t cgroup_id = 0;
  std::string comm;
  std::vector<std::string> argv;  // the head the probe copied
  bool argv_truncated = false;    // the command line went on past the copied head
};

struct ProcessExit {  // its last thread exited
  uint64_t ts_ns = 0;
  uint32_t pid = 0, uid = 0;
  std::string cgroup;
  uint64_t cgroup_id = 0;
  std::string comm;
  int32_t status = 0;  // wait(2) status: exit code << 8, or the signal in the low 7 bits
  uint64_t runtime_ns = 0;
};

struct KernelOomKill {  // the kernel's OOM killer chose a victim
  uint64_t ts_ns = 0;
  uint32_t pid = 0, tgid = 0, uid = 0;
  std::string cgroup;
  uint64_t cgroup_id = 0;
  std::string memcg;  // the victim's memory cgroup (the limited one or an ancestor of it)
  uint64_t memcg_id = 0;
  std::string comm;
  int32_t oom_score_adj = 0;
};

struct OomdKill {  // a process named systemd-oomd sent SIGKILL
  uint64_t ts_ns = 0;
  uint32_t pid = 0, tgid = 0, uid = 0, sender_pid = 0;
  std::string cgroup;
  uint64_t cgroup_id = 0;
  std::string comm;
  int32_t result = 0;  // the kernel's enum trace_signal_result: 0 delivered
};

struct PressureFired {  // a PSI trigger registered with watch-pressure fired
  uint64_t ts_ns = 0;
  uint32_t watch = 0;
  std::string cgroup;
};

struct WatchEnded {  // a pressure watch ended on its own (the cgroup went away)
  uint32_t watch = 0;
  std::string reason;
};

struct PrekillNotice {  // systemd-oomd is about to kill this cgroup (its pre-kill hook)
  uint64_t id = 0;      // answer with prekill-done id=ID once ready (or let wait_ms pass)
  uint64_t ts_ns = 0;
  std::string cgroup;
  uint64_t wait_ms = 0;  // the longest the helper holds oomd's kill for the clients
};

struct Lost {  // events dropped for this client because it did not read fast enough
  uint64_t count = 0;
};

struct Reply {  // answer to a request
  uint64_t request = 0;
  bool ok = false;
  std::string message;            // on error: what went wrong
  std::optional<uint32_t> watch;  // watch-pressure: the new watch's id
};

struct Unknown {  // a message type this reader does not know: ignore it
  std::string type;
};

using ServerMessage = std::variant<Hello, ProcessExec, ProcessExit, KernelOomKill, OomdKill, PressureFired,
                                   WatchEnded, PrekillNotice, Lost, Reply, Unknown>;

// ---- client -> server ---------------------------------------------------------------------

struct WatchPressure {  // register a PSI trigger on CGROUP/memory.pressure
  uint64_t request = 0;
  std::string cgroup;  // at or under the client's owner cgroup (root: anywhere)
  bool full = false;   // "full" instead of "some"
  uint64_t stall_us = 0;
  uint64_t window_us = 0;
};

struct UnwatchPressure {
  uint64_t request = 0;
  uint32_t watch = 0;
};

struct PrekillDone {  // this client is ready for the kill announced by prekill id=ID
  uint64_t id = 0;
};

using ClientRequest = std::variant<WatchPressure, UnwatchPressure, PrekillDone>;

std::string encode(const ServerMessage& message);
Result<ServerMessage> decode_server_message(std::string_view line);

// Decodes server lines into messages it keeps, one of each type, refilling their strings and
// lists in place — what guardian's loop reads the helper with, so that an event costs no heap
// allocation once the decoder has seen one of its type: a later line allocates only where one of
// its values is longer (or its argv has more arguments) than any that field held before, which
// is bounded by kMaxLineBytes. The message returned lives until the next decode(). Decodes
// exactly as decode_server_message() does (that is this, with a fresh decoder, copied out).
class ServerDecoder {
 public:
  ServerDecoder();
  Result<const ServerMessage*> decode(std::string_view line);

 private:
  template <class T>
  T& slot();

  std::vector<FieldView> fields_;
  std::string scratch_;                                                  // a value being unescaped
  std::array<ServerMessage, std::variant_size_v<ServerMessage>> slots_;  // slot i holds alternative i
  std::vector<std::string> spare_strings_;  // argv / probe entries a shorter list gave back
};
std::string encode(const ClientRequest& request);
Result<ClientRequest> decode_client_request(std::string_view line);

// Cuts a byte stream into lines. A line longer than kMaxLineBytes is reported once as an error
// and skipped up to its newline, so one bad writer cannot make the reader buffer without bound.
class LineFramer {
 public:
  // Sets aside room for `bytes` buffered bytes at once: a reader that feeds at most
  // `bytes - kMaxLineBytes` at a time and takes every complete line before the next feed never
  // makes the buffer grow (an unfinished line is shorter than kMaxLineBytes, else it is skipped).
  void reserve(std::size_t bytes) { buffer_.reserve(bytes); }
  void feed(std::string_view bytes);
  // The next complete line (without '\n'), an error for an overlong one, or nullopt when no
  // complete line is buffered. next_line()'s view points into the buffer and lives until the
  // next feed(); next() copies it.
  std::optional<Result<std::string_view>> next_line();
  std::optional<Result<std::string>> next();
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;
  bool discarding_ = false;  // inside an overlong line, skipping to its end
};

}  // namespace guardian::helper_wire
