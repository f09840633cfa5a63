// The withdrawal executor over a real SQLite store and a real chainsim (in process, over gRPC
// through the ChainsimAdapter): approved -> signing -> signed -> broadcast -> confirmed with
// the ledger settled; a stop ("crash") at every step boundary followed by a fresh executor
// over the same store completes each withdrawal once, with one signature and one accepted
// broadcast; a signer refusal and a build that cannot be made fail the withdrawal with the hold
// released and nothing broadcast; concurrent withdrawals never share an input.
//
// The signer here is a stand-in that signs with fixed test keys and keeps signerd's replay
// rule (the same request id and transaction get the same signed bytes; another transaction
// for the id is refused): signerd itself, with approval digest v2 and wallet bindings, is in
// another engineer's hands at the time of writing, and its end-to-end run with custodyd is
// listed as not done in the executor's document.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>

#include "base/hex.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_tx.h"
#include "chain/ecdsa.h"
#include "chain/hashes.h"
#include "custody/chain/chainsim_adapter.h"
#include "custody/audit_log.h"
#include "custody/executor.h"
#include "custody/ledger.h"
#include "proto/chainsim.grpc.pb.h"
#include "tests/chain/test_signing.h"
#include "tests/chainsim/test_wallets.h"
#include "tests/custody/store_fixture.h"
#include "tools/chainsim/service.h"

namespace ringfence::custody::testing {
namespace {

namespace codec = ::ringfence::chain;
namespace sv1 = ringfence::signer::v1;
using ::testing::HasSubstr;
using ringfence::chainsim::testing::TestKey;
using store::WithdrawalRow;
using store::WithdrawalState;

constexpr uint64_t kBtc = 100'000'000;
constexpr uint64_t kFeeCap = 100'000;
constexpr base::Uint128 kEther = 1'000'000'000'000'000'000ULL;
constexpr base::Uint128 kEthFeeCap = 1'000'000'000'000'000ULL;  // 0.001 ETH

// Keys by id: deposit keys k11.., and the change key signerd would make.
class TestKeys final : public SignerClient {
 public:
  absl::StatusOr<SignerKey> CreateKey(std::string_view, const WalletBinding& binding) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++created_;
    SignerKey key;
    key.key_id = "c0ffee00000000000000000000000077";
    const auto pub = codec::testing::CompressedPubkey(TestKey(0x77).secret);
    key.public_key.assign(pub.begin(), pub.end());
    key.binding = binding;
    return key;
  }
  absl::StatusOr<SignerKey> GetKey(std::string_view) override { return absl::NotFoundError("not used"); }
  int created() {
    std::lock_guard<std::mutex> lock(mu_);
    return created_;
  }

