// chainsim end to end: the real chainsim binary on a temporary state file and port 0, driven
// over gRPC (Node and Control). Credits, mining, tips, blocks and balances; Bitcoin P2WPKH
// spends and Ethereum EIP-1559 and ERC-20 transfers signed with libsecp256k1 test keys,
// accepted, and refused for each rule; reorganisations with and without the transactions;
// dropped broadcasts; restarts (clean and killed) keeping everything; field limits.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proto/chainsim.grpc.pb.h"
#include "rpc/health_client.h"
#include "tests/chainsim/chainsim_process.h"
#include "tests/chainsim/test_wallets.h"
#include "tests/common/temp_dir.h"

namespace ringfence::chainsim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using testing::ChainsimProcess;
using testing::EthTransfer;
using testing::SpendInput;
using testing::SpendOutput;
using testing::TestKey;

constexpr uint64_t kBtc = 100'000'000;
constexpr base::Uint128 kEther = 1'000'000'000'000'000'000ULL;
const std::string kZeroHash(64, '0');

class ChainsimE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    auto p = ChainsimProcess::Start(ChainsimProcess::BinaryFromEnv(), dir_ / "state.db", dir_.path());
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    channel_ = grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials());
    node_ = v1::Node::NewStub(channel_);
    control_ = v1::Control::NewStub(channel_);
  }

  void Restart() {
    ASSERT_EQ(process_->Stop(), 0) << process_->Stderr();
    process_.reset();
    Start();
  }

  v1::BlockRef Tip(const std::string& chain) {
    grpc::ClientContext ctx;
    v1::GetTipRequest req;
    req.set_chain(chain);
    v1::GetTipResponse resp;
    grpc::Status s = node_->GetTip(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tip();
  }

  grpc::Status TryCredit(const std::string& chain, const std::string& address, const std::string& amount,
                         const std::string& token, std::string* txid) {
    grpc::ClientContext ctx;
    v1::CreditRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_amount(amount);
    req.set_token_contract(token);
    v1::CreditResponse resp;
    grpc::Status s = control_->Credit(&ctx, req, &resp);
    if (txid != nullptr) *txid = resp.txid();
    return s;
  }

  std::string Credit(const std::string& chain, const std::string& address, const std::string& amount,
                     const std::string& token = "") {
    std::string txid;
    grpc::Status s = TryCredit(chain, address, amount, token, &txid);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(txid.size(), 64u);
    return txid;
  }

  grpc::Status TryMine(const std::string& chain, uint32_t blocks, v1::BlockRef* tip) {
    grpc::ClientContext ctx;
    v1::MineRequest req;
    req.set_chain(chain);
    req.set_blocks(blocks);
    v1::MineResponse resp;
    grpc::Status s = control_->Mine(&ctx, req, &resp);
    if (tip != nullptr) *tip = resp.tip();
    return s;
  }

  v1::BlockRef Mine(const std::string& chain, uint32_t blocks = 1) {
    v1::BlockRef tip;
    grpc::Status s = TryMine(chain, blocks, &tip);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return tip;
  }

  grpc::Status Broadcast(const std::string& chain, const std::vector<uint8_t>& raw, v1::BroadcastResponse* resp) {
    grpc::ClientContext ctx;
    v1::BroadcastRequest req;
    req.set_chain(chain);
    req.set_raw_transaction(testing::AsString(raw));
    return node_->Broadcast(&ctx, req, resp);
  }

  std::string Broadcasted(const std::string& chain, const std::vector<uint8_t>& raw) {
    v1::BroadcastResponse resp;
    grpc::Status s = Broadcast(chain, raw, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(resp.already_known());
    return resp.txid();
  }

  grpc::Status TryBalance(const std::string& chain, const std::string& address, uint64_t height,
                          const std::string& token, std::string* amount) {
    grpc::ClientContext ctx;
    v1::GetBalanceRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_height(height);
    req.set_token_contract(token);
    v1::GetBalanceResponse resp;
    grpc::Status s = node_->GetBalance(&ctx, req, &resp);
    if (amount != nullptr) *amount = resp.amount();
    return s;
  }

  grpc::Status TryBalances(const std::string& chain, const std::vector<std::string>& addresses, uint64_t height,
                           const std::string& token, v1::GetBalancesResponse* resp) {
    grpc::ClientContext ctx;
    v1::GetBalancesRequest req;
    req.set_chain(chain);
    for (const std::string& a : addresses) req.add_addresses(a);
    req.set_height(height);
    req.set_token_contract(token);
    return node_->GetBalances(&ctx, req, resp);
  }

  std::string Balance(const std::string& chain, const std::string& address, uint64_t height,
                      const std::string& token = "") {
    std::string amount;
    grpc::Status s = TryBalance(chain, address, height, token, &amount);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return amount;
  }

  grpc::Status TryBlock(const std::string& chain, uint64_t height, const std::vector<std::string>& watched,
                        v1::GetBlockResponse* resp) {
    grpc::ClientContext ctx;
    v1::GetBlockRequest req;
    req.set_chain(chain);
    req.set_height(height);
    for (const std::string& w : watched) req.add_watched_addresses(w);
    return node_->GetBlock(&ctx, req, resp);
  }

  v1::GetBlockResponse Block(const std::string& chain, uint64_t height, const std::vector<std::string>& watched) {
    v1::GetBlockResponse resp;
    grpc::Status s = TryBlock(chain, height, watched, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Reorg(const std::string& chain, uint32_t depth, bool keep, v1::ReorgResponse* resp) {
    grpc::ClientContext ctx;
    v1::ReorgRequest req;
    req.set_chain(chain);
    req.set_depth(depth);
    req.set_keep_transactions(keep);
    return control_->Reorg(&ctx, req, resp);
  }

  grpc::Status Drop(const std::string& chain, const std::string& txid, v1::DropBroadcastResponse* resp) {
    grpc::ClientContext ctx;
    v1::DropBroadcastRequest req;
    req.set_chain(chain);
    req.set_txid(txid);
    return control_->DropBroadcast(&ctx, req, resp);
  }

  grpc::Status RegisterToken(const std::string& contract, uint32_t decimals) {
    grpc::ClientContext ctx;
    v1::RegisterTokenRequest req;
    req.set_contract(contract);
    req.set_decimals(decimals);
    v1::RegisterTokenResponse resp;
    return control_->RegisterToken(&ctx, req, &resp);
  }

  v1::GetNonceResponse Nonce(const std::string& address) {
    grpc::ClientContext ctx;
    v1::GetNonceRequest req;
    req.set_chain("ethereum");
    req.set_address(address);
    v1::GetNonceResponse resp;
    grpc::Status s = node_->GetNonce(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  ringfence::testing::TempDir dir_{"chainsim-e2e"};
  std::unique_ptr<ChainsimProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> node_;
  std::unique_ptr<v1::Control::Stub> control_;
};

void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& text) {
  EXPECT_EQ(s.error_code(), code) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(text));
}

TEST_F(ChainsimE2eTest, ServesHealthAndStartsAtGenesis) {
  EXPECT_TRUE(rpc::WaitForServing(channel_, v1::Node::service_full_name(), std::chrono::seconds(30)).ok());
  EXPECT_TRUE(rpc::WaitForServing(channel_, v1::Control::service_full_name(), std::chrono::seconds(30)).ok());
  for (const std::string chain : {"bitcoin", "ethereum"}) {
    const v1::BlockRef tip = Tip(chain);
    EXPECT_EQ(tip.height(), 0u);
    EXPECT_EQ(tip.parent_hash(), kZeroHash);
    EXPECT_EQ(tip.hash().size(), 64u);
    EXPECT_NE(tip.hash(), kZeroHash);
  }
  EXPECT_NE(Tip("bitcoin").hash(), Tip("ethereum").hash());
}

TEST_F(ChainsimE2eTest, RefusesANonLoopbackListenAddress) {
  auto p = ChainsimProcess::Start(ChainsimProcess::BinaryFromEnv(), dir_ / "other.db", dir_.path(), "0.0.0.0:0");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("not a loopback address"));
}

TEST_F(ChainsimE2eTest, BitcoinCreditMineTipBlockAndBalances) {
  const TestKey alice(0x11), bob(0x22);
  const v1::BlockRef genesis = Tip("bitcoin");
  const std::string txid = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(5 * kBtc));
  EXPECT_EQ(Tip("bitcoin").height(), 0u) << "a credit waits in the mempool";
  const v1::BlockRef tip = Mine("bitcoin");
  EXPECT_EQ(tip.height(), 1u);
  EXPECT_EQ(tip.parent_hash(), genesis.hash());
  EXPECT_EQ(Tip("bitcoin").hash(), tip.hash());

  const v1::GetBlockResponse block = Block("bitcoin", 1, {alice.BitcoinAddress(), bob.BitcoinAddress()});
  EXPECT_EQ(block.block().hash(), tip.hash());
  EXPECT_EQ(block.transaction_count(), 1u);
  ASSERT_EQ(block.transfers_size(), 1);
  EXPECT_EQ(block.transfers(0).txid(), txid);
  EXPECT_EQ(block.transfers(0).index(), 0u);
  EXPECT_EQ(block.transfers(0).to_address(), alice.BitcoinAddress());
  EXPECT_EQ(block.transfers(0).token_contract(), "");
  EXPECT_EQ(block.transfers(0).amount(), std::to_string(5 * kBtc));
  EXPECT_EQ(Block("bitcoin", 1, {bob.BitcoinAddress()}).transfers_size(), 0);
  // An address in upper case is the same address; the answer is canonical.
  std::string upper = alice.BitcoinAddress();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(Block("bitcoin", 1, {upper}).transfers(0).to_address(), alice.BitcoinAddress());

  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), 0), "0");
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), 1), std::to_string(5 * kBtc));
  v1::GetBlockResponse none;
  ExpectRefused(TryBlock("bitcoin", 2, {}, &none), grpc::StatusCode::NOT_FOUND, "above the bitcoin tip 1");
  ExpectRefused(TryBalance("bitcoin", alice.BitcoinAddress(), 2, "", nullptr), grpc::StatusCode::NOT_FOUND, "height");
  // Mainnet and Ethereum addresses are not regtest addresses.
  ExpectRefused(TryCredit("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1", "", nullptr),
                grpc::StatusCode::INVALID_ARGUMENT, "not a regtest address");
  ExpectRefused(TryCredit("bitcoin", alice.EthAddress(), "1", "", nullptr), grpc::StatusCode::INVALID_ARGUMENT,
                "address");
}

