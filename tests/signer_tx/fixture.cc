#include "tests/signer_tx/fixture.h"

#include <cstdlib>
#include <iostream>

#include "chain/bech32.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "chain/hashes.h"
#include "signer/tx/amount.h"
#include "tests/signer_tx/test_keys.h"

namespace ringfence::signer::tx::testing {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << "fixture: " << what << ": " << v.status() << "\n";
    std::abort();
  }
  return std::move(*v);
}

}  // namespace

std::string P2wpkhAddressOf(const std::array<uint8_t, 33>& pubkey) {
  return OrDie(chain::P2wpkhAddress("bcrt", chain::Hash160(pubkey)), "address");
}

std::string EthAddressOf(const std::array<uint8_t, 33>& pubkey) {
  return chain::EthChecksumAddress(OrDie(chain::EthAddressFromPubkeyBytes(pubkey), "eth address"));
}

const std::vector<OwnKeySpec>& OwnKeySpecs() {
  static const std::vector<OwnKeySpec> specs = {
      {"key-input", kInputKeySeed, "hot-input", WalletBinding{"BTC:client-hot", "BTC", OwnerClass::kClient, Tier::kHot}},
      {"key-change", kChangeKeySeed, "hot-change", WalletBinding{"BTC:client-hot", "BTC", OwnerClass::kClient, Tier::kHot}},
      {"key-eth", kEthKeySeed, "hot-eth", WalletBinding{"ETH:client-hot", "ETH", OwnerClass::kClient, Tier::kHot}},
      {"key-usdc", 0x14, "hot-usdc", WalletBinding{"USDC-ETH:client-hot", "USDC-ETH", OwnerClass::kClient, Tier::kHot}},
      {"key-house-btc", 0x15, "house-btc", WalletBinding{"BTC:house-hot", "BTC", OwnerClass::kHouse, Tier::kHot}},
      {"key-house-eth", 0x16, "house-eth", WalletBinding{"ETH:house-hot", "ETH", OwnerClass::kHouse, Tier::kHot}},
      {"key-cold-btc", 0x17, "cold-btc", WalletBinding{"BTC:client-cold", "BTC", OwnerClass::kClient, Tier::kCold}},
      {"key-unbound", 0x18, "legacy", std::nullopt},
  };
  return specs;
}

World MakeWorld(const std::vector<std::pair<std::string, std::array<uint8_t, 33>>>* keys) {
  World w;
  w.approvers = {MakeTestApprover("alice", 1), MakeTestApprover("bob", 2), MakeTestApprover("carol", 3)};
  w.mallory = MakeTestApprover("mallory", 9);
  w.erc20_contract = EthAddressOf(TestPublicKey(0x71));
  w.config_toml = R"(approver_registry = "approvers.toml"
[bitcoin]
network = "regtest"
[ethereum]
network = "devnet"
chain_id = 1337
[[asset]]
id = "BTC"
chain = "bitcoin"
[[asset]]
id = "ETH"
chain = "ethereum"
[[asset]]
id = "USDC-ETH"
chain = "ethereum"
erc20_contract = ")" + w.erc20_contract + "\"\n" + R"(
[[wallet]]
id = "BTC:client-cold"
asset = "BTC"
owner = "client"
tier = "cold"
addresses = [")" + P2wpkhAddressOf(TestPublicKey(kColdKeySeed)) + R"("]
[[wallet]]
id = "ETH:client-cold"
asset = "ETH"
owner = "client"
tier = "cold"
addresses = [")" + EthAddressOf(TestPublicKey(kColdKeySeed)) + R"("]
[[wallet]]
id = "BTC:house-cold"
asset = "BTC"
owner = "house"
tier = "cold"
addresses = [")" + P2wpkhAddressOf(TestPublicKey(kHouseColdKeySeed)) + R"("]
)";
  const std::string tiers = R"(
