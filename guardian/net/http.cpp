#include "net/http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

// Only the types and constants: the library itself is dlopen()ed (see https_send).
#include <curl/curl.h>

#include "common/fd.h"
#include "common/units.h"

namespace guardian::jellyfin {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int remaining_ms(Deadline deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

// Waits for `events` on `fd` until the deadline. Returns false on timeout.
Result<bool> wait_fd(int fd, short events, Deadline deadline) {
  for (;;) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    pollfd pfd{fd, events, 0};
    int n = ::poll(&pfd, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("poll: ") + std::strerror(errno));
    }
    if (n == 0) return false;
    return true;
  }
}

std::string format_request(const Url& url, const HttpRequest& request) {
  std::string out = request.method + " " + request.target + " HTTP/1.1\r\n";
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  out += "Host: " + host + ":" + std::to_string(url.port) + "\r\n";
  out += "Connection: close\r\n";
  for (const auto& [name, value] : request.headers) out += name + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  out += "\r\n";
  out += request.body;
  return out;
}

Result<UniqueFd> connect_with_deadline(const Url& url, Deadline deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    // A name, not an address: the resolver blocks (bounded by resolv.conf's timeouts). This runs
    // on the Jellyfin watcher's or the action worker's thread, never on the loop.
    hints.ai_flags = AI_NUMERICSERV;
    rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  }
  if (rc != 0) return make_error("cannot resolve " + url.host + ": " + ::gai_strerror(rc));
  std::string last_error = "no address";
  UniqueFd connected;
  for (addrinfo* ai = found; ai != nullptr && !connected; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last_error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::string("connect: ") + std::strerror(errno);
      continue;
    }
    auto ready = wait_fd(fd.get(), POLLOUT, deadline);
    if (!ready.ok()) {
      last_error = ready.error().message;
      continue;
    }
    if (!*ready) {
      last_error = "connect timed out";
      break;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      last_error = std::string("connect: ") + std::strerror(so_error);
      continue;
    }
    connected = std::move(fd);
  }
  ::freeaddrinfo(found);
  if (!connected) return make_error(last_error);
  return connected;
}

Result<HttpResponse> plain_send(const Url& url, const HttpRequest& request, Deadline deadline) {
  auto fd = connect_with_deadline(url, deadline);
  if (!fd.ok()) return fd.error();
  std::string wire = format_request(url, request);
  size_t sent = 0;
  while (sent < wire.size()) {
    ssize_t n = ::send(fd->get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto ready = wait_fd(fd->get(), POLLOUT, deadline);
      if (!ready.ok()) return ready.error();
      if (!*ready) return make_error("timed out sending the request");
      continue;
    }
    return make_error(std::string("send: ") + std::strerror(errno));
  }
  ResponseReader reader;
  char buf[16384];
  for (;;) {
    // Checked on every read, not only when the socket runs dry: a server that keeps sending
    // (a flood, a drip faster than the poll) must not hold the caller past its deadline.
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(reader.wire_bytes() == 0 ? "timed out waiting for the response"
                                                 : "timed out after " + std::to_string(reader.wire_bytes()) +
                                                       " bytes of the response");
    }
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n > 0) {
      if (auto fed = reader.feed(std::string_view(buf, static_cast<size_t>(n))); !fed.ok())
        return fed.error();
      if (reader.complete()) return reader.take();
      continue;
    }
    if (n == 0) {
      if (auto closed = reader.close(); !closed.ok()) return closed.error();
      return reader.take();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto ready = wait_fd(fd->get(), POLLIN, deadline);
      if (!ready.ok()) return ready.error();
      if (!*ready) {
        return make_error(reader.wire_bytes() == 0
                              ? "timed out waiting for the response"
                              : "timed out after " + std::to_string(reader.wire_bytes()) +
                                    " bytes of the response");
      }
      continue;
    }
    return make_error(std::string("recv: ") + std::strerror(errno));
  }
}

// --- https through a dlopen()ed libcurl ---------------------------------------------------------

struct CurlApi {
  void* handle = nullptr;
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
  std::string load_error;
};

std::atomic<bool> g_curl_loaded{false};