TEST_F(ChainsimE2eTest, BitcoinSpendIsAcceptedAndInvalidSpendsAreRefused) {
  const TestKey alice(0x11), bob(0x22), mallory(0x33);
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  Mine("bitcoin");
  const SpendInput coin{credit, 0, kBtc, alice};

  // Outputs above the inputs.
  v1::BroadcastResponse resp;
  ExpectRefused(Broadcast("bitcoin", testing::SignedSpend({coin}, {{bob.BitcoinAddress(), kBtc + 1}}), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "more than the 100000000 the inputs spend");
  // Signed by a key that is not the one the output pays.
  ExpectRefused(Broadcast("bitcoin",
                          testing::SignedSpend({{credit, 0, kBtc, mallory}}, {{mallory.BitcoinAddress(), kBtc / 2}}),
                          &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "does not hash to the key hash");
  // A valid signature over other outputs (the amount changed after signing).
  std::vector<uint8_t> tampered = testing::SignedSpend({coin}, {{bob.BitcoinAddress(), kBtc / 2}});
  {
    std::vector<uint8_t> other = testing::SignedSpend({coin}, {{bob.BitcoinAddress(), kBtc / 2 + 1}});
    // The first output's value sits at the same offset in both (only the witnesses, after
    // the outputs, may differ in length): give ours the other's value, keep our signature.
    const size_t value_at = 4 + 2 + 1 + 36 + 1 + 4 + 1;  // version, marker+flag, 1 input, outputs count
    std::copy(other.begin() + value_at, other.begin() + value_at + 8, tampered.begin() + value_at);
  }
  ExpectRefused(Broadcast("bitcoin", tampered, &resp), grpc::StatusCode::FAILED_PRECONDITION,
                "signature does not verify");
  // Not a transaction at all.
  ExpectRefused(Broadcast("bitcoin", {0x02, 0x00, 0x00}, &resp), grpc::StatusCode::FAILED_PRECONDITION, "decode");
  // Unknown input.
  ExpectRefused(Broadcast("bitcoin", testing::SignedSpend({{std::string(64, 'a'), 0, kBtc, alice}},
                                                          {{bob.BitcoinAddress(), 1000}}),
                          &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "not an unspent output");

  // The valid spend: 0.6 to Bob, 0.39 change, 0.01 fee.
  const std::vector<uint8_t> spend =
      testing::SignedSpend({coin}, {{bob.BitcoinAddress(), 60'000'000}, {alice.BitcoinAddress(), 39'000'000}});
  const std::string spend_txid = Broadcasted("bitcoin", spend);
  EXPECT_EQ(spend_txid.size(), 64u);
  // The same bytes again: already known, same txid, not an error.
  ASSERT_TRUE(Broadcast("bitcoin", spend, &resp).ok());
  EXPECT_TRUE(resp.already_known());
  EXPECT_EQ(resp.txid(), spend_txid);
  // A different spend of the same coin: a double spend within the mempool.
  ExpectRefused(Broadcast("bitcoin", testing::SignedSpend({coin}, {{mallory.BitcoinAddress(), 90'000'000}}), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "not an unspent output");
  // Spending the unconfirmed change is fine (a chain of mempool transactions).
  const std::string child = Broadcasted(
      "bitcoin", testing::SignedSpend({{spend_txid, 1, 39'000'000, alice}}, {{bob.BitcoinAddress(), 38'000'000}}));

  const v1::BlockRef tip = Mine("bitcoin");
  const v1::GetBlockResponse block = Block("bitcoin", tip.height(), {bob.BitcoinAddress()});
  EXPECT_EQ(block.transaction_count(), 2u);
  ASSERT_EQ(block.transfers_size(), 2);
  EXPECT_EQ(block.transfers(0).txid(), spend_txid);
  EXPECT_EQ(block.transfers(0).index(), 0u);
  EXPECT_EQ(block.transfers(0).amount(), "60000000");
  EXPECT_EQ(block.transfers(1).txid(), child);
  EXPECT_EQ(Balance("bitcoin", bob.BitcoinAddress(), tip.height()), "98000000");
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), tip.height()), "0");
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), tip.height() - 1), std::to_string(kBtc));
  // Once mined, a double spend is refused against the chain too, and the spend is still known.
  ExpectRefused(Broadcast("bitcoin", testing::SignedSpend({coin}, {{mallory.BitcoinAddress(), 90'000'000}}), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "not an unspent output");
  ASSERT_TRUE(Broadcast("bitcoin", spend, &resp).ok());
  EXPECT_TRUE(resp.already_known());
}

