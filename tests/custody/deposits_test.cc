// The deposit ingestor driven through PollOnce against an in-process chain (FakeChain, a
// ChainAdapter whose blocks, hashes and reorganisations the test controls), on a real
// SqliteStore (StoreTest): confirmations, attribution (client, own address, another asset's
// address, house wallet), reorganisations before and after the credit, a restart in the middle,
// a node that answers a different genesis. Every invariant is checked after each poll.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "base/hex.h"
#include "base/text.h"
#include "custody/audit_log.h"
#include "custody/deposits.h"
#include "custody/env.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

// A chain in memory: block i's hash is derived from (i, the chain's "epoch"), so a reorganised
// block gets a new hash. Transfers are listed per block; GetBlock returns those to watched
// addresses.
class FakeChain : public chain::ChainAdapter {
 public:
  explicit FakeChain(std::string name) : name_(std::move(name)) { blocks_.push_back({Ref(0, 0), {}}); }

  const std::string& chain() const override { return name_; }
  absl::StatusOr<chain::BlockRef> Tip() override { return blocks_.back().ref; }
  absl::StatusOr<chain::Block> GetBlock(uint64_t height, std::span<const std::string> watched) override {
    if (before_get_block) before_get_block(height);
    if (height >= blocks_.size()) return absl::NotFoundError("above the tip");
    chain::Block out{blocks_[height].ref, {}};
    for (const chain::Transfer& t : blocks_[height].transfers) {
      if (std::find(watched.begin(), watched.end(), t.to_address) != watched.end()) out.transfers.push_back(t);
    }
    return out;
  }
  absl::StatusOr<base::Amount> BalanceAt(const std::string& address, const std::string& token,
                                         uint64_t height) override {
    base::Amount sum;
    for (uint64_t h = 0; h <= height && h < blocks_.size(); ++h) {
      for (const chain::Transfer& t : blocks_[h].transfers) {
        if (t.to_address == address && t.token_contract == token) sum = *sum.CheckedAdd(t.amount);
      }
    }
    return sum;
  }
  absl::StatusOr<std::string> Broadcast(std::span<const uint8_t>) override {
    return absl::UnimplementedError("not in this test");
  }

  // Called with the height asked for at the start of every GetBlock (a node that changes
  // while it is being read).
  std::function<void(uint64_t)> before_get_block;

  // Mines one block holding `transfers`; returns its height.
  uint64_t Mine(std::vector<chain::Transfer> transfers = {}) {
    const uint64_t h = blocks_.size();
    blocks_.push_back({Ref(h, epoch_), std::move(transfers)});
    return h;
  }
  // Replaces the last `depth` blocks with `replacement` empty ones (a new branch; by default one
  // longer, as chainsim does), returning the transfers the replaced blocks held.
  std::vector<chain::Transfer> Reorg(uint64_t depth, uint64_t replacement = 0) {
    if (replacement == 0) replacement = depth + 1;
    ++epoch_;
    std::vector<chain::Transfer> dropped;
    for (uint64_t i = 0; i < depth; ++i) {
      for (auto& t : blocks_.back().transfers) dropped.push_back(t);
      blocks_.pop_back();
    }
    for (uint64_t i = 0; i < replacement; ++i) Mine();
    return dropped;
  }
  // A different chain from genesis up (the wrong network).
  void ReplaceGenesis() {
    ++epoch_;
    blocks_.front().ref = Ref(0, epoch_ + 1000);
    for (size_t h = 1; h < blocks_.size(); ++h) blocks_[h].ref = Ref(h, epoch_ + 1000);
  }

 private:
  struct StoredBlock {
    chain::BlockRef ref;
    std::vector<chain::Transfer> transfers;
  };

  chain::BlockRef Ref(uint64_t height, uint64_t epoch) const {
    auto hash = [&](uint64_t h, uint64_t e) {
      uint8_t bytes[32] = {};
      for (int i = 0; i < 8; ++i) {
        bytes[i] = static_cast<uint8_t>(h >> (8 * i));
        bytes[8 + i] = static_cast<uint8_t>(e >> (8 * i));
      }
      bytes[31] = name_.size();
      return base::HexEncode(bytes);
    };
    chain::BlockRef ref;
    ref.height = height;
    // A block's branch is the epoch it was mined in; its parent is whatever is below it now.
    ref.hash = hash(height, epoch);
    ref.parent_hash = height == 0 ? std::string(64, '0') : blocks_[height - 1].ref.hash;
    return ref;
  }

