// The withdrawal executor end to end (issue 12): real custodyd, signerd on a PKCS#11 token
// (hsm_sim), chainsim and mTLS (tests/custody/e2e_harness.h), with the executor switched on
// ([withdrawals] executor = true). A withdrawal goes from CreateWithdrawal to confirmed on the
// chain: custodyd builds it, signerd checks it (its own approver registry, the wallet
// bindings of its keys, its [[wallet]] entries) and signs it, chainsim takes the broadcast,
// the test mines, custodyd settles. Afterwards the books, the chain and signerd's sign log
// agree, and `custodyd check` and `custodyd audit verify` pass.
//
// Crashes: custodyd is SIGKILLed by its test-only kill point (RINGFENCE_CUSTODYD_TEST_KILL_AT,
// docs/withdrawal-executor.md) at each step boundary and started again; each withdrawal then
// completes once, with one signature in signerd's log and one accepted broadcast in chainsim.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sqlite3.h>

#include <array>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/amount.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kBtc[] = "bitcoin";
constexpr char kEth[] = "ethereum";
constexpr uint64_t kBtcUnit = 100'000'000;
constexpr std::chrono::seconds kCeiling(120);

std::string BtcAddress(uint8_t fill) {
  std::array<uint8_t, 20> hash;
  hash.fill(fill);
  return chain::P2wpkhAddress("bcrt", hash).value();
}

std::string EthAddress(uint8_t fill) {
  std::array<uint8_t, 20> a;
  a.fill(fill);
  a[0] = 0xab;
  return chain::EthChecksumAddress(a);
}

std::string HouseAddress(const std::string& asset) {
  for (const auto& h : kHouseAddresses) {
    if (asset == h.asset) return h.address;
  }
  return "";
}

// The test policy with ETH destinations usable at once (kTestPolicy cools them off a day).
std::string ExecutorPolicy() {
  std::string p = kTestPolicy;
  const std::string from = "[assets.ETH.whitelist]\ncooling_off_seconds = 86400";
  const size_t at = p.find(from);
  if (at != std::string::npos) p.replace(at, from.size(), "[assets.ETH.whitelist]\ncooling_off_seconds = 0");
  return p;
}

// One entry of signerd's sign log about transactions, its fields decoded (docs/sign_log.md:
// u32 count, then per field lp(name) lp(value), big-endian lengths).
struct LogEntry {
  std::string kind;
  std::map<std::string, std::string> fields;
};

uint32_t ReadU32(const std::string& b, size_t& at) {
  if (at + 4 > b.size()) {
    at = b.size() + 1;
    return 0;
  }
  const uint32_t v = (static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24) |
                     (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16) |
                     (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8) |
                     static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
  at += 4;
  return v;
}

std::map<std::string, std::string> DecodeFields(const std::string& blob) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  const uint32_t count = ReadU32(blob, at);
  for (uint32_t i = 0; i < count && at <= blob.size(); ++i) {
    const uint32_t name_size = ReadU32(blob, at);
    if (at + name_size > blob.size()) break;
    std::string name = blob.substr(at, name_size);
    at += name_size;
    const uint32_t value_size = ReadU32(blob, at);
    if (at + value_size > blob.size()) break;
    out[name] = blob.substr(at, value_size);
    at += value_size;
  }
  return out;
}