TEST_F(ChainsimE2eTest, EthereumTransferIsAcceptedAndInvalidOnesAreRefused) {
  const TestKey alice(0x44), bob(0x55);
  Credit("ethereum", alice.EthAddress(), base::Uint128ToString(kEther));
  Mine("ethereum");

  const EthTransfer pay = testing::Pay(bob.EthAddress(), kEther / 10);
  v1::BroadcastResponse resp;
  EthTransfer wrong_chain = pay;
  wrong_chain.chain_id = 1;
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, wrong_chain), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "chain id: expected 1337, got 1");
  EthTransfer too_much = pay;
  too_much.value = kEther;  // plus the fee: more than the balance
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, too_much), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "insufficient funds");
  EthTransfer future = pay;
  future.nonce = 1;
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, future), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "nonce: expected 0");
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(bob, pay), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "insufficient funds: balance 0");

  const std::string txid = Broadcasted("ethereum", testing::SignedEthTransfer(alice, pay));
  EXPECT_EQ(Nonce(alice.EthAddress()).pending_nonce(), 1u);
  EXPECT_EQ(Nonce(alice.EthAddress()).confirmed_nonce(), 0u);
  // Nonce 0 again, with other contents: reused.
  EthTransfer reuse = pay;
  reuse.value = 1;
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, reuse), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "nonce: expected 1 (the sender's next nonce), got 0");

  const v1::BlockRef tip = Mine("ethereum");
  EXPECT_EQ(Nonce(alice.EthAddress()).confirmed_nonce(), 1u);
  const v1::GetBlockResponse block = Block("ethereum", tip.height(), {bob.EthAddress()});
  ASSERT_EQ(block.transfers_size(), 1);
  EXPECT_EQ(block.transfers(0).txid(), txid);
  EXPECT_EQ(block.transfers(0).to_address(), bob.EthAddress());
  EXPECT_EQ(block.transfers(0).amount(), base::Uint128ToString(kEther / 10));
  // The whole fee signed for (21,000 gas at 1 gwei) is charged.
  EXPECT_EQ(Balance("ethereum", bob.EthAddress(), tip.height()), base::Uint128ToString(kEther / 10));
  EXPECT_EQ(Balance("ethereum", alice.EthAddress(), tip.height()),
            base::Uint128ToString(kEther - kEther / 10 - 21'000ULL * 1'000'000'000ULL));
  // A lowercase watched address matches the EIP-55 answer.
  std::string lower = bob.EthAddress();
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  EXPECT_EQ(Block("ethereum", tip.height(), {lower}).transfers_size(), 1);
}

