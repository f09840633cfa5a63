// SqliteStore, schema version 2: whitelist entries and their history, policy decisions,
// withdrawals and their event log, holds, approvals, and the executor's transitions
// (ClaimWithdrawalForSigning, RecordSigned, RecordBroadcast, SettleWithdrawal, FailWithdrawal).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "custody/allocation.h"
#include "custody/config.h"
#include "custody/store/store.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using store::HoldRow;
using store::HoldState;
using store::WhitelistEntryRow;
using store::WhitelistState;
using store::WithdrawalRow;
using store::WithdrawalState;

class WithdrawalStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets();
    AddClient("c_1");
    AddClient("c_2");
    Deposit("c_1", "BTC", Units(100'000), "fund:1");
    Deposit("c_2", "BTC", Units(100'000), "fund:2");
  }

  WhitelistEntryRow Entry(const std::string& id, const std::string& client, const std::string& address) {
    WhitelistEntryRow row;
    row.entry_id = id;
    row.client_id = client;
    row.asset_id = "BTC";
    row.address = address;
    row.requester = "platform-1";
    row.approvals_required = 1;
    row.approval_group = "ops";
    row.expires_at_unix_s = 5000;
    row.policy_hash = "ab";
    row.created_unix_ms = 1000;
    row.updated_unix_ms = 1000;
    return row;
  }

  uint64_t Decision(store::Txn& txn, const std::string& subject) {
    store::PolicyDecisionRow d;
    d.kind = "withdrawal";
    d.subject_id = subject;
    d.policy_hash = "ab";
    d.record_json = "{}";
    d.unix_ms = 1000;
    auto id = txn.InsertPolicyDecision(d);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  WithdrawalRow Withdrawal(const std::string& id, const std::string& client, WithdrawalState state,
                           int64_t created_ms = 1000) {
    WithdrawalRow row;
    row.withdrawal_id = id;
    row.client_id = client;
    row.asset_id = "BTC";
    row.amount = Units(1000);
    row.destination = "bcrt1qdest";
    row.source_wallet_id = "BTC:client-hot";
    row.chain = "bitcoin";
    row.network = "regtest";
    row.fee_cap = Units(50);
    row.fee_asset = "BTC";
    row.fee_charged_to_client = true;
    row.requester = "platform-1";
    row.state = state;
    row.expires_at_unix_s = 9000;
    row.policy_hash = "ab";
    row.created_unix_ms = created_ms;
    row.updated_unix_ms = created_ms;
    return row;
  }

  // Inserts a withdrawal with its decision and a hold (journal entry placed for real).
  void Insert(const WithdrawalRow& input, bool hold = true) {
    auto txn = Write();
    WithdrawalRow row = input;
    row.decision_id = Decision(*txn, row.withdrawal_id);
    auto seq = txn->InsertWithdrawal(row);
    ASSERT_TRUE(seq.ok()) << seq.status();
    if (hold) {
      store::JournalEntry e;
      e.asset_id = "BTC";
      e.kind = "withdrawal_hold";
      e.reference = row.withdrawal_id;
      e.created_unix_ms = 1000;
      e.postings = {{ClientAvailableAccount(row.client_id, "BTC"), true, Units(1050)},
                    {ClientHeldAccount(row.client_id, "BTC"), false, Units(1050)}};
      auto placed = Ledger::Post(*txn, e);
      ASSERT_TRUE(placed.ok()) << placed.status();
      ASSERT_TRUE(txn->InsertHold({row.withdrawal_id, row.client_id, "BTC", Units(1050), HoldState::kHeld, *placed, 0})
                      .ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }

  WithdrawalRow Get(const std::string& id) {
    auto txn = Read();
    auto row = txn->GetWithdrawal(id);
    EXPECT_TRUE(row.ok() && row->has_value()) << id;
    return row.ok() && row->has_value() ? **row : WithdrawalRow{};
  }

  // A journal entry to close a hold with (the executor posts the real ones).
  uint64_t Release(store::Txn& txn, const std::string& client) {
    store::JournalEntry e;
    e.asset_id = "BTC";
    e.kind = "withdrawal_release";
    e.reference = "w";
    e.created_unix_ms = 1000;
    e.postings = {{ClientHeldAccount(client, "BTC"), true, Units(1050)},
                  {ClientAvailableAccount(client, "BTC"), false, Units(1050)}};
    auto seq = Ledger::Post(txn, e);
    EXPECT_TRUE(seq.ok()) << seq.status();
    return seq.ok() ? *seq : 0;
  }
};

TEST_F(WithdrawalStoreTest, StateNamesRoundTripAndUnknownOnesAreRefused) {
  for (int i = 0; i <= static_cast<int>(WithdrawalState::kFailed); ++i) {
    const auto st = static_cast<WithdrawalState>(i);
    EXPECT_EQ(store::ParseWithdrawalState(store::WithdrawalStateName(st)), st);
  }
  for (int i = 0; i <= static_cast<int>(WhitelistState::kRemoved); ++i) {
    const auto st = static_cast<WhitelistState>(i);
    EXPECT_EQ(store::ParseWhitelistState(store::WhitelistStateName(st)), st);
  }
  EXPECT_FALSE(store::ParseWithdrawalState("Approved").has_value());
  EXPECT_FALSE(store::ParseWithdrawalState("").has_value());
  EXPECT_TRUE(store::IsFinal(WithdrawalState::kDenied));
  EXPECT_TRUE(store::IsFinal(WithdrawalState::kConfirmed));
  EXPECT_FALSE(store::IsFinal(WithdrawalState::kBroadcast));
}

TEST_F(WithdrawalStoreTest, OneLiveWhitelistEntryPerClientAssetAndAddress) {
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertWhitelistEntry(Entry("wl_1", "c_1", "bcrt1qa")).ok());
    // Same client, asset, address while the first is live: refused.
    auto dup = txn->InsertWhitelistEntry(Entry("wl_2", "c_1", "bcrt1qa"));
    EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
    // Another client may whitelist the same address.
    ASSERT_TRUE(txn->InsertWhitelistEntry(Entry("wl_3", "c_2", "bcrt1qa")).ok());
    // Same id: refused.
    EXPECT_EQ(txn->InsertWhitelistEntry(Entry("wl_1", "c_1", "bcrt1qb")).code(), absl::StatusCode::kAlreadyExists);
    // Unknown client.
    EXPECT_EQ(txn->InsertWhitelistEntry(Entry("wl_4", "c_9", "bcrt1qb")).code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = Write();
    auto live = txn->GetLiveWhitelistEntry("c_1", "BTC", "bcrt1qa");
    ASSERT_TRUE(live.ok() && live->has_value());
    WhitelistEntryRow row = **live;
    row.state = WhitelistState::kRemoved;
    row.reason = "gone";
    row.updated_unix_ms = 2000;
    ASSERT_TRUE(txn->UpdateWhitelistEntry(row).ok());
    // Removed: the address may be requested again.
    ASSERT_TRUE(txn->InsertWhitelistEntry(Entry("wl_5", "c_1", "bcrt1qa")).ok());
    ASSERT_TRUE(txn->AppendWhitelistChange({0, "wl_5", "requested", "platform:x", "{}", 2000}).ok());
    ASSERT_TRUE(txn->AppendWhitelistChange({0, "wl_5", "approval", "approver:y", "{}", 2001}).ok());
    EXPECT_EQ(txn->AppendWhitelistChange({0, "wl_9", "requested", "x", "{}", 1}).status().code(),
              absl::StatusCode::kNotFound);
    WhitelistEntryRow missing = row;
    missing.entry_id = "wl_none";
    EXPECT_EQ(txn->UpdateWhitelistEntry(missing).code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto live_only = txn->ListWhitelist("c_1", "", false, {});
  ASSERT_TRUE(live_only.ok());
  ASSERT_EQ(live_only->size(), 1u);
  EXPECT_EQ((*live_only)[0].entry_id, "wl_5");
  auto all = txn->ListWhitelist("c_1", "BTC", true, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].entry_id, "wl_1");
  EXPECT_EQ((*all)[0].state, WhitelistState::kRemoved);
  EXPECT_EQ((*all)[0].reason, "gone");
  auto page = txn->ListWhitelist("c_1", "", true, {"wl_1", 1});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].entry_id, "wl_5");
  auto pending = txn->ListPendingWhitelistEntries({});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 2u);  // wl_3 and wl_5
  auto changes = txn->ListWhitelistChanges("wl_5");
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[1].action, "approval");
  EXPECT_LT((*changes)[0].seq, (*changes)[1].seq);
}

TEST_F(WithdrawalStoreTest, HistoryTablesAreAppendOnly) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval));
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertApproval({"w_1", "withdrawal", "alice", std::string(64, 's'), std::string(32, 'd'), 1}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  for (const char* sql : {"UPDATE withdrawal_events SET state = 'approved'", "DELETE FROM withdrawal_events",
                          "UPDATE approvals SET approver_id = 'bob'", "DELETE FROM approvals",
                          "UPDATE policy_decisions SET record_json = '{}'", "DELETE FROM policy_decisions"}) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }
}