const CurlApi& curl_api() {
  static const CurlApi api = [] {
    CurlApi a;
    a.handle = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (a.handle == nullptr) {
      const char* why = ::dlerror();
      a.load_error = std::string("https needs libcurl (libcurl4 package): ") + (why ? why : "dlopen failed");
      return a;
    }
    auto sym = [&](const char* name) { return ::dlsym(a.handle, name); };
    a.global_init = reinterpret_cast<decltype(a.global_init)>(sym("curl_global_init"));
    a.easy_init = reinterpret_cast<decltype(a.easy_init)>(sym("curl_easy_init"));
    a.easy_setopt = reinterpret_cast<decltype(a.easy_setopt)>(sym("curl_easy_setopt"));
    a.easy_perform = reinterpret_cast<decltype(a.easy_perform)>(sym("curl_easy_perform"));
    a.easy_getinfo = reinterpret_cast<decltype(a.easy_getinfo)>(sym("curl_easy_getinfo"));
    a.easy_cleanup = reinterpret_cast<decltype(a.easy_cleanup)>(sym("curl_easy_cleanup"));
    a.easy_strerror = reinterpret_cast<decltype(a.easy_strerror)>(sym("curl_easy_strerror"));
    a.slist_append = reinterpret_cast<decltype(a.slist_append)>(sym("curl_slist_append"));
    a.slist_free_all = reinterpret_cast<decltype(a.slist_free_all)>(sym("curl_slist_free_all"));
    if (!a.global_init || !a.easy_init || !a.easy_setopt || !a.easy_perform || !a.easy_getinfo ||
        !a.easy_cleanup || !a.easy_strerror || !a.slist_append || !a.slist_free_all) {
      a.load_error = "libcurl.so.4 lacks an expected symbol";
      return a;
    }
    // curl_global_init is not thread-safe; this static initialiser runs exactly once.
    a.global_init(CURL_GLOBAL_DEFAULT);
    g_curl_loaded = true;
    return a;
  }();
  return api;
}

size_t curl_write(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t n = size * count;
  if (out->size() + n > kMaxResponseBytes) return 0;  // aborts the transfer
  out->append(data, n);
  return n;
}

size_t curl_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->emplace_back(std::string(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

Result<HttpResponse> https_send(const Url& url, const HttpRequest& request, Deadline deadline) {
  const CurlApi& api = curl_api();
  if (!api.load_error.empty()) return make_error(api.load_error);
  int ms = remaining_ms(deadline);
  if (ms == 0) return make_error("deadline passed before the request");
  CURL* curl = api.easy_init();
  if (curl == nullptr) return make_error("curl_easy_init failed");
  HttpResponse response;
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers)
    headers = api.slist_append(headers, (name + ": " + value).c_str());
  std::string full_url = url.origin() + request.target;
  api.easy_setopt(curl, CURLOPT_URL, full_url.c_str());
  api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(ms));
  api.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST") {
    api.easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, &curl_write);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, &curl_header);
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  CURLcode rc = api.easy_perform(curl);
  long status = 0;
  api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  api.easy_cleanup(curl);
  api.slist_free_all(headers);
  if (rc != CURLE_OK) return make_error(api.easy_strerror(rc));
  response.status = static_cast<int>(status);
  return response;
}

Result<size_t> parse_hex(std::string_view text) {
  text = trim(text.substr(0, text.find(';')));  // chunk extensions are ignored
  if (text.empty() || text.size() > 8) return make_error("bad chunk size \"" + std::string(text) + "\"");
  size_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return make_error("bad chunk size \"" + std::string(text) + "\"");
    value = value * 16 + static_cast<size_t>(digit);
  }
  return value;
}

}  // namespace

