// The pure checks of SignTransaction, table-driven: a valid request passes, and each rule of
// the issue, broken alone, refuses it with its gRPC code and rule name.
#include <algorithm>
#include <functional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chain/bech32.h"
#include "chain/ecdsa.h"
#include "chain/erc20.h"
#include "chain/eth_tx.h"
#include "chain/hashes.h"
#include "signer/tx/tx_check.h"
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/test_keys.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ringfence::signer::tx::testing;

class BitcoinCheckTest : public ::testing::Test {
 protected:
  World world_ = MakeWorld();
};

TEST_F(BitcoinCheckTest, ValidRequestYieldsOneDigestPerInputAndItsClaims) {
  auto c = ValidBitcoinRequest(world_);
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->jobs.size(), 1u);
  EXPECT_EQ(checked->jobs[0].key_id, "key-input");
  EXPECT_EQ(checked->jobs[0].public_key, TestPublicKey(kInputKeySeed));
  auto expected = chain::Bip143Sighash(
      c.tx, 0, chain::P2wpkhScriptCode(chain::Hash160(TestPublicKey(kInputKeySeed))), 100000,
      chain::kSighashAll);
  EXPECT_EQ(checked->jobs[0].digest, *expected);
  ASSERT_EQ(checked->outpoints.size(), 1u);
  EXPECT_EQ(checked->outpoints[0], c.tx.inputs[0].prevout);
  EXPECT_EQ(checked->fee, base::Amount(1000));
  EXPECT_EQ(checked->approvals_required, 2);
  EXPECT_FALSE(checked->internal_sweep);
  EXPECT_EQ(checked->approvers, (std::vector<std::string>{"alice", "bob"}));

  // A different transaction has a different fingerprint; approvals do not enter it.
  auto other = c;
  other.tx.outputs[1].value -= 1;
  SetTx(&other.request, other.tx);
  auto checked_other = CheckTransaction(other.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(checked_other.ok()) << checked_other.status();
  EXPECT_NE(checked_other->fingerprint, checked->fingerprint);
  auto reapproved = c;
  Approve(&reapproved.request, {world_.approvers[2], world_.approvers[0]});
  EXPECT_EQ(CheckTransaction(reapproved.request, world_.config, world_.registry, world_.keys)->fingerprint,
            checked->fingerprint);
}

TEST_F(BitcoinCheckTest, SmallAmountNeedsOneApprovalAndSweepToColdNeedsNone) {
  auto c = ValidBitcoinRequest(world_);
  c.tx.outputs[0].value = 40000;
  c.tx.outputs[1].value = 59000;
  SetTx(&c.request, c.tx);
  c.request.intent.amount = "40000";
  Approve(&c.request, {world_.approvers[2]});
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->approvals_required, 1);

  auto sweep = ValidBitcoinRequest(world_);
  sweep.tx.outputs[0].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kColdKeySeed)));
  SetTx(&sweep.request, sweep.tx);
  sweep.request.intent.destination = P2wpkhAddressOf(TestPublicKey(kColdKeySeed));
  sweep.request.approvals.clear();
  auto swept = CheckTransaction(sweep.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_TRUE(swept->internal_sweep);
  EXPECT_EQ(swept->approvals_required, 0);
}

struct RefusalCase {
  const char* name;
  std::function<void(const World&, BitcoinCase*)> mutate;
  absl::StatusCode code;
  const char* rule;
  const char* detail;
};

const std::string kForeign2 = P2wpkhAddressOf(TestPublicKey(kOtherForeignKeySeed));

