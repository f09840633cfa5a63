// ChainsimAdapter against a hostile node: an in-process Node service that answers whatever
// each test tells it to. Every malformed answer is DATA_LOSS (a block that changes between
// the requests of one watch set is ABORTED); the node's errors keep their meaning with the
// message clipped; the adapter's own bad input never reaches the node.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "custody/chain/chainsim_adapter.h"
#include "proto/chainsim.grpc.pb.h"
#include "tests/chainsim/test_wallets.h"

namespace ringfence::custody::chain {
namespace {

namespace v1 = ringfence::chainsim::v1;
using ::testing::HasSubstr;
using ringfence::chainsim::testing::TestKey;

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const std::string kHashC(64, 'c');

class FakeNode final : public v1::Node::Service {
 public:
  std::function<grpc::Status(const v1::GetTipRequest&, v1::GetTipResponse*)> tip;
  std::function<grpc::Status(const v1::GetBlockRequest&, v1::GetBlockResponse*)> block;
  std::function<grpc::Status(const v1::GetBalanceRequest&, v1::GetBalanceResponse*)> balance;
  std::function<grpc::Status(const v1::BroadcastRequest&, v1::BroadcastResponse*)> broadcast;
  std::atomic<int> calls{0};

  grpc::Status GetTip(grpc::ServerContext*, const v1::GetTipRequest* req, v1::GetTipResponse* resp) override {
    ++calls;
    return tip(*req, resp);
  }
  grpc::Status GetBlock(grpc::ServerContext*, const v1::GetBlockRequest* req, v1::GetBlockResponse* resp) override {
    ++calls;
    return block(*req, resp);
  }
  grpc::Status GetBalance(grpc::ServerContext*, const v1::GetBalanceRequest* req,
                          v1::GetBalanceResponse* resp) override {
    ++calls;
    return balance(*req, resp);
  }
  grpc::Status Broadcast(grpc::ServerContext*, const v1::BroadcastRequest* req, v1::BroadcastResponse* resp) override {
    ++calls;
    return broadcast(*req, resp);
  }
};

void SetRef(v1::BlockRef* ref, uint64_t height, const std::string& hash, const std::string& parent) {
  ref->set_height(height);
  ref->set_hash(hash);
  ref->set_parent_hash(parent);
}

class AdapterUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&node_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    btc_ = *ChainsimAdapter::Create("bitcoin", channel_);
    eth_ = *ChainsimAdapter::Create("ethereum", channel_);
  }
  void TearDown() override { server_->Shutdown(); }

  // A block at `height` whose transfers `fill` adds.
  void AnswerBlock(std::function<void(v1::GetBlockResponse*)> fill) {
    node_.block = [fill](const v1::GetBlockRequest& req, v1::GetBlockResponse* resp) {
      SetRef(resp->mutable_block(), req.height(), kHashB, kHashA);
      fill(resp);
      return grpc::Status::OK;
    };
  }

  static v1::Transfer* AddTransfer(v1::GetBlockResponse* resp, const std::string& to, const std::string& amount,
                                   const std::string& token = "", uint32_t index = 0) {
    v1::Transfer* t = resp->add_transfers();
    t->set_txid(kHashC);
    t->set_index(index);
    t->set_to_address(to);
    t->set_token_contract(token);
    t->set_amount(amount);
    return t;
  }

  FakeNode node_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ChainsimAdapter> btc_;
  std::unique_ptr<ChainsimAdapter> eth_;
  const std::string alice_ = TestKey(0x11).BitcoinAddress();
  const std::string bob_ = TestKey(0x22).BitcoinAddress();
  const std::string carol_ = TestKey(0x44).EthAddress();
};

void ExpectMalformed(const absl::Status& s, const std::string& text) {
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed answer"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(text));
}

TEST_F(AdapterUnitTest, AWellFormedAnswerIsReturned) {
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, alice_, "340282366920938463463374607431768211455"); });
  const std::vector<std::string> watched = {alice_};
  absl::StatusOr<Block> block = btc_->GetBlock(7, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->ref.height, 7u);
  EXPECT_EQ(block->ref.hash, kHashB);
  ASSERT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(block->transfers[0].amount, base::Amount::Max());
}

TEST_F(AdapterUnitTest, MalformedTipsAreRefused) {
  node_.tip = [](const v1::GetTipRequest&, v1::GetTipResponse* resp) {
    SetRef(resp->mutable_tip(), 3, std::string(64, 'A'), kHashA);
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->Tip().status(), "block hash");
  node_.tip = [](const v1::GetTipRequest&, v1::GetTipResponse* resp) {
    SetRef(resp->mutable_tip(), 3, kHashA, std::string(63, 'a'));
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->Tip().status(), "parent hash");
  node_.tip = [](const v1::GetTipRequest&, v1::GetTipResponse* resp) {
    SetRef(resp->mutable_tip(), 3, kHashA, kHashA);
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->Tip().status(), "its own parent");
  node_.tip = [](const v1::GetTipRequest&, v1::GetTipResponse*) { return grpc::Status::OK; };
  ExpectMalformed(btc_->Tip().status(), "without a tip");
}

