// Wallet bindings end to end: the real signerd on hsm_sim, reached over its Unix socket.
// CreateKey requires a binding and refuses every malformed one with nothing created; Create,
// Get and List return it, and List filters by wallet; the binding is in the key's key_created
// sign-log entry, so the log check (`signerd --verify-log`, SignerStore::VerifyLog) passes with
// bindings in it and catches a binding changed or removed in the database file; a database of
// the first schema, written here with that schema's SQL, upgrades in place with its old keys
// unbound.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/signer.grpc.pb.h"
#include "rpc/health_client.h"
#include "signer/config.h"
#include "signer/server.h"
#include "signer/store.h"
#include "tests/signer/token_sandbox.h"

extern char** environ;

namespace ringfence::signer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
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

// A child process with its stderr captured in a file.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::filesystem::path& dir, const std::string& name)
      : err_(dir / (name + ".err")) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
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
  bool Exited() {
    if (exited_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) Record(status);
    return exited_;
  }
  int Wait() {
    if (!exited_ && pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, 0) == pid_) Record(status);
    }
    return exit_code_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::string Stderr() const { return ReadAll(err_); }

 private:
  void Record(int status) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::filesystem::path err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

pb::WalletBinding Binding(const std::string& wallet_id, const std::string& asset, pb::OwnerClass owner_class,
                          pb::Tier tier) {
  pb::WalletBinding b;
  b.set_wallet_id(wallet_id);
  b.set_asset(asset);
  b.set_owner_class(owner_class);
  b.set_tier(tier);
  return b;
}

pb::WalletBinding ClientHot() { return Binding("btc:client-hot", "btc", pb::OWNER_CLASS_CLIENT, pb::TIER_HOT); }

bool SameBinding(const pb::WalletBinding& a, const pb::WalletBinding& b) {
  return a.wallet_id() == b.wallet_id() && a.asset() == b.asset() && a.owner_class() == b.owner_class() &&
         a.tier() == b.tier();
}

pb::CreateKeyRequest CreateRequest(const pb::WalletBinding& binding, pb::KeyType type = pb::KEY_TYPE_SECP256K1) {
  pb::CreateKeyRequest r;
  r.set_key_type(type);
  r.set_purpose("binding-test");
  *r.mutable_binding() = binding;
  return r;
}

// The first schema's SQL, as signerd released it (schema version 1, before bindings).
constexpr char kSchemaV1[] = R"sql(
  CREATE TABLE keys (
    key_id TEXT PRIMARY KEY NOT NULL CHECK (length(key_id) = 32),
    key_type TEXT NOT NULL CHECK (key_type IN ('secp256k1', 'ed25519')),
    purpose TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created_unix_ms INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE sign_log (
    seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    time_unix_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key_id TEXT NOT NULL,
    fields BLOB NOT NULL,
    prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
  ) STRICT;
  CREATE INDEX sign_log_key ON sign_log (key_id, seq);
  CREATE TRIGGER sign_log_no_update BEFORE UPDATE ON sign_log
    BEGIN SELECT RAISE(ABORT, 'sign_log is append-only'); END;
  CREATE TRIGGER sign_log_no_delete BEFORE DELETE ON sign_log
    BEGIN SELECT RAISE(ABORT, 'sign_log is append-only'); END;
  CREATE TRIGGER keys_no_update BEFORE UPDATE ON keys
    BEGIN SELECT RAISE(ABORT, 'the key registry is append-only'); END;
  CREATE TRIGGER keys_no_delete BEFORE DELETE ON keys
    BEGIN SELECT RAISE(ABORT, 'the key registry is append-only'); END;
  PRAGMA user_version = 1;
)sql";

