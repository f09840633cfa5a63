// custodyctl (tools/custody_cli) against the real stack of e2e_harness.h: chainsim, signerd on
// hsm_sim and custodyd over mTLS with the development certificates. Each test runs the
// custodyctl binary as a separate process and checks what it prints and how it exits: text for
// people (amounts in display units with base units labelled), --json in the proto's JSON
// mapping (read back with protobuf's own parser), exit 1 with the gRPC code for a failed call,
// exit 2 for bad input. chainsimctl, the demo's chainsim client, is driven the same way.
#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CustodyctlTest : public ::testing::Test {
 protected:
  // custodyctl with the connection flags of `role`'s certificate, then `args`.
  CommandResult Ctl(const std::string& role, const std::vector<std::string>& args) {
    std::vector<std::string> full = {RequiredEnv("CUSTODYCTL"),
                                     "--addr",
                                     stack_.address(),
                                     "--ca",
                                     (stack_.certs_dir() / "ca.crt").string(),
                                     "--cert",
                                     (stack_.certs_dir() / (role + ".crt")).string(),
                                     "--key",
                                     (stack_.certs_dir() / (role + ".key")).string()};
    full.insert(full.end(), args.begin(), args.end());
    return Run(full);
  }

  // Any command line, run to completion.
  CommandResult Run(const std::vector<std::string>& args) {
    Process p(args, stack_.dir() / ("ctl-" + std::to_string(++runs_)), false);
    CommandResult r;
    r.exit_code = p.Wait();
    r.out = p.Stdout();
    r.err = p.Stderr();
    return r;
  }

  // `custodyctl --json ...` as `role`, parsed into `Message` with protobuf's JSON parser.
  template <typename Message>
  Message Json(const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    const CommandResult r = Ctl(role, args);
    Message m;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto status = google::protobuf::util::JsonStringToMessage(r.out, &m);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << r.out;
    return m;
  }

  v1::Client NewClient(const std::string& ref) {
    return Json<v1::CreateClientResponse>("platform", {"create-client", "--ref", ref}).client();
  }
  std::string NewAddress(const std::string& client_id, const std::string& asset) {
    return Json<v1::CreateDepositAddressResponse>(
               "platform", {"create-deposit-address", "--client", client_id, "--asset", asset})
        .deposit_address()
        .address();
  }

  CustodyStack stack_;
  int runs_ = 0;
};

