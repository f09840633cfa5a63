#include "tests/common/vectors.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <utility>

#include "base/hex.h"

namespace ringfence::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FATAL (test setup): %s\n", what.c_str());
  std::abort();
}

}  // namespace

std::filesystem::path VectorsDir() {
  const char* env = std::getenv("RINGFENCE_VECTORS");
  std::filesystem::path dir = (env != nullptr && *env != '\0') ? env : RINGFENCE_DEFAULT_VECTORS_DIR;
  if (!std::filesystem::is_directory(dir)) {
    Die("conformance vectors directory not found: " + dir.string() +
        " (set RINGFENCE_VECTORS or place ../shared beside the repository)");
  }
  return dir;
}

std::string ReadFileOrDie(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadVectorFile(const std::string& relative) { return ReadFileOrDie(VectorsDir() / relative); }

std::vector<uint8_t> HexToBytes(const std::string& hex) {
  absl::StatusOr<std::vector<uint8_t>> bytes = base::HexDecode(hex, "test data");
  if (!bytes.ok()) Die(std::string(bytes.status().message()));
  return *std::move(bytes);
}

std::string BytesToHex(const uint8_t* data, size_t size) { return base::HexEncode(std::span<const uint8_t>(data, size)); }

}  // namespace ringfence::testing