TEST_F(WithdrawalStoreTest, WithdrawalRoundTripsWithItsFirstEvent) {
  WithdrawalRow in = Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval);
  in.approvals_required = 2;
  in.approval_group = "ops";
  in.not_before_unix_s = 77;
  in.reason = "";
  Insert(in);
  const WithdrawalRow got = Get("w_1");
  EXPECT_EQ(got.ordinal, 1u);
  EXPECT_EQ(got.amount, Units(1000));
  EXPECT_EQ(got.fee_cap, Units(50));
  EXPECT_TRUE(got.fee_charged_to_client);
  EXPECT_EQ(got.approvals_required, 2u);
  EXPECT_EQ(got.approval_group, "ops");
  EXPECT_EQ(got.not_before_unix_s, 77);
  EXPECT_EQ(got.expires_at_unix_s, 9000);
  EXPECT_EQ(got.state, WithdrawalState::kPendingApproval);
  EXPECT_FALSE(got.network_fee.has_value());
  EXPECT_EQ(got.event_seq, 1u);
  auto txn = Read();
  auto events = txn->ListWithdrawalEvents(0, "", 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].withdrawal_id, "w_1");
  EXPECT_EQ((*events)[0].state, WithdrawalState::kPendingApproval);
  // Unknown client, unknown wallet: refused, nothing written.
  auto w = Write();
  WithdrawalRow bad = Withdrawal("w_2", "c_9", WithdrawalState::kApproved);
  bad.decision_id = got.decision_id;
  EXPECT_EQ(w->InsertWithdrawal(bad).status().code(), absl::StatusCode::kNotFound);
  bad = Withdrawal("w_2", "c_1", WithdrawalState::kApproved);
  bad.decision_id = got.decision_id;
  bad.source_wallet_id = "XRP:client-hot";
  EXPECT_EQ(w->InsertWithdrawal(bad).status().code(), absl::StatusCode::kNotFound);
  bad.source_wallet_id = "BTC:client-hot";
  bad.withdrawal_id = "w_1";
  EXPECT_EQ(w->InsertWithdrawal(bad).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(WithdrawalStoreTest, ListingFiltersAndPagesNewestFirst) {
  Insert(Withdrawal("w_a", "c_1", WithdrawalState::kPendingApproval));
  Insert(Withdrawal("w_b", "c_2", WithdrawalState::kApproved));
  Insert(Withdrawal("w_c", "c_1", WithdrawalState::kDenied), /*hold=*/false);
  auto txn = Read();
  auto all = txn->ListWithdrawals({}, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].withdrawal_id, "w_c");
  EXPECT_EQ((*all)[2].withdrawal_id, "w_a");
  auto c1 = txn->ListWithdrawals({"c_1", "", {}, {}}, {});
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->size(), 2u);
  auto states = txn->ListWithdrawals({"", "BTC", {WithdrawalState::kApproved, WithdrawalState::kDenied}, {}}, {});
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ((*states)[0].withdrawal_id, "w_c");
  EXPECT_EQ((*states)[1].withdrawal_id, "w_b");
  auto page1 = txn->ListWithdrawals({}, {"", 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  auto page2 = txn->ListWithdrawals({}, {std::to_string(page1->back().ordinal), 2});
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].withdrawal_id, "w_a");
  EXPECT_EQ(txn->ListWithdrawals({}, {"-1", 2}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->ListWithdrawals({}, {"", 1001}).status().code(), absl::StatusCode::kInvalidArgument);
  // A client and states together, paged (the listing by state has its own statement).
  const std::vector<WithdrawalState> three = {WithdrawalState::kPendingApproval, WithdrawalState::kApproved,
                                              WithdrawalState::kDenied};
  auto c1_states = txn->ListWithdrawals({"c_1", "", three, {}}, {});
  ASSERT_TRUE(c1_states.ok());
  ASSERT_EQ(c1_states->size(), 2u);
  EXPECT_EQ((*c1_states)[0].withdrawal_id, "w_c");
  EXPECT_EQ((*c1_states)[1].withdrawal_id, "w_a");
  auto by_state1 = txn->ListWithdrawals({"", "", three, {}}, {"", 2});
  ASSERT_TRUE(by_state1.ok());
  ASSERT_EQ(by_state1->size(), 2u);
  EXPECT_EQ((*by_state1)[1].withdrawal_id, "w_b");
  auto by_state2 = txn->ListWithdrawals({"", "", three, {}}, {std::to_string(by_state1->back().ordinal), 2});
  ASSERT_TRUE(by_state2.ok());
  ASSERT_EQ(by_state2->size(), 1u);
  EXPECT_EQ((*by_state2)[0].withdrawal_id, "w_a");
  EXPECT_EQ(txn->ListWithdrawals({"", "", {WithdrawalState::kConfirmed}, {}}, {})->size(), 0u);
  auto events = txn->ListWithdrawalEvents(1, "c_1", 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].withdrawal_id, "w_c");
  auto last = txn->LastWithdrawalEventSeq();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 3u);
  txn.reset();
  // Kinds: an internal move among the client withdrawals.
  {
    auto w = Write();
    WithdrawalRow sweep = Withdrawal("s_1", "", WithdrawalState::kApproved);
    sweep.kind = "sweep";
    sweep.fee_charged_to_client = false;
    sweep.destination = "bcrt1qcold";
    ASSERT_TRUE(w->InsertWithdrawal(sweep).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  txn = Read();
  auto sweeps = txn->ListWithdrawals({"", "BTC", {WithdrawalState::kApproved}, {"sweep", "top_up"}}, {});
  ASSERT_TRUE(sweeps.ok()) << sweeps.status();
  ASSERT_EQ(sweeps->size(), 1u);
  EXPECT_EQ((*sweeps)[0].withdrawal_id, "s_1");
  auto client_kind = txn->ListWithdrawals({"", "", {WithdrawalState::kApproved}, {"withdrawal"}}, {});
  ASSERT_TRUE(client_kind.ok());
  ASSERT_EQ(client_kind->size(), 1u);
  EXPECT_EQ((*client_kind)[0].withdrawal_id, "w_b");
  auto any_state = txn->ListWithdrawals({"", "", {}, {"sweep"}}, {});
  ASSERT_TRUE(any_state.ok());
  ASSERT_EQ(any_state->size(), 1u);
  auto of_client = txn->ListWithdrawals({"c_1", "", {}, {"withdrawal"}}, {});
  ASSERT_TRUE(of_client.ok());
  EXPECT_EQ(of_client->size(), 2u);
  EXPECT_EQ(txn->ListWithdrawals({"c_1", "", {}, {"sweep"}}, {})->size(), 0u);
  auto unknown = txn->ListWithdrawals({"", "", {WithdrawalState::kApproved}, {"swep"}}, {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("swep"), std::string_view::npos) << unknown.status();
}

TEST_F(WithdrawalStoreTest, OutflowsCountLiveWithdrawalsInTheWindowOnly) {
  Insert(Withdrawal("w_old", "c_1", WithdrawalState::kApproved, 100));
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval, 2000));
  Insert(Withdrawal("w_2", "c_2", WithdrawalState::kApproved, 2001));
  Insert(Withdrawal("w_denied", "c_1", WithdrawalState::kDenied, 2002), /*hold=*/false);
  Insert(Withdrawal("w_x", "c_1", WithdrawalState::kPendingApproval, 2003));
  {
    auto txn = Write();
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kPendingApproval};
    ASSERT_TRUE(txn->TransitionWithdrawal("w_x", kFrom, WithdrawalState::kCancelled, "by platform", 2100).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto asset = txn->ListOutflows("BTC", "", 1000);
  ASSERT_TRUE(asset.ok());
  ASSERT_EQ(asset->size(), 2u);
  EXPECT_EQ((*asset)[0].withdrawal_id, "w_1");
  EXPECT_EQ((*asset)[1].withdrawal_id, "w_2");
  auto client = txn->ListOutflows("BTC", "c_1", 0);
  ASSERT_TRUE(client.ok());
  ASSERT_EQ(client->size(), 2u);
  EXPECT_EQ((*client)[0].withdrawal_id, "w_old");
  auto eth = txn->ListOutflows("ETH", "", 0);
  ASSERT_TRUE(eth.ok());
  EXPECT_TRUE(eth->empty());
}

TEST_F(WithdrawalStoreTest, TransitionsCheckTheStateTheyLeave) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval));
  auto txn = Write();
  constexpr WithdrawalState kFromApproved[] = {WithdrawalState::kApproved};
  auto wrong = txn->TransitionWithdrawal("w_1", kFromApproved, WithdrawalState::kSigning, "", 2000);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("pending_approval"), std::string::npos) << wrong.status();
  EXPECT_EQ(txn->TransitionWithdrawal("w_none", kFromApproved, WithdrawalState::kSigning, "", 2000).status().code(),
            absl::StatusCode::kNotFound);
  // The executor cannot claim a withdrawal that is not approved.
  EXPECT_EQ(txn->ClaimWithdrawalForSigning("w_1", 2000).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->RecordSigned("w_1", "txid", "raw", 2000).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->RecordBroadcast("w_1", 2000).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get("w_1").state, WithdrawalState::kPendingApproval);
}