TEST_F(ChainsimE2eTest, Erc20TokenTransfers) {
  const TestKey alice(0x44), bob(0x55);
  const std::string token = TestKey(0x66).EthAddress();
  std::string ignored;
  ExpectRefused(TryCredit("ethereum", alice.EthAddress(), "1000", token, &ignored),
                grpc::StatusCode::FAILED_PRECONDITION, "is not a registered token");
  ASSERT_TRUE(RegisterToken(token, 6).ok());
  ASSERT_TRUE(RegisterToken(token, 6).ok()) << "the same registration again is a no-op";
  ExpectRefused(RegisterToken(token, 18), grpc::StatusCode::FAILED_PRECONDITION, "registered with 6 decimals");

  const std::string minted = Credit("ethereum", alice.EthAddress(), "1000000", token);
  Credit("ethereum", alice.EthAddress(), base::Uint128ToString(kEther));
  v1::BlockRef tip = Mine("ethereum");
  v1::GetBlockResponse block = Block("ethereum", tip.height(), {alice.EthAddress()});
  ASSERT_EQ(block.transfers_size(), 2);
  EXPECT_EQ(block.transfers(0).txid(), minted);
  EXPECT_EQ(block.transfers(0).token_contract(), token);
  EXPECT_EQ(block.transfers(1).token_contract(), "");
  EXPECT_EQ(Balance("ethereum", alice.EthAddress(), tip.height(), token), "1000000");

  const EthTransfer transfer = testing::TokenCall(token, bob.EthAddress(), 250'000);
  v1::BroadcastResponse resp;
  EthTransfer overspend = transfer;
  overspend.data = testing::Erc20TransferData(bob.EthAddress(), 1'000'001);
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, overspend), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "token balance: 1000000 is below the transfer's 1000001");
  EthTransfer with_value = transfer;
  with_value.value = 1;
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, with_value), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "accepts no ether");
  EthTransfer bad_data = transfer;
  bad_data.data.pop_back();
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, bad_data), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "data: not ERC-20 transfer calldata");
  EthTransfer call_elsewhere = testing::Pay(bob.EthAddress(), 0);
  call_elsewhere.data = {0x01};
  ExpectRefused(Broadcast("ethereum", testing::SignedEthTransfer(alice, call_elsewhere), &resp),
                grpc::StatusCode::FAILED_PRECONDITION, "data: must be empty");

  const std::string txid = Broadcasted("ethereum", testing::SignedEthTransfer(alice, transfer));
  tip = Mine("ethereum");
  block = Block("ethereum", tip.height(), {bob.EthAddress()});
  ASSERT_EQ(block.transfers_size(), 1);
  EXPECT_EQ(block.transfers(0).txid(), txid);
  EXPECT_EQ(block.transfers(0).index(), 0u);
  EXPECT_EQ(block.transfers(0).to_address(), bob.EthAddress());
  EXPECT_EQ(block.transfers(0).token_contract(), token);
  EXPECT_EQ(block.transfers(0).amount(), "250000");
  EXPECT_EQ(Balance("ethereum", bob.EthAddress(), tip.height(), token), "250000");
  EXPECT_EQ(Balance("ethereum", alice.EthAddress(), tip.height(), token), "750000");
  EXPECT_EQ(Balance("ethereum", bob.EthAddress(), tip.height()), "0") << "no ether moved";
  ExpectRefused(TryBalance("ethereum", bob.EthAddress(), tip.height(), TestKey(0x77).EthAddress(), nullptr),
                grpc::StatusCode::NOT_FOUND, "not a registered token");
}

