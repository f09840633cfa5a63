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
#include "chain/bech32.h"
#include "chain/hashes.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_tx.grpc.pb.h"
#include "rpc/health_client.h"
#include "tests/signer/token_sandbox.h"
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/harness.h"

extern char** environ;

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
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
      : out_(log_prefix.string() + ".out"), err_(log_prefix.string() + ".err") {
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
  std::string Stderr() const { return Read(err_); }
  std::string Stdout() const { return Read(out_); }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string out_;
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

  // Before signerd starts: makes a key on the token and registers it without a binding, as a
  // signerd from before bindings did, in signerd's database. Returns its id and public key.
  std::pair<std::string, std::array<uint8_t, 33>> MakeUnboundKey() {
    std::pair<std::string, std::array<uint8_t, 33>> out;
    auto token = sandbox_->OpenToken();
    EXPECT_TRUE(token.ok()) << token.status();
    if (!token.ok()) return out;
    std::vector<uint8_t> id(16, 0xb7);
    auto generated = (*token)->GenerateKeyPair(KeyType::kSecp256k1, id, "legacy");
    EXPECT_TRUE(generated.ok()) << generated.status();
    if (!generated.ok()) return out;
    KeyRecord record;
    record.key_id = base::HexEncode(id);
    record.type = KeyType::kSecp256k1;
    record.purpose = "legacy";
    record.public_key = generated->public_key;
    record.created_unix_ms = 1;
    auto store = SignerStore::Open((sandbox_->dir() / "signer.db").string());
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    EXPECT_TRUE((*store)->RegisterKey(record).ok());
    token->reset();
    sandbox_->ReleaseModule();  // signerd owns the token from here
    out.first = record.key_id;
    std::copy(record.public_key.begin(), record.public_key.end(), out.second.begin());
    return out;
  }

  // Has signerd create its keys (OwnKeySpecs, bound) over the Signer service; the unbound slot
  // is `unbound` (MakeUnboundKey).
  void CreateKeys(std::vector<std::pair<std::string, std::array<uint8_t, 33>>>* keys,
                  const std::pair<std::string, std::array<uint8_t, 33>>& unbound) {
    auto stub = v1::Signer::NewStub(channel_);
    keys->clear();
    for (const OwnKeySpec& spec : OwnKeySpecs()) {
      if (!spec.binding) {
        keys->push_back(unbound);
        continue;
      }
      grpc::ClientContext ctx;
      v1::CreateKeyRequest req;
      req.set_key_type(v1::KEY_TYPE_SECP256K1);
      req.set_purpose(spec.purpose);
      req.mutable_binding()->set_wallet_id(spec.binding->wallet_id);
      req.mutable_binding()->set_asset(spec.binding->asset);
      req.mutable_binding()->set_owner_class(spec.binding->owner_class == OwnerClass::kClient ? v1::OWNER_CLASS_CLIENT
                                                                                              : v1::OWNER_CLASS_HOUSE);
      req.mutable_binding()->set_tier(spec.binding->tier == Tier::kHot ? v1::TIER_HOT : v1::TIER_COLD);
      v1::CreateKeyResponse resp;
      grpc::Status s = stub->CreateKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(resp.key().public_key().size(), 33u);
      std::pair<std::string, std::array<uint8_t, 33>> k;
      k.first = resp.key().key_id();
      std::copy(resp.key().public_key().begin(), resp.key().public_key().end(), k.second.begin());
      keys->push_back(k);
    }
  }

  // A signerd with its keys: the unbound one made first (MakeUnboundKey), then signerd started
  // (with `fault_env`, NAME=VALUE, set while it starts, if given) and the bound ones created.
  // Fills *keys (OwnKeyIndex order) and returns signerd, or nullptr after a test failure.
  std::unique_ptr<Child> StartWithKeys(std::vector<std::pair<std::string, std::array<uint8_t, 33>>>* keys,
                                       const char* fault_env = nullptr) {
    const auto unbound = MakeUnboundKey();
    std::string name, value;
    if (fault_env != nullptr) {
      const std::string assignment = fault_env;
      name = assignment.substr(0, assignment.find('='));
      value = assignment.substr(assignment.find('=') + 1);
      setenv(name.c_str(), value.c_str(), 1);
    }
    auto signerd = Start();
    if (fault_env != nullptr) unsetenv(name.c_str());
    if (signerd == nullptr) return nullptr;
    CreateKeys(keys, unbound);
    if (::testing::Test::HasFatalFailure()) return nullptr;
    return signerd;
  }

  // Runs `signerd bind-key` on this test's config; returns its exit code, its output in *out.
  int BindKey(const std::string& key_id, const std::string& wallet_id, const std::string& asset,
              const std::string& owner, const std::string& tier, std::string* out) {
    Child bind({SignerdPath(), "bind-key", "--config", config_.string(), "--key-id", key_id, "--wallet-id", wallet_id,
                "--asset", asset, "--owner", owner, "--tier", tier},
               sandbox_->dir() / ("bind" + std::to_string(++binds_)));
    const int code = bind.Wait();
    *out = bind.Stdout() + bind.Stderr();
    return code;
  }

  grpc::Status Sign(const TxRequest& request, v1::SignTransactionResponse* response) {
    grpc::ClientContext ctx;
    return v1::TransactionSigner::NewStub(channel_)->SignTransaction(&ctx, ToProto(request), response);
  }

  std::unique_ptr<ringfence::signer::testing::TokenSandbox> sandbox_;
  std::filesystem::path config_;
  std::shared_ptr<grpc::Channel> channel_;
  int starts_ = 0;
  int binds_ = 0;
};

