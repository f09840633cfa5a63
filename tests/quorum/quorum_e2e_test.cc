// quorum against the real stack of tests/custody/e2e_harness.h (chainsim, signerd on hsm_sim,
// custodyd over mTLS with the development certificates), custodyd restarted with a withdrawal
// policy of its own and the harness's approvers alice, bob and carol holding keys that
// `quorum keygen` sealed. Every quorum command runs
// as its own process with the approver role's client certificate; the platform's side (client,
// deposit, whitelist request, withdrawal request) is called over gRPC directly.
//
// What is checked: `show` prints the amounts in display units and the digest quorum computed,
// which equals the one custodyd computed independently; `approve` submits approvals custodyd
// counts (a 2-of-3 whitelist addition and withdrawal, one approval not enough); `pending`
// lists what waits; `reject` ends a withdrawal; bad input (malformed and unknown ids, a
// passphrase on the command line, a wrong passphrase) changes nothing and exits as
// documented. The lying-server check is tested in review_test.cc: the real custodyd never lies.
#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kDestination[] = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
constexpr char kPassphrase[] = "a long enough passphrase";

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class QuorumE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(stack_.dir() / "pass") << kPassphrase << "\n";
    std::ofstream(stack_.dir() / "wrong") << "another long passphrase\n";
    // The harness's approvers alice, bob and carol get keys that quorum keygen sealed: their
    // public keys replace the harness's in custodyd's [[approvers]].
    std::string config = ReadAll(stack_.config_path());
    for (const TestApprover& approver : kTestApprovers) {
      const std::string who = approver.id;
      if (who != "alice" && who != "bob" && who != "carol") continue;
      const CommandResult made = Run({RequiredEnv("QUORUM"), "keygen", "--out", Key(who), "--passphrase-file",
                                      (stack_.dir() / "pass").string(), "--kdf-opslimit", "1", "--kdf-memlimit-mib", "8"});
      ASSERT_EQ(made.exit_code, 0) << made.err;
      const size_t at = config.find(approver.public_key_hex);
      ASSERT_NE(at, std::string::npos) << who << " is not in the harness's config:\n" << config;
      config.replace(at, 64, made.out.substr(0, 64));
    }
    // Two of the three ops approvers for any BTC withdrawal and for a whitelist addition; no
    // cooling-off, so that an approved address is usable at once. The other assets keep
    // kTestPolicy's rules (custodyd needs the allocation rules of every asset it serves).
    const std::filesystem::path policy = stack_.dir() / "policy.toml";
    ASSERT_NE(config.find(policy.string()), std::string::npos) << config;
    ASSERT_EQ(stack_.StopCustodyd(), 0) << stack_.CustodydStderr();
    std::ofstream(policy, std::ios::trunc)
        << "version = 1\n\n[groups.ops]\nmembers = [\"alice\", \"bob\", \"carol\"]\n\n"
        << "[assets.BTC]\ndecimals = 8\n\n[assets.BTC.withdrawal]\nper_request_limit = \"10\"\n"
        << "approval_tiers = [{ min_amount = \"0.00000001\", group = \"ops\", k = 2 }]\n\n"
        << "[assets.BTC.whitelist]\ncooling_off_seconds = 0\napprovals = { group = \"ops\", k = 2 }\n\n"
        << "[assets.BTC.allocation]\ntop_up_approvals = { group = \"ops\", k = 2 }\n\n"
        << std::string_view(kTestPolicy).substr(std::string_view(kTestPolicy).find("[assets.ETH]"));
    std::ofstream(stack_.config_path(), std::ios::trunc) << config;
    stack_.StartCustodyd();
    platform_ = stack_.As("platform");
  }

  std::string Key(const std::string& who) const { return (stack_.dir() / (who + ".key")).string(); }

  CommandResult Run(const std::vector<std::string>& args) {
    Process p(args, stack_.dir() / ("quorum-" + std::to_string(++runs_)), false);
    CommandResult r;
    r.exit_code = p.Wait();
    r.out = p.Stdout();
    r.err = p.Stderr();
    return r;
  }

  // quorum with the approver role's certificate, then `args`. `detached`: in a session of its
  // own (setsid), so that it has no controlling terminal even when the tests run from one.
  CommandResult Quorum(const std::vector<std::string>& args, bool detached = false) {
    const std::filesystem::path certs = stack_.certs_dir();
    std::vector<std::string> full;
    if (detached) full = {"/usr/bin/setsid", "--wait"};
    full.insert(full.end(), {RequiredEnv("QUORUM"), "--endpoint", stack_.address(),
                                     "--ca", (certs / "ca.crt").string(),
                                     "--cert", (certs / "approver.crt").string(),
                                     "--key", (certs / "approver.key").string()});
    full.insert(full.end(), args.begin(), args.end());
    return Run(full);
  }

  // `quorum approve ID --yes` as `who`, the passphrase from a descriptor open on `pass_file`.
  CommandResult Approve(const std::string& id, const std::string& who, const std::string& pass_file = "pass") {
    const int fd = open((stack_.dir() / pass_file).c_str(), O_RDONLY);  // inherited by quorum
    EXPECT_GE(fd, 0);
    CommandResult r = Quorum({"approve", id, "--key-file", Key(who), "--approver-id", who, "--yes",
                              "--passphrase-fd", std::to_string(fd)});
    close(fd);
    return r;
  }

  // A client with 1.5 BTC available.
  std::string FundedClient(const std::string& ref) {
    grpc::ClientContext c1;
    v1::CreateClientRequest create;
    create.set_idempotency_key("create-" + ref);
    create.set_client_ref(ref);
    v1::CreateClientResponse client;
    grpc::Status s = platform_->CreateClient(&c1, create, &client);
    EXPECT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext c2;
    v1::CreateDepositAddressRequest address_req;
    address_req.set_idempotency_key("address-" + ref);
    address_req.set_client_id(client.client().client_id());
    address_req.set_asset_id("BTC");
    v1::CreateDepositAddressResponse address;
    s = platform_->CreateDepositAddress(&c2, address_req, &address);
    EXPECT_TRUE(s.ok()) << s.error_message();
    stack_.Credit("bitcoin", address.deposit_address().address(), "150000000");
    stack_.Mine("bitcoin", 3);
    stack_.WaitIngested("bitcoin");
    return client.client().client_id();
  }

  v1::WhitelistEntry AddWhitelist(const std::string& client_id) {
    grpc::ClientContext c;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("whitelist-" + client_id);
    req.set_client_id(client_id);
    req.set_asset_id("BTC");
    req.set_address(kDestination);
    req.set_label("the client's own wallet");
    v1::AddWhitelistAddressResponse resp;
    const grpc::Status s = platform_->AddWhitelistAddress(&c, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.entry();
  }

  v1::Withdrawal CreateWithdrawal(const std::string& client_id, const std::string& key, const std::string& amount) {
    grpc::ClientContext c;
    v1::CreateWithdrawalRequest req;
    req.set_idempotency_key(key);
    req.set_client_id(client_id);
    req.set_asset_id("BTC");
    req.set_amount(amount);
    req.set_destination(kDestination);
    v1::CreateWithdrawalResponse resp;
    const grpc::Status s = platform_->CreateWithdrawal(&c, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.withdrawal();
  }

  v1::Withdrawal Get(const std::string& id) {
    grpc::ClientContext c;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(id);
    v1::GetWithdrawalResponse resp;
    const grpc::Status s = platform_->GetWithdrawal(&c, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.withdrawal();
  }

  // A client whose whitelist entry for kDestination was approved by alice and bob through quorum.
  std::string ClientWithWhitelistedDestination(const std::string& ref) {
    const std::string client_id = FundedClient(ref);
    const v1::WhitelistEntry entry = AddWhitelist(client_id);
    EXPECT_EQ(entry.state(), v1::WHITELIST_STATE_PENDING_APPROVAL);
    for (const char* who : {"alice", "bob"}) {
      const CommandResult approved = Approve(entry.entry_id(), who);
      EXPECT_EQ(approved.exit_code, 0) << approved.out << approved.err;
    }
    return client_id;
  }

  CustodyStack stack_;
  std::unique_ptr<v1::Custody::Stub> platform_;
  int runs_ = 0;
};

TEST_F(QuorumE2eTest, WhitelistAdditionShownWithItsDigestAndApprovedTwoOfThree) {
  const std::string client_id = FundedClient("wl-client");
  const v1::WhitelistEntry entry = AddWhitelist(client_id);
  ASSERT_EQ(entry.state(), v1::WHITELIST_STATE_PENDING_APPROVAL);
  ASSERT_EQ(entry.approvals_required(), 2u);

  const CommandResult pending = Quorum({"pending"});
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_THAT(pending.out, HasSubstr(entry.entry_id() + "  whitelist-add  " + client_id + "  BTC  " + kDestination));

  const CommandResult shown = Quorum({"show", entry.entry_id()});
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("whitelist addition " + entry.entry_id()));
  EXPECT_THAT(shown.out, HasSubstr("BTC on bitcoin/regtest"));
  EXPECT_THAT(shown.out, HasSubstr(kDestination));
  EXPECT_THAT(shown.out, HasSubstr("the client's own wallet"));
  EXPECT_THAT(shown.out, HasSubstr("0 of 2 required"));
  // quorum's digest is the one custodyd computed on its own.
  ASSERT_EQ(entry.digest_hex().size(), 64u);
  EXPECT_THAT(shown.out, HasSubstr("\n  " + entry.digest_hex() + "\n"));
  EXPECT_THAT(shown.err, Not(HasSubstr("WARNING")));

  const CommandResult first = Approve(entry.entry_id(), "alice");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("1 of 2 approvals, state WHITELIST_STATE_PENDING_APPROVAL"));
  // Alice has approved: it is no longer pending for her, still is for bob.
  EXPECT_THAT(Quorum({"pending", "--approver-id", "alice"}).out, Not(HasSubstr(entry.entry_id())));
  EXPECT_THAT(Quorum({"pending", "--approver-id", "bob"}).out, HasSubstr(entry.entry_id()));

  const CommandResult second = Approve(entry.entry_id(), "bob");
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_THAT(second.out, HasSubstr("2 of 2 approvals, state WHITELIST_STATE_ACTIVE"));
  grpc::ClientContext c;
  v1::ListWhitelistRequest req;
  req.set_client_id(client_id);
  v1::ListWhitelistResponse listed;
  ASSERT_TRUE(platform_->ListWhitelist(&c, req, &listed).ok());
  ASSERT_EQ(listed.entries_size(), 1);
  EXPECT_EQ(listed.entries(0).state(), v1::WHITELIST_STATE_ACTIVE);
  EXPECT_THAT(listed.entries(0).approvals(), ElementsAre("alice", "bob"));
  // No longer pending: show finds nothing to approve.
  const CommandResult gone = Quorum({"show", entry.entry_id()});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("is not among the whitelist additions pending approval"));
}

