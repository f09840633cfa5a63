// Whitelists, withdrawals (request side) and approvals end to end, with real processes
// (tests/custody/e2e_harness.h: chainsim, signerd on a PKCS#11 token, custodyd on SQLite over
// mTLS) and approvals signed with test approvers' Ed25519 keys over digests the test computes
// from the fields custodyd shows. After each test `custodyd check` and `custodyd audit verify`
// must pass.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "base/amount.h"
#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/eth_address.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kBtc[] = "bitcoin";
constexpr char kEth[] = "ethereum";
constexpr int64_t kBtcUnit = 100'000'000;

std::string BtcAddress(uint8_t fill) {
  std::array<uint8_t, 20> hash;
  hash.fill(fill);
  return chain::P2wpkhAddress("bcrt", hash).value();
}

std::string EthAddress(uint8_t fill) {
  std::array<uint8_t, 20> a;
  a.fill(fill);
  a[0] = 0xab;  // letters, so that EIP-55 mixes case
  return chain::EthChecksumAddress(a);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class WithdrawalsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    stack_ = std::make_unique<CustodyStack>();
    ASSERT_FALSE(HasFatalFailure());
    platform_ = stack_->As("platform");
    approver_ = stack_->As("approver");
    auditor_ = stack_->As("auditor");
    admin_ = stack_->As("admin");
  }

  void TearDown() override {
    if (stack_ != nullptr && !HasFatalFailure()) stack_->ExpectInvariantsAndAuditHold();
  }

  std::string NewClient(const std::string& ref) { return CreateClientAs(*platform_, "create-" + ref, ref); }

  // Credits `amount` base units to a new deposit address of the client and waits until it is
  // available.
  void Fund(const std::string& client_id, const std::string& asset, const std::string& amount) {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key("fund-address-" + client_id + "-" + asset + "-" + std::to_string(++keys_));
    req.set_client_id(client_id);
    req.set_asset_id(asset);
    v1::CreateDepositAddressResponse resp;
    grpc::Status s = platform_->CreateDepositAddress(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const bool btc = asset == "BTC";
    stack_->Credit(btc ? kBtc : kEth, resp.deposit_address().address(), amount, asset == "USDC-ETH" ? kUsdcContract : "");
    stack_->Mine(btc ? kBtc : kEth, btc ? 3 : 2);
    stack_->WaitIngested(btc ? kBtc : kEth);
  }

  v1::AssetBalance Balance(const std::string& client_id, const std::string& asset) {
    grpc::ClientContext ctx;
    v1::GetBalancesRequest req;
    req.set_client_id(client_id);
    req.set_asset_id(asset);
    v1::GetBalancesResponse resp;
    grpc::Status s = platform_->GetBalances(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.balances_size() == 1 ? resp.balances(0) : v1::AssetBalance();
  }

  grpc::Status AddWhitelist(const std::string& client_id, const std::string& asset, const std::string& address,
                            v1::WhitelistEntry* out, const std::string& key = "") {
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key(key.empty() ? "wl-" + std::to_string(++keys_) : key);
    req.set_client_id(client_id);
    req.set_asset_id(asset);
    req.set_address(address);
    req.set_label("test destination");
    v1::AddWhitelistAddressResponse resp;
    grpc::Status s = platform_->AddWhitelistAddress(&ctx, req, &resp);
    if (out != nullptr) *out = resp.entry();
    return s;
  }

  grpc::Status Approve(const std::string& target_id, const std::string& approver_id, const std::string& signature,
                       v1::SubmitApprovalResponse* out = nullptr) {
    return SubmitApprovalAs(*approver_, "approve-" + std::to_string(++keys_), target_id, approver_id, signature, out);
  }

  // Whitelists `address` for the client and has alice approve it; returns the active entry.
  v1::WhitelistEntry Whitelisted(const std::string& client_id, const std::string& asset, const std::string& address) {
    v1::WhitelistEntry entry;
    grpc::Status s = AddWhitelist(client_id, asset, address, &entry);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::SubmitApprovalResponse resp;
    s = Approve(entry.entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(entry)), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.whitelist_entry().state(), v1::WHITELIST_STATE_ACTIVE);
    return resp.whitelist_entry();
  }

  grpc::Status Create(const std::string& client_id, const std::string& asset, const std::string& amount,
                      const std::string& destination, v1::Withdrawal* out, const std::string& key = "",
                      const std::string& requested_by = "") {
    return CreateWithdrawalAs(*platform_, key.empty() ? "wd-" + std::to_string(++keys_) : key, client_id, asset, amount,
                              destination, out, requested_by);
  }

  v1::Withdrawal Get(const std::string& id) { return GetWithdrawalAs(*auditor_, id); }

  std::vector<v1::Withdrawal> List(const std::string& client_id) {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.set_client_id(client_id);
    req.set_page_size(1000);
    v1::ListWithdrawalsResponse resp;
    grpc::Status s = platform_->ListWithdrawals(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.withdrawals().begin(), resp.withdrawals().end()};
  }

  size_t AuditCount(const std::string& action) {
    size_t n = 0;
    uint64_t after = 0;
    for (;;) {
      grpc::ClientContext ctx;
      v1::ListAuditEntriesRequest req;
      req.set_after_seq(after);
      req.set_page_size(1000);
      v1::ListAuditEntriesResponse resp;
      grpc::Status s = auditor_->ListAuditEntries(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || resp.entries().empty()) return n;
      for (const auto& e : resp.entries()) n += e.action() == action;
      after = resp.entries().rbegin()->seq();
    }
  }

  std::unique_ptr<CustodyStack> stack_;
  std::unique_ptr<v1::Custody::Stub> platform_, approver_, auditor_, admin_;
  int keys_ = 0;
};

