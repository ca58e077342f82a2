#include "act/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/host_root.h"

namespace guardian {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("guardian-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "sub" / "state.json").string(); }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, OriginalIsDurableBeforeTheChangeAndSurvivesARestart) {
  {
    StateStore store(path());
    ASSERT_TRUE(store.load().ok());  // no file yet: empty
    ASSERT_TRUE(store
                    .save_original("systemd:container.slice:MemoryHigh", "systemd.unit-property",
                                   R"({"unit":"container.slice","property":"MemoryHigh","value":8589934592})")
                    .ok());
  }
  // A new process (crash + restart) sees it.
  StateStore again(path());
  ASSERT_TRUE(again.load().ok());
  auto saved = again.get("systemd:container.slice:MemoryHigh");
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->kind, "systemd.unit-property");
  EXPECT_NE(saved->original_json.find("8589934592"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StateStoreTest, FirstOriginalWinsSoReapplyingCannotOverwriteIt) {
  StateStore store(path());
  auto first = store.save_original("k", "kind", "1");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);  // this call saved it: the caller owns the entry
  auto second = store.save_original("k", "kind", "2");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);  // an original is already held: kept, and the caller is told
  EXPECT_EQ(store.get("k")->original_json, "1");
  ASSERT_TRUE(store.forget("k").ok());
  EXPECT_FALSE(store.get("k"));
  StateStore reread(path());
  ASSERT_TRUE(reread.load().ok());
  EXPECT_TRUE(reread.entries().empty());
}

// The Jellyfin layers keep their entries current while their level holds: several puts and
// forgets land in one durable write, or none does.
TEST_F(StateStoreTest, CommitPutsAndForgetsTogetherAndChangesNothingWhenItCannotWrite) {
  StateStore store(path());
  ASSERT_TRUE(store.commit({{"a", "kind", "1"}, {"b", "kind", "2"}}).ok());
  const std::string saved_at = store.get("a")->saved_at;
  ASSERT_TRUE(store.commit({{"a", "kind", "3"}, {"b", "", ""}, {"c", "kind", "4"}}).ok());
  StateStore reread(path());
  ASSERT_TRUE(reread.load().ok());
  EXPECT_EQ(reread.get("a")->original_json, "3");
  EXPECT_EQ(reread.get("a")->saved_at, saved_at);  // first saved then, rewritten since
  EXPECT_FALSE(reread.get("b"));
  EXPECT_EQ(reread.get("c")->original_json, "4");
  // The state directory becomes a file: nothing can be written, and nothing changes in memory.
  std::filesystem::remove_all(dir_ / "sub");
  std::ofstream(dir_ / "sub") << "not a directory";
  EXPECT_FALSE(store.commit({{"a", "kind", "5"}, {"c", "", ""}}).ok());
  EXPECT_EQ(store.get("a")->original_json, "3");
  EXPECT_TRUE(store.get("c"));
}

TEST_F(StateStoreTest, CorruptFileIsAnErrorNamingIt) {
  std::filesystem::create_directories(dir_ / "sub");
  std::ofstream(path()) << "{\"version\": 1, \"saved\": [";
  StateStore store(path());
  auto loaded = store.load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find(path()), std::string::npos);
}

TEST(StateStoreParse, RejectsWrongShapes) {
  EXPECT_FALSE(StateStore::parse("[]").ok());
  EXPECT_FALSE(StateStore::parse(R"({"version":2,"saved":{}})").ok());
  EXPECT_FALSE(StateStore::parse(R"({"version":1,"saved":{"k":{"original":1}}})").ok());
  EXPECT_FALSE(StateStore::parse(R"({"version":1,"saved":{"k":{"kind":"x"}}})").ok());
  auto ok =
      StateStore::parse(R"({"version":1,"saved":{"k":{"kind":"x","original":{"a":[1,2]},"saved_at":"t"}}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at("k").original_json, R"({"a":[1,2]})");
}

TEST(StateStoreParse, SerializeParseRoundTrip) {
  std::map<std::string, SavedValue> entries = {
      {"jellyfin:http://127.0.0.1:8096:encoding",
       {"jellyfin.encoding-options", R"({"EncoderPreset":"medium"})", "2026-11-26T12:00:00Z"}},
      {"systemd:container.slice:MemoryMax", {"systemd.unit-property", "null", "2026-11-26T12:00:01Z"}}};
  auto parsed = StateStore::parse(StateStore::serialize(entries));
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 2u);
  for (const auto& [key, value] : entries) {
    EXPECT_EQ(parsed->at(key).kind, value.kind);
    EXPECT_EQ(parsed->at(key).original_json, value.original_json);
    EXPECT_EQ(parsed->at(key).saved_at, value.saved_at);
  }
}

}  // namespace
}  // namespace guardian
