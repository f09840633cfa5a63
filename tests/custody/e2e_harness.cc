#include "tests/custody/e2e_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "rpc/health_client.h"

extern char** environ;

namespace ringfence::custody::testing {

std::string CreateClientAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_ref) {
  grpc::ClientContext ctx;
  v1::CreateClientRequest req;
  req.set_idempotency_key(key);
  req.set_client_ref(client_ref);
  v1::CreateClientResponse resp;
  grpc::Status s = platform.CreateClient(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.client().client_id();
}

std::string CreateDepositAddressAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_id,
                                   const std::string& asset) {
  grpc::ClientContext ctx;
  v1::CreateDepositAddressRequest req;
  req.set_idempotency_key(key);
  req.set_client_id(client_id);
  req.set_asset_id(asset);
  v1::CreateDepositAddressResponse resp;
  grpc::Status s = platform.CreateDepositAddress(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.deposit_address().address();
}

grpc::Status SubmitApprovalAs(v1::Custody::Stub& approver, const std::string& key, const std::string& target_id,
                              const std::string& approver_id, const std::string& signature,
                              v1::SubmitApprovalResponse* out) {
  grpc::ClientContext ctx;
  v1::SubmitApprovalRequest req;
  req.set_idempotency_key(key);
  req.set_target_id(target_id);
  req.set_approver_id(approver_id);
  req.set_signature(signature);
  v1::SubmitApprovalResponse resp;
  grpc::Status s = approver.SubmitApproval(&ctx, req, &resp);
  if (out != nullptr) *out = resp;
  return s;
}

grpc::Status CreateWithdrawalAs(v1::Custody::Stub& platform, const std::string& key, const std::string& client_id,
                                const std::string& asset, const std::string& amount, const std::string& destination,
                                v1::Withdrawal* out, const std::string& requested_by) {
  grpc::ClientContext ctx;
  v1::CreateWithdrawalRequest req;
  req.set_idempotency_key(key);
  req.set_client_id(client_id);
  req.set_asset_id(asset);
  req.set_amount(amount);
  req.set_destination(destination);
  req.set_requested_by(requested_by);
  v1::CreateWithdrawalResponse resp;
  grpc::Status s = platform.CreateWithdrawal(&ctx, req, &resp);
  if (out != nullptr) *out = resp.withdrawal();
  return s;
}

v1::Withdrawal GetWithdrawalAs(v1::Custody::Stub& caller, const std::string& withdrawal_id) {
  grpc::ClientContext ctx;
  v1::GetWithdrawalRequest req;
  req.set_withdrawal_id(withdrawal_id);
  v1::GetWithdrawalResponse resp;
  grpc::Status s = caller.GetWithdrawal(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.withdrawal();
}

std::vector<v1::Withdrawal> MovesOfKind(v1::Custody::Stub& caller, const std::string& asset, v1::RequestKind kind) {
  grpc::ClientContext ctx;
  v1::ListWithdrawalsRequest req;
  req.set_asset_id(asset);
  req.set_page_size(100);
  v1::ListWithdrawalsResponse resp;
  grpc::Status s = caller.ListWithdrawals(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::vector<v1::Withdrawal> out;
  for (const v1::Withdrawal& w : resp.withdrawals()) {
    if (w.kind() == kind) out.push_back(w);
  }
  return out;
}

bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Deadline() { return 60'000; }

}  // namespace

std::string RequiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "%s is not set: run this test through ctest\n", name);
    std::abort();
  }
  return v;
}

// --- Process -----------------------------------------------------------------------------------

Process::Process(const std::vector<std::string>& args, const std::filesystem::path& log_prefix, bool pipe_stdout,
                 const std::vector<std::string>& env)
    : log_prefix_(log_prefix) {
  int fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (pipe_stdout) {
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, (log_prefix.string() + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
  }
  posix_spawn_file_actions_addopen(&actions, 2, (log_prefix.string() + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  if (pipe_stdout) {
    close(fds[1]);
    stdout_fd_ = fds[0];
  }
}

Process::~Process() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::optional<std::string> Process::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const size_t newline = pending_.find('\n');
    if (newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || stdout_fd_ < 0) return std::nullopt;
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;
    char buffer[512];
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n <= 0) return std::nullopt;  // the process closed its stdout (exited)
    pending_.append(buffer, static_cast<size_t>(n));
  }
}