// Runs `sql` on the database file directly, as someone with access to the file could.
void RawSql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class BindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = std::make_unique<TokenSandbox>();
    sandbox_->ReleaseModule();  // signerd owns the token
    socket_ = sandbox_->dir() / "run" / "signerd.sock";
    std::filesystem::create_directories(socket_.parent_path());
    database_ = sandbox_->dir() / "signer.db";
    config_ = sandbox_->dir() / "signerd.toml";
    std::ofstream(config_) << "[server]\nsocket = \"" << socket_.string() << "\"\ndatabase = \""
                           << database_.string() << "\"\n\n[pkcs11]\nmodule = \"" << testing::ModulePath()
                           << "\"\ntoken_label = \"" << testing::kTokenLabel << "\"\npin_file = \""
                           << sandbox_->pin_file().string() << "\"\nsession_pool_size = 2\n";
  }
  void TearDown() override { StopSignerd(); }

  void StartSignerd() {
    signerd_ = std::make_unique<Process>(std::vector<std::string>{Signerd(), "--config", config_.string()},
                                         sandbox_->dir(), "signerd");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
    channel_ = grpc::CreateCustomChannel("unix:" + socket_.string(), grpc::InsecureChannelCredentials(), args);
    Process* p = signerd_.get();
    absl::Status serving = rpc::WaitForServing(channel_, pb::Signer::service_full_name(), std::chrono::seconds(60), [p] {
      return p->Exited() ? absl::FailedPreconditionError("signerd exited early") : absl::OkStatus();
    });
    ASSERT_TRUE(serving.ok()) << serving << "\n" << signerd_->Stderr();
    stub_ = pb::Signer::NewStub(channel_);
  }

  // Closes the test's connection first: gRPC's graceful shutdown would wait for it.
  void StopSignerd() {
    if (signerd_ == nullptr) return;
    stub_.reset();
    channel_.reset();
    signerd_->Signal(SIGTERM);
    EXPECT_EQ(signerd_->Wait(), 0) << signerd_->Stderr();
    signerd_.reset();
  }

  // `signerd --verify-log`: its exit code and stderr.
  std::pair<int, std::string> VerifyLog() {
    Process p({Signerd(), "--config", config_.string(), "--verify-log"}, sandbox_->dir(), "verify");
    int code = p.Wait();
    return {code, p.Stderr()};
  }

  grpc::Status Create(const pb::CreateKeyRequest& request, pb::Key* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::CreateKeyResponse response;
    grpc::Status s = stub_->CreateKey(&ctx, request, &response);
    if (out != nullptr) *out = response.key();
    return s;
  }

  grpc::Status Get(const std::string& key_id, pb::Key* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::GetKeyRequest request;
    request.set_key_id(key_id);
    pb::GetKeyResponse response;
    grpc::Status s = stub_->GetKey(&ctx, request, &response);
    *out = response.key();
    return s;
  }

  grpc::Status List(const std::string& wallet_id, std::vector<pb::Key>* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::ListKeysRequest request;
    request.set_wallet_id(wallet_id);
    pb::ListKeysResponse response;
    grpc::Status s = stub_->ListKeys(&ctx, request, &response);
    out->assign(response.keys().begin(), response.keys().end());
    return s;
  }

  size_t KeyCount() {
    std::vector<pb::Key> keys;
    grpc::Status s = List("", &keys);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return keys.size();
  }

  std::unique_ptr<TokenSandbox> sandbox_;
  std::filesystem::path socket_, database_, config_;
  std::unique_ptr<Process> signerd_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Signer::Stub> stub_;
};

