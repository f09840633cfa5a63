// Access to the public conformance vectors in ../shared/vectors.
//
// The directory is the RINGFENCE_VECTORS environment variable when set, otherwise the path
// configured at build time (RINGFENCE_VECTORS_DIR). A missing directory or file is a test
// failure, never a skip: the functions below abort the test with a message naming the path.
#ifndef RINGFENCE_TESTS_COMMON_VECTORS_H_
#define RINGFENCE_TESTS_COMMON_VECTORS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ringfence::testing {

// The vectors directory. Aborts (with a gtest fatal failure message on stderr) if it is missing.
std::filesystem::path VectorsDir();

// The whole content of `relative` under VectorsDir(). Aborts if it cannot be read.
std::string ReadVectorFile(const std::string& relative);

// Reads any file whole. Aborts if it cannot be read.
std::string ReadFileOrDie(const std::filesystem::path& path);

// Lowercase or uppercase hex to bytes. Aborts on odd length or a non-hex character: vectors
// are trusted input, so a bad one is a broken test, not a case to handle.
std::vector<uint8_t> HexToBytes(const std::string& hex);
std::string BytesToHex(const uint8_t* data, size_t size);
inline std::string BytesToHex(const std::vector<uint8_t>& v) { return BytesToHex(v.data(), v.size()); }

}  // namespace ringfence::testing

#endif  // RINGFENCE_TESTS_COMMON_VECTORS_H_