internal_sweep_approvals = 0
tiers = [ { from = "0", approvals = 1 }, { from = "50000", approvals = 2 } ]
)";
  w.registry_toml = ApproverEntries(w.approvers) + "[quorum.BTC]" + tiers + "[quorum.ETH]" + tiers +
                    "[quorum.USDC-ETH]" + tiers + "\n[[cold_address]]\nasset = \"BTC\"\naddress = \"" +
                    P2wpkhAddressOf(TestPublicKey(kColdKeySeed)) +
                    "\"\n[[cold_address]]\nasset = \"ETH\"\naddress = \"" +
                    EthAddressOf(TestPublicKey(kColdKeySeed)) + "\"\n";
  w.config = OrDie(ParseTxConfig(w.config_toml, "/etc/ringfence"), "config");
  w.registry = OrDie(ApproverRegistry::Parse(w.registry_toml), "registry");
  auto st = ValidateRegistryAgainstConfig(w.registry, w.config);
  if (!st.ok()) {
    std::cerr << "fixture: registry vs config: " << st << "\n";
    std::abort();
  }
  const auto& specs = OwnKeySpecs();
  if (keys != nullptr && keys->size() != specs.size()) {
    std::cerr << "fixture: " << keys->size() << " keys given, " << specs.size() << " expected\n";
    std::abort();
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    OwnKeyInput in;
    in.key_id = keys != nullptr ? (*keys)[i].first : specs[i].default_id;
    in.public_key = keys != nullptr ? (*keys)[i].second : TestPublicKey(specs[i].seed);
    in.binding = specs[i].binding;
    w.own_keys.push_back(std::move(in));
  }
  w.keys = OrDie(OwnKeys::Build(w.own_keys, w.config), "own keys");
  return w;
}

policy::ApprovalSubject SubjectOf(const World& world, const TxRequest& r) {
  policy::ApprovalSubject s;
  s.request_id = r.request_id;
  s.kind = r.kind.value_or(policy::RequestKind::kWithdrawal);
  const std::string& key_id = r.chain == "ethereum" || r.bitcoin_inputs.empty() ? r.ethereum_key_id
                                                                                 : r.bitcoin_inputs[0].key_id;
  const OwnKey* key = world.keys.ById(key_id);
  s.source_wallet = key != nullptr && key->binding ? key->binding->wallet_id : std::string("unbound");
  s.expires_at = r.expires_at;
  s.chain = r.chain;
  s.network = r.network;
  s.asset = r.intent.asset;
  s.amount = OrDie(ParseAmountField(r.intent.amount, "amount"), "amount");
  s.destination = r.intent.destination;
  s.fee_cap = OrDie(ParseAmountField(r.intent.fee_cap, "fee_cap"), "fee cap");
  return s;
}

void Approve(const World& world, TxRequest* request, const std::vector<TestApprover>& approvers) {
  request->approvals.clear();
  const policy::ApprovalSubject subject = SubjectOf(world, *request);
  for (const auto& a : approvers) request->approvals.push_back({a.id, SignApproval(a, subject)});
}

void ApproveOther(const World& world, TxRequest* request, const std::function<void(policy::ApprovalSubject*)>& edit) {
  policy::ApprovalSubject subject = SubjectOf(world, *request);
  edit(&subject);
  request->approvals.clear();
  for (const auto& a : {world.approvers[0], world.approvers[1]}) {
    request->approvals.push_back({a.id, SignApproval(a, subject)});
  }
}

void ApproveV1(const World& world, TxRequest* request) {
  const policy::ApprovalSubject subject = SubjectOf(world, *request);
  request->approvals.clear();
  for (const auto& a : {world.approvers[0], world.approvers[1]}) {
    request->approvals.push_back({a.id, SignApprovalV1(a, subject)});
  }
}

void SetTx(TxRequest* request, const chain::Transaction& tx) {
  request->unsigned_tx = chain::Serialize(tx);
}