TEST_F(BindingTest, CreateGetAndListReturnTheBindingAndListFiltersByWallet) {
  ASSERT_NO_FATAL_FAILURE(StartSignerd());
  const pb::WalletBinding bindings[] = {
      ClientHot(),
      Binding("btc:house-hot", "btc", pb::OWNER_CLASS_HOUSE, pb::TIER_HOT),
      Binding("eth:client-cold", "eth", pb::OWNER_CLASS_CLIENT, pb::TIER_COLD),
      ClientHot(),
  };
  std::vector<pb::Key> made;
  for (const pb::WalletBinding& b : bindings) {
    pb::Key key;
    grpc::Status s = Create(CreateRequest(b), &key);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(SameBinding(key.binding(), b)) << key.ShortDebugString();
    EXPECT_EQ(key.purpose(), "binding-test");
    made.push_back(key);
  }
  for (size_t i = 0; i < made.size(); ++i) {
    pb::Key got;
    ASSERT_TRUE(Get(made[i].key_id(), &got).ok());
    ASSERT_TRUE(got.has_binding());
    EXPECT_TRUE(SameBinding(got.binding(), bindings[i])) << got.ShortDebugString();
  }
  std::vector<pb::Key> all;
  ASSERT_TRUE(List("", &all).ok());
  ASSERT_EQ(all.size(), made.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].key_id(), made[i].key_id());
    EXPECT_TRUE(SameBinding(all[i].binding(), bindings[i]));
  }

  std::vector<pb::Key> hot;
  ASSERT_TRUE(List("btc:client-hot", &hot).ok());
  ASSERT_EQ(hot.size(), 2u);
  EXPECT_EQ(hot[0].key_id(), made[0].key_id());
  EXPECT_EQ(hot[1].key_id(), made[3].key_id());
  std::vector<pb::Key> house;
  ASSERT_TRUE(List("btc:house-hot", &house).ok());
  ASSERT_EQ(house.size(), 1u);
  EXPECT_EQ(house[0].key_id(), made[1].key_id());
  std::vector<pb::Key> none;
  ASSERT_TRUE(List("ltc:client-hot", &none).ok());
  EXPECT_TRUE(none.empty());

  grpc::Status bad = List("btc client-hot", &none);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("wallet_id: may hold only [A-Za-z0-9:._-]"));
  bad = List(std::string(65, 'w'), &none);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "request_limit: wallet_id: 65 bytes, at most 64");
}

TEST_F(BindingTest, RefusesEveryMalformedBindingWithNothingCreated) {
  ASSERT_NO_FATAL_FAILURE(StartSignerd());
  // At their limits the strings pass: 64 bytes of wallet id, 32 of asset.
  pb::Key at_limit;
  const pb::WalletBinding longest =
      Binding(std::string(60, 'w') + ":hot", std::string(32, 'A'), pb::OWNER_CLASS_HOUSE, pb::TIER_COLD);
  grpc::Status s = Create(CreateRequest(longest), &at_limit);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(SameBinding(at_limit.binding(), longest));
  ASSERT_EQ(KeyCount(), 1u);

  struct Case {
    const char* what;
    std::function<void(pb::CreateKeyRequest*)> change;
    const char* message;  // the refusal's message starts with this
  };
  auto wallet = [](std::string v) { return [v](pb::CreateKeyRequest* r) { r->mutable_binding()->set_wallet_id(v); }; };
  auto asset = [](std::string v) { return [v](pb::CreateKeyRequest* r) { r->mutable_binding()->set_asset(v); }; };
  auto owner = [](int v) {
    return [v](pb::CreateKeyRequest* r) { r->mutable_binding()->set_owner_class(static_cast<pb::OwnerClass>(v)); };
  };
  auto tier = [](int v) {
    return [v](pb::CreateKeyRequest* r) { r->mutable_binding()->set_tier(static_cast<pb::Tier>(v)); };
  };
  const Case cases[] = {
      {"no binding", [](pb::CreateKeyRequest* r) { r->clear_binding(); }, "binding: required"},
      {"empty binding", [](pb::CreateKeyRequest* r) { r->mutable_binding()->Clear(); },
       "binding.owner_class: must be OWNER_CLASS_CLIENT or OWNER_CLASS_HOUSE (got 0)"},
      {"wallet_id missing", wallet(""), "binding.wallet_id: must be 1 to 64 bytes"},
      {"wallet_id one over", wallet(std::string(61, 'w') + ":hot"),
       "request_limit: binding.wallet_id: 65 bytes, at most 64"},
      {"wallet_id 1 MiB", wallet(std::string(1 << 20, 'w')),
       "request_limit: binding.wallet_id: 1048576 bytes, at most 64"},
      {"wallet_id at sign", wallet("btc@client-hot"), "binding.wallet_id: may hold only [A-Za-z0-9:._-] (byte 3"},
      {"wallet_id space", wallet("btc client-hot"), "binding.wallet_id: may hold only [A-Za-z0-9:._-] (byte 3"},
      {"wallet_id slash", wallet("btc/client-hot"), "binding.wallet_id: may hold only [A-Za-z0-9:._-] (byte 3"},
      {"wallet_id control byte", wallet(std::string("btc:client-hot\n")),
       "binding.wallet_id: may hold only [A-Za-z0-9:._-] (byte 14"},
      {"asset missing", asset(""), "binding.asset: must be 1 to 32 bytes"},
      {"asset one over", asset(std::string(33, 'a')), "request_limit: binding.asset: 33 bytes, at most 32"},
      {"owner_class unspecified", owner(pb::OWNER_CLASS_UNSPECIFIED),
       "binding.owner_class: must be OWNER_CLASS_CLIENT or OWNER_CLASS_HOUSE (got 0)"},
      {"owner_class unknown", owner(7), "binding.owner_class: must be OWNER_CLASS_CLIENT or OWNER_CLASS_HOUSE (got 7)"},
      {"tier unspecified", tier(pb::TIER_UNSPECIFIED), "binding.tier: must be TIER_HOT or TIER_COLD (got 0)"},
      {"tier unknown", tier(9), "binding.tier: must be TIER_HOT or TIER_COLD (got 9)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    pb::CreateKeyRequest request = CreateRequest(ClientHot());
    c.change(&request);
    s = Create(request);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), StartsWith(c.message));
    EXPECT_LT(s.error_message().size(), 512u);
    EXPECT_EQ(KeyCount(), 1u);
  }
  // The log holds the one key made at the limits and nothing from the refusals.
  StopSignerd();
  auto [code, err] = VerifyLog();
  EXPECT_EQ(code, 0) << err;
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->ReadLog()->size(), 1u);
}