  std::string name_;
  uint64_t epoch_ = 0;
  std::vector<StoredBlock> blocks_;
};

chain::Transfer Pay(const std::string& txid_seed, const std::string& to, uint64_t amount,
                    const std::string& token = "") {
  chain::Transfer t;
  t.txid = std::string(64 - txid_seed.size(), '0') + txid_seed;
  t.index = 0;
  t.to_address = to;
  t.token_contract = token;
  t.amount = base::Amount(amount);
  return t;
}

class DepositsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    config_.assets = {{"ETH", "ethereum", "dev", 18, 2, "", std::nullopt, std::nullopt, std::nullopt},
                      {"USDC-ETH", "ethereum", "dev", 6, 2, kToken, std::nullopt, std::nullopt, std::nullopt}};
    config_.chains = {{"ethereum", "chainsim", "unix:/unused", 10}};
    auto txn = Write();
    for (const AssetConfig& a : config_.assets) {
      for (const store::WalletRow& w : WalletsOf(a)) ASSERT_TRUE(txn->UpsertWallet(w).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
    AddClient("c_00000000000000a1");
    AddAddress("0xa1", "ETH", "ETH:client-hot", "c_00000000000000a1");
    AddAddress("0xa2", "USDC-ETH", "USDC-ETH:client-hot", "c_00000000000000a1");
    AddAddress("0xc0", "ETH", "ETH:client-hot", "");  // the client wallet's own address
    AddAddress("0xd0", "ETH", "ETH:house-hot", "");   // the house wallet's own address
    NewIngestor();
  }

  void AddAddress(const std::string& address, const std::string& asset, const std::string& wallet,
                  const std::string& client) {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertAddress({address, asset, wallet, client, "key-" + address, 1}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  void NewIngestor() {
    ingestor_.reset();
    ingestor_ = std::make_unique<DepositIngestor>(config_, config_.chains[0], chain_, *store_, env_);
  }

  PollResult Poll() {
    absl::StatusOr<PollResult> r = ingestor_->PollOnce();
    EXPECT_TRUE(r.ok()) << r.status();
    ExpectInvariantsHold({"ETH", "USDC-ETH"});
    return r.ok() ? *r : PollResult{};
  }

  base::Amount Available(const std::string& asset, const std::string& client = "c_00000000000000a1") {
    auto txn = Read();
    auto p = Ledger::ClientPosition(*txn, client, asset);
    EXPECT_TRUE(p.ok());
    return p.ok() ? p->available : base::Amount();
  }

  base::Amount AccountBalance(const std::string& account, bool debit_normal) {
    auto txn = Read();
    auto b = txn->GetBalance(account);
    EXPECT_TRUE(b.ok());
    return NormalBalance(debit_normal ? NormalSide::kDebit : NormalSide::kCredit, *b, account);
  }

  std::vector<store::DepositRow> Pending() {
    auto txn = Read();
    absl::StatusOr<std::vector<store::DepositRow>> rows = txn->ListDeposits("ethereum", store::DepositStatus::kPending);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : std::vector<store::DepositRow>();
  }

  std::map<std::string, int> AuditActions() {
    auto txn = Read();
    std::map<std::string, int> out;
    absl::StatusOr<std::vector<store::AuditRow>> rows = txn->ListAudit(0, 1000);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok()) return out;
    for (const store::AuditRow& row : *rows) ++out[row.action];
    return out;
  }

  Config config_;
  FakeChain chain_{"ethereum"};
  FixedEnv env_{1'700'000'000'000};
  std::unique_ptr<DepositIngestor> ingestor_;
};

TEST_F(DepositsTest, CreditsAtTheConfirmationCount) {
  chain_.Mine({Pay("1", "0xa1", 500), Pay("2", "0xa2", 7, kToken), Pay("3", "0xzz", 9)});
  PollResult r = Poll();
  EXPECT_EQ(r.blocks, 2u);  // genesis and block 1
  EXPECT_EQ(r.detected, 2u);  // 0xzz is not ours
  EXPECT_EQ(r.credited, 0u);
  EXPECT_EQ(Pending().size(), 2u);
  EXPECT_TRUE(Available("ETH").is_zero());

  chain_.Mine();
  r = Poll();
  EXPECT_EQ(r.credited, 2u);
  EXPECT_EQ(Available("ETH"), base::Amount(500));
  EXPECT_EQ(Available("USDC-ETH"), base::Amount(7));
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(AuditActions()["deposit.detected"], 2);
  EXPECT_EQ(AuditActions()["deposit.credited"], 2);

  // Nothing new: nothing happens.
  r = Poll();
  EXPECT_EQ(r.blocks, 0u);
  EXPECT_EQ(r.credited, 0u);
  // The chain's view of the client-hot wallet was recorded at the last height.
  auto txn = Read();
  auto observed = txn->GetObservedBalance("ETH:client-hot");
  ASSERT_TRUE(observed.ok() && observed->has_value());
  EXPECT_EQ((*observed)->first, base::Amount(500));
  EXPECT_EQ((*observed)->second, 2u);
}

TEST_F(DepositsTest, TransfersThatAreNoClientsClaimAreRecordedNotLost) {
  chain_.Mine({Pay("1", "0xc0", 11),             // the client wallet's own address
               Pay("2", "0xa1", 13, kToken),     // USDC to an ETH deposit address
               Pay("3", "0xd0", 17),             // the house wallet's own address
               Pay("4", "0xa1", 0),              // moves nothing
               Pay("5", "0xa1", 19, "0x0000000000000000000000000000000000000001")});  // no such asset
  chain_.Mine();
  PollResult r = Poll();
  EXPECT_EQ(r.detected, 3u);
  EXPECT_EQ(r.credited, 3u);
  EXPECT_EQ(AccountBalance(UnattributedAccount("ETH"), false), base::Amount(11));
  EXPECT_EQ(AccountBalance(UnattributedAccount("USDC-ETH"), false), base::Amount(13));
  EXPECT_EQ(AccountBalance(WalletAccount("USDC-ETH:client-hot"), true), base::Amount(13));
  EXPECT_EQ(AccountBalance(HouseEquityAccount("ETH"), false), base::Amount(17));
  EXPECT_EQ(AccountBalance(WalletAccount("ETH:house-hot"), true), base::Amount(17));
  EXPECT_TRUE(Available("ETH").is_zero());
  EXPECT_TRUE(Available("USDC-ETH").is_zero());

  // The chain's view agrees with the books: the USDC sent to an ETH address counts in
  // USDC-ETH:client-hot, where the ledger put it, and in no ETH wallet.
  auto txn = Read();
  auto observed = [&](const std::string& wallet) {
    absl::StatusOr<std::optional<std::pair<base::Amount, uint64_t>>> o = txn->GetObservedBalance(wallet);
    EXPECT_TRUE(o.ok() && o->has_value()) << wallet;
    return o.ok() && o->has_value() ? (*o)->first : base::Amount(999'999);
  };
  EXPECT_EQ(observed("USDC-ETH:client-hot"), base::Amount(13));
  EXPECT_EQ(observed("ETH:client-hot"), base::Amount(11));
  EXPECT_EQ(observed("ETH:house-hot"), base::Amount(17));
  EXPECT_TRUE(observed("USDC-ETH:house-hot").is_zero());
}

TEST_F(DepositsTest, ReorganisationBeforeTheCreditOrphansThePendingDeposit) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  Poll();
  ASSERT_EQ(Pending().size(), 1u);
  std::vector<chain::Transfer> dropped = chain_.Reorg(1);
  PollResult r = Poll();
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.orphaned, 1u);
  EXPECT_EQ(r.incidents, 0u);
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(AuditActions()["deposit.orphaned"], 1);

  // The same transfer mined on the new branch: pending again, then credited once.
  chain_.Mine(dropped);
  Poll();
  ASSERT_EQ(Pending().size(), 1u);
  chain_.Mine();
  r = Poll();
  EXPECT_EQ(r.credited, 1u);
  EXPECT_EQ(Available("ETH"), base::Amount(500));
}

