// The Simulator in process: rules that need a precise setup (balance history over many
// blocks, mempool chains and evictions, token registrations replayed in order, overflow),
// the state file (reopened, locked, damaged) and the --listen check.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chain/bitcoin_tx.h"
#include "tests/chainsim/test_wallets.h"
#include "tests/common/temp_dir.h"
#include "tools/chainsim/service.h"
#include "tools/chainsim/simulator.h"

namespace ringfence::chainsim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::EthTransfer;
using testing::SpendInput;
using testing::TestKey;

constexpr base::Uint128 kEther = 1'000'000'000'000'000'000ULL;
constexpr base::Uint128 kFee = 21'000ULL * 1'000'000'000ULL;  // a plain transfer at 1 gwei

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    sim_.reset();
    auto sim = Simulator::Open((dir_ / "state.db").string());
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
  }

  std::string Credit(ChainId chain, const std::string& address, base::Uint128 amount, const std::string& token = "") {
    const CreditSpec spec{chain, address, base::Amount(amount), token};
    auto txids = sim_->Credit(std::span<const CreditSpec>(&spec, 1));
    EXPECT_TRUE(txids.ok()) << txids.status();
    return txids.ok() ? txids->front() : "";
  }

  uint64_t Mine(ChainId chain, uint32_t blocks = 1) {
    auto tip = sim_->Mine(chain, blocks);
    EXPECT_TRUE(tip.ok()) << tip.status();
    return tip->height;
  }

  std::string Send(ChainId chain, const std::vector<uint8_t>& raw) {
    auto r = sim_->Broadcast(chain, raw);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->txid : "";
  }

  base::Amount Balance(ChainId chain, const std::string& address, uint64_t height, const std::string& token = "") {
    auto b = sim_->Balance(chain, address, token, height);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *b : base::Amount::Max();
  }

  ringfence::testing::TempDir dir_{"chainsim-sim"};
  std::unique_ptr<Simulator> sim_;
};

TEST_F(SimulatorTest, BalanceHistoryAnswersForEveryHeight) {
  const TestKey alice(0x11);
  for (int i = 1; i <= 5; ++i) {
    Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 100);
    Mine(ChainId::kBitcoin, 2);  // one block with the credit, one empty
  }
  for (uint64_t h = 0; h <= 10; ++h) {
    EXPECT_EQ(Balance(ChainId::kBitcoin, alice.BitcoinAddress(), h), base::Amount(100 * ((h + 1) / 2))) << h;
  }
}

TEST_F(SimulatorTest, DroppingAnEthereumTransactionEvictsTheNoncesAfterIt) {
  const TestKey alice(0x44), bob(0x55);
  Credit(ChainId::kEthereum, alice.EthAddress(), kEther);
  std::vector<std::string> txids;
  for (uint64_t n = 0; n < 3; ++n) {
    txids.push_back(Send(ChainId::kEthereum, testing::SignedEthTransfer(alice, testing::Pay(bob.EthAddress(), n + 1, n))));
  }
  auto dropped = sim_->DropBroadcast(ChainId::kEthereum, txids[1]);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_THAT(*dropped, ElementsAre(txids[1], txids[2]));
  EXPECT_EQ(sim_->Nonce(ChainId::kEthereum, alice.EthAddress())->pending, 1u);
  const uint64_t h = Mine(ChainId::kEthereum);
  EXPECT_EQ(Balance(ChainId::kEthereum, bob.EthAddress(), h), base::Amount(1));
  EXPECT_EQ(Balance(ChainId::kEthereum, alice.EthAddress(), h), base::Amount(kEther - 1 - kFee));
}

TEST_F(SimulatorTest, SendingToYourselfCostsOnlyTheFee) {
  const TestKey alice(0x44);
  Credit(ChainId::kEthereum, alice.EthAddress(), kEther);
  Send(ChainId::kEthereum, testing::SignedEthTransfer(alice, testing::Pay(alice.EthAddress(), kEther / 2)));
  EXPECT_EQ(Balance(ChainId::kEthereum, alice.EthAddress(), Mine(ChainId::kEthereum)), base::Amount(kEther - kFee));
}

TEST_F(SimulatorTest, EthereumFeeAndGasRules) {
  const TestKey alice(0x44), bob(0x55);
  Credit(ChainId::kEthereum, alice.EthAddress(), kEther);
  EthTransfer low_gas = testing::Pay(bob.EthAddress(), 1);
  low_gas.gas_limit = 20'999;
  auto refused = sim_->Broadcast(ChainId::kEthereum, testing::SignedEthTransfer(alice, low_gas));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("gas limit: 20999 is below 21000"));
  EthTransfer tip_above_cap = testing::Pay(bob.EthAddress(), 1);
  tip_above_cap.max_fee_per_gas = 1;
  tip_above_cap.max_priority_fee_per_gas = 2;
  refused = sim_->Broadcast(ChainId::kEthereum, testing::SignedEthTransfer(alice, tip_above_cap));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("max_priority_fee_per_gas"));
  // Exactly the balance: value + gas_limit * max_fee_per_gas.
  EXPECT_TRUE(sim_->Broadcast(ChainId::kEthereum,
                              testing::SignedEthTransfer(alice, testing::Pay(bob.EthAddress(), kEther - kFee)))
                  .ok());
}

