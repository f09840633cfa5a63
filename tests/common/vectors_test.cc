// The vectors directory is chosen when a test runs: RINGFENCE_VECTORS when set, otherwise the
// directory configured at build time. vectors_env_test.sh runs this binary under different
// environments and reads the directory it prints.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "tests/common/vectors.h"

namespace ringfence::testing {
namespace {

TEST(VectorsDir, ReadsTheManifestOfTheDirectoryInUse) {
  const std::filesystem::path dir = VectorsDir();
  std::printf("vectors directory: %s\n", dir.c_str());
  const std::string sums = ReadVectorFile("SHA256SUMS");
  EXPECT_NE(sums.find("  "), std::string::npos) << "SHA256SUMS in " << dir << " lists no file";
}

TEST(TestHex, RoundTripsBothCases) {
  EXPECT_EQ(HexToBytes("00ff7A"), (std::vector<uint8_t>{0x00, 0xff, 0x7a}));
  EXPECT_EQ(BytesToHex(HexToBytes("00FF7a")), "00ff7a");
  EXPECT_EQ(BytesToHex(std::vector<uint8_t>{}), "");
}

TEST(TestHexDeathTest, BadTestDataAbortsNamingIt) {
  EXPECT_DEATH(HexToBytes("abc"), "test data");
  EXPECT_DEATH(HexToBytes("zz"), "test data");
}

}  // namespace
}  // namespace ringfence::testing