TEST_F(QuorumE2eTest, WithdrawalShownInDisplayUnitsAndCountedWhenTwoApprove) {
  const std::string client_id = ClientWithWhitelistedDestination("w-client");
  const v1::Withdrawal created = CreateWithdrawal(client_id, "w-1", "120000000");
  ASSERT_EQ(created.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL) << created.DebugString();
  ASSERT_EQ(created.approvals_required(), 2u);
  const std::string id = created.withdrawal_id();

  const CommandResult pending = Quorum({"pending"});
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_THAT(pending.out, HasSubstr(id + "  withdrawal  " + client_id + "  1.2 BTC (120000000 base units)  to " +
                                     kDestination + "  approvals 0/2"));

  const CommandResult shown = Quorum({"show", id});
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("withdrawal " + id + "\n"));
  EXPECT_THAT(shown.out, HasSubstr("1.2 BTC (120000000 base units)"));
  EXPECT_THAT(shown.out, HasSubstr("0.0001 BTC (10000 base units)"));  // the fee cap, kBtcFeeCap
  EXPECT_THAT(shown.out, HasSubstr("BTC on bitcoin/regtest"));
  EXPECT_THAT(shown.out, HasSubstr(client_id));
  EXPECT_THAT(shown.out, HasSubstr(created.source_wallet()));
  EXPECT_THAT(shown.out, HasSubstr("entry " + created.whitelist_entry_id() + ", approved "));
  EXPECT_THAT(shown.out, HasSubstr("0 of 2 required (group ops)"));
  EXPECT_THAT(shown.out, HasSubstr("pending approval"));
  for (const std::string& rule : created.matched_rules()) EXPECT_THAT(shown.out, HasSubstr(rule));
  ASSERT_EQ(created.digest_hex().size(), 64u);
  EXPECT_THAT(shown.out, HasSubstr("\n  " + created.digest_hex() + "\n"));
  EXPECT_THAT(shown.err, Not(HasSubstr("WARNING")));

  const CommandResult first = Approve(id, "alice");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("approved " + id + " as alice: 1 of 2 approvals"));
  v1::Withdrawal after = Get(id);
  EXPECT_THAT(after.approvals(), ElementsAre("alice"));
  EXPECT_EQ(after.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL) << "one approval of two is not enough";

  const CommandResult second = Approve(id, "carol");
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_THAT(second.out, HasSubstr("2 of 2 approvals"));
  after = Get(id);
  EXPECT_THAT(after.approvals(), ElementsAre("alice", "carol"));
  EXPECT_NE(after.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  EXPECT_NE(after.state(), v1::WITHDRAWAL_STATE_REJECTED);
}