 private:
  std::mutex mu_;
  int created_ = 0;
};

const std::map<std::string, uint8_t>& KeyFills() {
  static const std::map<std::string, uint8_t> fills = {
      {"k11", 0x11}, {"k12", 0x12}, {"k13", 0x13}, {"k14", 0x14}, {"c0ffee00000000000000000000000077", 0x77}};
  return fills;
}

class TestTxSigner final : public TxSignerClient {
 public:
  absl::StatusOr<sv1::SignTransactionResponse> SignTransaction(const sv1::SignTransactionRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (!refusal_.ok()) return refusal_;
    if (unavailable_ > 0) {
      --unavailable_;
      return absl::UnavailableError("token busy");
    }
    if (req.kind() != sv1::REQUEST_KIND_WITHDRAWAL) return absl::FailedPreconditionError("request_malformed: kind");
    std::string fingerprint = req.unsigned_tx();
    for (const auto& in : req.bitcoin_inputs()) fingerprint += in.key_id() + std::to_string(in.amount());
    if (auto it = done_.find(req.request_id()); it != done_.end()) {
      if (it->second.first != fingerprint) return absl::FailedPreconditionError("request_conflict");
      sv1::SignTransactionResponse replay = it->second.second;
      replay.set_replayed(true);
      return replay;
    }
    if (req.chain() == "ethereum") return SignEthereum(req, fingerprint);
    auto tx = codec::ParseTransaction(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(req.unsigned_tx().data()), req.unsigned_tx().size()));
    if (!tx.ok()) return absl::FailedPreconditionError("tx_decode");
    const codec::Bip143Shared shared = codec::Bip143Precompute(*tx);
    for (size_t i = 0; i < tx->inputs.size(); ++i) {
      auto fill = KeyFills().find(req.bitcoin_inputs(static_cast<int>(i)).key_id());
      if (fill == KeyFills().end()) return absl::FailedPreconditionError("input_key_unknown");
      const TestKey key(fill->second);
      const auto pub = codec::testing::CompressedPubkey(key.secret);
      const auto sighash = *codec::Bip143Sighash(*tx, shared, i, codec::P2wpkhScriptCode(codec::Hash160(pub)),
                                                 req.bitcoin_inputs(static_cast<int>(i)).amount(), codec::kSighashAll);
      const auto sig = codec::testing::SignDigest(key.secret, sighash);
      EXPECT_TRUE(codec::SetP2wpkhWitness(*tx, i, codec::P2wpkhSignatureItem(sig.rs), pub).ok());
    }
    const std::vector<uint8_t> raw = codec::Serialize(*tx);
    sv1::SignTransactionResponse resp;
    resp.set_signed_tx(std::string(raw.begin(), raw.end()));
    resp.set_txid(codec::DisplayHex(codec::Txid(*tx)));
    ++signatures_;
    approvals_seen_ = req.approvals_size();
    done_[req.request_id()] = {fingerprint, resp};
    return resp;
  }
  // REQUIRES: mu_ held.
  absl::StatusOr<sv1::SignTransactionResponse> SignEthereum(const sv1::SignTransactionRequest& req,
                                                            const std::string& fingerprint) {
    auto fill = KeyFills().find(req.ethereum_key_id());
    if (fill == KeyFills().end()) return absl::FailedPreconditionError("sender_key_unknown");
    auto tx = codec::DecodeUnsignedEip1559(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(req.unsigned_tx().data()), req.unsigned_tx().size()));
    if (!tx.ok()) return absl::FailedPreconditionError("tx_decode");
    if (!nonces_.insert({req.ethereum_key_id(), tx->nonce}).second) return absl::FailedPreconditionError("nonce_reused");
    const TestKey key(fill->second);
    const auto sig = codec::testing::SignDigest(key.secret, codec::Eip1559SigningHash(*tx));
    auto raw = codec::EncodeSignedEip1559(*tx, *codec::MakeEthSignature(sig.rs, sig.recid));
    if (!raw.ok()) return raw.status();
    sv1::SignTransactionResponse resp;
    resp.set_signed_tx(std::string(raw->begin(), raw->end()));
    resp.set_txid("0x" + base::HexEncode(codec::EthTxHash(*raw)));
    ++signatures_;
    done_[req.request_id()] = {fingerprint, resp};
    return resp;
  }

  void Refuse(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    refusal_ = std::move(s);
  }
  void UnavailableFor(int calls) {
    std::lock_guard<std::mutex> lock(mu_);
    unavailable_ = calls;
  }
  int signatures() {
    std::lock_guard<std::mutex> lock(mu_);
    return signatures_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int approvals_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return approvals_seen_;
  }

 private:
  std::mutex mu_;
  absl::Status refusal_;
  int unavailable_ = 0;
  int calls_ = 0;
  int signatures_ = 0;
  int approvals_seen_ = 0;
  std::map<std::string, std::pair<std::string, sv1::SignTransactionResponse>> done_;
  std::set<std::pair<std::string, uint64_t>> nonces_;
};

class ExecutorTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    auto server = ringfence::chainsim::ChainsimServer::Start((dir_ / "chain.db").string(), "127.0.0.1:0");
    ASSERT_TRUE(server.ok()) << server.status();
    chainsim_ = *std::move(server);
    auto adapter = chain::ChainsimAdapter::Create("bitcoin", chainsim_->address());
    ASSERT_TRUE(adapter.ok());
    btc_ = *std::move(adapter);
    control_ = ringfence::chainsim::v1::Control::NewStub(
        grpc::CreateChannel(chainsim_->address(), grpc::InsecureChannelCredentials()));

    adapter = chain::ChainsimAdapter::Create("ethereum", chainsim_->address());
    ASSERT_TRUE(adapter.ok());
    eth_ = *std::move(adapter);
    AssetConfig eth;
    eth.id = "ETH";
    eth.chain = "ethereum";
    eth.network = "devnet";
    eth.decimals = 18;
    eth.confirmations = 2;
    config_.assets.push_back(eth);

    AssetConfig btc;
    btc.id = "BTC";
    btc.chain = "bitcoin";
    btc.network = "regtest";
    btc.decimals = 8;
    btc.confirmations = 2;
    config_.assets.push_back(btc);

    AddWallets({"BTC", "ETH"});
    AddClient("c_1");
    // Two deposit addresses of c_1 in the client-hot wallet, funded on the chain and in the books.
    for (const auto& [key_id, fill, amount] : {std::tuple{"k11", 0x11, 3 * kBtc}, std::tuple{"k12", 0x12, 2 * kBtc}}) {
      auto txn = Write();
      ASSERT_TRUE(txn->InsertAddress({TestKey(fill).BitcoinAddress(), "BTC", "BTC:client-hot", "c_1", key_id, 1000}).ok());
      ASSERT_TRUE(txn->Commit().ok());
      Credit(TestKey(fill).BitcoinAddress(), amount);
      Deposit("c_1", "BTC", base::Amount(amount), std::string("fund:") + key_id);
    }
    Mine(1);
  }

  void Credit(const std::string& address, base::Uint128 amount, const std::string& chain = "bitcoin") {
    grpc::ClientContext ctx;
    ringfence::chainsim::v1::CreditRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_amount(base::Amount(amount).ToBaseUnitString());
    ringfence::chainsim::v1::CreditResponse resp;
    ASSERT_TRUE(control_->Credit(&ctx, req, &resp).ok());
  }

  void Mine(uint32_t blocks, const std::string& chain = "bitcoin") {
    grpc::ClientContext ctx;
    ringfence::chainsim::v1::MineRequest req;
    req.set_chain(chain);
    req.set_blocks(blocks);
    ringfence::chainsim::v1::MineResponse resp;
    ASSERT_TRUE(control_->Mine(&ctx, req, &resp).ok());
  }

  ringfence::chainsim::v1::GetBroadcastCountResponse Broadcasts(const std::string& txid = "",
                                                               const std::string& chain = "bitcoin") {
    grpc::ClientContext ctx;
    ringfence::chainsim::v1::GetBroadcastCountRequest req;
    req.set_chain(chain);
    req.set_txid(txid);
    ringfence::chainsim::v1::GetBroadcastCountResponse resp;
    EXPECT_TRUE(control_->GetBroadcastCount(&ctx, req, &resp).ok());
    return resp;
  }

  // An approved withdrawal of c_1 with its hold (amount + fee cap), as the request side leaves it.
  void Approve(const std::string& id, base::Uint128 amount, const std::string& destination = TestKey(0x22).BitcoinAddress(),
               const std::string& asset = "BTC") {
    const bool eth = asset == "ETH";
    const base::Uint128 fee_cap = eth ? kEthFeeCap : kFeeCap;
    auto txn = Write();
    store::PolicyDecisionRow d{0, "withdrawal", id, "ab", "{}", 1000};
    auto decision = txn->InsertPolicyDecision(d);
    ASSERT_TRUE(decision.ok());
    WithdrawalRow row;
    row.withdrawal_id = id;
    row.client_id = "c_1";
    row.asset_id = asset;
    row.amount = base::Amount(amount);
    row.destination = destination;
    row.source_wallet_id = asset + ":client-hot";
    row.chain = eth ? "ethereum" : "bitcoin";
    row.network = eth ? "devnet" : "regtest";
    row.fee_cap = base::Amount(fee_cap);
    row.fee_asset = asset;
    row.fee_charged_to_client = true;
    row.requester = "platform-1";
    row.state = WithdrawalState::kApproved;
    row.expires_at_unix_s = 4'000'000'000;
    row.decision_id = *decision;
    row.policy_hash = "ab";
    row.created_unix_ms = 1000;
    row.updated_unix_ms = 1000;
    ASSERT_TRUE(txn->InsertWithdrawal(row).ok());
    const base::Amount hold(amount + fee_cap);
    store::JournalEntry e;
    e.asset_id = asset;
    e.kind = "withdrawal_hold";
    e.reference = id;
    e.created_unix_ms = 1000;
    e.postings = {{ClientAvailableAccount("c_1", asset), true, hold}, {ClientHeldAccount("c_1", asset), false, hold}};
    auto placed = Ledger::Post(*txn, e);
    ASSERT_TRUE(placed.ok()) << placed.status();
    ASSERT_TRUE(txn->InsertHold({id, "c_1", asset, hold, store::HoldState::kHeld, *placed, 0}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  std::unique_ptr<WithdrawalExecutor> Executor(ExecutorOptions options = {}) {
    return std::make_unique<WithdrawalExecutor>(config_, *store_, env_, keys_, signer_,
                                                std::map<std::string, chain::ChainAdapter*>{{"bitcoin", btc_.get()},
                                                                                            {"ethereum", eth_.get()}},
                                                std::move(options));
  }

  WithdrawalRow Get(const std::string& id) {
    auto txn = Read();
    auto row = txn->GetWithdrawal(id);
    EXPECT_TRUE(row.ok() && row->has_value()) << id;
    return row.ok() && row->has_value() ? **row : WithdrawalRow{};
  }

  base::Amount Available(const std::string& asset = "BTC") {
    auto txn = Read();
    return Ledger::ClientPosition(*txn, "c_1", asset)->available;
  }
  base::Amount Held() {
    auto txn = Read();
    return Ledger::ClientPosition(*txn, "c_1", "BTC")->held;
  }
  base::Amount WalletHolding() {
    auto txn = Read();
    return *Ledger::WalletHolding(*txn, "BTC:client-hot");
  }

  // Runs passes (mining between them) until `id` is final, at most `passes` times.
  void RunToFinal(WithdrawalExecutor& executor, const std::string& id, int passes = 6) {
    for (int i = 0; i < passes && !store::IsFinal(Get(id).state); ++i) {
      auto pass = executor.RunOnce();
      ASSERT_TRUE(pass.ok()) << pass.status();
      Mine(1);
    }
  }

  Config config_;
  FixedEnv env_{1'700'000'000'000};
  TestKeys keys_;
  TestTxSigner signer_;
  std::unique_ptr<ringfence::chainsim::ChainsimServer> chainsim_;
  std::unique_ptr<chain::ChainsimAdapter> btc_;
  std::unique_ptr<chain::ChainsimAdapter> eth_;
  std::unique_ptr<ringfence::chainsim::v1::Control::Stub> control_;
};

TEST_F(ExecutorTest, ApprovedToConfirmedAndSettled) {
  Approve("w_0000000000000001", kBtc);
  auto executor = Executor();
  auto pass = executor->RunOnce();
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->claimed, 1);
  EXPECT_EQ(pass->signed_, 1);
  EXPECT_EQ(pass->broadcast, 1);
  WithdrawalRow row = Get("w_0000000000000001");
  EXPECT_EQ(row.state, WithdrawalState::kBroadcast);
  EXPECT_EQ(Broadcasts(row.txid).accepted(), 1u);
  EXPECT_TRUE(Held().is_zero()) << "the hold moved to in flight at broadcast";
  ExpectInvariantsHold({"BTC"});

  Mine(1);
  pass = executor->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->confirmed, 0) << "one confirmation of the two the asset needs";
  Mine(1);
  pass = executor->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->confirmed, 1);
  row = Get("w_0000000000000001");
  EXPECT_EQ(row.state, WithdrawalState::kConfirmed);
  ASSERT_TRUE(row.network_fee.has_value());
  const base::Amount fee = *row.network_fee;
  EXPECT_GT(fee, base::Amount(0));
  EXPECT_LE(fee, base::Amount(kFeeCap));
  // The client paid the amount and the actual fee; the rest of the hold came back.
  EXPECT_EQ(Available(), base::Amount(5 * kBtc - kBtc - static_cast<uint64_t>(fee.base_units())));
  EXPECT_EQ(WalletHolding(), Available());
  EXPECT_TRUE(Held().is_zero());
  ExpectInvariantsHold({"BTC"});
  // On the chain: the destination got the amount; one accepted broadcast, one signature.
  EXPECT_EQ(*btc_->BalanceAt(TestKey(0x22).BitcoinAddress(), "", btc_->Tip()->height), base::Amount(kBtc));
  EXPECT_EQ(Broadcasts().accepted(), 1u);
  EXPECT_EQ(signer_.signatures(), 1);
  EXPECT_EQ(keys_.created(), 1) << "the wallet's change key is made once";
  // Every step is in the audit log, in order, and the chain verifies.
  {
    auto txn = Read();
    auto entries = txn->ListAudit(0, 10'000);
    ASSERT_TRUE(entries.ok());
    std::vector<std::string> steps;
    for (const store::AuditRow& e : *entries) {
      if (e.subject == "w_0000000000000001") steps.push_back(e.action);
    }
    EXPECT_EQ(steps, (std::vector<std::string>{"withdrawal.claimed", "withdrawal.signed", "withdrawal.broadcast",
                                               "withdrawal.confirmed"}));
    auto verified = AuditLog::Verify(*txn);
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->ok) << verified->reason;
  }
  // Change went to the change key, and the chain agrees with the books.
  const std::string change = TestKey(0x77).BitcoinAddress();
  base::Amount on_chain;
  for (const std::string& a : {TestKey(0x11).BitcoinAddress(), TestKey(0x12).BitcoinAddress(), change}) {
    on_chain = *on_chain.CheckedAdd(*btc_->BalanceAt(a, "", btc_->Tip()->height));
  }
  EXPECT_EQ(on_chain, WalletHolding());
}