TEST_F(DepositsTest, ReorganisationAfterTheCreditIsAnIncidentThatChangesNoBalance) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  chain_.Mine();
  Poll();
  ASSERT_EQ(Available("ETH"), base::Amount(500));
  std::vector<chain::Transfer> dropped = chain_.Reorg(2);
  ::testing::internal::CaptureStderr();
  PollResult r = Poll();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.incidents, 1u);
  EXPECT_THAT(log, HasSubstr("ERROR deposits[ethereum]: INCIDENT: credited deposit"));
  EXPECT_EQ(Available("ETH"), base::Amount(500));
  EXPECT_EQ(AuditActions()["deposit.reorg_incident"], 1);

  // Mined again on the new branch, it is not credited a second time; a later reorganisation
  // over the same heights does not report it again.
  chain_.Mine(dropped);
  chain_.Mine();
  chain_.Mine();
  r = Poll();
  EXPECT_EQ(r.credited, 0u);
  EXPECT_EQ(Available("ETH"), base::Amount(500));
  chain_.Reorg(1);
  r = Poll();
  EXPECT_EQ(r.incidents, 0u);
  EXPECT_EQ(AuditActions()["deposit.reorg_incident"], 1);
}

TEST_F(DepositsTest, AShorterOrDifferentTipIsFoundWithoutANewBlock) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  Poll();
  // Same height, another block, no transfer in it.
  chain_.Reorg(1, 1);
  PollResult r = Poll();
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.blocks, 1u);
  EXPECT_TRUE(Pending().empty());

  // A tip lower than the last stored block.
  chain_.Mine({Pay("2", "0xa1", 600)});
  Poll();
  ASSERT_EQ(Pending().size(), 1u);
  chain_.Reorg(2, 1);
  r = Poll();
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(r.height, chain_.Tip()->height);
}

