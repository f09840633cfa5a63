// End-to-end harness for custodyd: the real processes in a private temporary directory.
//   - development certificates from scripts/dev-certs.sh (CA, server, one client per role);
//   - signerd on a fresh hsm_sim (or SoftHSM2) token (tests/signer's TokenSandbox), on a Unix
//     socket, waited for on its health service;
//   - chainsim on a Unix socket with its own state file, waited for the same way;
//   - custodyd on SQLite in the same directory, TLS with client certificates required, listening
//     on 127.0.0.1 port 0: the harness reads the "listening <address>" line it prints and then
//     waits for SERVING on its health service over mTLS.
// Assets: BTC (regtest, 3 confirmations), ETH (dev, 2) and USDC-ETH (an ERC-20 token chainsim
// registers, 2). Roles: platform, approver and admin by SAN, auditor by subject.
// signerd serves TransactionSigner too ([transactions]: signer-tx.toml and approvers.toml in the
// stack's directory): the approvers of kTestPolicy's ops group with quorum tiers matching the
// policy's approval tiers, and each asset's house-hot wallet registered with one address
// (kHouseAddresses), so that a withdrawal paying it is refused by signerd itself.
// The withdrawal executor runs only in stacks made with StackOptions::executor.
//
// ctest supplies the binaries (SIGNERD, CHAINSIM, CUSTODYD), the PKCS#11 module
// (RINGFENCE_SIGNER_MODULE, RINGFENCE_SIGNER_MODULE_KIND) and RINGFENCE_SOURCE_DIR. Nothing
// here sleeps a fixed time to wait: processes are waited for on their health services, and
// chain ingestion on custodyd's own report of the height it has reached.
//
// Test-only; one stack per test; not thread-safe (its stubs are).
#ifndef RINGFENCE_TESTS_CUSTODY_E2E_HARNESS_H_
#define RINGFENCE_TESTS_CUSTODY_E2E_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proto/chainsim.grpc.pb.h"
#include "proto/custody.grpc.pb.h"
#include "tests/signer/token_sandbox.h"

namespace ringfence::custody::testing {

namespace v1 = ringfence::custody::v1;
namespace sim = ringfence::chainsim::v1;

inline constexpr char kUsdcContract[] = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

// Withdrawals: every stack has a [withdrawals] policy (kTestPolicy, written beside the
// config) and the approvers below. Each approver's Ed25519 key comes from the seed of 32 bytes
// all equal to `seed_byte` (tests/custody/approver_keys.h signs with it); public_key_hex is
// that seed's public key. dave is outside every group and bound to a certificate subject no
// test certificate has.
inline constexpr char kBtcFeeCap[] = "10000";             // sat
inline constexpr char kEthFeeCap[] = "2100000000000000";  // wei (also for USDC-ETH)
struct TestApprover {
  const char* id;
  uint8_t seed_byte;
  const char* public_key_hex;
  const char* subject;  // "" when unbound
  bool ops;             // a member of kTestPolicy's group ops (and so of signerd's registry)
};
inline constexpr TestApprover kTestApprovers[] = {
    {"alice", 1, "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c", "", true},
    {"bob", 2, "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394", "", true},
    {"carol", 3, "ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1", "", true},
    {"dave", 4, "ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c", "CN=nobody", false},
};
// BTC: up to 5 per request, 10 per client and 20 for the asset per day, 2 of ops from 1 BTC,
// whitelist additions 1 of ops and usable at once. ETH: whitelist cooling-off of a day.
// USDC-ETH: no approvals below 1,000,000, whitelist usable at once.
inline constexpr char kTestPolicy[] = R"(version = 1

[groups.ops]
members = ["alice", "bob", "carol"]
approval_ttl_seconds = 3600

[assets.BTC]
decimals = 8
[assets.BTC.withdrawal]
per_request_limit = "5"
client_windows = [{ seconds = 86400, limit = "10" }]
asset_windows = [{ seconds = 86400, limit = "20" }]
approval_tiers = [{ min_amount = "1", group = "ops", k = 2 }]
[assets.BTC.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.BTC.allocation]
top_up_approvals = { group = "ops", k = 2 }

[assets.ETH]
decimals = 18
[assets.ETH.withdrawal]
per_request_limit = "100"
approval_tiers = [{ min_amount = "10", group = "ops", k = 2 }]
[assets.ETH.whitelist]
cooling_off_seconds = 86400
approvals = { group = "ops", k = 1 }
[assets.ETH.allocation]
top_up_approvals = { group = "ops", k = 2 }

[assets.USDC-ETH]
decimals = 6
[assets.USDC-ETH.withdrawal]
per_request_limit = "10000000"
approval_tiers = [{ min_amount = "1000000", group = "ops", k = 2 }]
[assets.USDC-ETH.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.USDC-ETH.allocation]
top_up_approvals = { group = "ops", k = 2 }
)";