// The change address is one of the wallet's addresses (no client), so the chain observation and
// the ingestor see it; a change key recorded before schema 3 (its idempotency record only)
// gets its address row on first use, and no second key is made.
TEST_F(ExecutorTest, TheChangeAddressIsRecordedAsTheWalletsOwnAlsoForAnOlderKey) {
  const std::string key_id = "c0ffee00000000000000000000000077";
  const std::string change = TestKey(0x77).BitcoinAddress();
  {
    auto txn = Write();
    const std::string value = key_id + " " + change;
    ASSERT_TRUE(txn->PutIdempotency({"executor/change-key/BTC:client-hot", "ringfence.custody.executor/ChangeKey",
                                     base::HexEncode(codec::Sha256(std::span<const uint8_t>(
                                         reinterpret_cast<const uint8_t*>(value.data()), value.size()))),
                                     value})
                    .ok());
    ASSERT_TRUE(txn->Commit().ok());
    EXPECT_FALSE(Read()->GetAddress(change)->has_value());
  }
  Approve("w_0000000000000001", kBtc);
  auto executor = Executor();
  auto pass = executor->RunOnce();
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->signed_, 1);
  EXPECT_EQ(keys_.created(), 0) << "the recorded change key is used, not a new one";
  auto row = Read()->GetAddress(change);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->wallet_id, "BTC:client-hot");
  EXPECT_EQ((*row)->asset_id, "BTC");
  EXPECT_EQ((*row)->key_id, key_id);
  EXPECT_TRUE((*row)->client_id.empty());
  // The broadcast transaction is ours: found by its txid for the ingestor's filter.
  const WithdrawalRow w = Get("w_0000000000000001");
  auto own = Read()->FindWithdrawalByTxid("bitcoin", w.txid);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, std::optional<std::string>("w_0000000000000001"));
}