TEST_F(QuorumE2eTest, RejectEndsAWithdrawal) {
  const std::string client_id = ClientWithWhitelistedDestination("r-client");
  const v1::Withdrawal created = CreateWithdrawal(client_id, "r-1", "50000000");
  ASSERT_EQ(created.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);

  const CommandResult no_reason = Quorum({"reject", created.withdrawal_id(), "--approver-id", "bob", "--reason", ""});
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_EQ(Get(created.withdrawal_id()).state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);

  const CommandResult rejected =
      Quorum({"reject", created.withdrawal_id(), "--approver-id", "bob", "--reason", "destination not confirmed by phone"});
  ASSERT_EQ(rejected.exit_code, 0) << rejected.out << rejected.err;
  EXPECT_THAT(rejected.out, HasSubstr("state WITHDRAWAL_STATE_REJECTED"));
  const v1::Withdrawal after = Get(created.withdrawal_id());
  EXPECT_EQ(after.state(), v1::WITHDRAWAL_STATE_REJECTED);
  EXPECT_THAT(after.reason(), HasSubstr("destination not confirmed by phone"));
  // Nothing left to approve.
  const CommandResult late = Approve(created.withdrawal_id(), "alice");
  EXPECT_EQ(late.exit_code, 1) << late.out << late.err;
  EXPECT_THAT(Get(created.withdrawal_id()).approvals(), IsEmpty());
}

