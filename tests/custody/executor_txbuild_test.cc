// custody/txbuild: coin selection, change, fees under the cap, Ethereum fee fields and the
// sending account, the SignTransaction request; and, as the independent judge, the built
// transactions signed with test keys and accepted by chainsim's own validation (in process).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "custody/txbuild.h"
#include "tests/chain/test_signing.h"
#include "tests/chainsim/test_wallets.h"
#include "tests/common/temp_dir.h"
#include "tools/chainsim/simulator.h"

namespace ringfence::custody::txbuild {
namespace {

using ::testing::HasSubstr;
using ringfence::chainsim::testing::TestKey;

constexpr uint64_t kBtc = 100'000'000;
const std::string kTxA(64, 'a');
const std::string kTxB(64, 'b');
const std::string kTxC(64, 'c');

std::string Addr(uint8_t fill) { return TestKey(fill).BitcoinAddress(); }

BitcoinSpend Spend(std::vector<Coin> coins, uint64_t amount) {
  BitcoinSpend s;
  s.candidates = std::move(coins);
  s.destination = Addr(0x22);
  s.amount = amount;
  s.change_address = Addr(0x33);
  s.sat_per_vbyte = 2;
  s.fee_cap = base::Amount(100'000);
  return s;
}

TEST(BitcoinBuildTest, LargestFirstWithChangeAndTheFeeAtTheRate) {
  const std::vector<Coin> coins = {{kTxA, 0, 10'000, "k1", Addr(0x11)},
                                   {kTxB, 1, 5 * kBtc, "k2", Addr(0x11)},
                                   {kTxC, 2, 2 * kBtc, "k3", Addr(0x12)}};
  absl::StatusOr<BitcoinPlan> plan = BuildBitcoinSpend(Spend(coins, 6 * kBtc));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->inputs.size(), 2u);
  EXPECT_EQ(plan->inputs[0].key_id, "k2");
  EXPECT_EQ(plan->inputs[1].key_id, "k3");
  ASSERT_EQ(plan->unsigned_tx.outputs.size(), 2u);
  EXPECT_EQ(plan->unsigned_tx.outputs[0].value, 6 * kBtc);
  EXPECT_EQ(plan->unsigned_tx.outputs[0].script_pubkey, *chain::ScriptPubKeyForAddress(Addr(0x22)));
  EXPECT_EQ(plan->unsigned_tx.outputs[1].script_pubkey, *chain::ScriptPubKeyForAddress(Addr(0x33)));
  EXPECT_EQ(plan->max_vsize, chain::MaxSignedP2wpkhVsize(plan->unsigned_tx));
  EXPECT_EQ(plan->fee, plan->max_vsize * 2);
  EXPECT_EQ(plan->change, 7 * kBtc - 6 * kBtc - plan->fee);
  const std::vector<uint64_t> amounts = {5 * kBtc, 2 * kBtc};
  EXPECT_EQ(*chain::Fee(plan->unsigned_tx, amounts), plan->fee);
  // The outpoints are the coins', txids in internal order.
  EXPECT_EQ(chain::DisplayHex(plan->unsigned_tx.inputs[0].prevout.txid), kTxB);
  EXPECT_EQ(plan->unsigned_tx.inputs[0].prevout.vout, 1u);

  // The same coins in another order give the same transaction.
  const std::vector<Coin> shuffled = {coins[2], coins[0], coins[1]};
  absl::StatusOr<BitcoinPlan> again = BuildBitcoinSpend(Spend(shuffled, 6 * kBtc));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unsigned_tx, plan->unsigned_tx);
}

TEST(BitcoinBuildTest, DustChangeGoesToTheFee) {
  // 100,000 - 99,500 leaves 500 before the fee; less than the dust limit after it.
  absl::StatusOr<BitcoinPlan> plan = BuildBitcoinSpend(Spend({{kTxA, 0, 100'000, "k", Addr(0x11)}}, 99'500));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->unsigned_tx.outputs.size(), 1u);
  EXPECT_EQ(plan->change, 0u);
  EXPECT_EQ(plan->fee, 500u);
  EXPECT_GE(plan->fee, plan->max_vsize * 2);
}

TEST(BitcoinBuildTest, RefusalsNameTheRule) {
  const Coin one{kTxA, 0, 10'000, "k", Addr(0x11)};
  absl::StatusOr<BitcoinPlan> poor = BuildBitcoinSpend(Spend({one}, 9'990));
  EXPECT_EQ(poor.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(poor.status().message()), HasSubstr("insufficient_funds"));
  EXPECT_THAT(std::string(BuildBitcoinSpend(Spend({}, 1)).status().message()), HasSubstr("insufficient_funds: 0"));

  BitcoinSpend capped = Spend({one}, 5'000);
  capped.fee_cap = base::Amount(100);
  EXPECT_THAT(std::string(BuildBitcoinSpend(capped).status().message()), HasSubstr("fee_above_cap"));

  BitcoinSpend bad = Spend({one}, 5'000);
  bad.destination = "bcrt1qnotanaddress";
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("destination"));
  bad = Spend({one}, 5'000);
  bad.change_address = "bcrt1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqp3mvzv";  // taproot
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("change_address"));
  bad = Spend({one}, 0);
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("amount"));
  bad = Spend({one}, chain::kMaxMoney + 1);
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("amount"));
  bad = Spend({one}, 5'000);
  bad.sat_per_vbyte = 0;
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("sat_per_vbyte"));
  bad = Spend({{"xyz", 0, 10'000, "k", Addr(0x11)}}, 5'000);
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("candidates[0].txid"));
  bad = Spend({{kTxA, 0, 0, "k", Addr(0x11)}}, 5'000);
  EXPECT_THAT(std::string(BuildBitcoinSpend(bad).status().message()), HasSubstr("candidates[0].amount"));
}

TEST(BitcoinBuildTest, ADuplicateCandidateIsSpentOnce) {
  const Coin one{kTxA, 0, 10'000, "k", Addr(0x11)};
  absl::StatusOr<BitcoinPlan> plan = BuildBitcoinSpend(Spend({one, one}, 15'000));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("insufficient_funds: 1 spendable"));
}

TEST(BitcoinBuildTest, AtMostMaxInputs) {
  std::vector<Coin> dust;
  for (uint32_t i = 0; i < kMaxInputs + 10; ++i) dust.push_back(Coin{kTxA, i, 1'000, "k", Addr(0x11)});
  // 510 coins of 1,000 hold 510,000, but only 500 are considered.
  EXPECT_THAT(std::string(BuildBitcoinSpend(Spend(dust, 505'000)).status().message()),
              HasSubstr("the largest 500 considered"));
}

EthereumSpend Eth(base::Amount amount, std::string token = "") {
  EthereumSpend s;
  s.chain_id = 1337;
  s.nonce = 7;
  s.destination = TestKey(0x55).EthAddress();
  s.amount = amount;
  s.token_contract = std::move(token);
  s.base_fee_per_gas = base::Amount(1'000'000'000);
  s.max_priority_fee_per_gas = base::Amount(1'000'000'000);
  s.fee_cap = base::Amount(1'000'000'000'000'000ULL);
  return s;
}

TEST(EthereumBuildTest, NativeTransfer) {
  absl::StatusOr<EthereumPlan> plan = BuildEthereumSpend(Eth(base::Amount(12345)));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tx.gas_limit, kNativeGasLimit);
  EXPECT_EQ(plan->tx.nonce, 7u);
  EXPECT_EQ(*plan->tx.max_fee_per_gas.ToU128("f"), 3'000'000'000u);
  EXPECT_EQ(plan->max_fee, base::Amount(21'000ULL * 3'000'000'000ULL));
  EXPECT_EQ(*plan->tx.value.ToU128("v"), 12345u);
  EXPECT_TRUE(plan->tx.data.empty());
  EXPECT_EQ(chain::EthChecksumAddress(*plan->tx.to), TestKey(0x55).EthAddress());
  absl::StatusOr<chain::Eip1559Tx> decoded = chain::DecodeUnsignedEip1559(plan->unsigned_payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, plan->tx);
  EXPECT_EQ(*chain::MaxFeeWei(plan->tx), plan->max_fee.base_units());
}

TEST(EthereumBuildTest, TokenTransferAndTheFeeCap) {
  const std::string token = TestKey(0x66).EthAddress();
  absl::StatusOr<EthereumPlan> plan = BuildEthereumSpend(Eth(base::Amount(500), token));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tx.gas_limit, kErc20GasLimit);
  EXPECT_TRUE(plan->tx.value.IsZero());
  EXPECT_EQ(chain::EthChecksumAddress(*plan->tx.to), token);
  absl::StatusOr<chain::Erc20Transfer> call = chain::DecodeErc20Transfer(plan->tx.data);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(chain::EthChecksumAddress(call->to), TestKey(0x55).EthAddress());
  EXPECT_EQ(*call->amount.ToU128("a"), 500u);

  // A cap below 2 x base + priority lowers the max fee to what the cap allows ...
  EthereumSpend tight = Eth(base::Amount(1));
  tight.fee_cap = base::Amount(21'000ULL * 2'500'000'000ULL + 20'999);
  plan = BuildEthereumSpend(tight);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(*plan->tx.max_fee_per_gas.ToU128("f"), 2'500'000'000u);
  EXPECT_LE(plan->max_fee, tight.fee_cap);
  // ... but not below base + priority.
  tight.fee_cap = base::Amount(21'000ULL * 2'000'000'000ULL - 1);
  EXPECT_THAT(std::string(BuildEthereumSpend(tight).status().message()), HasSubstr("fee_above_cap"));

  EthereumSpend bad = Eth(base::Amount(1));
  bad.destination = "0x1234";
  EXPECT_THAT(std::string(BuildEthereumSpend(bad).status().message()), HasSubstr("destination"));
  bad = Eth(base::Amount(1), "0xnope");
  EXPECT_THAT(std::string(BuildEthereumSpend(bad).status().message()), HasSubstr("token_contract"));
  EXPECT_THAT(std::string(BuildEthereumSpend(Eth(base::Amount(0))).status().message()), HasSubstr("amount"));
  bad = Eth(base::Amount(1));
  bad.chain_id = 0;
  EXPECT_THAT(std::string(BuildEthereumSpend(bad).status().message()), HasSubstr("chain_id"));
  bad = Eth(base::Amount(1));
  bad.base_fee_per_gas = base::Amount::Max();
  EXPECT_EQ(BuildEthereumSpend(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EthereumBuildTest, TheSenderIsTheLargestHolderThatCanPay) {
  const base::Amount fee(63'000'000'000'000ULL);
  const std::vector<EthAccount> accounts = {
      {"a", "k1", base::Amount(100), base::Amount(0)},
      {"b", "k2", base::Amount(10'000'000'000'000'000ULL), base::Amount(0)},
      {"c", "k3", base::Amount(20'000'000'000'000'000ULL), base::Amount(5)},
  };
  EXPECT_EQ(*ChooseEthSender(accounts, false, base::Amount(1'000), fee), 2u);
  // A gas funding takes the smallest account that can pay, keeping the large ones whole.
  EXPECT_EQ(*ChooseEthSender(accounts, false, base::Amount(1'000), fee, /*smallest=*/true), 1u);  // not "a": too little
  EXPECT_THAT(std::string(ChooseEthSender(accounts, false, base::Amount(30'000'000'000'000'000ULL), fee).status().message()),
              HasSubstr("insufficient_funds"));
  // Tokens: the holder of the tokens, with ether for the gas.
  EXPECT_EQ(*ChooseEthSender(accounts, true, base::Amount(5), fee), 2u);
  EXPECT_FALSE(ChooseEthSender(accounts, true, base::Amount(6), fee).ok());
  const std::vector<EthAccount> no_gas = {{"d", "k4", base::Amount(0), base::Amount(50)}};
  EXPECT_FALSE(ChooseEthSender(no_gas, true, base::Amount(5), fee).ok());
  EXPECT_FALSE(ChooseEthSender({}, false, base::Amount(1), fee).ok());
}

TEST(SignRequestTest, CarriesTheIntentTheInputsAndTheKind) {
  const std::vector<Coin> coins = {{kTxA, 3, kBtc, "key-a", Addr(0x11)}};
  absl::StatusOr<BitcoinPlan> plan = BuildBitcoinSpend(Spend(coins, kBtc / 2));
  ASSERT_TRUE(plan.ok());
  const SignRequestFields fields{"w_0011223344556677", "bitcoin", "regtest", "BTC", base::Amount(kBtc / 2),
                                 Addr(0x22), base::Amount(100'000), 1'900'000'000};
  const signer::v1::SignTransactionRequest req = BitcoinSignRequest(fields, *plan);
  EXPECT_EQ(req.request_id(), "w_0011223344556677");
  EXPECT_EQ(req.kind(), signer::v1::REQUEST_KIND_WITHDRAWAL);
  EXPECT_EQ(req.expires_at(), 1'900'000'000);
  EXPECT_EQ(req.intent().amount(), "50000000");
  EXPECT_EQ(req.intent().fee_cap(), "100000");
  EXPECT_EQ(req.intent().destination(), Addr(0x22));
  ASSERT_EQ(req.bitcoin_inputs_size(), 1);
  EXPECT_EQ(req.bitcoin_inputs(0).amount(), kBtc);
  EXPECT_EQ(req.bitcoin_inputs(0).key_id(), "key-a");
  const std::vector<uint8_t> raw(req.unsigned_tx().begin(), req.unsigned_tx().end());
  EXPECT_EQ(*chain::ParseTransaction(raw), plan->unsigned_tx);
  EXPECT_TRUE(req.ethereum_key_id().empty());
}

// The judge: chainsim's validation of what the builder made, once signed.
class BuiltTransactionsOnChainsimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = ringfence::chainsim::Simulator::Open((dir_ / "state.db").string());
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
  }
  std::string Credit(ringfence::chainsim::ChainId chain, const std::string& address, base::Uint128 amount) {
    const ringfence::chainsim::CreditSpec spec{chain, address, base::Amount(amount), ""};
    auto txids = sim_->Credit(std::span<const ringfence::chainsim::CreditSpec>(&spec, 1));
    EXPECT_TRUE(txids.ok()) << txids.status();
    return txids.ok() ? txids->front() : "";
  }
  ringfence::testing::TempDir dir_{"txbuild"};
  std::unique_ptr<ringfence::chainsim::Simulator> sim_;
};

TEST_F(BuiltTransactionsOnChainsimTest, ABitcoinSpendOfTwoKeysIsAccepted) {
  const TestKey k1(0x11), k2(0x12);
  const std::string t1 = Credit(ringfence::chainsim::ChainId::kBitcoin, k1.BitcoinAddress(), 3 * kBtc);
  const std::string t2 = Credit(ringfence::chainsim::ChainId::kBitcoin, k2.BitcoinAddress(), 2 * kBtc);
  ASSERT_TRUE(sim_->Mine(ringfence::chainsim::ChainId::kBitcoin, 1).ok());
  absl::StatusOr<BitcoinPlan> plan =
      BuildBitcoinSpend(Spend({{t1, 0, 3 * kBtc, "1", k1.BitcoinAddress()}, {t2, 0, 2 * kBtc, "2", k2.BitcoinAddress()}},
                              4 * kBtc));
  ASSERT_TRUE(plan.ok()) << plan.status();
  chain::Transaction tx = plan->unsigned_tx;
  const chain::Bip143Shared shared = chain::Bip143Precompute(tx);
  for (size_t i = 0; i < tx.inputs.size(); ++i) {
    const TestKey& key = plan->inputs[i].key_id == "1" ? k1 : k2;
    const std::array<uint8_t, 33> pub = chain::testing::CompressedPubkey(key.secret);
    const std::array<uint8_t, 32> sighash = *chain::Bip143Sighash(
        tx, shared, i, chain::P2wpkhScriptCode(chain::Hash160(pub)), plan->inputs[i].amount, chain::kSighashAll);
    const chain::testing::RecoverableSignature sig = chain::testing::SignDigest(key.secret, sighash);
    ASSERT_TRUE(chain::SetP2wpkhWitness(tx, i, chain::P2wpkhSignatureItem(sig.rs), pub).ok());
  }
  EXPECT_LE(chain::VirtualSize(tx), plan->max_vsize);
  auto sent = sim_->Broadcast(ringfence::chainsim::ChainId::kBitcoin, chain::Serialize(tx));
  ASSERT_TRUE(sent.ok()) << sent.status();
  const uint64_t h = sim_->Mine(ringfence::chainsim::ChainId::kBitcoin, 1)->height;
  EXPECT_EQ(*sim_->Balance(ringfence::chainsim::ChainId::kBitcoin, Addr(0x22), "", h), base::Amount(4 * kBtc));
  EXPECT_EQ(*sim_->Balance(ringfence::chainsim::ChainId::kBitcoin, Addr(0x33), "", h), base::Amount(plan->change));
}

TEST_F(BuiltTransactionsOnChainsimTest, AnEthereumTransferIsAccepted) {
  const TestKey sender(0x44);
  Credit(ringfence::chainsim::ChainId::kEthereum, sender.EthAddress(), 1'000'000'000'000'000'000ULL);
  EthereumSpend s = Eth(base::Amount(777));
  s.nonce = 0;
  absl::StatusOr<EthereumPlan> plan = BuildEthereumSpend(s);
  ASSERT_TRUE(plan.ok());
  const std::array<uint8_t, 32> digest = chain::Eip1559SigningHash(plan->tx);
  const chain::testing::RecoverableSignature sig = chain::testing::SignDigest(sender.secret, digest);
  absl::StatusOr<chain::EthSignature> eth_sig = chain::MakeEthSignature(sig.rs, sig.recid);
  ASSERT_TRUE(eth_sig.ok());
  absl::StatusOr<std::vector<uint8_t>> raw = chain::EncodeSignedEip1559(plan->tx, *eth_sig);
  ASSERT_TRUE(raw.ok());
  auto sent = sim_->Broadcast(ringfence::chainsim::ChainId::kEthereum, *raw);
  ASSERT_TRUE(sent.ok()) << sent.status();
}

}  // namespace
}  // namespace ringfence::custody::txbuild
