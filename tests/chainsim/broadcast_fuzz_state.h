// The chain state the broadcast fuzz target runs against, shared with the program that writes
// its seed corpus (make_broadcast_corpus.cc) so that the seeds are valid transactions there:
// an in-memory Simulator where Alice (TestKey 0x11 / 0x44) holds 1 BTC, 1 ether and 1,000,000
// units of the token at TestKey(0x66)'s address, all mined.
#ifndef RINGFENCE_TESTS_CHAINSIM_BROADCAST_FUZZ_STATE_H_
#define RINGFENCE_TESTS_CHAINSIM_BROADCAST_FUZZ_STATE_H_

#include <cstdlib>
#include <memory>

#include "tests/chainsim/test_wallets.h"
#include "tools/chainsim/simulator.h"

namespace ringfence::chainsim::testing {

struct BroadcastFuzzState {
  std::unique_ptr<Simulator> sim;
  std::string btc_credit;  // txid of Alice's 1 BTC output (index 0)
};

inline BroadcastFuzzState MakeBroadcastFuzzState() {
  auto sim = Simulator::Open(":memory:");
  if (!sim.ok()) std::abort();
  const TestKey btc_alice(0x11), eth_alice(0x44), token(0x66);
  const CreditSpec btc{ChainId::kBitcoin, btc_alice.BitcoinAddress(), base::Amount(100'000'000), ""};
  const CreditSpec eth{ChainId::kEthereum, eth_alice.EthAddress(), base::Amount(1'000'000'000'000'000'000ULL), ""};
  auto btc_txid = (*sim)->Credit(std::span<const CreditSpec>(&btc, 1));
  if (!btc_txid.ok() || !(*sim)->Credit(std::span<const CreditSpec>(&eth, 1)).ok() ||
      !(*sim)->RegisterToken(token.EthAddress(), 6).ok()) {
    std::abort();
  }
  const CreditSpec tokens{ChainId::kEthereum, eth_alice.EthAddress(), base::Amount(1'000'000), token.EthAddress()};
  if (!(*sim)->Credit(std::span<const CreditSpec>(&tokens, 1)).ok() || !(*sim)->Mine(ChainId::kBitcoin, 1).ok() ||
      !(*sim)->Mine(ChainId::kEthereum, 1).ok()) {
    std::abort();
  }
  return BroadcastFuzzState{*std::move(sim), btc_txid->front()};
}

}  // namespace ringfence::chainsim::testing

#endif  // RINGFENCE_TESTS_CHAINSIM_BROADCAST_FUZZ_STATE_H_