// The approver at a terminal (a pseudo-terminal driven by tty_approve.py): quorum asks for
// confirmation, then reads the passphrase with echo off and puts echo back; "no" signs nothing.
TEST_F(QuorumE2eTest, ApproveConfirmedAndPassphraseTypedOnTheTerminal) {
  const std::string client_id = ClientWithWhitelistedDestination("t-client");
  const std::string id = CreateWithdrawal(client_id, "t-1", "20000000").withdrawal_id();
  auto on_terminal = [&](const std::string& answer, const std::string& who) {
    std::vector<std::string> args = {"/usr/bin/python3", RequiredEnv("TTY_APPROVE"), answer, kPassphrase, "--"};
    const std::filesystem::path certs = stack_.certs_dir();
    for (const std::string& a :
         {RequiredEnv("QUORUM"), std::string("--endpoint"), stack_.address(), std::string("--ca"), (certs / "ca.crt").string(),
          std::string("--cert"), (certs / "approver.crt").string(), std::string("--key"), (certs / "approver.key").string(),
          std::string("approve"), id, std::string("--key-file"), Key(who), std::string("--approver-id"), who}) {
      args.push_back(a);
    }
    return Run(args);
  };
  const CommandResult declined = on_terminal("no", "alice");
  EXPECT_EQ(declined.exit_code, 2) << declined.out << declined.err;
  EXPECT_THAT(declined.err, HasSubstr("not confirmed"));
  EXPECT_THAT(Get(id).approvals(), IsEmpty());

  const CommandResult approved = on_terminal("yes", "bob");
  ASSERT_EQ(approved.exit_code, 0) << approved.out << approved.err;
  EXPECT_THAT(approved.out, HasSubstr("0.2 BTC (20000000 base units)"));
  EXPECT_THAT(approved.err, HasSubstr("Approve " + id + " as bob by signing the digest above?"));
  EXPECT_THAT(Get(id).approvals(), ElementsAre("bob"));
}