TEST_F(ExecutorTest, ASignerRefusalFailsItReleasesTheHoldAndBroadcastsNothing) {
  Approve("w_0000000000000002", kBtc);
  signer_.Refuse(absl::PermissionDeniedError("quorum_not_met: 0 of 1 approvals"));
  auto executor = Executor();
  ASSERT_TRUE(executor->RunOnce().ok());
  const WithdrawalRow row = Get("w_0000000000000002");
  EXPECT_EQ(row.state, WithdrawalState::kFailed);
  EXPECT_THAT(row.reason, HasSubstr("quorum_not_met"));
  EXPECT_EQ(Available(), base::Amount(5 * kBtc));
  EXPECT_TRUE(Held().is_zero());
  EXPECT_EQ(Broadcasts().received(), 0u);
  ExpectInvariantsHold({"BTC"});
}

TEST_F(ExecutorTest, AnUnavailableSignerIsAskedAgainWithTheSameRequest) {
  Approve("w_0000000000000003", kBtc);
  signer_.UnavailableFor(2);
  auto executor = Executor();
  ASSERT_TRUE(executor->RunOnce().ok());
  EXPECT_EQ(Get("w_0000000000000003").state, WithdrawalState::kSigning);
  ASSERT_TRUE(executor->RunOnce().ok());
  EXPECT_EQ(Get("w_0000000000000003").state, WithdrawalState::kSigning);
  RunToFinal(*executor, "w_0000000000000003");
  EXPECT_EQ(Get("w_0000000000000003").state, WithdrawalState::kConfirmed);
  EXPECT_EQ(signer_.signatures(), 1);
  ExpectInvariantsHold({"BTC"});
}

