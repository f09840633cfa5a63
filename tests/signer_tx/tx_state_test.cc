// TxState (request id, nonce and outpoint rules over signerd's real SQLite database, with
// only the claims in flight in memory) and the GroupCommitter (durable batches; a failing
// write fails alone).
#include <atomic>
#include <map>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "signer/store.h"
#include "signer/tx/group_commit.h"
#include "signer/tx/tx_state.h"
#include "tests/common/temp_dir.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
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
  // Reserve + durable write + commit, as TransactionSigner does. `record` receives what
  // was stored.
  absl::Status Sign(const CheckedTx& c, std::vector<uint8_t> signed_tx = {1, 2, 3},
                    SignedRecord* record = nullptr) {
    auto d = state_->Reserve(c);
    if (!d.ok()) return d.status();
    if (d->replay) return absl::AlreadyExistsError("replay");
    SignedRecord rec;
    rec.fingerprint = c.fingerprint;
    rec.signed_tx = std::move(signed_tx);
    rec.txid = "txid-" + c.request_id;
    if (auto st = WriteDurably(c, rec); !st.ok()) return st;  // the claim releases itself
    d->claim.Commit();
    if (record != nullptr) *record = rec;
    return absl::OkStatus();
  }
  // The durable write of a signed request: its log entry and rows in one batch.
  absl::Status WriteDurably(const CheckedTx& c, SignedRecord& rec) {
    return committer_->Submit([&](SignerStore::Txn& txn) -> absl::Status {
      auto e = txn.AppendLog(1, "tx_signed", "", {{"request_id", std::vector<uint8_t>(c.request_id.begin(), c.request_id.end())}});
      if (!e.ok()) return e.status();
      rec.log_sequence = e->seq;
      return state_->WriteRows(txn, c, rec);
    });
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
  auto first = state_->Reserve(c);
  ASSERT_TRUE(first.ok());
  auto other = Btc("r2", 0xa2, {1});
  EXPECT_THAT(std::string(state_->Reserve(other).status().message()), StartsWith("outpoint_spent: "));
  auto in_flight_conflict = Btc("r1", 0xff, {9});
  EXPECT_THAT(std::string(state_->Reserve(in_flight_conflict).status().message()),
              HasSubstr("is being signed for another transaction"));
  first->claim.Release();
  EXPECT_FALSE(first->claim.held());
  EXPECT_TRUE(Sign(other).ok());
}

// An exception between Reserve and Commit (here thrown by the test where TransactionSigner
// signs and builds the log entry) must not leave the request id, nonce or outpoint claimed:
// the same request is then retried and signed.
TEST_F(TxStateTest, AnExceptionBeforeCommitReleasesEveryClaim) {
  const auto btc = Btc("r1", 0xa1, {1, 2});
  const auto eth = Eth("r2", 0xa2, 1337, 9, 5);
  for (const CheckedTx& c : {btc, eth}) {
    SCOPED_TRACE(c.request_id);
    try {
      auto d = state_->Reserve(c);
      ASSERT_TRUE(d.ok()) << d.status();
      ASSERT_TRUE(d->claim.held());
      throw std::runtime_error("token fell over");
    } catch (const std::runtime_error&) {
    }
    // Leaked claims would show here at once: another transaction for the id, or another
    // request for the nonce or an outpoint, would be refused as in flight.
    CheckedTx other_tx = c;
    other_tx.fingerprint[0] ^= 1;
    auto conflict = state_->Reserve(other_tx);
    ASSERT_TRUE(conflict.ok()) << conflict.status();
    conflict->claim.Release();
    CheckedTx other_request = c;
    other_request.request_id += "-other";
    auto unclaimed = state_->Reserve(other_request);
    ASSERT_TRUE(unclaimed.ok()) << unclaimed.status();
    unclaimed->claim.Release();
    // The retry of the very same request succeeds, and is then committed for good.
    EXPECT_TRUE(Sign(c).ok());
    auto replay = state_->Reserve(c);
    ASSERT_TRUE(replay.ok()) << replay.status();
    EXPECT_TRUE(replay->replay.has_value());
    EXPECT_FALSE(replay->claim.held());
  }
}

TEST_F(TxStateTest, AMovedClaimIsReleasedOnceByItsLastOwner) {
  auto c = Btc("r1", 0xa1, {1});
  TxClaim outer;
  {
    auto d = state_->Reserve(c);
    ASSERT_TRUE(d.ok());
    outer = std::move(d->claim);
    EXPECT_FALSE(d->claim.held());
  }
  // The decision is gone but the moved claim still holds the outpoint.
  EXPECT_THAT(std::string(state_->Reserve(Btc("r2", 0xa2, {1})).status().message()),
              StartsWith("outpoint_spent: "));
  outer = TxClaim();  // overwriting releases
  EXPECT_TRUE(Sign(Btc("r2", 0xa2, {1})).ok());
}