std::string Url::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    url.scheme = "http";
    url.port = 80;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    url.scheme = "https";
    url.port = 443;
    rest.remove_prefix(8);
  } else {
    return make_error("URL \"" + std::string(text) + "\" must start with http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return make_error("URL \"" + std::string(text) + "\" must not have a query or fragment");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return make_error("URL \"" + std::string(text) + "\": put credentials in api_key_file, not in the URL");
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("URL \"" + std::string(text) + "\": unclosed '['");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error("URL \"" + std::string(text) + "\": junk after ']'");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return make_error("URL \"" + std::string(text) + "\" has no host");
  if (!port_text.empty() || authority.ends_with(":")) {
    auto port = parse_u64(port_text);
    if (!port || *port == 0 || *port > 65535) {
      return make_error("URL \"" + std::string(text) + "\": port must be 1..65535");
    }
    url.port = static_cast<uint16_t>(*port);
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  url.base_path = std::string(path);
  return url;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

Result<void> ResponseReader::feed(std::string_view bytes) {
  if (complete_) return {};  // bytes after a whole response (Connection: close) are not read
  wire_bytes_ += bytes.size();
  if (wire_bytes_ > kMaxResponseWireBytes)
    return make_error("response larger than " + std::to_string(kMaxResponseWireBytes) + " bytes");
  pending_.append(bytes);
  return advance(false);
}

Result<void> ResponseReader::close() {
  if (complete_) return {};
  return advance(true);
}

Result<void> ResponseReader::read_head(size_t head_end) {
  std::string_view head = std::string_view(pending_).substr(0, head_end);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return make_error("not an HTTP/1.x status line: \"" + std::string(status_line.substr(0, 40)) + "\"");
  }
  auto code = parse_u64(status_line.substr(9, 3));
  if (!code || *code < 100 || *code > 599) {
    return make_error("bad HTTP status in \"" + std::string(status_line.substr(0, 40)) + "\"");
  }
  response_.status = static_cast<int>(*code);
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  std::optional<uint64_t> length;
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error("malformed header line \"" + std::string(line.substr(0, 40)) + "\"");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      // A list ("5, 5") or repeated headers must all say the same (RFC 9112 6.3): two lengths
      // that differ are how a response is smuggled past one reader and not another.
      std::string_view items = value;
      while (true) {
        const auto comma = items.find(',');
        const std::string_view item = trim(items.substr(0, comma));
        auto parsed = parse_u64(item);
        if (!parsed) return make_error("bad Content-Length \"" + std::string(value.substr(0, 40)) + "\"");
        if (length && *length != *parsed) {
          return make_error("conflicting Content-Length headers (" + std::to_string(*length) + " and " +
                            std::to_string(*parsed) + ")");
        }
        length = *parsed;
        if (comma == std::string_view::npos) break;
        items.remove_prefix(comma + 1);
      }
    }
    response_.headers.emplace_back(std::string(name), std::string(value));
  }
  pending_.erase(0, head_end + 4);
  const int status = response_.status;
  if (status < 200 || status == 204 || status == 304) {
    complete_ = true;
    return {};
  }
  if (iequals(response_.header("Transfer-Encoding"), "chunked")) {
    body_ = Body::Chunked;  // chunked wins over a Content-Length (RFC 9112 6.3)
    return {};
  }
  if (length) {
    if (*length > kMaxResponseBytes)
      return make_error("bad Content-Length \"" + std::to_string(*length) + "\": larger than " +
                        std::to_string(kMaxResponseBytes) + " bytes");
    body_ = Body::Length;
    length_ = left_ = *length;
    response_.body.reserve(static_cast<size_t>(*length));
    return {};
  }
  body_ = Body::UntilClose;  // no length: the body ends when the server closes
  return {};
}

Result<void> ResponseReader::read_chunks(bool closed) {
  std::string_view in = pending_;
  size_t pos = 0;
  auto& body = response_.body;
  while (!complete_) {
    if (chunk_ == Chunk::Size || chunk_ == Chunk::Trailer) {
      const auto line_end = in.find("\r\n", pos);
      if (line_end == std::string_view::npos) {
        if (in.size() - pos > 4096) return make_error("chunk size or trailer line longer than 4 KiB");
        break;
      }
      const std::string_view line = in.substr(pos, line_end - pos);
      pos = line_end + 2;
      if (chunk_ == Chunk::Trailer) {
        if (line.empty()) complete_ = true;  // trailers (Jellyfin sends none) end with an empty line
        continue;
      }
      auto size = parse_hex(line);
      if (!size.ok()) return size.error();
      if (*size == 0) {
        chunk_ = Chunk::Trailer;
        continue;
      }
      if (body.size() + *size > kMaxResponseBytes)
        return make_error("chunked body larger than " + std::to_string(kMaxResponseBytes) + " bytes");
      left_ = *size;
      chunk_ = Chunk::Data;
    } else if (chunk_ == Chunk::Data) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left_, in.size() - pos));
      if (take == 0) break;
      body.append(in.substr(pos, take));
      pos += take;
      left_ -= take;
      if (left_ == 0) chunk_ = Chunk::DataEnd;
    } else {  // DataEnd
      if (in.size() - pos < 2) break;
      if (in.substr(pos, 2) != "\r\n") return make_error("chunk not followed by CRLF");
      pos += 2;
      chunk_ = Chunk::Size;
    }
  }
  pending_.erase(0, pos);  // what is left is shorter than a line: erasing is not quadratic
  if (!complete_ && closed) {
    return make_error(chunk_ == Chunk::Trailer ? "connection closed inside the chunked trailer"
                      : chunk_ == Chunk::Size  ? "connection closed inside a chunked body"
                                               : "connection closed inside a chunk");
  }
  return {};
}

