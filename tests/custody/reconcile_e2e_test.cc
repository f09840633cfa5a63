// Reconciliation end to end (issue 13): custodyd with [reconciliation] and its executor, over
// mTLS, with chainsim and signerd on hsm_sim as real processes.
//
// Normal operation (a deposit seen but not yet credited, a withdrawal confirmed but not yet
// settled, both settled) reconciles without a difference at every height. A transfer to a
// client wallet's own address (no deposit address) is an unknown incoming transfer: recorded,
// shown, audited, and it freezes BTC (withdrawals refused with asset_frozen, an approved one
// not claimed, other assets untouched) until two approvers of the lift group sign the
// freeze-lift digest. A chain balance
// changed behind the ledger's back (a reorganisation that drops a credited deposit) is a
// balance mismatch and freezes BTC again.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/eth_address.h"
#include "policy/approval_digest.h"
#include "policy/config.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBtc[] = "bitcoin";
constexpr char kReconciliation[] = "[reconciliation]\nlift_approvals = 2\nlift_group = \"ops\"\n";

std::string BtcAddress(uint8_t fill) {
  std::array<uint8_t, 20> hash;
  hash.fill(fill);
  return chain::P2wpkhAddress("bcrt", hash).value();
}

// The freeze-lift digest computed from the freeze as shown, its details hashed here (never the
// details_sha256 custodyd sent).
policy::ApprovalDigestBytes LiftDigestOf(const v1::AssetFreeze& f) {
  policy::FreezeLiftSubject subject;
  subject.freeze_id = f.freeze_id();
  subject.asset = f.asset_id();
  subject.reason = f.reason();
  subject.details_sha256 = policy::Sha256Hex(f.details());
  subject.height = f.height();
  absl::StatusOr<policy::ApprovalDigestBytes> digest = policy::FreezeLiftDigest(subject);
  EXPECT_TRUE(digest.ok()) << digest.status();
  return digest.value_or(policy::ApprovalDigestBytes{});
}

