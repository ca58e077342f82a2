#include "common/helper_wire.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <type_traits>
#include <utility>

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

// The first bad escape of a value: its byte, and whether the value ended inside it.
struct BadEscape {
  std::size_t pos = 0;
  bool truncated = false;
};

std::optional<BadEscape> find_bad_escape(std::string_view escaped) {
  for (std::size_t pos = escaped.find('\\'); pos != std::string_view::npos;
       pos = escaped.find('\\', pos + 4)) {
    if (pos + 3 >= escaped.size()) return BadEscape{pos, true};
    if (escaped[pos + 1] != 'x' || hex_digit(escaped[pos + 2]) < 0 || hex_digit(escaped[pos + 3]) < 0)
      return BadEscape{pos, false};
  }
  return std::nullopt;
}

Error escape_error(const BadEscape& bad) {
  return make_error(
      bad.truncated ? "truncated escape at byte " + std::to_string(bad.pos) + " (expected \\xHH)"
                    : "bad escape at byte " + std::to_string(bad.pos) + " (expected \\xHH, lowercase hex)");
}

// Reads the typed fields of one scanned line into a message's members, reusing their storage;
// the first problem is kept and names the message type and the field. Values are unescaped into
// `scratch` only when they hold an escape.
class FieldReader {
 public:
  FieldReader(std::string_view type, const std::vector<FieldView>& fields, std::string& scratch)
      : type_(type), fields_(fields), scratch_(scratch) {}

  [[nodiscard]] const FieldView* find(std::string_view key) const {
    for (const auto& field : fields_) {
      if (field.key == key) return &field;
    }
    return nullptr;
  }
  uint64_t u64(std::string_view key) { return number<uint64_t>(key); }
  uint32_t u32(std::string_view key) { return number<uint32_t>(key); }
  uint64_t u64_or(std::string_view key, uint64_t fallback) {
    return find(key) ? number<uint64_t>(key) : fallback;
  }
  int32_t i32(std::string_view key) {
    const FieldView* field = require(key);
    if (!field) return 0;
    const std::string_view text = unescaped(*field);
    int32_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end)
      fail(key, "not a signed 32-bit number: '" + std::string(text) + "'");
    return value;
  }
  void str(std::string_view key, std::string& into) {
    const FieldView* field = require(key);
    if (field) {
      unescape_into(field->value, into);
    } else {
      into.clear();
    }
  }
  void str_or_empty(std::string_view key, std::string& into) {
    const FieldView* field = find(key);
    if (field) {
      unescape_into(field->value, into);
    } else {
      into.clear();
    }
  }
  bool flag(std::string_view key) {
    const FieldView* field = find(key);
    if (!field) return false;
    const std::string_view text = unescaped(*field);
    if (text == "1") return true;
    if (text != "0") fail(key, "expected 0 or 1, got '" + std::string(text) + "'");
    return false;
  }
  // Every value of `key`, in order, into `into`, reusing its strings; the ones a shorter list no
  // longer needs wait in `spare` for a longer one.
  void all(std::string_view key, std::vector<std::string>& into, std::vector<std::string>& spare) {
    std::size_t count = 0;
    for (const auto& field : fields_) {
      if (field.key != key) continue;
      unescape_into(field.value, next_entry(into, spare, count));
      ++count;
    }
    give_back(into, spare, count);
  }
  // The comma-separated items of `key` (empty ones skipped), as all() keeps them.
  void list(std::string_view key, std::vector<std::string>& into, std::vector<std::string>& spare) {
    const FieldView* field = find(key);
    const std::string_view text = field ? unescaped(*field) : std::string_view();
    std::size_t count = 0;
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      if (comma > start) next_entry(into, spare, count++).assign(text.substr(start, comma - start));
      start = comma + 1;
    }
    give_back(into, spare, count);
  }

  [[nodiscard]] bool ok() const { return !error_; }
  [[nodiscard]] const Error& error() const { return *error_; }

 private:
  std::string_view unescaped(const FieldView& field) {
    if (field.value.find('\\') == std::string_view::npos) return field.value;
    unescape_into(field.value, scratch_);
    return scratch_;
  }
  static std::string& next_entry(std::vector<std::string>& into, std::vector<std::string>& spare,
                                 std::size_t index) {
    if (index == into.size()) {
      if (spare.empty()) {
        into.emplace_back();
      } else {
        into.push_back(std::move(spare.back()));
        spare.pop_back();
      }
    }
    return into[index];
  }
  static void give_back(std::vector<std::string>& into, std::vector<std::string>& spare, std::size_t count) {
    while (into.size() > count) {
      spare.push_back(std::move(into.back()));
      into.pop_back();
    }
  }
  template <class T>
  T number(std::string_view key) {
    const FieldView* field = require(key);
    if (!field) return 0;
    const std::string_view text = unescaped(*field);
    auto value = parse_u64(text);
    if (!value || *value > std::numeric_limits<T>::max()) {
      fail(key, "not an unsigned number in range: '" + std::string(text) + "'");
      return 0;
    }
    return static_cast<T>(*value);
  }
  const FieldView* require(std::string_view key) {
    const FieldView* field = find(key);
    if (!field) fail(key, "missing");
    return field;
  }
  void fail(std::string_view key, const std::string& what) {
    if (!error_)
      error_ =
          make_error("helper message '" + std::string(type_) + "': field '" + std::string(key) + "' " + what);
  }

  std::string_view type_;
  const std::vector<FieldView>& fields_;
  std::string& scratch_;
  std::optional<Error> error_;
};