BitcoinCase ValidBitcoinRequest(const World& world, const std::string& request_id) {
  BitcoinCase c;
  chain::TxIn in;
  in.prevout.txid.fill(0xab);
  in.prevout.vout = 1;
  in.sequence = 0xfffffffd;
  c.tx.inputs.push_back(in);
  const auto dest = chain::Hash160(TestPublicKey(kForeignKeySeed));
  const auto change = chain::Hash160(world.own_keys[kChangeKey].public_key);
  c.tx.outputs.push_back({60000, chain::P2wpkhScriptPubKey(dest)});
  c.tx.outputs.push_back({39000, chain::P2wpkhScriptPubKey(change)});
  c.request.request_id = request_id;
  c.request.chain = "bitcoin";
  c.request.network = "regtest";
  SetTx(&c.request, c.tx);
  c.request.bitcoin_inputs = {{100000, world.own_keys[kInputKey].key_id}};
  c.request.intent = {"BTC", "60000", P2wpkhAddressOf(TestPublicKey(kForeignKeySeed)), "1500"};
  c.request.kind = policy::RequestKind::kWithdrawal;
  c.request.expires_at = kFixtureExpiresAt;
  Approve(world, &c.request, {world.approvers[0], world.approvers[1]});
  return c;
}

BitcoinCase BitcoinMove(const World& w, policy::RequestKind kind, size_t input_key,
                        const std::array<uint8_t, 33>& destination, size_t change_key, const std::string& request_id) {
  auto c = ValidBitcoinRequest(w, request_id);
  c.request.kind = kind;
  c.request.bitcoin_inputs[0].key_id = w.own_keys[input_key].key_id;
  c.tx.outputs[0].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(destination));
  c.tx.outputs[1].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(w.own_keys[change_key].public_key));
  SetTx(&c.request, c.tx);
  c.request.intent.destination = P2wpkhAddressOf(destination);
  Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
  return c;
}

void SetEthTx(EthereumCase* c) {
  c->request.unsigned_tx = c->form == EthForm::kLegacy ? chain::EncodeUnsignedLegacy(c->legacy)
                                                        : chain::EncodeUnsignedEip1559(c->eip1559);
}

EthereumCase ValidEthereumRequest(const World& world, EthForm form, const std::string& request_id) {
  EthereumCase c;
  c.form = form;
  const auto dest = OrDie(chain::EthAddressFromPubkeyBytes(TestPublicKey(kForeignKeySeed)), "dest");
  const auto contract = OrDie(chain::ParseEthAddress(world.erc20_contract), "contract");
  c.eip1559.chain_id = kEthChainId;
  c.eip1559.nonce = 7;
  c.eip1559.max_priority_fee_per_gas = chain::U256::FromU128(1);
  c.eip1559.max_fee_per_gas = chain::U256::FromU128(2);
  c.eip1559.gas_limit = 60000;
  if (form == EthForm::kErc20) {
    c.eip1559.to = contract;
    c.eip1559.data = chain::EncodeErc20Transfer({dest, chain::U256::FromU128(60000)});
  } else {
    c.eip1559.to = dest;
    c.eip1559.value = chain::U256::FromU128(60000);
  }
  c.legacy.chain_id = kEthChainId;
  c.legacy.nonce = 7;
  c.legacy.gas_price = chain::U256::FromU128(2);
  c.legacy.gas_limit = 60000;
  c.legacy.to = dest;
  c.legacy.value = chain::U256::FromU128(60000);
  c.request.request_id = request_id;
  c.request.chain = "ethereum";
  c.request.network = "devnet";
  c.request.ethereum_key_id = world.own_keys[form == EthForm::kErc20 ? kUsdcKey : kEthKey].key_id;
  SetEthTx(&c);
  c.request.intent = {form == EthForm::kErc20 ? "USDC-ETH" : "ETH", "60000",
                      chain::EthChecksumAddress(dest), "150000"};
  c.request.kind = policy::RequestKind::kWithdrawal;
  c.request.expires_at = kFixtureExpiresAt;
  Approve(world, &c.request, {world.approvers[0], world.approvers[1]});
  return c;
}

}  // namespace ringfence::signer::tx::testing
