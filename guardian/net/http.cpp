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
  std::string received;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
      if (received.size() > kMaxResponseBytes) {
        return make_error("response larger than " + std::to_string(kMaxResponseBytes) + " bytes");
      }
      auto parsed = parse_http_response(received, false);
      if (!parsed.ok()) return parsed.error();
      if (parsed->complete) return std::move(parsed->response);
      continue;
    }
    if (n == 0) {
      auto parsed = parse_http_response(received, true);
      if (!parsed.ok()) return parsed.error();
      return std::move(parsed->response);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto ready = wait_fd(fd->get(), POLLIN, deadline);
      if (!ready.ok()) return ready.error();
      if (!*ready) {
        return make_error(received.empty() ? "timed out waiting for the response"
                                           : "timed out after " + std::to_string(received.size()) +
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

Result<ParsedResponse> parse_http_response(std::string_view bytes, bool connection_closed) {
  ParsedResponse out;
  auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (bytes.size() > 64 * 1024) return make_error("response headers longer than 64 KiB");
    if (connection_closed) {
      return make_error(bytes.empty() ? "connection closed without a response"
                                      : "connection closed in the middle of the response headers");
    }
    return out;
  }
  std::string_view head = bytes.substr(0, head_end);
  std::string_view body = bytes.substr(head_end + 4);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return make_error("not an HTTP/1.x status line: \"" + std::string(status_line.substr(0, 40)) + "\"");
  }
  auto code = parse_u64(status_line.substr(9, 3));
  if (!code || *code < 100 || *code > 599) {
    return make_error("bad HTTP status in \"" + std::string(status_line.substr(0, 40)) + "\"");
  }
  out.response.status = static_cast<int>(*code);
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error("malformed header line \"" + std::string(line.substr(0, 40)) + "\"");
    }
    out.response.headers.emplace_back(std::string(line.substr(0, colon)),
                                      std::string(trim(line.substr(colon + 1))));
  }
  int status = out.response.status;
  if (status < 200 || status == 204 || status == 304) {
    out.complete = true;
    return out;
  }
  if (iequals(out.response.header("Transfer-Encoding"), "chunked")) {
    std::string decoded;
    std::string_view chunks = body;
    for (;;) {
      auto size_end = chunks.find("\r\n");
      if (size_end == std::string_view::npos) {
        if (connection_closed) return make_error("connection closed inside a chunked body");
        return out;
      }
      auto size = parse_hex(chunks.substr(0, size_end));
      if (!size.ok()) return size.error();
      chunks.remove_prefix(size_end + 2);
      if (*size == 0) {
        // Trailers (Jellyfin sends none) end with an empty line.
        auto trailer_end = chunks.find("\r\n");
        while (trailer_end != std::string_view::npos && trailer_end != 0) {
          chunks.remove_prefix(trailer_end + 2);
          trailer_end = chunks.find("\r\n");
        }
        if (trailer_end == std::string_view::npos) {
          if (connection_closed) return make_error("connection closed inside the chunked trailer");
          return out;
        }
        out.response.body = std::move(decoded);
        out.complete = true;
        return out;
      }
      if (chunks.size() < *size + 2) {
        if (connection_closed) return make_error("connection closed inside a chunk");
        return out;
      }
      if (chunks.substr(*size, 2) != "\r\n") return make_error("chunk not followed by CRLF");
      decoded.append(chunks.substr(0, *size));
      if (decoded.size() > kMaxResponseBytes) return make_error("chunked body too large");
      chunks.remove_prefix(*size + 2);
    }
  }
  std::string length_text = out.response.header("Content-Length");
  if (!length_text.empty()) {
    auto length = parse_u64(length_text);
    if (!length || *length > kMaxResponseBytes)
      return make_error("bad Content-Length \"" + length_text + "\"");
    if (body.size() < *length) {
      if (connection_closed) {
        return make_error("connection closed after " + std::to_string(body.size()) + " of " +
                          std::to_string(*length) + " body bytes");
      }
      return out;
    }
    out.response.body = std::string(body.substr(0, *length));
    out.complete = true;
    return out;
  }
  // No length: the body ends when the server closes the connection.
  if (!connection_closed) return out;
  out.response.body = std::string(body);
  out.complete = true;
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

bool https_backend_loaded() { return g_curl_loaded.load(); }

}  // namespace guardian::jellyfin