std::vector<RefusalCase> BitcoinRefusals() {
  using C = absl::StatusCode;
  const auto other_dest = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kOtherForeignKeySeed)));
  return {
      {"another destination",
       [=](const World&, BitcoinCase* c) {
         c->tx.outputs[0].script_pubkey = other_dest;
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "destination_missing", "no output pays the intent destination"},
      {"extra output to a foreign address",
       [=](const World&, BitcoinCase* c) {
         c->tx.outputs[1].value -= 500;
         c->tx.outputs.push_back({500, other_dest});
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "output_foreign", "output 2 pays 500 sat to bcrt1q"},
      {"changed amount",
       [](const World&, BitcoinCase* c) {
         c->tx.outputs[0].value += 100;
         c->tx.outputs[1].value -= 100;
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "amount_mismatch", "pays the destination 60100 sat, the intent amount is 60000"},
      {"destination paid twice",
       [](const World&, BitcoinCase* c) {
         c->tx.outputs[1] = c->tx.outputs[0];
         c->tx.outputs[1].value = 1;
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "destination_repeated", "outputs 0 and 1"},
      {"fee above cap",
       [](const World&, BitcoinCase* c) {
         c->tx.outputs[1].value -= 501;
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "fee_above_cap", "the fee is 1501 sat"},
      {"outputs exceed inputs",
       [](const World&, BitcoinCase* c) {
         c->request.bitcoin_inputs[0].amount = 90000;
       },
       C::kFailedPrecondition, "fee_invalid", ""},
      {"wrong network",
       [](const World& w, BitcoinCase* c) {
         c->request.network = "testnet";
         Approve(&c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "network_mismatch", "signerd is configured for regtest"},
      {"approval replayed from another request",
       [](const World& w, BitcoinCase* c) {
         auto other = *c;
         other.request.request_id = "wd-btc-other";
         Approve(&other.request, {w.approvers[0], w.approvers[1]});
         c->request.approvals = other.request.approvals;
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]: the signature of \"alice\""},
      {"approval for a higher fee cap",
       [](const World& w, BitcoinCase* c) {
         auto other = *c;
         other.request.intent.fee_cap = "1501";
         Approve(&other.request, {w.approvers[0], w.approvers[1]});
         c->request.approvals[1] = other.request.approvals[1];
       },
       C::kPermissionDenied, "approval_signature", "approvals[1]"},
      {"approver not in registry",
       [](const World& w, BitcoinCase* c) { Approve(&c->request, {w.approvers[0], w.mallory}); },
       C::kPermissionDenied, "approver_unknown", "\"mallory\" is not in signerd's approver registry"},
      {"same approver twice",
       [](const World& w, BitcoinCase* c) { Approve(&c->request, {w.approvers[0], w.approvers[0]}); },
       C::kPermissionDenied, "approver_duplicate", "approvals[1]: approver \"alice\" already approved"},
      {"too few approvals",
       [](const World& w, BitcoinCase* c) { Approve(&c->request, {w.approvers[1]}); },
       C::kPermissionDenied, "quorum_not_met", "1 valid approval(s), the quorum rule for 60000 base units of BTC needs 2"},
      {"no approvals",
       [](const World&, BitcoinCase* c) { c->request.approvals.clear(); },
       C::kPermissionDenied, "quorum_not_met", "0 valid approval(s)"},
      {"trailing bytes",
       [](const World&, BitcoinCase* c) { c->request.unsigned_tx.push_back(0x00); },
       C::kFailedPrecondition, "tx_decode", "unsigned_tx: "},
      {"truncated transaction",
       [](const World&, BitcoinCase* c) { c->request.unsigned_tx.pop_back(); },
       C::kFailedPrecondition, "tx_decode", "unsigned_tx: "},
      {"empty transaction",
       [](const World&, BitcoinCase* c) { c->request.unsigned_tx.clear(); },
       C::kFailedPrecondition, "tx_decode", "unsigned_tx is empty"},
      {"witness already present",
       [](const World&, BitcoinCase* c) {
         c->tx.inputs[0].witness = {{0x01}};
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "tx_decode", "already carries witness data"},
      {"input with a scriptSig",
       [](const World&, BitcoinCase* c) {
         c->tx.inputs[0].script_sig = {0x51};
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "input_not_p2wpkh", "input 0 has a scriptSig"},
      {"input amounts missing",
       [](const World&, BitcoinCase* c) { c->request.bitcoin_inputs.clear(); },
       C::kFailedPrecondition, "inputs_mismatch", "bitcoin_inputs has 0 entries"},
      {"input key not signerd's",
       [](const World&, BitcoinCase* c) { c->request.bitcoin_inputs[0].key_id = "key-unknown"; },
       C::kFailedPrecondition, "input_key_unknown", "\"key-unknown\""},
      {"input amount above 21 million BTC",
       [](const World&, BitcoinCase* c) { c->request.bitcoin_inputs[0].amount = chain::kMaxMoney + 1; },
       C::kFailedPrecondition, "input_amount", "bitcoin_inputs[0].amount"},
      {"destination not canonical (upper case)",
       [](const World& w, BitcoinCase* c) {
         std::string upper;
         for (char ch : c->request.intent.destination) upper.push_back(static_cast<char>(std::toupper(ch)));
         c->request.intent.destination = upper;
         Approve(&c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "destination_malformed", "canonical"},
      {"destination of another network",
       [](const World& w, BitcoinCase* c) {
         c->request.intent.destination =
             *chain::P2wpkhAddress("bc", chain::Hash160(TestPublicKey(kForeignKeySeed)));
         Approve(&c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "destination_malformed", "is not a regtest address"},
      {"unknown asset",
       [](const World&, BitcoinCase* c) { c->request.intent.asset = "DOGE"; },
       C::kFailedPrecondition, "asset_unknown", "\"DOGE\""},
      {"asset of another chain",
       [](const World&, BitcoinCase* c) { c->request.intent.asset = "ETH"; },
       C::kFailedPrecondition, "asset_chain_mismatch", "ETH is on ethereum"},
      {"negative amount",
       [](const World&, BitcoinCase* c) { c->request.intent.amount = "-60000"; },
       C::kFailedPrecondition, "intent_malformed", "intent.amount"},
      {"overflowing fee cap",
       [](const World&, BitcoinCase* c) { c->request.intent.fee_cap = "340282366920938463463374607431768211456"; },
       C::kFailedPrecondition, "intent_malformed", "intent.fee_cap"},
      {"unknown chain",
       [](const World&, BitcoinCase* c) { c->request.chain = "litecoin"; },
       C::kFailedPrecondition, "request_malformed", "\"litecoin\""},
      {"empty request id",
       [](const World&, BitcoinCase* c) { c->request.request_id = ""; },
       C::kFailedPrecondition, "request_malformed", "request_id"},
      {"oversized request id",
       [](const World&, BitcoinCase* c) { c->request.request_id = std::string(kMaxRequestIdBytes + 1, 'r'); },
       C::kFailedPrecondition, "request_malformed", "request_id"},
      {"too many approvals",
       [](const World& w, BitcoinCase* c) {
         for (size_t i = 0; i <= kMaxApprovals; ++i) c->request.approvals.push_back(c->request.approvals[0]);
         (void)w;
       },
       C::kFailedPrecondition, "request_malformed", "approvals: "},
      {"ethereum key on a bitcoin request",
       [](const World&, BitcoinCase* c) { c->request.ethereum_key_id = "key-eth"; },
       C::kFailedPrecondition, "request_malformed", "ethereum_key_id"},
  };
}

TEST_F(BitcoinCheckTest, EachBrokenRuleIsRefusedWithItsReason) {
  for (const RefusalCase& rc : BitcoinRefusals()) {
    SCOPED_TRACE(rc.name);
    auto c = ValidBitcoinRequest(world_);
    rc.mutate(world_, &c);
    auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.status().code(), rc.code) << checked.status();
    EXPECT_THAT(std::string(checked.status().message()), StartsWith(std::string(rc.rule) + ": "));
    EXPECT_THAT(std::string(checked.status().message()), HasSubstr(rc.detail));
  }
}

TEST_F(BitcoinCheckTest, ChangeMayGoToAnyOwnKeyButNotToTheColdAddressUnlessItIsTheDestination) {
  auto c = ValidBitcoinRequest(world_);
  c.tx.outputs[1].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kInputKeySeed)));
  SetTx(&c.request, c.tx);
  EXPECT_TRUE(CheckTransaction(c.request, world_.config, world_.registry, world_.keys).ok());
  c.tx.outputs[1].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kColdKeySeed)));
  SetTx(&c.request, c.tx);
  auto refused = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
  EXPECT_THAT(std::string(refused.status().message()), StartsWith("output_foreign: "));
}

TEST_F(BitcoinCheckTest, AssembledTransactionCarriesAVerifyingWitness) {
  auto c = ValidBitcoinRequest(world_);
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(checked.ok()) << checked.status();
  JobSignature sig;
  TestSign(kInputKeySeed, checked->jobs[0].digest, &sig.compact, &sig.recovery_id);
  auto signed_tx = AssembleSignedTx(*checked, std::span(&sig, 1));
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  auto parsed = chain::ParseTransaction(signed_tx->bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->inputs[0].witness.size(), 2u);
  const auto& item = parsed->inputs[0].witness[0];
  ASSERT_EQ(item.back(), 0x01);
  auto der = chain::ParseDerSignature(std::span(item.data(), item.size() - 1));
  ASSERT_TRUE(der.ok());
  EXPECT_TRUE(chain::VerifyEcdsa(checked->jobs[0].digest, *der, parsed->inputs[0].witness[1]).ok());
  EXPECT_EQ(SerializeWithoutWitness(*parsed), c.request.unsigned_tx);
  EXPECT_EQ(signed_tx->txid, chain::DisplayHex(chain::Txid(c.tx)));
  EXPECT_FALSE(AssembleSignedTx(*checked, {}).ok());
}

class EthereumCheckTest : public ::testing::TestWithParam<EthForm> {
 protected:
  World world_ = MakeWorld();
};

TEST_P(EthereumCheckTest, ValidRequestYieldsTheSigningHashAndNonceClaim) {
  auto c = ValidEthereumRequest(world_, GetParam());
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->jobs.size(), 1u);
  EXPECT_EQ(checked->jobs[0].key_id, "key-eth");
  const auto expected = GetParam() == EthForm::kLegacy ? chain::LegacySigningHash(c.legacy)
                                                        : chain::Eip1559SigningHash(c.eip1559);
  EXPECT_EQ(checked->jobs[0].digest, expected);
  ASSERT_TRUE(checked->nonce.has_value());
  EXPECT_EQ(checked->nonce->nonce, 7u);
  EXPECT_EQ(checked->nonce->chain_id, kEthChainId);
  EXPECT_EQ(chain::EthChecksumAddress(checked->nonce->sender), EthAddressOf(TestPublicKey(kEthKeySeed)));
  EXPECT_EQ(checked->fee, base::Amount(120000));
  EXPECT_TRUE(checked->outpoints.empty());

  // The assembled transaction recovers to the key's address.
  JobSignature sig;
  TestSign(kEthKeySeed, checked->jobs[0].digest, &sig.compact, &sig.recovery_id);
  auto signed_tx = AssembleSignedTx(*checked, std::span(&sig, 1));
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  absl::StatusOr<chain::EthAddress> sender;
  if (GetParam() == EthForm::kLegacy) {
    auto decoded = chain::DecodeSignedLegacy(signed_tx->bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->tx, c.legacy);
    sender = chain::RecoverSender(*decoded);
  } else {
    auto decoded = chain::DecodeSignedEip1559(signed_tx->bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->tx, c.eip1559);
    sender = chain::RecoverSender(*decoded);
  }
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ(chain::EthChecksumAddress(*sender), EthAddressOf(TestPublicKey(kEthKeySeed)));
}

struct EthRefusal {
  const char* name;
  std::vector<EthForm> forms;
  std::function<void(const World&, EthereumCase*)> mutate;
  absl::StatusCode code;
  const char* rule;
  const char* detail;
};

std::vector<EthRefusal> EthereumRefusals() {
  using C = absl::StatusCode;
  const auto other = *chain::EthAddressFromPubkeyBytes(TestPublicKey(kOtherForeignKeySeed));
  const std::vector<EthForm> all = {EthForm::kEip1559, EthForm::kLegacy, EthForm::kErc20};
  const std::vector<EthForm> native = {EthForm::kEip1559, EthForm::kLegacy};
  auto each = [](EthereumCase* c, const std::function<void(chain::Eip1559Tx&)>& f1559,
                 const std::function<void(chain::LegacyTx&)>& flegacy) {
    f1559(c->eip1559);
    flegacy(c->legacy);
    SetEthTx(c);
  };
  return {
      {"another destination", native,
       [=](const World&, EthereumCase* c) {
         each(c, [&](auto& t) { t.to = other; }, [&](auto& t) { t.to = other; });
       },
       C::kFailedPrecondition, "destination_mismatch", "the transaction pays 0x"},
      {"another token recipient", {EthForm::kErc20},
       [=](const World&, EthereumCase* c) {
         c->eip1559.data = chain::EncodeErc20Transfer({other, chain::U256::FromU128(60000)});
         SetEthTx(c);
       },
       C::kFailedPrecondition, "destination_mismatch", "the token transfer pays 0x"},
      {"changed amount", native,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.value = chain::U256::FromU128(60001); },
              [](auto& t) { t.value = chain::U256::FromU128(60001); });
       },
       C::kFailedPrecondition, "amount_mismatch", "sends 60001 wei, the intent amount is 60000"},
      {"changed token amount", {EthForm::kErc20},
       [](const World&, EthereumCase* c) {
         auto t = *chain::DecodeErc20Transfer(c->eip1559.data);
         t.amount = chain::U256::FromU128(70000);
         c->eip1559.data = chain::EncodeErc20Transfer(t);
         SetEthTx(c);
       },
       C::kFailedPrecondition, "amount_mismatch", "moves 70000 base units"},
      {"fee above cap", all,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.max_fee_per_gas = chain::U256::FromU128(3); },
              [](auto& t) { t.gas_price = chain::U256::FromU128(3); });
       },
       C::kFailedPrecondition, "fee_above_cap", "180000 wei"},
      {"gas limit raises the fee above cap", all,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.gas_limit = 75001; }, [](auto& t) { t.gas_limit = 75001; });
       },
       C::kFailedPrecondition, "fee_above_cap", "150002 wei"},
      {"wrong chain id", all,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.chain_id = 1; }, [](auto& t) { t.chain_id = 1; });
       },
       C::kFailedPrecondition, "chain_id_mismatch", "chain id 1, signerd signs for chain id 1337"},
      {"wrong network name", all,
       [](const World& w, EthereumCase* c) {
         c->request.network = "mainnet";
         Approve(&c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "network_mismatch", "configured for devnet"},
      {"trailing bytes", all,
       [](const World&, EthereumCase* c) { c->request.unsigned_tx.push_back(0x80); },
       C::kFailedPrecondition, "tx_decode", "unsigned_tx: "},
      {"unsupported transaction type", all,
       [](const World&, EthereumCase* c) { c->request.unsigned_tx[0] = 0x01; },
       C::kFailedPrecondition, "tx_decode", "unsigned_tx: "},
      {"calldata on a plain transfer", native,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.data = {0xde, 0xad}; }, [](auto& t) { t.data = {0xde, 0xad}; });
       },
       C::kFailedPrecondition, "calldata_present", "2 bytes of calldata"},
      {"contract creation", native,
       [=](const World&, EthereumCase* c) {
         each(c, [](auto& t) { t.to.reset(); }, [](auto& t) { t.to.reset(); });
       },
       C::kFailedPrecondition, "destination_missing", "creates a contract"},
      {"token transfer to another contract", {EthForm::kErc20},
       [=](const World&, EthereumCase* c) {
         c->eip1559.to = other;
         SetEthTx(c);
       },
       C::kFailedPrecondition, "token_contract_mismatch", "the USDC-ETH contract is 0x"},
      {"value sent with a token transfer", {EthForm::kErc20},
       [](const World&, EthereumCase* c) {
         c->eip1559.value = chain::U256::FromU128(1);
         SetEthTx(c);
       },
       C::kFailedPrecondition, "value_with_token_transfer", "also sends 1 wei"},
      {"calldata not a transfer", {EthForm::kErc20},
       [](const World&, EthereumCase* c) {
         c->eip1559.data[0] = 0x09;  // approve(address,uint256) is 095ea7b3
         SetEthTx(c);
       },
       C::kFailedPrecondition, "calldata_malformed", "calldata: "},
      {"calldata with trailing bytes", {EthForm::kErc20},
       [](const World&, EthereumCase* c) {
         c->eip1559.data.push_back(0);
         SetEthTx(c);
       },
       C::kFailedPrecondition, "calldata_malformed", "calldata: "},
      {"access list", {EthForm::kEip1559, EthForm::kErc20},
       [=](const World&, EthereumCase* c) {
         c->eip1559.access_list.push_back({other, {}});
         SetEthTx(c);
       },
       C::kFailedPrecondition, "access_list_present", "access list"},
      {"sender not signerd's", all,
       [](const World&, EthereumCase* c) { c->request.ethereum_key_id = "key-nobody"; },
       C::kFailedPrecondition, "sender_key_unknown", "\"key-nobody\""},
      {"destination not checksummed", all,
       [](const World& w, EthereumCase* c) {
         std::string lower = c->request.intent.destination;
         for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
         c->request.intent.destination = lower;
         Approve(&c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "destination_malformed", "EIP-55"},
      {"bitcoin inputs on an ethereum request", all,
       [](const World&, EthereumCase* c) { c->request.bitcoin_inputs.push_back({1, "key-input"}); },
       C::kFailedPrecondition, "request_malformed", "bitcoin_inputs"},
      {"approval replayed from another request", all,
       [](const World& w, EthereumCase* c) {
         TxRequest other_request = c->request;
         other_request.request_id = "wd-eth-other";
         Approve(&other_request, {w.approvers[0], w.approvers[1]});
         c->request.approvals = other_request.approvals;
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]"},
      {"approver not in registry", all,
       [](const World& w, EthereumCase* c) { Approve(&c->request, {w.mallory, w.approvers[1]}); },
       C::kPermissionDenied, "approver_unknown", "\"mallory\""},
      {"same approver twice", all,
       [](const World& w, EthereumCase* c) { Approve(&c->request, {w.approvers[1], w.approvers[1]}); },
       C::kPermissionDenied, "approver_duplicate", "\"bob\""},
      {"too few approvals", all,
       [](const World& w, EthereumCase* c) { Approve(&c->request, {w.approvers[2]}); },
       C::kPermissionDenied, "quorum_not_met", "needs 2"},
  };
}

TEST_P(EthereumCheckTest, EachBrokenRuleIsRefusedWithItsReason) {
  int applied = 0;
  for (const EthRefusal& rc : EthereumRefusals()) {
    if (std::find(rc.forms.begin(), rc.forms.end(), GetParam()) == rc.forms.end()) continue;
    ++applied;
    SCOPED_TRACE(rc.name);
    auto c = ValidEthereumRequest(world_, GetParam());
    rc.mutate(world_, &c);
    auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.status().code(), rc.code) << checked.status();
    EXPECT_THAT(std::string(checked.status().message()), StartsWith(std::string(rc.rule) + ": "));
    EXPECT_THAT(std::string(checked.status().message()), HasSubstr(rc.detail));
  }
  EXPECT_GE(applied, 15);
}

INSTANTIATE_TEST_SUITE_P(Forms, EthereumCheckTest,
                         ::testing::Values(EthForm::kEip1559, EthForm::kLegacy, EthForm::kErc20),
                         [](const auto& info) {
                           switch (info.param) {
                             case EthForm::kEip1559: return std::string("Eip1559");
                             case EthForm::kLegacy: return std::string("Legacy");
                             default: return std::string("Erc20");
                           }
                         });

}  // namespace
}  // namespace ringfence::signer::tx