TEST_F(DepositsTest, ARestartResumesWithoutCreditingTwice) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  chain_.Mine({Pay("2", "0xa1", 40)});
  Poll();
  EXPECT_EQ(Available("ETH"), base::Amount(500));
  NewIngestor();  // what a custodyd restart does: state only in the store
  chain_.Mine();
  PollResult r = Poll();
  EXPECT_EQ(r.blocks, 1u);  // only the new block
  EXPECT_EQ(r.credited, 1u);
  EXPECT_EQ(Available("ETH"), base::Amount(540));
  Reopen();
  NewIngestor();
  r = Poll();
  EXPECT_EQ(r.blocks, 0u);
  EXPECT_EQ(r.credited, 0u);
  EXPECT_EQ(Available("ETH"), base::Amount(540));
  EXPECT_EQ(AuditActions()["deposit.credited"], 2);
}

TEST_F(DepositsTest, ABacklogOfBlocksIsStoredInFewTransactions) {
  for (int i = 1; i <= 130; ++i) chain_.Mine({Pay(std::to_string(i), "0xa1", 10)});
  const uint64_t before = store_->group_commit_stats().transactions;
  const PollResult r = Poll();
  const uint64_t transactions = store_->group_commit_stats().transactions - before;
  EXPECT_EQ(r.height, 130u);
  EXPECT_EQ(r.blocks, 131u);  // genesis too
  EXPECT_EQ(r.detected, 130u);
  EXPECT_EQ(r.credited, 129u);  // 2 confirmations: the deposit at the tip has 1
  EXPECT_EQ(Available("ETH"), base::Amount(1290));
  // 131 blocks in transactions of up to kBlocksPerTransaction (3 of them), and one for the
  // chain balances observed after them; one transaction per block would be 132.
  EXPECT_EQ(transactions, (131 + kBlocksPerTransaction - 1) / kBlocksPerTransaction + 1);
  EXPECT_EQ(AuditActions()["deposit.detected"], 130);
  EXPECT_EQ(AuditActions()["deposit.credited"], 129);
}

