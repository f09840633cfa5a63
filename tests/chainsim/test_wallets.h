// Test wallets for chainsim: fixed secp256k1 test keys (never used anywhere real), their
// regtest P2WPKH and Ethereum addresses, and builders of signed transactions (signed with
// libsecp256k1 through tests/chain/test_signing.h) for broadcasting to chainsim.
//
// Pure functions over values; thread-safe.
#ifndef RINGFENCE_TESTS_CHAINSIM_TEST_WALLETS_H_
#define RINGFENCE_TESTS_CHAINSIM_TEST_WALLETS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/amount.h"

namespace ringfence::chainsim::testing {

// A test key: 32 bytes of `fill` (any fill 0x01..0x7f is a valid secret).
struct TestKey {
  std::array<uint8_t, 32> secret{};
  explicit TestKey(uint8_t fill) { secret.fill(fill); }
  std::string BitcoinAddress() const;  // bcrt1q...
  std::string EthAddress() const;      // EIP-55
};

struct SpendInput {
  std::string txid;  // display hex
  uint32_t vout = 0;
  uint64_t value = 0;  // the output's value, as BIP-143 signs it
  TestKey key;
};

struct SpendOutput {
  SpendOutput(std::string address, uint64_t value) : address(std::move(address)), value(value) {}
  SpendOutput(std::vector<uint8_t> script, uint64_t value) : value(value), script(std::move(script)) {}
  std::string address;
  uint64_t value = 0;
  std::vector<uint8_t> script;  // when set, paid instead of `address`
};

// A segwit transaction spending P2WPKH `inputs`, each signed (SIGHASH_ALL, low S) by its key.
std::vector<uint8_t> SignedSpend(const std::vector<SpendInput>& inputs, const std::vector<SpendOutput>& outputs);

struct EthTransfer {
  uint64_t chain_id = 1337;
  uint64_t nonce = 0;
  std::string to;  // an address
  base::Uint128 value = 0;
  uint64_t gas_limit = 21'000;
  base::Uint128 max_fee_per_gas = 1'000'000'000;
  base::Uint128 max_priority_fee_per_gas = 1'000'000'000;
  std::vector<uint8_t> data;
};

// A payment of `value` wei to `to`.
EthTransfer Pay(const std::string& to, base::Uint128 value, uint64_t nonce = 0);
// A call of `token`'s transfer(to, amount), with gas for it.
EthTransfer TokenCall(const std::string& token, const std::string& to, base::Uint128 amount, uint64_t nonce = 0);

// A signed EIP-1559 transaction.
std::vector<uint8_t> SignedEthTransfer(const TestKey& key, const EthTransfer& transfer);

// ERC-20 transfer(to, amount) calldata.
std::vector<uint8_t> Erc20TransferData(const std::string& to, base::Uint128 amount);

// The bytes of `s` as a std::string (for a protobuf bytes field).
std::string AsString(const std::vector<uint8_t>& bytes);

}  // namespace ringfence::chainsim::testing

#endif  // RINGFENCE_TESTS_CHAINSIM_TEST_WALLETS_H_