class ReconcileE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    StackOptions options;
    options.executor = true;
    options.extra_config = kReconciliation;
    stack_ = std::make_unique<CustodyStack>(options);
    ASSERT_FALSE(HasFatalFailure());
    platform_ = stack_->As("platform");
    approver_ = stack_->As("approver");
    auditor_ = stack_->As("auditor");
  }

  v1::GetReconciliationResponse Report() {
    grpc::ClientContext ctx;
    v1::GetReconciliationResponse resp;
    grpc::Status s = auditor_->GetReconciliation(&ctx, v1::GetReconciliationRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  static const v1::WalletReconciliation* Wallet(const v1::GetReconciliationResponse& r, const std::string& id) {
    for (const auto& w : r.wallets()) {
      if (w.wallet_id() == id) return &w;
    }
    return nullptr;
  }

  static const v1::AssetReconciliationState* Asset(const v1::GetReconciliationResponse& r, const std::string& id) {
    for (const auto& a : r.assets()) {
      if (a.asset_id() == id) return &a;
    }
    return nullptr;
  }

  // Waits until every wallet of `chain` (`wallets` of them: three per asset) is reconciled at
  // the chain's current tip; returns the report.
  v1::GetReconciliationResponse ReconciledAtTip(const std::string& chain = kBtc, int wallets = 3) {
    const uint64_t tip = stack_->Tip(chain);
    v1::GetReconciliationResponse r;
    EXPECT_TRUE(Eventually([&] {
      r = Report();
      int at_tip = 0;
      for (const auto& w : r.wallets()) at_tip += w.chain() == chain && w.height() == tip;
      return at_tip == wallets;
    })) << stack_->CustodydStderr();
    return r;
  }

  // Every BTC wallet reconciled at the tip without a difference, and nothing frozen.
  void ExpectNoFalseAlarm(const std::string& when) {
    const v1::GetReconciliationResponse r = ReconciledAtTip();
    for (const auto& w : r.wallets()) {
      if (w.asset_id() != "BTC") continue;
      EXPECT_EQ(w.state(), "ok") << when << ": " << w.ShortDebugString();
      EXPECT_EQ(w.difference(), "0") << when << ": " << w.ShortDebugString();
    }
    for (const auto& a : r.assets()) EXPECT_FALSE(a.frozen()) << when << ": " << a.ShortDebugString();
  }

  grpc::Status Approve(const std::string& target_id, const std::string& approver_id, const std::string& signature,
                       v1::SubmitApprovalResponse* out = nullptr) {
    return SubmitApprovalAs(*approver_, "approve-" + std::to_string(++keys_), target_id, approver_id, signature, out);
  }

  void Whitelist(const std::string& client_id, const std::string& address) {
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("wl-" + std::to_string(++keys_));
    req.set_client_id(client_id);
    req.set_asset_id("BTC");
    req.set_address(address);
    req.set_label("out");
    v1::AddWhitelistAddressResponse resp;
    grpc::Status s = platform_->AddWhitelistAddress(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    s = Approve(resp.entry().entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(resp.entry())));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Create(const std::string& client_id, const std::string& asset, const std::string& amount,
                      const std::string& destination, v1::Withdrawal* out) {
    return CreateWithdrawalAs(*platform_, "wd-" + std::to_string(++keys_), client_id, asset, amount, destination, out);
  }

  v1::Withdrawal Get(const std::string& id) { return GetWithdrawalAs(*auditor_, id); }

  // Mines until the withdrawal is confirmed, checking at every height that the reconciliation
  // finds no difference (its transaction confirmed but not yet settled in between).
  void SettleWithoutAlarm(const std::string& withdrawal_id) {
    ASSERT_TRUE(Eventually([&] { return Get(withdrawal_id).state() == v1::WITHDRAWAL_STATE_BROADCAST; }))
        << stack_->CustodydStderr();
    for (int i = 0; i < 3; ++i) {
      stack_->Mine(kBtc, 1);
      stack_->WaitIngested(kBtc);
      ExpectNoFalseAlarm("withdrawal " + withdrawal_id + " block " + std::to_string(i + 1));
    }
    ASSERT_TRUE(Eventually([&] { return Get(withdrawal_id).state() == v1::WITHDRAWAL_STATE_CONFIRMED; }))
        << stack_->CustodydStderr();
  }

  size_t AuditCount(const std::string& action, const std::string& subject = "") {
    grpc::ClientContext ctx;
    v1::ListAuditEntriesRequest req;
    req.set_page_size(1000);
    v1::ListAuditEntriesResponse resp;
    grpc::Status s = auditor_->ListAuditEntries(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    size_t n = 0;
    for (const auto& e : resp.entries()) n += e.action() == action && (subject.empty() || e.subject() == subject);
    return n;
  }

  std::unique_ptr<CustodyStack> stack_;
  std::unique_ptr<v1::Custody::Stub> platform_, approver_, auditor_;
  int keys_ = 0;
};

TEST_F(ReconcileE2eTest, UnknownTransferFreezesUntilApprovalsAndAReorgFreezesAgain) {
  const std::string client = CreateClientAs(*platform_, "create-recon-1", "recon-1");
  const std::string deposit = CreateDepositAddressAs(*platform_, "address-1", client, "BTC");
  const std::string destination = BtcAddress(0x42);
  Whitelist(client, destination);
  ASSERT_FALSE(HasFatalFailure());

  // A deposit seen (1 confirmation of 3) is in flight: no difference; credited: none either.
  stack_->Credit(kBtc, deposit, "150000000");
  stack_->Mine(kBtc, 1);
  stack_->WaitIngested(kBtc);
  ExpectNoFalseAlarm("deposit pending");
  {
    const v1::GetReconciliationResponse r = Report();
    const v1::WalletReconciliation* hot = Wallet(r, "BTC:client-hot");
    ASSERT_NE(hot, nullptr);
    EXPECT_EQ(hot->chain_balance(), "150000000");
    EXPECT_EQ(hot->ledger_balance(), "0");
    EXPECT_EQ(hot->expected(), "150000000");
    ASSERT_EQ(hot->addresses_size(), 1);
    EXPECT_EQ(hot->addresses(0).address(), deposit);
    EXPECT_TRUE(r.configured());
  }
  stack_->Mine(kBtc, 2);
  stack_->WaitIngested(kBtc);
  ExpectNoFalseAlarm("deposit credited");
  EXPECT_EQ(Wallet(Report(), "BTC:client-hot")->ledger_balance(), "150000000");

  // A withdrawal: broadcast, confirmed but unsettled, settled; no difference at any height.
  v1::Withdrawal w;
  grpc::Status s = Create(client, "BTC", "10000000", destination, &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED);
  SettleWithoutAlarm(w.withdrawal_id());
  ASSERT_FALSE(HasFatalFailure());

  // The change address: one of the client-hot wallet's own addresses, no deposit address.
  std::string change;
  const v1::GetReconciliationResponse settled = ReconciledAtTip();
  ASSERT_NE(Wallet(settled, "BTC:client-hot"), nullptr);
  for (const auto& a : Wallet(settled, "BTC:client-hot")->addresses()) {
    if (a.address() != deposit) change = a.address();
  }
  ASSERT_FALSE(change.empty());
  EXPECT_EQ(AuditCount("asset.frozen"), 0u);
  // A withdrawal of 1 BTC waits for two approvals; it will get them while BTC is frozen.
  v1::Withdrawal big;
  s = Create(client, "BTC", "100000000", destination, &big);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(big.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);

  // Someone pays the change address: an unknown incoming transfer.
  const std::string unknown_txid = stack_->Credit(kBtc, change, "1234567");
  stack_->Mine(kBtc, 3);
  stack_->WaitIngested(kBtc);
  v1::GetReconciliationResponse frozen;
  ASSERT_TRUE(Eventually([&] {
    frozen = Report();
    const v1::AssetReconciliationState* btc = Asset(frozen, "BTC");
    return btc != nullptr && btc->frozen();
  })) << stack_->CustodydStderr();
  EXPECT_EQ(Asset(frozen, "BTC")->reason(), "unknown_transfer");
  EXPECT_FALSE(Asset(frozen, "ETH")->frozen());
  EXPECT_FALSE(Asset(frozen, "USDC-ETH")->frozen());
  ASSERT_EQ(frozen.unknown_transfers_size(), 1);
  EXPECT_EQ(frozen.unknown_transfers(0).txid(), unknown_txid);
  EXPECT_EQ(frozen.unknown_transfers(0).address(), change);
  EXPECT_EQ(frozen.unknown_transfers(0).amount(), "1234567");
  EXPECT_EQ(frozen.unknown_transfers(0).wallet_id(), "BTC:client-hot");
  EXPECT_FALSE(frozen.unknown_transfers(0).acknowledged());
  EXPECT_EQ(AuditCount("reconciliation.unknown_transfer"), 1u);
  EXPECT_EQ(AuditCount("asset.frozen", "BTC"), 1u);
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("ALERT unknown incoming transfer " + unknown_txid + ":0"));
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("ALERT asset BTC frozen"));
  ASSERT_EQ(frozen.freezes_size(), 1);
  const v1::AssetFreeze freeze = frozen.freezes(0);
  EXPECT_EQ(freeze.state(), "frozen");
  EXPECT_EQ(freeze.approvals_required(), 2u);
  EXPECT_EQ(freeze.approval_group(), "ops");
  EXPECT_THAT(freeze.freeze_id(), StartsWith("fz_"));

  // BTC withdrawals are refused with the reason; other assets are not frozen.
  s = Create(client, "BTC", "1000000", destination, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), StartsWith("asset_frozen: BTC is frozen by " + freeze.freeze_id()));
  EXPECT_THAT(s.error_message(), HasSubstr("unknown_transfer"));
  {
    // ETH is not frozen: the request gets past the freeze (to the client's empty balance).
    std::array<uint8_t, 20> eth;
    eth.fill(0x42);
    s = Create(client, "ETH", "1000", chain::EthChecksumAddress(eth), nullptr);
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("asset_frozen"))) << s.error_message();
  }

  // Approvals of a withdrawal still count, but the executor claims nothing of a frozen asset:
  // the approved withdrawal waits (a few of its 250 ms passes).
  for (const char* id : {"alice", "bob"}) {
    s = Approve(big.withdrawal_id(), id, Sign(ApproverKey(id), DigestOf(SubjectOf(big))));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Get(big.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_APPROVED);

  // The freeze waits for approvals in the approvers' list.
  {
    grpc::ClientContext ctx;
    v1::ListPendingApprovalsResponse pending;
    ASSERT_TRUE(approver_->ListPendingApprovals(&ctx, v1::ListPendingApprovalsRequest(), &pending).ok());
    int found = 0;
    for (const auto& p : pending.pending()) {
      found += p.kind() == v1::APPROVAL_TARGET_KIND_ASSET_FREEZE && p.asset_freeze().freeze_id() == freeze.freeze_id();
    }
    EXPECT_EQ(found, 1);
  }
  // A signature over anything else, or by someone outside the group, lifts nothing.
  const policy::ApprovalDigestBytes digest = LiftDigestOf(freeze);
  v1::AssetFreeze tampered = freeze;
  tampered.set_reason("balance_mismatch");
  EXPECT_EQ(Approve(freeze.freeze_id(), "alice", Sign(ApproverKey("alice"), LiftDigestOf(tampered))).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Approve("fz_nothex", "alice", Sign(ApproverKey("alice"), digest)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::SubmitApprovalResponse approved;
  s = Approve(freeze.freeze_id(), "alice", Sign(ApproverKey("alice"), digest), &approved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(approved.kind(), v1::APPROVAL_TARGET_KIND_ASSET_FREEZE);
  EXPECT_EQ(approved.asset_freeze().state(), "frozen");
  EXPECT_EQ(Approve(freeze.freeze_id(), "alice", Sign(ApproverKey("alice"), digest)).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(Asset(Report(), "BTC")->frozen());
  s = Approve(freeze.freeze_id(), "bob", Sign(ApproverKey("bob"), digest), &approved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(approved.asset_freeze().state(), "lifted");
  EXPECT_THAT(approved.asset_freeze().approved_by(), ::testing::ElementsAre("alice", "bob"));
  {
    const v1::GetReconciliationResponse r = Report();
    EXPECT_FALSE(Asset(r, "BTC")->frozen());
    ASSERT_EQ(r.unknown_transfers_size(), 1);
    EXPECT_TRUE(r.unknown_transfers(0).acknowledged());
    EXPECT_EQ(r.unknown_transfers(0).freeze_id(), freeze.freeze_id());
  }
  EXPECT_EQ(AuditCount("asset.freeze_approval", freeze.freeze_id()), 2u);
  EXPECT_EQ(AuditCount("asset.unfrozen", freeze.freeze_id()), 1u);

  // The approved withdrawal goes out now; new ones are accepted again; nothing freezes on the
  // acknowledged transfer.
  SettleWithoutAlarm(big.withdrawal_id());
  ASSERT_FALSE(HasFatalFailure());
  s = Create(client, "BTC", "1000000", destination, &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  SettleWithoutAlarm(w.withdrawal_id());
  ASSERT_FALSE(HasFatalFailure());
  stack_->ExpectInvariantsAndAuditHold();

  // A chain balance changed behind the ledger's back: a credited deposit dropped by a
  // reorganisation deeper than the confirmation count. The ledger keeps it; the chain does not.
  stack_->Credit(kBtc, deposit, "5000000");
  stack_->Mine(kBtc, 3);
  stack_->WaitIngested(kBtc);
  ExpectNoFalseAlarm("second deposit credited");
  stack_->Reorg(kBtc, 3, false);
  stack_->WaitIngested(kBtc);
  v1::GetReconciliationResponse again;
  ASSERT_TRUE(Eventually([&] {
    again = Report();
    return Asset(again, "BTC")->frozen();
  })) << stack_->CustodydStderr();
  EXPECT_EQ(Asset(again, "BTC")->reason(), "balance_mismatch");
  EXPECT_NE(Asset(again, "BTC")->freeze_id(), freeze.freeze_id());
  const v1::WalletReconciliation* hot = Wallet(again, "BTC:client-hot");
  ASSERT_NE(hot, nullptr);
  EXPECT_EQ(hot->state(), "mismatch");
  EXPECT_EQ(hot->difference(), "-5000000");
  EXPECT_EQ(hot->acknowledged(), "0");
  EXPECT_EQ(AuditCount("reconciliation.mismatch", "BTC:client-hot"), 1u);
  EXPECT_EQ(AuditCount("asset.frozen", "BTC"), 2u);
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("ALERT reconciliation mismatch: wallet BTC:client-hot"));
  s = Create(client, "BTC", "1000000", destination, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("balance_mismatch"));
}

// Ethereum: ETH and USDC deposits, pending and credited, reconcile without a difference (the
// client-hot wallets counted at every address of the chain); USDC sent to an ETH deposit
// address is nobody's USDC deposit: an unknown transfer that freezes USDC-ETH alone.
TEST_F(ReconcileE2eTest, EthereumDepositsReconcileAndAnotherAssetsTransferIsUnknown) {
  const std::string client = CreateClientAs(*platform_, "create-eth-1", "eth-1");
  const std::string eth = CreateDepositAddressAs(*platform_, "address-eth", client, "ETH");
  const std::string usdc = CreateDepositAddressAs(*platform_, "address-usdc", client, "USDC-ETH");
  stack_->Credit("ethereum", eth, "3000000000000000000");
  stack_->Credit("ethereum", usdc, "7000000", kUsdcContract);
  for (int blocks : {1, 1}) {  // pending (1 of 2 confirmations), then credited
    stack_->Mine("ethereum", blocks);
    stack_->WaitIngested("ethereum");
    const v1::GetReconciliationResponse r = ReconciledAtTip("ethereum", 6);  // ETH and USDC-ETH
    for (const auto& w : r.wallets()) {
      if (w.chain() != "ethereum") continue;
      EXPECT_EQ(w.difference(), "0") << w.ShortDebugString();
      EXPECT_EQ(w.state(), "ok") << w.ShortDebugString();
    }
    for (const auto& a : r.assets()) EXPECT_FALSE(a.frozen()) << a.ShortDebugString();
  }
  const v1::GetReconciliationResponse credited = Report();
  EXPECT_EQ(Wallet(credited, "ETH:client-hot")->ledger_balance(), "3000000000000000000");
  EXPECT_EQ(Wallet(credited, "USDC-ETH:client-hot")->chain_balance(), "7000000");

  stack_->Credit("ethereum", eth, "2500000", kUsdcContract);
  stack_->Mine("ethereum", 2);
  stack_->WaitIngested("ethereum");
  v1::GetReconciliationResponse r;
  ASSERT_TRUE(Eventually([&] {
    r = Report();
    return Asset(r, "USDC-ETH")->frozen();
  })) << stack_->CustodydStderr();
  EXPECT_EQ(Asset(r, "USDC-ETH")->reason(), "unknown_transfer");
  EXPECT_FALSE(Asset(r, "ETH")->frozen());
  EXPECT_FALSE(Asset(r, "BTC")->frozen());
  ASSERT_EQ(r.unknown_transfers_size(), 1);
  EXPECT_EQ(r.unknown_transfers(0).address(), eth);
  EXPECT_EQ(r.unknown_transfers(0).wallet_id(), "USDC-ETH:client-hot");
  EXPECT_EQ(r.unknown_transfers(0).amount(), "2500000");
  // Booked to unattributed by the ingestor, so the books still equal the chain.
  EXPECT_EQ(Wallet(r, "USDC-ETH:client-hot")->difference(), "0");
}

// GetReconciliation is for approvers, auditors and admins, not the platform; a bad asset id is
// refused naming the field.
TEST_F(ReconcileE2eTest, GetReconciliationRolesAndInput) {
  grpc::ClientContext ctx;
  v1::GetReconciliationResponse resp;
  EXPECT_EQ(platform_->GetReconciliation(&ctx, v1::GetReconciliationRequest(), &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext bad;
  v1::GetReconciliationRequest req;
  req.set_asset_id("NOPE");
  grpc::Status s = auditor_->GetReconciliation(&bad, req, &resp);
  EXPECT_NE(s.error_code(), grpc::StatusCode::OK);
  EXPECT_THAT(s.error_message(), HasSubstr("asset_id"));
  grpc::ClientContext ok;
  req.set_asset_id("BTC");
  s = approver_->GetReconciliation(&ok, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.assets_size(), 1);
  EXPECT_FALSE(resp.assets(0).frozen());
}

}  // namespace
}  // namespace ringfence::custody::testing