// signerd's transaction entries (tx_signed, tx_replayed, tx_refused), oldest first, read from
// its database while it runs (SQLite WAL readers do not disturb it).
std::vector<LogEntry> SignLog(const std::filesystem::path& db) {
  std::vector<LogEntry> out;
  sqlite3* conn = nullptr;
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db << ": " << sqlite3_errmsg(conn);
    sqlite3_close(conn);
    return out;
  }
  sqlite3_busy_timeout(conn, 10'000);
  sqlite3_stmt* stmt = nullptr;
  const char* sql = "SELECT kind, fields FROM sign_log WHERE kind LIKE 'tx_%' AND kind != 'tx_signer_started' ORDER BY seq";
  if (sqlite3_prepare_v2(conn, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "sign_log: " << sqlite3_errmsg(conn);
  } else {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      LogEntry e;
      e.kind = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      const void* blob = sqlite3_column_blob(stmt, 1);
      e.fields = DecodeFields(std::string(static_cast<const char*>(blob), static_cast<size_t>(sqlite3_column_bytes(stmt, 1))));
      out.push_back(std::move(e));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(conn);
  return out;
}

size_t CountEntries(const std::vector<LogEntry>& log, const std::string& kind, const std::string& request_id) {
  size_t n = 0;
  for (const LogEntry& e : log) {
    auto it = e.fields.find("request_id");
    n += e.kind == kind && it != e.fields.end() && it->second == request_id;
  }
  return n;
}

const LogEntry* FindEntry(const std::vector<LogEntry>& log, const std::string& kind, const std::string& request_id) {
  for (const LogEntry& e : log) {
    auto it = e.fields.find("request_id");
    if (e.kind == kind && it != e.fields.end() && it->second == request_id) return &e;
  }
  return nullptr;
}

class ExecutorE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    StackOptions options;
    options.executor = true;
    options.policy = ExecutorPolicy();
    stack_ = std::make_unique<CustodyStack>(options);
    ASSERT_FALSE(HasFatalFailure());
    Connect();
  }

  void TearDown() override {
    if (stack_ != nullptr && !HasFatalFailure()) stack_->ExpectInvariantsAndAuditHold();
  }

  // Stubs for the running custodyd (its port changes at each start).
  void Connect() {
    platform_ = stack_->As("platform");
    approver_ = stack_->As("approver");
    auditor_ = stack_->As("auditor");
  }
  void Disconnect() {
    platform_.reset();
    approver_.reset();
    auditor_.reset();
  }
  void RestartCustodyd(const std::vector<std::string>& env = {}) {
    Disconnect();
    if (stack_->custodyd_running()) {
      ASSERT_EQ(stack_->StopCustodyd(), 0) << stack_->CustodydStderr();
    }
    stack_->StartCustodyd({}, false, env);
    ASSERT_FALSE(HasFatalFailure());
    Connect();
  }

  std::string NewClient(const std::string& ref) { return CreateClientAs(*platform_, "create-" + ref, ref); }

  // A new deposit address of the client for `asset`.
  std::string DepositAddress(const std::string& client_id, const std::string& asset) {
    return CreateDepositAddressAs(*platform_, "address-" + std::to_string(++keys_), client_id, asset);
  }

  static const char* ChainOf(const std::string& asset) { return asset == "BTC" ? kBtc : kEth; }
  static uint32_t Confirmations(const std::string& asset) { return asset == "BTC" ? 3 : 2; }

  // Credits `amount` to a new deposit address of the client and waits until custodyd has
  // credited it; returns the address.
  std::string Fund(const std::string& client_id, const std::string& asset, const std::string& amount) {
    const std::string address = DepositAddress(client_id, asset);
    stack_->Credit(ChainOf(asset), address, amount, asset == "USDC-ETH" ? kUsdcContract : "");
    stack_->Mine(ChainOf(asset), Confirmations(asset));
    stack_->WaitIngested(ChainOf(asset));
    return address;
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

  grpc::Status Approve(const std::string& target_id, const std::string& approver_id, const std::string& signature,
                       v1::SubmitApprovalResponse* out = nullptr) {
    return SubmitApprovalAs(*approver_, "approve-" + std::to_string(++keys_), target_id, approver_id, signature, out);
  }

  // Whitelists `address` for the client (alice approves; usable at once under the policy).
  void Whitelist(const std::string& client_id, const std::string& asset, const std::string& address) {
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("wl-" + std::to_string(++keys_));
    req.set_client_id(client_id);
    req.set_asset_id(asset);
    req.set_address(address);
    req.set_label("executor test destination");
    v1::AddWhitelistAddressResponse added;
    grpc::Status s = platform_->AddWhitelistAddress(&ctx, req, &added);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::SubmitApprovalResponse resp;
    s = Approve(added.entry().entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(added.entry())), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(resp.whitelist_entry().usable()) << resp.whitelist_entry().DebugString();
  }

  v1::Withdrawal Create(const std::string& client_id, const std::string& asset, const std::string& amount,
                        const std::string& destination, const std::string& requested_by = "") {
    v1::Withdrawal created;
    grpc::Status s = CreateWithdrawalAs(*platform_, "wd-" + std::to_string(++keys_), client_id, asset, amount, destination,
                                        &created, requested_by);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return created;
  }

  v1::Withdrawal Get(const std::string& id) { return GetWithdrawalAs(*auditor_, id); }

  // Polls the withdrawal until it is in one of `states` (the executor moves it in the
  // background); a test failure at the ceiling.
  v1::Withdrawal WaitFor(const std::string& id, const std::set<v1::WithdrawalState>& states) {
    const auto deadline = std::chrono::steady_clock::now() + kCeiling;
    v1::Withdrawal w;
    while (std::chrono::steady_clock::now() < deadline) {
      w = Get(id);
      if (states.contains(w.state())) return w;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "withdrawal " << id << " is " << v1::WithdrawalState_Name(w.state()) << " (reason '"
                  << w.reason() << "'), not in the states awaited\n"
                  << stack_->CustodydStderr();
    return w;
  }

  // Waits for the broadcast, mines the asset's confirmations and waits for the settlement.
  v1::Withdrawal Settle(const std::string& id, const std::string& asset) {
    v1::Withdrawal w = WaitFor(id, {v1::WITHDRAWAL_STATE_BROADCAST, v1::WITHDRAWAL_STATE_CONFIRMED,
                                    v1::WITHDRAWAL_STATE_FAILED});
    if (w.state() == v1::WITHDRAWAL_STATE_BROADCAST) {
      stack_->Mine(ChainOf(asset), Confirmations(asset));
      w = WaitFor(id, {v1::WITHDRAWAL_STATE_CONFIRMED, v1::WITHDRAWAL_STATE_FAILED});
    }
    EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << w.reason() << "\n" << stack_->CustodydStderr();
    return w;
  }

  std::string ChainBalance(const std::string& chain, const std::string& address, const std::string& token = "") {
    grpc::ClientContext ctx;
    sim::GetBalanceRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_token_contract(token);
    req.set_height(stack_->Tip(chain));
    sim::GetBalanceResponse resp;
    grpc::Status s = stack_->node().GetBalance(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.amount();
  }

  size_t AuditCount(const std::string& action, const std::string& subject) {
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
      for (const auto& e : resp.entries()) n += e.action() == action && e.subject() == subject;
      after = resp.entries().rbegin()->seq();
    }
  }

  // The segregation report holds for every asset, and the chain's view of the client wallets
  // equals the books.
  void ExpectSegregationBalanced() {
    grpc::ClientContext ctx;
    v1::GetSegregationReportResponse report;
    grpc::Status s = auditor_->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &report);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(report.holds()) << report.DebugString();
    for (const auto& a : report.assets()) {
      EXPECT_TRUE(a.holds()) << a.DebugString();
      EXPECT_EQ(a.difference(), "0") << a.DebugString();
      EXPECT_EQ(a.in_flight(), "0") << a.DebugString();
      EXPECT_EQ(a.house_client_funds(), "0") << a.DebugString();
    }
  }

  // What the withdrawal left in signerd's log: exactly one signature, and its signed bytes.
  const LogEntry* SignedOnce(const std::vector<LogEntry>& log, const std::string& id) {
    EXPECT_EQ(CountEntries(log, "tx_signed", id), 1u) << "signerd must sign " << id << " exactly once";
    return FindEntry(log, "tx_signed", id);
  }

  std::unique_ptr<CustodyStack> stack_;
  std::unique_ptr<v1::Custody::Stub> platform_, approver_, auditor_;
  int keys_ = 0;
};

// A Bitcoin transaction's outputs to `address`, in satoshi.
uint64_t PaidTo(const chain::Transaction& tx, const std::string& address) {
  const std::vector<uint8_t> script = chain::ScriptPubKeyForAddress(address).value();
  uint64_t sum = 0;
  for (const chain::TxOut& out : tx.outputs) {
    if (out.script_pubkey == script) sum += out.value;
  }
  return sum;
}

TEST_F(ExecutorE2eTest, SmallBitcoinWithdrawalIsSignedBroadcastConfirmedAndSettled) {
  const std::string client = NewClient("btc-small");
  const uint64_t funded = kBtcUnit / 2;
  const std::string deposit = Fund(client, "BTC", std::to_string(funded));
  ASSERT_FALSE(HasFatalFailure());
  const std::string dest = BtcAddress(0x31);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", dest));

  const uint64_t amount = kBtcUnit / 10;
  const v1::Withdrawal created = Create(client, "BTC", std::to_string(amount), dest);
  ASSERT_EQ(created.state(), v1::WITHDRAWAL_STATE_APPROVED) << created.DebugString();
  EXPECT_EQ(created.approvals_required(), 0u);
  const std::string id = created.withdrawal_id();

  // Broadcast, not yet settled: the hold has left the client's held account for in flight.
  const v1::Withdrawal broadcast = WaitFor(id, {v1::WITHDRAWAL_STATE_BROADCAST, v1::WITHDRAWAL_STATE_FAILED});
  ASSERT_EQ(broadcast.state(), v1::WITHDRAWAL_STATE_BROADCAST) << broadcast.reason();
  ASSERT_THAT(broadcast.txid(), ::testing::MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(Balance(client, "BTC").held(), "0");
  EXPECT_EQ(stack_->BroadcastCount(kBtc, broadcast.txid()).accepted(), 1u);

  const v1::Withdrawal w = Settle(id, "BTC");
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  EXPECT_EQ(w.txid(), broadcast.txid());

  // The transaction signerd signed (once, with no approval: below every tier) is the one on
  // the chain: it pays the destination the amount, and the fee it pays is what the client was
  // charged; the rest of the fee cap came back.
  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  const LogEntry* signed_entry = SignedOnce(log, id);
  ASSERT_NE(signed_entry, nullptr);
  EXPECT_EQ(signed_entry->fields.at("txid"), w.txid());
  EXPECT_EQ(signed_entry->fields.at("source_wallet"), "BTC:client-hot");
  EXPECT_EQ(signed_entry->fields.at("kind"), "withdrawal");
  EXPECT_EQ(signed_entry->fields.at("approvals_required"), "0");
  const std::string& raw = signed_entry->fields.at("signed_tx");
  absl::StatusOr<chain::Transaction> tx =
      chain::ParseTransaction(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  ASSERT_TRUE(tx.ok()) << tx.status();
  ASSERT_EQ(tx->inputs.size(), 1u);  // the one deposit
  uint64_t outputs = 0;
  for (const chain::TxOut& out : tx->outputs) outputs += out.value;
  const uint64_t fee = funded - outputs;
  EXPECT_EQ(PaidTo(*tx, dest), amount);
  EXPECT_EQ(signed_entry->fields.at("fee"), std::to_string(fee));
  EXPECT_EQ(w.network_fee(), std::to_string(fee));
  EXPECT_GT(fee, 0u);
  EXPECT_LE(fee, std::stoull(kBtcFeeCap));

  const v1::AssetBalance b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), "0");
  EXPECT_EQ(b.available(), std::to_string(funded - amount - fee));
  EXPECT_EQ(w.held(), "0");

  // The chain agrees: the destination got the amount, the deposit address is spent, the
  // change (funded - amount - fee) sits at the wallet's change address.
  EXPECT_EQ(ChainBalance(kBtc, dest), std::to_string(amount));
  EXPECT_EQ(ChainBalance(kBtc, deposit), "0");
  ASSERT_EQ(tx->outputs.size(), 2u);
  const chain::TxOut& change = tx->outputs[0].value == amount ? tx->outputs[1] : tx->outputs[0];
  absl::StatusOr<chain::SegwitAddress> change_address = chain::SegwitAddressFromScriptPubKey(change.script_pubkey, "bcrt");
  ASSERT_TRUE(change_address.ok());
  const std::string change_at = chain::EncodeSegwitAddress(*change_address).value();
  EXPECT_EQ(ChainBalance(kBtc, change_at), b.available());
  EXPECT_EQ(stack_->BroadcastCount(kBtc, w.txid()).accepted(), 1u);

  // The change address is one of the wallet's own addresses, so custodyd's chain view of the
  // wallet counts the change, and the change output is no deposit (nothing detected or credited).
  ASSERT_NO_FATAL_FAILURE(stack_->WaitIngested(kBtc));
  {
    grpc::ClientContext ctx;
    v1::ListWalletsRequest req;
    req.set_asset_id("BTC");
    v1::ListWalletsResponse resp;
    ASSERT_TRUE(auditor_->ListWallets(&ctx, req, &resp).ok());
    const v1::Wallet* hot = nullptr;
    for (const v1::Wallet& wallet : resp.wallets()) {
      if (wallet.wallet_id() == "BTC:client-hot") hot = &wallet;
    }
    ASSERT_NE(hot, nullptr);
    EXPECT_THAT(hot->addresses(), ::testing::Contains(change_at));
    EXPECT_EQ(hot->chain_balance(), hot->ledger_balance());
  }
  const uint32_t change_index = tx->outputs[0].value == amount ? 1 : 0;
  EXPECT_EQ(AuditCount("deposit.detected", w.txid() + ":" + std::to_string(change_index)), 0u);
  EXPECT_EQ(stack_->BroadcastCount(kBtc).accepted(), 1u);

  EXPECT_EQ(AuditCount("withdrawal.claimed", id), 1u);
  EXPECT_EQ(AuditCount("withdrawal.signed", id), 1u);
  EXPECT_EQ(AuditCount("withdrawal.broadcast", id), 1u);
  EXPECT_EQ(AuditCount("withdrawal.confirmed", id), 1u);
  ExpectSegregationBalanced();

  // WatchWithdrawals shows the executor's steps, in order, after the creation's event.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCeiling);
  v1::WatchWithdrawalsRequest req;
  req.set_after_seq(created.event_seq());
  req.set_client_id(client);
  std::unique_ptr<grpc::ClientReader<v1::WithdrawalEvent>> stream = platform_->WatchWithdrawals(&ctx, req);
  std::vector<v1::WithdrawalState> states;
  v1::WithdrawalEvent event;
  while (stream->Read(&event)) {
    if (event.withdrawal_id() != id) continue;
    states.push_back(event.state());
    if (event.state() == v1::WITHDRAWAL_STATE_CONFIRMED) break;
  }
  ctx.TryCancel();
  stream->Finish();
  EXPECT_THAT(states, ::testing::ElementsAre(v1::WITHDRAWAL_STATE_SIGNING, v1::WITHDRAWAL_STATE_SIGNED,
                                             v1::WITHDRAWAL_STATE_BROADCAST, v1::WITHDRAWAL_STATE_CONFIRMED));
}

// A token withdrawal whose tokens sit in a deposit account without ether for the gas is not
// failed: it waits, approved, while custodyd sends that account ether from ETH client-hot
// (kind gas_funding); once that is mined, the withdrawal is built, signed and settled. The
// client pays the amount only; the gas and the funding's fee are the house's, receivables of
// ETH client-hot, and the ether sent is no deposit.
TEST_F(ExecutorE2eTest, ATokenWithdrawalWaitsForItsAccountToBeFundedWithGas) {
  const std::string client = NewClient("usdc-no-gas");
  Fund(client, "ETH", "1000000000000000000");  // the ETH client-hot wallet's ether, which pays the funding
  ASSERT_FALSE(HasFatalFailure());
  const std::string usdc_deposit = Fund(client, "USDC-ETH", "5000000000");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(ChainBalance(kEth, usdc_deposit), "0");
  const std::string dest = EthAddress(0x43);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "USDC-ETH", dest));
  const v1::Withdrawal usdc = Create(client, "USDC-ETH", "1500000000", dest);
  ASSERT_EQ(usdc.state(), v1::WITHDRAWAL_STATE_APPROVED) << usdc.DebugString();

  auto fundings = [&] { return MovesOfKind(*auditor_, "ETH", v1::REQUEST_KIND_GAS_FUNDING); };
  ASSERT_TRUE(Eventually([&] {
    const auto f = fundings();
    return !f.empty() && f[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
  })) << stack_->CustodydStderr();
  const v1::Withdrawal funding = fundings().at(0);
  EXPECT_EQ(fundings().size(), 1u);
  EXPECT_EQ(funding.destination(), usdc_deposit);
  EXPECT_EQ(funding.source_wallet(), "ETH:client-hot");
  EXPECT_EQ(funding.client_id(), "");
  // The withdrawal waits for it, approved, with nothing signed.
  EXPECT_EQ(Get(usdc.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_APPROVED);
  EXPECT_EQ(CountEntries(SignLog(stack_->signer_db_path()), "tx_signed", usdc.withdrawal_id()), 0u);

  stack_->Mine(kEth, 2);
  const v1::Withdrawal done = Settle(usdc.withdrawal_id(), "USDC-ETH");
  ASSERT_EQ(done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  EXPECT_EQ(Get(funding.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  EXPECT_EQ(Balance(client, "USDC-ETH").available(), "3500000000");
  EXPECT_EQ(Balance(client, "ETH").available(), "1000000000000000000");
  EXPECT_EQ(ChainBalance(kEth, dest, kUsdcContract), "1500000000");
  // What the funding sent, less the gas the withdrawal paid, is still in the account.
  const base::Uint128 sent = base::ParseBaseUnits(funding.amount()).value().base_units();
  const base::Uint128 gas = base::ParseBaseUnits(done.network_fee()).value().base_units();
  ASSERT_GE(sent, gas);
  EXPECT_EQ(ChainBalance(kEth, usdc_deposit), base::Amount(sent - gas).ToBaseUnitString());
  grpc::ClientContext ctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor_->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &report).ok());
  for (const auto& a : report.assets()) {
    EXPECT_EQ(a.unattributed(), "0") << a.DebugString();
    if (a.asset_id() != "ETH") continue;
    const base::Uint128 funding_fee = base::ParseBaseUnits(Get(funding.withdrawal_id()).network_fee()).value().base_units();
    EXPECT_EQ(a.receivables(), base::Amount(gas + funding_fee).ToBaseUnitString()) << a.DebugString();
  }
  ExpectSegregationBalanced();
}

TEST_F(ExecutorE2eTest, EtherAndTokenWithdrawalsSettle) {
  const std::string client = NewClient("eth-small");
  const base::Uint128 ether = base::Uint128{1'000'000'000'000'000'000ULL};
  const std::string eth_deposit = Fund(client, "ETH", "1000000000000000000");
  ASSERT_FALSE(HasFatalFailure());
  const std::string usdc_deposit = Fund(client, "USDC-ETH", "5000000000");  // 5,000 USDC
  ASSERT_FALSE(HasFatalFailure());
  // The token's sender pays the gas in ether from the same account (the house's part: the
  // client is not charged for it).
  stack_->Credit(kEth, usdc_deposit, "10000000000000000");  // 0.01 ETH
  stack_->Mine(kEth, 2);
  stack_->WaitIngested(kEth);
  const std::string dest = EthAddress(0x41);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "ETH", dest));
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "USDC-ETH", dest));

  const v1::Withdrawal eth = Create(client, "ETH", "100000000000000000", dest);  // 0.1 ETH
  ASSERT_EQ(eth.state(), v1::WITHDRAWAL_STATE_APPROVED) << eth.DebugString();
  const v1::Withdrawal usdc = Create(client, "USDC-ETH", "1500000000", dest);  // 1,500 USDC
  ASSERT_EQ(usdc.state(), v1::WITHDRAWAL_STATE_APPROVED) << usdc.DebugString();
  EXPECT_FALSE(usdc.fee_charged_to_client());

  const v1::Withdrawal eth_done = Settle(eth.withdrawal_id(), "ETH");
  const v1::Withdrawal usdc_done = Settle(usdc.withdrawal_id(), "USDC-ETH");
  ASSERT_EQ(eth_done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  ASSERT_EQ(usdc_done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);

  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  const LogEntry* eth_signed = SignedOnce(log, eth.withdrawal_id());
  const LogEntry* usdc_signed = SignedOnce(log, usdc.withdrawal_id());
  ASSERT_TRUE(eth_signed != nullptr && usdc_signed != nullptr);
  EXPECT_EQ(eth_signed->fields.at("source_wallet"), "ETH:client-hot");
  EXPECT_EQ(usdc_signed->fields.at("source_wallet"), "USDC-ETH:client-hot");

  // Ether: the client paid the amount and the network fee chainsim charged (gas limit x max
  // fee, signerd's `fee`), and the sending account holds exactly what the books say is left.
  const std::string eth_fee = eth_done.network_fee();
  EXPECT_EQ(eth_signed->fields.at("fee"), eth_fee);
  base::Uint128 fee = 0;
  for (char c : eth_fee) fee = fee * 10 + static_cast<base::Uint128>(c - '0');
  EXPECT_GT(fee, base::Uint128{0});
  EXPECT_LE(fee, base::Uint128{2'100'000'000'000'000ULL});
  const base::Uint128 left = ether - base::Uint128{100'000'000'000'000'000ULL} - fee;
  EXPECT_EQ(Balance(client, "ETH").available(), base::Amount(left).ToBaseUnitString());
  EXPECT_EQ(Balance(client, "ETH").held(), "0");
  EXPECT_EQ(ChainBalance(kEth, eth_deposit), base::Amount(left).ToBaseUnitString());
  EXPECT_EQ(ChainBalance(kEth, dest), "100000000000000000");

  // Token: the client paid the amount only.
  EXPECT_EQ(Balance(client, "USDC-ETH").available(), "3500000000");
  EXPECT_EQ(Balance(client, "USDC-ETH").held(), "0");
  EXPECT_EQ(ChainBalance(kEth, usdc_deposit, kUsdcContract), "3500000000");
  EXPECT_EQ(ChainBalance(kEth, dest, kUsdcContract), "1500000000");

  for (const v1::Withdrawal* w : {&eth_done, &usdc_done}) {
    EXPECT_EQ(stack_->BroadcastCount(kEth, w->txid()).accepted(), 1u) << w->withdrawal_id();
  }
  EXPECT_EQ(stack_->BroadcastCount(kEth).accepted(), 2u);
  // The token's gas came out of the sending account's ether (booked in ETH:client-hot, as the
  // 0.01 ETH sent to the USDC address was): a receivable of that wallet from the house, so the
  // books follow the chain and segregation still holds.
  const std::string gas = usdc_done.network_fee();
  base::Uint128 gas_wei = 0;
  for (char c : gas) gas_wei = gas_wei * 10 + static_cast<base::Uint128>(c - '0');
  EXPECT_GT(gas_wei, base::Uint128{0});
  EXPECT_EQ(ChainBalance(kEth, usdc_deposit),
            base::Amount(base::Uint128{10'000'000'000'000'000ULL} - gas_wei).ToBaseUnitString());
  {
    grpc::ClientContext ctx;
    v1::GetSegregationReportResponse report;
    ASSERT_TRUE(auditor_->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &report).ok());
    for (const auto& a : report.assets()) {
      if (a.asset_id() == "ETH") {
        EXPECT_EQ(a.receivables(), gas) << a.DebugString();
        EXPECT_EQ(a.client_wallet_holdings(),
                  base::Amount(left + base::Uint128{10'000'000'000'000'000ULL} - gas_wei).ToBaseUnitString());
      } else {
        EXPECT_EQ(a.receivables(), "0") << a.DebugString();
      }
    }
  }
  ExpectSegregationBalanced();
}

// 2 BTC needs 2 of alice, bob and carol. The requester (alice) cannot approve her own; one
// approval leaves it pending (nothing built or signed); the second completes the quorum and
// signerd, which checks both approvals against its own registry, signs it.
TEST_F(ExecutorE2eTest, LargeWithdrawalIsSignedOnlyAfterTwoOfThreeApprovals) {
  const std::string client = NewClient("btc-large");
  const uint64_t funded = 3 * kBtcUnit;
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(funded)));
  const std::string dest = BtcAddress(0x32);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", dest));
  const uint64_t amount = 2 * kBtcUnit;
  const v1::Withdrawal w = Create(client, "BTC", std::to_string(amount), dest, "alice");
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL) << w.DebugString();
  EXPECT_EQ(w.approvals_required(), 2u);
  const auto digest = DigestOf(SubjectOf(w));

  grpc::Status own = Approve(w.withdrawal_id(), "alice", Sign(ApproverKey("alice"), digest));
  EXPECT_FALSE(own.ok());
  EXPECT_THAT(own.error_message(), HasSubstr("cannot approve it"));
  v1::SubmitApprovalResponse one;
  ASSERT_TRUE(Approve(w.withdrawal_id(), "bob", Sign(ApproverKey("bob"), digest), &one).ok());
  EXPECT_EQ(one.withdrawal().state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  EXPECT_THAT(one.withdrawal().approvals(), ::testing::ElementsAre("bob"));

  // With one approval the executor has nothing to do: once an approved withdrawal made after
  // it has been broadcast (the executor has run passes since), the large one is still pending
  // and signerd never saw it.
  const std::string other_dest = BtcAddress(0x33);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", other_dest));
  const v1::Withdrawal small = Create(client, "BTC", std::to_string(kBtcUnit / 100), other_dest);
  ASSERT_EQ(small.state(), v1::WITHDRAWAL_STATE_APPROVED);
  EXPECT_EQ(Settle(small.withdrawal_id(), "BTC").state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  EXPECT_EQ(Get(w.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  EXPECT_TRUE(FindEntry(SignLog(stack_->signer_db_path()), "tx_signed", w.withdrawal_id()) == nullptr);
  EXPECT_TRUE(FindEntry(SignLog(stack_->signer_db_path()), "tx_refused", w.withdrawal_id()) == nullptr);

  v1::SubmitApprovalResponse two;
  ASSERT_TRUE(Approve(w.withdrawal_id(), "carol", Sign(ApproverKey("carol"), digest), &two).ok());
  EXPECT_EQ(two.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED);
  const v1::Withdrawal done = Settle(w.withdrawal_id(), "BTC");
  ASSERT_EQ(done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);

  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  const LogEntry* signed_entry = SignedOnce(log, w.withdrawal_id());
  ASSERT_NE(signed_entry, nullptr);
  EXPECT_EQ(signed_entry->fields.at("approvals_required"), "2");
  EXPECT_EQ(signed_entry->fields.at("approvers"), "bob,carol");
  EXPECT_EQ(signed_entry->fields.at("txid"), done.txid());
  EXPECT_EQ(ChainBalance(kBtc, dest), std::to_string(amount));
  EXPECT_EQ(stack_->BroadcastCount(kBtc, done.txid()).accepted(), 1u);
  const uint64_t fees = std::stoull(done.network_fee()) + std::stoull(Get(small.withdrawal_id()).network_fee());
  EXPECT_EQ(Balance(client, "BTC").available(), std::to_string(funded - amount - kBtcUnit / 100 - fees));
  ExpectSegregationBalanced();
}

// A definitive refusal: the client whitelisted an address of the house's wallet, which custodyd
// does not know but signerd does ([[wallet]] BTC:house-hot). signerd refuses to pay house
// funds from a client wallet; the withdrawal fails with signerd's rule as the reason, the hold
// is released in full, and nothing reaches the chain.
TEST_F(ExecutorE2eTest, SignerRefusalFailsTheWithdrawalAndReleasesTheHold) {
  const std::string client = NewClient("to-house");
  const uint64_t funded = kBtcUnit;
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(funded)));
  const std::string house = HouseAddress("BTC");
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", house));
  const v1::Withdrawal w = Create(client, "BTC", std::to_string(kBtcUnit / 10), house);
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED);

  const v1::Withdrawal failed = WaitFor(w.withdrawal_id(), {v1::WITHDRAWAL_STATE_FAILED, v1::WITHDRAWAL_STATE_BROADCAST,
                                                            v1::WITHDRAWAL_STATE_CONFIRMED});
  ASSERT_EQ(failed.state(), v1::WITHDRAWAL_STATE_FAILED);
  EXPECT_THAT(failed.reason(), HasSubstr("client_funds_to_house"));
  EXPECT_EQ(failed.held(), "0");
  EXPECT_TRUE(failed.txid().empty());
  const v1::AssetBalance b = Balance(client, "BTC");
  EXPECT_EQ(b.held(), "0");
  EXPECT_EQ(b.available(), std::to_string(funded));
  EXPECT_EQ(stack_->BroadcastCount(kBtc).received(), 0u);
  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  EXPECT_EQ(CountEntries(log, "tx_signed", w.withdrawal_id()), 0u);
  const LogEntry* refused = FindEntry(log, "tx_refused", w.withdrawal_id());
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->fields.at("rule"), "client_funds_to_house");
  EXPECT_EQ(AuditCount("withdrawal.failed", w.withdrawal_id()), 1u);

  // The same client's next withdrawal, to its own whitelisted address, is not held up.
  const std::string dest = BtcAddress(0x34);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", dest));
  const v1::Withdrawal next = Create(client, "BTC", std::to_string(kBtcUnit / 10), dest);
  EXPECT_EQ(Settle(next.withdrawal_id(), "BTC").state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  ExpectSegregationBalanced();
}

// Transient failures: signerd's token failing every signature, then signerd unreachable.
// Neither is a verdict on the withdrawal (signerd may have signed before a connection broke),
// so the executor asks again with the same request; the withdrawal stays in signing with its
// hold and nothing is broadcast, until signerd answers and it completes.
TEST_F(ExecutorE2eTest, SignerOrTokenFailureIsRetriedAndNothingIsBroadcastMeanwhile) {
  const std::string client = NewClient("transient");
  const uint64_t funded = kBtcUnit;
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(funded)));
  const std::string dest = BtcAddress(0x35);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", dest));
  // The token fails every C_Sign: signerd answers UNAVAILABLE (token_error) and logs it.
  ASSERT_EQ(stack_->StopSignerd(), 0) << stack_->SignerdStderr();
  stack_->StartSignerd({"HSM_SIM_FAIL_SIGN_EVERY=1"});
  ASSERT_FALSE(HasFatalFailure());

  const uint64_t amount = kBtcUnit / 10;
  const v1::Withdrawal w = Create(client, "BTC", std::to_string(amount), dest);
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED);
  const std::string id = w.withdrawal_id();
  const auto deadline = std::chrono::steady_clock::now() + kCeiling;
  while (FindEntry(SignLog(stack_->signer_db_path()), "tx_refused", id) == nullptr &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  const LogEntry* refused = FindEntry(log, "tx_refused", id);
  ASSERT_NE(refused, nullptr) << stack_->SignerdStderr() << stack_->CustodydStderr();
  EXPECT_EQ(refused->fields.at("rule"), "token_error");
  EXPECT_EQ(refused->fields.at("code"), "UNAVAILABLE");
  const std::string held = std::to_string(amount + std::stoull(kBtcFeeCap));
  auto expect_waiting = [&] {
    const v1::Withdrawal waiting = Get(id);
    EXPECT_EQ(waiting.state(), v1::WITHDRAWAL_STATE_SIGNING) << waiting.reason();
    EXPECT_EQ(waiting.held(), held);
    EXPECT_EQ(Balance(client, "BTC").held(), held);
    EXPECT_EQ(stack_->BroadcastCount(kBtc).received(), 0u);
  };
  expect_waiting();

  // signerd stopped: the executor's call finds no signer within its deadline and is deferred.
  ASSERT_EQ(stack_->StopSignerd(), 0) << stack_->SignerdStderr();
  auto unreachable_deferrals = [&] {
    size_t n = 0;
    std::istringstream lines(stack_->CustodydStderr());
    for (std::string line; std::getline(lines, line);) {
      n += line.find(id + ": signing deferred") != std::string::npos && line.find("token_error") == std::string::npos;
    }
    return n;
  };
  const auto stopped_deadline = std::chrono::steady_clock::now() + kCeiling;
  while (unreachable_deferrals() == 0 && std::chrono::steady_clock::now() < stopped_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(unreachable_deferrals(), 0u) << stack_->CustodydStderr();
  expect_waiting();

  // A healthy signerd again: the same request is signed, once, and the withdrawal completes.
  stack_->StartSignerd();
  ASSERT_FALSE(HasFatalFailure());
  const v1::Withdrawal done = Settle(id, "BTC");
  ASSERT_EQ(done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  SignedOnce(SignLog(stack_->signer_db_path()), id);
  EXPECT_EQ(stack_->BroadcastCount(kBtc, done.txid()).accepted(), 1u);
  EXPECT_EQ(Balance(client, "BTC").available(), std::to_string(funded - amount - std::stoull(done.network_fee())));
  ExpectSegregationBalanced();
}

// custodyd SIGKILLed at each step boundary of the executor and started again: the withdrawal
// completes exactly once, signerd signed it once, chainsim accepted its broadcast once.
class ExecutorCrashE2eTest : public ExecutorE2eTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ExecutorCrashE2eTest, KilledCustodydResumesWithoutASecondSignatureOrBroadcast) {
  const std::string step = GetParam();
  const std::string client = NewClient("crash-" + step);
  const uint64_t funded = kBtcUnit;
  ASSERT_NO_FATAL_FAILURE(Fund(client, "BTC", std::to_string(funded)));
  const std::string dest = BtcAddress(0x36);
  ASSERT_NO_FATAL_FAILURE(Whitelist(client, "BTC", dest));
  ASSERT_NO_FATAL_FAILURE(RestartCustodyd({std::string("RINGFENCE_CUSTODYD_TEST_KILL_AT=") + step}));

  const uint64_t amount = kBtcUnit / 10;
  const v1::Withdrawal w = Create(client, "BTC", std::to_string(amount), dest);
  ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED);
  const std::string id = w.withdrawal_id();
  if (step == "settling" || step == "confirmed") {
    // The kill waits for the confirmations.
    EXPECT_EQ(WaitFor(id, {v1::WITHDRAWAL_STATE_BROADCAST}).state(), v1::WITHDRAWAL_STATE_BROADCAST);
    stack_->Mine(kBtc, Confirmations("BTC"));
  }
  Disconnect();
  EXPECT_EQ(stack_->WaitCustodydExit(), 128 + SIGKILL);
  EXPECT_THAT(stack_->CustodydStderr(), HasSubstr("killed after '" + step + "' of " + id));

  stack_->StartCustodyd();
  ASSERT_FALSE(HasFatalFailure());
  Connect();
  const v1::Withdrawal done = Settle(id, "BTC");
  ASSERT_EQ(done.state(), v1::WITHDRAWAL_STATE_CONFIRMED);

  const std::vector<LogEntry> log = SignLog(stack_->signer_db_path());
  SignedOnce(log, id);
  // After a kill between signerd's answer and its record, the restart got the stored bytes.
  if (step == "answered") {
    EXPECT_GE(CountEntries(log, "tx_replayed", id), 1u);
  }
  EXPECT_EQ(stack_->BroadcastCount(kBtc, done.txid()).accepted(), 1u);
  EXPECT_EQ(stack_->BroadcastCount(kBtc).accepted(), 1u);
  for (const char* action : {"withdrawal.claimed", "withdrawal.signed", "withdrawal.broadcast", "withdrawal.confirmed"}) {
    EXPECT_EQ(AuditCount(action, id), 1u) << action;
  }
  EXPECT_EQ(ChainBalance(kBtc, dest), std::to_string(amount));
  EXPECT_EQ(Balance(client, "BTC").available(), std::to_string(funded - amount - std::stoull(done.network_fee())));
  EXPECT_EQ(Balance(client, "BTC").held(), "0");
  ExpectSegregationBalanced();
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, ExecutorCrashE2eTest,
                         ::testing::Values("claimed", "answered", "signed", "sent", "broadcast", "settling"));

}  // namespace
}  // namespace ringfence::custody::testing
