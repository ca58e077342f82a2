#include "jellyfin/api_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/scratch_dir.h"

namespace guardian::jellyfin {
namespace {

class ApiKeyTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_.write(name, text);
    ::chmod(path.c_str(), mode);
    return path;
  }
  test::ScratchDir dir_{"apikey"};
};

// A Jellyfin API key is 32 hex digits (Dashboard > API Keys).
TEST_F(ApiKeyTest, PrivateFileIsRead) {
  auto key = read_api_key_file(write("jellyfin.key", "  4f1b2c3d4e5f60718293a4b5c6d7e8f9\n", 0600));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(*key, "4f1b2c3d4e5f60718293a4b5c6d7e8f9");
}

TEST_F(ApiKeyTest, GroupOrWorldReadableIsRefusedWithModeAndFile) {
  std::string path = write("jellyfin.key", "4f1b2c3d4e5f60718293a4b5c6d7e8f9\n", 0644);
  auto key = read_api_key_file(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message,
            "API key file " + path +
                " has mode 0644: readable by group or others, refusing it; run: chmod 600 " + path);
  EXPECT_FALSE(read_api_key_file(write("g.key", "abc", 0640)).ok());
}

TEST_F(ApiKeyTest, EmptyMissingOrSymlinked) {
  EXPECT_NE(read_api_key_file(write("empty.key", "\n", 0600)).error().message.find("empty"),
            std::string::npos);
  EXPECT_NE(read_api_key_file(dir_ / "nope").error().message.find("No such file"), std::string::npos);
  std::string target = write("real.key", "abc", 0600);
  std::filesystem::create_symlink(target, dir_ / "link.key");
  EXPECT_NE(read_api_key_file(dir_ / "link.key").error().message.find("symlink"), std::string::npos);
  EXPECT_FALSE(read_api_key_file(write("two.key", "abc def", 0600)).ok());
}

TEST_F(ApiKeyTest, SystemdCredential) {
  write("jellyfin-api-key", "0123456789abcdef0123456789abcdef", 0400);
  auto key = read_api_key_credential("jellyfin-api-key", dir_.path().c_str());
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(*key, "0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(read_api_key_credential("../etc/passwd", dir_.path().c_str()).ok());
  auto unset = read_api_key_credential("x", "");
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.error().message.find("CREDENTIALS_DIRECTORY"), std::string::npos);
}

}  // namespace
}  // namespace guardian::jellyfin