TEST_F(WithdrawalsE2eTest, WhitelistedSmallWithdrawalIsApprovedAtOnceAndHeldThenCancelled) {
  const std::string client = NewClient("alice-w");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(3 * kBtcUnit)));
  const std::string dest = BtcAddress(0x11);

  // The addition waits for its approval and shows up as pending for approvers.
  v1::WhitelistEntry entry;
  ASSERT_TRUE(AddWhitelist(client, "BTC", dest, &entry).ok());
  EXPECT_EQ(entry.state(), v1::WHITELIST_STATE_PENDING_APPROVAL);
  EXPECT_EQ(entry.approvals_required(), 1u);
  EXPECT_FALSE(entry.usable());
  {
    grpc::ClientContext ctx;
    v1::ListPendingApprovalsResponse resp;
    ASSERT_TRUE(approver_->ListPendingApprovals(&ctx, v1::ListPendingApprovalsRequest(), &resp).ok());
    ASSERT_EQ(resp.pending_size(), 1);
    EXPECT_EQ(resp.pending(0).kind(), v1::APPROVAL_TARGET_KIND_WHITELIST_ADD);
    EXPECT_EQ(resp.pending(0).whitelist_entry().entry_id(), entry.entry_id());
    // custodyd's digest agrees with the one the approver computes itself.
    const auto digest = WhitelistDigestOf(entry);
    EXPECT_EQ(resp.pending(0).whitelist_entry().digest_hex(), base::HexEncode(std::string(digest.begin(), digest.end())));
  }
  // Until it is approved a withdrawal to it is denied as not whitelisted (and holds nothing).
  v1::Withdrawal early;
  ASSERT_TRUE(Create(client, "BTC", "10000000", dest, &early).ok());
  EXPECT_EQ(early.state(), v1::WITHDRAWAL_STATE_DENIED);
  ASSERT_EQ(early.denials_size(), 1);
  EXPECT_EQ(early.denials(0).reason(), "not_whitelisted");
  EXPECT_EQ(early.held(), "0");

  v1::SubmitApprovalResponse approved;
  ASSERT_TRUE(Approve(entry.entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(entry)), &approved).ok());
  EXPECT_EQ(approved.whitelist_entry().state(), v1::WHITELIST_STATE_ACTIVE);
  EXPECT_TRUE(approved.whitelist_entry().usable());  // BTC has no cooling-off in the test policy
  EXPECT_THAT(approved.whitelist_entry().approvals(), ::testing::ElementsAre("alice"));

  // 0.1 BTC: below every approval tier, so approved at creation; the hold is amount + fee cap.
  v1::Withdrawal w;
  ASSERT_TRUE(Create(client, "BTC", "10000000", dest, &w).ok());
  EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED) << w.reason();
  EXPECT_THAT(w.withdrawal_id(), ::testing::MatchesRegex("w_[0-9a-f]{16}"));
  EXPECT_EQ(w.approvals_required(), 0u);
  EXPECT_EQ(w.held(), std::to_string(10000000 + 10000));
  EXPECT_EQ(w.fee_cap(), kBtcFeeCap);
  EXPECT_EQ(w.fee_asset(), "BTC");
  EXPECT_TRUE(w.fee_charged_to_client());
  EXPECT_EQ(w.source_wallet(), "BTC:client-hot");
  EXPECT_EQ(w.kind(), v1::REQUEST_KIND_WITHDRAWAL);
  EXPECT_EQ(w.decimals(), 8u);
  EXPECT_EQ(w.whitelist_entry_id(), entry.entry_id());
  EXPECT_GT(w.whitelist_approved_at_unix_s(), 0);
  EXPECT_FALSE(w.matched_rules().empty());
  EXPECT_GT(w.expires_at_unix_s(), w.created_unix_ms() / 1000);
  EXPECT_EQ(w.digest_inputs().request_id(), w.withdrawal_id());
  EXPECT_EQ(w.digest_inputs().source_wallet(), "BTC:client-hot");
  EXPECT_EQ(w.digest_inputs().chain(), "bitcoin");
  EXPECT_EQ(w.digest_inputs().network(), "regtest");
  const auto digest = DigestOf(SubjectOf(w));
  EXPECT_EQ(w.digest_hex(), base::HexEncode(std::string(digest.begin(), digest.end())));
  v1::AssetBalance b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), "10010000");
  EXPECT_EQ(b.available(), std::to_string(3 * kBtcUnit - 10010000));

  // Listed and fetched alike; cancelled before signing, the hold is released.
  const auto listed = List(client);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].withdrawal_id(), w.withdrawal_id());  // newest first
  EXPECT_EQ(Get(w.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_APPROVED);
  {
    grpc::ClientContext ctx;
    v1::CancelWithdrawalRequest req;
    req.set_idempotency_key("cancel-1");
    req.set_withdrawal_id(w.withdrawal_id());
    req.set_reason("customer changed their mind");
    v1::CancelWithdrawalResponse resp;
    grpc::Status s = platform_->CancelWithdrawal(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.withdrawal().state(), v1::WITHDRAWAL_STATE_CANCELLED);
    EXPECT_EQ(resp.withdrawal().held(), "0");
  }
  {
    // A second cancel (another key) is refused: it is final.
    grpc::ClientContext ctx;
    v1::CancelWithdrawalRequest req;
    req.set_idempotency_key("cancel-2");
    req.set_withdrawal_id(w.withdrawal_id());
    req.set_reason("again");
    v1::CancelWithdrawalResponse resp;
    EXPECT_EQ(platform_->CancelWithdrawal(&ctx, req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), "0");
  EXPECT_EQ(b.available(), std::to_string(3 * kBtcUnit));
  EXPECT_EQ(AuditCount("withdrawal.created"), 1u);
  EXPECT_EQ(AuditCount("withdrawal.denied"), 1u);
  EXPECT_EQ(AuditCount("withdrawal.cancelled"), 1u);
  EXPECT_EQ(AuditCount("whitelist.approved"), 1u);

  // Removal is immediate: the next withdrawal to it is denied.
  {
    grpc::ClientContext ctx;
    v1::RemoveWhitelistAddressRequest req;
    req.set_idempotency_key("remove-1");
    req.set_entry_id(entry.entry_id());
    req.set_reason("client asked");
    v1::RemoveWhitelistAddressResponse resp;
    ASSERT_TRUE(platform_->RemoveWhitelistAddress(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.entry().state(), v1::WHITELIST_STATE_REMOVED);
  }
  v1::Withdrawal after;
  ASSERT_TRUE(Create(client, "BTC", "10000000", dest, &after).ok());
  EXPECT_EQ(after.state(), v1::WITHDRAWAL_STATE_DENIED);
  EXPECT_EQ(AuditCount("whitelist.removed"), 1u);
}

TEST_F(WithdrawalsE2eTest, LargeWithdrawalNeedsTwoOfThreeDistinctApproversNotTheRequester) {
  const std::string client = NewClient("big");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(4 * kBtcUnit)));
  const std::string dest = BtcAddress(0x22);
  Whitelisted(client, "BTC", dest);
  const std::string dest2 = BtcAddress(0x23);
  Whitelisted(client, "BTC", dest2);
  v1::Withdrawal w;
  // Requested on behalf of alice, who is also an approver: her own approval must not count.
  ASSERT_TRUE(Create(client, "BTC", std::to_string(2 * kBtcUnit), dest, &w, "", "alice").ok());
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  EXPECT_EQ(w.approvals_required(), 2u);
  EXPECT_EQ(w.approval_group(), "ops");
  EXPECT_EQ(w.requester(), "alice");
  v1::Withdrawal other;  // a second withdrawal, to sign for by mistake
  ASSERT_TRUE(Create(client, "BTC", std::to_string(kBtcUnit), dest2, &other).ok());
  ASSERT_EQ(other.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);

  const policy::ApprovalSubject subject = SubjectOf(w);
  const auto digest = DigestOf(subject);
  // The requester's own approval.
  grpc::Status s = Approve(w.withdrawal_id(), "alice", Sign(ApproverKey("alice"), digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("requested"));
  // A forged signature (random bytes).
  std::string forged(64, '\0');
  randombytes_buf(forged.data(), forged.size());
  s = Approve(w.withdrawal_id(), "bob", forged);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("signature"));
  // An approval made for another withdrawal.
  s = Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), DigestOf(SubjectOf(other))));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An approval for another source wallet (the same request otherwise).
  policy::ApprovalSubject moved = subject;
  moved.source_wallet = "BTC:house-hot";
  s = Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), DigestOf(moved)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A v1 approval (the old digest without kind, source wallet and expiry).
  {
    std::string body;
    auto text = [&](const std::string& t) {
      const uint32_t n = static_cast<uint32_t>(t.size());
      body += std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                          static_cast<char>(n)};
      body += t;
    };
    auto u128 = [&](const base::Amount& a) {
      const auto be = a.ToBigEndian();
      body.append(reinterpret_cast<const char*>(be.data()), be.size());
    };
    text(subject.request_id), text(subject.chain), text(subject.network), text(subject.asset);
    u128(subject.amount), text(subject.destination), u128(subject.fee_cap);
    uint8_t tag[32];
    const std::string tag_text = "ringfence/approval/v1";
    crypto_hash_sha256(tag, reinterpret_cast<const uint8_t*>(tag_text.data()), tag_text.size());
    std::string pre(reinterpret_cast<const char*>(tag), 32);
    pre += pre + body;
    policy::ApprovalDigestBytes v1_digest;
    crypto_hash_sha256(v1_digest.data(), reinterpret_cast<const uint8_t*>(pre.data()), pre.size());
    s = Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), v1_digest));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // A key outside the registry, under an unknown id and under a registered one.
  const TestKey mallory = KeyOf(0x66);
  s = Approve(w.withdrawal_id(), "mallory", Sign(mallory, digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("registry"));
  s = Approve(w.withdrawal_id(), "carol", Sign(mallory, digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // dave is bound to a certificate subject the approver certificate does not have.
  s = Approve(w.withdrawal_id(), "dave", Sign(ApproverKey("dave"), digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get(w.withdrawal_id()).approvals_size(), 0);
  EXPECT_GE(AuditCount("approval.refused"), 8u);

  // One real approval is not enough; the same approver twice counts once.
  v1::SubmitApprovalResponse resp;
  ASSERT_TRUE(Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), digest), &resp).ok());
  EXPECT_EQ(resp.withdrawal().state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  s = Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  {
    // bob no longer sees it as pending for him; carol does.
    grpc::ClientContext ctx;
    v1::ListPendingApprovalsRequest req;
    req.set_approver_id("bob");
    v1::ListPendingApprovalsResponse list;
    ASSERT_TRUE(approver_->ListPendingApprovals(&ctx, req, &list).ok());
    for (const auto& p : list.pending()) EXPECT_NE(p.withdrawal().withdrawal_id(), w.withdrawal_id());
  }
  ASSERT_TRUE(Approve(w.withdrawal_id(), "carol", Sign(ApproverKey("carol"), digest), &resp).ok());
  EXPECT_EQ(resp.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED);
  EXPECT_THAT(resp.withdrawal().approvals(), ::testing::ElementsAre("bob", "carol"));
  // Approved: no more approvals, no rejection.
  s = Approve(w.withdrawal_id(), "alice", Sign(ApproverKey("alice"), digest));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // The other one is rejected by an approver: its hold is released.
  {
    grpc::ClientContext ctx;
    v1::RejectWithdrawalRequest req;
    req.set_idempotency_key("reject-1");
    req.set_withdrawal_id(other.withdrawal_id());
    req.set_approver_id("carol");
    req.set_reason("destination looks wrong");
    v1::RejectWithdrawalResponse r;
    s = approver_->RejectWithdrawal(&ctx, req, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.withdrawal().state(), v1::WITHDRAWAL_STATE_REJECTED);
    EXPECT_THAT(r.withdrawal().reason(), HasSubstr("destination looks wrong"));
  }
  const v1::AssetBalance b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), std::to_string(2 * kBtcUnit + 10000));
  // The decisions replay to the same outcomes under the configured policy; a stricter policy
  // changes them and replay says so.
  CommandResult replay = stack_->RunCustodyd({"policy", "replay", "--config", stack_->config_path().string()});
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr(" 0 differ"));
  std::string stricter = kTestPolicy;
  const std::string from = "per_request_limit = \"5\"";
  stricter.replace(stricter.find(from), from.size(), "per_request_limit = \"1.5\"");
  const auto path = stack_->dir() / "stricter.toml";
  std::ofstream(path) << stricter;
  replay = stack_->RunCustodyd({"policy", "replay", "--config", stack_->config_path().string(), "--policy", path.string()});
  EXPECT_EQ(replay.exit_code, 1) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr(w.withdrawal_id()));
}