TEST_F(TxStateTest, IdenticalRequestInFlightWaitsForTheFirst) {
  auto c = Btc("r1", 0xa1, {1});
  auto first = state_->Reserve(c);
  ASSERT_TRUE(first.ok());
  std::atomic<bool> replayed{false};
  std::thread waiter([&] {
    auto d = state_->Reserve(c);
    replayed = d.ok() && d->replay.has_value();
  });
  SignedRecord rec;
  rec.fingerprint = c.fingerprint;
  rec.signed_tx = {7, 7};
  rec.txid = "first";
  // As TransactionSigner does: Commit only once the rows are durable.
  ASSERT_TRUE(WriteDurably(c, rec).ok());
  first->claim.Commit();
  waiter.join();
  EXPECT_TRUE(replayed);
}

// A request id, outpoint and nonce derived from `i`, distinct for every i.
CheckedTx OldBtc(int i) {
  CheckedTx c;
  c.chain = ChainKind::kBitcoin;
  c.request_id = "old-btc-" + std::to_string(i);
  c.fingerprint.fill(0x5a);
  c.fingerprint[0] = static_cast<uint8_t>(i);
  c.fingerprint[1] = static_cast<uint8_t>(i >> 8);
  chain::OutPoint o;
  o.txid.fill(0xc3);
  o.txid[0] = static_cast<uint8_t>(i);
  o.txid[1] = static_cast<uint8_t>(i >> 8);
  o.vout = static_cast<uint32_t>(i % 7);
  c.outpoints.push_back(o);
  return c;
}

CheckedTx OldEth(int i) {
  CheckedTx c = Eth("old-eth-" + std::to_string(i), 0x6b, 1, 0x42, static_cast<uint64_t>(i));
  c.fingerprint[0] = static_cast<uint8_t>(i);
  c.fingerprint[1] = static_cast<uint8_t>(i >> 8);
  return c;
}

std::vector<uint8_t> OldSignedTx(int i) {
  std::vector<uint8_t> bytes(40 + i % 50);
  for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<uint8_t>(i * 31 + k);
  return bytes;
}

