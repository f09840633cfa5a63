// A token's r || s, a digest and a public key from arbitrary bytes (r || s: 64 bytes, digest:
// 32, key: the rest), finished both ways signerd finishes them: with the recovery id (one
// recovery run on the key, chain/ecdsa.cc) and without (a libsecp256k1 verification). Both
// prove the same statement, so they must agree on every input: the same verdict and error
// code, the same low-S signature; and the id found must recover the key.
// Seeds (tests/chain/corpus/finish_signature): signatures by test keys with low and high S,
// compressed and uncompressed keys, another key, -Q, a zero digest, r and s out of range.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "chain/ecdsa.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  if (size < 96 || size > 96 + 65) return 0;
  const std::span<const uint8_t> rs(data, 64);
  std::array<uint8_t, 32> digest;
  std::copy(data + 64, data + 96, digest.begin());
  const std::span<const uint8_t> key(data + 96, size - 96);
  absl::StatusOr<FinishedSignature> with_id = FinishSignature(rs, digest, key, RecoveryId::kCompute);
  absl::StatusOr<FinishedSignature> verified = FinishSignature(rs, digest, key, RecoveryId::kSkip);
  FUZZ_CHECK(with_id.status().code() == verified.status().code());
  if (!with_id.ok()) return 0;
  FUZZ_CHECK(with_id->compact == verified->compact);
  FUZZ_CHECK(with_id->normalized == verified->normalized);
  FUZZ_CHECK(IsLowS(with_id->compact));
  FUZZ_CHECK(with_id->recovery_id.has_value() && !verified->recovery_id.has_value());
  absl::StatusOr<std::array<uint8_t, 65>> recovered = RecoverPublicKey(digest, with_id->compact, *with_id->recovery_id);
  absl::StatusOr<std::array<uint8_t, 65>> want = UncompressPublicKey(key);
  FUZZ_CHECK(recovered.ok() && want.ok() && *recovered == *want);
  return 0;
}
