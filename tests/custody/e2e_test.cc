// custodyd end to end, with real processes (tests/custody/e2e_harness.h): chainsim, signerd on
// a PKCS#11 token, custodyd on SQLite over mTLS with the development certificates. Deposits go
// from pending to available at the asset's confirmation count; reorganisations before and after
// that count; a restart keeps everything and credits nothing twice; every mutating call is
// idempotent; every field of every RPC refuses bad input and nothing changes; roles are
// enforced and denials audited; health and reflection answer; an independent Node client drives
// the API. After each test, `custodyd check` and `custodyd audit verify` must pass.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "base/hex.h"
#include "proto/signer.grpc.pb.h"
#include "rpc/health_client.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBtc[] = "bitcoin";
constexpr char kEth[] = "ethereum";

class CustodyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<CustodyStack>();
    ASSERT_FALSE(HasFatalFailure());
    Connect();
  }

  void TearDown() override {
    if (stack_ != nullptr && !HasFatalFailure()) stack_->ExpectInvariantsAndAuditHold();
  }

  void Disconnect() { platform_.reset(), approver_.reset(), auditor_.reset(), admin_.reset(); }

  void Connect() {
    platform_ = stack_->As("platform");
    approver_ = stack_->As("approver");
    auditor_ = stack_->As("auditor");
    admin_ = stack_->As("admin");
  }

  // --- calls that must succeed ---------------------------------------------------------------

  v1::Client NewClient(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::CreateClientRequest req;
    req.set_idempotency_key("create-" + ref);
    req.set_client_ref(ref);
    v1::CreateClientResponse resp;
    grpc::Status s = platform_->CreateClient(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.client();
  }

  v1::DepositAddress NewAddress(const std::string& client_id, const std::string& asset) {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key("address-" + client_id + "-" + asset + "-" + std::to_string(++addresses_));
    req.set_client_id(client_id);
    req.set_asset_id(asset);
    v1::CreateDepositAddressResponse resp;
    grpc::Status s = platform_->CreateDepositAddress(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.deposit_address();
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

  std::vector<v1::AuditEntry> Audit(uint64_t after = 0) {
    std::vector<v1::AuditEntry> out;
    for (;;) {
      grpc::ClientContext ctx;
      v1::ListAuditEntriesRequest req;
      req.set_after_seq(after);
      req.set_page_size(1000);
      v1::ListAuditEntriesResponse resp;
      grpc::Status s = auditor_->ListAuditEntries(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || resp.entries().empty()) return out;
      for (const auto& e : resp.entries()) out.push_back(e);
      after = resp.entries().rbegin()->seq();
    }
  }

  size_t CountAudit(const std::string& action) {
    size_t n = 0;
    for (const auto& e : Audit()) n += e.action() == action;
    return n;
  }

  v1::GetSegregationReportResponse Segregation() {
    grpc::ClientContext ctx;
    v1::GetSegregationReportResponse resp;
    grpc::Status s = auditor_->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Everything a caller could see change: clients, and each client's balances, deposit
  // addresses and journal; plus the audit log's length.
  std::string State() {
    std::string out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      v1::ListClientsRequest req;
      req.set_page_token(token);
      v1::ListClientsResponse resp;
      EXPECT_TRUE(platform_->ListClients(&ctx, req, &resp).ok());
      for (const v1::Client& c : resp.clients()) {
        out += c.DebugString();
        grpc::ClientContext b_ctx;
        v1::GetBalancesRequest b_req;
        b_req.set_client_id(c.client_id());
        v1::GetBalancesResponse b_resp;
        EXPECT_TRUE(platform_->GetBalances(&b_ctx, b_req, &b_resp).ok());
        out += b_resp.DebugString();
        grpc::ClientContext a_ctx;
        v1::ListDepositAddressesRequest a_req;
        a_req.set_client_id(c.client_id());
        v1::ListDepositAddressesResponse a_resp;
        EXPECT_TRUE(platform_->ListDepositAddresses(&a_ctx, a_req, &a_resp).ok());
        out += a_resp.DebugString();
      }
      token = resp.next_page_token();
    } while (!token.empty());
    out += "audit entries: " + std::to_string(Audit().size());
    return out;
  }

  std::unique_ptr<CustodyStack> stack_;
  std::unique_ptr<v1::Custody::Stub> platform_, approver_, auditor_, admin_;
  int addresses_ = 0;
};

// --- deposits ----------------------------------------------------------------------------------

TEST_F(CustodyE2eTest, DepositsArePendingUntilConfirmedThenAvailable) {
  const v1::Client alice = NewClient("alice");
  const v1::Client bob = NewClient("bob");
  EXPECT_THAT(alice.client_id(), ::testing::MatchesRegex("c_[0-9a-f]{16}"));
  const v1::DepositAddress alice_btc = NewAddress(alice.client_id(), "BTC");
  const v1::DepositAddress alice_eth = NewAddress(alice.client_id(), "ETH");
  const v1::DepositAddress alice_usdc = NewAddress(alice.client_id(), "USDC-ETH");
  const v1::DepositAddress bob_btc = NewAddress(bob.client_id(), "BTC");
  ASSERT_FALSE(HasFailure());
  EXPECT_THAT(alice_btc.address(), StartsWith("bcrt1q"));
  EXPECT_EQ(alice_btc.wallet_id(), "BTC:client-hot");
  EXPECT_THAT(alice_btc.key_id(), ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_THAT(alice_eth.address(), ::testing::MatchesRegex("0x[0-9a-fA-F]{40}"));
  EXPECT_EQ(alice_usdc.wallet_id(), "USDC-ETH:client-hot");
  EXPECT_NE(alice_eth.key_id(), alice_usdc.key_id());  // one key per address, bound to one wallet
  // signerd itself, asked over its socket, has each key bound to that asset's client-hot wallet.
  {
    auto signer = ringfence::signer::v1::Signer::NewStub(
        grpc::CreateChannel("unix:" + (stack_->dir() / "signerd.sock").string(), grpc::InsecureChannelCredentials()));
    for (const auto& [address, asset] : {std::pair{alice_btc, "BTC"}, std::pair{alice_eth, "ETH"},
                                         std::pair{alice_usdc, "USDC-ETH"}, std::pair{bob_btc, "BTC"}}) {
      SCOPED_TRACE(address.address());
      grpc::ClientContext ctx;
      ringfence::signer::v1::GetKeyRequest req;
      req.set_key_id(address.key_id());
      ringfence::signer::v1::GetKeyResponse resp;
      grpc::Status s = signer->GetKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_TRUE(resp.key().has_binding());
      const ringfence::signer::v1::WalletBinding& b = resp.key().binding();
      EXPECT_EQ(b.wallet_id(), std::string(asset) + ":client-hot");
      EXPECT_EQ(b.asset(), asset);
      EXPECT_EQ(b.owner_class(), ringfence::signer::v1::OWNER_CLASS_CLIENT);
      EXPECT_EQ(b.tier(), ringfence::signer::v1::TIER_HOT);
      EXPECT_EQ(address.wallet_id(), b.wallet_id());
    }
  }

  const std::string btc_txid = stack_->Credit(kBtc, alice_btc.address(), "150000000");
  stack_->Credit(kBtc, bob_btc.address(), "2500");
  stack_->Credit(kEth, alice_eth.address(), "1000000000000000000");
  stack_->Credit(kEth, alice_usdc.address(), "5000000", kUsdcContract);
  stack_->Mine(kBtc, 1);
  stack_->Mine(kEth, 1);
  stack_->WaitIngested(kBtc);
  stack_->WaitIngested(kEth);

  v1::AssetBalance btc = Balance(alice.client_id(), "BTC");
  EXPECT_EQ(btc.decimals(), 8u);
  EXPECT_EQ(btc.available(), "0");
  EXPECT_EQ(btc.pending(), "150000000");
  ASSERT_EQ(btc.pending_deposits_size(), 1);
  EXPECT_EQ(btc.pending_deposits(0).txid(), btc_txid);
  EXPECT_EQ(btc.pending_deposits(0).address(), alice_btc.address());
  EXPECT_EQ(btc.pending_deposits(0).confirmations(), 1u);
  EXPECT_EQ(btc.pending_deposits(0).required_confirmations(), 3u);
  EXPECT_EQ(Balance(alice.client_id(), "ETH").pending(), "1000000000000000000");
  EXPECT_EQ(Balance(alice.client_id(), "USDC-ETH").pending(), "5000000");
  EXPECT_TRUE(Segregation().holds());

  stack_->Mine(kBtc, 1);
  stack_->Mine(kEth, 1);
  stack_->WaitIngested(kBtc);
  stack_->WaitIngested(kEth);
  EXPECT_EQ(Balance(alice.client_id(), "BTC").pending_deposits(0).confirmations(), 2u);
  v1::AssetBalance eth = Balance(alice.client_id(), "ETH");
  EXPECT_EQ(eth.available(), "1000000000000000000");
  EXPECT_EQ(eth.pending(), "0");
  EXPECT_EQ(eth.decimals(), 18u);
  EXPECT_EQ(Balance(alice.client_id(), "USDC-ETH").available(), "5000000");

  stack_->Mine(kBtc, 1);
  stack_->WaitIngested(kBtc);
  btc = Balance(alice.client_id(), "BTC");
  EXPECT_EQ(btc.available(), "150000000");
  EXPECT_EQ(btc.pending(), "0");
  EXPECT_EQ(btc.pending_deposits_size(), 0);
  EXPECT_EQ(Balance(bob.client_id(), "BTC").available(), "2500");

  // The journal: one deposit entry per credit, balanced, newest first.
  {
    grpc::ClientContext ctx;
    v1::ListLedgerEntriesRequest req;
    req.set_client_id(alice.client_id());
    v1::ListLedgerEntriesResponse resp;
    ASSERT_TRUE(platform_->ListLedgerEntries(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.entries_size(), 3);
    EXPECT_GT(resp.entries(0).seq(), resp.entries(1).seq());
    EXPECT_EQ(resp.entries(0).asset_id(), "BTC");
    EXPECT_EQ(resp.entries(0).kind(), "deposit");
    EXPECT_EQ(resp.entries(0).reference(), btc_txid + ":0");
    EXPECT_EQ(resp.entries(0).decimals(), 8u);
    ASSERT_EQ(resp.entries(0).postings_size(), 2);
    for (const auto& p : resp.entries(0).postings()) {
      EXPECT_TRUE(p.debit() == "0" || p.credit() == "0");
      if (p.account() == "wallet:BTC:client-hot") {
        EXPECT_EQ(p.debit(), "150000000");
      }
    }
  }
  {
    grpc::ClientContext ctx;
    v1::ListLedgerEntriesRequest req;
    req.set_wallet_id("BTC:client-hot");
    req.set_page_size(1);
    v1::ListLedgerEntriesResponse first;
    ASSERT_TRUE(auditor_->ListLedgerEntries(&ctx, req, &first).ok());
    ASSERT_EQ(first.entries_size(), 1);
    ASSERT_FALSE(first.next_page_token().empty());
    grpc::ClientContext ctx2;
    req.set_page_token(first.next_page_token());
    v1::ListLedgerEntriesResponse second;
    ASSERT_TRUE(auditor_->ListLedgerEntries(&ctx2, req, &second).ok());
    ASSERT_EQ(second.entries_size(), 1);
    EXPECT_LT(second.entries(0).seq(), first.entries(0).seq());
  }

  // The statement: positions at a point and every movement since another.
  {
    grpc::ClientContext ctx;
    v1::GetStatementRequest req;
    req.set_client_id(alice.client_id());
    v1::GetStatementResponse resp;
    ASSERT_TRUE(auditor_->GetStatement(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.client_ref(), "alice");
    EXPECT_EQ(resp.movements_size(), 3);
    std::map<std::string, std::string> closing;
    for (const auto& p : resp.closing()) closing[p.asset_id()] = p.available();
    EXPECT_EQ(closing["BTC"], "150000000");
    EXPECT_EQ(closing["ETH"], "1000000000000000000");
    EXPECT_EQ(closing["USDC-ETH"], "5000000");
    for (const auto& p : resp.opening()) EXPECT_EQ(p.available(), "0");

    grpc::ClientContext ctx2;
    req.set_from_seq(resp.movements(0).seq());
    req.set_at_seq(resp.movements(1).seq());
    v1::GetStatementResponse window;
    ASSERT_TRUE(platform_->GetStatement(&ctx2, req, &window).ok());
    ASSERT_EQ(window.movements_size(), 1);
    EXPECT_EQ(window.movements(0).seq(), resp.movements(1).seq());
  }

  // Evidence: the report holds, with the chain's view matching the books; the audit log
  // recorded each deposit as detected and credited.
  const v1::GetSegregationReportResponse report = Segregation();
  EXPECT_TRUE(report.holds());
  for (const auto& a : report.assets()) {
    EXPECT_TRUE(a.holds()) << a.DebugString();
    EXPECT_EQ(a.difference(), "0");
    EXPECT_EQ(a.client_liabilities(), a.client_wallet_holdings()) << a.DebugString();
    EXPECT_EQ(a.client_wallet_chain_holdings(), a.client_wallet_holdings()) << a.DebugString();
    if (a.asset_id() == "BTC") {
      EXPECT_EQ(a.client_liabilities(), "150002500");
    }
  }
  EXPECT_EQ(CountAudit("deposit.detected"), 4u);
  EXPECT_EQ(CountAudit("deposit.credited"), 4u);

  grpc::ClientContext ctx;
  v1::ListWalletsRequest req;
  req.set_asset_id("BTC");
  v1::ListWalletsResponse wallets;
  ASSERT_TRUE(approver_->ListWallets(&ctx, req, &wallets).ok());
  ASSERT_EQ(wallets.wallets_size(), 3);
  EXPECT_EQ(wallets.wallets(0).wallet_id(), "BTC:client-hot");
  EXPECT_EQ(wallets.wallets(0).owner_class(), v1::OWNER_CLASS_CLIENT);
  EXPECT_EQ(wallets.wallets(0).tier(), v1::TIER_HOT);
  EXPECT_EQ(wallets.wallets(0).addresses_size(), 2);
  EXPECT_EQ(wallets.wallets(0).ledger_balance(), "150002500");
  EXPECT_EQ(wallets.wallets(0).chain_balance(), "150002500");
  EXPECT_EQ(wallets.wallets(1).tier(), v1::TIER_COLD);
  EXPECT_EQ(wallets.wallets(2).owner_class(), v1::OWNER_CLASS_HOUSE);
  EXPECT_EQ(wallets.wallets(2).ledger_balance(), "0");
}

TEST_F(CustodyE2eTest, ReorganisationBeforeConfirmationsRemovesPendingDeposits) {
  const v1::Client carol = NewClient("carol");
  const v1::DepositAddress address = NewAddress(carol.client_id(), "BTC");
  ASSERT_FALSE(HasFailure());

  // Mined, then the block is replaced and its transaction vanishes.
  stack_->Credit(kBtc, address.address(), "7000");
  stack_->Mine(kBtc, 1);
  stack_->WaitIngested(kBtc);
  ASSERT_EQ(Balance(carol.client_id(), "BTC").pending(), "7000");
  stack_->Reorg(kBtc, 1, /*keep_transactions=*/false);
  stack_->WaitIngested(kBtc);
  v1::AssetBalance b = Balance(carol.client_id(), "BTC");
  EXPECT_EQ(b.pending(), "0");
  EXPECT_EQ(b.pending_deposits_size(), 0);
  EXPECT_EQ(b.available(), "0");
  EXPECT_EQ(CountAudit("deposit.orphaned"), 1u);
  EXPECT_EQ(CountAudit("chain.reorg"), 1u);

  // Mined, replaced with the transaction back in the mempool, mined again: counted once.
  stack_->Credit(kBtc, address.address(), "9000");
  stack_->Mine(kBtc, 2);
  stack_->WaitIngested(kBtc);
  ASSERT_EQ(Balance(carol.client_id(), "BTC").pending_deposits(0).confirmations(), 2u);
  stack_->Reorg(kBtc, 2, /*keep_transactions=*/true);
  stack_->WaitIngested(kBtc);
  EXPECT_EQ(Balance(carol.client_id(), "BTC").pending(), "0");
  stack_->Mine(kBtc, 1);
  stack_->WaitIngested(kBtc);
  b = Balance(carol.client_id(), "BTC");
  EXPECT_EQ(b.pending(), "9000");
  ASSERT_EQ(b.pending_deposits_size(), 1);
  EXPECT_EQ(b.pending_deposits(0).confirmations(), 1u);
  stack_->Mine(kBtc, 2);
  stack_->WaitIngested(kBtc);
  b = Balance(carol.client_id(), "BTC");
  EXPECT_EQ(b.available(), "9000");
  EXPECT_EQ(b.pending(), "0");
  EXPECT_EQ(CountAudit("deposit.credited"), 1u);
  EXPECT_TRUE(Segregation().holds());
}

TEST_F(CustodyE2eTest, ReorganisationAfterCreditIsAnIncidentAndBalancesStay) {
  const v1::Client dave = NewClient("dave");
  const v1::DepositAddress address = NewAddress(dave.client_id(), "ETH");
  ASSERT_FALSE(HasFailure());
  stack_->Credit(kEth, address.address(), "3000000000000000000");
  stack_->Mine(kEth, 2);
  stack_->WaitIngested(kEth);
  ASSERT_EQ(Balance(dave.client_id(), "ETH").available(), "3000000000000000000");

  stack_->Reorg(kEth, 2, /*keep_transactions=*/false);
  stack_->WaitIngested(kEth);
  // Never silently rewritten: the credit stands, the incident is on record and was alerted.
  v1::AssetBalance b = Balance(dave.client_id(), "ETH");
  EXPECT_EQ(b.available(), "3000000000000000000");
  EXPECT_EQ(b.pending(), "0");
  EXPECT_EQ(CountAudit("deposit.reorg_incident"), 1u);
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("INCIDENT: credited deposit"));
  // The books still hold (liabilities = holdings on the ledger); the chain's view shows the
  // shortfall for reconciliation.
  const v1::GetSegregationReportResponse report = Segregation();
  for (const auto& a : report.assets()) {
    if (a.asset_id() != "ETH") continue;
    EXPECT_TRUE(a.holds());
    EXPECT_EQ(a.client_wallet_holdings(), "3000000000000000000");
    EXPECT_EQ(a.client_wallet_chain_holdings(), "0");
  }
  // Mining on does not credit it again.
  stack_->Mine(kEth, 3);
  stack_->WaitIngested(kEth);
  EXPECT_EQ(Balance(dave.client_id(), "ETH").available(), "3000000000000000000");
  EXPECT_EQ(CountAudit("deposit.credited"), 1u);
}

TEST_F(CustodyE2eTest, RestartKeepsEverythingAndCreditsEachDepositOnce) {
  const v1::Client erin = NewClient("erin");
  const v1::DepositAddress btc = NewAddress(erin.client_id(), "BTC");
  const v1::DepositAddress usdc = NewAddress(erin.client_id(), "USDC-ETH");
  ASSERT_FALSE(HasFailure());
  stack_->Credit(kBtc, btc.address(), "100000");
  stack_->Credit(kEth, usdc.address(), "42", kUsdcContract);
  stack_->Mine(kBtc, 3);
  stack_->Mine(kEth, 1);
  stack_->WaitIngested(kBtc);
  stack_->WaitIngested(kEth);
  // A deposit mined while custodyd is down, and one still pending at the restart.
  stack_->Credit(kBtc, btc.address(), "5");
  const std::string before = State();

  Disconnect();
  ASSERT_EQ(stack_->StopCustodyd(), 0) << stack_->CustodydStderr();
  stack_->ExpectInvariantsAndAuditHold();
  stack_->Mine(kBtc, 1);
  stack_->StartCustodyd();
  ASSERT_FALSE(HasFatalFailure());
  Connect();
  stack_->WaitIngested(kBtc);
  stack_->WaitIngested(kEth);
  EXPECT_EQ(Balance(erin.client_id(), "BTC").available(), "100000");
  EXPECT_EQ(Balance(erin.client_id(), "BTC").pending(), "5");
  EXPECT_EQ(Balance(erin.client_id(), "USDC-ETH").pending(), "42");

  stack_->Mine(kBtc, 2);
  stack_->Mine(kEth, 1);
  stack_->WaitIngested(kBtc);
  stack_->WaitIngested(kEth);
  EXPECT_EQ(Balance(erin.client_id(), "BTC").available(), "100005");
  EXPECT_EQ(Balance(erin.client_id(), "USDC-ETH").available(), "42");
  EXPECT_EQ(CountAudit("deposit.credited"), 3u);
  EXPECT_EQ(CountAudit("deposit.detected"), 3u);

  // Everything from before the restart is still there (only balances moved since).
  Disconnect();
  ASSERT_EQ(stack_->StopCustodyd(), 0);
  stack_->StartCustodyd();
  ASSERT_FALSE(HasFatalFailure());
  Connect();
  grpc::ClientContext ctx;
  v1::GetClientRequest req;
  req.set_client_ref("erin");
  v1::GetClientResponse resp;
  ASSERT_TRUE(approver_->GetClient(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.client().client_id(), erin.client_id());
  EXPECT_THAT(before, HasSubstr(btc.address()));
  EXPECT_THAT(State(), HasSubstr(btc.address()));
  EXPECT_THAT(State(), HasSubstr(usdc.key_id()));
}

// --- idempotency ---------------------------------------------------------------------------

TEST_F(CustodyE2eTest, EveryMutatingCallIsIdempotent) {
  // CreateClient.
  v1::CreateClientRequest create;
  create.set_idempotency_key("idem-create");
  create.set_client_ref("frank");
  v1::CreateClientResponse first, again;
  {
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(platform_->CreateClient(&c1, create, &first).ok());
    ASSERT_TRUE(platform_->CreateClient(&c2, create, &again).ok());
    EXPECT_EQ(first.SerializeAsString(), again.SerializeAsString());
  }
  const std::string client_id = first.client().client_id();

  // CreateDepositAddress: the retry makes no second key.
  v1::CreateDepositAddressRequest address;
  address.set_idempotency_key("idem-address");
  address.set_client_id(client_id);
  address.set_asset_id("BTC");
  v1::CreateDepositAddressResponse a1, a2;
  {
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(platform_->CreateDepositAddress(&c1, address, &a1).ok());
    ASSERT_TRUE(platform_->CreateDepositAddress(&c2, address, &a2).ok());
    EXPECT_EQ(a1.SerializeAsString(), a2.SerializeAsString());
  }

  v1::FreezeClientRequest freeze;
  freeze.set_idempotency_key("idem-freeze");
  freeze.set_client_id(client_id);
  freeze.set_reason("court order 17");
  v1::FreezeClientResponse f1, f2;
  {
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(admin_->FreezeClient(&c1, freeze, &f1).ok());
    ASSERT_TRUE(admin_->FreezeClient(&c2, freeze, &f2).ok());  // not "already frozen"
    EXPECT_EQ(f1.SerializeAsString(), f2.SerializeAsString());
    EXPECT_TRUE(f1.client().frozen());
  }
  v1::UnfreezeClientRequest unfreeze;
  unfreeze.set_idempotency_key("idem-unfreeze");
  unfreeze.set_client_id(client_id);
  unfreeze.set_reason("order lifted");
  v1::UnfreezeClientResponse u1, u2;
  {
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(admin_->UnfreezeClient(&c1, unfreeze, &u1).ok());
    ASSERT_TRUE(admin_->UnfreezeClient(&c2, unfreeze, &u2).ok());
    EXPECT_EQ(u1.SerializeAsString(), u2.SerializeAsString());
    EXPECT_FALSE(u1.client().frozen());
  }
  EXPECT_EQ(CountAudit("CreateClient"), 1u);
  EXPECT_EQ(CountAudit("CreateDepositAddress"), 1u);
  EXPECT_EQ(CountAudit("FreezeClient"), 1u);
  EXPECT_EQ(CountAudit("UnfreezeClient"), 1u);

  // The same keys with different bodies (or on another method) are refused, naming the key,
  // and change nothing.
  const std::string state = State();
  auto expect_reused = [&](const grpc::Status& s, const std::string& key) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(key));
  };
  {
    grpc::ClientContext ctx;
    v1::CreateClientRequest other = create;
    other.set_client_ref("frank-2");
    v1::CreateClientResponse r;
    expect_reused(platform_->CreateClient(&ctx, other, &r), "idem-create");
  }
  {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest other = address;
    other.set_asset_id("ETH");
    v1::CreateDepositAddressResponse r;
    expect_reused(platform_->CreateDepositAddress(&ctx, other, &r), "idem-address");
  }
  {
    grpc::ClientContext ctx;
    v1::FreezeClientRequest other = freeze;
    other.set_reason("another reason");
    v1::FreezeClientResponse r;
    expect_reused(admin_->FreezeClient(&ctx, other, &r), "idem-freeze");
  }
  {
    grpc::ClientContext ctx;
    v1::UnfreezeClientRequest other = unfreeze;
    other.set_reason("another reason");
    v1::UnfreezeClientResponse r;
    expect_reused(admin_->UnfreezeClient(&ctx, other, &r), "idem-unfreeze");
  }
  {
    grpc::ClientContext ctx;
    v1::FreezeClientRequest other = freeze;
    other.set_idempotency_key("idem-unfreeze");  // a key used by another method
    v1::FreezeClientResponse r;
    expect_reused(admin_->FreezeClient(&ctx, other, &r), "idem-unfreeze");
  }
  EXPECT_EQ(State(), state);
}

// --- bad input ------------------------------------------------------------------------------

struct BadCase {
  std::string name;
  std::function<grpc::Status()> call;
  grpc::StatusCode code;
  std::string fragment;  // the error names the field (or the rule)
};

TEST_F(CustodyE2eTest, BadInputForEveryFieldChangesNothing) {
  const v1::Client grace = NewClient("grace");
  const v1::Client frozen = NewClient("heidi");
  NewAddress(grace.client_id(), "BTC");
  NewAddress(grace.client_id(), "ETH");
  {
    grpc::ClientContext ctx;
    v1::FreezeClientRequest req;
    req.set_idempotency_key("freeze-heidi");
    req.set_client_id(frozen.client_id());
    req.set_reason("fraud review");
    v1::FreezeClientResponse resp;
    ASSERT_TRUE(admin_->FreezeClient(&ctx, req, &resp).ok());
  }
  ASSERT_FALSE(HasFailure());
  const std::string id = grace.client_id();
  const std::string unknown_id = "c_0000000000000000";
  const std::string s129(129, 'a'), s65(65, 'a'), s257(257, 'a');
  const std::string above_max = "340282366920938463463374607431768211456";  // 2^128
  using Code = grpc::StatusCode;
  auto token_of = [](const std::string& payload) { return base::HexEncode(payload); };

  auto create_client = [&](std::string key, std::string ref) {
    return [this, key, ref] {
      grpc::ClientContext ctx;
      v1::CreateClientRequest req;
      req.set_idempotency_key(key);
      req.set_client_ref(ref);
      v1::CreateClientResponse resp;
      return platform_->CreateClient(&ctx, req, &resp);
    };
  };
  auto get_client = [&](std::string client_id, std::string ref) {
    return [this, client_id, ref] {
      grpc::ClientContext ctx;
      v1::GetClientRequest req;
      req.set_client_id(client_id);
      req.set_client_ref(ref);
      v1::GetClientResponse resp;
      return platform_->GetClient(&ctx, req, &resp);
    };
  };
  auto list_clients = [&](uint32_t size, std::string token) {
    return [this, size, token] {
      grpc::ClientContext ctx;
      v1::ListClientsRequest req;
      req.set_page_size(size);
      req.set_page_token(token);
      v1::ListClientsResponse resp;
      return platform_->ListClients(&ctx, req, &resp);
    };
  };
  auto freeze = [&](std::string key, std::string client_id, std::string reason) {
    return [this, key, client_id, reason] {
      grpc::ClientContext ctx;
      v1::FreezeClientRequest req;
      req.set_idempotency_key(key);
      req.set_client_id(client_id);
      req.set_reason(reason);
      v1::FreezeClientResponse resp;
      return admin_->FreezeClient(&ctx, req, &resp);
    };
  };
  auto unfreeze = [&](std::string key, std::string client_id, std::string reason) {
    return [this, key, client_id, reason] {
      grpc::ClientContext ctx;
      v1::UnfreezeClientRequest req;
      req.set_idempotency_key(key);
      req.set_client_id(client_id);
      req.set_reason(reason);
      v1::UnfreezeClientResponse resp;
      return admin_->UnfreezeClient(&ctx, req, &resp);
    };
  };
  auto create_address = [&](std::string key, std::string client_id, std::string asset) {
    return [this, key, client_id, asset] {
      grpc::ClientContext ctx;
      v1::CreateDepositAddressRequest req;
      req.set_idempotency_key(key);
      req.set_client_id(client_id);
      req.set_asset_id(asset);
      v1::CreateDepositAddressResponse resp;
      return platform_->CreateDepositAddress(&ctx, req, &resp);
    };
  };
  auto list_addresses = [&](std::string client_id, std::string asset, uint32_t size, std::string token) {
    return [this, client_id, asset, size, token] {
      grpc::ClientContext ctx;
      v1::ListDepositAddressesRequest req;
      req.set_client_id(client_id);
      req.set_asset_id(asset);
      req.set_page_size(size);
      req.set_page_token(token);
      v1::ListDepositAddressesResponse resp;
      return platform_->ListDepositAddresses(&ctx, req, &resp);
    };
  };
  auto balances = [&](std::string client_id, std::string asset) {
    return [this, client_id, asset] {
      grpc::ClientContext ctx;
      v1::GetBalancesRequest req;
      req.set_client_id(client_id);
      req.set_asset_id(asset);
      v1::GetBalancesResponse resp;
      return platform_->GetBalances(&ctx, req, &resp);
    };
  };
  auto ledger = [&](std::string client_id, std::string wallet, std::string asset, uint32_t size, std::string token) {
    return [this, client_id, wallet, asset, size, token] {
      grpc::ClientContext ctx;
      v1::ListLedgerEntriesRequest req;
      req.set_client_id(client_id);
      req.set_wallet_id(wallet);
      req.set_asset_id(asset);
      req.set_page_size(size);
      req.set_page_token(token);
      v1::ListLedgerEntriesResponse resp;
      return auditor_->ListLedgerEntries(&ctx, req, &resp);
    };
  };
  auto statement = [&](std::string client_id, uint64_t from, uint64_t at) {
    return [this, client_id, from, at] {
      grpc::ClientContext ctx;
      v1::GetStatementRequest req;
      req.set_client_id(client_id);
      req.set_from_seq(from);
      req.set_at_seq(at);
      v1::GetStatementResponse resp;
      return platform_->GetStatement(&ctx, req, &resp);
    };
  };
  auto wallets = [&](std::string asset) {
    return [this, asset] {
      grpc::ClientContext ctx;
      v1::ListWalletsRequest req;
      req.set_asset_id(asset);
      v1::ListWalletsResponse resp;
      return admin_->ListWallets(&ctx, req, &resp);
    };
  };
  auto audit = [&](uint64_t after, uint32_t size) {
    return [this, after, size] {
      grpc::ClientContext ctx;
      v1::ListAuditEntriesRequest req;
      req.set_after_seq(after);
      req.set_page_size(size);
      v1::ListAuditEntriesResponse resp;
      return auditor_->ListAuditEntries(&ctx, req, &resp);
    };
  };
  const std::string ledger_filter = id + ",,";

  const std::vector<BadCase> cases = {
      // CreateClient
      {"create: empty key", create_client("", "ivan"), Code::INVALID_ARGUMENT, "idempotency_key"},
      {"create: oversized key", create_client(s129, "ivan"), Code::INVALID_ARGUMENT, "idempotency_key must be 1..128"},
      {"create: key with a space", create_client("k 1", "ivan"), Code::INVALID_ARGUMENT, "idempotency_key"},
      {"create: empty ref", create_client("k-1", ""), Code::INVALID_ARGUMENT, "client_ref: required"},
      {"create: oversized ref", create_client("k-1", s129), Code::INVALID_ARGUMENT, "client_ref: 129 bytes, at most 128"},
      {"create: ref with a slash", create_client("k-1", "a/b"), Code::INVALID_ARGUMENT, "client_ref: may hold only"},
      {"create: non-ASCII ref", create_client("k-1", "caf\xc3\xa9"), Code::INVALID_ARGUMENT, "client_ref"},
      {"create: taken ref", create_client("k-2", "grace"), Code::ALREADY_EXISTS, "client_ref"},
      // GetClient
      {"get: neither", get_client("", ""), Code::INVALID_ARGUMENT, "exactly one"},
      {"get: both", get_client(id, "grace"), Code::INVALID_ARGUMENT, "exactly one"},
      {"get: oversized id", get_client(s65, ""), Code::INVALID_ARGUMENT, "client_id: 65 bytes, at most 64"},
      {"get: malformed id", get_client("c_12", ""), Code::INVALID_ARGUMENT, "client_id: must be c_"},
      {"get: upper-case id", get_client("c_ABCDEF0123456789", ""), Code::INVALID_ARGUMENT, "client_id"},
      {"get: unknown id", get_client(unknown_id, ""), Code::NOT_FOUND, "client_id"},
      {"get: unknown ref", get_client("", "nobody"), Code::NOT_FOUND, "client_ref"},
      {"get: oversized ref", get_client("", s129), Code::INVALID_ARGUMENT, "client_ref: 129 bytes"},
      // ListClients
      {"clients: page size", list_clients(1001, ""), Code::INVALID_ARGUMENT, "page_size: 1001 is above 1000"},
      {"clients: token not hex", list_clients(0, "zz"), Code::INVALID_ARGUMENT, "page_token"},
      {"clients: oversized token", list_clients(0, s257), Code::INVALID_ARGUMENT, "page_token: 257 bytes"},
      {"clients: another listing's token", list_clients(0, token_of("d|x|y")), Code::INVALID_ARGUMENT, "page_token"},
      {"clients: bad cursor", list_clients(0, token_of("c||not-a-client")), Code::INVALID_ARGUMENT, "page_token"},
      // FreezeClient
      {"freeze: empty key", freeze("", id, "r"), Code::INVALID_ARGUMENT, "idempotency_key"},
      {"freeze: empty id", freeze("f-1", "", "r"), Code::INVALID_ARGUMENT, "client_id: required"},
      {"freeze: unknown id", freeze("f-1", unknown_id, "r"), Code::NOT_FOUND, "client_id"},
      {"freeze: empty reason", freeze("f-1", id, ""), Code::INVALID_ARGUMENT, "reason: required"},
      {"freeze: oversized reason", freeze("f-1", id, s257), Code::INVALID_ARGUMENT, "reason: 257 bytes, at most 256"},
      {"freeze: control character", freeze("f-1", id, "a\nb"), Code::INVALID_ARGUMENT, "reason: must be printable"},
      {"freeze: already frozen", freeze("f-2", frozen.client_id(), "again"), Code::FAILED_PRECONDITION, "already frozen"},
      // UnfreezeClient
      {"unfreeze: oversized key", unfreeze(s129, frozen.client_id(), "r"), Code::INVALID_ARGUMENT, "idempotency_key"},
      {"unfreeze: malformed id", unfreeze("u-1", "client-1", "r"), Code::INVALID_ARGUMENT, "client_id"},
      {"unfreeze: unknown id", unfreeze("u-1", unknown_id, "r"), Code::NOT_FOUND, "client_id"},
      {"unfreeze: empty reason", unfreeze("u-1", frozen.client_id(), ""), Code::INVALID_ARGUMENT, "reason"},
      {"unfreeze: not frozen", unfreeze("u-2", id, "r"), Code::FAILED_PRECONDITION, "not frozen"},
      // CreateDepositAddress
      {"address: empty key", create_address("", id, "BTC"), Code::INVALID_ARGUMENT, "idempotency_key"},
      {"address: empty client", create_address("a-1", "", "BTC"), Code::INVALID_ARGUMENT, "client_id"},
      {"address: unknown client", create_address("a-1", unknown_id, "BTC"), Code::NOT_FOUND, "client_id"},
      {"address: frozen client", create_address("a-1", frozen.client_id(), "BTC"), Code::FAILED_PRECONDITION, "frozen"},
      {"address: empty asset", create_address("a-1", id, ""), Code::INVALID_ARGUMENT, "asset_id: required"},
      {"address: oversized asset", create_address("a-1", id, s65), Code::INVALID_ARGUMENT, "asset_id: 65 bytes"},
      {"address: asset with a space", create_address("a-1", id, "B TC"), Code::INVALID_ARGUMENT, "asset_id"},
      {"address: unknown asset", create_address("a-1", id, "DOGE"), Code::NOT_FOUND, "asset_id"},
      // ListDepositAddresses
      {"addresses: empty client", list_addresses("", "", 0, ""), Code::INVALID_ARGUMENT, "client_id"},
      {"addresses: unknown client", list_addresses(unknown_id, "", 0, ""), Code::NOT_FOUND, "client_id"},
      {"addresses: unknown asset", list_addresses(id, "DOGE", 0, ""), Code::NOT_FOUND, "asset_id"},
      {"addresses: page size", list_addresses(id, "", 5000, ""), Code::INVALID_ARGUMENT, "page_size"},
      {"addresses: other filter's token", list_addresses(id, "", 0, token_of("d|" + unknown_id + ",|bcrt1q")),
       Code::INVALID_ARGUMENT, "page_token"},
      // GetBalances
      {"balances: empty client", balances("", ""), Code::INVALID_ARGUMENT, "client_id"},
      {"balances: unknown client", balances(unknown_id, ""), Code::NOT_FOUND, "client_id"},
      {"balances: unknown asset", balances(id, "DOGE"), Code::NOT_FOUND, "asset_id"},
      {"balances: oversized asset", balances(id, s65), Code::INVALID_ARGUMENT, "asset_id: 65 bytes"},
      // ListLedgerEntries, with cursors in the grammar's failure modes
      {"ledger: neither", ledger("", "", "", 0, ""), Code::INVALID_ARGUMENT, "exactly one"},
      {"ledger: both", ledger(id, "BTC:client-hot", "", 0, ""), Code::INVALID_ARGUMENT, "exactly one"},
      {"ledger: malformed wallet", ledger("", "BTC:hot", "", 0, ""), Code::INVALID_ARGUMENT, "wallet_id"},
      {"ledger: unknown wallet", ledger("", "DOGE:client-hot", "", 0, ""), Code::NOT_FOUND, "wallet_id"},
      {"ledger: unknown client", ledger(unknown_id, "", "", 0, ""), Code::NOT_FOUND, "client_id"},
      {"ledger: unknown asset", ledger(id, "", "DOGE", 0, ""), Code::NOT_FOUND, "asset_id"},
      {"ledger: page size", ledger(id, "", "", 1001, ""), Code::INVALID_ARGUMENT, "page_size"},
      {"ledger: non-decimal cursor", ledger(id, "", "", 0, token_of("l|" + ledger_filter + "|abc")),
       Code::INVALID_ARGUMENT, "page_token"},
      {"ledger: negative cursor", ledger(id, "", "", 0, token_of("l|" + ledger_filter + "|-1")),
       Code::INVALID_ARGUMENT, "page_token"},
      {"ledger: leading zeros", ledger(id, "", "", 0, token_of("l|" + ledger_filter + "|007")),
       Code::INVALID_ARGUMENT, "page_token"},
      {"ledger: cursor above 2^128-1", ledger(id, "", "", 0, token_of("l|" + ledger_filter + "|" + above_max)),
       Code::INVALID_ARGUMENT, "page_token"},
      {"ledger: empty cursor", ledger(id, "", "", 0, token_of("l|" + ledger_filter + "|")), Code::INVALID_ARGUMENT,
       "page_token"},
      // GetStatement
      {"statement: empty client", statement("", 0, 0), Code::INVALID_ARGUMENT, "client_id"},
      {"statement: unknown client", statement(unknown_id, 0, 0), Code::NOT_FOUND, "client_id"},
      {"statement: from after at", statement(id, 5, 2), Code::INVALID_ARGUMENT, "from_seq"},
      {"statement: at beyond the journal", statement(id, 0, 1'000'000), Code::INVALID_ARGUMENT, "at_seq"},
      {"statement: from beyond the journal", statement(id, 1'000'000, 0), Code::INVALID_ARGUMENT, "from_seq"},
      // ListWallets
      {"wallets: unknown asset", wallets("DOGE"), Code::NOT_FOUND, "asset_id"},
      {"wallets: malformed asset", wallets("B/TC"), Code::INVALID_ARGUMENT, "asset_id"},
      // ListAuditEntries
      {"audit: page size", audit(0, 1001), Code::INVALID_ARGUMENT, "page_size"},
      {"audit: after_seq above 2^63-1", audit(~uint64_t{0}, 0), Code::INVALID_ARGUMENT, "after_seq"},
  };
  for (const BadCase& c : cases) {
    const std::string before = State();
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.fragment)) << c.name;
    EXPECT_LT(s.error_message().size(), 400u) << c.name << ": outside input is clipped";
    EXPECT_EQ(State(), before) << c.name << " changed something";
  }
}

// --- roles ----------------------------------------------------------------------------------

TEST_F(CustodyE2eTest, RolesAreEnforcedAndDenialsAudited) {
  const v1::Client ivan = NewClient("ivan");
  ASSERT_FALSE(HasFailure());
  struct Denied {
    std::string cert;
    std::string method;
    std::function<grpc::Status(v1::Custody::Stub&)> call;
  };
  auto create_client = [](v1::Custody::Stub& s) {
    grpc::ClientContext ctx;
    v1::CreateClientRequest req;
    req.set_idempotency_key("denied-create");
    req.set_client_ref("denied");
    v1::CreateClientResponse resp;
    return s.CreateClient(&ctx, req, &resp);
  };
  const std::string id = ivan.client_id();
  const std::vector<Denied> denied = {
      {"auditor", "CreateClient", create_client},
      {"admin", "CreateClient", create_client},
      {"platform", "FreezeClient",
       [&](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::FreezeClientRequest req;
         req.set_idempotency_key("denied-freeze");
         req.set_client_id(id);
         req.set_reason("r");
         v1::FreezeClientResponse resp;
         return s.FreezeClient(&ctx, req, &resp);
       }},
      {"admin", "CreateDepositAddress",
       [&](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::CreateDepositAddressRequest req;
         req.set_idempotency_key("denied-address");
         req.set_client_id(id);
         req.set_asset_id("BTC");
         v1::CreateDepositAddressResponse resp;
         return s.CreateDepositAddress(&ctx, req, &resp);
       }},
      {"admin", "GetBalances",
       [&](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::GetBalancesRequest req;
         req.set_client_id(id);
         v1::GetBalancesResponse resp;
         return s.GetBalances(&ctx, req, &resp);
       }},
      {"platform", "ListWallets",
       [](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::ListWalletsResponse resp;
         return s.ListWallets(&ctx, v1::ListWalletsRequest(), &resp);
       }},
      {"approver", "ListClients",
       [](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::ListClientsResponse resp;
         return s.ListClients(&ctx, v1::ListClientsRequest(), &resp);
       }},
      {"platform", "GetSegregationReport",
       [](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::GetSegregationReportResponse resp;
         return s.GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &resp);
       }},
      {"approver", "ListAuditEntries",
       [](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::ListAuditEntriesResponse resp;
         return s.ListAuditEntries(&ctx, v1::ListAuditEntriesRequest(), &resp);
       }},
      {"approver", "GetStatement",
       [&](v1::Custody::Stub& s) {
         grpc::ClientContext ctx;
         v1::GetStatementRequest req;
         req.set_client_id(id);
         v1::GetStatementResponse resp;
         return s.GetStatement(&ctx, req, &resp);
       }},
  };
  for (const Denied& d : denied) {
    const std::string before = State();
    const size_t audit_before = Audit().size();
    grpc::Status s = d.call(*stack_->As(d.cert));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << d.cert << " " << d.method;
    EXPECT_THAT(s.error_message(), HasSubstr("role " + d.cert + " may not call " + d.method));
    const std::vector<v1::AuditEntry> entries = Audit();
    ASSERT_EQ(entries.size(), audit_before + 1) << d.method;
    EXPECT_EQ(entries.back().action(), "denied");
    EXPECT_EQ(entries.back().subject(), d.method);
    EXPECT_THAT(entries.back().actor(), StartsWith(d.cert + ":CN=" + d.cert + "-1"));
    // Nothing else changed: State() differs only in the audit log's length.
    std::string after = State();
    EXPECT_EQ(after.substr(0, after.rfind("audit entries")), before.substr(0, before.rfind("audit entries")));
  }

  // A certificate from our CA that no rule maps is denied everything, and audited.
  stack_->MakeUnmappedCertificate("stranger", "/CN=stranger-1");
  grpc::ClientContext ctx;
  v1::ListAssetsResponse assets;
  grpc::Status s = stack_->As("stranger")->ListAssets(&ctx, v1::ListAssetsRequest(), &assets);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("matches no [[roles]] rule"));
  EXPECT_EQ(Audit().back().actor(), "unknown:CN=stranger-1");

  // Without a client certificate the TLS handshake itself fails.
  grpc::SslCredentialsOptions no_client_cert;
  {
    std::ifstream ca(stack_->certs_dir() / "ca.crt");
    std::stringstream text;
    text << ca.rdbuf();
    no_client_cert.pem_root_certs = text.str();
  }
  auto anonymous = v1::Custody::NewStub(grpc::CreateChannel(stack_->address(), grpc::SslCredentials(no_client_cert)));
  grpc::ClientContext anon_ctx;
  anon_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  s = anonymous->ListAssets(&anon_ctx, v1::ListAssetsRequest(), &assets);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();

  // Every role may list assets.
  for (const char* role : {"platform", "approver", "auditor", "admin"}) {
    grpc::ClientContext c;
    v1::ListAssetsResponse r;
    EXPECT_TRUE(stack_->As(role)->ListAssets(&c, v1::ListAssetsRequest(), &r).ok()) << role;
    EXPECT_EQ(r.assets_size(), 3);
  }
}

