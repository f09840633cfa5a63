#include "tests/common/vectors.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ringfence::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FATAL (test setup): %s\n", what.c_str());
  std::abort();
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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
  if (hex.size() % 2 != 0) Die("odd-length hex in test data: " + hex);
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexNibble(hex[2 * i]);
    int lo = HexNibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) Die("bad hex in test data: " + hex);
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string BytesToHex(const uint8_t* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

}  // namespace ringfence::testing
