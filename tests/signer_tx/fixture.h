// A signerd world for signer_tx tests: transaction config (bitcoin regtest, ethereum devnet
// with chain id 1337, BTC, ETH and an ERC-20 token), an approver registry (alice, bob, carol;
// 1 approval below 50,000 base units, 2 from there; internal sweeps need none), signerd's
// own keys, and builders for valid requests that tests then break one rule at a time.
// Test-only; not thread-safe.
#ifndef RINGFENCE_TESTS_SIGNER_TX_FIXTURE_H_
#define RINGFENCE_TESTS_SIGNER_TX_FIXTURE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "chain/bitcoin_tx.h"
#include "chain/eth_tx.h"
#include "signer/tx/approver_registry.h"
#include "signer/tx/tx_check.h"
#include "signer/tx/tx_config.h"
#include "tests/signer_tx/test_approvers.h"

namespace ringfence::signer::tx::testing {

inline constexpr uint64_t kEthChainId = 1337;
// Seeds of the deterministic keys (see test_keys.h).
inline constexpr uint8_t kInputKeySeed = 0x11;
inline constexpr uint8_t kChangeKeySeed = 0x12;
inline constexpr uint8_t kEthKeySeed = 0x13;
inline constexpr uint8_t kForeignKeySeed = 0x51;
inline constexpr uint8_t kOtherForeignKeySeed = 0x52;
inline constexpr uint8_t kColdKeySeed = 0x61;

struct World {
  std::vector<TestApprover> approvers;  // alice, bob, carol
  TestApprover mallory;                 // not in the registry
  std::string config_toml;
  std::string registry_toml;
  TxConfig config;
  ApproverRegistry registry;
  // Key ids and public keys of the keys signerd owns, as the key registry would list them.
  std::vector<std::pair<std::string, std::array<uint8_t, 33>>> own_keys;
  OwnKeys keys;
  std::string erc20_contract;  // EIP-55 text
};

// Builds the world. `key_ids` maps the own keys (input, change, eth) to ids; by default
// "key-input", "key-change", "key-eth". Aborts on a broken fixture.
World MakeWorld(const std::array<std::pair<std::string, std::array<uint8_t, 33>>, 3>* keys = nullptr);

std::string P2wpkhAddressOf(const std::array<uint8_t, 33>& pubkey);  // regtest
std::string EthAddressOf(const std::array<uint8_t, 33>& pubkey);     // EIP-55

// Signs approvals for `request` by `approvers` (over its own fields) and sets them.
void Approve(TxRequest* request, const std::vector<TestApprover>& approvers);
policy::ApprovalSubject SubjectOf(const TxRequest& request);

// A valid Bitcoin request: one 100,000 sat input of the input key, 60,000 sat to a foreign
// P2WPKH destination, 39,000 change to the change key, fee 1,000 under a cap of 1,500,
// approved by alice and bob.
struct BitcoinCase {
  chain::Transaction tx;
  TxRequest request;
};
BitcoinCase ValidBitcoinRequest(const World& world, const std::string& request_id = "wd-btc-1");
// Re-serialises `tx` into the request (approvals unchanged).
void SetTx(TxRequest* request, const chain::Transaction& tx);

// Valid Ethereum requests from the eth key (nonce 7) to a foreign address, approved by alice
// and bob. kEip1559 / kLegacy: 60,000 wei of ETH; kErc20: 60,000 base units of USDC-ETH (an
// EIP-1559 call of the token contract). Gas limit 60,000 at a max fee of 2 wei per gas
// (legacy: gas price 2), fee cap 150,000 wei.
enum class EthForm { kEip1559, kLegacy, kErc20 };
struct EthereumCase {
  EthForm form = EthForm::kEip1559;
  chain::Eip1559Tx eip1559;
  chain::LegacyTx legacy;
  TxRequest request;
};
EthereumCase ValidEthereumRequest(const World& world, EthForm form, const std::string& request_id = "wd-eth-1");
// Re-encodes the case's transaction into its request (approvals unchanged).
void SetEthTx(EthereumCase* c);

}  // namespace ringfence::signer::tx::testing

#endif  // RINGFENCE_TESTS_SIGNER_TX_FIXTURE_H_