TEST_F(ChainsimE2eTest, ReorgKeepingTransactionsReturnsThemToTheMempool) {
  const TestKey alice(0x11);
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), "5000");
  Mine("bitcoin", 2);
  const std::string old_block1 = Block("bitcoin", 1, {}).block().hash();
  const std::string old_block2 = Block("bitcoin", 2, {}).block().hash();

  v1::ReorgResponse reorg;
  ASSERT_TRUE(Reorg("bitcoin", 2, /*keep=*/true, &reorg).ok());
  EXPECT_EQ(reorg.tip().height(), 3u);
  EXPECT_THAT(reorg.evicted_txids(), IsEmpty());
  const v1::GetBlockResponse new_block1 = Block("bitcoin", 1, {alice.BitcoinAddress()});
  EXPECT_NE(new_block1.block().hash(), old_block1);
  EXPECT_NE(Block("bitcoin", 2, {}).block().hash(), old_block2);
  EXPECT_EQ(new_block1.block().parent_hash(), Block("bitcoin", 0, {}).block().hash());
  EXPECT_EQ(Block("bitcoin", 2, {}).block().parent_hash(), new_block1.block().hash());
  EXPECT_EQ(new_block1.transfers_size(), 0);
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), 3), "0");

  const v1::BlockRef tip = Mine("bitcoin");
  const v1::GetBlockResponse again = Block("bitcoin", tip.height(), {alice.BitcoinAddress()});
  ASSERT_EQ(again.transfers_size(), 1);
  EXPECT_EQ(again.transfers(0).txid(), credit) << "the same transaction, mined again";
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), tip.height()), "5000");
}

TEST_F(ChainsimE2eTest, ReorgWithoutTransactionsDropsThemAndTheirDependants) {
  const TestKey alice(0x11), bob(0x22);
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  Mine("bitcoin");
  const std::string spend =
      Broadcasted("bitcoin", testing::SignedSpend({{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc - 1000}}));

  v1::ReorgResponse reorg;
  ASSERT_TRUE(Reorg("bitcoin", 1, /*keep=*/false, &reorg).ok());
  EXPECT_EQ(reorg.tip().height(), 2u);
  EXPECT_THAT(reorg.evicted_txids(), ElementsAre(credit, spend));
  const v1::BlockRef tip = Mine("bitcoin");
  EXPECT_EQ(Block("bitcoin", tip.height(), {}).transaction_count(), 0u);
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), tip.height()), "0");
  EXPECT_EQ(Balance("bitcoin", bob.BitcoinAddress(), tip.height()), "0");

  // The genesis block stays.
  ExpectRefused(Reorg("bitcoin", 4, false, &reorg), grpc::StatusCode::FAILED_PRECONDITION, "genesis");
  ExpectRefused(Reorg("bitcoin", 0, false, &reorg), grpc::StatusCode::INVALID_ARGUMENT, "depth");
  ExpectRefused(Reorg("bitcoin", 101, false, &reorg), grpc::StatusCode::INVALID_ARGUMENT, "depth");
}

TEST_F(ChainsimE2eTest, EthereumReorgEvictsNoncesThatNoLongerFollow) {
  const TestKey alice(0x44), bob(0x55);
  Credit("ethereum", alice.EthAddress(), base::Uint128ToString(kEther));
  Mine("ethereum");
  const std::string first = Broadcasted("ethereum", testing::SignedEthTransfer(alice, testing::Pay(bob.EthAddress(), 1, 0)));
  Mine("ethereum");
  const std::string second = Broadcasted("ethereum", testing::SignedEthTransfer(alice, testing::Pay(bob.EthAddress(), 2, 1)));
  v1::ReorgResponse reorg;
  ASSERT_TRUE(Reorg("ethereum", 1, /*keep=*/false, &reorg).ok());
  EXPECT_THAT(reorg.evicted_txids(), ElementsAre(first, second));
  EXPECT_EQ(Nonce(alice.EthAddress()).pending_nonce(), 0u);
}

