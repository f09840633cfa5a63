// custodyd's ChainsimAdapter over the real chainsim process: tips, blocks with watched
// transfers (native and ERC-20), balances at heights, broadcasts (and their refusals), watch
// sets split over several requests, reorganisations seen by block hash, an unreachable node.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/hex.h"
#include "chain/keccak.h"
#include "custody/chain/chainsim_adapter.h"
#include "proto/chainsim.grpc.pb.h"
#include "tests/chainsim/chainsim_process.h"
#include "tests/chainsim/test_wallets.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody::chain {
namespace {

namespace v1 = ringfence::chainsim::v1;
using ::testing::HasSubstr;
using ringfence::chainsim::testing::ChainsimProcess;
using ringfence::chainsim::testing::EthTransfer;
using ringfence::chainsim::testing::TestKey;

constexpr uint64_t kBtc = 100'000'000;

class AdapterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = ChainsimProcess::Start(ChainsimProcess::BinaryFromEnv(), dir_ / "state.db", dir_.path());
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    control_ = v1::Control::NewStub(grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials()));
    auto btc = ChainsimAdapter::Create("bitcoin", process_->address());
    auto eth = ChainsimAdapter::Create("ethereum", process_->address());
    ASSERT_TRUE(btc.ok() && eth.ok());
    btc_ = *std::move(btc);
    eth_ = *std::move(eth);
  }

  std::string Credit(const std::string& chain, const std::string& address, const std::string& amount,
                     const std::string& token = "") {
    grpc::ClientContext ctx;
    v1::CreditRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_amount(amount);
    req.set_token_contract(token);
    v1::CreditResponse resp;
    grpc::Status s = control_->Credit(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.txid();
  }

  void Mine(const std::string& chain, uint32_t blocks = 1) {
    grpc::ClientContext ctx;
    v1::MineRequest req;
    req.set_chain(chain);
    req.set_blocks(blocks);
    v1::MineResponse resp;
    ASSERT_TRUE(control_->Mine(&ctx, req, &resp).ok());
  }

  ringfence::testing::TempDir dir_{"chainsim-adapter"};
  std::unique_ptr<ChainsimProcess> process_;
  std::unique_ptr<v1::Control::Stub> control_;
  std::unique_ptr<ChainsimAdapter> btc_;
  std::unique_ptr<ChainsimAdapter> eth_;
};