TEST_F(SimulatorTest, BitcoinOutputsMustBeNonZeroWitnessPrograms) {
  const TestKey alice(0x11);
  const std::string credit = Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 10'000);
  const SpendInput coin{credit, 0, 10'000, alice};
  // P2PKH: OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG.
  std::vector<uint8_t> p2pkh = {0x76, 0xa9, 0x14};
  p2pkh.resize(23, 0x42);
  p2pkh.push_back(0x88);
  p2pkh.push_back(0xac);
  auto legacy = sim_->Broadcast(ChainId::kBitcoin, testing::SignedSpend({coin}, {{p2pkh, 5'000}}));
  EXPECT_EQ(legacy.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(legacy.status().message()), HasSubstr("output 0: does not pay a regtest segwit address"));
  auto zero = sim_->Broadcast(ChainId::kBitcoin, testing::SignedSpend({coin}, {{alice.BitcoinAddress(), 0}}));
  EXPECT_THAT(std::string(zero.status().message()), HasSubstr("output 0: pays zero satoshi"));
  // A script carries no HRP: a witness program written as a mainnet address is the same
  // output, reported under bcrt.
  auto mainnet = sim_->Broadcast(ChainId::kBitcoin,
                                 testing::SignedSpend({coin}, {{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 5'000}}));
  ASSERT_TRUE(mainnet.ok()) << mainnet.status();
  const uint64_t h = Mine(ChainId::kBitcoin);
  EXPECT_EQ(Balance(ChainId::kBitcoin, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", h), base::Amount(5'000));
}

TEST_F(SimulatorTest, FeesLeaveTheChain) {
  const TestKey alice(0x11), bob(0x22);
  const std::string credit = Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 10'000);
  Send(ChainId::kBitcoin, testing::SignedSpend({{credit, 0, 10'000, alice}}, {{bob.BitcoinAddress(), 9'000}}));
  const uint64_t h = Mine(ChainId::kBitcoin);
  EXPECT_EQ(Balance(ChainId::kBitcoin, alice.BitcoinAddress(), h), base::Amount(0));
  EXPECT_EQ(Balance(ChainId::kBitcoin, bob.BitcoinAddress(), h), base::Amount(9'000));
}

TEST_F(SimulatorTest, CreditsThatWouldOverflowABalanceAreRefused) {
  const TestKey carol(0x44);
  Credit(ChainId::kEthereum, carol.EthAddress(), base::Amount::Max().base_units());
  const CreditSpec one{ChainId::kEthereum, carol.EthAddress(), base::Amount(1), ""};
  auto r = sim_->Credit(std::span<const CreditSpec>(&one, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("exceed 2^128 - 1"));
}

TEST_F(SimulatorTest, ATokenRegisteredLaterDoesNotChangeHowEarlierTransactionsReplay) {
  const TestKey alice(0x44), bob(0x55), contract(0x66);
  Credit(ChainId::kEthereum, alice.EthAddress(), kEther);
  // A plain payment to the address that later becomes a token contract.
  Send(ChainId::kEthereum, testing::SignedEthTransfer(alice, testing::Pay(contract.EthAddress(), 7)));
  Mine(ChainId::kEthereum);
  ASSERT_TRUE(sim_->RegisterToken(contract.EthAddress(), 2).ok());
  Credit(ChainId::kEthereum, alice.EthAddress(), 100, contract.EthAddress());
  Send(ChainId::kEthereum,
       testing::SignedEthTransfer(alice, testing::TokenCall(contract.EthAddress(), bob.EthAddress(), 30, 1)));
  const uint64_t h = Mine(ChainId::kEthereum);
  Reopen();
  EXPECT_EQ(Balance(ChainId::kEthereum, contract.EthAddress(), h), base::Amount(7));
  EXPECT_EQ(Balance(ChainId::kEthereum, bob.EthAddress(), h, contract.EthAddress()), base::Amount(30));
  EXPECT_EQ(Balance(ChainId::kEthereum, alice.EthAddress(), h, contract.EthAddress()), base::Amount(70));
}

TEST_F(SimulatorTest, ReopeningGivesTheSameChainsAndMempools) {
  const TestKey alice(0x11), carol(0x44);
  Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 5);
  Mine(ChainId::kBitcoin, 3);
  ASSERT_TRUE(sim_->Reorg(ChainId::kBitcoin, 2, true).ok());
  Credit(ChainId::kEthereum, carol.EthAddress(), 9);
  const BlockInfo btc = sim_->Tip(ChainId::kBitcoin);
  const BlockInfo eth = sim_->Tip(ChainId::kEthereum);
  Reopen();
  EXPECT_EQ(sim_->Tip(ChainId::kBitcoin).hash, btc.hash);
  EXPECT_EQ(sim_->Tip(ChainId::kEthereum).hash, eth.hash);
  const uint64_t h = Mine(ChainId::kEthereum);
  auto block = sim_->GetBlock(ChainId::kEthereum, h, {carol.EthAddress()});
  ASSERT_TRUE(block.ok());
  ASSERT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(block->transfers[0].payment.amount, base::Amount(9));
}

TEST_F(SimulatorTest, AStateFileIsUsedByOneChainsimAtATime) {
  auto second = Simulator::Open((dir_ / "state.db").string());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("another chainsim"));
}

TEST_F(SimulatorTest, ADamagedStateFileIsRefused) {
  Mine(ChainId::kBitcoin, 3);
  sim_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DELETE FROM blocks WHERE chain = 'bitcoin' AND height = 2", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto sim = Simulator::Open((dir_ / "state.db").string());
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(sim.status().message()), HasSubstr("not contiguous"));
}

TEST_F(SimulatorTest, ListUnspentFollowsTheChainAndTheMempool) {
  const TestKey alice(0x11), bob(0x22);
  const std::string small = Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 1'000);
  const std::string large = Credit(ChainId::kBitcoin, alice.BitcoinAddress(), 50'000);
  const uint64_t h1 = Mine(ChainId::kBitcoin);
  Credit(ChainId::kBitcoin, bob.BitcoinAddress(), 7'000);  // stays in the mempool
  const std::vector<std::string> both = {alice.BitcoinAddress(), bob.BitcoinAddress()};
  auto view = sim_->ListUnspent(ChainId::kBitcoin, both);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->tip.height, h1);
  ASSERT_EQ(view->outputs.size(), 3u);
  // Largest first; the mempool credit has height 0.
  EXPECT_EQ(view->outputs[0].value, 50'000u);
  EXPECT_EQ(chain::DisplayHex(view->outputs[0].txid), large);
  EXPECT_EQ(view->outputs[0].height, h1);
  EXPECT_EQ(view->outputs[1].value, 7'000u);
  EXPECT_EQ(view->outputs[1].height, 0u);
  EXPECT_EQ(view->outputs[1].address, bob.BitcoinAddress());
  EXPECT_EQ(view->outputs[2].value, 1'000u);
  EXPECT_EQ(view->outputs[2].address, alice.BitcoinAddress());

  // A mempool spend hides the coin it spends and shows its own outputs unconfirmed.
  const std::string spend = Send(ChainId::kBitcoin, testing::SignedSpend({{large, 0, 50'000, alice}},
                                                                         {{bob.BitcoinAddress(), 30'000},
                                                                          {alice.BitcoinAddress(), 19'000}}));
  view = sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->outputs.size(), 2u);
  EXPECT_EQ(chain::DisplayHex(view->outputs[0].txid), spend);
  EXPECT_EQ(view->outputs[0].vout, 1u);
  EXPECT_EQ(view->outputs[0].height, 0u);
  EXPECT_EQ(chain::DisplayHex(view->outputs[1].txid), small);
  const uint64_t h2 = Mine(ChainId::kBitcoin);
  view = sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->outputs[0].height, h2) << "mined: the output has its block's height";

  // A reorganisation that drops the spend brings the coin back.
  auto reorg = sim_->Reorg(ChainId::kBitcoin, 1, /*keep_transactions=*/false);
  ASSERT_TRUE(reorg.ok()) << reorg.status();
  view = sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->outputs.size(), 2u);
  EXPECT_EQ(chain::DisplayHex(view->outputs[0].txid), large);
  EXPECT_EQ(view->outputs[0].height, h1);
}

TEST_F(SimulatorTest, ListUnspentRefusesBadRequests) {
  const TestKey alice(0x11);
  EXPECT_EQ(sim_->ListUnspent(ChainId::kEthereum, std::vector<std::string>{alice.EthAddress()}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> too_many(kMaxUnspentAddresses + 1, alice.BitcoinAddress());
  EXPECT_THAT(std::string(sim_->ListUnspent(ChainId::kBitcoin, too_many).status().message()), HasSubstr("addresses: 1001"));
  auto bad = sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{alice.BitcoinAddress(), "bc1-nonsense"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("addresses[1]"));
  auto mainnet = sim_->ListUnspent(ChainId::kBitcoin,
                                   std::vector<std::string>{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"});
  EXPECT_THAT(std::string(mainnet.status().message()), HasSubstr("regtest"));
}

TEST_F(SimulatorTest, ListUnspentKeepsTheLargestWhenTruncated) {
  const TestKey alice(0x11);
  std::vector<CreditSpec> specs;
  for (size_t i = 1; i <= kMaxUnspentOutputs + 3; ++i) {
    specs.push_back(CreditSpec{ChainId::kBitcoin, alice.BitcoinAddress(), base::Amount(uint64_t{i}), ""});
  }
  ASSERT_TRUE(sim_->Credit(specs).ok());
  auto view = sim_->ListUnspent(ChainId::kBitcoin, std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->truncated);
  ASSERT_EQ(view->outputs.size(), kMaxUnspentOutputs);
  EXPECT_EQ(view->outputs.front().value, kMaxUnspentOutputs + 3);
  EXPECT_EQ(view->outputs.back().value, 4u);
}

TEST_F(SimulatorTest, FindTransactionAndBroadcastCounts) {
  const TestKey alice(0x44), bob(0x55);
  Credit(ChainId::kEthereum, alice.EthAddress(), kEther);
  const std::vector<uint8_t> raw = testing::SignedEthTransfer(alice, testing::Pay(bob.EthAddress(), 5));
  const std::string txid = Send(ChainId::kEthereum, raw);
  auto where = sim_->FindTransaction(ChainId::kEthereum, txid);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(where->state, TxState::kMempool);
  EXPECT_TRUE(sim_->Broadcast(ChainId::kEthereum, raw)->already_known);
  const uint64_t h = Mine(ChainId::kEthereum);
  Mine(ChainId::kEthereum, 2);
  where = sim_->FindTransaction(ChainId::kEthereum, txid);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(where->state, TxState::kConfirmed);
  EXPECT_EQ(where->height, h);
  EXPECT_EQ(where->tip.height, h + 2);
  EXPECT_EQ(where->block_hash, sim_->GetBlock(ChainId::kEthereum, h, {})->ref.hash);
  BroadcastCount count = sim_->BroadcastCounts(ChainId::kEthereum, txid);
  EXPECT_EQ(count.received, 2u);
  EXPECT_EQ(count.accepted, 1u);
  // Sent again once mined: already known, received but not accepted.
  EXPECT_TRUE(sim_->Broadcast(ChainId::kEthereum, raw)->already_known);
  count = sim_->BroadcastCounts(ChainId::kEthereum, txid);
  EXPECT_EQ(count.received, 3u);
  EXPECT_EQ(count.accepted, 1u);
  EXPECT_EQ(sim_->BroadcastCounts(ChainId::kEthereum, "").accepted, 1u);
  EXPECT_EQ(sim_->BroadcastCounts(ChainId::kBitcoin, "").received, 0u);

  // Dropped by a reorganisation: unknown again.
  ASSERT_TRUE(sim_->Reorg(ChainId::kEthereum, 3, /*keep_transactions=*/false).ok());
  where = sim_->FindTransaction(ChainId::kEthereum, txid);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(where->state, TxState::kUnknown);
  EXPECT_EQ(sim_->FindTransaction(ChainId::kEthereum, std::string(64, 'A')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim_->FindTransaction(ChainId::kEthereum, "abc").status().code(), absl::StatusCode::kInvalidArgument);
  // The counts live in the process, not the state file.
  Reopen();
  EXPECT_EQ(sim_->BroadcastCounts(ChainId::kEthereum, txid).received, 0u);
}

TEST_F(SimulatorTest, FeeAdviceIsFixed) {
  EXPECT_EQ(sim_->FeeEstimate(ChainId::kBitcoin).sat_per_vbyte, base::Amount(kAdvisedSatPerVbyte));
  EXPECT_TRUE(sim_->FeeEstimate(ChainId::kBitcoin).base_fee_per_gas.is_zero());
  EXPECT_EQ(sim_->FeeEstimate(ChainId::kEthereum).base_fee_per_gas, base::Amount(kAdvisedBaseFeeWei));
  EXPECT_EQ(sim_->FeeEstimate(ChainId::kEthereum).max_priority_fee_per_gas, base::Amount(kAdvisedPriorityFeeWei));
}

TEST(ListenAddressTest, OnlyLoopbackAndUnixSockets) {
  for (const char* ok : {"127.0.0.1:0", "127.1.2.3:50051", "localhost:8080", "[::1]:0", "unix:/tmp/chainsim.sock"}) {
    EXPECT_TRUE(CheckListenAddress(ok).ok()) << ok;
  }
  for (const char* bad : {"0.0.0.0:0", "10.0.0.1:80", "[::]:0", "example.com:1", "127.0.0.1", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0:1", "127.0.0.256:1", "unix:relative", "unix:", ""}) {
    EXPECT_FALSE(CheckListenAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ringfence::chainsim