TEST_F(BindingTest, SignLogRecordsBindingsAndItsCheckCatchesAChangedOne) {
  ASSERT_NO_FATAL_FAILURE(StartSignerd());
  pb::Key client, house;
  ASSERT_TRUE(Create(CreateRequest(ClientHot()), &client).ok());
  ASSERT_TRUE(
      Create(CreateRequest(Binding("sol:house-hot", "sol", pb::OWNER_CLASS_HOUSE, pb::TIER_HOT), pb::KEY_TYPE_ED25519),
             &house)
          .ok());
  StopSignerd();

  auto [code, err] = VerifyLog();
  EXPECT_EQ(code, 0) << err;
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 2u);
    const LogEntry& entry = (*log)[1];
    EXPECT_EQ(entry.kind, "key_created");
    EXPECT_EQ(entry.key_id, house.key_id());
    auto text = [&entry](const char* name) {
      const std::vector<uint8_t>& v = entry.fields.at(name);
      return std::string(v.begin(), v.end());
    };
    EXPECT_EQ(text("wallet_id"), "sol:house-hot");
    EXPECT_EQ(text("asset"), "sol");
    EXPECT_EQ(text("owner_class"), "house");
    EXPECT_EQ(text("tier"), "hot");
    // The registry refuses to change a binding through signerd's own connection.
    absl::Status s = (*store)->Transact([](SignerStore::Txn& txn) -> absl::Status {
      char* e = nullptr;
      int rc = sqlite3_exec(txn.db(), "UPDATE key_bindings SET owner_class = 'client'", nullptr, nullptr, &e);
      std::string message = e != nullptr ? e : "";
      sqlite3_free(e);
      return rc == SQLITE_OK ? absl::OkStatus() : absl::FailedPreconditionError(message);
    });
    EXPECT_THAT(s.message(), HasSubstr("a wallet binding is immutable"));
    EXPECT_EQ((*store)->GetKey(house.key_id())->binding->owner_class, OwnerClass::kHouse);
  }

  // Someone with the file drops the guard and moves the house key into the client wallet.
  RawSql(database_, "DROP TRIGGER key_bindings_no_update; "
                    "UPDATE key_bindings SET owner_class = 'client', wallet_id = 'sol:client-hot' WHERE key_id = '" +
                        house.key_id() + "'");
  std::tie(code, err) = VerifyLog();
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("registered key " + house.key_id() + " differs from its key_created entry"));

  // Or removes a binding altogether.
  RawSql(database_, "DROP TRIGGER key_bindings_no_delete; DELETE FROM key_bindings WHERE key_id = '" +
                        client.key_id() + "'");
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->GetKey(client.key_id())->binding.has_value());
  absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(verified.status().message(), HasSubstr(client.key_id() + " differs from its key_created entry"));
}