bool Process::Exited() {
  if (exited_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exited_;
}

int Process::Wait() {
  if (!exited_ && pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return code_;
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !exited_) kill(pid_, sig);
}

std::string Process::Stderr() const { return ReadFile(log_prefix_.string() + ".err"); }
std::string Process::Stdout() const { return ReadFile(log_prefix_.string() + ".out"); }

// --- CustodyStack -------------------------------------------------------------------------------

CustodyStack::CustodyStack(StackOptions options) : options_(options) {
  sandbox_ = std::make_unique<ringfence::signer::testing::TokenSandbox>();
  sandbox_->ReleaseModule();  // signerd owns the token from here
  {
    Process certs({"/bin/bash", RequiredEnv("RINGFENCE_SOURCE_DIR") + "/scripts/dev-certs.sh", certs_dir().string()},
                  dir() / "dev-certs", false);
    EXPECT_EQ(certs.Wait(), 0) << certs.Stderr();
  }
  WriteSignerdConfig();
  StartSignerd();
  StartChainsim();
  WriteCustodydConfig();
  StartCustodyd();
}

CustodyStack::~CustodyStack() {
  if (custodyd_) {
    const int code = StopCustodyd();
    EXPECT_EQ(code, 0) << "custodyd did not stop cleanly:\n" << last_custodyd_stderr_;
  }
  for (Process* p : {chainsim_.get(), signerd_.get()}) {
    if (p == nullptr) continue;
    p->Signal(SIGTERM);
    p->Wait();
  }
}

void CustodyStack::WriteSignerdConfig() {
  const auto socket = dir() / "signerd.sock";
  std::ofstream(dir() / "signerd.toml") << "[server]\nsocket = \"" << socket.string() << "\"\ndatabase = \""
                                        << signer_db_path().string() << "\"\n\n[pkcs11]\nmodule = \""
                                        << ringfence::signer::testing::ModulePath() << "\"\ntoken_label = \""
                                        << ringfence::signer::testing::kTokenLabel << "\"\npin_file = \""
                                        << sandbox_->pin_file().string() << "\"\n\n[transactions]\nconfig = \""
                                        << (dir() / "signer-tx.toml").string() << "\"\n";
  // The networks and assets of custodyd's config below (chainsim's Ethereum chain id is 1337).
  std::ofstream tx(dir() / "signer-tx.toml");
  tx << "approver_registry = \"approvers.toml\"\n\n[bitcoin]\nnetwork = \"regtest\"\n\n"
     << "[ethereum]\nnetwork = \"dev\"\nchain_id = 1337\n\n"
     << "[[asset]]\nid = \"BTC\"\nchain = \"bitcoin\"\n\n"
     << "[[asset]]\nid = \"ETH\"\nchain = \"ethereum\"\n\n"
     << "[[asset]]\nid = \"USDC-ETH\"\nchain = \"ethereum\"\nerc20_contract = \"" << kUsdcContract << "\"\n";
  for (const HouseAddress& h : kHouseAddresses) {
    tx << "\n[[wallet]]\nid = \"" << h.asset << ":house-hot\"\nasset = \"" << h.asset
       << "\"\nowner = \"house\"\ntier = \"hot\"\naddresses = [\"" << h.address << "\"]\n";
  }
  for (const auto& [asset, addresses] : options_.cold_addresses) {
    tx << "\n[[wallet]]\nid = \"" << asset << ":client-cold\"\nasset = \"" << asset
       << "\"\nowner = \"client\"\ntier = \"cold\"\naddresses = [";
    for (size_t i = 0; i < addresses.size(); ++i) tx << (i ? ", " : "") << "\"" << addresses[i] << "\"";
    tx << "]\n";
  }
  // signerd's own approver registry: the same people and keys as custodyd's ops group, and the
  // policy's approval tiers as quorum tiers.
  std::ofstream reg(dir() / "approvers.toml");
  for (const TestApprover& a : kTestApprovers) {
    if (a.ops) reg << "[[approver]]\nid = \"" << a.id << "\"\npublic_key = \"" << a.public_key_hex << "\"\n\n";
  }
  for (const SignerQuorum& q : kSignerQuorums) {
    const int sweep_approvals = options_.cold_addresses.contains(q.asset) ? 0 : 2;
    reg << "[quorum." << q.asset << "]\ninternal_sweep_approvals = " << sweep_approvals
        << "\ntiers = [{ from = \"0\", approvals = 0 }, "
        << "{ from = \"" << q.two_from << "\", approvals = 2 }]\n\n";
  }
  for (const auto& [asset, addresses] : options_.cold_addresses) {
    for (const std::string& a : addresses) reg << "[[cold_address]]\nasset = \"" << asset << "\"\naddress = \"" << a << "\"\n\n";
  }
}

void CustodyStack::StartSignerd(const std::vector<std::string>& env) {
  const auto socket = dir() / "signerd.sock";
  if (signerd_ != nullptr) last_signerd_stderr_ += signerd_->Stderr();
  signerd_ = std::make_unique<Process>(
      std::vector<std::string>{RequiredEnv("SIGNERD"), "--config", (dir() / "signerd.toml").string()},
      dir() / ("signerd" + std::to_string(++signerd_starts_)), false, env);
  ASSERT_TRUE(signerd_->started());
  auto channel = grpc::CreateChannel("unix:" + socket.string(), grpc::InsecureChannelCredentials());
  Process* p = signerd_.get();
  absl::Status s = ringfence::rpc::WaitForServing(channel, "ringfence.signer.v1.Signer",
                                                     std::chrono::milliseconds(Deadline()), [p] {
                                                       return p->Exited() ? absl::FailedPreconditionError("exited")
                                                                          : absl::OkStatus();
                                                     });
  ASSERT_TRUE(s.ok()) << "signerd: " << s << "\n" << signerd_->Stderr();
}

int CustodyStack::StopSignerd() {
  if (signerd_ == nullptr) return -1;
  signerd_->Signal(SIGTERM);
  const int code = signerd_->Wait();
  last_signerd_stderr_ += signerd_->Stderr();
  signerd_.reset();
  return code;
}

std::string CustodyStack::SignerdStderr() const {
  return last_signerd_stderr_ + (signerd_ ? signerd_->Stderr() : std::string());
}

void CustodyStack::StartChainsim() {
  const std::string target = "unix:" + (dir() / "chainsim.sock").string();
  chainsim_ = std::make_unique<Process>(
      std::vector<std::string>{RequiredEnv("CHAINSIM"), "--state", (dir() / "chainsim.db").string(), "--listen", target},
      dir() / "chainsim", false);
  ASSERT_TRUE(chainsim_->started());
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  Process* p = chainsim_.get();
  absl::Status s = ringfence::rpc::WaitForServing(channel, sim::Node::service_full_name(),
                                                     std::chrono::milliseconds(Deadline()), [p] {
                                                       return p->Exited() ? absl::FailedPreconditionError("exited")
                                                                          : absl::OkStatus();
                                                     });
  ASSERT_TRUE(s.ok()) << "chainsim: " << s << "\n" << chainsim_->Stderr();
  control_ = sim::Control::NewStub(channel);
  node_ = sim::Node::NewStub(channel);
  grpc::ClientContext ctx;
  sim::RegisterTokenRequest req;
  req.set_contract(kUsdcContract);
  req.set_decimals(6);
  sim::RegisterTokenResponse resp;
  grpc::Status r = control_->RegisterToken(&ctx, req, &resp);
  ASSERT_TRUE(r.ok()) << r.error_message();
}

std::string CustodyStack::AssetLines(const std::string& asset) const {
  auto it = options_.asset_lines.find(asset);
  return it == options_.asset_lines.end() ? "" : it->second;
}

void CustodyStack::WriteCustodydConfig() {
  const std::string certs = certs_dir().string();
  const std::string chainsim = "unix:" + (dir() / "chainsim.sock").string();
  std::ofstream(config_path()) << "[server]\nlisten = \"127.0.0.1:0\"\n\n[server.tls]\ncert = \"" << certs
                               << "/server.crt\"\nkey = \"" << certs << "/server.key\"\nclient_ca = \"" << certs
                               << "/ca.crt\"\n\n"
                               << "[[roles]]\nname = \"platform\"\nsan = \"ringfence:role:platform\"\n\n"
                               << "[[roles]]\nname = \"approver\"\nsan = \"ringfence:role:approver\"\n\n"
                               << "[[roles]]\nname = \"auditor\"\nsubject = \"CN=auditor-1\"\n\n"
                               << "[[roles]]\nname = \"admin\"\nsan = \"ringfence:role:admin\"\n\n"
                               << "[database]\npath = \"" << (dir() / "custody.db").string() << "\"\n\n"
                               << "[signer]\nsocket = \"" << (dir() / "signerd.sock").string() << "\"\n\n"
                               << "[[assets]]\nid = \"BTC\"\nchain = \"bitcoin\"\nnetwork = \"regtest\"\n"
                               << "decimals = 8\nconfirmations = 3\nwithdrawal_fee_cap = \"" << kBtcFeeCap << "\"\n"
                               << AssetLines("BTC") << "\n"
                               << "[[assets]]\nid = \"ETH\"\nchain = \"ethereum\"\nnetwork = \"dev\"\n"
                               << "decimals = 18\nconfirmations = 2\nwithdrawal_fee_cap = \"" << kEthFeeCap << "\"\n"
                               << AssetLines("ETH") << "\n"
                               << "[[assets]]\nid = \"USDC-ETH\"\nchain = \"ethereum\"\nnetwork = \"dev\"\n"
                               << "decimals = 6\nconfirmations = 2\nerc20_contract = \"" << kUsdcContract << "\"\n"
                               << "withdrawal_fee_cap = \"" << kEthFeeCap << "\"\n"
                               << AssetLines("USDC-ETH") << "\n"
                               << "[[chains]]\nname = \"bitcoin\"\nkind = \"chainsim\"\nendpoint = \"" << chainsim
                               << "\"\npoll_interval_ms = 20\n\n"
                               << "[[chains]]\nname = \"ethereum\"\nkind = \"chainsim\"\nendpoint = \"" << chainsim
                               << "\"\npoll_interval_ms = 20\n\n"
                               << "[withdrawals]\npolicy = \"" << (dir() / "policy.toml").string()
                               << "\"\napproval_window_seconds = 3600\nexecutor = "
                               << (options_.executor ? "true" : "false") << "\n";
  std::ofstream config(config_path(), std::ios::app);
  for (const TestApprover& a : kTestApprovers) {
    config << "\n[[approvers]]\nid = \"" << a.id << "\"\npublic_key = \"" << a.public_key_hex << "\"\n";
    if (a.subject[0] != '\0') config << "subject = \"" << a.subject << "\"\n";
  }
  if (!options_.cold_identity_hex.empty()) {
    config << "\n[cold_signer]\nidentity_key = \"" << options_.cold_identity_hex << "\"\n";
  }
  if (!options_.extra_config.empty()) config << "\n" << options_.extra_config;
  std::ofstream(dir() / "policy.toml") << options_.policy;
}

void CustodyStack::StartCustodyd(const std::vector<std::string>& extra_args, bool plaintext,
                                 const std::vector<std::string>& env) {
  std::vector<std::string> args = {RequiredEnv("CUSTODYD"), "--config", config_path().string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  custodyd_ = std::make_unique<Process>(args, dir() / ("custodyd" + std::to_string(++custodyd_starts_)), true, env);
  ASSERT_TRUE(custodyd_->started());
  std::optional<std::string> line = custodyd_->ReadLine(std::chrono::milliseconds(Deadline()));
  ASSERT_TRUE(line.has_value() && line->starts_with("listening ")) << "custodyd did not start:\n"
                                                                    << custodyd_->Stderr();
  address_ = line->substr(std::string("listening ").size());
  Process* p = custodyd_.get();
  auto channel = plaintext ? grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()) : ChannelAs("platform");
  absl::Status s = ringfence::rpc::WaitForServing(channel, v1::Custody::service_full_name(),
                                                     std::chrono::milliseconds(Deadline()), [p] {
                                                       return p->Exited() ? absl::FailedPreconditionError("exited")
                                                                          : absl::OkStatus();
                                                     });
  ASSERT_TRUE(s.ok()) << "custodyd: " << s << "\n" << custodyd_->Stderr();
}

int CustodyStack::StopCustodyd() {
  if (!custodyd_) return -1;
  custodyd_->Signal(SIGTERM);
  const int code = custodyd_->Wait();
  last_custodyd_stderr_ += custodyd_->Stderr();
  custodyd_.reset();
  return code;
}

int CustodyStack::WaitCustodydExit() {
  if (!custodyd_) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(Deadline());
  while (!custodyd_->Exited()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "custodyd did not exit\n" << custodyd_->Stderr();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int code = custodyd_->Wait();
  last_custodyd_stderr_ += custodyd_->Stderr();
  custodyd_.reset();
  return code;
}

void CustodyStack::KillCustodyd() {
  if (!custodyd_) return;
  custodyd_->Signal(SIGKILL);
  custodyd_->Wait();
  last_custodyd_stderr_ += custodyd_->Stderr();
  custodyd_.reset();
}

sim::GetBroadcastCountResponse CustodyStack::BroadcastCount(const std::string& chain, const std::string& txid) {
  grpc::ClientContext ctx;
  sim::GetBroadcastCountRequest req;
  req.set_chain(chain);
  req.set_txid(txid);
  sim::GetBroadcastCountResponse resp;
  grpc::Status s = control_->GetBroadcastCount(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

std::string CustodyStack::CustodydStderr() const {
  return last_custodyd_stderr_ + (custodyd_ ? custodyd_->Stderr() : std::string());
}

CommandResult CustodyStack::RunCustodyd(const std::vector<std::string>& args) const {
  std::vector<std::string> full = {RequiredEnv("CUSTODYD")};
  full.insert(full.end(), args.begin(), args.end());
  static int runs = 0;
  Process p(full, dir() / ("custodyd-cmd" + std::to_string(++runs)), false);
  CommandResult r;
  r.exit_code = p.Wait();
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

void CustodyStack::ExpectInvariantsAndAuditHold() const {
  CommandResult check = RunCustodyd({"check", "--config", config_path().string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find(": holds"), std::string::npos) << check.out;
  CommandResult audit = RunCustodyd({"audit", "verify", "--config", config_path().string()});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  EXPECT_NE(audit.out.find("audit log verified"), std::string::npos) << audit.out;
}

std::shared_ptr<grpc::Channel> CustodyStack::ChannelAs(const std::string& cert) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs_dir() / "ca.crt");
  ssl.pem_private_key = ReadFile(certs_dir() / (cert + ".key"));
  ssl.pem_cert_chain = ReadFile(certs_dir() / (cert + ".crt"));
  return grpc::CreateChannel(address_, grpc::SslCredentials(ssl));
}

std::unique_ptr<v1::Custody::Stub> CustodyStack::As(const std::string& cert) const {
  return v1::Custody::NewStub(ChannelAs(cert));
}

std::string CustodyStack::Credit(const std::string& chain, const std::string& address, const std::string& amount,
                                 const std::string& token_contract) {
  grpc::ClientContext ctx;
  sim::CreditRequest req;
  req.set_chain(chain);
  req.set_address(address);
  req.set_amount(amount);
  req.set_token_contract(token_contract);
  sim::CreditResponse resp;
  grpc::Status s = control_->Credit(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.txid();
}

uint64_t CustodyStack::Mine(const std::string& chain, uint32_t blocks) {
  grpc::ClientContext ctx;
  sim::MineRequest req;
  req.set_chain(chain);
  req.set_blocks(blocks);
  sim::MineResponse resp;
  grpc::Status s = control_->Mine(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.tip().height();
}

uint64_t CustodyStack::Reorg(const std::string& chain, uint32_t depth, bool keep_transactions) {
  grpc::ClientContext ctx;
  sim::ReorgRequest req;
  req.set_chain(chain);
  req.set_depth(depth);
  req.set_keep_transactions(keep_transactions);
  sim::ReorgResponse resp;
  grpc::Status s = control_->Reorg(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.tip().height();
}

uint64_t CustodyStack::Tip(const std::string& chain) {
  grpc::ClientContext ctx;
  sim::GetTipRequest req;
  req.set_chain(chain);
  sim::GetTipResponse resp;
  grpc::Status s = node_->GetTip(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.tip().height();
}

void CustodyStack::WaitIngested(const std::string& chain) {
  const uint64_t tip = Tip(chain);
  const std::string asset = chain == "bitcoin" ? "BTC" : "ETH";
  auto admin = As("admin");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(Deadline());
  uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    v1::ListWalletsRequest req;
    req.set_asset_id(asset);
    v1::ListWalletsResponse resp;
    grpc::Status s = admin->ListWallets(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // custodyd records the chain-observed balances once it has stored every block up to a
    // height, so that height is how far ingestion has come.
    seen = resp.wallets(0).chain_height();
    if (seen == tip && !resp.wallets(0).chain_balance().empty()) return;
    ASSERT_TRUE(custodyd_ == nullptr || !custodyd_->Exited()) << custodyd_->Stderr();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "custodyd ingested " << chain << " only to height " << seen << " of " << tip << "\n" << CustodydStderr();
}

void CustodyStack::MakeUnmappedCertificate(const std::string& name, const std::string& subject) {
  const std::string d = certs_dir().string();
  const std::string script =
      "set -e; cd '" + d + "'; umask 077; "
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + name + ".key 2>/dev/null; "
      "openssl req -new -key " + name + ".key -subj '" + subject + "' -out " + name + ".csr; "
      "printf 'extendedKeyUsage=clientAuth\\n' > " + name + ".ext; "
      "openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile " + name +
      ".ext -out " + name + ".crt 2>/dev/null; rm -f " + name + ".csr " + name + ".ext";
  Process p({"/bin/bash", "-c", script}, dir() / ("cert-" + name), false);
  ASSERT_EQ(p.Wait(), 0) << p.Stderr();
}

}  // namespace ringfence::custody::testing