TEST_F(WithdrawalsE2eTest, NotWhitelistedOrCoolingOffIsDeniedWithThatReason) {
  const std::string client = NewClient("cool");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "ETH", "50000000000000000000"));  // 50 ETH
  const std::string dest = EthAddress(0x33);
  v1::Withdrawal w;
  ASSERT_TRUE(Create(client, "ETH", "1000000000000000000", dest, &w).ok());
  EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_DENIED);
  ASSERT_EQ(w.denials_size(), 1);
  EXPECT_EQ(w.denials(0).reason(), "not_whitelisted");
  // ETH additions cool off for a day after approval.
  const v1::WhitelistEntry entry = Whitelisted(client, "ETH", dest);
  EXPECT_FALSE(entry.usable());
  EXPECT_EQ(entry.usable_from_unix_s(), entry.approved_at_unix_s() + 86400);
  ASSERT_TRUE(Create(client, "ETH", "1000000000000000000", dest, &w).ok());
  EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_DENIED);
  ASSERT_EQ(w.denials_size(), 1);
  EXPECT_EQ(w.denials(0).reason(), "cooling_off");
  EXPECT_EQ(w.denials(0).until_unix_s(), entry.usable_from_unix_s());
  EXPECT_EQ(Balance(client, "ETH").held(), "0");
}