TEST_F(WithdrawalStoreTest, ExecutorPathApprovedToConfirmed) {
  WithdrawalRow w = Withdrawal("w_1", "c_1", WithdrawalState::kApproved);
  w.not_before_unix_s = 10;  // a policy delay: not claimable before 10 s
  Insert(w);
  Insert(Withdrawal("w_2", "c_1", WithdrawalState::kPendingApproval));
  {
    auto txn = Read();
    auto early = txn->ListExecutable(9, 100);
    ASSERT_TRUE(early.ok());
    EXPECT_TRUE(early->empty());
    auto ready = txn->ListExecutable(10, 100);
    ASSERT_TRUE(ready.ok());
    ASSERT_EQ(ready->size(), 1u);
    EXPECT_EQ((*ready)[0].withdrawal_id, "w_1");
  }
  {
    auto txn = Write();
    auto early = txn->ClaimWithdrawalForSigning("w_1", 9'999);
    EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition) << early.status();
    auto claimed = txn->ClaimWithdrawalForSigning("w_1", 10'000);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    EXPECT_EQ(claimed->state, WithdrawalState::kSigning);
    // A second claim (another executor, or a restart that forgot) is refused.
    EXPECT_EQ(txn->ClaimWithdrawalForSigning("w_1", 10'000).status().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    // Signing is still listed (to resume after a restart).
    auto txn = Read();
    auto resume = txn->ListExecutable(0, 100);
    ASSERT_TRUE(resume.ok());
    ASSERT_EQ(resume->size(), 1u);
    EXPECT_EQ((*resume)[0].state, WithdrawalState::kSigning);
  }
  {
    auto txn = Write();
    EXPECT_EQ(txn->RecordSigned("w_1", "", "raw", 11'000).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(txn->RecordSigned("w_1", "ab", "", 11'000).code(), absl::StatusCode::kInvalidArgument);
    ASSERT_TRUE(txn->RecordSigned("w_1", "abcd", std::string("\x01\x00\x02", 3), 11'000).ok());
    EXPECT_EQ(txn->SettleWithdrawal("w_1", Units(7), 5, 1, 11'000).code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(txn->RecordBroadcast("w_1", 12'000).ok());
    EXPECT_EQ(txn->RecordBroadcast("w_1", 12'000).code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = Write();
    const uint64_t seq = Release(*txn, "c_1");  // stands in for the settlement entry
    ASSERT_TRUE(txn->SettleWithdrawal("w_1", Units(7), 123, seq, 13'000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  const WithdrawalRow done = Get("w_1");
  EXPECT_EQ(done.state, WithdrawalState::kConfirmed);
  EXPECT_EQ(done.txid, "abcd");
  EXPECT_EQ(done.signed_tx, std::string("\x01\x00\x02", 3));
  ASSERT_TRUE(done.network_fee.has_value());
  EXPECT_EQ(*done.network_fee, Units(7));
  EXPECT_EQ(done.confirmed_height, 123u);
  auto txn = Read();
  // Found by its txid on its chain only (the ingestor's own-transaction filter).
  auto found = txn->FindWithdrawalByTxid(done.chain, "abcd");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::optional<std::string>("w_1"));
  EXPECT_EQ(*txn->FindWithdrawalByTxid(done.chain == "bitcoin" ? "ethereum" : "bitcoin", "abcd"), std::nullopt);
  EXPECT_EQ(*txn->FindWithdrawalByTxid(done.chain, "abce"), std::nullopt);
  EXPECT_EQ(*txn->FindWithdrawalByTxid(done.chain, ""), std::nullopt);
  auto hold = txn->GetHold("w_1");
  ASSERT_TRUE(hold.ok() && hold->has_value());
  EXPECT_EQ((*hold)->state, HoldState::kSettled);
  auto events = txn->ListWithdrawalEvents(0, "c_1", 100);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> states;
  for (const auto& e : *events) {
    if (e.withdrawal_id == "w_1") states.emplace_back(store::WithdrawalStateName(e.state));
  }
  EXPECT_EQ(states, (std::vector<std::string>{"approved", "signing", "signed", "broadcast", "confirmed"}));
  auto open = txn->ListOpenHolds();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].withdrawal_id, "w_2");
}

TEST_F(WithdrawalStoreTest, ExecutableListsWorkToDoBeforeTransactionsWaitingForConfirmation) {
  // Two older withdrawals broadcast and not yet confirmed fill a page of two; a newer approved
  // one must still be listed first, or a backlog of unconfirmed transactions would hold every
  // new withdrawal back until they confirm.
  for (const char* id : {"w_1", "w_2"}) {
    Insert(Withdrawal(id, "c_1", WithdrawalState::kApproved));
    auto txn = Write();
    ASSERT_TRUE(txn->ClaimWithdrawalForSigning(id, 1'000).ok());
    ASSERT_TRUE(txn->RecordSigned(id, std::string("ab0") + id[2], "raw", 1'000).ok());
    ASSERT_TRUE(txn->RecordBroadcast(id, 1'000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Insert(Withdrawal("w_3", "c_1", WithdrawalState::kApproved));
  Insert(Withdrawal("w_4", "c_1", WithdrawalState::kApproved));
  {
    auto txn = Write();
    ASSERT_TRUE(txn->ClaimWithdrawalForSigning("w_4", 1'000).ok());  // signing: work to do too
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto page = txn->ListExecutable(0, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].withdrawal_id, "w_3");
  EXPECT_EQ((*page)[1].withdrawal_id, "w_4");
  auto all = txn->ListExecutable(0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> order;
  for (const WithdrawalRow& r : *all) order.push_back(r.withdrawal_id);
  EXPECT_EQ(order, (std::vector<std::string>{"w_3", "w_4", "w_1", "w_2"}));
}

TEST_F(WithdrawalStoreTest, FailReleasesTheHoldOnceAndOnlyFromExecutorStates) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kApproved));
  auto txn = Write();
  const uint64_t seq = Release(*txn, "c_1");
  // Not yet claimed: the executor cannot fail it (cancel is the request side's).
  EXPECT_EQ(txn->FailWithdrawal("w_1", "x", seq, 2000).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(txn->ClaimWithdrawalForSigning("w_1", 2000).ok());
  EXPECT_EQ(txn->FailWithdrawal("w_1", "", seq, 2000).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(txn->FailWithdrawal("w_1", "signer: hsm_failure", seq, 2001).ok());
  EXPECT_EQ(txn->CloseHold("w_1", HoldState::kReleased, seq).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->CloseHold("w_1", HoldState::kHeld, seq).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(txn->Commit().ok());
  const WithdrawalRow failed = Get("w_1");
  EXPECT_EQ(failed.state, WithdrawalState::kFailed);
  EXPECT_EQ(failed.reason, "signer: hsm_failure");
  auto r = Read();
  auto hold = r->GetHold("w_1");
  ASSERT_TRUE(hold.ok() && hold->has_value());
  EXPECT_EQ((*hold)->state, HoldState::kReleased);
  EXPECT_EQ((*hold)->closed_seq, seq);
  ExpectInvariantsHold();
}

TEST_F(WithdrawalStoreTest, ApprovalsAreDistinctPerApproverAndKeepTheirOrder) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval));
  auto txn = Write();
  ASSERT_TRUE(txn->InsertApproval({"w_1", "withdrawal", "bob", std::string(64, 'b'), std::string(32, 'd'), 5}).ok());
  ASSERT_TRUE(txn->InsertApproval({"w_1", "withdrawal", "alice", std::string(64, 'a'), std::string(32, 'd'), 6}).ok());
  EXPECT_EQ(txn->InsertApproval({"w_1", "withdrawal", "bob", std::string(64, 'c'), std::string(32, 'd'), 7}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(txn->InsertApproval({"w_1", "withdrawal", "carol", std::string(63, 'c'), std::string(32, 'd'), 7}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->InsertApproval({"w_1", "sweep", "carol", std::string(64, 'c'), std::string(32, 'd'), 7}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(txn->Commit().ok());
  auto r = Read();
  auto approvals = r->ListApprovals("w_1");
  ASSERT_TRUE(approvals.ok());
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ((*approvals)[0].approver_id, "bob");
  EXPECT_EQ((*approvals)[1].approver_id, "alice");
  EXPECT_EQ((*approvals)[1].signature, std::string(64, 'a'));
}

TEST_F(WithdrawalStoreTest, PolicyDecisionsListInOrder) {
  {
    auto txn = Write();
    Decision(*txn, "w_1");
    Decision(*txn, "w_2");
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto all = txn->ListPolicyDecisions(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].decision_id, 1u);
  EXPECT_EQ((*all)[1].subject_id, "w_2");
  auto after = txn->ListPolicyDecisions(1, 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(txn->ListPolicyDecisions(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WithdrawalStoreTest, ARolledBackCreationLeavesNothing) {
  {
    auto txn = Write();
    WithdrawalRow row = Withdrawal("w_1", "c_1", WithdrawalState::kApproved);
    row.decision_id = Decision(*txn, "w_1");
    ASSERT_TRUE(txn->InsertWithdrawal(row).ok());
    // dropped without Commit
  }
  auto txn = Read();
  auto got = txn->GetWithdrawal("w_1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  auto last = txn->LastWithdrawalEventSeq();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 0u);
  auto decisions = txn->ListPolicyDecisions(0, 10);
  ASSERT_TRUE(decisions.ok());
  EXPECT_TRUE(decisions->empty());
}

// Schema 4: a sweep is a row of kind "sweep" with no client, no policy decision and no hold.
TEST_F(WithdrawalStoreTest, ASweepHasNoClientDecisionOrHoldAndCountsAgainstNoWindow) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kApproved));
  WithdrawalRow sweep = Withdrawal("w_s", "", WithdrawalState::kApproved);
  sweep.kind = "sweep";
  sweep.fee_charged_to_client = false;
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertWithdrawal(sweep).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(Get("w_s").kind, "sweep");
  EXPECT_EQ(Get("w_s").client_id, "");
  EXPECT_EQ(Get("w_s").decision_id, 0u);
  // The table's own rule: a sweep names no client; a withdrawal names its client and decision;
  // no other kind exists.
  for (const auto& [id, kind, client, decided] : std::vector<std::tuple<std::string, std::string, std::string, bool>>{
           {"w_a", "sweep", "c_1", false}, {"w_b", "withdrawal", "", true}, {"w_c", "withdrawal", "c_1", false},
           {"w_d", "consolidation", "", false}, {"w_e", "top_up", "c_1", false}}) {
    auto txn = Write();
    WithdrawalRow bad = Withdrawal(id, client, WithdrawalState::kApproved);
    bad.kind = kind;
    if (decided) bad.decision_id = Decision(*txn, id);
    EXPECT_FALSE(txn->InsertWithdrawal(bad).ok()) << id;
  }
  {
    auto txn = Read();
    auto outflows = txn->ListOutflows("BTC", "", 0);
    ASSERT_TRUE(outflows.ok()) << outflows.status();
    ASSERT_EQ(outflows->size(), 1u);
    EXPECT_EQ((*outflows)[0].withdrawal_id, "w_1");
  }
  // Failed and settled without a hold to close.
  {
    auto txn = Write();
    ASSERT_TRUE(txn->ClaimWithdrawalForSigning("w_s", 2000).ok());
    ASSERT_TRUE(txn->FailWithdrawal("w_s", "build: insufficient funds", 0, 2000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(Get("w_s").state, WithdrawalState::kFailed);
}

// The allocation policy's sweep never takes what clients' withdrawals still need from hot, and
// waits while a sweep is in flight. No [withdrawals] policy: the policy engine's defaults (cap
// 2%, target 1%, floor 0, min_sweep 0); min_sweep and the rest from a policy in
// allocation_policy_test.cc.
TEST_F(WithdrawalStoreTest, APlannedSweepLeavesWhatWithdrawalsNeedAndWaitsForOneInFlight) {
  Config config;
  config.assets = {{"BTC", "bitcoin", "regtest", 8, 3, "", Units(50), std::nullopt, std::nullopt}};
  auto allocation = [&]() {
    auto txn = Read();
    auto report = ComputeAllocation(*txn, config, "BTC");
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? report->assets.at(0) : AssetAllocation{};
  };
  // 200,000 hot (two deposits), nothing cold: down to the 1% target, 2,000.
  AssetAllocation a = allocation();
  EXPECT_EQ(a.hot, Units(200'000));
  EXPECT_TRUE(a.over_cap);
  EXPECT_EQ(a.hot_cap, Units(4'000));
  EXPECT_EQ(a.reserved_for_withdrawals, Units(0));
  EXPECT_EQ(a.planned_sweep, Units(198'000));
  // A withdrawal pending approval of 60,000 (+ 50 fee cap): the sweep leaves it in hot. The
  // policy's total is what stays once it is paid, 139,950, so the target is
  // floor(139,950 * 1%) = 1,399 and the sweep 139,950 - 1,399 = 138,551 (the rule before the
  // policy kept the larger of the withdrawals and half the cap of 200,000, and swept 139,950).
  WithdrawalRow big = Withdrawal("w_1", "c_1", WithdrawalState::kPendingApproval);
  big.amount = Units(60'000);
  Insert(big);
  a = allocation();
  EXPECT_EQ(a.reserved_for_withdrawals, Units(60'050));
  EXPECT_EQ(a.hot_cap, Units(2'799));
  EXPECT_EQ(a.planned_sweep, Units(138'551));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kSweepToTarget);
  // A sweep in flight: nothing more until it settles.
  WithdrawalRow sweep = Withdrawal("w_s", "", WithdrawalState::kApproved);
  sweep.kind = "sweep";
  sweep.amount = Units(100'000);
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertWithdrawal(sweep).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  a = allocation();
  EXPECT_EQ(a.sweeping, Units(100'000));
  EXPECT_TRUE(a.over_cap);
  EXPECT_EQ(a.planned_sweep, Units(0));
}

// A file written by schema 3 (withdrawals of kind "withdrawal" only, client and decision
// required) is rebuilt by migration 4 with every row, hold and reference intact.
TEST_F(WithdrawalStoreTest, ASchema3FileMigratesWithItsWithdrawals) {
  Insert(Withdrawal("w_1", "c_1", WithdrawalState::kApproved));
  const std::string before = RawQuery("SELECT group_concat(withdrawal_id || client_id || hex(amount) || state) FROM withdrawals");
  store_.reset();
  RawSql(R"sql(
    CREATE TABLE w3 (
      withdrawal_id TEXT PRIMARY KEY NOT NULL, ordinal INTEGER NOT NULL UNIQUE CHECK (ordinal >= 1),
      client_id TEXT NOT NULL REFERENCES clients (client_id), asset_id TEXT NOT NULL,
      amount BLOB NOT NULL CHECK (length(amount) = 16), destination TEXT NOT NULL,
      whitelist_entry_id TEXT REFERENCES whitelist_entries (entry_id),
      source_wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
      kind TEXT NOT NULL CHECK (kind IN ('withdrawal')), chain TEXT NOT NULL, network TEXT NOT NULL,
      fee_cap BLOB NOT NULL CHECK (length(fee_cap) = 16), fee_asset TEXT NOT NULL,
      fee_charged_to_client INTEGER NOT NULL CHECK (fee_charged_to_client IN (0, 1)), requester TEXT NOT NULL,
      state TEXT NOT NULL, reason TEXT NOT NULL, approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
      approval_group TEXT NOT NULL, not_before_unix_s INTEGER NOT NULL, expires_at_unix_s INTEGER NOT NULL,
      decision_id INTEGER NOT NULL REFERENCES policy_decisions (decision_id), policy_hash TEXT NOT NULL,
      txid TEXT NOT NULL, signed_tx BLOB NOT NULL,
      network_fee BLOB CHECK (network_fee IS NULL OR length(network_fee) = 16),
      confirmed_height INTEGER NOT NULL CHECK (confirmed_height >= 0), created_unix_ms INTEGER NOT NULL,
      updated_unix_ms INTEGER NOT NULL, event_seq INTEGER NOT NULL) STRICT;
    INSERT INTO w3 SELECT * FROM withdrawals;
    DROP TABLE withdrawals;
    ALTER TABLE w3 RENAME TO withdrawals;
    CREATE INDEX withdrawals_by_client ON withdrawals (client_id, ordinal);
    CREATE INDEX withdrawals_by_state ON withdrawals (state, ordinal);
    CREATE INDEX withdrawals_by_asset_time ON withdrawals (asset_id, created_unix_ms);
    CREATE INDEX withdrawals_by_txid ON withdrawals (chain, txid) WHERE txid <> '';
    UPDATE schema_version SET version = 3;
  )sql");
  ASSERT_EQ(RawQuery("SELECT version FROM schema_version"), "3");
  Reopen();
  EXPECT_EQ(RawQuery("SELECT version FROM schema_version"), std::to_string(store::SqliteStore::LatestSchemaVersion()));
  EXPECT_EQ(RawQuery("SELECT group_concat(withdrawal_id || client_id || hex(amount) || state) FROM withdrawals"), before);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM pragma_foreign_key_check"), "0");
  EXPECT_EQ(RawQuery("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'withdrawals'"
                     " AND name LIKE 'withdrawals_by_%'"),
            "5");
  auto txn = Read();
  auto hold = txn->GetHold("w_1");
  ASSERT_TRUE(hold.ok() && hold->has_value());
  EXPECT_EQ((*hold)->amount, Units(1050));
  txn.reset();
  WithdrawalRow sweep = Withdrawal("w_s", "", WithdrawalState::kApproved);
  sweep.kind = "sweep";
  auto w = Write();
  EXPECT_TRUE(w->InsertWithdrawal(sweep).ok());
  EXPECT_TRUE(w->Commit().ok());
}

}  // namespace
}  // namespace ringfence::custody::testing
