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
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
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
  auto checked_other = CheckTransaction(other.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  ASSERT_TRUE(checked_other.ok()) << checked_other.status();
  EXPECT_NE(checked_other->fingerprint, checked->fingerprint);
  auto reapproved = c;
  Approve(world_, &reapproved.request, {world_.approvers[2], world_.approvers[0]});
  EXPECT_EQ(CheckTransaction(reapproved.request, world_.config, world_.registry, world_.keys, kFixtureNow)->fingerprint,
            checked->fingerprint);
}

TEST_F(BitcoinCheckTest, SmallAmountNeedsOneApprovalAndSweepToColdNeedsNone) {
  auto c = ValidBitcoinRequest(world_);
  c.tx.outputs[0].value = 40000;
  c.tx.outputs[1].value = 59000;
  SetTx(&c.request, c.tx);
  c.request.intent.amount = "40000";
  Approve(world_, &c.request, {world_.approvers[2]});
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->approvals_required, 1);

  auto sweep = ValidBitcoinRequest(world_);
  sweep.tx.outputs[0].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kColdKeySeed)));
  SetTx(&sweep.request, sweep.tx);
  sweep.request.intent.destination = P2wpkhAddressOf(TestPublicKey(kColdKeySeed));
  sweep.request.kind = policy::RequestKind::kSweep;
  sweep.request.approvals.clear();
  auto swept = CheckTransaction(sweep.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_TRUE(swept->internal_sweep);
  EXPECT_EQ(swept->approvals_required, 0);
  // The internal-sweep rule is for a sweep only: a withdrawal to the same address needs the
  // amount's quorum.
  sweep.request.kind = policy::RequestKind::kWithdrawal;
  auto withdrawn = CheckTransaction(sweep.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  EXPECT_THAT(std::string(withdrawn.status().message()), StartsWith("quorum_not_met: "));
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
         Approve(w, &c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "network_mismatch", "signerd is configured for regtest"},
      {"approval replayed from another request",
       [](const World& w, BitcoinCase* c) {
         auto other = *c;
         other.request.request_id = "wd-btc-other";
         Approve(w, &other.request, {w.approvers[0], w.approvers[1]});
         c->request.approvals = other.request.approvals;
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]: the signature of \"alice\""},
      {"approval for a higher fee cap",
       [](const World& w, BitcoinCase* c) {
         auto other = *c;
         other.request.intent.fee_cap = "1501";
         Approve(w, &other.request, {w.approvers[0], w.approvers[1]});
         c->request.approvals[1] = other.request.approvals[1];
       },
       C::kPermissionDenied, "approval_signature", "approvals[1]"},
      {"approver not in registry",
       [](const World& w, BitcoinCase* c) { Approve(w, &c->request, {w.approvers[0], w.mallory}); },
       C::kPermissionDenied, "approver_unknown", "\"mallory\" is not in signerd's approver registry"},
      {"same approver twice",
       [](const World& w, BitcoinCase* c) { Approve(w, &c->request, {w.approvers[0], w.approvers[0]}); },
       C::kPermissionDenied, "approver_duplicate", "approvals[1]: approver \"alice\" already approved"},
      {"too few approvals",
       [](const World& w, BitcoinCase* c) { Approve(w, &c->request, {w.approvers[1]}); },
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
         Approve(w, &c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "destination_malformed", "canonical"},
      {"destination of another network",
       [](const World& w, BitcoinCase* c) {
         c->request.intent.destination =
             *chain::P2wpkhAddress("bc", chain::Hash160(TestPublicKey(kForeignKeySeed)));
         Approve(w, &c->request, {w.approvers[0], w.approvers[1]});
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

// Each case, applied alone to the valid Bitcoin request, is refused with its code, rule and detail.
void ExpectEachRefused(const World& world, const std::vector<RefusalCase>& cases) {
  for (const RefusalCase& rc : cases) {
    SCOPED_TRACE(rc.name);
    auto c = ValidBitcoinRequest(world);
    rc.mutate(world, &c);
    auto checked = CheckTransaction(c.request, world.config, world.registry, world.keys, kFixtureNow);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.status().code(), rc.code) << checked.status();
    EXPECT_THAT(std::string(checked.status().message()), StartsWith(std::string(rc.rule) + ": "));
    EXPECT_THAT(std::string(checked.status().message()), HasSubstr(rc.detail));
  }
}

TEST_F(BitcoinCheckTest, EachBrokenRuleIsRefusedWithItsReason) { ExpectEachRefused(world_, BitcoinRefusals()); }

TEST_F(BitcoinCheckTest, ChangeReturnsOnlyToAKeyOfTheSourceWallet) {
  auto c = ValidBitcoinRequest(world_);
  auto change_to = [&](const std::array<uint8_t, 33>& pub) {
    c.tx.outputs[1].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(pub));
    SetTx(&c.request, c.tx);
    return CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  };
  // Another key of BTC:client-hot, the input's own key: change.
  EXPECT_TRUE(change_to(world_.own_keys[kInputKey].public_key).ok());
  // Keys of other wallets, an unbound key of signerd, a registered wallet's address: refused.
  for (size_t index : {size_t{kHouseBtcKey}, size_t{kColdBtcKey}, size_t{kEthKey}, size_t{kUnboundKey}}) {
    SCOPED_TRACE(world_.own_keys[index].key_id);
    auto refused = change_to(world_.own_keys[index].public_key);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(refused.status().message()), StartsWith("change_leaves_wallet: output 1 pays 39000 sat"));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("source wallet BTC:client-hot"));
  }
  auto registered = change_to(TestPublicKey(kColdKeySeed));
  EXPECT_THAT(std::string(registered.status().message()), StartsWith("change_leaves_wallet: "));
  EXPECT_THAT(std::string(registered.status().message()), HasSubstr("wallet BTC:client-cold"));
  auto house_cold = change_to(TestPublicKey(kHouseColdKeySeed));
  EXPECT_THAT(std::string(house_cold.status().message()), HasSubstr("wallet BTC:house-cold"));
}

TEST_F(BitcoinCheckTest, EachKindSignsFromItsWalletToItsDestination) {
  using K = policy::RequestKind;
  const World& w = world_;
  struct Happy {
    const char* name;
    BitcoinCase c;
    const char* source;
  };
  const Happy cases[] = {
      {"withdrawal from client hot", ValidBitcoinRequest(w), "BTC:client-hot"},
      {"sweep client hot -> registered client cold",
       BitcoinMove(w, K::kSweep, kInputKey, TestPublicKey(kColdKeySeed), kChangeKey), "BTC:client-hot"},
      {"sweep to a client-cold key of signerd",
       BitcoinMove(w, K::kSweep, kInputKey, w.own_keys[kColdBtcKey].public_key, kChangeKey), "BTC:client-hot"},
      {"top-up client cold -> client hot",
       BitcoinMove(w, K::kTopUp, kColdBtcKey, w.own_keys[kInputKey].public_key, kColdBtcKey), "BTC:client-cold"},
      {"fee reimbursement house hot -> client hot",
       BitcoinMove(w, K::kFeeReimbursement, kHouseBtcKey, w.own_keys[kChangeKey].public_key, kHouseBtcKey),
       "BTC:house-hot"},
      {"house withdrawal to an outside address",
       BitcoinMove(w, K::kWithdrawal, kHouseBtcKey, TestPublicKey(kForeignKeySeed), kHouseBtcKey), "BTC:house-hot"},
  };
  for (const Happy& h : cases) {
    SCOPED_TRACE(h.name);
    auto checked = CheckTransaction(h.c.request, w.config, w.registry, w.keys, kFixtureNow);
    ASSERT_TRUE(checked.ok()) << checked.status();
    EXPECT_EQ(checked->source_wallet.wallet_id, h.source);
    EXPECT_EQ(checked->kind, *h.c.request.kind);
  }
}

std::vector<RefusalCase> BitcoinSegregationRefusals() {
  using C = absl::StatusCode;
  using K = policy::RequestKind;
  auto approve = [](const World& w, BitcoinCase* c) { Approve(w, &c->request, {w.approvers[0], w.approvers[1]}); };
  auto move = [](const World& w, BitcoinCase* c, K kind, size_t input, const std::array<uint8_t, 33>& dest, size_t change) {
    *c = BitcoinMove(w, kind, input, dest, change);
  };
  return {
      {"change to a house key",
       [](const World& w, BitcoinCase* c) {
         c->tx.outputs[1].script_pubkey =
             chain::P2wpkhScriptPubKey(chain::Hash160(w.own_keys[kHouseBtcKey].public_key));
         SetTx(&c->request, c->tx);
       },
       C::kFailedPrecondition, "change_leaves_wallet", "an address of wallet BTC:house-hot"},
      {"inputs from two wallets",
       [](const World& w, BitcoinCase* c) {
         chain::TxIn second;
         second.prevout.txid.fill(0xcd);
         c->tx.inputs.push_back(second);
         c->tx.outputs[1].value += 50000;
         SetTx(&c->request, c->tx);
         c->request.bitcoin_inputs.push_back({50000, w.own_keys[kHouseBtcKey].key_id});
       },
       C::kFailedPrecondition, "inputs_span_wallets", "input 1 is owned by key key-house-btc of wallet BTC:house-hot"},
      {"house withdrawal funded by client inputs",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kWithdrawal, kInputKey, w.own_keys[kHouseBtcKey].public_key, kChangeKey);
       },
       C::kFailedPrecondition, "client_funds_to_house", "house wallet BTC:house-hot"},
      {"client withdrawal to the registered house-cold wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kWithdrawal, kInputKey, TestPublicKey(kHouseColdKeySeed), kChangeKey);
       },
       C::kFailedPrecondition, "client_funds_to_house", "house wallet BTC:house-cold"},
      {"house withdrawal to a client wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kWithdrawal, kHouseBtcKey, w.own_keys[kInputKey].public_key, kHouseBtcKey);
       },
       C::kFailedPrecondition, "house_pays_client", "client wallet BTC:client-hot"},
      {"sweep to an unregistered address",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kSweep, kInputKey, TestPublicKey(kForeignKeySeed), kChangeKey);
       },
       C::kFailedPrecondition, "destination_not_registered_wallet", "is no wallet signerd knows"},
      {"sweep to the house-cold wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kSweep, kInputKey, TestPublicKey(kHouseColdKeySeed), kChangeKey);
       },
       C::kFailedPrecondition, "destination_not_registered_wallet", "house-cold wallet BTC:house-cold"},
      {"top-up from a hot wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kTopUp, kInputKey, w.own_keys[kColdBtcKey].public_key, kChangeKey);
       },
       C::kFailedPrecondition, "kind_tier_mismatch", "a top_up leaves a cold wallet"},
      {"sweep from a cold wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kSweep, kColdBtcKey, w.own_keys[kInputKey].public_key, kColdBtcKey);
       },
       C::kFailedPrecondition, "kind_tier_mismatch", "a sweep leaves a hot wallet"},
      {"sweep from a house wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kSweep, kHouseBtcKey, TestPublicKey(kHouseColdKeySeed), kHouseBtcKey);
       },
       C::kFailedPrecondition, "kind_owner_mismatch", "house-hot wallet BTC:house-hot"},
      {"fee reimbursement from a client wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kFeeReimbursement, kInputKey, w.own_keys[kChangeKey].public_key, kChangeKey);
       },
       C::kFailedPrecondition, "kind_owner_mismatch", "a fee_reimbursement is paid by a house wallet"},
      {"fee reimbursement to the client-cold wallet",
       [=](const World& w, BitcoinCase* c) {
         move(w, c, K::kFeeReimbursement, kHouseBtcKey, TestPublicKey(kColdKeySeed), kHouseBtcKey);
       },
       C::kFailedPrecondition, "destination_not_registered_wallet", "client-cold wallet BTC:client-cold"},
      {"unbound input key",
       [=](const World& w, BitcoinCase* c) {
         c->request.bitcoin_inputs[0].key_id = w.own_keys[kUnboundKey].key_id;
         approve(w, c);
       },
       C::kFailedPrecondition, "key_unbound", "key-unbound has no wallet binding"},
      {"v1 approvals",
       [](const World& w, BitcoinCase* c) { ApproveV1(w, &c->request); },
       C::kPermissionDenied, "approval_signature", "approval digest v2"},
      {"approvals for another source wallet",
       [=](const World& w, BitcoinCase* c) {
         ApproveOther(w, &c->request, [](policy::ApprovalSubject* s) { s->source_wallet = "BTC:client-cold"; });
       },
       C::kPermissionDenied, "approval_signature", "source wallet BTC:client-hot"},
      {"approvals for another kind",
       [=](const World& w, BitcoinCase* c) {
         ApproveOther(w, &c->request, [](policy::ApprovalSubject* s) { s->kind = policy::RequestKind::kSweep; });
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]"},
      {"approvals for an earlier expiry than the request claims",
       [=](const World& w, BitcoinCase* c) {
         ApproveOther(w, &c->request, [](policy::ApprovalSubject* s) { s->expires_at -= 1; });
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]"},
      {"expired approvals",
       [=](const World& w, BitcoinCase* c) {
         c->request.expires_at = kFixtureNow;
         approve(w, c);
       },
       C::kPermissionDenied, "approval_expired", "expired at 1800000000"},
      {"no kind",
       [](const World&, BitcoinCase* c) { c->request.kind.reset(); },
       C::kFailedPrecondition, "request_malformed", "kind: must be withdrawal, sweep, top_up, fee_reimbursement or gas_funding"},
  };
}