std::string u(uint64_t value) { return std::to_string(value); }
std::string i(int64_t value) { return std::to_string(value); }

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
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
  if (auto bad = find_bad_escape(escaped)) return escape_error(*bad);
  std::string out;
  unescape_into(escaped, out);
  return out;
}

void unescape_into(std::string_view escaped, std::string& out) {
  out.clear();
  for (std::size_t pos = 0; pos < escaped.size();) {
    const std::size_t backslash = std::min(escaped.find('\\', pos), escaped.size());
    out.append(escaped.substr(pos, backslash - pos));
    if (backslash + 3 >= escaped.size()) {  // not an escape scan_line() lets through: kept as it is
      out.append(escaped.substr(backslash));
      break;
    }
    const int high = hex_digit(escaped[backslash + 2]);
    const int low = hex_digit(escaped[backslash + 3]);
    if (escaped[backslash + 1] == 'x' && high >= 0 && low >= 0) {
      out += static_cast<char>((high << 4) | low);
    } else {
      out.append(escaped.substr(backslash, 4));
    }
    pos = backslash + 4;
  }
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

Result<std::string_view> scan_line(std::string_view text, std::vector<FieldView>& fields) {
  fields.clear();
  if (text.size() + 1 > kMaxLineBytes) {
    return make_error("helper line of " + std::to_string(text.size()) + " bytes is over the limit of " +
                      std::to_string(kMaxLineBytes));
  }
  std::size_t end = text.find(' ');
  const std::string_view type = text.substr(0, end);
  if (!is_name(type)) return make_error("helper line: bad message type '" + escape_value(type) + "'");
  while (end != std::string_view::npos) {
    const std::size_t pos = end + 1;
    end = text.find(' ', pos);
    const std::string_view field =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos || !is_name(field.substr(0, equals))) {
      return make_error("helper message '" + std::string(type) + "': bad field at byte " +
                        std::to_string(pos) + " (expected key=value): '" + escape_value(field) + "'");
    }
    const std::string_view value = field.substr(equals + 1);
    if (auto bad = find_bad_escape(value)) {
      return make_error("helper message '" + std::string(type) + "': field '" +
                        std::string(field.substr(0, equals)) + "': " + escape_error(*bad).message);
    }
    fields.push_back(FieldView{field.substr(0, equals), value});
  }
  return type;
}