TEST_F(WithdrawalsE2eTest, ConcurrentWithdrawalsNeverExceedTheBalance) {
  const std::string client = NewClient("race-balance");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(3 * kBtcUnit)));
  const std::string dest = BtcAddress(0x44);
  Whitelisted(client, "BTC", dest);
  // 50 x (0.1 BTC + 10,000 sat fee cap) against 3 BTC: exactly 29 fit.
  std::atomic<int> approved{0}, denied{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto stub = stack_->As("platform");
      grpc::ClientContext ctx;
      v1::CreateWithdrawalRequest req;
      req.set_idempotency_key("race-" + std::to_string(i));
      req.set_client_id(client);
      req.set_asset_id("BTC");
      req.set_amount("10000000");
      req.set_destination(dest);
      v1::CreateWithdrawalResponse resp;
      grpc::Status s = stub->CreateWithdrawal(&ctx, req, &resp);
      if (!s.ok()) {
        ++errors;
      } else if (resp.withdrawal().state() == v1::WITHDRAWAL_STATE_APPROVED) {
        ++approved;
      } else if (resp.withdrawal().state() == v1::WITHDRAWAL_STATE_DENIED &&
                 resp.withdrawal().denials(0).reason() == "insufficient_funds") {
        ++denied;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(approved.load(), 29);
  EXPECT_EQ(denied.load(), 21);
  const v1::AssetBalance b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), std::to_string(29 * 10010000));
  EXPECT_EQ(b.available(), std::to_string(3 * kBtcUnit - 29 * 10010000));
}

