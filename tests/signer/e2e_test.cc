// End to end: the real signerd process on a private token, reached over its Unix socket.
// Waits on the gRPC health service, never on a timer (rpc/health_client.h, tested on its own in
// tests/rpc).
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/signer.grpc.pb.h"
#include "rpc/health_client.h"
#include "signer/store.h"
#include "tests/signer/token_sandbox.h"

extern char** environ;

namespace ringfence::signer {
namespace {

using ::testing::HasSubstr;
using testing::IsHsmSim;
using testing::TokenSandbox;
namespace pb = ::ringfence::signer::v1;

std::string Signerd() {
  const char* path = std::getenv("SIGNERD");
  if (path == nullptr) {
    std::fprintf(stderr, "SIGNERD is not set: run this suite through ctest\n");
    std::abort();
  }
  return path;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with stdout and stderr captured in files.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::filesystem::path& dir,
          const std::string& name)
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << args[0] << ": " << std::strerror(rc);
      pid_ = -1;
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }

  // Non-blocking: true once the process has exited.
  bool Exited() {
    if (exited_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) Record(status);
    return exited_;
  }
  int Wait() {
    if (!exited_) {
      int status = 0;
      if (waitpid(pid_, &status, 0) == pid_) Record(status);
    }
    return exit_code_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::string Stdout() const { return ReadAll(out_); }
  std::string Stderr() const { return ReadAll(err_); }

 private:
  void Record(int status) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

class SignerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = std::make_unique<TokenSandbox>();
    // signerd owns the token now; this process lets go of its module.
    sandbox_->ReleaseModule();
    socket_ = sandbox_->dir() / "run" / "signerd.sock";
    std::filesystem::create_directories(socket_.parent_path());
    database_ = sandbox_->dir() / "signer.db";
  }

  std::string Config(const std::string& pkcs11_extra = "", const std::string& pin_line = "") {
    std::ostringstream c;
    c << "[server]\nsocket = \"" << socket_.string() << "\"\ndatabase = \"" << database_.string()
      << "\"\n\n[pkcs11]\nmodule = \"" << testing::ModulePath() << "\"\ntoken_label = \""
      << testing::kTokenLabel << "\"\n"
      << (pin_line.empty() ? "pin_file = \"" + sandbox_->pin_file().string() + "\"" : pin_line)
      << "\nsession_pool_size = 2\n"
      << pkcs11_extra;
    return c.str();
  }

  std::filesystem::path WriteConfig(const std::string& text, const std::string& name = "signerd.toml") {
    std::filesystem::path path = sandbox_->dir() / name;
    std::ofstream(path) << text;
    return path;
  }

  // Starts signerd and waits until its health service reports SERVING.
  std::unique_ptr<Process> StartServing(const std::filesystem::path& config) {
    auto p = std::make_unique<Process>(std::vector<std::string>{Signerd(), "--config", config.string()},
                                       sandbox_->dir(), "signerd");
    channel_.reset();
    auto still_running = [&p] {
      if (!p->Exited()) return absl::OkStatus();
      return absl::FailedPreconditionError("signerd exited early with " + std::to_string(p->Wait()));
    };
    absl::Status serving =
        rpc::WaitForServing(Channel(), pb::Signer::service_full_name(), std::chrono::seconds(60), still_running);
    if (serving.ok()) return p;
    ADD_FAILURE() << "signerd did not become healthy: " << serving << "\n" << p->Stderr();
    return nullptr;
  }

  // Runs signerd expecting it to refuse to start; returns its exit code and stderr.
  std::pair<int, std::string> RunFailing(const std::filesystem::path& config) {
    Process p({Signerd(), "--config", config.string()}, sandbox_->dir(), "failing");
    int code = p.Wait();
    return {code, p.Stderr()};
  }

  // Sends `sig` and waits for the exit code. The test's idle connection is closed first: gRPC's
  // graceful shutdown otherwise waits several seconds for the client to go away.
  int Stop(Process& p, int sig = SIGTERM) {
    channel_.reset();
    p.Signal(sig);
    return p.Wait();
  }