TEST_F(BitcoinCheckTest, EachSegregationRuleIsRefusedWithItsName) {
  ExpectEachRefused(world_, BitcoinSegregationRefusals());
}

// A key bound to a wallet of another asset than the request's (here "btc", an asset id signerd
// does not sign for, as custodyd's tests once bound keys): asset_mismatch.
TEST_F(BitcoinCheckTest, InputsOfAWalletOfAnotherAssetAreRefused) {
  std::vector<OwnKeyInput> keys = world_.own_keys;
  keys[kInputKey].binding = WalletBinding{"btc:client-hot", "btc", OwnerClass::kClient, Tier::kHot};
  keys[kChangeKey].binding = keys[kInputKey].binding;
  World w = world_;
  w.own_keys = keys;
  w.keys = *OwnKeys::Build(keys, w.config);
  auto c = ValidBitcoinRequest(w);
  auto refused = CheckTransaction(c.request, w.config, w.registry, w.keys, kFixtureNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              StartsWith("asset_mismatch: the inputs belong to wallet btc:client-hot of asset btc, the request moves BTC"));
}

// One wallet id is one wallet: a key binding it differently from another key or from a
// [[wallet]] entry, or one address in two wallets, makes the key snapshot fail to build.
TEST_F(BitcoinCheckTest, ConflictingWalletDefinitionsAreRefused) {
  std::vector<OwnKeyInput> keys = world_.own_keys;
  keys[kChangeKey].binding = WalletBinding{"BTC:client-hot", "BTC", OwnerClass::kHouse, Tier::kHot};
  auto built = OwnKeys::Build(keys, world_.config);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("key key-change is bound to wallet BTC:client-hot"));
  keys = world_.own_keys;
  keys[kColdBtcKey].binding = WalletBinding{"BTC:client-cold", "BTC", OwnerClass::kClient, Tier::kHot};
  EXPECT_FALSE(OwnKeys::Build(keys, world_.config).ok());
  keys = world_.own_keys;
  keys.push_back({"key-at-cold", TestPublicKey(kColdKeySeed), WalletBinding{"BTC:other", "BTC", OwnerClass::kClient, Tier::kHot}});
  built = OwnKeys::Build(keys, world_.config);
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("belongs to wallet BTC:client-cold and to wallet BTC:other"));
}