TEST_F(CustodyctlTest, DepositsFromPendingToAvailableInDisplayAndBaseUnits) {
  const CommandResult created = Ctl("platform", {"create-client", "--ref", "alice"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("client_ref"));
  EXPECT_THAT(created.out, HasSubstr("alice"));
  EXPECT_THAT(created.out, HasSubstr("idempotency key: custodyctl-"));
  const v1::Client alice = Json<v1::GetClientResponse>("auditor", {"get-client", "--ref", "alice"}).client();
  ASSERT_EQ(alice.client_ref(), "alice");
  ASSERT_EQ(alice.client_id().size(), 18u);
  EXPECT_THAT(created.out, HasSubstr(alice.client_id()));

  const std::string btc = NewAddress(alice.client_id(), "BTC");
  ASSERT_TRUE(btc.starts_with("bcrt1q")) << btc;
  const CommandResult listed = Ctl("platform", {"list-deposit-addresses", "--client", alice.client_id()});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(btc));
  EXPECT_THAT(listed.out, HasSubstr("BTC:client-hot"));

  stack_.Credit("bitcoin", btc, "150000000");
  stack_.Mine("bitcoin", 1);
  stack_.WaitIngested("bitcoin");
  CommandResult balances = Ctl("platform", {"balances", "--client", alice.client_id(), "--asset", "BTC"});
  ASSERT_EQ(balances.exit_code, 0) << balances.err;
  EXPECT_THAT(balances.out, HasSubstr("1.5 BTC (150000000 base units)"));
  EXPECT_THAT(balances.out, HasSubstr("1 of 3 confirmations"));
  EXPECT_THAT(balances.out, HasSubstr("0 BTC (0 base units)"));  // available, held

  stack_.Mine("bitcoin", 2);
  stack_.WaitIngested("bitcoin");
  const v1::GetBalancesResponse after =
      Json<v1::GetBalancesResponse>("platform", {"balances", "--client", alice.client_id(), "--asset", "BTC"});
  ASSERT_EQ(after.balances_size(), 1);
  EXPECT_EQ(after.balances(0).available(), "150000000");
  EXPECT_EQ(after.balances(0).pending(), "0");
  EXPECT_EQ(after.balances(0).decimals(), 8u);
  balances = Ctl("platform", {"balances", "--client", alice.client_id(), "--asset", "BTC"});
  EXPECT_THAT(balances.out, Not(HasSubstr("confirmations")));

  const CommandResult ledger = Ctl("auditor", {"ledger", "--client", alice.client_id()});
  ASSERT_EQ(ledger.exit_code, 0) << ledger.err;
  EXPECT_THAT(ledger.out, HasSubstr("deposit"));
  EXPECT_THAT(ledger.out, HasSubstr("credit client:" + alice.client_id() + ":BTC:available  1.5 BTC (150000000 base units)"));
  EXPECT_THAT(ledger.out, HasSubstr("debit  wallet:BTC:client-hot  1.5 BTC (150000000 base units)"));

  const CommandResult statement = Ctl("platform", {"statement", "--client", alice.client_id()});
  ASSERT_EQ(statement.exit_code, 0) << statement.err;
  EXPECT_THAT(statement.out, HasSubstr("movements (1)"));
  EXPECT_THAT(statement.out, HasSubstr("1.5 BTC (150000000 base units)"));

  const CommandResult wallets = Ctl("admin", {"wallets", "--asset", "BTC"});
  ASSERT_EQ(wallets.exit_code, 0) << wallets.err;
  EXPECT_THAT(wallets.out, HasSubstr("BTC:client-hot"));
  EXPECT_THAT(wallets.out, HasSubstr(btc));
  EXPECT_THAT(wallets.out, HasSubstr("1.5 BTC (150000000 base units) at height 3"));

  const CommandResult assets = Ctl("platform", {"assets"});
  ASSERT_EQ(assets.exit_code, 0) << assets.err;
  EXPECT_THAT(assets.out, HasSubstr(kUsdcContract));

  const CommandResult clients = Ctl("auditor", {"list-clients"});
  ASSERT_EQ(clients.exit_code, 0) << clients.err;
  EXPECT_THAT(clients.out, HasSubstr(alice.client_id()));

  // Without [reconciliation] the report says so and freezes nothing.
  const CommandResult reconciliation = Ctl("auditor", {"reconciliation", "--asset", "BTC"});
  ASSERT_EQ(reconciliation.exit_code, 0) << reconciliation.err;
  EXPECT_THAT(reconciliation.out, HasSubstr("reconciliation is not configured"));
  EXPECT_THAT(reconciliation.out, HasSubstr("BTC: not frozen"));
  EXPECT_NE(Ctl("platform", {"reconciliation"}).exit_code, 0);

  const CommandResult audit = Ctl("auditor", {"audit"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("deposit.credited"));
  EXPECT_THAT(audit.out, HasSubstr("CreateDepositAddress"));
  stack_.ExpectInvariantsAndAuditHold();
}

TEST_F(CustodyctlTest, SegregationReportShowsUnattributedTransfersApart) {
  const v1::Client bob = NewClient("bob");
  const std::string eth = NewAddress(bob.client_id(), "ETH");
  const std::string usdc = NewAddress(bob.client_id(), "USDC-ETH");
  // USDC sent to bob's ETH deposit address is nobody's USDC deposit: unattributed.
  stack_.Credit("ethereum", eth, "2500000", kUsdcContract);
  stack_.Credit("ethereum", usdc, "7000000", kUsdcContract);
  stack_.Mine("ethereum", 2);
  stack_.WaitIngested("ethereum");

  const v1::GetSegregationReportResponse report =
      Json<v1::GetSegregationReportResponse>("auditor", {"segregation-report"});
  EXPECT_TRUE(report.holds());
  bool found = false;
  for (const v1::AssetSegregation& a : report.assets()) {
    if (a.asset_id() != "USDC-ETH") continue;
    found = true;
    EXPECT_EQ(a.unattributed(), "2500000");
    EXPECT_EQ(a.client_liabilities(), "7000000");
    EXPECT_EQ(a.client_wallet_holdings(), "9500000");
    EXPECT_EQ(a.difference(), "0");
    EXPECT_TRUE(a.holds());
  }
  EXPECT_TRUE(found);
  const CommandResult text = Ctl("admin", {"segregation-report"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr(": holds"));
  EXPECT_THAT(text.out, HasSubstr("unattributed                   2.5 USDC-ETH (2500000 base units)"));
  EXPECT_THAT(text.out, HasSubstr("client liabilities             7 USDC-ETH (7000000 base units)"));
  stack_.ExpectInvariantsAndAuditHold();
}

TEST_F(CustodyctlTest, IdempotencyKeysGivenAreReplayedAndGeneratedOnesAreFresh) {
  const v1::Client carol = NewClient("carol");
  const std::vector<std::string> freeze = {"freeze", "--client", carol.client_id(), "--reason", "kyc review",
                                           "--idempotency-key", "freeze-carol-1"};
  const CommandResult first = Ctl("admin", freeze);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("yes (kyc review)"));
  EXPECT_THAT(first.out, Not(HasSubstr("idempotency key:")));  // given, not generated
  const CommandResult again = Ctl("admin", freeze);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, first.out);
  const CommandResult other = Ctl("admin", {"freeze", "--client", carol.client_id(), "--reason", "another",
                                            "--idempotency-key", "freeze-carol-1"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(other.err, HasSubstr("freeze-carol-1"));
  const CommandResult unfrozen =
      Ctl("admin", {"unfreeze", "--client", carol.client_id(), "--reason", "review done"});
  EXPECT_EQ(unfrozen.exit_code, 0) << unfrozen.err;
  EXPECT_THAT(unfrozen.out, HasSubstr("frozen      no"));

  // Without --idempotency-key every invocation is a new request: the same reference again is
  // refused as taken, not replayed.
  const CommandResult twice = Ctl("platform", {"create-client", "--ref", "carol"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(twice.err, HasSubstr("idempotency key was custodyctl-"));
  stack_.ExpectInvariantsAndAuditHold();
}

// The whitelist and withdrawal commands: an addition waits for its approval, a withdrawal to an
// address not (yet) usable is recorded as denied with the policy's reason (not an error), and
// both show in their lists; a malformed amount is the server's INVALID_ARGUMENT, exit 1.
TEST_F(CustodyctlTest, WhitelistAndWithdrawalCommands) {
  const v1::Client client = NewClient("wd-ctl");
  const std::string dest = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
  const CommandResult added = Ctl("platform", {"whitelist-add", "--client", client.client_id(), "--asset", "BTC",
                                               "--address", dest, "--label", "treasury"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_THAT(added.out, HasSubstr("PENDING_APPROVAL"));
  EXPECT_THAT(added.out, HasSubstr("0 of 1 from ops"));
  EXPECT_THAT(added.out, HasSubstr("treasury"));
  const CommandResult listed = Ctl("platform", {"whitelist", "--client", client.client_id()});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(dest));

  const v1::Withdrawal w = Json<v1::CreateWithdrawalResponse>(
                               "platform", {"create-withdrawal", "--client", client.client_id(), "--asset", "BTC",
                                            "--amount", "150000000", "--destination", dest})
                               .withdrawal();
  EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_DENIED);
  const CommandResult shown = Ctl("platform", {"withdrawal", "--id", w.withdrawal_id()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("DENIED"));
  EXPECT_THAT(shown.out, HasSubstr("1.5 BTC (150000000 base units)"));
  EXPECT_THAT(shown.out, HasSubstr("not_whitelisted"));
  const CommandResult all = Ctl("platform", {"withdrawals", "--client", client.client_id()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr(w.withdrawal_id()));

  const CommandResult bad = Ctl("platform", {"create-withdrawal", "--client", client.client_id(), "--asset", "BTC",
                                             "--amount", "1.5", "--destination", dest});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(CustodyctlTest, ConnectionFromEnvironment) {
  setenv("RINGFENCE_CUSTODY_ADDR", stack_.address().c_str(), 1);
  setenv("RINGFENCE_CUSTODY_CA", (stack_.certs_dir() / "ca.crt").c_str(), 1);
  setenv("RINGFENCE_CUSTODY_CERT", (stack_.certs_dir() / "auditor.crt").c_str(), 1);
  setenv("RINGFENCE_CUSTODY_KEY", (stack_.certs_dir() / "auditor.key").c_str(), 1);
  const CommandResult r = Run({RequiredEnv("CUSTODYCTL"), "assets"});
  // A flag still wins over its variable: the platform certificate may not list wallets.
  const CommandResult flag = Run({RequiredEnv("CUSTODYCTL"), "--cert", (stack_.certs_dir() / "platform.crt").string(),
                                  "--key", (stack_.certs_dir() / "platform.key").string(), "wallets"});
  for (const char* name : {"RINGFENCE_CUSTODY_ADDR", "RINGFENCE_CUSTODY_CA", "RINGFENCE_CUSTODY_CERT",
                           "RINGFENCE_CUSTODY_KEY"}) {
    unsetenv(name);
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("USDC-ETH"));
  EXPECT_EQ(flag.exit_code, 1);
  EXPECT_THAT(flag.err, HasSubstr("PERMISSION_DENIED"));
}

TEST_F(CustodyctlTest, CallErrorsExitOneWithTheirCode) {
  const CommandResult denied = Ctl("auditor", {"create-client", "--ref", "dave"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(denied.err, HasSubstr("CreateClient"));
  const CommandResult invalid = Ctl("platform", {"balances", "--client", "not-a-client-id"});
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_THAT(invalid.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(invalid.err, HasSubstr("client_id"));
  const CommandResult unknown = Ctl("platform", {"balances", "--client", "c_0123456789abcdef"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  const CommandResult nobody_home =
      Run({RequiredEnv("CUSTODYCTL"), "--addr", "127.0.0.1:1", "--ca", (stack_.certs_dir() / "ca.crt").string(),
           "--cert", (stack_.certs_dir() / "platform.crt").string(), "--key",
           (stack_.certs_dir() / "platform.key").string(), "--timeout", "5", "assets"});
  EXPECT_EQ(nobody_home.exit_code, 1);
  EXPECT_THAT(nobody_home.err, HasSubstr("UNAVAILABLE"));
  // Nothing was created by any of them.
  const v1::ListClientsResponse clients = Json<v1::ListClientsResponse>("admin", {"list-clients"});
  EXPECT_EQ(clients.clients_size(), 0);
  stack_.ExpectInvariantsAndAuditHold();
}

TEST_F(CustodyctlTest, BadInputExitsTwoBeforeAnyCall) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"create-client"}, "--ref"},
      {{"no-such-command"}, "subcommand is required"},
      {{"get-client"}, "--client or --ref"},
      {{"get-client", "--client", "c_0123456789abcdef", "--ref", "x"}, "excludes"},
      {{"ledger"}, "--client or --wallet"},
      {{"list-clients", "--page-size", "many"}, "--page-size"},
      {{"freeze", "--client", "c_0123456789abcdef"}, "--reason"},
      {{"audit", "--after-seq", "-1"}, "--after-seq"},
      {{}, "subcommand"},
  };
  for (const Case& c : cases) {
    const CommandResult r = Ctl("admin", c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says << "\n" << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
  const CommandResult no_cert = Run({RequiredEnv("CUSTODYCTL"), "--addr", stack_.address(), "--ca",
                                     (stack_.certs_dir() / "ca.crt").string(), "--cert",
                                     (stack_.dir() / "missing.crt").string(), "--key",
                                     (stack_.certs_dir() / "admin.key").string(), "assets"});
  EXPECT_EQ(no_cert.exit_code, 2);
  EXPECT_THAT(no_cert.err, HasSubstr("--cert: cannot read"));
  const CommandResult not_pem = Run({RequiredEnv("CUSTODYCTL"), "--addr", stack_.address(), "--ca",
                                     stack_.config_path().string(), "--cert",
                                     (stack_.certs_dir() / "admin.crt").string(), "--key",
                                     (stack_.certs_dir() / "admin.key").string(), "assets"});
  EXPECT_EQ(not_pem.exit_code, 2);
  EXPECT_THAT(not_pem.err, HasSubstr("--ca: "));
  EXPECT_THAT(not_pem.err, HasSubstr("is not a PEM file"));
  const CommandResult no_addr = Run({RequiredEnv("CUSTODYCTL"), "assets"});
  EXPECT_EQ(no_addr.exit_code, 2);
  EXPECT_THAT(no_addr.err, HasSubstr("--addr is required (or set RINGFENCE_CUSTODY_ADDR)"));
  // Bad input wrote nothing to the audit log (a denied call would have).
  const v1::ListAuditEntriesResponse audit = Json<v1::ListAuditEntriesResponse>("auditor", {"audit"});
  for (const v1::AuditEntry& e : audit.entries()) EXPECT_NE(e.action(), "denied") << e.subject();
}

TEST_F(CustodyctlTest, ChainsimctlCreditsMinesAndReorganises) {
  const std::string target = "unix:" + (stack_.dir() / "chainsim.sock").string();
  const v1::Client erin = NewClient("erin");
  const std::string btc = NewAddress(erin.client_id(), "BTC");
  const CommandResult credit = Run({RequiredEnv("CHAINSIMCTL"), "--chainsim", target, "credit", "--chain", "bitcoin",
                                    "--address", btc, "--amount", "2500", "--decimals", "8", "--unit", "BTC"});
  ASSERT_EQ(credit.exit_code, 0) << credit.err;
  EXPECT_THAT(credit.out, HasSubstr("credited 0.000025 BTC (2500 base units) to " + btc));
  const uint64_t tip = stack_.Tip("bitcoin");
  const CommandResult mined =
      Run({RequiredEnv("CHAINSIMCTL"), "--chainsim", target, "mine", "--chain", "bitcoin", "--blocks", "1"});
  ASSERT_EQ(mined.exit_code, 0) << mined.err;
  EXPECT_EQ(stack_.Tip("bitcoin"), tip + 1);
  stack_.WaitIngested("bitcoin");
  EXPECT_EQ(Json<v1::GetBalancesResponse>("platform", {"balances", "--client", erin.client_id(), "--asset", "BTC"})
                .balances(0)
                .pending(),
            "2500");
  const CommandResult reorg = Run({RequiredEnv("CHAINSIMCTL"), "--chainsim", target, "reorg", "--chain", "bitcoin",
                                   "--depth", "1"});
  ASSERT_EQ(reorg.exit_code, 0) << reorg.err;
  EXPECT_THAT(reorg.out, HasSubstr("1 transaction gone for good"));
  stack_.WaitIngested("bitcoin");
  EXPECT_EQ(Json<v1::GetBalancesResponse>("platform", {"balances", "--client", erin.client_id(), "--asset", "BTC"})
                .balances(0)
                .pending(),
            "0");
  const CommandResult bad = Run({RequiredEnv("CHAINSIMCTL"), "--chainsim", target, "credit", "--chain", "bitcoin",
                                 "--address", btc, "--amount", "01"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--amount"));
  const CommandResult refused = Run({RequiredEnv("CHAINSIMCTL"), "--chainsim", target, "mine", "--chain", "dogecoin"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("INVALID_ARGUMENT"));
  stack_.ExpectInvariantsAndAuditHold();
}

}  // namespace
}  // namespace ringfence::custody::testing