// kTestPolicy with lines added to the policy's allocation rules: `allocation` by asset id, into
// that asset's [assets.<id>.allocation] table (e.g. {"BTC", "hot_cap = \"0.05\"\nmin_sweep = 1000\n"}),
// and `top` before the first table (e.g. "[allocation]\naggregate_hot_cap = \"0.03\"\n").
// custodyd's sweeps and top-ups follow these rules (docs/policy.md, "Allocation").
inline std::string TestPolicyWith(const std::map<std::string, std::string>& allocation, const std::string& top = "") {
  std::string text = kTestPolicy;
  for (const auto& [asset, lines] : allocation) {
    const std::string table = "[assets." + asset + ".allocation]\n";
    const size_t at = text.find(table);
    if (at != std::string::npos) text.insert(at + table.size(), lines);
  }
  const std::string version = "version = 1\n";
  text.insert(version.size(), top);
  return text;
}

// signerd's quorum for each asset, the same amounts as kTestPolicy's approval tiers in base
// units: below the threshold no approval, from it 2 (of alice, bob and carol).
struct SignerQuorum {
  const char* asset;
  const char* two_from;  // base units
};
inline constexpr SignerQuorum kSignerQuorums[] = {
    {"BTC", "100000000"},                  // 1 BTC
    {"ETH", "10000000000000000000"},       // 10 ETH
    {"USDC-ETH", "1000000000000"},         // 1,000,000 USDC
};

// The one address of each asset's house-hot wallet in signerd's [[wallet]] entries: paying it
// from a client wallet is refused by signerd (client_funds_to_house).
struct HouseAddress {
  const char* asset;
  const char* address;
};
inline constexpr HouseAddress kHouseAddresses[] = {
    {"BTC", "bcrt1qtfd95kj6tfd95kj6tfd95kj6tfd95kj6qz56sc"},
    {"ETH", "0x5555555555555555555555555555555555555555"},
    {"USDC-ETH", "0x6666666666666666666666666666666666666666"},
};

// Calls that many tests make, each with the idempotency key given. The first two fail the
// test on error; the others return custodyd's answer (and copy what it sent into `out`).
std::string CreateClientAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_ref);
std::string CreateDepositAddressAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_id,
                                   const std::string& asset);
grpc::Status SubmitApprovalAs(v1::Custody::Stub& approver, const std::string& key, const std::string& target_id,
                              const std::string& approver_id, const std::string& signature,
                              v1::SubmitApprovalResponse* out);
grpc::Status CreateWithdrawalAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_id,
                                const std::string& asset, const std::string& amount, const std::string& destination,
                                v1::Withdrawal* out, const std::string& requested_by = "");
// The withdrawal as `caller` sees it; fails the test on error.
v1::Withdrawal GetWithdrawalAs(v1::Custody::Stub& caller, const std::string& withdrawal_id);

// The withdrawals and internal moves of `kind` of `asset` as `caller` (the auditor) lists them,
// newest first (one page of 100); fails the test on error.
std::vector<v1::Withdrawal> MovesOfKind(v1::Custody::Stub& caller, const std::string& asset, v1::RequestKind kind);

// Polls until `done` holds (true) or a minute passes (false): for what custodyd does on its
// own threads (the executor's passes), which no health check reports.
bool Eventually(const std::function<bool()>& done);

// A child process with stderr in a file and stdout in a file or a pipe; killed on destruction
// if still running. `env` ("NAME=value") is added to the test's environment.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::filesystem::path& log_prefix, bool pipe_stdout,
          const std::vector<std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  // The first line the process writes to its stdout pipe, or nullopt if it exits or `timeout`
  // passes first.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  bool Exited();
  int Wait();  // exit code, or 128 + signal
  void Signal(int sig);
  std::string Stderr() const;
  std::string Stdout() const;  // when not piped

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
  std::filesystem::path log_prefix_;
  bool exited_ = false;
  int code_ = -1;
};

// What a command printed and how it exited.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

struct StackOptions {
  // [withdrawals] executor: custodyd signs, broadcasts and settles approved withdrawals. Off by
  // default here, so that a test can approve and then cancel.
  bool executor = false;
  // The policy file's text.
  std::string policy = kTestPolicy;
  // [cold_signer] identity_key (64 hex digits); empty: no [cold_signer] section.
  std::string cold_identity_hex;
  // Lines added to an asset's [[assets]] table, by asset id (e.g. "price = \"6500000\"\n"). The
  // allocation rules are the policy's: see TestPolicyWith.
  std::map<std::string, std::string> asset_lines;
  // Text appended to custodyd's config (whole sections, e.g. "[allocation]\n...").
  std::string extra_config;
  // Cold addresses registered in signerd's own configuration, by asset: each asset's
  // client-cold [[wallet]] and [[cold_address]] entries, with internal_sweep_approvals = 0 for
  // it, so that custodyd's sweeps to them are signed without approvals.
  std::map<std::string, std::vector<std::string>> cold_addresses;
};