TEST_F(BitcoinCheckTest, AssembledTransactionCarriesAVerifyingWitness) {
  auto c = ValidBitcoinRequest(world_);
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
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
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->jobs.size(), 1u);
  const bool erc20 = GetParam() == EthForm::kErc20;
  const uint8_t seed = erc20 ? OwnKeySpecs()[kUsdcKey].seed : kEthKeySeed;
  EXPECT_EQ(checked->jobs[0].key_id, erc20 ? "key-usdc" : "key-eth");
  EXPECT_EQ(checked->source_wallet.wallet_id, erc20 ? "USDC-ETH:client-hot" : "ETH:client-hot");
  const auto expected = GetParam() == EthForm::kLegacy ? chain::LegacySigningHash(c.legacy)
                                                        : chain::Eip1559SigningHash(c.eip1559);
  EXPECT_EQ(checked->jobs[0].digest, expected);
  ASSERT_TRUE(checked->nonce.has_value());
  EXPECT_EQ(checked->nonce->nonce, 7u);
  EXPECT_EQ(checked->nonce->chain_id, kEthChainId);
  EXPECT_EQ(chain::EthChecksumAddress(checked->nonce->sender), EthAddressOf(TestPublicKey(seed)));
  EXPECT_EQ(checked->fee, base::Amount(120000));
  EXPECT_TRUE(checked->outpoints.empty());

  // The assembled transaction recovers to the key's address.
  JobSignature sig;
  TestSign(seed, checked->jobs[0].digest, &sig.compact, &sig.recovery_id);
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
  EXPECT_EQ(chain::EthChecksumAddress(*sender), EthAddressOf(TestPublicKey(seed)));
}