  std::shared_ptr<grpc::Channel> Channel() {
    if (channel_ == nullptr) {
      // Reconnect quickly: the default backoff (1 s, growing) would dominate the test's time
      // while signerd is still starting.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
      channel_ = grpc::CreateCustomChannel("unix:" + socket_.string(),
                                           grpc::InsecureChannelCredentials(), args);
    }
    return channel_;
  }

  std::unique_ptr<pb::Signer::Stub> Stub() { return pb::Signer::NewStub(Channel()); }

  std::unique_ptr<TokenSandbox> sandbox_;
  std::filesystem::path socket_;
  std::filesystem::path database_;
  std::shared_ptr<grpc::Channel> channel_;
};

grpc::Status CreateKey(pb::Signer::Stub& stub, pb::KeyType type, const std::string& purpose,
                       pb::Key* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::CreateKeyRequest req;
  req.set_key_type(type);
  req.set_purpose(purpose);
  req.mutable_binding()->set_wallet_id("btc:client-hot");
  req.mutable_binding()->set_asset("btc");
  req.mutable_binding()->set_owner_class(pb::OWNER_CLASS_CLIENT);
  req.mutable_binding()->set_tier(pb::TIER_HOT);
  pb::CreateKeyResponse resp;
  grpc::Status s = stub.CreateKey(&ctx, req, &resp);
  if (out != nullptr) *out = resp.key();
  return s;
}

grpc::Status GetKey(pb::Signer::Stub& stub, const std::string& key_id, pb::Key* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::GetKeyRequest req;
  req.set_key_id(key_id);
  pb::GetKeyResponse resp;
  grpc::Status s = stub.GetKey(&ctx, req, &resp);
  if (out != nullptr) *out = resp.key();
  return s;
}

