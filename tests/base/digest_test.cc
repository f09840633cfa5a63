#include "base/digest.h"

#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "base/hex.h"

namespace ringfence::base {
namespace {

TEST(DigestBody, EncodesEachFieldKindBigEndianWithLengths) {
  DigestBody body;
  body.Text("id", "wd-1");
  body.Blob("tx", std::string("\x00\x01", 2), 10);
  body.Blob("empty", "", 10);
  body.Time("at", 1800000000);
  body.U64(0x0102030405060708ull);
  body.U128(Amount(100000));
  const std::array<uint8_t, 2> fixed = {0xab, 0xcd};
  body.Fixed(fixed);
  ASSERT_TRUE(body.status().ok()) << body.status();
  EXPECT_EQ(HexEncode(body.bytes()),
            "00000004" "77642d31"                          // text "wd-1"
            "00000002" "0001"                              // blob of 2
            "00000000"                                     // empty blob
            "000000006b49d200"                             // time 1800000000
            "0102030405060708"                             // u64
            "000000000000000000000000000186a0"             // u128 100000
            "abcd");                                       // fixed
}

TEST(DigestBody, RefusesEmptyOrLongTextLongBlobAndBadTimesAndKeepsTheFirstError) {
  DigestBody empty;
  empty.Text("intent.asset", "");
  EXPECT_EQ(empty.status().message(), "intent.asset: must not be empty");
  DigestBody long_text;
  long_text.Text("destination", std::string(257, 'a'));
  EXPECT_EQ(long_text.status().message(), "destination: 257 bytes; at most 256");
  DigestBody at_limit;
  at_limit.Text("destination", std::string(256, 'a'));
  at_limit.Text("short", "x", 1);
  EXPECT_TRUE(at_limit.status().ok());
  DigestBody long_blob;
  long_blob.Blob("request", std::string(11, 'x'), 10);
  EXPECT_EQ(long_blob.status().message(), "request: 11 bytes; at most 10");
  for (int64_t t : {int64_t{-1}, kMaxTimestamp + 1, INT64_MIN, INT64_MAX}) {
    DigestBody body;
    body.Time("expires_at", t);
    EXPECT_FALSE(body.status().ok()) << t;
    EXPECT_NE(std::string(body.status().message()).find("expires_at: time"), std::string::npos);
  }
  DigestBody first;
  first.Text("a", "");
  first.Text("b", std::string(300, 'b'));
  first.U64(7);
  EXPECT_EQ(first.status().message(), "a: must not be empty");
  EXPECT_TRUE(first.bytes().empty());
}

// TaggedHash against OpenSSL's SHA-256, an independent implementation, on bodies of several
// lengths (across SHA-256's 64-byte block boundaries).
TEST(TaggedHash, MatchesSha256OfTagHashTwiceAndBody) {
  const std::string tag = "ringfence/test/v1";
  std::array<uint8_t, 32> t;
  SHA256(reinterpret_cast<const uint8_t*>(tag.data()), tag.size(), t.data());
  for (size_t n : {size_t{0}, size_t{1}, size_t{55}, size_t{64}, size_t{65}, size_t{1000}}) {
    std::string body(n, '\0');
    for (size_t i = 0; i < n; ++i) body[i] = static_cast<char>(i * 7 + 3);
    std::string whole(reinterpret_cast<const char*>(t.data()), t.size());
    whole += whole;
    whole += body;
    std::array<uint8_t, 32> expected;
    SHA256(reinterpret_cast<const uint8_t*>(whole.data()), whole.size(), expected.data());
    EXPECT_EQ(TaggedHash(tag, body), expected) << n;
  }
  EXPECT_NE(TaggedHash("ringfence/a", ""), TaggedHash("ringfence/b", ""));
}

}  // namespace
}  // namespace ringfence::base
