// What fuzz_chain_adapter_answers asks a node, shared with make_adapter_answers_corpus so that
// the seeds it writes answer exactly those questions and pass every check (the fuzzer then
// starts from answers that reach the adapter's deepest checks).
//
// A fuzz input is one byte naming the call (AnswerKind, modulo kCount) followed by the node's
// answer to it: the serialized response message of that RPC.
#ifndef RINGFENCE_TESTS_CHAINSIM_ADAPTER_ANSWERS_FUZZ_H_
#define RINGFENCE_TESTS_CHAINSIM_ADAPTER_ANSWERS_FUZZ_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/chainsim/test_wallets.h"

namespace ringfence::chainsim::testing {

enum class AnswerKind : uint8_t {
  kTip,            // bitcoin Tip()
  kBitcoinBlock,   // GetBlock(kFuzzHeight, {alice, bob})
  kEthereumBlock,  // GetBlock(kFuzzHeight, {carol, dave})
  kBalance,        // BalanceAt(alice, "", kFuzzHeight)
  kBalances,       // BalancesAt({alice, bob, alice}, "", kFuzzHeight): two distinct asked
  kBroadcast,      // ethereum Broadcast(FuzzSignedTx())
  kUnspent,        // ListUnspent({alice, bob})
  kNonce,          // Nonce(carol)
  kBitcoinFee,     // bitcoin EstimateFee()
  kEthereumFee,    // ethereum EstimateFee()
  kTransaction,    // bitcoin GetTransaction(FuzzTxid())
  kCount
};

inline constexpr uint64_t kFuzzHeight = 7;

// Bitcoin regtest addresses alice and bob, Ethereum addresses carol and dave (EIP-55).
inline std::string FuzzAlice() { return TestKey(0x11).BitcoinAddress(); }
inline std::string FuzzBob() { return TestKey(0x22).BitcoinAddress(); }
inline std::string FuzzCarol() { return TestKey(0x44).EthAddress(); }
inline std::string FuzzDave() { return TestKey(0x55).EthAddress(); }

inline std::string FuzzTxid() { return std::string(64, 'c'); }

// The transaction Broadcast sends: carol pays dave one wei.
inline std::vector<uint8_t> FuzzSignedTx() { return SignedEthTransfer(TestKey(0x44), Pay(FuzzDave(), 1)); }

}  // namespace ringfence::chainsim::testing

#endif  // RINGFENCE_TESTS_CHAINSIM_ADAPTER_ANSWERS_FUZZ_H_
