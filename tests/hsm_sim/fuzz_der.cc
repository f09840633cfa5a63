// Fuzz target for hsm_sim's parsers of outside input: the strict DER signature parser and the
// CKA_EC_PARAMS recogniser, plus verification on whatever parses. Property checked: anything
// ParseDerSignature accepts is exactly the minimal DER encoding of the r and s it returns, so
// no second encoding of one signature can pass.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "hsm_sim/crypto.h"

namespace {

void AppendInteger(const uint8_t* be32, std::vector<uint8_t>* out) {
  size_t i = 0;
  while (i < 31 && be32[i] == 0) ++i;
  const bool pad = be32[i] & 0x80;
  out->push_back(0x02);
  out->push_back(static_cast<uint8_t>(32 - i + (pad ? 1 : 0)));
  if (pad) out->push_back(0x00);
  out->insert(out->end(), be32 + i, be32 + 32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::hsm_sim;
  static const bool ready = InitCrypto();
  if (!ready) std::abort();
  const std::span<const uint8_t> input(data, size);
  if (const auto rs = ParseDerSignature(input)) {
    std::vector<uint8_t> der(2);
    AppendInteger(rs->data(), &der);
    AppendInteger(rs->data() + 32, &der);
    der[0] = 0x30;
    der[1] = static_cast<uint8_t>(der.size() - 2);
    if (der != std::vector<uint8_t>(input.begin(), input.end())) std::abort();
    static const std::vector<uint8_t> kDigest(32, 0x11);
    // The generator point as a public key: any well-formed key will do for exercising verify.
    static const std::vector<uint8_t> kKey = {0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac,
                                              0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b, 0x07, 0x02,
                                              0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2,
                                              0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};
    EcdsaVerifyCompact(kKey, kDigest, *rs);
  }
  CurveFromEcParams(input);
  if (size >= 32 + 64) {
    Ed25519Verify(input.subspan(0, 32), input.subspan(96), input.subspan(32, 64));
    EcdsaVerifyCompact(input.subspan(0, 33), input.subspan(33, 32), input.subspan(0, 64));
  }
  return 0;
}
