// Parses arbitrary bytes as a Bitcoin transaction. Whatever parses must re-serialise to the
// same bytes (the parser accepts canonical encodings only), and digests must not fail.
#include <cstddef>
#include <cstdint>
#include <span>

#include "chain/bitcoin_tx.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  std::span<const uint8_t> in(data, size);
  absl::StatusOr<Transaction> tx = ParseTransaction(in);
  if (!tx.ok()) {
    FUZZ_CHECK(!tx.status().message().empty());
    return 0;
  }
  std::vector<uint8_t> out = Serialize(*tx);
  FUZZ_CHECK(out.size() == size && std::equal(out.begin(), out.end(), data));
  FUZZ_CHECK(Weight(*tx) >= 4 * SerializeWithoutWitness(*tx).size());
  std::array<uint8_t, 20> h{};
  absl::StatusOr<std::array<uint8_t, 32>> sighash = Bip143Sighash(*tx, 0, P2wpkhScriptCode(h), 1000, kSighashAll);
  FUZZ_CHECK(sighash.ok());
  LegacySighash(*tx, tx->inputs.size() - 1, tx->inputs.back().script_sig, 0x83);
  std::vector<uint64_t> amounts(tx->inputs.size(), kMaxMoney / tx->inputs.size());
  (void)Fee(*tx, amounts);
  return 0;
}