TEST_F(DepositsTest, ABlockThatNoLongerExtendsTheOnesFetchedBeforeItIsAReorganisation) {
  for (int i = 1; i <= 5; ++i) chain_.Mine({Pay(std::to_string(i), "0xa1", 100 * i)});
  // Blocks 0..3 are fetched; before block 4 is, the node replaces blocks 3..5 (and mines one
  // more): block 3 as fetched is stale, and the new block 4 does not extend it.
  bool reorganised = false;
  chain_.before_get_block = [&](uint64_t height) {
    if (height == 4 && !reorganised) {
      reorganised = true;
      chain_.Reorg(3);
    }
  };
  PollResult r = Poll();
  EXPECT_TRUE(reorganised);
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.height, 5u);  // the tip when the poll began
  // Blocks 1 and 2 stay (credited at 2 confirmations); block 3's deposit was stored pending
  // with the stale block, then orphaned; nothing of blocks 4 and 5 was ever stored.
  EXPECT_EQ(r.orphaned, 1u);
  EXPECT_EQ(r.incidents, 0u);
  EXPECT_EQ(Available("ETH"), base::Amount(300));
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(AuditActions()["chain.reorg"], 1);
  EXPECT_EQ(AuditActions()["deposit.orphaned"], 1);
  EXPECT_EQ(AuditActions()["deposit.detected"], 3);
  r = Poll();
  EXPECT_EQ(r.reorgs, 0u);
  EXPECT_EQ(r.height, 6u);
  auto txn = Read();
  auto top = txn->LastChainBlock("ethereum");
  ASSERT_TRUE(top.ok() && top->has_value());
  EXPECT_EQ((*top)->height, 6u);
  auto node = chain_.GetBlock(6, {});
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*top)->hash, node->ref.hash);
}

TEST_F(DepositsTest, ABlockReportingTooManyTransfersIsRefusedAfterTheBlocksBeforeIt) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  chain_.Mine();
  std::vector<chain::Transfer> flood;
  flood.reserve(kMaxTransfersPerBlock + 1);
  for (size_t i = 0; i <= kMaxTransfersPerBlock; ++i) flood.push_back(Pay(std::to_string(i + 10), "0xa1", 1));
  const uint64_t bad = chain_.Mine(std::move(flood));
  chain_.Mine();
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<PollResult> r = ingestor_->PollOnce();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(base::Cat("block ", bad, " reports")));
    ExpectInvariantsHold({"ETH", "USDC-ETH"});
    // The blocks below it are stored and their deposit credited; nothing of it or above.
    auto txn = Read();
    auto top = txn->LastChainBlock("ethereum");
    ASSERT_TRUE(top.ok() && top->has_value());
    EXPECT_EQ((*top)->height, bad - 1);
  }
  EXPECT_EQ(Available("ETH"), base::Amount(500));
  EXPECT_EQ(Pending().size(), 0u);
  EXPECT_EQ(AuditActions()["deposit.detected"], 1);
}