TEST_F(AdapterE2eTest, BitcoinTipBlocksBalancesAndBroadcast) {
  const TestKey alice(0x11), bob(0x22);
  EXPECT_EQ(btc_->chain(), "bitcoin");
  absl::StatusOr<BlockRef> genesis = btc_->Tip();
  ASSERT_TRUE(genesis.ok()) << genesis.status();
  EXPECT_EQ(genesis->height, 0u);

  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  Mine("bitcoin");
  absl::StatusOr<BlockRef> tip = btc_->Tip();
  ASSERT_TRUE(tip.ok());
  EXPECT_EQ(tip->height, 1u);
  EXPECT_EQ(tip->parent_hash, genesis->hash);

  const std::vector<std::string> watched = {bob.BitcoinAddress(), alice.BitcoinAddress()};
  absl::StatusOr<Block> block = btc_->GetBlock(1, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->ref.hash, tip->hash);
  EXPECT_EQ(block->ref.parent_hash, genesis->hash);
  ASSERT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(block->transfers[0].txid, credit);
  EXPECT_EQ(block->transfers[0].index, 0u);
  EXPECT_EQ(block->transfers[0].to_address, alice.BitcoinAddress());
  EXPECT_EQ(block->transfers[0].token_contract, "");
  EXPECT_EQ(block->transfers[0].amount, base::Amount(kBtc));
  EXPECT_EQ(btc_->GetBlock(2, watched).status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(*btc_->BalanceAt(alice.BitcoinAddress(), "", 0), base::Amount(0));
  EXPECT_EQ(*btc_->BalanceAt(alice.BitcoinAddress(), "", 1), base::Amount(kBtc));
  EXPECT_EQ(btc_->BalanceAt(alice.BitcoinAddress(), "", 2).status().code(), absl::StatusCode::kNotFound);
  // Many at once (chainsim's GetBalances) agree with one at a time.
  const std::vector<std::string> both = {bob.BitcoinAddress(), alice.BitcoinAddress(), alice.BitcoinAddress()};
  absl::StatusOr<std::vector<base::Amount>> balances = btc_->BalancesAt(both, "", 1);
  ASSERT_TRUE(balances.ok()) << balances.status();
  EXPECT_EQ(*balances, (std::vector<base::Amount>{base::Amount(0), base::Amount(kBtc), base::Amount(kBtc)}));
  EXPECT_EQ(btc_->BalancesAt(both, "", 2).status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<std::string> overspend = btc_->Broadcast(
      ringfence::chainsim::testing::SignedSpend({{credit, 0, kBtc, alice}}, {{alice.BitcoinAddress(), kBtc + 1}}));
  EXPECT_EQ(overspend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(overspend.status().message()), HasSubstr("more than"));
  const std::vector<uint8_t> spend =
      ringfence::chainsim::testing::SignedSpend({{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc - 1000}});
  absl::StatusOr<std::string> txid = btc_->Broadcast(spend);
  ASSERT_TRUE(txid.ok()) << txid.status();
  absl::StatusOr<std::string> again = btc_->Broadcast(spend);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *txid) << "a second broadcast of the same bytes is a success with the same txid";

  const std::vector<uint8_t> garbage = {1, 2, 3};
  EXPECT_EQ(btc_->Broadcast(garbage).status().code(), absl::StatusCode::kInvalidArgument) << "not even sent";

  Mine("bitcoin");
  block = btc_->GetBlock(2, watched);
  ASSERT_TRUE(block.ok());
  ASSERT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(block->transfers[0].txid, *txid);
  EXPECT_EQ(*btc_->BalanceAt(bob.BitcoinAddress(), "", 2), base::Amount(kBtc - 1000));
}

TEST_F(AdapterE2eTest, EthereumNativeAndTokenTransfers) {
  const TestKey alice(0x44), bob(0x55);
  const std::string token = TestKey(0x66).EthAddress();
  {
    grpc::ClientContext ctx;
    v1::RegisterTokenRequest req;
    req.set_contract(token);
    req.set_decimals(6);
    v1::RegisterTokenResponse resp;
    ASSERT_TRUE(control_->RegisterToken(&ctx, req, &resp).ok());
  }
  Credit("ethereum", alice.EthAddress(), "1000000000000000000");
  Credit("ethereum", alice.EthAddress(), "900", token);
  Mine("ethereum");

  // Lowercase in, EIP-55 out.
  std::string lower = alice.EthAddress();
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const std::vector<std::string> watched = {lower};
  absl::StatusOr<Block> block = eth_->GetBlock(1, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  ASSERT_EQ(block->transfers.size(), 2u);
  EXPECT_EQ(block->transfers[0].to_address, alice.EthAddress());
  EXPECT_EQ(block->transfers[0].token_contract, "");
  EXPECT_EQ(block->transfers[1].token_contract, token);
  EXPECT_EQ(block->transfers[1].amount, base::Amount(900));
  EXPECT_EQ(*eth_->BalanceAt(alice.EthAddress(), token, 1), base::Amount(900));

  const std::vector<uint8_t> raw = ringfence::chainsim::testing::SignedEthTransfer(
      alice, ringfence::chainsim::testing::TokenCall(token, bob.EthAddress(), 400));
  absl::StatusOr<std::string> txid = eth_->Broadcast(raw);
  ASSERT_TRUE(txid.ok()) << txid.status();
  EXPECT_EQ(*txid, base::HexEncode(ringfence::chain::Keccak256(raw)));
  absl::StatusOr<std::string> reused = eth_->Broadcast(ringfence::chainsim::testing::SignedEthTransfer(
      alice, ringfence::chainsim::testing::Pay(bob.EthAddress(), 1)));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reused.status().message()), HasSubstr("nonce"));
  Mine("ethereum");
  const std::vector<std::string> bob_watch = {bob.EthAddress()};
  block = eth_->GetBlock(2, bob_watch);
  ASSERT_TRUE(block.ok());
  ASSERT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(block->transfers[0].txid, *txid);
  EXPECT_EQ(block->transfers[0].amount, base::Amount(400));
  EXPECT_EQ(*eth_->BalanceAt(bob.EthAddress(), token, 2), base::Amount(400));
}

TEST_F(AdapterE2eTest, WatchSetsLargerThanOneRequestAreAskedInChunks) {
  ChainsimAdapterOptions options;
  options.watch_chunk = 2;
  auto small = ChainsimAdapter::Create("bitcoin", process_->address(), options);
  ASSERT_TRUE(small.ok());
  std::vector<std::string> watched;
  for (uint8_t fill = 1; fill <= 7; ++fill) {
    watched.push_back(TestKey(fill).BitcoinAddress());
    if (fill % 2 == 1) Credit("bitcoin", watched.back(), std::to_string(fill));
  }
  Mine("bitcoin");
  absl::StatusOr<Block> block = (*small)->GetBlock(1, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  std::vector<std::string> paid;
  for (const Transfer& t : block->transfers) paid.push_back(t.to_address);
  EXPECT_THAT(paid, ::testing::UnorderedElementsAre(watched[0], watched[2], watched[4], watched[6]));
}

TEST_F(AdapterE2eTest, AReorganisationShowsAsANewHashAtTheSameHeight) {
  const TestKey alice(0x11);
  Credit("bitcoin", alice.BitcoinAddress(), "1234");
  Mine("bitcoin", 2);
  const std::vector<std::string> watched = {alice.BitcoinAddress()};
  absl::StatusOr<Block> before = btc_->GetBlock(1, watched);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->transfers.size(), 1u);
  {
    grpc::ClientContext ctx;
    v1::ReorgRequest req;
    req.set_chain("bitcoin");
    req.set_depth(2);
    v1::ReorgResponse resp;
    ASSERT_TRUE(control_->Reorg(&ctx, req, &resp).ok());
  }
  absl::StatusOr<Block> after = btc_->GetBlock(1, watched);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->ref.hash, before->ref.hash);
  EXPECT_EQ(after->ref.parent_hash, before->ref.parent_hash);
  EXPECT_TRUE(after->transfers.empty());
  absl::StatusOr<Block> next = btc_->GetBlock(2, watched);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ref.parent_hash, after->ref.hash);
  EXPECT_EQ(btc_->Tip()->height, 3u);
}

