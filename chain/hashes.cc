#include "chain/hashes.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace ringfence::chain {
namespace {

template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, std::span<const uint8_t> data) {
  std::array<uint8_t, N> out;
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != N) {
    // Only a broken OpenSSL gets here; a wrong hash would be worse than stopping.
    std::fprintf(stderr, "ringfence::chain: OpenSSL digest failed\n");
    std::abort();
  }
  return out;
}

}  // namespace

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) { return Digest<32>(EVP_sha256(), data); }

std::array<uint8_t, 32> DoubleSha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> first = Sha256(data);
  return Sha256(first);
}

std::array<uint8_t, 20> Ripemd160(std::span<const uint8_t> data) { return Digest<20>(EVP_ripemd160(), data); }

std::array<uint8_t, 20> Hash160(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> sha = Sha256(data);
  return Ripemd160(sha);
}

}  // namespace ringfence::chain