TEST_F(SignerdProcessTest, SignsOverTheSocketAndKeepsItsStateAcrossARestart) {
  std::vector<std::pair<std::string, std::array<uint8_t, 33>>> keys;
  auto signerd = StartWithKeys(&keys);
  ASSERT_NE(signerd, nullptr);
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
                   {"inputs", {{{"amount", 100000}, {"pubkey", base::HexEncode(keys[kInputKey].second)}}}}});
  cases.push_back({{"chain", "ethereum"},
                   {"type", 2},
                   {"signed_tx", "0x" + base::HexEncode(std::vector<uint8_t>(erc20_signed.signed_tx().begin(), erc20_signed.signed_tx().end()))},
                   {"hash", erc20_signed.txid()},
                   {"from", EthAddressOf(keys[kUsdcKey].second)},
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
  std::vector<std::pair<std::string, std::array<uint8_t, 33>>> keys;
  auto signerd = StartWithKeys(&keys, "HSM_SIM_FAIL_SIGN_EVERY=2");
  ASSERT_NE(signerd, nullptr);
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

// Issue 12 through the real signerd process, as a compromised custodyd would send them: change
// to a house key, a house withdrawal funded by client coins, a v1 approval and an unbound key
// are refused with their rules. Then the operator binds the unbound key with `signerd
// bind-key`: refused while signerd runs on the database, done once it is stopped (logged as a
// key_bound entry), refused a second time (a binding is never changed); after a restart the key
// signs, and the sign log verifies.
TEST_F(SignerdProcessTest, SegregationRefusalsAndBindingAKeyMadeBeforeBindings) {
  std::vector<std::pair<std::string, std::array<uint8_t, 33>>> keys;
  auto signerd = StartWithKeys(&keys);
  ASSERT_NE(signerd, nullptr);
  const World world = MakeWorld(&keys);
  const auto& unbound = keys[kUnboundKey];

  auto change_to_house = ValidBitcoinRequest(world, "wd-proc-change");
  change_to_house.tx.outputs[1].script_pubkey =
      chain::P2wpkhScriptPubKey(chain::Hash160(world.own_keys[kHouseBtcKey].public_key));
  SetTx(&change_to_house.request, change_to_house.tx);
  auto house_funded = BitcoinMove(world, policy::RequestKind::kWithdrawal, kInputKey,
                                  world.own_keys[kHouseBtcKey].public_key, kChangeKey, "wd-proc-house");
  auto v1_approved = ValidBitcoinRequest(world, "wd-proc-v1");
  ApproveV1(world, &v1_approved.request);
  auto legacy = ValidBitcoinRequest(world, "wd-proc-legacy");
  legacy.tx.inputs[0].prevout.txid.fill(0xee);
  legacy.request.bitcoin_inputs[0].key_id = unbound.first;
  SetTx(&legacy.request, legacy.tx);
  const std::pair<const TxRequest*, const char*> refusals[] = {
      {&change_to_house.request, "change_leaves_wallet: "},
      {&house_funded.request, "client_funds_to_house: "},
      {&v1_approved.request, "approval_signature: "},
      {&legacy.request, "key_unbound: "},
  };
  for (const auto& [request, rule] : refusals) {
    v1::SignTransactionResponse response;
    grpc::Status s = Sign(*request, &response);
    EXPECT_THAT(s.error_message(), StartsWith(rule));
    EXPECT_TRUE(response.signed_tx().empty());
  }

  std::string out;
  EXPECT_EQ(BindKey(unbound.first, "BTC:client-hot", "BTC", "client", "hot", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("a signerd is running on it"));
  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();

  // Bad input: named, nothing changed.
  EXPECT_EQ(BindKey(unbound.first, "BTC:client-hot", "BTC", "owner", "hot", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("--owner"));
  EXPECT_EQ(BindKey("not-a-key-id", "BTC:client-hot", "BTC", "client", "hot", &out), 2) << out;
  EXPECT_EQ(BindKey(unbound.first, "BTC:client hot", "BTC", "client", "hot", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("wallet_id"));
  EXPECT_EQ(BindKey(std::string(32, 'f'), "BTC:client-hot", "BTC", "client", "hot", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("not registered"));
  // The same wallet id as other keys' but another tier: one wallet id is one wallet.
  EXPECT_EQ(BindKey(unbound.first, "BTC:client-hot", "BTC", "client", "cold", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("one wallet id names one wallet"));

  ASSERT_EQ(BindKey(unbound.first, "BTC:client-hot", "BTC", "client", "hot", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("bound to wallet BTC:client-hot"));
  EXPECT_EQ(BindKey(unbound.first, "BTC:house-hot", "BTC", "house", "hot", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("already bound to wallet BTC:client-hot"));
  EXPECT_EQ(BindKey(unbound.first, "BTC:client-hot", "BTC", "client", "hot", &out), 1) << out;

  {
    auto store = SignerStore::Open((sandbox_->dir() / "signer.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    auto log = (*store)->ReadLog();
    ASSERT_TRUE(log.ok());
    int bound = 0;
    for (const auto& e : *log) {
      if (e.kind != "key_bound") continue;
      ++bound;
      EXPECT_EQ(e.key_id, unbound.first);
      EXPECT_EQ(std::string(e.fields.at("wallet_id").begin(), e.fields.at("wallet_id").end()), "BTC:client-hot");
      EXPECT_EQ(std::string(e.fields.at("tier").begin(), e.fields.at("tier").end()), "hot");
    }
    EXPECT_EQ(bound, 1);
    auto key = (*store)->GetKey(unbound.first);
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(key->binding.has_value());
    EXPECT_EQ(key->binding->wallet_id, "BTC:client-hot");
  }

  signerd = Start();
  ASSERT_NE(signerd, nullptr);
  World bound_world = world;
  bound_world.own_keys[kUnboundKey].binding = WalletBinding{"BTC:client-hot", "BTC", OwnerClass::kClient, Tier::kHot};
  bound_world.keys = *OwnKeys::Build(bound_world.own_keys, bound_world.config);
  auto now_bound = ValidBitcoinRequest(bound_world, "wd-proc-bound");
  now_bound.tx.inputs[0].prevout.txid.fill(0xef);
  now_bound.request.bitcoin_inputs[0].key_id = unbound.first;
  SetTx(&now_bound.request, now_bound.tx);
  Approve(bound_world, &now_bound.request, {world.approvers[0], world.approvers[1]});
  v1::SignTransactionResponse signed_response;
  grpc::Status s = Sign(now_bound.request, &signed_response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(signed_response.signed_tx().empty());
  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();

  Child verify({SignerdPath(), "--config", config_.string(), "--verify-log"}, sandbox_->dir() / "verify");
  EXPECT_EQ(verify.Wait(), 0) << verify.Stderr();
}

}  // namespace
}  // namespace ringfence::signer::tx
