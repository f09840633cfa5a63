#include "base/secret.h"

#include <cstring>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace ringfence::base {
namespace {

TEST(SecretBytes, StartsZeroedAndKeepsItsSize) {
  SecretBytes s(32);
  ASSERT_NE(s.data(), nullptr);
  EXPECT_EQ(s.size(), 32u);
  for (uint8_t b : s.span()) EXPECT_EQ(b, 0);
  SecretBytes empty(0);
  EXPECT_TRUE(empty.empty());
}

TEST(SecretBytes, CopyOfHoldsTheBytes) {
  SecretBytes s = SecretBytes::CopyOf(std::string_view("1234"));
  EXPECT_EQ(s.view(), "1234");
  EXPECT_EQ(s.size(), 4u);
}

TEST(SecretBytes, MoveLeavesTheSourceEmpty) {
  SecretBytes a = SecretBytes::CopyOf(std::string_view("pin"));
  const uint8_t* where = a.data();
  SecretBytes b(std::move(a));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.size(), 0u);
  SecretBytes c = SecretBytes::CopyOf(std::string_view("other"));
  c = std::move(b);
  EXPECT_EQ(c.view(), "pin");
}

TEST(SecretBytes, TruncateWipesTheTail) {
  SecretBytes s = SecretBytes::CopyOf(std::string_view("abcdef"));
  s.Truncate(2);
  EXPECT_EQ(s.view(), "ab");
  // The wiped tail is still our allocation: it must read as zeros now.
  EXPECT_EQ(s.data()[2], 0);
  EXPECT_EQ(s.data()[5], 0);
  s.Truncate(10);  // never grows
  EXPECT_EQ(s.size(), 2u);
  s.Wipe();
  EXPECT_EQ(s.data(), nullptr);
  EXPECT_TRUE(s.empty());
}

TEST(SecretBytes, WipeClearsPlainMemory) {
  char buf[8];
  std::memcpy(buf, "secret!", 8);
  Wipe(buf, sizeof buf);
  for (char c : buf) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace ringfence::base
