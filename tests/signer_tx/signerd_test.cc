// SignTransaction through a real signerd process: the test provisions a private token
// (TokenSandbox; hsm_sim or SoftHSM2 per RINGFENCE_SIGNER_MODULE), writes signerd's config with
// a [transactions] section naming the transaction config and approver registry, starts the
// signerd binary, waits on its gRPC health service, creates signerd's keys over the Signer
// service, signs Bitcoin and ERC-20 transactions over the Unix socket (checked by
// check_signed_tx.js), restarts signerd and checks that the request-id rule survived, and
// finally verifies the sign log with `signerd --verify-log`.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_tx.grpc.pb.h"
#include "rpc/health_client.h"
#include "tests/signer/token_sandbox.h"
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/harness.h"

extern char** environ;

namespace ringfence::signer::tx {
namespace {

using ::testing::StartsWith;
using namespace ringfence::signer::tx::testing;
namespace v1 = ringfence::signer::v1;

std::string SignerdPath() {
  const char* path = std::getenv("SIGNERD");
  if (path == nullptr) {
    std::fprintf(stderr, "SIGNERD is not set: run this test through ctest\n");
    std::abort();
  }
  return path;
}

// A child process with stdout/stderr in files; killed on destruction if still running.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::filesystem::path& log_prefix)
      : err_(log_prefix.string() + ".err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (log_prefix.string() + ".out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  bool started() const { return pid_ > 0; }
  bool Exited() {
    if (exited_) return true;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exited_;
  }
  int Wait() {
    if (!exited_) {
      int status;
      waitpid(pid_, &status, 0);
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return code_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::string Stderr() const {
    std::ifstream in(err_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

class SignerdProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = std::make_unique<ringfence::signer::testing::TokenSandbox>();
    sandbox_->ReleaseModule();  // signerd owns the token from here
    const auto dir = sandbox_->dir();
    // The world's config and registry do not depend on the keys, which signerd creates later.
    const World world = MakeWorld();
    std::ofstream(dir / "signer_tx.toml") << world.config_toml;
    std::ofstream(dir / "approvers.toml") << world.registry_toml;
    config_ = dir / "signerd.toml";
    std::ofstream(config_) << "[server]\nsocket = \"" << (dir / "signerd.sock").string()
                           << "\"\ndatabase = \"" << (dir / "signer.db").string()
                           << "\"\n\n[pkcs11]\nmodule = \"" << ringfence::signer::testing::ModulePath()
                           << "\"\ntoken_label = \"" << ringfence::signer::testing::kTokenLabel
                           << "\"\npin_file = \"" << sandbox_->pin_file().string()
                           << "\"\nsession_pool_size = 4\n\n[transactions]\nconfig = \""
                           << (dir / "signer_tx.toml").string() << "\"\n";
  }

  std::unique_ptr<Child> Start() {
    auto child = std::make_unique<Child>(std::vector<std::string>{SignerdPath(), "--config", config_.string()},
                                         sandbox_->dir() / ("signerd" + std::to_string(++starts_)));
    EXPECT_TRUE(child->started());
    channel_ = grpc::CreateChannel("unix:" + (sandbox_->dir() / "signerd.sock").string(),
                                   grpc::InsecureChannelCredentials());
    Child* c = child.get();
    auto still_running = [c] {
      if (!c->Exited()) return absl::OkStatus();
      return absl::FailedPreconditionError("signerd exited with " + std::to_string(c->Wait()));
    };
    absl::Status serving = ringfence::rpc::WaitForServing(channel_, v1::Signer::service_full_name(),
                                                             std::chrono::seconds(60), still_running);
    if (serving.ok()) return child;
    ADD_FAILURE() << "signerd did not become healthy: " << serving << "\n" << child->Stderr();
    return nullptr;
  }

  int Stop(Child& child) {
    channel_.reset();
    child.Signal(SIGTERM);
    return child.Wait();
  }

  // Has signerd create one secp256k1 key per slot of `keys` over the Signer service.
  void CreateKeys(std::array<std::pair<std::string, std::array<uint8_t, 33>>, 3>* keys) {
    auto stub = v1::Signer::NewStub(channel_);
    for (auto& k : *keys) {
      grpc::ClientContext ctx;
      v1::CreateKeyRequest req;
      req.set_key_type(v1::KEY_TYPE_SECP256K1);
      req.set_purpose("tx-test");
      req.mutable_binding()->set_wallet_id("btc:client-hot");
      req.mutable_binding()->set_asset("btc");
      req.mutable_binding()->set_owner_class(v1::OWNER_CLASS_CLIENT);
      req.mutable_binding()->set_tier(v1::TIER_HOT);
      v1::CreateKeyResponse resp;
      grpc::Status s = stub->CreateKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(resp.key().public_key().size(), 33u);
      k.first = resp.key().key_id();
      std::copy(resp.key().public_key().begin(), resp.key().public_key().end(), k.second.begin());
    }
  }

  grpc::Status Sign(const TxRequest& request, v1::SignTransactionResponse* response) {
    grpc::ClientContext ctx;
    return v1::TransactionSigner::NewStub(channel_)->SignTransaction(&ctx, ToProto(request), response);
  }

  std::unique_ptr<ringfence::signer::testing::TokenSandbox> sandbox_;
  std::filesystem::path config_;
  std::shared_ptr<grpc::Channel> channel_;
  int starts_ = 0;
};

TEST_F(SignerdProcessTest, SignsOverTheSocketAndKeepsItsStateAcrossARestart) {
  auto signerd = Start();
  ASSERT_NE(signerd, nullptr);
  std::array<std::pair<std::string, std::array<uint8_t, 33>>, 3> keys;
  ASSERT_NO_FATAL_FAILURE(CreateKeys(&keys));
  const World world = MakeWorld(&keys);

  auto btc = ValidBitcoinRequest(world, "wd-process-btc");
  v1::SignTransactionResponse btc_signed;
  grpc::Status s = Sign(btc.request, &btc_signed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto erc20 = ValidEthereumRequest(world, EthForm::kErc20, "wd-process-erc20");
  v1::SignTransactionResponse erc20_signed;
  s = Sign(erc20.request, &erc20_signed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto foreign = ValidBitcoinRequest(world, "wd-process-refused");
  foreign.request.unsigned_tx.push_back(0);
  v1::SignTransactionResponse refused;
  s = Sign(foreign.request, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), StartsWith("tx_decode: "));

  nlohmann::json cases = nlohmann::json::array();
  cases.push_back({{"chain", "bitcoin"},
                   {"signed_tx", base::HexEncode(std::vector<uint8_t>(btc_signed.signed_tx().begin(), btc_signed.signed_tx().end()))},
                   {"unsigned_tx", base::HexEncode(btc.request.unsigned_tx)},
                   {"txid", btc_signed.txid()},
                   {"inputs", {{{"amount", 100000}, {"pubkey", base::HexEncode(keys[0].second)}}}}});
  cases.push_back({{"chain", "ethereum"},
                   {"type", 2},
                   {"signed_tx", "0x" + base::HexEncode(std::vector<uint8_t>(erc20_signed.signed_tx().begin(), erc20_signed.signed_tx().end()))},
                   {"hash", erc20_signed.txid()},
                   {"from", EthAddressOf(keys[2].second)},
                   {"chain_id", kEthChainId},
                   {"nonce", 7},
                   {"to", world.erc20_contract},
                   {"value", "0"},
                   {"token_recipient", erc20.request.intent.destination},
                   {"token_amount", "60000"}});
  const auto path = sandbox_->dir() / "signed.json";
  std::ofstream(path) << cases.dump();
  const std::string cmd = std::string("node ") + std::getenv("RINGFENCE_SOURCE_DIR") +
                          "/tests/signer_tx/check_signed_tx.js " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();
  signerd = Start();
  ASSERT_NE(signerd, nullptr);
  v1::SignTransactionResponse again;
  s = Sign(btc.request, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.signed_tx(), btc_signed.signed_tx());
  auto other = btc;
  other.tx.outputs[1].value -= 1;
  SetTx(&other.request, other.tx);
  s = Sign(other.request, &again);
  EXPECT_THAT(s.error_message(), StartsWith("request_conflict: "));
  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();

  Child verify({SignerdPath(), "--config", config_.string(), "--verify-log"}, sandbox_->dir() / "verify");
  EXPECT_EQ(verify.Wait(), 0) << verify.Stderr();
}

// The token fails in the middle of a signature (hsm_sim's fault injection: every second
// signing C_Sign returns CKR_DEVICE_ERROR). signerd answers with a clear error, stays up, and
// the next request, here the same one retried, is signed: the failure left no claim behind.
TEST_F(SignerdProcessTest, TokenFailingMidSignIsAClearErrorAndSignerdStaysUp) {
  if (ringfence::signer::testing::ModulePath().find("hsm_sim") == std::string::npos) {
    GTEST_SKIP() << "fault injection exists only in hsm_sim";
  }
  setenv("HSM_SIM_FAIL_SIGN_EVERY", "2", 1);
  auto signerd = Start();
  unsetenv("HSM_SIM_FAIL_SIGN_EVERY");
  ASSERT_NE(signerd, nullptr);
  std::array<std::pair<std::string, std::array<uint8_t, 33>>, 3> keys;
  ASSERT_NO_FATAL_FAILURE(CreateKeys(&keys));
  const World world = MakeWorld(&keys);

  // Signature 1 succeeds.
  auto erc20 = ValidEthereumRequest(world, EthForm::kErc20, "wd-fault-erc20");
  v1::SignTransactionResponse first;
  grpc::Status s = Sign(erc20.request, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Signature 2 fails inside the token.
  auto btc = ValidBitcoinRequest(world, "wd-fault-btc");
  v1::SignTransactionResponse failed;
  s = Sign(btc.request, &failed);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::INTERNAL)
      << s.error_code() << " " << s.error_message();
  EXPECT_NE(s.error_message().find("CKR_DEVICE_ERROR"), std::string::npos) << s.error_message();
  EXPECT_TRUE(failed.signed_tx().empty());
  EXPECT_FALSE(signerd->Exited()) << signerd->Stderr();
  // Still serving: one health question, answered SERVING (a generous deadline, so only a
  // signerd that died or went NOT_SERVING fails this, never a slow machine).
  absl::StatusOr<ringfence::rpc::ServingStatus> still_serving = ringfence::rpc::CheckHealth(
      channel_, v1::Signer::service_full_name(), std::chrono::system_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(still_serving.ok()) << still_serving.status() << "\n" << signerd->Stderr();
  EXPECT_EQ(*still_serving, ringfence::rpc::ServingStatus::kServing);

  // Signature 3: the same request again is signed, and it verifies.
  v1::SignTransactionResponse retried;
  s = Sign(btc.request, &retried);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(retried.replayed());
  EXPECT_FALSE(retried.signed_tx().empty());

  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();
  Child verify({SignerdPath(), "--config", config_.string(), "--verify-log"}, sandbox_->dir() / "verify");
  EXPECT_EQ(verify.Wait(), 0) << verify.Stderr();
}

}  // namespace
}  // namespace ringfence::signer::tx
