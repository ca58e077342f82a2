#include "common/helper_wire.h"

#include <charconv>
#include <limits>

#include "common/units.h"

namespace guardian::helper_wire {
namespace {

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

bool is_name(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads the typed fields of one message; the first problem is kept and names the message type
// and the field.
class FieldReader {
 public:
  explicit FieldReader(const Line& line) : line_(line) {}

  uint64_t u64(std::string_view key) { return number<uint64_t>(key); }
  uint32_t u32(std::string_view key) { return number<uint32_t>(key); }
  uint64_t u64_or(std::string_view key, uint64_t fallback) {
    return line_.find(key) ? number<uint64_t>(key) : fallback;
  }
  int32_t i32(std::string_view key) {
    const std::string* text = require(key);
    if (!text) return 0;
    int32_t value = 0;
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (text->empty() || ec != std::errc() || ptr != end)
      fail(key, "not a signed 32-bit number: '" + *text + "'");
    return value;
  }
  std::string str(std::string_view key) {
    const std::string* text = require(key);
    return text ? *text : std::string();
  }
  std::string str_or(std::string_view key, std::string fallback) {
    const std::string* text = line_.find(key);
    return text ? *text : std::move(fallback);
  }
  bool flag(std::string_view key) {
    const std::string* text = line_.find(key);
    if (!text) return false;
    if (*text == "1") return true;
    if (*text != "0") fail(key, "expected 0 or 1, got '" + *text + "'");
    return false;
  }
  std::vector<std::string> all(std::string_view key) const { return line_.all(key); }

  [[nodiscard]] bool ok() const { return !error_; }
  [[nodiscard]] Error error() const { return *error_; }

 private:
  template <class T>
  T number(std::string_view key) {
    const std::string* text = require(key);
    if (!text) return 0;
    auto value = parse_u64(*text);
    if (!value || *value > std::numeric_limits<T>::max()) {
      fail(key, "not an unsigned number in range: '" + *text + "'");
      return 0;
    }
    return static_cast<T>(*value);
  }
  const std::string* require(std::string_view key) {
    const std::string* text = line_.find(key);
    if (!text) fail(key, "missing");
    return text;
  }
  void fail(std::string_view key, const std::string& what) {
    if (!error_)
      error_ = make_error("helper message '" + line_.type + "': field '" + std::string(key) + "' " + what);
  }

  const Line& line_;
  std::optional<Error> error_;
};

std::string u(uint64_t value) { return std::to_string(value); }
std::string i(int64_t value) { return std::to_string(value); }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t comma = text.find(',', start);
    const std::size_t end = comma == std::string::npos ? text.size() : comma;
    if (end > start) out.push_back(text.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

template <class T>
Result<T> finish(FieldReader& reader, T value) {
  if (!reader.ok()) return reader.error();
  return value;
}

}  // namespace

const std::string* Line::find(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::vector<std::string> Line::all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields) {
    if (k == key) out.push_back(v);
  }
  return out;
}

Line& Line::add(std::string key, std::string value) {
  fields.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::string escape_value(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x21 && byte <= 0x7e && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

Result<std::string> unescape_value(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t pos = 0; pos < escaped.size(); ++pos) {
    const char c = escaped[pos];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos + 3 >= escaped.size()) {
      return make_error("truncated escape at byte " + std::to_string(pos) + " (expected \\xHH)");
    }
    const int high = escaped[pos + 1] == 'x' ? hex_digit(escaped[pos + 2]) : -1;
    const int low = escaped[pos + 1] == 'x' ? hex_digit(escaped[pos + 3]) : -1;
    if (high < 0 || low < 0) {
      return make_error("bad escape at byte " + std::to_string(pos) + " (expected \\xHH, lowercase hex)");
    }
    out += static_cast<char>((high << 4) | low);
    pos += 3;
  }
  return out;
}

std::string encode_line(const Line& line) {
  std::string out = line.type;
  for (const auto& [key, value] : line.fields) {
    out += ' ';
    out += key;
    out += '=';
    out += escape_value(value);
  }
  out += '\n';
  return out;
}

Result<Line> parse_line(std::string_view text) {
  if (text.size() + 1 > kMaxLineBytes) {
    return make_error("helper line of " + std::to_string(text.size()) + " bytes is over the limit of " +
                      std::to_string(kMaxLineBytes));
  }
  Line line;
  std::size_t pos = 0;
  std::size_t end = text.find(' ');
  std::string_view type = text.substr(0, end);
  if (!is_name(type)) return make_error("helper line: bad message type '" + escape_value(type) + "'");
  line.type = std::string(type);
  while (end != std::string_view::npos) {
    pos = end + 1;
    end = text.find(' ', pos);
    const std::string_view field =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos || !is_name(field.substr(0, equals))) {
      return make_error("helper message '" + line.type + "': bad field at byte " + std::to_string(pos) +
                        " (expected key=value): '" + escape_value(field) + "'");
    }
    auto value = unescape_value(field.substr(equals + 1));
    if (!value) {
      return make_error("helper message '" + line.type + "': field '" + std::string(field.substr(0, equals)) +
                        "': " + value.error().message);
    }
    line.fields.emplace_back(std::string(field.substr(0, equals)), std::move(*value));
  }
  return line;
}

// ---- server messages ----------------------------------------------------------------------

namespace {

Line to_line(const Hello& m) {
  Line l{"hello", {}};
  l.add("version", u(m.version)).add("uid", u(m.uid)).add("scope", m.scope).add("owner", m.owner);
  l.add("probes", join_list(m.probes))
      .add("pressure", m.pressure ? "1" : "0")
      .add("prekill", m.prekill ? "1" : "0");
  return l;
}
Line to_line(const ProcessExec& m) {
  Line l{"exec", {}};
  l.add("ts", u(m.ts_ns)).add("pid", u(m.pid)).add("ppid", u(m.ppid)).add("uid", u(m.uid));
  l.add("cgroup", m.cgroup).add("cgroup_id", u(m.cgroup_id)).add("comm", m.comm);
  for (const auto& arg : m.argv) l.add("arg", arg);
  if (m.argv_truncated) l.add("argv_truncated", "1");
  return l;
}
Line to_line(const ProcessExit& m) {
  Line l{"exit", {}};
  l.add("ts", u(m.ts_ns)).add("pid", u(m.pid)).add("uid", u(m.uid)).add("cgroup", m.cgroup);
  l.add("cgroup_id", u(m.cgroup_id))
      .add("comm", m.comm)
      .add("status", i(m.status))
      .add("runtime_ns", u(m.runtime_ns));
  return l;
}
Line to_line(const KernelOomKill& m) {
  Line l{"oom-kill", {}};
  l.add("ts", u(m.ts_ns)).add("pid", u(m.pid)).add("tgid", u(m.tgid)).add("uid", u(m.uid));
  l.add("cgroup", m.cgroup)
      .add("cgroup_id", u(m.cgroup_id))
      .add("memcg", m.memcg)
      .add("memcg_id", u(m.memcg_id));
  l.add("comm", m.comm).add("oom_score_adj", i(m.oom_score_adj));
  return l;
}
Line to_line(const OomdKill& m) {
  Line l{"oomd-kill", {}};
  l.add("ts", u(m.ts_ns)).add("pid", u(m.pid)).add("tgid", u(m.tgid)).add("uid", u(m.uid));
  l.add("sender_pid", u(m.sender_pid)).add("cgroup", m.cgroup).add("cgroup_id", u(m.cgroup_id));
  l.add("comm", m.comm).add("result", i(m.result));
  return l;
}
Line to_line(const PressureFired& m) {
  Line l{"pressure", {}};
  l.add("ts", u(m.ts_ns)).add("watch", u(m.watch)).add("cgroup", m.cgroup);
  return l;
}
Line to_line(const WatchEnded& m) {
  Line l{"watch-ended", {}};
  l.add("watch", u(m.watch)).add("reason", m.reason);
  return l;
}
Line to_line(const PrekillNotice& m) {
  Line l{"prekill", {}};
  l.add("id", u(m.id)).add("ts", u(m.ts_ns)).add("cgroup", m.cgroup).add("wait_ms", u(m.wait_ms));
  return l;
}
Line to_line(const Lost& m) {
  Line l{"lost", {}};
  l.add("count", u(m.count));
  return l;
}
Line to_line(const Reply& m) {
  Line l{m.ok ? "ok" : "error", {}};
  l.add("request", u(m.request));
  if (m.watch) l.add("watch", u(*m.watch));
  if (!m.ok) l.add("message", m.message);
  return l;
}
Line to_line(const Unknown& m) { return Line{m.type, {}}; }

Result<ServerMessage> server_from_line(const Line& l) {
  FieldReader r(l);
  const std::string& t = l.type;
  if (t == "hello") {
    Hello m;
    m.version = r.u32("version");
    m.uid = r.u32("uid");
    m.scope = r.str("scope");
    m.owner = r.str("owner");
    m.probes = split_list(r.str_or("probes", ""));
    m.pressure = r.flag("pressure");
    m.prekill = r.flag("prekill");
    return finish<ServerMessage>(r, m);
  }
  if (t == "exec") {
    ProcessExec m;
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.ppid = r.u32("ppid");
    m.uid = r.u32("uid");
    m.cgroup = r.str("cgroup");
    m.cgroup_id = r.u64("cgroup_id");
    m.comm = r.str("comm");
    m.argv = r.all("arg");
    m.argv_truncated = r.flag("argv_truncated");
    return finish<ServerMessage>(r, m);
  }
  if (t == "exit") {
    ProcessExit m;
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.uid = r.u32("uid");
    m.cgroup = r.str("cgroup");
    m.cgroup_id = r.u64("cgroup_id");
    m.comm = r.str("comm");
    m.status = r.i32("status");
    m.runtime_ns = r.u64("runtime_ns");
    return finish<ServerMessage>(r, m);
  }
  if (t == "oom-kill") {
    KernelOomKill m;
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.tgid = r.u32("tgid");
    m.uid = r.u32("uid");
    m.cgroup = r.str("cgroup");
    m.cgroup_id = r.u64("cgroup_id");
    m.memcg = r.str_or("memcg", "");
    m.memcg_id = r.u64_or("memcg_id", 0);
    m.comm = r.str("comm");
    m.oom_score_adj = r.i32("oom_score_adj");
    return finish<ServerMessage>(r, m);
  }
  if (t == "oomd-kill") {
    OomdKill m;
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.tgid = r.u32("tgid");
    m.uid = r.u32("uid");
    m.sender_pid = r.u32("sender_pid");
    m.cgroup = r.str("cgroup");
    m.cgroup_id = r.u64("cgroup_id");
    m.comm = r.str("comm");
    m.result = r.i32("result");
    return finish<ServerMessage>(r, m);
  }
  if (t == "pressure") {
    PressureFired m;
    m.ts_ns = r.u64("ts");
    m.watch = r.u32("watch");
    m.cgroup = r.str("cgroup");
    return finish<ServerMessage>(r, m);
  }
  if (t == "watch-ended") {
    WatchEnded m;
    m.watch = r.u32("watch");
    m.reason = r.str_or("reason", "");
    return finish<ServerMessage>(r, m);
  }
  if (t == "prekill") {
    PrekillNotice m;
    m.id = r.u64("id");
    m.ts_ns = r.u64("ts");
    m.cgroup = r.str("cgroup");
    m.wait_ms = r.u64("wait_ms");
    return finish<ServerMessage>(r, m);
  }
  if (t == "lost") {
    Lost m;
    m.count = r.u64("count");
    return finish<ServerMessage>(r, m);
  }
  if (t == "ok" || t == "error") {
    Reply m;
    m.ok = t == "ok";
    m.request = r.u64("request");
    if (l.find("watch")) m.watch = r.u32("watch");
    if (!m.ok) m.message = r.str_or("message", "");
    return finish<ServerMessage>(r, m);
  }
  return ServerMessage(Unknown{t});
}

Line to_line(const WatchPressure& m) {
  Line l{"watch-pressure", {}};
  l.add("request", u(m.request)).add("cgroup", m.cgroup).add("kind", m.full ? "full" : "some");
  l.add("stall_us", u(m.stall_us)).add("window_us", u(m.window_us));
  return l;
}
Line to_line(const UnwatchPressure& m) {
  Line l{"unwatch-pressure", {}};
  l.add("request", u(m.request)).add("watch", u(m.watch));
  return l;
}
Line to_line(const PrekillDone& m) {
  Line l{"prekill-done", {}};
  l.add("id", u(m.id));
  return l;
}

}  // namespace

std::string encode(const ServerMessage& message) {
  return std::visit([](const auto& m) { return encode_line(to_line(m)); }, message);
}

Result<ServerMessage> decode_server_message(std::string_view text) {
  auto line = parse_line(text);
  if (!line) return line.error();
  return server_from_line(*line);
}

std::string encode(const ClientRequest& request) {
  return std::visit([](const auto& m) { return encode_line(to_line(m)); }, request);
}

Result<ClientRequest> decode_client_request(std::string_view text) {
  auto parsed = parse_line(text);
  if (!parsed) return parsed.error();
  const Line& l = *parsed;
  FieldReader r(l);
  if (l.type == "watch-pressure") {
    WatchPressure m;
    m.request = r.u64("request");
    m.cgroup = r.str("cgroup");
    const std::string kind = r.str("kind");
    if (r.ok() && kind != "some" && kind != "full") {
      return make_error("helper request 'watch-pressure': field 'kind' must be some or full, got '" +
                        escape_value(kind) + "'");
    }
    m.full = kind == "full";
    m.stall_us = r.u64("stall_us");
    m.window_us = r.u64("window_us");
    return finish<ClientRequest>(r, m);
  }
  if (l.type == "unwatch-pressure") {
    UnwatchPressure m;
    m.request = r.u64("request");
    m.watch = r.u32("watch");
    return finish<ClientRequest>(r, m);
  }
  if (l.type == "prekill-done") {
    PrekillDone m;
    m.id = r.u64("id");
    return finish<ClientRequest>(r, m);
  }
  return make_error("helper request: unknown type '" + l.type + "'");
}

// ---- framing ------------------------------------------------------------------------------

void LineFramer::feed(std::string_view bytes) {
  // Compact before growing: consumed lines stay at the front only until the next feed.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<Result<std::string>> LineFramer::next() {
  for (;;) {
    const std::size_t newline = buffer_.find('\n', start_);
    if (discarding_) {
      if (newline == std::string::npos) {
        buffer_.clear();
        start_ = 0;
        return std::nullopt;
      }
      start_ = newline + 1;
      discarding_ = false;
      continue;
    }
    if (newline == std::string::npos) {
      if (buffered() >= kMaxLineBytes) {
        const std::size_t size = buffered();
        buffer_.clear();
        start_ = 0;
        discarding_ = true;
        return Result<std::string>(make_error("helper line longer than " + std::to_string(kMaxLineBytes) +
                                              " bytes (" + std::to_string(size) + " so far): skipped"));
      }
      return std::nullopt;
    }
    const std::size_t length = newline - start_;
    if (length + 1 > kMaxLineBytes) {
      start_ = newline + 1;
      return Result<std::string>(make_error("helper line of " + std::to_string(length + 1) +
                                            " bytes is over the limit of " + std::to_string(kMaxLineBytes) +
                                            ": skipped"));
    }
    std::string line = buffer_.substr(start_, length);
    start_ = newline + 1;
    return Result<std::string>(std::move(line));
  }
}

}  // namespace guardian::helper_wire