TEST_F(WithdrawalsE2eTest, ConcurrentWithdrawalsNeverExceedTheRollingLimit) {
  const std::string client = NewClient("race-limit");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(40 * kBtcUnit)));
  const std::string dest = BtcAddress(0x55);
  Whitelisted(client, "BTC", dest);
  // 50 x 0.5 BTC against the client's 10 BTC a day: exactly 20 fit (the balance would allow 79).
  std::atomic<int> approved{0}, over_limit{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto stub = stack_->As("platform");
      grpc::ClientContext ctx;
      v1::CreateWithdrawalRequest req;
      req.set_idempotency_key("limit-" + std::to_string(i));
      req.set_client_id(client);
      req.set_asset_id("BTC");
      req.set_amount("50000000");
      req.set_destination(dest);
      v1::CreateWithdrawalResponse resp;
      if (!stub->CreateWithdrawal(&ctx, req, &resp).ok()) return;
      if (resp.withdrawal().state() == v1::WITHDRAWAL_STATE_APPROVED) ++approved;
      for (const auto& d : resp.withdrawal().denials()) over_limit += d.reason() == "over_client_rolling_limit";
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(approved.load(), 20);
  EXPECT_EQ(over_limit.load(), 30);
  EXPECT_EQ(Balance(client, "BTC").held(), std::to_string(20 * 50010000));
}