TEST_F(TxStateTest, ManyCommittedRequestsAreAnsweredFromTheDatabaseAfterARestart) {
  constexpr int kRequests = 10000;  // of each chain: 20,000 committed requests
  // One transaction through the real write path keeps the setup short.
  ASSERT_TRUE(store_
                  ->Transact([&](SignerStore::Txn& txn) -> absl::Status {
                    for (int i = 0; i < kRequests; ++i) {
                      for (const CheckedTx& c : {OldBtc(i), OldEth(i)}) {
                        SignedRecord rec;
                        rec.fingerprint = c.fingerprint;
                        rec.signed_tx = OldSignedTx(i);
                        rec.txid = "txid-" + c.request_id;
                        rec.log_sequence = static_cast<uint64_t>(i) + 1;
                        if (auto st = state_->WriteRows(txn, c, rec); !st.ok()) return st;
                      }
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  Open();
  for (int i : {0, 1, 255, 256, 4321, kRequests - 1}) {
    SCOPED_TRACE(i);
    for (const CheckedTx& c : {OldBtc(i), OldEth(i)}) {
      auto d = state_->Reserve(c);
      ASSERT_TRUE(d.ok()) << d.status();
      ASSERT_TRUE(d->replay.has_value());
      EXPECT_EQ(d->replay->signed_tx, OldSignedTx(i));
      EXPECT_EQ(d->replay->txid, "txid-" + c.request_id);
      EXPECT_EQ(d->replay->fingerprint, c.fingerprint);
      EXPECT_EQ(d->replay->log_sequence, static_cast<uint64_t>(i) + 1);

      CheckedTx other = c;
      other.fingerprint[31] ^= 1;
      EXPECT_THAT(std::string(state_->Reserve(other).status().message()),
                  StartsWith("request_conflict: request " + c.request_id + " was already signed"));
    }
    CheckedTx spend = OldBtc(i);
    spend.request_id = "new-btc-" + std::to_string(i);
    EXPECT_THAT(std::string(state_->Reserve(spend).status().message()),
                AllOf(StartsWith("outpoint_spent: "), EndsWith("request old-btc-" + std::to_string(i))));
    CheckedTx reuse = OldEth(i);
    reuse.request_id = "new-eth-" + std::to_string(i);
    EXPECT_THAT(std::string(state_->Reserve(reuse).status().message()),
                AllOf(StartsWith("nonce_reused: "), EndsWith("request old-eth-" + std::to_string(i))));
  }
  // What the old rows do not hold is free: the next nonce, another vout of an old txid.
  EXPECT_TRUE(Sign(Eth("new-nonce", 0x71, 1, 0x42, kRequests)).ok());
  CheckedTx other_vout = OldBtc(3);
  other_vout.request_id = "new-vout";
  other_vout.outpoints[0].vout = 99;
  EXPECT_TRUE(Sign(other_vout).ok());
}

TEST_F(TxStateTest, ReplayReturnsTheExactStoredBytes) {
  auto c = Eth("r1", 0xa1, 5, 3, 0);
  std::vector<uint8_t> bytes(700);
  for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<uint8_t>((k * 151) ^ (k >> 3));
  bytes[0] = 0;  // a leading and an embedded zero byte must survive
  bytes[350] = 0;
  SignedRecord stored;
  ASSERT_TRUE(Sign(c, bytes, &stored).ok());
  ASSERT_NE(stored.log_sequence, 0u);
  for (bool reopened : {false, true}) {
    if (reopened) Open();
    SCOPED_TRACE(reopened ? "after reopening" : "before reopening");
    auto d = state_->Reserve(c);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE(d->replay.has_value());
    EXPECT_EQ(d->replay->signed_tx, bytes);
    EXPECT_EQ(d->replay->txid, stored.txid);
    EXPECT_EQ(d->replay->fingerprint, c.fingerprint);
    EXPECT_EQ(d->replay->log_sequence, stored.log_sequence);
  }
}

TEST_F(TxStateTest, ConcurrentRequestsForTheSameClaimHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 12;
  // Per round, every thread asks for: the same request id with its own transaction; its own
  // request id with the same nonce; its own request id spending a shared outpoint and one of
  // its own; and the very same request as every other thread.
  std::vector<std::map<std::string, absl::Status>> results(kThreads);
  auto spend = [](int round, int thread) {
    CheckedTx c = Btc("spend-" + std::to_string(round) + "-" + std::to_string(thread), 0x30, {});
    chain::OutPoint shared;
    shared.txid.fill(0xee);
    shared.vout = static_cast<uint32_t>(round);
    chain::OutPoint own;
    own.txid.fill(0xdd);
    own.vout = static_cast<uint32_t>(round * kThreads + thread);
    c.outpoints = {own, shared};
    return c;
  };
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int r = 0; r < kRounds; ++r) {
        const std::string round = std::to_string(r);
        results[t]["id-" + round] = Sign(Btc("id-" + round, static_cast<uint8_t>(t), {}));
        results[t]["nonce-" + round] =
            Sign(Eth("nonce-" + round + "-" + std::to_string(t), 0x40, 7, 0x77, static_cast<uint64_t>(r)));
        results[t]["spend-" + round] = Sign(spend(r, t));
        results[t]["same-" + round] = Sign(Btc("same-" + round, 0x50, {}));
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::map<std::string, const char*> loser_rule = {
      {"id-", "request_conflict: "}, {"nonce-", "nonce_reused: "}, {"spend-", "outpoint_spent: "}};
  for (int r = 0; r < kRounds; ++r) {
    for (const std::string kind : {"id-", "nonce-", "spend-", "same-"}) {
      SCOPED_TRACE(kind + std::to_string(r));
      int winners = 0;
      for (int t = 0; t < kThreads; ++t) {
        const absl::Status& st = results[t].at(kind + std::to_string(r));
        if (st.ok()) {
          ++winners;
        } else if (kind == "same-") {
          EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << st;  // replayed
        } else {
          EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
          EXPECT_THAT(std::string(st.message()), StartsWith(loser_rule.at(kind)));
        }
      }
      EXPECT_EQ(winners, 1);
    }
  }
  // Refused requests hold nothing: every loser's own outpoint is still free, and the winners'
  // claims are committed.
  for (int r = 0; r < kRounds; ++r) {
    for (int t = 0; t < kThreads; ++t) {
      CheckedTx c = spend(r, t);
      c.request_id = "again-" + c.request_id;
      c.outpoints.pop_back();
      const bool won = results[t].at("spend-" + std::to_string(r)).ok();
      const absl::Status st = Sign(c);
      if (won) {
        EXPECT_THAT(std::string(st.message()), StartsWith("outpoint_spent: "));
      } else {
        EXPECT_TRUE(st.ok()) << st;
      }
    }
  }
  EXPECT_TRUE(store_->VerifyLog().ok());
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