TEST_F(ChainsimE2eTest, DropBroadcastRemovesTheTransactionAndItsDependants) {
  const TestKey alice(0x11), bob(0x22);
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  const std::string spend =
      Broadcasted("bitcoin", testing::SignedSpend({{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc - 1000}}));
  const std::string other = Credit("bitcoin", bob.BitcoinAddress(), "777");
  v1::DropBroadcastResponse dropped;
  ASSERT_TRUE(Drop("bitcoin", credit, &dropped).ok());
  EXPECT_THAT(dropped.evicted_txids(), ElementsAre(credit, spend));
  ExpectRefused(Drop("bitcoin", credit, &dropped), grpc::StatusCode::NOT_FOUND, "not in the bitcoin mempool");
  ExpectRefused(Drop("bitcoin", "XYZ", &dropped), grpc::StatusCode::INVALID_ARGUMENT, "txid");
  const v1::BlockRef tip = Mine("bitcoin");
  const v1::GetBlockResponse block = Block("bitcoin", tip.height(), {alice.BitcoinAddress(), bob.BitcoinAddress()});
  ASSERT_EQ(block.transfers_size(), 1);
  EXPECT_EQ(block.transfers(0).txid(), other);
}

TEST_F(ChainsimE2eTest, RestartKeepsChainsMempoolsAndTokens) {
  const TestKey alice(0x11), bob(0x22), carol(0x44);
  const std::string token = TestKey(0x66).EthAddress();
  ASSERT_TRUE(RegisterToken(token, 6).ok());
  const std::string credit = Credit("bitcoin", alice.BitcoinAddress(), std::to_string(kBtc));
  Credit("ethereum", carol.EthAddress(), base::Uint128ToString(kEther));
  Credit("ethereum", carol.EthAddress(), "500", token);
  Mine("bitcoin", 3);
  Mine("ethereum");
  Broadcasted("ethereum", testing::SignedEthTransfer(carol, testing::Pay(bob.EthAddress(), 5)));
  Mine("ethereum");
  v1::ReorgResponse reorg;
  ASSERT_TRUE(Reorg("bitcoin", 1, true, &reorg).ok());
  const std::string pending =
      Broadcasted("bitcoin", testing::SignedSpend({{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc - 500}}));
  const v1::BlockRef btc_tip = Tip("bitcoin");
  const v1::BlockRef eth_tip = Tip("ethereum");

  Restart();
  EXPECT_EQ(Tip("bitcoin").hash(), btc_tip.hash());
  EXPECT_EQ(Tip("ethereum").hash(), eth_tip.hash());
  for (uint64_t h = 0; h <= btc_tip.height(); ++h) EXPECT_FALSE(Block("bitcoin", h, {}).block().hash().empty());
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), 1), std::to_string(kBtc));
  EXPECT_EQ(Balance("ethereum", carol.EthAddress(), eth_tip.height(), token), "500");
  EXPECT_EQ(Balance("ethereum", bob.EthAddress(), eth_tip.height()), "5");
  EXPECT_EQ(Nonce(carol.EthAddress()).confirmed_nonce(), 1u);
  // The mempool survived: the pending spend is known and gets mined now.
  v1::BroadcastResponse resp;
  ASSERT_TRUE(Broadcast("bitcoin", testing::SignedSpend({{credit, 0, kBtc, alice}}, {{bob.BitcoinAddress(), kBtc - 500}}),
                        &resp).ok());
  EXPECT_TRUE(resp.already_known());
  const v1::BlockRef tip = Mine("bitcoin");
  EXPECT_EQ(Block("bitcoin", tip.height(), {bob.BitcoinAddress()}).transfers(0).txid(), pending);

  // Killed outright: every acknowledged change is still there.
  const std::string late = Credit("ethereum", bob.EthAddress(), "42");
  const v1::BlockRef eth_after = Mine("ethereum");
  process_->Kill();
  process_.reset();
  Start();
  EXPECT_EQ(Tip("ethereum").hash(), eth_after.hash());
  EXPECT_EQ(Tip("bitcoin").hash(), tip.hash());
  EXPECT_EQ(Block("ethereum", eth_after.height(), {bob.EthAddress()}).transfers(0).txid(), late);
}