TEST_F(QuorumE2eTest, BadInputChangesNothing) {
  const std::string client_id = ClientWithWhitelistedDestination("b-client");
  const v1::Withdrawal created = CreateWithdrawal(client_id, "b-1", "10000000");
  const std::string id = created.withdrawal_id();

  // Malformed ids: refused before any call.
  for (const std::string bad : {"w_123", "W_0123456789ABCDEF", "0123456789abcdef", "w_0123456789abcdeg", ""}) {
    const CommandResult r = Quorum({"show", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("ID")) << bad;
  }
  // Unknown ids: custodyd's NOT_FOUND, exit 1.
  const CommandResult unknown = Quorum({"show", "w_00000000000000ff"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("GetWithdrawal failed: NOT_FOUND"));
  const CommandResult unknown_approve = Approve("w_00000000000000ff", "alice");
  EXPECT_EQ(unknown_approve.exit_code, 1);
  EXPECT_THAT(unknown_approve.err, HasSubstr("NOT_FOUND"));

  // A passphrase can not be given on the command line: there is no such flag.
  for (const char* flag : {"--passphrase", "--pass", "-p"}) {
    const CommandResult r = Quorum({"approve", id, "--key-file", Key("alice"), "--approver-id", "alice", "--yes", flag,
                                    kPassphrase});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.out << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr("approved")));
  }
  // A wrong passphrase: shown, then refused before anything is sent.
  const CommandResult wrong = Approve(id, "alice", "wrong");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("wrong passphrase"));
  // Without a terminal and without --yes nothing is signed.
  const CommandResult unconfirmed = Quorum({"approve", id, "--key-file", Key("alice"), "--approver-id", "alice",
                                            "--passphrase-file", (stack_.dir() / "pass").string()},
                                           /*detached=*/true);
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.out << unconfirmed.err;
  EXPECT_THAT(unconfirmed.err, HasSubstr("no terminal to confirm on"));
  // Nor without a passphrase source.
  const CommandResult no_passphrase =
      Quorum({"approve", id, "--key-file", Key("alice"), "--approver-id", "alice", "--yes"}, /*detached=*/true);
  EXPECT_EQ(no_passphrase.exit_code, 2) << no_passphrase.out << no_passphrase.err;
  EXPECT_THAT(no_passphrase.err, HasSubstr("no terminal to read the passphrase from"));
  // A key file that is not one.
  const CommandResult not_a_key = Quorum({"approve", id, "--key-file", (stack_.dir() / "pass").string(), "--approver-id",
                                          "alice", "--yes", "--passphrase-file", (stack_.dir() / "pass").string()});
  EXPECT_EQ(not_a_key.exit_code, 2);
  EXPECT_THAT(not_a_key.err, HasSubstr("--key-file"));
  // Another approver's key under alice's id: custodyd refuses the signature.
  const int fd = open((stack_.dir() / "pass").c_str(), O_RDONLY);
  const CommandResult borrowed = Quorum({"approve", id, "--key-file", Key("bob"), "--approver-id", "alice", "--yes",
                                         "--passphrase-fd", std::to_string(fd)});
  close(fd);
  EXPECT_EQ(borrowed.exit_code, 1) << borrowed.out << borrowed.err;
  EXPECT_THAT(borrowed.err, HasSubstr("SubmitApproval failed"));

  const v1::Withdrawal after = Get(id);
  EXPECT_THAT(after.approvals(), IsEmpty());
  EXPECT_EQ(after.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
}

}  // namespace
}  // namespace ringfence::custody::testing