Result<Line> parse_line(std::string_view text) {
  std::vector<FieldView> fields;
  auto type = scan_line(text, fields);
  if (!type) return type.error();
  Line line;
  line.type = std::string(*type);
  line.fields.reserve(fields.size());
  for (const auto& field : fields) {
    std::string value;
    unescape_into(field.value, value);
    line.fields.emplace_back(std::string(field.key), std::move(value));
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
  ServerDecoder decoder;
  auto message = decoder.decode(text);
  if (!message) return message.error();
  return **message;
}

namespace {

// The index of T among ServerMessage's alternatives.
template <class T, class... Ts>
constexpr std::size_t index_of(const std::variant<Ts...>* /*unused*/) {
  constexpr bool same[] = {std::is_same_v<T, Ts>...};
  for (std::size_t i = 0; i < sizeof...(Ts); ++i) {
    if (same[i]) return i;
  }
  return sizeof...(Ts);
}
template <class T>
constexpr std::size_t kSlot = index_of<T>(static_cast<const ServerMessage*>(nullptr));

template <std::size_t... I>
std::array<ServerMessage, sizeof...(I)> one_of_each(std::index_sequence<I...> /*unused*/) {
  return {ServerMessage(std::in_place_index<I>)...};
}

}  // namespace

ServerDecoder::ServerDecoder()
    : slots_(one_of_each(std::make_index_sequence<std::variant_size_v<ServerMessage>>())) {}

template <class T>
T& ServerDecoder::slot() {
  return std::get<T>(slots_[kSlot<T>]);
}

Result<const ServerMessage*> ServerDecoder::decode(std::string_view text) {
  auto type = scan_line(text, fields_);
  if (!type) return type.error();
  const std::string_view t = *type;
  FieldReader r(t, fields_, scratch_);
  std::size_t index = kSlot<Unknown>;
  if (t == "hello") {
    auto& m = slot<Hello>();
    m.version = r.u32("version");
    m.uid = r.u32("uid");
    r.str("scope", m.scope);
    r.str("owner", m.owner);
    r.list("probes", m.probes, spare_strings_);
    m.pressure = r.flag("pressure");
    m.prekill = r.flag("prekill");
    index = kSlot<Hello>;
  } else if (t == "exec") {
    auto& m = slot<ProcessExec>();
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.ppid = r.u32("ppid");
    m.uid = r.u32("uid");
    r.str("cgroup", m.cgroup);
    m.cgroup_id = r.u64("cgroup_id");
    r.str("comm", m.comm);
    r.all("arg", m.argv, spare_strings_);
    m.argv_truncated = r.flag("argv_truncated");
    index = kSlot<ProcessExec>;
  } else if (t == "exit") {
    auto& m = slot<ProcessExit>();
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.uid = r.u32("uid");
    r.str("cgroup", m.cgroup);
    m.cgroup_id = r.u64("cgroup_id");
    r.str("comm", m.comm);
    m.status = r.i32("status");
    m.runtime_ns = r.u64("runtime_ns");
    index = kSlot<ProcessExit>;
  } else if (t == "oom-kill") {
    auto& m = slot<KernelOomKill>();
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.tgid = r.u32("tgid");
    m.uid = r.u32("uid");
    r.str("cgroup", m.cgroup);
    m.cgroup_id = r.u64("cgroup_id");
    r.str_or_empty("memcg", m.memcg);
    m.memcg_id = r.u64_or("memcg_id", 0);
    r.str("comm", m.comm);
    m.oom_score_adj = r.i32("oom_score_adj");
    index = kSlot<KernelOomKill>;
  } else if (t == "oomd-kill") {
    auto& m = slot<OomdKill>();
    m.ts_ns = r.u64("ts");
    m.pid = r.u32("pid");
    m.tgid = r.u32("tgid");
    m.uid = r.u32("uid");
    m.sender_pid = r.u32("sender_pid");
    r.str("cgroup", m.cgroup);
    m.cgroup_id = r.u64("cgroup_id");
    r.str("comm", m.comm);
    m.result = r.i32("result");
    index = kSlot<OomdKill>;
  } else if (t == "pressure") {
    auto& m = slot<PressureFired>();
    m.ts_ns = r.u64("ts");
    m.watch = r.u32("watch");
    r.str("cgroup", m.cgroup);
    index = kSlot<PressureFired>;
  } else if (t == "watch-ended") {
    auto& m = slot<WatchEnded>();
    m.watch = r.u32("watch");
    r.str_or_empty("reason", m.reason);
    index = kSlot<WatchEnded>;
  } else if (t == "prekill") {
    auto& m = slot<PrekillNotice>();
    m.id = r.u64("id");
    m.ts_ns = r.u64("ts");
    r.str("cgroup", m.cgroup);
    m.wait_ms = r.u64("wait_ms");
    index = kSlot<PrekillNotice>;
  } else if (t == "lost") {
    slot<Lost>().count = r.u64("count");
    index = kSlot<Lost>;
  } else if (t == "ok" || t == "error") {
    auto& m = slot<Reply>();
    m.ok = t == "ok";
    m.request = r.u64("request");
    m.watch.reset();
    if (r.find("watch")) m.watch = r.u32("watch");
    m.message.clear();
    if (!m.ok) r.str_or_empty("message", m.message);
    index = kSlot<Reply>;
  } else {
    slot<Unknown>().type.assign(t);
  }
  if (!r.ok()) return r.error();
  return &slots_[index];
}

std::string encode(const ClientRequest& request) {
  return std::visit([](const auto& m) { return encode_line(to_line(m)); }, request);
}

Result<ClientRequest> decode_client_request(std::string_view text) {
  std::vector<FieldView> fields;
  auto type = scan_line(text, fields);
  if (!type) return type.error();
  std::string scratch;
  FieldReader r(*type, fields, scratch);
  ClientRequest request;
  if (*type == "watch-pressure") {
    WatchPressure m;
    m.request = r.u64("request");
    r.str("cgroup", m.cgroup);
    std::string kind;
    r.str("kind", kind);
    if (r.ok() && kind != "some" && kind != "full") {
      return make_error("helper request 'watch-pressure': field 'kind' must be some or full, got '" +
                        escape_value(kind) + "'");
    }
    m.full = kind == "full";
    m.stall_us = r.u64("stall_us");
    m.window_us = r.u64("window_us");
    request = std::move(m);
  } else if (*type == "unwatch-pressure") {
    UnwatchPressure m;
    m.request = r.u64("request");
    m.watch = r.u32("watch");
    request = m;
  } else if (*type == "prekill-done") {
    request = PrekillDone{r.u64("id")};
  } else {
    return make_error("helper request: unknown type '" + std::string(*type) + "'");
  }
  if (!r.ok()) return r.error();
  return request;
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

std::optional<Result<std::string_view>> LineFramer::next_line() {
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
        return Result<std::string_view>(make_error("helper line longer than " +
                                                   std::to_string(kMaxLineBytes) + " bytes (" +
                                                   std::to_string(size) + " so far): skipped"));
      }
      return std::nullopt;
    }
    const std::size_t length = newline - start_;
    if (length + 1 > kMaxLineBytes) {
      start_ = newline + 1;
      return Result<std::string_view>(make_error("helper line of " + std::to_string(length + 1) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(kMaxLineBytes) + ": skipped"));
    }
    const std::string_view line = std::string_view(buffer_).substr(start_, length);
    start_ = newline + 1;
    return Result<std::string_view>(line);
  }
}

std::optional<Result<std::string>> LineFramer::next() {
  auto line = next_line();
  if (!line) return std::nullopt;
  if (!*line) return Result<std::string>(line->error());
  return Result<std::string>(std::string(line->value()));
}

}  // namespace guardian::helper_wire
