// A signerd world for signer_tx tests: transaction config (bitcoin regtest, ethereum devnet
// with chain id 1337, BTC, ETH and an ERC-20 token, and registered wallets: the client-cold
// wallets of BTC and ETH and a BTC house-cold wallet), an approver registry (alice, bob, carol;
// 1 approval below 50,000 base units, 2 from there; internal sweeps need none), signerd's
// own keys with their wallet bindings (OwnKeySpecs), and builders for valid requests that tests
// then break one rule at a time.
// Test-only; not thread-safe.
#ifndef RINGFENCE_TESTS_SIGNER_TX_FIXTURE_H_
#define RINGFENCE_TESTS_SIGNER_TX_FIXTURE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
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
inline constexpr uint8_t kColdKeySeed = 0x61;       // the registered BTC/ETH client-cold address
inline constexpr uint8_t kHouseColdKeySeed = 0x62;  // the registered BTC house-cold address
// A time before every fixture request's expires_at (kFixtureExpiresAt, the start of 2100), for
// CheckTransaction's clock; the service runs on the real clock, also before it.
inline constexpr int64_t kFixtureNow = 1800000000;
inline constexpr int64_t kFixtureExpiresAt = 4102444800;

// signerd's own keys in the fixture, by index into World::own_keys.
enum OwnKeyIndex : size_t {
  kInputKey = 0,     // BTC:client-hot
  kChangeKey = 1,    // BTC:client-hot
  kEthKey = 2,       // ETH:client-hot
  kUsdcKey = 3,      // USDC-ETH:client-hot
  kHouseBtcKey = 4,  // BTC:house-hot
  kHouseEthKey = 5,  // ETH:house-hot
  kColdBtcKey = 6,   // BTC:client-cold (as an offline signerd holds it)
  kUnboundKey = 7,   // made before bindings existed: no binding
  kOwnKeyCount = 8,
};
struct OwnKeySpec {
  const char* default_id;  // the key id in pure tests
  uint8_t seed;            // its deterministic key in pure tests
  const char* purpose;     // its purpose when the harness makes it on a token
  std::optional<WalletBinding> binding;
};
// Indexed by OwnKeyIndex.
const std::vector<OwnKeySpec>& OwnKeySpecs();

struct World {
  std::vector<TestApprover> approvers;  // alice, bob, carol
  TestApprover mallory;                 // not in the registry
  std::string config_toml;
  std::string registry_toml;
  TxConfig config;
  ApproverRegistry registry;
  // The keys signerd owns, as the key registry would list them, indexed by OwnKeyIndex.
  std::vector<OwnKeyInput> own_keys;
  OwnKeys keys;
  std::string erc20_contract;  // EIP-55 text
};

// Builds the world. `keys` gives the own keys' ids and public keys in OwnKeyIndex order (the
// harness's keys on a token); by default OwnKeySpecs' ids and deterministic keys. Bindings are
// OwnKeySpecs'. Aborts on a broken fixture.
World MakeWorld(const std::vector<std::pair<std::string, std::array<uint8_t, 33>>>* keys = nullptr);

std::string P2wpkhAddressOf(const std::array<uint8_t, 33>& pubkey);  // regtest
std::string EthAddressOf(const std::array<uint8_t, 33>& pubkey);     // EIP-55

// Signs approvals for `request` by `approvers` (over its own fields and the source wallet its
// keys are bound to in `world`, as signerd computes it) and sets them.
void Approve(const World& world, TxRequest* request, const std::vector<TestApprover>& approvers);
// The approval subject signerd computes for `request`: the source wallet is the binding of the
// first input's key (Bitcoin) or of the sending key (Ethereum); "unbound" if it has none.
policy::ApprovalSubject SubjectOf(const World& world, const TxRequest& request);
// Approvals by alice and bob over SubjectOf(request) changed by `edit`: approvals for something
// other than what signerd will compute (another source wallet, kind, expiry, ...).
void ApproveOther(const World& world, TxRequest* request, const std::function<void(policy::ApprovalSubject*)>& edit);
// Approvals by alice and bob over the retired digest v1 of SubjectOf(request).
void ApproveV1(const World& world, TxRequest* request);

// A valid Bitcoin withdrawal from BTC:client-hot: one 100,000 sat input of the input key,
// 60,000 sat to a foreign P2WPKH destination, 39,000 change to the change key, fee 1,000 under
// a cap of 1,500, expiring at kFixtureExpiresAt, approved by alice and bob.
struct BitcoinCase {
  chain::Transaction tx;
  TxRequest request;
};
BitcoinCase ValidBitcoinRequest(const World& world, const std::string& request_id = "wd-btc-1");
// A Bitcoin move of `kind` spending one 100,000 sat input of own key `input_key`, paying 60,000
// sat to `destination` (that public key's P2WPKH address) with 39,000 change to own key
// `change_key`, approved by alice and bob over what signerd will compute.
BitcoinCase BitcoinMove(const World& world, policy::RequestKind kind, size_t input_key,
                        const std::array<uint8_t, 33>& destination, size_t change_key,
                        const std::string& request_id = "mv-btc-1");
// Re-serialises `tx` into the request (approvals unchanged).
void SetTx(TxRequest* request, const chain::Transaction& tx);

// Valid Ethereum withdrawals (nonce 7) to a foreign address, approved by alice and bob.
// kEip1559 / kLegacy: 60,000 wei of ETH from the eth key (ETH:client-hot); kErc20: 60,000 base
// units of USDC-ETH from the usdc key (USDC-ETH:client-hot; an EIP-1559 call of the token
// contract). Gas limit 60,000 at a max fee of 2 wei per gas
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
