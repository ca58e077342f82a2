#include "act/state_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Issue 16, item 6: a truncated file was reported and then replaced by the next save with an
// empty one. It is kept aside as PATH.corrupt before anything is saved.
TEST_F(StateStoreTest, ACorruptFileIsKeptAsideBeforeAnythingIsSaved) {
  std::filesystem::create_directories(dir_ / "sub");
  const std::string truncated =
      R"({"version": 1, "saved": {"systemd.unit-freeze/immich-ml.service": {"kind": "sys)";
  std::ofstream(path()) << truncated;
  StateStore store(path());
  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_NE(loaded->unreadable.find(path() + ": not valid JSON"), std::string::npos) << loaded->unreadable;
  EXPECT_EQ(loaded->kept_aside, path() + ".corrupt");
  EXPECT_EQ(read_text(path() + ".corrupt"), truncated);
  EXPECT_TRUE(store.entries().empty());
  ASSERT_TRUE(store.save_original("k", "kind", "1").ok());
  EXPECT_EQ(read_text(path() + ".corrupt"), truncated);  // the save did not touch it
  StateStore reread(path());
  ASSERT_TRUE(reread.load().ok());
  EXPECT_EQ(reread.entries().size(), 1u);
}

// ... and a file with some bad entries keeps the good ones, on disk at once.
TEST_F(StateStoreTest, AFileWithSomeBadEntriesKeepsTheGoodOnes) {
  std::filesystem::create_directories(dir_ / "sub");
  const std::string text =
      R"({"version":1,"saved":{"good":{"kind":"systemd.unit-freeze","original":{"unit":"immich-ml.service","freezer_state":"running"}},)"
      R"("bad":{"original":1}}})";
  std::ofstream(path()) << text;
  StateStore store(path());
  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(loaded->unreadable.empty());
  ASSERT_EQ(loaded->skipped.size(), 1u);
  EXPECT_NE(loaded->skipped[0].find(R"(saved["bad"])"), std::string::npos) << loaded->skipped[0];
  EXPECT_EQ(read_text(path() + ".corrupt"), text);
  StateStore reread(path());  // a crash now would still find the good entry
  ASSERT_TRUE(reread.load().ok());
  ASSERT_EQ(reread.entries().size(), 1u);
  EXPECT_TRUE(reread.get("good").has_value());
}

// Issue 16, item 5: a 0666 state file was used without a word. A file or directory others may
// write, or another uid owns, is refused, named, and nothing is saved over it.
TEST_F(StateStoreTest, AFileOrDirectoryOthersMayWriteIsRefusedAndNothingIsSavedOverIt) {
  {
    StateStore store(path());
    ASSERT_TRUE(store.save_original("k", "kind", "1").ok());
  }
  const std::string before = read_text(path());
  ::chmod(path().c_str(), 0666);
  StateStore store(path());
  auto loaded = store.load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message,
            "state file " + path() +
                " has mode 0666: writable by group or others, refusing it; run: chmod go-w " + path());
  auto saved = store.save_original("other", "kind", "2");
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.error().message.find("guardian changes nothing it cannot save"), std::string::npos);
  EXPECT_EQ(read_text(path()), before);

  ::chmod(path().c_str(), 0600);
  ::chmod((dir_ / "sub").c_str(), 0777);
  StateStore in_open_dir(path());
  auto refused = in_open_dir.load();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("state directory " + (dir_ / "sub").string() + " has mode 0777"),
            std::string::npos)
      << refused.error().message;
  ::chmod((dir_ / "sub").c_str(), 0700);

  if (::geteuid() != 0) GTEST_SKIP() << "giving the file to another uid needs root";
  ASSERT_EQ(::chown(path().c_str(), 4242, 4242), 0);
  StateStore foreign(path());
  auto not_ours = foreign.load();
  ASSERT_FALSE(not_ours.ok());
  EXPECT_NE(not_ours.error().message.find("is owned by uid 4242"), std::string::npos)
      << not_ours.error().message;
}

// ... the temporary file is made new (O_EXCL|O_NOFOLLOW): a link planted there is replaced, never
// written through.
TEST_F(StateStoreTest, ALinkPlantedAsTheTemporaryFileIsNeverWrittenThrough) {
  std::filesystem::create_directories(dir_ / "sub");
  std::ofstream(dir_ / "victim") << "the user's file";
  std::filesystem::create_symlink(dir_ / "victim", path() + ".tmp");
  StateStore store(path());
  ASSERT_TRUE(store.load().ok());
  ASSERT_TRUE(store.save_original("k", "kind", "1").ok());
  EXPECT_EQ(read_text(dir_ / "victim"), "the user's file");
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path() + ".tmp")));
  StateStore reread(path());
  ASSERT_TRUE(reread.load().ok());
  EXPECT_TRUE(reread.get("k").has_value());
}

