// Keccak-256 against the published vectors and ethers' hash cases, and the OpenSSL-backed
// Bitcoin hashes against ethers' sha256/ripemd160 entries.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/hashes.h"
#include "base/hex.h"
#include "chain/keccak.h"
#include "tests/common/vectors.h"

namespace ringfence::chain {
namespace {

using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;

std::string Strip0x(const std::string& s) { return s.rfind("0x", 0) == 0 ? s.substr(2) : s; }

TEST(KeccakVectors, PublishedAndBoundaryCases) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("ethereum/keccak256_vectors.json"));
  const auto& vectors = doc.at("vectors");
  ASSERT_EQ(vectors.size(), 8u);
  size_t checked = 0;
  for (const auto& v : vectors) {
    std::vector<uint8_t> input = HexToBytes(v.at("input_hex").get<std::string>());
    ASSERT_EQ(input.size(), v.at("input_len").get<size_t>()) << v.at("label");
    EXPECT_EQ(base::HexEncode(Keccak256(input)), v.at("keccak256").get<std::string>()) << v.at("label");
    if (v.contains("sha3_256_for_contrast")) {
      EXPECT_NE(base::HexEncode(Keccak256(input)), v.at("sha3_256_for_contrast").get<std::string>());
    }
    // The incremental form must agree however the input is split.
    Keccak256Hasher h;
    size_t half = input.size() / 3;
    h.Update(std::span<const uint8_t>(input).first(half));
    h.Update(std::span<const uint8_t>(input).subspan(half));
    EXPECT_EQ(base::HexEncode(h.Finish()), v.at("keccak256").get<std::string>()) << v.at("label");
    ++checked;
  }
  EXPECT_EQ(checked, vectors.size());
}

TEST(EthersHashVectors, Keccak256Sha256Ripemd160) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("ethereum/ethers_hashes.json"));
  ASSERT_EQ(doc.size(), 257u);
  size_t keccak = 0;
  for (const auto& v : doc) {
    std::vector<uint8_t> data = HexToBytes(Strip0x(v.at("data").get<std::string>()));
    if (v.contains("keccak256")) {
      EXPECT_EQ("0x" + base::HexEncode(Keccak256(data)), v.at("keccak256").get<std::string>()) << v.at("name");
      ++keccak;
    }
    if (v.contains("sha256")) {
      EXPECT_EQ("0x" + base::HexEncode(Sha256(data)), v.at("sha256").get<std::string>()) << v.at("name");
    }
    if (v.contains("ripemd160")) {
      EXPECT_EQ("0x" + base::HexEncode(Ripemd160(data)), v.at("ripemd160").get<std::string>()) << v.at("name");
    }
  }
  EXPECT_EQ(keccak, 257u);
}

}  // namespace
}  // namespace ringfence::chain
