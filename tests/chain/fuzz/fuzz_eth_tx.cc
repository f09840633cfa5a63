// Decodes arbitrary bytes with every Ethereum transaction decoder (EIP-1559 unsigned and
// signed, EIP-155 unsigned and signed). Whatever decodes must re-encode to the input, and
// recovering a signed transaction's sender must not crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "chain/eth_tx.h"
#include "tests/chain/fuzz/fuzz_check.h"

namespace {

bool Same(const std::vector<uint8_t>& out, const uint8_t* data, size_t size) {
  return out.size() == size && std::equal(out.begin(), out.end(), data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  std::span<const uint8_t> in(data, size);
  (void)DetectEthTxKind(in);
  if (absl::StatusOr<Eip1559Tx> tx = DecodeUnsignedEip1559(in); tx.ok()) {
    FUZZ_CHECK(Same(EncodeUnsignedEip1559(*tx), data, size));
    (void)MaxFeeWei(*tx);
  }
  if (absl::StatusOr<SignedEip1559Tx> tx = DecodeSignedEip1559(in); tx.ok()) {
    absl::StatusOr<std::vector<uint8_t>> out = EncodeSignedEip1559(tx->tx, tx->signature);
    FUZZ_CHECK(out.ok() && Same(*out, data, size));
    (void)RecoverSender(*tx);
  }
  if (absl::StatusOr<LegacyTx> tx = DecodeUnsignedLegacy(in); tx.ok()) {
    FUZZ_CHECK(Same(EncodeUnsignedLegacy(*tx), data, size));
    (void)MaxFeeWei(*tx);
  }
  if (absl::StatusOr<SignedLegacyTx> tx = DecodeSignedLegacy(in); tx.ok()) {
    absl::StatusOr<std::vector<uint8_t>> out = EncodeSignedLegacy(tx->tx, tx->signature);
    FUZZ_CHECK(out.ok() && Same(*out, data, size));
    (void)RecoverSender(*tx);
  }
  return 0;
}
