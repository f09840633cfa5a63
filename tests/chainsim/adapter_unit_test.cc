// ChainsimAdapter against a hostile node: an in-process Node service that answers whatever
// each test tells it to. Every malformed answer is DATA_LOSS (a block that changes between
// the requests of one watch set is ABORTED); the node's errors keep their meaning with the
// message clipped; the adapter's own bad input never reaches the node.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <functional>

#include "chain/bech32.h"
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
  std::function<grpc::Status(const v1::GetBalancesRequest&, v1::GetBalancesResponse*)> balances;
  std::function<grpc::Status(const v1::BroadcastRequest&, v1::BroadcastResponse*)> broadcast;
  std::function<grpc::Status(const v1::ListUnspentRequest&, v1::ListUnspentResponse*)> unspent;
  std::function<grpc::Status(const v1::GetNonceRequest&, v1::GetNonceResponse*)> nonce;
  std::function<grpc::Status(const v1::GetFeeEstimateRequest&, v1::GetFeeEstimateResponse*)> fee;
  std::function<grpc::Status(const v1::GetTransactionRequest&, v1::GetTransactionResponse*)> transaction;
  std::atomic<int> calls{0};

  grpc::Status ListUnspent(grpc::ServerContext*, const v1::ListUnspentRequest* req,
                           v1::ListUnspentResponse* resp) override {
    ++calls;
    return unspent(*req, resp);
  }
  grpc::Status GetNonce(grpc::ServerContext*, const v1::GetNonceRequest* req, v1::GetNonceResponse* resp) override {
    ++calls;
    return nonce(*req, resp);
  }
  grpc::Status GetFeeEstimate(grpc::ServerContext*, const v1::GetFeeEstimateRequest* req,
                              v1::GetFeeEstimateResponse* resp) override {
    ++calls;
    return fee(*req, resp);
  }
  grpc::Status GetTransaction(grpc::ServerContext*, const v1::GetTransactionRequest* req,
                              v1::GetTransactionResponse* resp) override {
    ++calls;
    return transaction(*req, resp);
  }

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
  grpc::Status GetBalances(grpc::ServerContext*, const v1::GetBalancesRequest* req,
                           v1::GetBalancesResponse* resp) override {
    ++calls;
    return balances(*req, resp);
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

// `n` distinct regtest P2WPKH addresses.
std::vector<std::string> ManyAddresses(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint8_t> program(20, 0x5a);
    program[0] = static_cast<uint8_t>(i);
    program[1] = static_cast<uint8_t>(i >> 8);
    out.push_back(*ringfence::chain::EncodeSegwitAddress({"bcrt", 0, program}));
  }
  return out;
}

TEST_F(AdapterUnitTest, BalancesAreAskedForInChunksOfDistinctAddressesAndAnsweredInOrder) {
  // Each address's balance is set apart from every other's, so an answer put back in the wrong
  // place shows.
  std::vector<size_t> chunk_sizes;
  std::map<std::string, std::string> amount_of;
  std::vector<std::string> addresses = ManyAddresses(2'100);
  for (size_t i = 0; i < addresses.size(); ++i) amount_of[addresses[i]] = std::to_string(i * 1000 + 7);
  node_.balances = [&](const v1::GetBalancesRequest& req, v1::GetBalancesResponse* resp) {
    chunk_sizes.push_back(static_cast<size_t>(req.addresses_size()));
    EXPECT_EQ(req.chain(), "bitcoin");
    EXPECT_EQ(req.height(), 12u);
    for (const std::string& a : req.addresses()) resp->add_amounts(amount_of.at(a));
    resp->set_height(req.height());
    return grpc::Status::OK;
  };
  // Alice twice (once in upper case) and a few of the many: alice is asked about once.
  amount_of[alice_] = "340282366920938463463374607431768211455";
  std::string upper = alice_;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  std::vector<std::string> asked = {alice_};
  asked.insert(asked.end(), addresses.begin(), addresses.end());
  asked.push_back(upper);
  absl::StatusOr<std::vector<base::Amount>> got = btc_->BalancesAt(asked, "", 12);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), asked.size());
  EXPECT_EQ((*got)[0], base::Amount(*base::ParseBaseUnits("340282366920938463463374607431768211455")));
  EXPECT_EQ(got->back(), (*got)[0]);
  for (size_t i = 0; i < addresses.size(); ++i) EXPECT_EQ((*got)[i + 1], base::Amount(i * 1000 + 7)) << i;
  EXPECT_EQ(chunk_sizes, (std::vector<size_t>{1'000, 1'000, 101}));
}