TEST_F(AdapterUnitTest, MalformedBlocksAreRefused) {
  const std::vector<std::string> watched = {alice_};
  node_.block = [](const v1::GetBlockRequest&, v1::GetBlockResponse* resp) {
    SetRef(resp->mutable_block(), 8, kHashB, kHashA);
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "answered height 8");

  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, bob_, "1"); });
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "not one that was asked about");
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, alice_, "1")->set_txid(std::string(64, 'G')); });
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "txid");
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, alice_, "1", carol_); });
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "token contract on bitcoin");
  for (const std::string& amount : {std::string(), std::string("01"), std::string("-1"), std::string("1e3"),
                                   std::string("340282366920938463463374607431768211456"), std::string(1000, '9')}) {
    AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, alice_, amount); });
    ExpectMalformed(btc_->GetBlock(7, watched).status(), "");
  }
  AnswerBlock([&](v1::GetBlockResponse* resp) {
    AddTransfer(resp, alice_, "1");
    AddTransfer(resp, alice_, "2");
  });
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "appears twice");
  // Upper case is not the canonical form chainsim promises.
  std::string upper = alice_;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, upper, "1"); });
  ExpectMalformed(btc_->GetBlock(7, watched).status(), "not one that was asked about");
}

TEST_F(AdapterUnitTest, TokenContractsMustBeEip55) {
  const std::vector<std::string> watched = {carol_};
  const std::string token = TestKey(0x66).EthAddress();
  std::string lower = token;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, carol_, "5", lower); });
  ExpectMalformed(eth_->GetBlock(1, watched).status(), "EIP-55");
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, carol_, "5", std::string(5000, 'x')); });
  ExpectMalformed(eth_->GetBlock(1, watched).status(), "EIP-55");
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, carol_, "5", token); });
  absl::StatusOr<Block> block = eth_->GetBlock(1, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->transfers[0].token_contract, token);
}

TEST_F(AdapterUnitTest, ABlockThatChangesBetweenChunksIsAborted) {
  ChainsimAdapterOptions options;
  options.watch_chunk = 1;
  auto adapter = *ChainsimAdapter::Create("bitcoin", channel_, options);
  std::atomic<int> asked{0};
  node_.block = [&](const v1::GetBlockRequest& req, v1::GetBlockResponse* resp) {
    EXPECT_EQ(req.watched_addresses_size(), 1);
    SetRef(resp->mutable_block(), req.height(), ++asked == 1 ? kHashB : kHashC, kHashA);
    return grpc::Status::OK;
  };
  const std::vector<std::string> watched = {alice_, bob_};
  EXPECT_EQ(adapter->GetBlock(3, watched).status().code(), absl::StatusCode::kAborted);
}

TEST_F(AdapterUnitTest, AnAddressWatchedTwiceIsAskedOnce) {
  ChainsimAdapterOptions options;
  options.watch_chunk = 1;
  auto adapter = *ChainsimAdapter::Create("bitcoin", channel_, options);
  AnswerBlock([&](v1::GetBlockResponse* resp) { AddTransfer(resp, alice_, "9"); });
  std::string upper = alice_;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const std::vector<std::string> watched = {alice_, upper, alice_};
  absl::StatusOr<Block> block = adapter->GetBlock(3, watched);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->transfers.size(), 1u);
  EXPECT_EQ(node_.calls.load(), 1);
}

TEST_F(AdapterUnitTest, MalformedBalancesAndBroadcastsAreRefused) {
  node_.balance = [](const v1::GetBalanceRequest& req, v1::GetBalanceResponse* resp) {
    resp->set_height(req.height() + 1);
    resp->set_amount("5");
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->BalanceAt(alice_, "", 4).status(), "answered height 5");
  node_.balance = [](const v1::GetBalanceRequest& req, v1::GetBalanceResponse* resp) {
    resp->set_height(req.height());
    resp->set_amount("five");
    return grpc::Status::OK;
  };
  ExpectMalformed(btc_->BalanceAt(alice_, "", 4).status(), "");

  node_.broadcast = [](const v1::BroadcastRequest&, v1::BroadcastResponse* resp) {
    resp->set_txid(kHashC);
    return grpc::Status::OK;
  };
  const std::vector<uint8_t> raw = ringfence::chainsim::testing::SignedEthTransfer(
      TestKey(0x44), ringfence::chainsim::testing::Pay(TestKey(0x55).EthAddress(), 1));
  ExpectMalformed(eth_->Broadcast(raw).status(), "the transaction's is");
}

TEST_F(AdapterUnitTest, NodeErrorsKeepTheirMeaningWithClippedMessages) {
  const std::string long_message(5000, 'z');  // below gRPC's 8 KiB limit for a status message
  node_.broadcast = [&](const v1::BroadcastRequest&, v1::BroadcastResponse*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, long_message);
  };
  const std::vector<uint8_t> raw = ringfence::chainsim::testing::SignedEthTransfer(
      TestKey(0x44), ringfence::chainsim::testing::Pay(TestKey(0x55).EthAddress(), 1));
  absl::Status s = eth_->Broadcast(raw).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_LT(s.message().size(), 300u);
  node_.tip = [](const v1::GetTipRequest&, v1::GetTipResponse*) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "disk on fire");
  };
  EXPECT_EQ(btc_->Tip().status().code(), absl::StatusCode::kUnavailable);
  node_.block = [](const v1::GetBlockRequest&, v1::GetBlockResponse*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "height: above the tip");
  };
  EXPECT_EQ(btc_->GetBlock(9, {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AdapterUnitTest, OurOwnBadInputNeverReachesTheNode) {
  const std::vector<std::string> bad_watch = {alice_, "not-an-address"};
  EXPECT_EQ(btc_->GetBlock(1, bad_watch).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> eth_on_btc = {carol_};
  EXPECT_EQ(btc_->GetBlock(1, eth_on_btc).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(btc_->BalanceAt(std::string(91, 'a'), "", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(eth_->BalanceAt(carol_, std::string(43, 'a'), 1).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> huge(400'001, 0);
  EXPECT_EQ(eth_->Broadcast(huge).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> not_bitcoin = {0xde, 0xad};
  EXPECT_EQ(btc_->Broadcast(not_bitcoin).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(node_.calls.load(), 0);
}

}  // namespace
}  // namespace ringfence::custody::chain