TEST_F(DepositsTest, ABlockOfManyDepositsIsCreditedWithAnAuditTrailPerDeposit) {
  // Three clients' deposits, the clients' wallet's own address and the house's in one block:
  // credited together (one journal entry each, consecutive), and for each credit the audit
  // log names the journal entry, whose reference is the deposit.
  AddClient("c_00000000000000b2");
  AddClient("c_00000000000000c3");
  AddAddress("0xb2", "ETH", "ETH:client-hot", "c_00000000000000b2");
  AddAddress("0xc3", "ETH", "ETH:client-hot", "c_00000000000000c3");
  NewIngestor();
  const std::vector<std::string> to = {"0xa1", "0xb2", "0xc3", "0xc0", "0xd0"};
  std::vector<chain::Transfer> transfers;
  std::map<std::string, uint64_t> expected;  // address -> sum
  for (int i = 0; i < 60; ++i) {
    const std::string& address = to[i % to.size()];
    transfers.push_back(Pay(base::Cat("b", i), address, 100 + i));
    expected[address] += 100 + i;
  }
  chain_.Mine(transfers);
  chain_.Mine();
  PollResult r = Poll();
  EXPECT_EQ(r.detected, 60u);
  EXPECT_EQ(r.credited, 60u);
  EXPECT_EQ(Available("ETH"), base::Amount(expected["0xa1"]));
  EXPECT_EQ(Available("ETH", "c_00000000000000b2"), base::Amount(expected["0xb2"]));
  EXPECT_EQ(Available("ETH", "c_00000000000000c3"), base::Amount(expected["0xc3"]));
  EXPECT_EQ(AccountBalance(UnattributedAccount("ETH"), false), base::Amount(expected["0xc0"]));
  EXPECT_EQ(AccountBalance(HouseEquityAccount("ETH"), false), base::Amount(expected["0xd0"]));
  EXPECT_EQ(AccountBalance(WalletAccount("ETH:client-hot"), true),
            base::Amount(expected["0xa1"] + expected["0xb2"] + expected["0xc3"] + expected["0xc0"]));

  auto txn = Read();
  auto rows = txn->ListAudit(0, 1000);
  ASSERT_TRUE(rows.ok()) << rows.status();
  auto credited_deposits = txn->ListDeposits("ethereum", store::DepositStatus::kCredited);
  ASSERT_TRUE(credited_deposits.ok());
  std::map<std::string, store::DepositRow> by_ref;
  for (const store::DepositRow& d : *credited_deposits) by_ref[d.txid + ":" + std::to_string(d.index)] = d;
  ASSERT_EQ(by_ref.size(), 60u);
  int credited = 0;
  std::set<uint64_t> seqs;
  for (const store::AuditRow& row : *rows) {
    if (row.action != "deposit.credited") continue;
    ++credited;
    const store::DepositRow& d = by_ref.at(row.subject);
    const std::string seq_field = "\"journal_seq\":" + std::to_string(d.credited_seq);
    EXPECT_THAT(row.details, HasSubstr(seq_field)) << row.details;
    EXPECT_THAT(row.details, HasSubstr("\"amount\":\"" + d.amount.ToBaseUnitString() + "\"")) << row.details;
    auto entry = txn->JournalRange("", d.credited_seq - 1, d.credited_seq);
    ASSERT_TRUE(entry.ok());
    ASSERT_EQ(entry->size(), 1u);
    EXPECT_EQ((*entry)[0].reference, row.subject);
    EXPECT_EQ((*entry)[0].postings[0].amount, d.amount);
    seqs.insert(d.credited_seq);
  }
  EXPECT_EQ(credited, 60);
  ASSERT_EQ(seqs.size(), 60u);
  EXPECT_EQ(*seqs.rbegin() - *seqs.begin(), 59u) << "one block's credits are consecutive entries";
  EXPECT_EQ(AuditActions()["deposit.detected"], 60);
  auto verified = AuditLog::Verify(*txn);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST_F(DepositsTest, AnAddressMadeBetweenPollsIsWatchedByTheNextOne) {
  chain_.Mine({Pay("1", "0xa1", 5)});
  Poll();
  // The ingestor keeps its watch set across polls and reads only what was added since.
  AddClient("c_00000000000000e5");
  AddAddress("0xe5", "ETH", "ETH:client-hot", "c_00000000000000e5");
  chain_.Mine({Pay("2", "0xe5", 21), Pay("3", "0xa1", 1)});
  PollResult r = Poll();
  EXPECT_EQ(r.detected, 2u);
  chain_.Mine();
  Poll();
  EXPECT_EQ(Available("ETH", "c_00000000000000e5"), base::Amount(21));
  EXPECT_EQ(Available("ETH"), base::Amount(6));
}

TEST_F(DepositsTest, AnotherGenesisStopsIngestion) {
  chain_.Mine();
  Poll();
  chain_.ReplaceGenesis();
  chain_.Mine();
  absl::StatusOr<PollResult> r = ingestor_->PollOnce();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("genesis"));
}

TEST_F(DepositsTest, AThreadPollsUntilStopped) {
  chain_.Mine({Pay("1", "0xa1", 500)});
  chain_.Mine();
  ingestor_->Start();
  ingestor_->Stop();
  ingestor_->Stop();  // twice is harmless
  // Whatever the thread stored is whole: a poll now finishes the job.
  Poll();
  EXPECT_EQ(Available("ETH"), base::Amount(500));
}

}  // namespace
}  // namespace ringfence::custody::testing