// ... and a full file system (here RLIMIT_FSIZE, in a child) leaves no temporary file behind and
// the state file as it was; the change is refused.
TEST_F(StateStoreTest, AFailedWriteLeavesNoTemporaryFileAndTheOldFileIntact) {
  {
    StateStore store(path());
    ASSERT_TRUE(store.save_original("k", "kind", "1").ok());
  }
  const std::string before = read_text(path());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead
    rlimit limit{1024, 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    StateStore store(path());
    if (!store.load().ok()) ::_exit(2);
    auto saved = store.save_original("big", "kind", "\"" + std::string(8192, 'x') + "\"");
    if (saved.ok()) ::_exit(3);
    if (saved.error().message.find("File too large") == std::string::npos) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(path() + ".tmp"));
  EXPECT_EQ(read_text(path()), before);
}

// Issue 16, items 9 and 10: a FIFO hung the read, /dev/zero aborted with bad_alloc, a 100 MB file
// took 470 MB. Only a regular file is read, and at most kMaxStateFileBytes of it.
TEST_F(StateStoreTest, AFifoADeviceOrAHugeFileIsAnErrorNeverAHangOrAnAllocation) {
  std::filesystem::create_directories(dir_ / "sub");
  ASSERT_EQ(::mkfifo(path().c_str(), 0600), 0);
  StateStore fifo(path());
  auto loaded = fifo.load();  // returns at once: no writer is waited for
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, "state file " + path() + ": a FIFO, not a regular file");
  std::filesystem::remove(path());

  StateStore zero("/dev/zero");
  auto device = zero.load();
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.error().message.find("/dev/zero"), std::string::npos) << device.error().message;

  {
    std::ofstream huge(path());
    huge << R"({"version":1,"saved":{)" << std::string(kMaxStateFileBytes, ' ') << "}}";
  }
  ::chmod(path().c_str(), 0600);
  StateStore store(path());
  auto big = store.load();
  ASSERT_TRUE(big.ok()) << big.error().message;
  EXPECT_NE(big->unreadable.find("larger than the 256.00 KiB guardian reads"), std::string::npos)
      << big->unreadable;
  EXPECT_EQ(big->kept_aside, path() + ".corrupt");
  EXPECT_TRUE(store.entries().empty());
}

TEST(StateStoreParse, RejectsWrongShapes) {
  EXPECT_FALSE(StateStore::parse("[]").ok());
  EXPECT_FALSE(StateStore::parse(R"({"version":2,"saved":{}})").ok());
  EXPECT_FALSE(StateStore::parse(R"({"version":1,"saved":[]})").ok());
  auto ok =
      StateStore::parse(R"({"version":1,"saved":{"k":{"kind":"x","original":{"a":[1,2]},"saved_at":"t"}}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->entries.at("k").original_json, R"({"a":[1,2]})");
  EXPECT_TRUE(ok->skipped.empty());
}

// Issue 16, item 6: one bad entry dropped the whole file. Each is skipped alone, and named.
TEST(StateStoreParse, ABadEntryIsSkippedAloneAndNamed) {
  auto parsed = StateStore::parse(R"({"version":1,"saved":{
    "no-kind":{"original":1},
    "no-original":{"kind":"x"},
    "not-an-object":[1],
    "bad\nkey":{"kind":"x","original":1},
    "good":{"kind":"systemd.unit-freeze","original":{"unit":"immich-ml.service","freezer_state":"running"}}}})");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->entries.size(), 1u);
  EXPECT_TRUE(parsed->entries.contains("good"));
  ASSERT_EQ(parsed->skipped.size(), 4u);
  std::string all;
  for (const auto& line : parsed->skipped) all += line + "\n";
  EXPECT_NE(all.find(R"(saved["no-kind"]: expected a non-empty string "kind")"), std::string::npos) << all;
  EXPECT_NE(all.find(R"(saved["no-original"]: missing "original")"), std::string::npos) << all;
  EXPECT_NE(all.find(R"(saved["not-an-object"]: expected an object)"), std::string::npos) << all;
  EXPECT_NE(all.find("control characters in the key"), std::string::npos) << all;
}

TEST(StateStoreParse, SerializeParseRoundTrip) {
  std::map<std::string, SavedValue> entries = {
      {"jellyfin:http://127.0.0.1:8096:encoding",
       {"jellyfin.encoding-options", R"({"EncoderPreset":"medium"})", "2026-11-26T12:00:00Z"}},
      {"systemd:container.slice:MemoryMax", {"systemd.unit-property", "null", "2026-11-26T12:00:01Z"}}};
  auto parsed = StateStore::parse(StateStore::serialize(entries));
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->entries.size(), 2u);
  for (const auto& [key, value] : entries) {
    EXPECT_EQ(parsed->entries.at(key).kind, value.kind);
    EXPECT_EQ(parsed->entries.at(key).original_json, value.original_json);
    EXPECT_EQ(parsed->entries.at(key).saved_at, value.saved_at);
  }
}

}  // namespace
}  // namespace guardian
