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

World MakeWorld(const std::array<std::pair<std::string, std::array<uint8_t, 33>>, 3>* keys) {
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
erc20_contract = ")" + w.erc20_contract + "\"\n";
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
  if (keys != nullptr) {
    w.own_keys.assign(keys->begin(), keys->end());
  } else {
    w.own_keys = {{"key-input", TestPublicKey(kInputKeySeed)},
                  {"key-change", TestPublicKey(kChangeKeySeed)},
                  {"key-eth", TestPublicKey(kEthKeySeed)}};
  }
  w.keys = OrDie(OwnKeys::Build(w.own_keys), "own keys");
  return w;
}

policy::ApprovalSubject SubjectOf(const TxRequest& r) {
  policy::ApprovalSubject s;
  s.request_id = r.request_id;
  s.chain = r.chain;
  s.network = r.network;
  s.asset = r.intent.asset;
  s.amount = OrDie(ParseAmountField(r.intent.amount, "amount"), "amount");
  s.destination = r.intent.destination;
  s.fee_cap = OrDie(ParseAmountField(r.intent.fee_cap, "fee_cap"), "fee cap");
  return s;
}

void Approve(TxRequest* request, const std::vector<TestApprover>& approvers) {
  request->approvals.clear();
  const policy::ApprovalSubject subject = SubjectOf(*request);
  for (const auto& a : approvers) request->approvals.push_back({a.id, SignApproval(a, subject)});
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
  const auto change = chain::Hash160(world.own_keys[1].second);
  c.tx.outputs.push_back({60000, chain::P2wpkhScriptPubKey(dest)});
  c.tx.outputs.push_back({39000, chain::P2wpkhScriptPubKey(change)});
  c.request.request_id = request_id;
  c.request.chain = "bitcoin";
  c.request.network = "regtest";
  SetTx(&c.request, c.tx);
  c.request.bitcoin_inputs = {{100000, world.own_keys[0].first}};
  c.request.intent = {"BTC", "60000", P2wpkhAddressOf(TestPublicKey(kForeignKeySeed)), "1500"};
  Approve(&c.request, {world.approvers[0], world.approvers[1]});
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
  c.request.ethereum_key_id = world.own_keys[2].first;
  SetEthTx(&c);
  c.request.intent = {form == EthForm::kErc20 ? "USDC-ETH" : "ETH", "60000",
                      chain::EthChecksumAddress(dest), "150000"};
  Approve(&c.request, {world.approvers[0], world.approvers[1]});
  return c;
}

}  // namespace ringfence::signer::tx::testing