TEST_F(SignerdTest, ServesKeysOverTheUnixSocketAndLogsThem) {
  std::filesystem::path config = WriteConfig(Config());
  std::unique_ptr<Process> signerd = StartServing(config);
  ASSERT_NE(signerd, nullptr);

  struct stat st {};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto stub = Stub();
  pb::Key btc, sol;
  grpc::Status s = CreateKey(*stub, pb::KEY_TYPE_SECP256K1, "btc-hot-deposit", &btc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = CreateKey(*stub, pb::KEY_TYPE_ED25519, "sol-hot", &sol);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(btc.key_id().size(), 32u);
  EXPECT_EQ(btc.public_key().size(), 33u);
  EXPECT_EQ(sol.public_key().size(), 32u);
  EXPECT_EQ(btc.key_type(), pb::KEY_TYPE_SECP256K1);
  EXPECT_EQ(sol.purpose(), "sol-hot");

  pb::Key got;
  s = GetKey(*stub, btc.key_id(), &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.public_key(), btc.public_key());
  EXPECT_EQ(got.purpose(), "btc-hot-deposit");
  EXPECT_EQ(got.created_unix_ms(), btc.created_unix_ms());

  {
    grpc::ClientContext ctx;
    pb::ListKeysResponse list;
    s = stub->ListKeys(&ctx, pb::ListKeysRequest(), &list);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(list.keys_size(), 2);
    EXPECT_EQ(list.keys(0).key_id(), btc.key_id());
    EXPECT_EQ(list.keys(1).key_id(), sol.key_id());
  }
  {
    grpc::ClientContext ctx;
    pb::ListKeysRequest req;
    req.set_key_type(pb::KEY_TYPE_ED25519);
    pb::ListKeysResponse list;
    ASSERT_TRUE(stub->ListKeys(&ctx, req, &list).ok());
    ASSERT_EQ(list.keys_size(), 1);
    EXPECT_EQ(list.keys(0).key_id(), sol.key_id());
  }

  // Bad requests: precise errors, and the server carries on.
  s = GetKey(*stub, std::string(32, '0'), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no key with key_id '00000000000000000000000000000000'"));
  s = GetKey(*stub, "xyz", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("key_id must be 32 lowercase hex characters (got 3"));
  s = CreateKey(*stub, pb::KEY_TYPE_UNSPECIFIED, "x", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("key_type must be KEY_TYPE_SECP256K1 or KEY_TYPE_ED25519"));
  s = CreateKey(*stub, pb::KEY_TYPE_SECP256K1, "", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("purpose must be 1 to 128 characters"));
  s = CreateKey(*stub, pb::KEY_TYPE_SECP256K1, "tab\there", nullptr);
  EXPECT_THAT(s.error_message(), HasSubstr("printable ASCII"));
  EXPECT_TRUE(GetKey(*stub, sol.key_id(), nullptr).ok());

  stub.reset();
  EXPECT_EQ(Stop(*signerd), 0) << signerd->Stderr();
  EXPECT_THAT(signerd->Stderr(), HasSubstr("SIGTERM received, shutting down"));
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "the socket is removed on shutdown";

  // The log holds both creations and its chain verifies, in process and through signerd.
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<uint64_t> n = (*store)->VerifyLog();
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 2u);
    absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)[0].key_id, btc.key_id());
    EXPECT_EQ((*log)[0].kind, "key_created");
    EXPECT_EQ((*log)[0].fields.at("public_key"),
              std::vector<uint8_t>(btc.public_key().begin(), btc.public_key().end()));
  }
  Process verify({Signerd(), "--config", config.string(), "--verify-log"}, sandbox_->dir(), "verify");
  EXPECT_EQ(verify.Wait(), 0) << verify.Stderr();
  EXPECT_THAT(verify.Stdout(), HasSubstr("sign log verified: 2 entries"));
  // An independent implementation of docs/sign_log.md agrees.
  const char* python = std::getenv("PYTHON");
  const char* source = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(python, nullptr);
  ASSERT_NE(source, nullptr);
  Process py({python, std::string(source) + "/tests/signer/check_sign_log.py", database_.string()},
             sandbox_->dir(), "check_sign_log");
  EXPECT_EQ(py.Wait(), 0) << py.Stdout() << py.Stderr();
  EXPECT_THAT(py.Stdout(), HasSubstr("ok 2 "));

  // The database was written with the keys; a restarted signerd serves them again.
  std::unique_ptr<Process> again = StartServing(config);
  ASSERT_NE(again, nullptr);
  auto stub2 = Stub();
  s = GetKey(*stub2, btc.key_id(), &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.public_key(), btc.public_key());
  stub2.reset();
  EXPECT_EQ(Stop(*again, SIGINT), 0);
  EXPECT_THAT(again->Stderr(), HasSubstr("SIGINT received"));
}

TEST_F(SignerdTest, TokenErrorMidRequestIsClearAndTheNextRequestSucceeds) {
  if (!IsHsmSim()) GTEST_SKIP() << "fault injection is an hsm_sim feature";
  // After signerd's login session (the 1st), every 2nd C_OpenSession fails: the first
  // CreateKey needs a pool session (the 2nd) and gets the token's error.
  setenv("HSM_SIM_FAIL_OPEN_SESSION", "2", 1);
  std::unique_ptr<Process> signerd = StartServing(WriteConfig(Config()));
  unsetenv("HSM_SIM_FAIL_OPEN_SESSION");
  ASSERT_NE(signerd, nullptr);
  auto stub = Stub();
  pb::Key key;
  grpc::Status s = CreateKey(*stub, pb::KEY_TYPE_SECP256K1, "first", &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("C_OpenSession failed: CKR_"));
  s = CreateKey(*stub, pb::KEY_TYPE_SECP256K1, "second", &key);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(GetKey(*stub, key.key_id(), nullptr).ok());
  EXPECT_FALSE(signerd->Exited());
  stub.reset();
  EXPECT_EQ(Stop(*signerd), 0);
}

// ---------------------------------------------------------------------------------------
// signerd refuses to start, with a clear error, on bad input.

TEST_F(SignerdTest, RefusesAnExistingSocketPath) {
  std::ofstream(socket_) << "not a socket";
  auto [code, err] = RunFailing(WriteConfig(Config()));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("socket path '" + socket_.string() + "' already exists"));
  EXPECT_EQ(ReadAll(socket_), "not a socket") << "the existing file is left alone";
}

