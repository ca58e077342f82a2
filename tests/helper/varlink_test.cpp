#include "helper/varlink.h"

#include <gtest/gtest.h>

#include "helper/prekill_hook.h"

namespace guardian::helper {
namespace {

// What systemd-oomd sends (oomd-util.c: sd_varlink_invoke(link, "io.systemd.oom.Prekill.Notify",
// {"cgroup": ctx->path})), as sd-varlink encodes it.
constexpr std::string_view kOomdNotify =
    R"({"method":"io.systemd.oom.Prekill.Notify","parameters":{"cgroup":"/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service"}})";

nlohmann::json decode(const std::string& answer) {
  EXPECT_FALSE(answer.empty());
  EXPECT_EQ(answer.back(), '\0');
  return nlohmann::json::parse(answer.substr(0, answer.size() - 1));
}

TEST(Varlink, ParsesOomdsNotifyCall) {
  auto call = varlink::parse_call(kOomdNotify);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->method, "io.systemd.oom.Prekill.Notify");
  EXPECT_FALSE(call->oneway);
  auto cgroup = notify_cgroup(*call);
  ASSERT_TRUE(cgroup.ok());
  EXPECT_EQ(*cgroup, "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service");
  EXPECT_FALSE(answer_directly(*call)) << "Notify is held until the clients are ready";
}

TEST(Varlink, RejectsWhatIsNotACall) {
  const std::pair<std::string_view, const char*> cases[] = {
      {"", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"parameters":{}})", "no string 'method'"},
      {R"({"method":"x.y","parameters":[1]})", "not an object"},
      {R"({"method":"x.y","oneway":"yes"})", "'oneway' is not a boolean"},
  };
  for (const auto& [text, expected] : cases) {
    auto call = varlink::parse_call(text);
    ASSERT_FALSE(call.ok()) << text;
    EXPECT_NE(call.error().message.find(expected), std::string::npos) << call.error().message;
  }
}

TEST(Varlink, AnswersIntrospectionAndErrorsTheWayTheServiceInterfaceSays) {
  auto info = answer_directly(*varlink::parse_call(R"({"method":"org.varlink.service.GetInfo"})"));
  ASSERT_TRUE(info);
  const auto info_json = decode(*info);
  EXPECT_EQ(info_json["parameters"]["product"], "guardian-helper");
  EXPECT_EQ(info_json["parameters"]["interfaces"][1], "io.systemd.oom.Prekill");

  auto description = answer_directly(*varlink::parse_call(
      R"({"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.systemd.oom.Prekill"}})"));
  ASSERT_TRUE(description);
  const std::string text = decode(*description)["parameters"]["description"];
  EXPECT_NE(text.find("interface io.systemd.oom.Prekill"), std::string::npos);
  EXPECT_NE(text.find("method Notify("), std::string::npos);

  auto unknown_method =
      answer_directly(*varlink::parse_call(R"({"method":"io.systemd.oom.Prekill.Cancel"})"));
  EXPECT_EQ(decode(*unknown_method)["error"], "org.varlink.service.MethodNotFound");
  auto unknown_interface =
      answer_directly(*varlink::parse_call(R"({"method":"io.systemd.Hostname.Describe"})"));
  EXPECT_EQ(decode(*unknown_interface)["error"], "org.varlink.service.InterfaceNotFound");
  auto no_cgroup =
      answer_directly(*varlink::parse_call(R"({"method":"io.systemd.oom.Prekill.Notify","parameters":{}})"));
  ASSERT_TRUE(no_cgroup);
  EXPECT_EQ(decode(*no_cgroup)["error"], "org.varlink.service.InvalidParameter");
  EXPECT_EQ(decode(*no_cgroup)["parameters"]["parameter"], "cgroup");
}

TEST(VarlinkFramer, SplitsAtNulAndRefusesHugeMessages) {
  varlink::Framer framer;
  framer.feed(std::string(kOomdNotify) + '\0' + R"({"method":"org.varlink.service.GetInfo"})");
  auto first = framer.next();
  ASSERT_TRUE(first && first->ok());
  EXPECT_EQ(first->value(), kOomdNotify);
  EXPECT_FALSE(framer.next());
  framer.feed(std::string(1, '\0'));
  auto second = framer.next();
  ASSERT_TRUE(second && second->ok());
  framer.feed(std::string(varlink::kMaxMessageBytes + 1, ' '));
  auto huge = framer.next();
  ASSERT_TRUE(huge);
  EXPECT_FALSE(huge->ok());
}

}  // namespace
}  // namespace guardian::helper