TEST_F(ExecutorTest, AWithdrawalTheWalletCannotPayFailsBeforeSigning) {
  // The books say 6 BTC (a deposit the chain does not show), the chain holds 5.
  Deposit("c_1", "BTC", base::Amount(kBtc), "books-only");
  Approve("w_0000000000000004", 5 * kBtc + kBtc / 2);
  auto executor = Executor();
  ASSERT_TRUE(executor->RunOnce().ok());
  const WithdrawalRow row = Get("w_0000000000000004");
  EXPECT_EQ(row.state, WithdrawalState::kFailed);
  EXPECT_THAT(row.reason, HasSubstr("insufficient_funds"));
  EXPECT_EQ(signer_.calls(), 0);
  EXPECT_EQ(Available(), base::Amount(6 * kBtc));
  EXPECT_EQ(Broadcasts().received(), 0u);
  ExpectInvariantsHold({"BTC"});
}

TEST_F(ExecutorTest, ConcurrentWithdrawalsNeverShareAnInput) {
  // More coins, so that several withdrawals can be in flight at once.
  for (int i = 0; i < 6; ++i) {
    Credit(TestKey(0x13).BitcoinAddress(), kBtc / 2);
    Deposit("c_1", "BTC", base::Amount(kBtc / 2), "fund:k13:" + std::to_string(i));
  }
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertAddress({TestKey(0x13).BitcoinAddress(), "BTC", "BTC:client-hot", "c_1", "k13", 1000}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Mine(1);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("w_00000000000001" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    Approve(ids.back(), kBtc / 4);
  }
  ExecutorOptions options;
  options.parallelism = 4;
  auto executor = Executor(options);
  auto pass = executor->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->broadcast, 6);
  std::set<std::pair<std::string, uint32_t>> inputs;
  for (const std::string& id : ids) {
    const WithdrawalRow row = Get(id);
    ASSERT_EQ(row.state, WithdrawalState::kBroadcast) << id << " " << row.reason;
    auto tx = codec::ParseTransaction(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(row.signed_tx.data()),
                                                               row.signed_tx.size()));
    ASSERT_TRUE(tx.ok());
    for (const auto& in : tx->inputs) {
      EXPECT_TRUE(inputs.emplace(codec::DisplayHex(in.prevout.txid), in.prevout.vout).second) << id;
    }
  }
  Mine(2);
  ASSERT_TRUE(executor->RunOnce().ok());
  for (const std::string& id : ids) EXPECT_EQ(Get(id).state, WithdrawalState::kConfirmed) << id;
  EXPECT_EQ(Broadcasts().accepted(), 6u);
  ExpectInvariantsHold({"BTC"});
}