class CustodyStack {
 public:
  explicit CustodyStack(StackOptions options = {});
  ~CustodyStack();

  // Starts custodyd (again) and waits until it serves (over mTLS, or over plaintext when
  // `plaintext`, for --insecure-loopback). `extra_args` follow --config; `env` ("NAME=value")
  // is added to its environment.
  void StartCustodyd(const std::vector<std::string>& extra_args = {}, bool plaintext = false,
                     const std::vector<std::string>& env = {});
  // Waits until custodyd exits by itself (at a test kill point, RINGFENCE_CUSTODYD_TEST_KILL_AT)
  // and returns its exit code (128 + signal); -1 and a test failure if it is still running at
  // the deadline. Callers drop their stubs and start it again with StartCustodyd.
  int WaitCustodydExit();
  // SIGKILL, then waits for it.
  void KillCustodyd();
  // SIGTERM, then its exit code. Callers drop their own stubs first: a sync gRPC client that is
  // not in a call does not read the server's GOAWAY, so its idle connection would hold
  // custodyd's graceful shutdown until the shutdown deadline.
  int StopCustodyd();
  bool custodyd_running() const { return custodyd_ != nullptr; }
  std::string CustodydStderr() const;

  // `custodyd <args...>` run to completion (args after the binary; --config is not added).
  CommandResult RunCustodyd(const std::vector<std::string>& args) const;
  // `custodyd check` and `custodyd audit verify` on this stack's config: both must pass.
  void ExpectInvariantsAndAuditHold() const;

  // A stub that presents `cert` ("platform", "approver", "auditor", "admin", or any other
  // certificate name in certs_dir()).
  std::unique_ptr<v1::Custody::Stub> As(const std::string& cert) const;
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& cert) const;

  // signerd: SIGTERM and wait (its exit code), and start again on the same token and database,
  // with `env` ("NAME=value", e.g. hsm_sim's fault injection) added to its environment.
  int StopSignerd();
  void StartSignerd(const std::vector<std::string>& env = {});
  std::string SignerdStderr() const;
  std::filesystem::path signer_db_path() const { return dir() / "signer.db"; }

  sim::Control::Stub& control() { return *control_; }
  // chainsim's count of Broadcast calls for `txid` on `chain` (empty txid: the chain's totals).
  sim::GetBroadcastCountResponse BroadcastCount(const std::string& chain, const std::string& txid = "");
  sim::Node::Stub& node() { return *node_; }
  // chainsim actions; each fails the test on error.
  std::string Credit(const std::string& chain, const std::string& address, const std::string& amount,
                     const std::string& token_contract = "");
  uint64_t Mine(const std::string& chain, uint32_t blocks);
  uint64_t Reorg(const std::string& chain, uint32_t depth, bool keep_transactions);
  uint64_t Tip(const std::string& chain);
  // Waits until custodyd has ingested `chain` up to chainsim's current tip.
  void WaitIngested(const std::string& chain);

  // Makes a client certificate signed by the stack's CA that no [[roles]] rule matches.
  void MakeUnmappedCertificate(const std::string& name, const std::string& subject);

  const std::filesystem::path& dir() const { return sandbox_->dir(); }
  std::filesystem::path certs_dir() const { return dir() / "certs"; }
  std::filesystem::path config_path() const { return dir() / "custodyd.toml"; }
  const std::string& address() const { return address_; }

 private:
  void WriteSignerdConfig();
  void StartChainsim();
  void WriteCustodydConfig();
  std::string AssetLines(const std::string& asset) const;

  StackOptions options_;
  std::string last_signerd_stderr_;
  int signerd_starts_ = 0;

  std::unique_ptr<ringfence::signer::testing::TokenSandbox> sandbox_;
  std::unique_ptr<Process> signerd_;
  std::unique_ptr<Process> chainsim_;
  std::unique_ptr<Process> custodyd_;
  std::unique_ptr<sim::Control::Stub> control_;
  std::unique_ptr<sim::Node::Stub> node_;
  std::string address_;
  int custodyd_starts_ = 0;
  std::string last_custodyd_stderr_;
};

// Env helpers for the binaries ctest names; abort with a message when missing.
std::string RequiredEnv(const char* name);

}  // namespace ringfence::custody::testing

#endif  // RINGFENCE_TESTS_CUSTODY_E2E_HARNESS_H_
