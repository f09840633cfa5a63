#include "base/text.h"

#include <string>

#include <gtest/gtest.h>

namespace ringfence::base {
namespace {

TEST(Text, CatJoinsTextAndIntegers) {
  const std::string s = "b";
  EXPECT_EQ(Cat("a", s, std::string_view("c"), absl::string_view("d"), 'e', 42, -1, uint64_t{7}), "abcde42-17");
}

TEST(Text, ClipQuotesShortTextWhole) { EXPECT_EQ(Clip("bc1q"), "\"bc1q\""); }

TEST(Text, ClipBoundsLongTextAndNamesItsSize) {
  const std::string huge(1 << 20, 'x');
  const std::string clipped = Clip(huge);
  EXPECT_EQ(clipped, "\"" + std::string(kClipLength, 'x') + "\"...(1048576 bytes)");
  EXPECT_EQ(Clip(std::string(kClipLength, 'y')), "\"" + std::string(kClipLength, 'y') + "\"");
}

TEST(Text, ClipHidesUnprintableBytes) {
  EXPECT_EQ(Clip(std::string_view("a\n\"\\\x01\xff", 6)), "\"a?????\"");
}

}  // namespace
}  // namespace ringfence::base
