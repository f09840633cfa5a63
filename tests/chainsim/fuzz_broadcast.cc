// Fuzzes chainsim's broadcast path: the first byte picks the chain (even: bitcoin, odd:
// ethereum), the rest is the raw transaction, judged against BroadcastFuzzState (an accepted
// one is dropped again, so every input meets the same state). Whatever the
// bytes, the answer is a txid or FAILED_PRECONDITION (the Simulator's only refusal for a
// transaction), never a crash or another error. Seeds (corpus/broadcast) are valid
// transactions for that state, written by make_broadcast_corpus, plus chain/'s decoder seeds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "tests/chainsim/broadcast_fuzz_state.h"
#include "tools/chainsim/service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chainsim;
  static testing::BroadcastFuzzState* state = new testing::BroadcastFuzzState(testing::MakeBroadcastFuzzState());
  if (size < 1 || size - 1 > kMaxRawTransaction) return 0;
  const ChainId chain = data[0] % 2 == 0 ? ChainId::kBitcoin : ChainId::kEthereum;
  absl::StatusOr<BroadcastResult> result = state->sim->Broadcast(chain, std::span<const uint8_t>(data + 1, size - 1));
  if (!result.ok() && !absl::IsFailedPrecondition(result.status())) {
    std::fprintf(stderr, "unexpected answer: %s\n", result.status().ToString().c_str());
    std::abort();
  }
  if (result.ok() && result->txid.size() != 64) std::abort();
  // Every input is judged against the same state: an accepted transaction is dropped again.
  if (result.ok() && !result->already_known && !state->sim->DropBroadcast(chain, result->txid).ok()) std::abort();
  return 0;
}