TEST_F(ExecutorTest, EthereumWithdrawalsInFlightTogetherTakeSuccessiveNonces) {
  const TestKey sender(0x14);
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertAddress({sender.EthAddress(), "ETH", "ETH:client-hot", "c_1", "k14", 1000}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Credit(sender.EthAddress(), kEther, "ethereum");
  Deposit("c_1", "ETH", base::Amount(kEther), "fund:k14");
  Mine(1, "ethereum");
  const std::string to = TestKey(0x55).EthAddress();
  Approve("w_00000000000000e1", kEther / 10, to, "ETH");
  Approve("w_00000000000000e2", kEther / 20, to, "ETH");
  auto executor = Executor();
  // Signed in parallel, the two may reach chainsim out of nonce order; chainsim refuses a nonce
  // ahead of the sender's next one, and the executor broadcasts it again on a later pass.
  int broadcast = 0;
  for (int passes = 0; passes < 20 && broadcast < 2; ++passes) {
    auto pass = executor->RunOnce();
    ASSERT_TRUE(pass.ok());
    broadcast += pass->broadcast;
  }
  EXPECT_EQ(broadcast, 2);
  std::set<uint64_t> nonces;
  for (const char* id : {"w_00000000000000e1", "w_00000000000000e2"}) {
    const WithdrawalRow row = Get(id);
    ASSERT_EQ(row.state, WithdrawalState::kBroadcast) << row.reason;
    auto signed_tx = codec::DecodeSignedEip1559(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(row.signed_tx.data()), row.signed_tx.size()));
    ASSERT_TRUE(signed_tx.ok());
    nonces.insert(signed_tx->tx.nonce);
  }
  EXPECT_EQ(nonces, (std::set<uint64_t>{0, 1}));
  Mine(2, "ethereum");
  ASSERT_TRUE(executor->RunOnce().ok());
  const base::Uint128 fee = 21'000ULL * 3'000'000'000ULL;  // chainsim charges gas limit x max fee
  for (const char* id : {"w_00000000000000e1", "w_00000000000000e2"}) {
    const WithdrawalRow row = Get(id);
    EXPECT_EQ(row.state, WithdrawalState::kConfirmed) << id;
    EXPECT_EQ(row.network_fee, base::Amount(fee));
  }
  const base::Amount left(kEther - kEther / 10 - kEther / 20 - 2 * fee);
  EXPECT_EQ(Available("ETH"), left);
  EXPECT_EQ(*eth_->BalanceAt(sender.EthAddress(), "", eth_->Tip()->height), left) << "the books agree with the chain";
  EXPECT_EQ(*eth_->BalanceAt(to, "", eth_->Tip()->height), base::Amount(kEther / 10 + kEther / 20));
  EXPECT_EQ(Broadcasts("", "ethereum").accepted(), 2u);
  ExpectInvariantsHold({"BTC", "ETH"});
}

// A stop at each step boundary, as a SIGKILL there would leave things, then a fresh executor
// over the same store: the withdrawal completes once, with one signature and one accepted
// broadcast.
class ExecutorCrashTest : public ExecutorTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ExecutorCrashTest, ResumesWithoutASecondSignatureOrBroadcast) {
  const std::string id = "w_00000000000000c1";
  Approve(id, kBtc);
  {
    ExecutorOptions options;
    const std::string stop_at = GetParam();
    options.after_step = [stop_at](const std::string&, const std::string& step) { return step != stop_at; };
    auto crashing = Executor(options);
    auto pass = crashing->RunOnce();
    ASSERT_TRUE(pass.ok());
    if (stop_at == "settling") {
      // The first pass leaves it broadcast; settling comes with the confirmations.
      EXPECT_FALSE(pass->stopped);
      Mine(3);
      pass = crashing->RunOnce();
      ASSERT_TRUE(pass.ok());
    }
    EXPECT_TRUE(pass->stopped);
  }
  const WithdrawalRow after_crash = Get(id);
  EXPECT_FALSE(store::IsFinal(after_crash.state)) << store::WithdrawalStateName(after_crash.state);
  auto restarted = Executor();
  RunToFinal(*restarted, id);
  const WithdrawalRow row = Get(id);
  ASSERT_EQ(row.state, WithdrawalState::kConfirmed) << row.reason;
  EXPECT_EQ(signer_.signatures(), 1);
  EXPECT_EQ(Broadcasts(row.txid).accepted(), 1u);
  EXPECT_EQ(Broadcasts().accepted(), 1u);
  EXPECT_LE(Broadcasts(row.txid).received(), 2u);
  EXPECT_EQ(*btc_->BalanceAt(TestKey(0x22).BitcoinAddress(), "", btc_->Tip()->height), base::Amount(kBtc));
  EXPECT_EQ(Available(), base::Amount(5 * kBtc - kBtc - static_cast<uint64_t>(row.network_fee->base_units())));
  ExpectInvariantsHold({"BTC"});
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, ExecutorCrashTest,
                         ::testing::Values("claimed", "answered", "signed", "sent", "broadcast", "settling"));

}  // namespace
}  // namespace ringfence::custody::testing