TEST_F(SignerdTest, RefusesAWrongPin) {
  std::filesystem::path pin = sandbox_->dir() / "wrong-pin";
  { std::ofstream(pin) << "wrong\n"; }
  std::filesystem::permissions(pin, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto [code, err] = RunFailing(WriteConfig(Config("", "pin_file = \"" + pin.string() + "\"")));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("C_Login failed: CKR_PIN_INCORRECT"));
  EXPECT_THAT(err, HasSubstr("wrong PIN"));
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(SignerdTest, TakesThePinFromTheEnvironment) {
  setenv("RINGFENCE_E2E_PIN", testing::kUserPin, 1);
  std::unique_ptr<Process> signerd =
      StartServing(WriteConfig(Config("", "pin_env = \"RINGFENCE_E2E_PIN\"")));
  unsetenv("RINGFENCE_E2E_PIN");
  ASSERT_NE(signerd, nullptr);
  EXPECT_EQ(Stop(*signerd), 0);
  auto [code, err] = RunFailing(WriteConfig(Config("", "pin_env = \"RINGFENCE_E2E_PIN\"")));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("pin_env variable 'RINGFENCE_E2E_PIN' is not set"));
}

TEST_F(SignerdTest, RefusesALockedPin) {
  if (!IsHsmSim()) GTEST_SKIP() << "SoftHSM2 2.6 has no PIN retry limit, so its PIN never locks";
  // Lock the PIN with wrong tries in this process (default limit 5).
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sandbox_->OpenToken("wrong").ok());
  sandbox_->ReleaseModule();
  auto [code, err] = RunFailing(WriteConfig(Config()));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("CKR_PIN_LOCKED"));
  EXPECT_THAT(err, HasSubstr("the PIN is locked"));
}

TEST_F(SignerdTest, RefusesAMissingTokenDirectory) {
  std::filesystem::remove_all(sandbox_->token_dir());
  auto [code, err] = RunFailing(WriteConfig(Config()));
  EXPECT_EQ(code, 1);
  if (IsHsmSim()) {
    EXPECT_THAT(err, HasSubstr("no initialised token labelled 'ringfence-test'"));
  } else {
    EXPECT_THAT(err, HasSubstr("C_Initialize failed: CKR_GENERAL_ERROR"));
  }
}

TEST_F(SignerdTest, RefusesAnUnknownTokenLabel) {
  std::string text = Config();
  text.replace(text.find("ringfence-test"), 14, "no-such-label");
  auto [code, err] = RunFailing(WriteConfig(text));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("no initialised token labelled 'no-such-label'"));
}

TEST_F(SignerdTest, RefusesConfigsWithUnknownOrMissingFields) {
  auto [code, err] = RunFailing(WriteConfig(Config("colour = \"blue\"\n")));
  EXPECT_EQ(code, 2);
  EXPECT_THAT(err, HasSubstr("unknown field 'pkcs11.colour'"));
  std::string text = Config();
  text.erase(text.find("database ="), text.find('\n', text.find("database =")) - text.find("database =") + 1);
  std::tie(code, err) = RunFailing(WriteConfig(text));
  EXPECT_EQ(code, 2);
  EXPECT_THAT(err, HasSubstr("missing required field 'server.database'"));
  std::tie(code, err) = RunFailing(sandbox_->dir() / "absent.toml");
  EXPECT_EQ(code, 2);
  EXPECT_THAT(err, HasSubstr("absent.toml' does not exist"));
}

TEST_F(SignerdTest, RefusesAMissingTransactionsConfig) {
  std::filesystem::path tx = sandbox_->dir() / "absent-tx.toml";
  auto [code, err] = RunFailing(
      WriteConfig(Config() + "\n[transactions]\nconfig = \"" + tx.string() + "\"\n"));
  EXPECT_NE(code, 0);
  EXPECT_THAT(err, HasSubstr(tx.string()));
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(SignerdTest, RefusesACorruptDatabase) {
  { std::ofstream(database_) << std::string(8192, 'x'); }
  auto [code, err] = RunFailing(WriteConfig(Config()));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("database '" + database_.string() + "'"));
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

}  // namespace
}  // namespace ringfence::signer