// --- transport -----------------------------------------------------------------------------

// A ServerReflectionRequest{list_services: ""} written by hand (reflection.proto field 7), sent
// on the v1alpha stream; the answer names every service.
TEST_F(CustodyE2eTest, HealthAndReflectionAnswer) {
  auto channel = stack_->ChannelAs("auditor");
  EXPECT_TRUE(ringfence::rpc::WaitForServing(channel, "", std::chrono::seconds(10)).ok());
  EXPECT_TRUE(ringfence::rpc::WaitForServing(channel, v1::Custody::service_full_name(), std::chrono::seconds(10)).ok());

  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  void* tag = nullptr;
  bool ok = false;
  auto call = generic.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const std::string request("\x3a\x00", 2);  // field 7 (list_services), empty string
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string answer;
  for (const auto& s : slices) answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(answer, HasSubstr("ringfence.custody.v1.Custody"));
  EXPECT_THAT(answer, HasSubstr("grpc.health.v1.Health"));
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(CustodyE2eTest, InsecureLoopbackIsPlaintextOnLoopbackOnly) {
  Disconnect();
  ASSERT_EQ(stack_->StopCustodyd(), 0);
  // Refused off loopback.
  {
    std::ifstream in(stack_->config_path());
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    config.replace(config.find("127.0.0.1:0"), 11, "0.0.0.0:0");
    const auto open_config = stack_->dir() / "open.toml";
    std::ofstream(open_config) << config;
    CommandResult r = stack_->RunCustodyd({"--config", open_config.string(), "--insecure-loopback", "admin"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("not a loopback address"));
    r = stack_->RunCustodyd({"--config", stack_->config_path().string(), "--insecure-loopback", "root"});
    EXPECT_EQ(r.exit_code, 2);
  }
  stack_->StartCustodyd({"--insecure-loopback", "admin"}, /*plaintext=*/true);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("WARNING plaintext listener"));
  auto plain = v1::Custody::NewStub(grpc::CreateChannel(stack_->address(), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    v1::ListWalletsResponse resp;
    EXPECT_TRUE(plain->ListWallets(&ctx, v1::ListWalletsRequest(), &resp).ok());  // admin may
  }
  {
    grpc::ClientContext ctx;
    v1::CreateClientRequest req;
    req.set_idempotency_key("plain-create");
    req.set_client_ref("plain");
    v1::CreateClientResponse resp;
    grpc::Status s = plain->CreateClient(&ctx, req, &resp);  // admin may not
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::ListAuditEntriesRequest req;
    req.set_page_size(1000);
    v1::ListAuditEntriesResponse resp;
    ASSERT_TRUE(plain->ListAuditEntries(&ctx, req, &resp).ok());
    ASSERT_GT(resp.entries_size(), 0);
    EXPECT_EQ(resp.entries().rbegin()->actor(), "admin:insecure-loopback");
    EXPECT_EQ(resp.entries().rbegin()->action(), "denied");
  }
  plain.reset();
  ASSERT_EQ(stack_->StopCustodyd(), 0);
}

// An independent client: Node's grpc-js reading the .proto at run time, with the role
// certificates (tests/custody/custody_client.js states what it checks).
TEST_F(CustodyE2eTest, NodeClientDrivesTheApi) {
  Process node({"/usr/bin/env", "node", RequiredEnv("RINGFENCE_SOURCE_DIR") + "/tests/custody/custody_client.js",
                stack_->address(), stack_->certs_dir().string(), RequiredEnv("RINGFENCE_SOURCE_DIR")},
               stack_->dir() / "node-client", false);
  ASSERT_TRUE(node.started());
  EXPECT_EQ(node.Wait(), 0) << node.Stdout() << node.Stderr();
  EXPECT_THAT(node.Stdout(), HasSubstr("ok"));
  // What the Node client did is on the books and in the evidence.
  grpc::ClientContext ctx;
  v1::GetClientRequest req;
  req.set_client_ref("node-ref-1");
  v1::GetClientResponse resp;
  ASSERT_TRUE(auditor_->GetClient(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.client().frozen());
  EXPECT_EQ(CountAudit("denied"), 2u);
}

}  // namespace
}  // namespace ringfence::custody::testing