TEST_F(AdapterE2eTest, SpendingQueriesAgainstTheRealChain) {
  const TestKey alice(0x11), bob(0x22), carol(0x44), dave(0x55);
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  Mine("bitcoin");
  absl::StatusOr<UnspentSet> set = btc_->ListUnspent(std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->outputs.size(), 1u);
  EXPECT_EQ(set->outputs[0].txid, credit);
  EXPECT_EQ(set->outputs[0].amount, kBtc);
  EXPECT_EQ(set->outputs[0].height, 1u);
  EXPECT_EQ(set->tip.height, 1u);

  const std::vector<uint8_t> spend = ringfence::chainsim::testing::SignedSpend(
      {{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc / 2}, {alice.BitcoinAddress(), kBtc / 2 - 500}});
  absl::StatusOr<std::string> txid = btc_->Broadcast(spend);
  ASSERT_TRUE(txid.ok()) << txid.status();
  absl::StatusOr<TxStatus> status = btc_->GetTransaction(*txid);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, TxState::kMempool);
  set = btc_->ListUnspent(std::vector<std::string>{alice.BitcoinAddress()});
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->outputs.size(), 1u);
  EXPECT_EQ(set->outputs[0].txid, *txid);
  EXPECT_EQ(set->outputs[0].vout, 1u);
  EXPECT_EQ(set->outputs[0].height, 0u);
  Mine("bitcoin", 3);
  status = btc_->GetTransaction(*txid);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, TxState::kConfirmed);
  EXPECT_EQ(status->height, 2u);
  EXPECT_EQ(status->confirmations, 3u);
  EXPECT_EQ(btc_->GetTransaction(std::string(64, '0'))->state, TxState::kUnknown);

  // chainsim saw the spend once.
  grpc::ClientContext ctx;
  v1::GetBroadcastCountRequest req;
  req.set_chain("bitcoin");
  req.set_txid(*txid);
  v1::GetBroadcastCountResponse count;
  ASSERT_TRUE(control_->GetBroadcastCount(&ctx, req, &count).ok());
  EXPECT_EQ(count.received(), 1u);
  EXPECT_EQ(count.accepted(), 1u);

  absl::StatusOr<FeeEstimate> fee = btc_->EstimateFee();
  ASSERT_TRUE(fee.ok()) << fee.status();
  EXPECT_EQ(fee->sat_per_vbyte, base::Amount(2));
  fee = eth_->EstimateFee();
  ASSERT_TRUE(fee.ok()) << fee.status();
  EXPECT_EQ(fee->base_fee_per_gas, base::Amount(1'000'000'000));

  Credit("ethereum", carol.EthAddress(), "1000000000000000000");
  Mine("ethereum");
  absl::StatusOr<AccountNonce> nonce = eth_->Nonce(carol.EthAddress());
  ASSERT_TRUE(nonce.ok()) << nonce.status();
  EXPECT_EQ(nonce->confirmed, 0u);
  EXPECT_EQ(nonce->pending, 0u);
  ASSERT_TRUE(eth_->Broadcast(ringfence::chainsim::testing::SignedEthTransfer(
                                  carol, ringfence::chainsim::testing::Pay(dave.EthAddress(), 1, 0)))
                  .ok());
  nonce = eth_->Nonce(carol.EthAddress());
  EXPECT_EQ(nonce->confirmed, 0u);
  EXPECT_EQ(nonce->pending, 1u);
  Mine("ethereum");
  nonce = eth_->Nonce(carol.EthAddress());
  EXPECT_EQ(nonce->confirmed, 1u);
  EXPECT_EQ(nonce->pending, 1u);
}

TEST(AdapterTest, AnUnreachableChainsimIsUnavailable) {
  ringfence::testing::TempDir dir("chainsim-adapter");
  // The default deadline (10 s): a call to a socket nobody listens on fails at once with
  // UNAVAILABLE, so the test checks that answer, not a race against a short deadline.
  auto adapter = ChainsimAdapter::Create("bitcoin", "unix:" + (dir / "nobody.sock").string());
  ASSERT_TRUE(adapter.ok());
  EXPECT_EQ((*adapter)->Tip().status().code(), absl::StatusCode::kUnavailable);
}

TEST(AdapterTest, CreateRefusesBadArguments) {
  EXPECT_EQ(ChainsimAdapter::Create("litecoin", "127.0.0.1:1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChainsimAdapter::Create("bitcoin", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChainsimAdapter::Create("bitcoin", std::string(257, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  ChainsimAdapterOptions options;
  options.watch_chunk = 10'001;
  EXPECT_EQ(ChainsimAdapter::Create("bitcoin", "127.0.0.1:1", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringfence::custody::chain