TEST_F(ChainsimE2eTest, OversizedAndMalformedFieldsAreInvalidArgumentNamingTheField) {
  const TestKey alice(0x11);
  std::string ignored;
  ExpectRefused(TryCredit("dogecoin", alice.BitcoinAddress(), "1", "", &ignored), grpc::StatusCode::INVALID_ARGUMENT,
                "chain: unknown chain");
  ExpectRefused(TryCredit(std::string(17, 'b'), alice.BitcoinAddress(), "1", "", &ignored),
                grpc::StatusCode::INVALID_ARGUMENT, "chain: 17 bytes, at most 16");
  ExpectRefused(TryCredit("bitcoin", std::string(91, 'a'), "1", "", &ignored), grpc::StatusCode::INVALID_ARGUMENT,
                "address: 91 bytes, at most 90");
  ExpectRefused(TryCredit("ethereum", alice.EthAddress(), "1", std::string(43, 'a'), &ignored),
                grpc::StatusCode::INVALID_ARGUMENT, "token_contract: 43 bytes, at most 42");
  ExpectRefused(TryCredit("bitcoin", alice.BitcoinAddress(), std::string(40, '1'), "", &ignored),
                grpc::StatusCode::INVALID_ARGUMENT, "amount: 40 bytes, at most 39");
  for (const std::string bad : {"", "-1", "01", "1.5", "340282366920938463463374607431768211456"}) {
    ExpectRefused(TryCredit("ethereum", alice.EthAddress(), bad, "", &ignored), grpc::StatusCode::INVALID_ARGUMENT,
                  "amount");
  }
  ExpectRefused(TryCredit("bitcoin", alice.BitcoinAddress(), "0", "", &ignored), grpc::StatusCode::INVALID_ARGUMENT,
                "above zero");
  ExpectRefused(TryCredit("bitcoin", alice.BitcoinAddress(), "2100000000000001", "", &ignored),
                grpc::StatusCode::INVALID_ARGUMENT, "21,000,000 BTC");
  ExpectRefused(TryCredit("bitcoin", alice.BitcoinAddress(), "1", alice.EthAddress(), &ignored),
                grpc::StatusCode::INVALID_ARGUMENT, "token_contract: the bitcoin chain has no tokens");

  v1::GetBlockResponse block;
  ExpectRefused(TryBlock("bitcoin", 0, std::vector<std::string>(10'001, alice.BitcoinAddress()), &block),
                grpc::StatusCode::INVALID_ARGUMENT, "watched_addresses: 10001 entries, at most 10000");
  ExpectRefused(TryBlock("bitcoin", 0, {alice.BitcoinAddress(), std::string(91, 'x')}, &block),
                grpc::StatusCode::INVALID_ARGUMENT, "watched_addresses[1]: 91 bytes");
  ExpectRefused(TryBlock("bitcoin", 0, {alice.EthAddress()}, &block), grpc::StatusCode::INVALID_ARGUMENT,
                "watched_addresses[0]");
  v1::BroadcastResponse resp;
  ExpectRefused(Broadcast("bitcoin", std::vector<uint8_t>(400'001, 0), &resp), grpc::StatusCode::INVALID_ARGUMENT,
                "raw_transaction: 400001 bytes, at most 400000");
  ExpectRefused(Broadcast("bitcoin", {}, &resp), grpc::StatusCode::INVALID_ARGUMENT, "raw_transaction: empty");
  ExpectRefused(RegisterToken(std::string(43, 'a'), 6), grpc::StatusCode::INVALID_ARGUMENT, "contract: 43 bytes");
  ExpectRefused(RegisterToken(alice.EthAddress(), 39), grpc::StatusCode::INVALID_ARGUMENT, "decimals: 39");
  ExpectRefused(TryMine("bitcoin", 0, nullptr), grpc::StatusCode::INVALID_ARGUMENT, "blocks: 0");
  ExpectRefused(TryMine("bitcoin", 1001, nullptr), grpc::StatusCode::INVALID_ARGUMENT, "blocks: 1001");

  grpc::ClientContext ctx;
  v1::CreditBatchRequest batch;
  v1::CreditBatchResponse batch_resp;
  for (int i = 0; i < 3; ++i) {
    v1::CreditRequest* c = batch.add_credits();
    c->set_chain("bitcoin");
    c->set_address(alice.BitcoinAddress());
    c->set_amount(i == 2 ? "0" : "5");
  }
  ExpectRefused(control_->CreditBatch(&ctx, batch, &batch_resp), grpc::StatusCode::INVALID_ARGUMENT,
                "credits[2].amount");
  // Nothing of the refused batch was kept.
  EXPECT_EQ(Block("bitcoin", Mine("bitcoin").height(), {}).transaction_count(), 0u);
}

TEST_F(ChainsimE2eTest, GetBalancesAnswersEachAddressAsGetBalanceDoes) {
  const TestKey alice(0x11), bob(0x22), carol(0x33);
  Credit("bitcoin", alice.BitcoinAddress(), "7000");
  Credit("bitcoin", carol.BitcoinAddress(), "5");
  const uint64_t first = Mine("bitcoin").height();
  Credit("bitcoin", alice.BitcoinAddress(), "1000");
  const uint64_t second = Mine("bitcoin").height();
  // In the order asked, bob holding nothing, an upper-case address read as its canonical form.
  std::string upper = carol.BitcoinAddress();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const std::vector<std::string> asked = {bob.BitcoinAddress(), alice.BitcoinAddress(), upper};
  for (uint64_t height : {first, second}) {
    v1::GetBalancesResponse resp;
    ASSERT_TRUE(TryBalances("bitcoin", asked, height, "", &resp).ok());
    EXPECT_EQ(resp.height(), height);
    ASSERT_EQ(resp.amounts_size(), 3);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(resp.amounts(i), Balance("bitcoin", asked[i], height)) << i;
  }
  v1::GetBalancesResponse resp;
  ASSERT_TRUE(TryBalances("bitcoin", asked, second, "", &resp).ok());
  EXPECT_EQ(resp.amounts(1), "8000");

  // A token's balances.
  const std::string token = TestKey(0x66).EthAddress();
  ASSERT_TRUE(RegisterToken(token, 6).ok());
  Credit("ethereum", alice.EthAddress(), "250", token);
  Credit("ethereum", bob.EthAddress(), "9");  // ether, not the token
  const uint64_t eth = Mine("ethereum").height();
  v1::GetBalancesResponse tokens;
  ASSERT_TRUE(TryBalances("ethereum", {bob.EthAddress(), alice.EthAddress()}, eth, token, &tokens).ok());
  ASSERT_EQ(tokens.amounts_size(), 2);
  EXPECT_EQ(tokens.amounts(0), "0");
  EXPECT_EQ(tokens.amounts(1), "250");
}

TEST_F(ChainsimE2eTest, GetBalancesRefusesBadRequestsNamingTheEntry) {
  const TestKey alice(0x11), bob(0x22);
  const uint64_t tip = Mine("bitcoin").height();
  v1::GetBalancesResponse resp;
  ExpectRefused(TryBalances("bitcoin", {}, tip, "", &resp), grpc::StatusCode::INVALID_ARGUMENT,
                "addresses: 0 entries, 1..1000");
  std::vector<std::string> many;
  for (int i = 0; i < 1001; ++i) many.push_back(TestKey(static_cast<uint8_t>(1 + i % 250)).BitcoinAddress());
  ExpectRefused(TryBalances("bitcoin", many, tip, "", &resp), grpc::StatusCode::INVALID_ARGUMENT,
                "addresses: 1001 entries");
  ExpectRefused(TryBalances("bitcoin", {alice.BitcoinAddress(), std::string(91, 'a')}, tip, "", &resp),
                grpc::StatusCode::INVALID_ARGUMENT, "addresses[1]: 91 bytes, at most 90");
  ExpectRefused(TryBalances("bitcoin", {alice.BitcoinAddress(), alice.EthAddress()}, tip, "", &resp),
                grpc::StatusCode::INVALID_ARGUMENT, "addresses[1]");
  // The same address twice, once in upper case: its balance would be counted twice.
  std::string upper = alice.BitcoinAddress();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  ExpectRefused(TryBalances("bitcoin", {alice.BitcoinAddress(), bob.BitcoinAddress(), upper}, tip, "", &resp),
                grpc::StatusCode::INVALID_ARGUMENT, "addresses[2]: " + alice.BitcoinAddress() + " is asked about twice");
  ExpectRefused(TryBalances("bitcoin", {alice.BitcoinAddress()}, tip + 1, "", &resp), grpc::StatusCode::NOT_FOUND,
                "height");
  ExpectRefused(TryBalances("bitcoin", {alice.BitcoinAddress()}, tip, alice.EthAddress(), &resp),
                grpc::StatusCode::INVALID_ARGUMENT, "token_contract: the bitcoin chain has no tokens");
  ExpectRefused(TryBalances("ethereum", {alice.EthAddress()}, 0, std::string(43, 'a'), &resp),
                grpc::StatusCode::INVALID_ARGUMENT, "token_contract: 43 bytes, at most 42");
  ExpectRefused(TryBalances("ethereum", {alice.EthAddress()}, 0, TestKey(0x77).EthAddress(), &resp),
                grpc::StatusCode::NOT_FOUND, "is not a registered token");
  ExpectRefused(TryBalances("dogecoin", {alice.BitcoinAddress()}, 0, "", &resp), grpc::StatusCode::INVALID_ARGUMENT,
                "chain");
  EXPECT_EQ(resp.amounts_size(), 0) << "a refused request answers nothing";
}

TEST_F(ChainsimE2eTest, CreditBatchIsAllOrNothing) {
  const TestKey alice(0x11), carol(0x44);
  grpc::ClientContext ctx;
  v1::CreditBatchRequest batch;
  for (int i = 0; i < 1000; ++i) {
    v1::CreditRequest* c = batch.add_credits();
    c->set_chain(i % 2 == 0 ? "bitcoin" : "ethereum");
    c->set_address(i % 2 == 0 ? alice.BitcoinAddress() : carol.EthAddress());
    c->set_amount(std::to_string(i + 1));
  }
  v1::CreditBatchResponse resp;
  grpc::Status s = control_->CreditBatch(&ctx, batch, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.txids_size(), 1000);
  const v1::BlockRef btc = Mine("bitcoin");
  const v1::BlockRef eth = Mine("ethereum");
  EXPECT_EQ(Block("bitcoin", btc.height(), {alice.BitcoinAddress()}).transfers_size(), 500);
  EXPECT_EQ(Block("ethereum", eth.height(), {carol.EthAddress()}).transfers_size(), 500);
  // 1 + 3 + ... + 999 and 2 + 4 + ... + 1000
  EXPECT_EQ(Balance("bitcoin", alice.BitcoinAddress(), btc.height()), "250000");
  EXPECT_EQ(Balance("ethereum", carol.EthAddress(), eth.height()), "250500");
}

}  // namespace
}  // namespace ringfence::chainsim
