#include "net/http.h"

#include <gtest/gtest.h>

#include "support/fake_jellyfin.h"

namespace guardian::jellyfin {
namespace {

TEST(ParseUrl, DefaultsAndBasePath) {
  auto url = parse_url("http://127.0.0.1:8096");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8096);
  EXPECT_EQ(url->base_path, "");
  auto proxied = parse_url("https://media.example.org/jellyfin/");
  ASSERT_TRUE(proxied.ok());
  EXPECT_EQ(proxied->port, 443);
  EXPECT_EQ(proxied->base_path, "/jellyfin");
  auto v6 = parse_url("http://[::1]:8096");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->origin(), "http://[::1]:8096");
}

TEST(ParseUrl, RejectsWithReason) {
  EXPECT_NE(parse_url("ftp://x").error().message.find("http:// or https://"), std::string::npos);
  EXPECT_NE(parse_url("http://user:pw@host").error().message.find("api_key_file"), std::string::npos);
  EXPECT_NE(parse_url("http://host:99999").error().message.find("port"), std::string::npos);
  EXPECT_NE(parse_url("http://host/?api_key=1").error().message.find("query"), std::string::npos);
  EXPECT_FALSE(parse_url("http://:80").ok());
}

// Kestrel (Jellyfin's server) answers JSON with chunked transfer coding.
TEST(ParseHttpResponse, ChunkedAsKestrelSendsIt) {
  std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Thu, 26 Nov 2026 12:00:00 "
      "GMT\r\n"
      "Server: Kestrel\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\n[{\"a\"\r\nA\r\n:1},{\"b\":2\r\n2\r\n}]\r\n0\r\n\r\n";
  auto parsed = parse_http_response(wire, false);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_TRUE(parsed->complete);
  EXPECT_EQ(parsed->response.status, 200);
  EXPECT_EQ(parsed->response.body, "[{\"a\":1},{\"b\":2}]");
  EXPECT_EQ(parsed->response.header("server"), "Kestrel");
  // Every strict prefix is incomplete, never an error.
  for (size_t n = 0; n < wire.size(); ++n) {
    auto partial = parse_http_response(wire.substr(0, n), false);
    ASSERT_TRUE(partial.ok()) << n << ": " << partial.error().message;
    EXPECT_FALSE(partial->complete) << n;
  }
}

TEST(ParseHttpResponse, ContentLengthAnd204) {
  auto parsed = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue", false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->complete);
  EXPECT_EQ(parsed->response.body, "true");
  auto no_content = parse_http_response("HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", false);
  ASSERT_TRUE(no_content.ok());
  EXPECT_TRUE(no_content->complete);
}

TEST(ParseHttpResponse, TruncatedAndGarbage) {
  auto cut = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("3 of 10"), std::string::npos);
  EXPECT_FALSE(parse_http_response("SSH-2.0-OpenSSH_9.2\r\n\r\n", false).ok());
  EXPECT_FALSE(
      parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false).ok());
  EXPECT_FALSE(parse_http_response("", true).ok());
}

TEST(HttpSend, ConnectionRefusedIsQuickAndNamed) {
  // Port 1 on localhost: nothing listens there.
  auto url = parse_url("http://127.0.0.1:1");
  HttpRequest request;
  request.target = "/System/Info";
  auto start = std::chrono::steady_clock::now();
  auto response = http_send(*url, request, start + std::chrono::seconds(2));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().message.find("GET http://127.0.0.1:1/System/Info"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(https_backend_loaded());
}

// Issue 16, item 2: a CR/LF in a header value (an instance name read back from the state file
// went into DeviceId) became a header of its own.
TEST(HttpSend, ACrOrLfInAHeaderOrTheTargetIsRefusedBeforeAnythingIsSent) {
  guardian::testing::FakeJellyfin fake("4f1b2c3d4e5f60718293a4b5c6d7e8f9");
  ASSERT_TRUE(fake.running());
  auto url = parse_url(fake.url());
  ASSERT_TRUE(url.ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  HttpRequest injected;
  injected.target = "/Sessions";
  injected.headers.emplace_back("Authorization", "MediaBrowser DeviceId=\"x\r\nX-Injected: yes\r\nY\"");
  auto refused = http_send(*url, injected, deadline);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("refusing header Authorization: its value holds CR, LF or NUL"),
            std::string::npos)
      << refused.error().message;
  HttpRequest split_target;
  split_target.target = "/Sessions HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET /x";
  EXPECT_FALSE(http_send(*url, split_target, deadline).ok());
  HttpRequest bare_lf;
  bare_lf.target = "/Sessions";
  bare_lf.headers.emplace_back("Accept", "application/json\nX-Injected: yes");
  EXPECT_FALSE(http_send(*url, bare_lf, deadline).ok());
  EXPECT_TRUE(fake.requests().empty()) << fake.requests().dump();
}

}  // namespace
}  // namespace guardian::jellyfin