TEST_F(WithdrawalsE2eTest, RetriesAreIdempotentAndAChangedBodyIsRefused) {
  const std::string client = NewClient("retry");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(kBtcUnit)));
  const std::string dest = BtcAddress(0x66);
  Whitelisted(client, "BTC", dest);
  v1::Withdrawal first, again;
  ASSERT_TRUE(Create(client, "BTC", "1000", dest, &first, "same-key").ok());
  ASSERT_TRUE(Create(client, "BTC", "1000", dest, &again, "same-key").ok());
  EXPECT_EQ(first.withdrawal_id(), again.withdrawal_id());
  EXPECT_EQ(List(client).size(), 1u);
  grpc::Status s = Create(client, "BTC", "1001", dest, nullptr, "same-key");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("same-key"));
  EXPECT_EQ(List(client).size(), 1u);
  EXPECT_EQ(Balance(client, "BTC").held(), "11000");
  // A whitelist addition retried: one entry.
  v1::WhitelistEntry a, b;
  ASSERT_TRUE(AddWhitelist(client, "BTC", BtcAddress(0x67), &a, "wl-same").ok());
  ASSERT_TRUE(AddWhitelist(client, "BTC", BtcAddress(0x67), &b, "wl-same").ok());
  EXPECT_EQ(a.entry_id(), b.entry_id());
  EXPECT_EQ(AddWhitelist(client, "BTC", BtcAddress(0x68), nullptr, "wl-same").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(WithdrawalsE2eTest, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  const std::string client = NewClient("bad");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(kBtcUnit)));
  const std::string dest = BtcAddress(0x77);
  Whitelisted(client, "BTC", dest);
  const std::string frozen = NewClient("frozen");
  {
    grpc::ClientContext ctx;
    v1::FreezeClientRequest req;
    req.set_idempotency_key("freeze-1");
    req.set_client_id(frozen);
    req.set_reason("investigation");
    v1::FreezeClientResponse resp;
    ASSERT_TRUE(admin_->FreezeClient(&ctx, req, &resp).ok());
  }
  const v1::AssetBalance before = Balance(client, "BTC");
  struct Case {
    std::string name, client, asset, amount, destination, requested_by;
    grpc::StatusCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"empty amount", client, "BTC", "", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"zero amount", client, "BTC", "0", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"non-decimal", client, "BTC", "12a", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"negative", client, "BTC", "-5", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"leading zeros", client, "BTC", "0100", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"display units", client, "BTC", "0.5", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"above 2^128-1", client, "BTC", "340282366920938463463374607431768211456", dest, "",
       grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"oversized amount", client, "BTC", std::string(100, '1'), dest, "", grpc::StatusCode::INVALID_ARGUMENT, "amount"},
      {"empty destination", client, "BTC", "1000", "", "", grpc::StatusCode::INVALID_ARGUMENT, "destination"},
      {"oversized destination", client, "BTC", "1000", std::string(500, 'q'), "", grpc::StatusCode::INVALID_ARGUMENT,
       "destination"},
      {"uppercase bech32", client, "BTC", "1000", Upper(dest), "", grpc::StatusCode::INVALID_ARGUMENT, "destination"},
      {"bad checksum", client, "BTC", "1000", dest.substr(0, dest.size() - 1) + (dest.back() == 'q' ? "p" : "q"), "",
       grpc::StatusCode::INVALID_ARGUMENT, "destination"},
      {"other network", client, "BTC", "1000", chain::P2wpkhAddress("bc", std::array<uint8_t, 20>{}).value(), "",
       grpc::StatusCode::INVALID_ARGUMENT, "destination"},
      {"lowercase eth", client, "ETH", "1000", "0x" + std::string(40, 'a').replace(0, 2, "ab"), "",
       grpc::StatusCode::INVALID_ARGUMENT, "destination"},
      {"empty client", "", "BTC", "1000", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "client_id"},
      {"malformed client", "c_XYZ", "BTC", "1000", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "client_id"},
      {"unknown client", "c_0000000000000000", "BTC", "1000", dest, "", grpc::StatusCode::NOT_FOUND, "client_id"},
      {"empty asset", client, "", "1000", dest, "", grpc::StatusCode::INVALID_ARGUMENT, "asset_id"},
      {"unknown asset", client, "DOGE", "1000", dest, "", grpc::StatusCode::NOT_FOUND, "asset_id"},
      {"frozen client", frozen, "BTC", "1000", dest, "", grpc::StatusCode::FAILED_PRECONDITION, "client_id"},
      {"bad requester", client, "BTC", "1000", dest, "a b", grpc::StatusCode::INVALID_ARGUMENT, "requested_by"},
      {"oversized requester", client, "BTC", "1000", dest, std::string(200, 'r'), grpc::StatusCode::INVALID_ARGUMENT,
       "requested_by"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    grpc::ClientContext ctx;
    v1::CreateWithdrawalRequest req;
    req.set_idempotency_key("bad-" + std::to_string(++keys_));
    req.set_client_id(c.client);
    req.set_asset_id(c.asset);
    req.set_amount(c.amount);
    req.set_destination(c.destination);
    req.set_requested_by(c.requested_by);
    v1::CreateWithdrawalResponse resp;
    grpc::Status s = platform_->CreateWithdrawal(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), c.code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
  }
  {
    // An empty idempotency key.
    grpc::ClientContext ctx;
    v1::CreateWithdrawalRequest req;
    req.set_client_id(client);
    req.set_asset_id("BTC");
    req.set_amount("1000");
    req.set_destination(dest);
    v1::CreateWithdrawalResponse resp;
    grpc::Status s = platform_->CreateWithdrawal(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("idempotency_key"));
  }
  // Wrong roles.
  {
    grpc::ClientContext ctx;
    v1::CreateWithdrawalRequest req;
    req.set_idempotency_key("role-1");
    req.set_client_id(client);
    req.set_asset_id("BTC");
    req.set_amount("1000");
    req.set_destination(dest);
    v1::CreateWithdrawalResponse resp;
    EXPECT_EQ(approver_->CreateWithdrawal(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::SubmitApprovalRequest req;
    req.set_idempotency_key("role-2");
    req.set_target_id("w_0000000000000000");
    req.set_approver_id("alice");
    req.set_signature(std::string(64, 's'));
    v1::SubmitApprovalResponse resp;
    EXPECT_EQ(platform_->SubmitApproval(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // SubmitApproval's own fields.
  for (const auto& [target, approver, sig, field] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"", "alice", std::string(64, 's'), "target_id"},
           {"x_0000000000000000", "alice", std::string(64, 's'), "target_id"},
           {"w_00000000000000zz", "alice", std::string(64, 's'), "target_id"},
           {"w_0000000000000000", "", std::string(64, 's'), "approver_id"},
           {"w_0000000000000000", "al ice", std::string(64, 's'), "approver_id"},
           {"w_0000000000000000", "alice", std::string(63, 's'), "signature"},
           {"w_0000000000000000", "alice", std::string(65, 's'), "signature"},
           {"w_0000000000000000", "alice", "", "signature"}}) {
    SCOPED_TRACE(field + " " + target + " " + approver);
    grpc::Status s = Approve(target, approver, sig);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr(field));
  }
  EXPECT_EQ(Approve("w_0000000000000000", "alice", std::string(64, 's')).error_code(), grpc::StatusCode::NOT_FOUND);
  // AddWhitelistAddress: non-canonical spellings and other networks are refused naming the field.
  for (const auto& [address, asset] : std::vector<std::pair<std::string, std::string>>{
           {Upper(BtcAddress(0x78)), "BTC"},
           {chain::P2wpkhAddress("tb", std::array<uint8_t, 20>{}).value(), "BTC"},
           {"0x" + std::string(40, 'a'), "ETH"},
           {"", "BTC"},
           {std::string(300, 'x'), "BTC"}}) {
    SCOPED_TRACE(address);
    grpc::Status s = AddWhitelist(client, asset, address, nullptr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("address"));
  }
  EXPECT_EQ(AddWhitelist(frozen, "BTC", BtcAddress(0x79), nullptr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(AddWhitelist(client, "DOGE", BtcAddress(0x79), nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  // A live entry for the same address cannot be added twice.
  EXPECT_EQ(AddWhitelist(client, "BTC", dest, nullptr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // ListWithdrawals' filters.
  {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.add_states(static_cast<v1::WithdrawalState>(99));
    v1::ListWithdrawalsResponse resp;
    grpc::Status s = platform_->ListWithdrawals(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("states"));
  }
  // Nothing changed.
  EXPECT_TRUE(List(client).empty());
  EXPECT_TRUE(List(frozen).empty());
  const v1::AssetBalance after = Balance(client, "BTC");
  EXPECT_EQ(after.available(), before.available());
  EXPECT_EQ(after.held(), before.held());
}

TEST_F(WithdrawalsE2eTest, TheOtherWithdrawalRpcsRefuseBadInputNamingTheField) {
  const std::string client = NewClient("other-bad");
  const std::vector<std::pair<std::string, std::string>> bad_reasons = {
      {"", "reason"}, {std::string(257, 'r'), "reason"}, {std::string("tab\there"), "reason"}};
  const std::vector<std::pair<std::string, std::string>> bad_withdrawal_ids = {
      {"", "withdrawal_id"}, {"w_123", "withdrawal_id"}, {"c_0000000000000000", "withdrawal_id"},
      {"w_000000000000000G", "withdrawal_id"}, {std::string(100, 'w'), "withdrawal_id"}};
  auto expect = [](const grpc::Status& s, grpc::StatusCode code, const std::string& field) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(field));
  };
  for (const auto& [id, field] : bad_withdrawal_ids) {
    SCOPED_TRACE(id);
    grpc::ClientContext c1;
    v1::GetWithdrawalRequest get;
    get.set_withdrawal_id(id);
    v1::GetWithdrawalResponse got;
    expect(platform_->GetWithdrawal(&c1, get, &got), grpc::StatusCode::INVALID_ARGUMENT, field);
    grpc::ClientContext c2;
    v1::CancelWithdrawalRequest cancel;
    cancel.set_idempotency_key("c-" + std::to_string(++keys_));
    cancel.set_withdrawal_id(id);
    cancel.set_reason("r");
    v1::CancelWithdrawalResponse cancelled;
    expect(platform_->CancelWithdrawal(&c2, cancel, &cancelled), grpc::StatusCode::INVALID_ARGUMENT, field);
    grpc::ClientContext c3;
    v1::RejectWithdrawalRequest reject;
    reject.set_idempotency_key("r-" + std::to_string(++keys_));
    reject.set_withdrawal_id(id);
    reject.set_approver_id("alice");
    reject.set_reason("r");
    v1::RejectWithdrawalResponse rejected;
    expect(approver_->RejectWithdrawal(&c3, reject, &rejected), grpc::StatusCode::INVALID_ARGUMENT, field);
  }
  for (const auto& [reason, field] : bad_reasons) {
    SCOPED_TRACE(reason);
    grpc::ClientContext c1;
    v1::CancelWithdrawalRequest cancel;
    cancel.set_idempotency_key("c-" + std::to_string(++keys_));
    cancel.set_withdrawal_id("w_0000000000000000");
    cancel.set_reason(reason);
    v1::CancelWithdrawalResponse cancelled;
    expect(platform_->CancelWithdrawal(&c1, cancel, &cancelled), grpc::StatusCode::INVALID_ARGUMENT, field);
    grpc::ClientContext c2;
    v1::RemoveWhitelistAddressRequest remove;
    remove.set_idempotency_key("rm-" + std::to_string(++keys_));
    remove.set_entry_id("wl_0000000000000000");
    remove.set_reason(reason);
    v1::RemoveWhitelistAddressResponse removed;
    expect(platform_->RemoveWhitelistAddress(&c2, remove, &removed), grpc::StatusCode::INVALID_ARGUMENT, field);
  }
  // Unknown ids.
  {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest get;
    get.set_withdrawal_id("w_0000000000000000");
    v1::GetWithdrawalResponse got;
    expect(platform_->GetWithdrawal(&ctx, get, &got), grpc::StatusCode::NOT_FOUND, "withdrawal_id");
  }
  {
    grpc::ClientContext ctx;
    v1::RemoveWhitelistAddressRequest remove;
    remove.set_idempotency_key("rm-unknown");
    remove.set_entry_id("wl_0000000000000000");
    remove.set_reason("gone");
    v1::RemoveWhitelistAddressResponse removed;
    expect(platform_->RemoveWhitelistAddress(&ctx, remove, &removed), grpc::StatusCode::NOT_FOUND, "entry_id");
  }
  {
    grpc::ClientContext ctx;
    v1::RejectWithdrawalRequest reject;
    reject.set_idempotency_key("r-unknown-approver");
    reject.set_withdrawal_id("w_0000000000000000");
    reject.set_approver_id("mallory");
    reject.set_reason("no");
    v1::RejectWithdrawalResponse rejected;
    expect(approver_->RejectWithdrawal(&ctx, reject, &rejected), grpc::StatusCode::PERMISSION_DENIED, "approver_id");
  }
  // Listings: malformed filters and foreign page tokens.
  {
    grpc::ClientContext ctx;
    v1::ListWhitelistRequest req;
    v1::ListWhitelistResponse resp;
    expect(platform_->ListWhitelist(&ctx, req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "client_id");
  }
  {
    grpc::ClientContext ctx;
    v1::ListWhitelistRequest req;
    req.set_client_id(client);
    req.set_page_size(1001);
    v1::ListWhitelistResponse resp;
    expect(platform_->ListWhitelist(&ctx, req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "page_size");
  }
  {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.set_page_token("zz");
    v1::ListWithdrawalsResponse resp;
    expect(platform_->ListWithdrawals(&ctx, req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "page_token");
  }
  {
    // A token of another listing (ListClients') is refused.
    grpc::ClientContext c1;
    v1::ListClientsRequest clients;
    clients.set_page_size(1);
    v1::ListClientsResponse listed;
    ASSERT_TRUE(platform_->ListClients(&c1, clients, &listed).ok());
    grpc::ClientContext c2;
    v1::ListWithdrawalsRequest req;
    req.set_page_token(listed.next_page_token());
    v1::ListWithdrawalsResponse resp;
    if (!listed.next_page_token().empty()) {
      expect(platform_->ListWithdrawals(&c2, req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "page_token");
    }
  }
  {
    grpc::ClientContext ctx;
    v1::WatchWithdrawalsRequest req;
    req.set_client_id("nope");
    auto reader = platform_->WatchWithdrawals(&ctx, req);
    v1::WithdrawalEvent e;
    EXPECT_FALSE(reader->Read(&e));
    expect(reader->Finish(), grpc::StatusCode::INVALID_ARGUMENT, "client_id");
  }
  {
    // The auditor reads but cannot act.
    grpc::ClientContext ctx;
    v1::CancelWithdrawalRequest cancel;
    cancel.set_idempotency_key("auditor-cancel");
    cancel.set_withdrawal_id("w_0000000000000000");
    cancel.set_reason("no");
    v1::CancelWithdrawalResponse cancelled;
    EXPECT_EQ(auditor_->CancelWithdrawal(&ctx, cancel, &cancelled).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_TRUE(List(client).empty());
}

TEST_F(WithdrawalsE2eTest, WatchStreamsStateChangesFromAGivenPoint) {
  const std::string client = NewClient("watch");
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(4 * kBtcUnit)));
  const std::string dest = BtcAddress(0x88);
  Whitelisted(client, "BTC", dest);
  v1::Withdrawal small, big;
  ASSERT_TRUE(Create(client, "BTC", "1000", dest, &small).ok());
  ASSERT_TRUE(Create(client, "BTC", std::to_string(2 * kBtcUnit), dest, &big).ok());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::WatchWithdrawalsRequest req;
  req.set_after_seq(small.event_seq());  // from after the first withdrawal's creation
  req.set_client_id(client);
  auto reader = auditor_->WatchWithdrawals(&ctx, req);
  v1::WithdrawalEvent e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.withdrawal_id(), big.withdrawal_id());
  EXPECT_EQ(e.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  EXPECT_EQ(e.seq(), big.event_seq());
  // A change made while the stream is open arrives on it.
  const auto digest = DigestOf(SubjectOf(big));
  ASSERT_TRUE(Approve(big.withdrawal_id(), "bob", Sign(ApproverKey("bob"), digest)).ok());
  ASSERT_TRUE(Approve(big.withdrawal_id(), "carol", Sign(ApproverKey("carol"), digest)).ok());
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.withdrawal_id(), big.withdrawal_id());
  EXPECT_EQ(e.state(), v1::WITHDRAWAL_STATE_APPROVED);
  EXPECT_GT(e.seq(), big.event_seq());
  EXPECT_EQ(e.withdrawal().approvals_size(), 2);
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  reader->Finish().IgnoreError();
}

}  // namespace
}  // namespace ringfence::custody::testing
