#include "tools/quorum/sealed_key.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace ringfence::quorum {
namespace {

// The lowest cost libsodium allows keeps the tests fast; the format records it.
const KdfCost kTestCost{1, 8192};
const std::string kPass = "correct horse battery";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string Line(const std::string& text, const std::string& name) {
  size_t at = text.find(name + "=");
  size_t end = text.find('\n', at);
  return text.substr(at, end - at);
}

TEST(SealedKeyTest, RoundTripSignsVerifiably) {
  std::array<uint8_t, 32> pk{};
  auto text = SealedKey::Generate(kPass, kTestCost, &pk);
  ASSERT_TRUE(text.ok()) << text.status();
  auto key = SealedKey::Open(*text, kPass);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->public_key(), pk);
  auto only_pk = SealedKey::PublicKeyOf(*text);
  ASSERT_TRUE(only_pk.ok());
  EXPECT_EQ(*only_pk, pk);
  const uint8_t msg[] = {1, 2, 3};
  auto sig = (*key)->Sign(msg);
  EXPECT_EQ(crypto_sign_verify_detached(sig.data(), msg, sizeof msg, pk.data()), 0);
  // The seed is not in the file in the clear: the file never holds the secret key's hex.
  EXPECT_EQ(text->find("sealed_seed="), text->rfind("sealed_seed="));
}

TEST(SealedKeyTest, TwoKeysDiffer) {
  std::array<uint8_t, 32> a{}, b{};
  ASSERT_TRUE(SealedKey::Generate(kPass, kTestCost, &a).ok());
  ASSERT_TRUE(SealedKey::Generate(kPass, kTestCost, &b).ok());
  EXPECT_NE(a, b);
}

TEST(SealedKeyTest, WrongPassphraseIsRefused) {
  std::array<uint8_t, 32> pk{};
  auto text = SealedKey::Generate(kPass, kTestCost, &pk);
  ASSERT_TRUE(text.ok());
  auto key = SealedKey::Open(*text, "correct horse batterz");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(SealedKeyTest, ShortPassphraseIsRefused) {
  std::array<uint8_t, 32> pk{};
  auto text = SealedKey::Generate("short", kTestCost, &pk);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("at least 12"), std::string::npos);
}

TEST(SealedKeyTest, SwappedPublicKeyIsRefused) {
  std::array<uint8_t, 32> a{}, b{};
  auto text_a = SealedKey::Generate(kPass, kTestCost, &a);
  auto text_b = SealedKey::Generate(kPass, kTestCost, &b);
  ASSERT_TRUE(text_a.ok() && text_b.ok());
  std::string swapped = Replace(*text_a, Line(*text_a, "public_key"), Line(*text_b, "public_key"));
  auto key = SealedKey::Open(swapped, kPass);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(SealedKeyTest, FlippedCiphertextIsRefused) {
  std::array<uint8_t, 32> pk{};
  auto text = SealedKey::Generate(kPass, kTestCost, &pk);
  ASSERT_TRUE(text.ok());
  std::string t = *text;
  size_t at = t.find("sealed_seed=") + std::string("sealed_seed=").size();
  t[at] = t[at] == '0' ? '1' : '0';
  auto key = SealedKey::Open(t, kPass);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
}

struct BadFile {
  const char* name;
  std::string (*mutate)(const std::string&);
  const char* expect;  // part of the error message
};

TEST(SealedKeyTest, MalformedFilesNameTheProblem) {
  std::array<uint8_t, 32> pk{};
  auto text = SealedKey::Generate(kPass, kTestCost, &pk);
  ASSERT_TRUE(text.ok());
  const BadFile cases[] = {
      {"empty", [](const std::string&) { return std::string(); }, "missing line 'format'"},
      {"wrong format", [](const std::string& t) { return Replace(t, "ringfence-approver-key/1", "ringfence-approver-key/2"); }, "field 'format'"},
      {"trailing", [](const std::string& t) { return t + "extra=1\n"; }, "trailing data"},
      {"duplicate line", [](const std::string& t) { return Replace(t, "opslimit=", "public_key=x\nopslimit="); }, "expected line 'opslimit=...'"},
      {"missing last newline", [](const std::string& t) { return t.substr(0, t.size() - 1); }, "missing line 'sealed_seed'"},
      {"uppercase hex", [](const std::string& t) {
         std::string u = t; size_t at = u.find("salt=") + 5;
         for (size_t i = at; u[i] != '\n'; ++i) u[i] = static_cast<char>(std::toupper(u[i]));
         return u; }, "field 'salt'"},
      {"short salt", [](const std::string& t) { return Replace(t, "salt=", "salt=00"); }, "field 'salt': expected 32 hex digits"},
      {"negative opslimit", [](const std::string& t) { return Replace(t, "opslimit=1", "opslimit=-1"); }, "field 'opslimit'"},
      {"leading zero", [](const std::string& t) { return Replace(t, "opslimit=1", "opslimit=01"); }, "field 'opslimit'"},
      {"overflowing memlimit", [](const std::string& t) { return Replace(t, "memlimit=8192", "memlimit=99999999999999999999999"); }, "field 'memlimit'"},
      {"huge memlimit", [](const std::string& t) { return Replace(t, "memlimit=8192", "memlimit=999999999999"); }, "field 'memlimit' out of range"},
      {"oversized", [](const std::string& t) { return t + std::string(5000, 'x'); }, "larger than 4096"},
  };
  for (const auto& c : cases) {
    std::string bad = c.mutate(*text);
    auto key = SealedKey::Open(bad, kPass);
    ASSERT_FALSE(key.ok()) << c.name;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(key.status().message().find(c.expect), std::string::npos) << c.name << ": " << key.status().message();
  }
}

}  // namespace
}  // namespace ringfence::quorum