TEST_F(BitcoinCheckTest, EthereumSweepToTheRegisteredColdWalletIsAnInternalSweep) {
  auto c = ValidEthereumRequest(world_, EthForm::kEip1559, "sweep-eth-1");
  const auto cold = *chain::EthAddressFromPubkeyBytes(TestPublicKey(kColdKeySeed));
  c.eip1559.to = cold;
  SetEthTx(&c);
  c.request.intent.destination = chain::EthChecksumAddress(cold);
  c.request.kind = policy::RequestKind::kSweep;
  c.request.approvals.clear();
  auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_TRUE(checked->internal_sweep);
  EXPECT_EQ(checked->source_wallet.wallet_id, "ETH:client-hot");
}

// gas_funding: ether from the ETH client-hot wallet into an account of the token's client-hot
// wallet (so that it can pay its sweep's gas), and nowhere else; only the native coin's wallet
// pays it.
TEST_F(BitcoinCheckTest, GasFundingPaysOnlyATokenAccountFromTheNativeClientHotWallet) {
  using C = absl::StatusCode;
  const auto usdc_account = *chain::EthAddressFromPubkeyBytes(world_.own_keys[kUsdcKey].public_key);
  const auto house = *chain::EthAddressFromPubkeyBytes(world_.own_keys[kHouseEthKey].public_key);
  const auto cold = *chain::EthAddressFromPubkeyBytes(TestPublicKey(kColdKeySeed));
  auto funding = [&](const chain::EthAddress& to, size_t sender, EthForm form) {
    EthereumCase c = ValidEthereumRequest(world_, form, "gas-1");
    if (form == EthForm::kErc20) {
      auto t = *chain::DecodeErc20Transfer(c.eip1559.data);
      t.to = to;
      c.eip1559.data = chain::EncodeErc20Transfer(t);
    } else {
      c.eip1559.to = to;
    }
    SetEthTx(&c);
    c.request.intent.destination = chain::EthChecksumAddress(to);
    c.request.ethereum_key_id = world_.own_keys[sender].key_id;
    c.request.kind = policy::RequestKind::kGasFunding;
    Approve(world_, &c.request, {world_.approvers[0], world_.approvers[1]});
    return CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
  };
  auto checked = funding(usdc_account, kEthKey, EthForm::kEip1559);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->source_wallet.wallet_id, "ETH:client-hot");
  EXPECT_FALSE(checked->internal_sweep);

  struct Refused {
    const char* name;
    absl::StatusOr<CheckedTx> result;
    const char* rule;
    const char* detail;
  };
  const Refused refused[] = {
      {"to a house account", funding(house, kEthKey, EthForm::kEip1559), "destination_not_registered_wallet",
       "house-hot wallet ETH:house-hot (ETH)"},
      {"to the ETH cold wallet", funding(cold, kEthKey, EthForm::kEip1559), "destination_not_registered_wallet",
       "client-cold wallet ETH:client-cold (ETH)"},
      {"to an account of ether's own client-hot wallet",
       funding(*chain::EthAddressFromPubkeyBytes(world_.own_keys[kEthKey].public_key), kEthKey, EthForm::kEip1559),
       "destination_not_registered_wallet", "client-hot wallet ETH:client-hot (ETH)"},
      {"paid by the house", funding(usdc_account, kHouseEthKey, EthForm::kEip1559), "kind_owner_mismatch",
       "house-hot wallet ETH:house-hot"},
      {"paid in tokens", funding(usdc_account, kUsdcKey, EthForm::kErc20), "kind_asset_mismatch",
       "USDC-ETH:client-hot, a token's wallet"},
  };
  for (const Refused& r : refused) {
    SCOPED_TRACE(r.name);
    ASSERT_FALSE(r.result.ok());
    EXPECT_EQ(r.result.status().code(), C::kFailedPrecondition);
    EXPECT_THAT(std::string(r.result.status().message()), ::testing::StartsWith(std::string(r.rule) + ": "));
    EXPECT_THAT(std::string(r.result.status().message()), ::testing::HasSubstr(r.detail));
  }
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
  auto approve = [](const World& w, EthereumCase* c) { Approve(w, &c->request, {w.approvers[0], w.approvers[1]}); };
  return {
      {"sender key of another asset's wallet", all,
       [=](const World& w, EthereumCase* c) {
         c->request.ethereum_key_id = w.own_keys[c->form == EthForm::kErc20 ? kEthKey : kUsdcKey].key_id;
         approve(w, c);
       },
       C::kFailedPrecondition, "sender_wrong_wallet", "the request moves "},
      {"sender key of another wallet of the same asset", native,
       [](const World& w, EthereumCase* c) { c->request.ethereum_key_id = w.own_keys[kHouseEthKey].key_id; },
       C::kPermissionDenied, "approval_signature", "source wallet ETH:house-hot"},
      {"unbound sender key", all,
       [=](const World& w, EthereumCase* c) {
         c->request.ethereum_key_id = w.own_keys[kUnboundKey].key_id;
         approve(w, c);
       },
       C::kFailedPrecondition, "key_unbound", "ethereum_key_id key-unbound has no wallet binding"},
      {"client withdrawal to a house address", native,
       [=](const World& w, EthereumCase* c) {
         const auto house = *chain::EthAddressFromPubkeyBytes(w.own_keys[kHouseEthKey].public_key);
         each(c, [&](chain::Eip1559Tx& t) { t.to = house; }, [&](chain::LegacyTx& t) { t.to = house; });
         c->request.intent.destination = chain::EthChecksumAddress(house);
         approve(w, c);
       },
       C::kFailedPrecondition, "client_funds_to_house", "house wallet ETH:house-hot"},
      {"sweep to an unregistered address", all,
       [=](const World& w, EthereumCase* c) {
         c->request.kind = policy::RequestKind::kSweep;
         approve(w, c);
       },
       C::kFailedPrecondition, "destination_not_registered_wallet", "is no wallet signerd knows"},
      {"expired approvals", all,
       [=](const World& w, EthereumCase* c) {
         c->request.expires_at = kFixtureNow - 1;
         approve(w, c);
       },
       C::kPermissionDenied, "approval_expired", ""},
      {"v1 approvals", all,
       [](const World& w, EthereumCase* c) { ApproveV1(w, &c->request); },
       C::kPermissionDenied, "approval_signature", "approvals[0]"},
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
         Approve(w, &c->request, {w.approvers[0], w.approvers[1]});
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
         Approve(w, &c->request, {w.approvers[0], w.approvers[1]});
       },
       C::kFailedPrecondition, "destination_malformed", "EIP-55"},
      {"bitcoin inputs on an ethereum request", all,
       [](const World&, EthereumCase* c) { c->request.bitcoin_inputs.push_back({1, "key-input"}); },
       C::kFailedPrecondition, "request_malformed", "bitcoin_inputs"},
      {"approval replayed from another request", all,
       [](const World& w, EthereumCase* c) {
         TxRequest other_request = c->request;
         other_request.request_id = "wd-eth-other";
         Approve(w, &other_request, {w.approvers[0], w.approvers[1]});
         c->request.approvals = other_request.approvals;
       },
       C::kPermissionDenied, "approval_signature", "approvals[0]"},
      {"approver not in registry", all,
       [](const World& w, EthereumCase* c) { Approve(w, &c->request, {w.mallory, w.approvers[1]}); },
       C::kPermissionDenied, "approver_unknown", "\"mallory\""},
      {"same approver twice", all,
       [](const World& w, EthereumCase* c) { Approve(w, &c->request, {w.approvers[1], w.approvers[1]}); },
       C::kPermissionDenied, "approver_duplicate", "\"bob\""},
      {"too few approvals", all,
       [](const World& w, EthereumCase* c) { Approve(w, &c->request, {w.approvers[2]}); },
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
    auto checked = CheckTransaction(c.request, world_.config, world_.registry, world_.keys, kFixtureNow);
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