TEST_F(BindingTest, FirstSchemaDatabaseUpgradesInPlaceWithOldKeysUnbound) {
  // A version-1 database with one key and its key_created entry, as the old signerd wrote them.
  const std::string old_id(32, 'a');
  const std::vector<uint8_t> old_public_key(33, 0x02);
  LogEntry entry;
  entry.seq = 1;
  entry.time_unix_ms = 1'600'000'000'000;
  entry.kind = "key_created";
  entry.key_id = old_id;
  entry.fields = {{"key_type", {'s', 'e', 'c', 'p', '2', '5', '6', 'k', '1'}},
                  {"public_key", old_public_key},
                  {"purpose", {'o', 'l', 'd'}}};
  absl::StatusOr<std::array<uint8_t, 32>> hash = ComputeLogEntryHash(entry);
  ASSERT_TRUE(hash.ok());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(database_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kSchemaV1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO keys VALUES (?, 'secp256k1', 'old', ?, 1600000000000)", -1, &st,
                                 nullptr),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, old_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, old_public_key.data(), static_cast<int>(old_public_key.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    const std::vector<uint8_t> fields = EncodeLogFields(entry.fields);
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO sign_log VALUES (1, ?, 'key_created', ?, ?, ?, ?)", -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_int64(st, 1, entry.time_unix_ms);
    sqlite3_bind_text(st, 2, old_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, fields.data(), static_cast<int>(fields.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, entry.prev_hash.data(), 32, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 5, hash->data(), 32, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto [code, err] = VerifyLog();  // upgrades the file, then checks it
  EXPECT_EQ(code, 0) << err;
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->schema_version(), 2);
    EXPECT_EQ(SignerStore::LatestSchemaVersion(), 2);
    absl::StatusOr<KeyRecord> old = (*store)->GetKey(old_id);
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(old->purpose, "old");
    EXPECT_EQ(old->public_key, old_public_key);
    EXPECT_FALSE(old->binding.has_value());
  }

  // signerd serves the upgraded file: the old key unbound, new keys bound, the chain continued.
  ASSERT_NO_FATAL_FAILURE(StartSignerd());
  pb::Key got;
  ASSERT_TRUE(Get(old_id, &got).ok());
  EXPECT_FALSE(got.has_binding());
  EXPECT_EQ(got.purpose(), "old");
  pb::Key fresh;
  ASSERT_TRUE(Create(CreateRequest(ClientHot()), &fresh).ok());
  EXPECT_TRUE(SameBinding(fresh.binding(), ClientHot()));
  std::vector<pb::Key> listed;
  ASSERT_TRUE(List("", &listed).ok());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].key_id(), old_id);
  EXPECT_FALSE(listed[0].has_binding());
  ASSERT_TRUE(List("btc:client-hot", &listed).ok());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key_id(), fresh.key_id());
  StopSignerd();
  std::tie(code, err) = VerifyLog();
  EXPECT_EQ(code, 0) << err;
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
  ASSERT_TRUE(store.ok());
  absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].prev_hash, *hash);
  EXPECT_FALSE((*log)[0].fields.contains("wallet_id"));
  EXPECT_TRUE((*log)[1].fields.contains("wallet_id"));
}

}  // namespace
// A key made before bindings is bound once (SignerStore::BindKey, behind `signerd bind-key`):
// the binding row and a key_bound entry in one transaction, never a second binding, and the log
// check accepts exactly that: a binding changed afterwards in the file is reported. While the
// database lock is held (a running signerd holds it), BindKeyOffline changes nothing.
TEST_F(BindingTest, AKeyWithoutABindingIsBoundOnceLoggedAndVerified) {
  const std::string old_id(32, 'b');
  const WalletBinding client_hot{"BTC:client-hot", "BTC", OwnerClass::kClient, Tier::kHot};
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    KeyRecord old;
    old.key_id = old_id;
    old.purpose = "old";
    old.public_key = std::vector<uint8_t>(33, 0x02);
    old.created_unix_ms = 1;
    ASSERT_TRUE((*store)->RegisterKey(old).ok());
    KeyRecord other = old;
    other.key_id = std::string(32, 'c');
    other.binding = client_hot;
    ASSERT_TRUE((*store)->RegisterKey(other).ok());
  }
  absl::StatusOr<Config> config = LoadConfig(config_.string());
  ASSERT_TRUE(config.ok()) << config.status();

  // While a signerd holds the lock: refused, nothing changed.
  {
    absl::StatusOr<int> lock = LockDatabase(database_.string());
    ASSERT_TRUE(lock.ok()) << lock.status();
    absl::StatusOr<LogEntry> refused = BindKeyOffline(*config, old_id, client_hot);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr("a signerd is running on it"));
    EXPECT_EQ(LockDatabase(database_.string()).status().code(), absl::StatusCode::kFailedPrecondition);
    close(*lock);
  }
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok());
    EXPECT_FALSE((*store)->GetKey(old_id)->binding.has_value());
  }

  // Bad input, an unknown key, a wallet id other keys bind differently: refused.
  EXPECT_EQ(BindKeyOffline(*config, "B" + std::string(31, 'b'), client_hot).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BindKeyOffline(*config, old_id, {"", "BTC", OwnerClass::kClient, Tier::kHot}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BindKeyOffline(*config, std::string(32, 'd'), client_hot).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<LogEntry> conflicting =
      BindKeyOffline(*config, old_id, {"BTC:client-hot", "BTC", OwnerClass::kHouse, Tier::kHot});
  EXPECT_EQ(conflicting.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(conflicting.status().message(), HasSubstr("one wallet id names one wallet"));

  absl::StatusOr<LogEntry> bound = BindKeyOffline(*config, old_id, client_hot);
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->kind, "key_bound");
  EXPECT_EQ(bound->key_id, old_id);
  EXPECT_EQ(std::string(bound->fields.at("owner_class").begin(), bound->fields.at("owner_class").end()), "client");
  absl::StatusOr<LogEntry> again = BindKeyOffline(*config, old_id, {"BTC:house-hot", "BTC", OwnerClass::kHouse, Tier::kHot});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already bound to wallet BTC:client-hot"));
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(database_.string());
    ASSERT_TRUE(store.ok());
    // The store itself refuses a second binding too (what bind-key's own check guards).
    EXPECT_EQ((*store)->BindKey(old_id, client_hot, 2).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ((*store)->GetKey(old_id)->binding, client_hot);
    absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
    EXPECT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(*verified, 3u);
  }
  auto [code, err] = VerifyLog();
  EXPECT_EQ(code, 0) << err;

  // The later binding changed in the file no longer matches its key_bound entry.
  RawSql(database_, "DROP TRIGGER key_bindings_no_update; UPDATE key_bindings SET owner_class = 'house' WHERE key_id = '" +
                        old_id + "'");
  std::tie(code, err) = VerifyLog();
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("registered key " + old_id + " differs from its key_created and key_bound entries"));
}

// One wallet id is one wallet: CreateKey refuses a binding whose wallet id another key binds
// with another asset, owner class or tier, and generates nothing.
TEST_F(BindingTest, CreateKeyRefusesASecondDefinitionOfAWallet) {
  ASSERT_NO_FATAL_FAILURE(StartSignerd());
  pb::Key first;
  ASSERT_TRUE(Create(CreateRequest(ClientHot()), &first).ok());
  pb::Key same;
  ASSERT_TRUE(Create(CreateRequest(ClientHot()), &same).ok());
  for (const pb::WalletBinding& other :
       {Binding("btc:client-hot", "btc", pb::OWNER_CLASS_HOUSE, pb::TIER_HOT),
        Binding("btc:client-hot", "btc", pb::OWNER_CLASS_CLIENT, pb::TIER_COLD),
        Binding("btc:client-hot", "eth", pb::OWNER_CLASS_CLIENT, pb::TIER_HOT)}) {
    pb::Key refused;
    grpc::Status s = Create(CreateRequest(other), &refused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("one wallet id names one wallet"));
  }
  std::vector<pb::Key> listed;
  ASSERT_TRUE(List("", &listed).ok());
  EXPECT_EQ(listed.size(), 2u);
}

}  // namespace ringfence::signer
