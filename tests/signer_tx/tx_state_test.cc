// TxState (request id, nonce and outpoint rules over signerd's real SQLite database) and the
// GroupCommitter (durable batches; a failing write fails alone).
#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "signer/store.h"
#include "signer/tx/group_commit.h"
#include "signer/tx/tx_state.h"
#include "tests/common/temp_dir.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

CheckedTx Btc(const std::string& id, uint8_t fingerprint, std::vector<uint8_t> outpoint_tags) {
  CheckedTx c;
  c.chain = ChainKind::kBitcoin;
  c.request_id = id;
  c.fingerprint.fill(fingerprint);
  for (uint8_t tag : outpoint_tags) {
    chain::OutPoint o;
    o.txid.fill(tag);
    o.vout = tag;
    c.outpoints.push_back(o);
  }
  return c;
}

CheckedTx Eth(const std::string& id, uint8_t fingerprint, uint64_t chain_id, uint8_t sender, uint64_t nonce) {
  CheckedTx c;
  c.chain = ChainKind::kEthereum;
  c.request_id = id;
  c.fingerprint.fill(fingerprint);
  EthNonceClaim n;
  n.chain_id = chain_id;
  n.sender.fill(sender);
  n.nonce = nonce;
  c.nonce = n;
  return c;
}

class TxStateTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    committer_.reset();
    state_.reset();
    store_.reset();
    store_ = *SignerStore::Open((dir_ / "signer.db").string());
    state_ = *TxState::Open(store_.get());
    committer_ = std::make_unique<GroupCommitter>(store_.get());
  }
  // Reserve + durable write + commit, as TransactionSigner does.
  absl::Status Sign(const CheckedTx& c) {
    auto d = state_->Reserve(c);
    if (!d.ok()) return d.status();
    if (d->replay) return absl::AlreadyExistsError("replay");
    SignedRecord rec;
    rec.fingerprint = c.fingerprint;
    rec.signed_tx = {1, 2, 3};
    rec.txid = "txid-" + c.request_id;
    auto st = committer_->Submit([&](SignerStore::Txn& txn) -> absl::Status {
      auto e = txn.AppendLog(1, "tx_signed", "", {{"request_id", std::vector<uint8_t>(c.request_id.begin(), c.request_id.end())}});
      if (!e.ok()) return e.status();
      rec.log_sequence = e->seq;
      return state_->WriteRows(txn, c, rec);
    });
    if (!st.ok()) {
      state_->Release(c);
      return st;
    }
    state_->Commit(c, rec);
    return absl::OkStatus();
  }

  ringfence::testing::TempDir dir_{"signer_tx_state"};
  std::unique_ptr<SignerStore> store_;
  std::unique_ptr<TxState> state_;
  std::unique_ptr<GroupCommitter> committer_;
};

TEST_F(TxStateTest, RulesTableAcrossARestart) {
  ASSERT_TRUE(Sign(Btc("r1", 0xa1, {1, 2})).ok());
  ASSERT_TRUE(Sign(Eth("r2", 0xa2, 1337, 9, 5)).ok());
  for (bool reopened : {false, true}) {
    if (reopened) Open();
    SCOPED_TRACE(reopened ? "after reopening" : "before reopening");
    struct Case {
      CheckedTx tx;
      const char* expect;  // rule prefix, or "replay"
    } cases[] = {
        {Btc("r1", 0xa1, {1, 2}), "replay"},
        {Btc("r1", 0xb1, {7}), "request_conflict: "},
        {Btc("r3", 0xa3, {3, 2}), "outpoint_spent: "},
        {Eth("r2", 0xa2, 1337, 9, 5), "replay"},
        {Eth("r4", 0xa4, 1337, 9, 5), "nonce_reused: "},
    };
    for (const auto& c : cases) {
      auto d = state_->Reserve(c.tx);
      if (std::string(c.expect) == "replay") {
        ASSERT_TRUE(d.ok()) << d.status();
        ASSERT_TRUE(d->replay.has_value());
        EXPECT_EQ(d->replay->txid, "txid-" + c.tx.request_id);
      } else {
        ASSERT_FALSE(d.ok());
        EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_THAT(std::string(d.status().message()), StartsWith(c.expect));
      }
    }
    // The same nonce on another chain id, or of another sender, is another nonce.
    EXPECT_TRUE(Sign(Eth(reopened ? "r5b" : "r5", 0xa5, reopened ? 2 : 1, 9, 5)).ok());
    EXPECT_TRUE(Sign(Eth(reopened ? "r6b" : "r6", 0xa6, 1337, reopened ? 11 : 10, 5)).ok());
  }
  EXPECT_TRUE(store_->VerifyLog().ok());
}

TEST_F(TxStateTest, ReleasedClaimsAreFreeAgain) {
  auto c = Btc("r1", 0xa1, {1});
  ASSERT_TRUE(state_->Reserve(c).ok());
  auto other = Btc("r2", 0xa2, {1});
  EXPECT_THAT(std::string(state_->Reserve(other).status().message()), StartsWith("outpoint_spent: "));
  auto in_flight_conflict = Btc("r1", 0xff, {9});
  EXPECT_THAT(std::string(state_->Reserve(in_flight_conflict).status().message()),
              HasSubstr("is being signed for another transaction"));
  state_->Release(c);
  EXPECT_TRUE(Sign(other).ok());
}

TEST_F(TxStateTest, IdenticalRequestInFlightWaitsForTheFirst) {
  auto c = Btc("r1", 0xa1, {1});
  ASSERT_TRUE(state_->Reserve(c).ok());
  std::atomic<bool> replayed{false};
  std::thread waiter([&] {
    auto d = state_->Reserve(c);
    replayed = d.ok() && d->replay.has_value();
  });
  SignedRecord rec;
  rec.fingerprint = c.fingerprint;
  rec.txid = "first";
  state_->Commit(c, rec);
  waiter.join();
  EXPECT_TRUE(replayed);
}

TEST_F(TxStateTest, GroupCommitterBatchesAndIsolatesAFailingWrite) {
  constexpr int kWriters = 24;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = committer_->Submit([i](SignerStore::Txn& txn) -> absl::Status {
        // Writer 7 uses a kind the log refuses: only it must fail.
        auto e = txn.AppendLog(1, i == 7 ? "Bad Kind" : "tx_test", "", {});
        return e.status();
      });
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) {
    if (i == 7) {
      EXPECT_EQ(results[i].code(), absl::StatusCode::kUnavailable);
      EXPECT_THAT(std::string(results[i].message()), HasSubstr("kind"));
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    }
  }
  auto log = store_->ReadLog();
  ASSERT_TRUE(log.ok());
  size_t written = 0;
  for (const auto& e : *log) written += e.kind == "tx_test";
  EXPECT_EQ(written, static_cast<size_t>(kWriters - 1));
  EXPECT_LE(committer_->batches(), committer_->writes());
  EXPECT_TRUE(store_->VerifyLog().ok());
}

}  // namespace
}  // namespace ringfence::signer::tx