Result<void> ResponseReader::advance(bool closed) {
  if (body_ == Body::Head) {
    const size_t from = head_scanned_ > 3 ? head_scanned_ - 3 : 0;
    const auto head_end = pending_.find("\r\n\r\n", from);
    if (head_end == std::string::npos) {
      head_scanned_ = pending_.size();
      if (pending_.size() > 64 * 1024) return make_error("response headers longer than 64 KiB");
      if (closed) {
        return make_error(pending_.empty() ? "connection closed without a response"
                                           : "connection closed in the middle of the response headers");
      }
      return {};
    }
    if (auto head = read_head(head_end); !head.ok()) return head;
    if (complete_) return {};
  }
  switch (body_) {
    case Body::Head: return {};
    case Body::Length: {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left_, pending_.size()));
      response_.body.append(pending_, 0, take);
      left_ -= take;
      pending_.clear();
      if (left_ == 0) {
        complete_ = true;
      } else if (closed) {
        return make_error("connection closed after " + std::to_string(response_.body.size()) + " of " +
                          std::to_string(length_) + " body bytes");
      }
      return {};
    }
    case Body::UntilClose:
      if (response_.body.size() + pending_.size() > kMaxResponseBytes)
        return make_error("response body larger than " + std::to_string(kMaxResponseBytes) + " bytes");
      response_.body.append(pending_);
      pending_.clear();
      complete_ = closed;
      return {};
    case Body::Chunked: return read_chunks(closed);
  }
  return {};
}

Result<ParsedResponse> parse_http_response(std::string_view bytes, bool connection_closed) {
  ResponseReader reader;
  if (auto fed = reader.feed(bytes); !fed.ok()) return fed.error();
  if (connection_closed) {
    if (auto closed = reader.close(); !closed.ok()) return closed.error();
  }
  ParsedResponse out;
  out.complete = reader.complete();
  out.response = reader.take();
  return out;
}

Result<void> check_request_line_and_headers(const HttpRequest& request) {
  // A CR or LF would end the line early and let the rest become a header or a request of its own
  // (a name read back from the state file, a key file with a stray line): never sent.
  auto bad = [](std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
  };
  if (bad(request.method) || bad(request.target))
    return make_error("refusing a request line with CR, LF or NUL in it");
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || bad(name) || name.find(':') != std::string::npos)
      return make_error("refusing a header whose name is empty or holds ':', CR, LF or NUL");
    if (bad(value)) return make_error("refusing header " + name + ": its value holds CR, LF or NUL");
  }
  return {};
}

Result<HttpResponse> http_send(const Url& url, const HttpRequest& request, Deadline deadline) {
  if (auto checked = check_request_line_and_headers(request); !checked.ok())
    return make_error(url.origin() + ": " + checked.error().message);
  auto result =
      url.scheme == "https" ? https_send(url, request, deadline) : plain_send(url, request, deadline);
  if (!result.ok()) {
    return make_error(request.method + " " + url.origin() + request.target + ": " + result.error().message);
  }
  return result;
}

Result<HttpResponse> http_send_with_curl(const Url& url, const HttpRequest& request, Deadline deadline) {
  if (auto checked = check_request_line_and_headers(request); !checked.ok())
    return make_error(url.origin() + ": " + checked.error().message);
  auto result = https_send(url, request, deadline);
  if (!result.ok()) {
    return make_error(request.method + " " + url.origin() + request.target + ": " + result.error().message);
  }
  return result;
}

bool https_backend_loaded() { return g_curl_loaded.load(); }

}  // namespace guardian::jellyfin