TEST_F(AdapterUnitTest, MalformedBalanceListsAreRefused) {
  const std::vector<std::string> asked = {alice_, bob_};
  auto answer = [&](uint64_t height_delta, std::vector<std::string> amounts) {
    node_.balances = [height_delta, amounts](const v1::GetBalancesRequest& req, v1::GetBalancesResponse* resp) {
      for (const std::string& a : amounts) resp->add_amounts(a);
      resp->set_height(req.height() + height_delta);
      return grpc::Status::OK;
    };
  };
  answer(1, {"1", "2"});
  ExpectMalformed(btc_->BalancesAt(asked, "", 4).status(), "GetBalances at height 4 answered height 5");
  answer(0, {"1"});
  ExpectMalformed(btc_->BalancesAt(asked, "", 4).status(), "answered 1 amounts for 2 addresses");
  answer(0, {"1", "2", "3"});
  ExpectMalformed(btc_->BalancesAt(asked, "", 4).status(), "answered 3 amounts for 2 addresses");
  for (const std::string bad : {"", "-1", "01", "1.5", "two", "340282366920938463463374607431768211456"}) {
    answer(0, {"1", bad});
    ExpectMalformed(btc_->BalancesAt(asked, "", 4).status(), "GetBalances amount 1");
  }
  answer(0, {std::string(40, '1'), "1"});
  ExpectMalformed(btc_->BalancesAt(asked, "", 4).status(), "is too long");
  // The node's own refusal keeps its meaning.
  node_.balances = [](const v1::GetBalancesRequest&, v1::GetBalancesResponse*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "height: above the tip");
  };
  EXPECT_EQ(btc_->BalancesAt(asked, "", 4).status().code(), absl::StatusCode::kNotFound);
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
  const std::vector<std::string> bad_balances = {alice_, "not-an-address"};
  absl::Status bad = btc_->BalancesAt(bad_balances, "", 1).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("addresses[1]"));
  const std::vector<std::string> one_carol = {carol_};
  EXPECT_EQ(eth_->BalancesAt(one_carol, std::string(43, 'a'), 1).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> huge(400'001, 0);
  EXPECT_EQ(eth_->Broadcast(huge).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> not_bitcoin = {0xde, 0xad};
  EXPECT_EQ(btc_->Broadcast(not_bitcoin).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(node_.calls.load(), 0);
}

// An unspent-output answer with the outputs `fill` adds to a tip at height 10.
void AnswerUnspent(FakeNode& node, std::function<void(v1::ListUnspentResponse*)> fill) {
  node.unspent = [fill](const v1::ListUnspentRequest&, v1::ListUnspentResponse* resp) {
    SetRef(resp->mutable_tip(), 10, kHashB, kHashA);
    fill(resp);
    return grpc::Status::OK;
  };
}

v1::UnspentOutput* AddOutput(v1::ListUnspentResponse* resp, const std::string& address, const std::string& amount,
                             uint32_t vout = 0, uint64_t height = 3) {
  v1::UnspentOutput* o = resp->add_outputs();
  o->set_txid(kHashC);
  o->set_vout(vout);
  o->set_address(address);
  o->set_amount(amount);
  o->set_height(height);
  std::vector<uint8_t> script = *ringfence::chain::ScriptPubKeyForAddress(address);
  o->set_script_pubkey(std::string(script.begin(), script.end()));
  return o;
}

TEST_F(AdapterUnitTest, UnspentOutputsAreCheckedOneByOne) {
  const std::vector<std::string> asked = {alice_};
  AnswerUnspent(node_, [&](v1::ListUnspentResponse* resp) {
    AddOutput(resp, alice_, "5000", 0);
    AddOutput(resp, alice_, "5000", 1, 0);
    AddOutput(resp, alice_, "1", 2, 10);
  });
  absl::StatusOr<UnspentSet> set = btc_->ListUnspent(asked);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->tip.height, 10u);
  ASSERT_EQ(set->outputs.size(), 3u);
  EXPECT_EQ(set->outputs[1].height, 0u);
  EXPECT_EQ(set->outputs[2].amount, 1u);
  EXPECT_EQ(set->outputs[0].script_pubkey, *ringfence::chain::ScriptPubKeyForAddress(alice_));

  const struct {
    std::function<void(v1::ListUnspentResponse*)> fill;
    std::string expected;
  } cases[] = {
      {[&](auto* r) { AddOutput(r, bob_, "5"); }, "not one that was asked about"},
      {[&](auto* r) { AddOutput(r, alice_, "0"); }, "outside 1..21,000,000 BTC"},
      {[&](auto* r) { AddOutput(r, alice_, "2100000000000001"); }, "outside 1..21,000,000 BTC"},
      {[&](auto* r) { AddOutput(r, alice_, "-5"); }, "output 0"},
      {[&](auto* r) { AddOutput(r, alice_, "05"); }, "output 0"},
      {[&](auto* r) { AddOutput(r, alice_, "340282366920938463463374607431768211456"); }, "output 0"},
      {[&](auto* r) { AddOutput(r, alice_, std::string(100, '9')); }, "too long"},
      {[&](auto* r) { AddOutput(r, alice_, "5", 0, 11); }, "above the tip"},
      {[&](auto* r) { AddOutput(r, alice_, "5")->set_txid("xyz"); }, "txid"},
      {[&](auto* r) { AddOutput(r, alice_, "5")->set_script_pubkey(std::string(22, 0)); }, "script_pubkey is not"},
      {[&](auto* r) { AddOutput(r, alice_, "5")->set_script_pubkey(std::string(400, 0)); }, "script_pubkey of 400"},
      {[&](auto* r) {
         AddOutput(r, alice_, "5", 1);
         AddOutput(r, alice_, "5", 1);
       },
       "appears twice"},
      {[&](auto* r) {
         AddOutput(r, alice_, "5", 0);
         AddOutput(r, alice_, "6", 1);
       },
       "not largest first"},
      {[&](auto* r) {
         for (uint32_t i = 0; i <= 5'000; ++i) AddOutput(r, alice_, "5", i);
       },
       "5001 outputs"},
      {[&](auto* r) { r->mutable_tip()->set_hash("nothex"); }, "block hash"},
  };
  for (const auto& c : cases) {
    AnswerUnspent(node_, c.fill);
    ExpectMalformed(btc_->ListUnspent(asked).status(), c.expected);
  }
}

TEST_F(AdapterUnitTest, SpendingCallsRefuseBadInputBeforeAsking) {
  const int before = node_.calls.load();
  EXPECT_EQ(btc_->ListUnspent(std::vector<std::string>{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(btc_->ListUnspent(std::vector<std::string>(1'001, alice_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(btc_->ListUnspent(std::vector<std::string>{alice_, "nonsense"}).status().message()),
              HasSubstr("addresses[1]"));
  EXPECT_EQ(btc_->ListUnspent(std::vector<std::string>{std::string(91, 'b')}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(eth_->ListUnspent(std::vector<std::string>{carol_}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(btc_->Nonce(alice_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(eth_->Nonce("0x1234").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(btc_->GetTransaction("ABC").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(btc_->GetTransaction(std::string(64, 'A')).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(node_.calls.load(), before);
}

TEST_F(AdapterUnitTest, NoncesFeesAndTransactionStatusAreChecked) {
  node_.nonce = [](const v1::GetNonceRequest&, v1::GetNonceResponse* resp) {
    resp->set_confirmed_nonce(4);
    resp->set_pending_nonce(6);
    return grpc::Status::OK;
  };
  absl::StatusOr<AccountNonce> nonce = eth_->Nonce(carol_);
  ASSERT_TRUE(nonce.ok()) << nonce.status();
  EXPECT_EQ(nonce->confirmed, 4u);
  EXPECT_EQ(nonce->pending, 6u);
  node_.nonce = [](const v1::GetNonceRequest&, v1::GetNonceResponse* resp) {
    resp->set_confirmed_nonce(7);
    resp->set_pending_nonce(6);
    return grpc::Status::OK;
  };
  ExpectMalformed(eth_->Nonce(carol_).status(), "below the confirmed");

  auto fees = [&](std::string sat, std::string base, std::string tip) {
    node_.fee = [=](const v1::GetFeeEstimateRequest&, v1::GetFeeEstimateResponse* resp) {
      resp->set_sat_per_vbyte(sat);
      resp->set_base_fee_per_gas(base);
      resp->set_max_priority_fee_per_gas(tip);
      return grpc::Status::OK;
    };
  };
  fees("3", "0", "0");
  ASSERT_TRUE(btc_->EstimateFee().ok());
  EXPECT_EQ(btc_->EstimateFee()->sat_per_vbyte, base::Amount(3));
  fees("0", "0", "0");
  ExpectMalformed(btc_->EstimateFee().status(), "zero on bitcoin");
  ExpectMalformed(eth_->EstimateFee().status(), "no fee at all");
  fees("1000001", "0", "0");
  ExpectMalformed(btc_->EstimateFee().status(), "above 1000000");
  fees("0", "1000000000000000001", "1");
  ExpectMalformed(eth_->EstimateFee().status(), "base_fee_per_gas");
  fees("0", "1", "one");
  ExpectMalformed(eth_->EstimateFee().status(), "max_priority_fee_per_gas");
  fees("0", "-1", "1");
  ExpectMalformed(eth_->EstimateFee().status(), "base_fee_per_gas");

  auto status = [&](v1::GetTransactionResponse::State state, uint64_t height, std::string hash, uint64_t confirmations) {
    node_.transaction = [=](const v1::GetTransactionRequest&, v1::GetTransactionResponse* resp) {
      SetRef(resp->mutable_tip(), 10, kHashB, kHashA);
      resp->set_state(state);
      resp->set_height(height);
      resp->set_block_hash(hash);
      resp->set_confirmations(confirmations);
      return grpc::Status::OK;
    };
  };
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 8, kHashC, 3);
  absl::StatusOr<TxStatus> tx = btc_->GetTransaction(kHashA);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->state, TxState::kConfirmed);
  EXPECT_EQ(tx->height, 8u);
  EXPECT_EQ(tx->confirmations, 3u);
  status(v1::GetTransactionResponse::STATE_MEMPOOL, 0, "", 0);
  EXPECT_EQ(btc_->GetTransaction(kHashA)->state, TxState::kMempool);
  status(v1::GetTransactionResponse::STATE_UNKNOWN, 0, "", 0);
  EXPECT_EQ(btc_->GetTransaction(kHashA)->state, TxState::kUnknown);
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 11, kHashC, 0);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "outside 1..10");
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 0, kHashC, 11);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "outside 1..10");
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 8, kHashC, 5);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "disagree");
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 8, "zz", 3);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "block hash");
  status(v1::GetTransactionResponse::STATE_CONFIRMED, 10, kHashC, 1);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "not the tip's");
  status(static_cast<v1::GetTransactionResponse::State>(9), 0, "", 0);
  ExpectMalformed(btc_->GetTransaction(kHashA).status(), "state 9");
}

}  // namespace
}  // namespace ringfence::custody::chain
