// signer_core parts that need no token: the checks of token signatures, the PIN sources, the
// config parser and the store with its hash-chained log.
#include <fcntl.h>
#include <secp256k1.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chain/ecdsa.h"
#include "signer/config.h"
#include "signer/crypto.h"
#include "signer/pin.h"
#include "signer/store.h"
#include "tests/common/temp_dir.h"

namespace ringfence::signer {
namespace {

using ::testing::HasSubstr;
using ringfence::testing::TempDir;

// ---------------------------------------------------------------------------------------
// CheckTokenEcdsa: the checks signerd runs on a token's ECDSA output. (Normalisation and the
// recovery id themselves are chain::FinishSignature's, tested in tests/chain.)

struct SoftKey {
  std::array<uint8_t, 32> seckey{};
  std::vector<uint8_t> pub33;
};

SoftKey MakeSoftKey(secp256k1_context* ctx) {
  SoftKey k;
  do {
    randombytes_buf(k.seckey.data(), 32);
  } while (!secp256k1_ec_seckey_verify(ctx, k.seckey.data()));
  secp256k1_pubkey pub;
  EXPECT_TRUE(secp256k1_ec_pubkey_create(ctx, &pub, k.seckey.data()));
  k.pub33.resize(33);
  size_t len = 33;
  secp256k1_ec_pubkey_serialize(ctx, k.pub33.data(), &len, &pub, SECP256K1_EC_COMPRESSED);
  return k;
}

std::array<uint8_t, 64> Sign(secp256k1_context* ctx, const SoftKey& key, const std::array<uint8_t, 32>& digest) {
  secp256k1_ecdsa_signature sig;
  EXPECT_TRUE(secp256k1_ecdsa_sign(ctx, &sig, digest.data(), key.seckey.data(), nullptr, nullptr));
  std::array<uint8_t, 64> compact{};
  secp256k1_ecdsa_signature_serialize_compact(ctx, compact.data(), &sig);
  return compact;
}

TEST(CheckTokenEcdsaTest, TheKeysSignatureComesBackCanonical) {
  ASSERT_GE(sodium_init(), 0);
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  SoftKey key = MakeSoftKey(ctx);
  std::array<uint8_t, 32> digest{};
  randombytes_buf(digest.data(), 32);
  const std::array<uint8_t, 64> compact = Sign(ctx, key, digest);
  absl::StatusOr<chain::FinishedSignature> sig =
      CheckTokenEcdsa(compact, digest, key.pub33, chain::RecoveryId::kCompute);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->compact, compact);
  EXPECT_TRUE(sig->recovery_id.has_value());
  secp256k1_context_destroy(ctx);
}

TEST(CheckTokenEcdsaTest, MalformedTokenOutputIsUnavailable) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  SoftKey key = MakeSoftKey(ctx);
  std::array<uint8_t, 32> digest{};
  for (const std::vector<uint8_t>& bad : {std::vector<uint8_t>(63, 1), std::vector<uint8_t>(64, 0),
                                          std::vector<uint8_t>(64, 0xff)}) {
    absl::StatusOr<chain::FinishedSignature> r = CheckTokenEcdsa(bad, digest, key.pub33, chain::RecoveryId::kSkip);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(r.status().message(), HasSubstr("the token's ECDSA signature cannot be used"));
  }
  secp256k1_context_destroy(ctx);
}

TEST(CheckTokenEcdsaDeathTest, SignatureThatDoesNotVerifyAborts) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  SoftKey signer = MakeSoftKey(ctx);
  SoftKey other = MakeSoftKey(ctx);
  std::array<uint8_t, 32> digest{};
  randombytes_buf(digest.data(), 32);
  const std::array<uint8_t, 64> compact = Sign(ctx, signer, digest);
  for (const chain::RecoveryId recovery : {chain::RecoveryId::kSkip, chain::RecoveryId::kCompute}) {
    EXPECT_DEATH(CheckTokenEcdsa(compact, digest, other.pub33, recovery).IgnoreError(),
                 "invariant broken.*does not verify");
  }
  secp256k1_context_destroy(ctx);
}

TEST(CheckEd25519DeathTest, ForeignSignatureAborts) {
  ASSERT_GE(sodium_init(), 0);
  std::array<uint8_t, 32> pk{}, pk2{};
  std::array<uint8_t, 64> sk{}, sk2{};
  crypto_sign_keypair(pk.data(), sk.data());
  crypto_sign_keypair(pk2.data(), sk2.data());
  std::vector<uint8_t> msg = {'h', 'i'};
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), sk.data());
  EXPECT_TRUE(CheckEd25519(sig, msg, pk).ok());
  EXPECT_DEATH(CheckEd25519(sig, msg, pk2).IgnoreError(), "invariant broken.*Ed25519");
  std::vector<uint8_t> short_sig(10);
  EXPECT_THAT(CheckEd25519(short_sig, msg, pk).message(), HasSubstr("10-byte Ed25519 signature"));
}

// ---------------------------------------------------------------------------------------
// PIN sources.

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& content,
                      mode_t mode) {
  std::string path = (dir / name).string();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  chmod(path.c_str(), mode);
  return path;
}

TEST(PinTest, ReadsFileWithoutTheLineEnding) {
  TempDir dir("signer-pin");
  absl::StatusOr<base::SecretBytes> pin = ReadPinFile(WriteFile(dir, "p", "1234\r\n", 0600));
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(pin->data()), pin->size()), "1234");
  pin = ReadPinFile(WriteFile(dir, "q", "abcd", 0400));
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ(pin->size(), 4u);
}

TEST(PinTest, RejectsBadFiles) {
  TempDir dir("signer-pin");
  EXPECT_THAT(ReadPinFile((dir / "missing").string()).status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(ReadPinFile(WriteFile(dir, "open", "1234", 0644)).status().message(),
              HasSubstr("accessible by group or others (mode 0644)"));
  EXPECT_THAT(ReadPinFile(WriteFile(dir, "empty", "\n", 0600)).status().message(), HasSubstr("empty PIN"));
  EXPECT_THAT(ReadPinFile(WriteFile(dir, "two", "12\n34\n", 0600)).status().message(),
              HasSubstr("line break"));
  EXPECT_THAT(ReadPinFile(WriteFile(dir, "nul", std::string("12\0" "34", 5), 0600)).status().message(),
              HasSubstr("NUL"));
  EXPECT_THAT(ReadPinFile(WriteFile(dir, "big", std::string(kMaxPinLength + 1, '7'), 0600))
                  .status().message(),
              HasSubstr("longer than 256 bytes"));
  EXPECT_TRUE(ReadPinFile(WriteFile(dir, "max", std::string(kMaxPinLength, '7') + "\n", 0600)).ok());
  EXPECT_THAT(ReadPinFile(dir.path().string()).status().message(), HasSubstr("not a regular file"));
}

TEST(PinTest, ReadsEnvironment) {
  setenv("RINGFENCE_TEST_PIN", "9876", 1);
  absl::StatusOr<base::SecretBytes> pin = ReadPinEnv("RINGFENCE_TEST_PIN");
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(std::memcmp(pin->data(), "9876", 4), 0);
  setenv("RINGFENCE_TEST_PIN", "", 1);
  EXPECT_THAT(ReadPinEnv("RINGFENCE_TEST_PIN").status().message(), HasSubstr("empty PIN"));
  unsetenv("RINGFENCE_TEST_PIN");
  EXPECT_THAT(ReadPinEnv("RINGFENCE_TEST_PIN").status().message(),
              HasSubstr("pin_env variable 'RINGFENCE_TEST_PIN' is not set"));
}

// ---------------------------------------------------------------------------------------
// Config.

constexpr char kGoodConfig[] = R"(
[server]
socket = "/run/ringfence/signerd.sock"
database = "/var/lib/ringfence/signer.db"

[pkcs11]
module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "hot"
pin_file = "/etc/ringfence/pin"
session_pool_size = 8
)";

std::string ConfigError(const std::string& text) {
  absl::StatusOr<Config> c = ParseConfig(text, "test.toml");
  EXPECT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ConfigTest, ParsesAGoodConfig) {
  absl::StatusOr<Config> c = ParseConfig(kGoodConfig, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.socket, "/run/ringfence/signerd.sock");
  EXPECT_EQ(c->server.database, "/var/lib/ringfence/signer.db");
  EXPECT_EQ(c->pkcs11.module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(c->pkcs11.token_label, "hot");
  EXPECT_EQ(c->pkcs11.pin_file, "/etc/ringfence/pin");
  EXPECT_TRUE(c->pkcs11.pin_env.empty());
  EXPECT_EQ(c->pkcs11.session_pool_size, 8u);
  // Optional pool size defaults; pin_env instead of pin_file.
  std::string env = Replace(Replace(kGoodConfig, "session_pool_size = 8\n", ""),
                            "pin_file = \"/etc/ringfence/pin\"", "pin_env = \"SIGNER_PIN\"");
  c = ParseConfig(env, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->pkcs11.session_pool_size, 4u);
  EXPECT_EQ(c->pkcs11.pin_env, "SIGNER_PIN");
}

TEST(ConfigTest, OptionalTransactionsSection) {
  absl::StatusOr<Config> c = ParseConfig(kGoodConfig, "test.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->transactions.has_value());
  c = ParseConfig(std::string(kGoodConfig) + "[transactions]\nconfig = \"/etc/ringfence/tx.toml\"\n",
                  "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->transactions.has_value());
  EXPECT_EQ(c->transactions->config, "/etc/ringfence/tx.toml");
  EXPECT_THAT(ConfigError(std::string(kGoodConfig) + "[transactions]\n"),
              HasSubstr("missing required field 'transactions.config'"));
  EXPECT_THAT(ConfigError(std::string(kGoodConfig) + "[transactions]\nconfig = \"tx.toml\"\n"),
              HasSubstr("'transactions.config' must be an absolute path"));
  EXPECT_THAT(ConfigError(std::string(kGoodConfig) +
                          "[transactions]\nconfig = \"/tx.toml\"\nnetworks = []\n"),
              HasSubstr("unknown field 'transactions.networks'"));
}

TEST(ConfigTest, UnknownFieldsAreNamed) {
  EXPECT_THAT(ConfigError(std::string(kGoodConfig) + "[approvers]\nx = 1\n"),
              HasSubstr("unknown field 'approvers'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "token_label", "colour = 1\ntoken_label")),
              HasSubstr("unknown field 'pkcs11.colour'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "database", "port = 5\ndatabase")),
              HasSubstr("unknown field 'server.port'"));
  EXPECT_THAT(ConfigError(std::string("top = 1\n") + kGoodConfig), HasSubstr("unknown field 'top'"));
}

TEST(ConfigTest, MissingFieldsAreNamed) {
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "socket = \"/run/ringfence/signerd.sock\"", "")),
              HasSubstr("missing required field 'server.socket'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "database = \"/var/lib/ringfence/signer.db\"", "")),
              HasSubstr("missing required field 'server.database'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "module = \"/usr/lib/softhsm/libsofthsm2.so\"", "")),
              HasSubstr("missing required field 'pkcs11.module'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "token_label = \"hot\"", "")),
              HasSubstr("missing required field 'pkcs11.token_label'"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "pin_file = \"/etc/ringfence/pin\"", "")),
              HasSubstr("exactly one of 'pkcs11.pin_file' and 'pkcs11.pin_env' must be set (neither is)"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "[pkcs11]", "[pkcs11]\npin_env = \"X\"")),
              HasSubstr("(both are)"));
  EXPECT_THAT(ConfigError("[server]\nsocket = \"/a\"\ndatabase = \"/b\"\n"),
              HasSubstr("missing required section [pkcs11]"));
  EXPECT_THAT(ConfigError(""), HasSubstr("missing required section [server]"));
}

TEST(ConfigTest, WrongTypesAndRangesAreNamed) {
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "session_pool_size = 8", "session_pool_size = \"8\"")),
              HasSubstr("'pkcs11.session_pool_size' must be an integer"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "session_pool_size = 8", "session_pool_size = 0")),
              HasSubstr("'pkcs11.session_pool_size' must be between 1 and 64 (got 0)"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "session_pool_size = 8", "session_pool_size = -3")),
              HasSubstr("must be between 1 and 64 (got -3)"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "session_pool_size = 8",
                                  "session_pool_size = 99999999999999999999")),
              HasSubstr("test.toml"));  // Integer overflow is a TOML parse error.
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "token_label = \"hot\"", "token_label = 7")),
              HasSubstr("'pkcs11.token_label' must be a string"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "token_label = \"hot\"",
                                  "token_label = \"" + std::string(33, 'x') + "\"")),
              HasSubstr("'pkcs11.token_label' must be 1 to 32 bytes"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "\"/var/lib/ringfence/signer.db\"", "\"signer.db\"")),
              HasSubstr("'server.database' must be an absolute path"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "\"/run/ringfence/signerd.sock\"",
                                  "\"/" + std::string(120, 's') + "\"")),
              HasSubstr("a Unix socket path holds at most 107"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "[server]", "server = 3\n[other]")),
              HasSubstr("unknown field 'other'"));
  EXPECT_THAT(ConfigError("server = 3\n"), HasSubstr("'server' must be a section"));
}

TEST(ConfigTest, MalformedAndDuplicateTomlIsAParseError) {
  EXPECT_THAT(ConfigError(std::string(kGoodConfig) + "[pkcs11]\n"), HasSubstr("test.toml' line"));
  EXPECT_THAT(ConfigError(Replace(kGoodConfig, "token_label = \"hot\"",
                                  "token_label = \"hot\"\ntoken_label = \"cold\"")),
              HasSubstr("test.toml' line"));
  EXPECT_THAT(ConfigError("[server\n"), HasSubstr("line 1"));
  EXPECT_THAT(ConfigError(std::string(kMaxConfigSize + 1, '#')), HasSubstr("larger than"));
}

TEST(ConfigTest, LoadConfigNamesTheFile) {
  TempDir dir("signer-config");
  EXPECT_THAT(LoadConfig((dir / "nope.toml").string()).status().message(),
              HasSubstr("config file '" + (dir / "nope.toml").string() + "' does not exist"));
  std::string path = WriteFile(dir, "c.toml", kGoodConfig, 0600);
  EXPECT_TRUE(LoadConfig(path).ok());
}

// ---------------------------------------------------------------------------------------
// Store and sign log.

KeyRecord MakeKey(int n) {
  KeyRecord k;
  k.key_id = std::string(31, 'a') + static_cast<char>('0' + n);
  k.type = n % 2 == 0 ? KeyType::kSecp256k1 : KeyType::kEd25519;
  k.purpose = "purpose-" + std::to_string(n);
  k.public_key = std::vector<uint8_t>(n % 2 == 0 ? 33 : 32, static_cast<uint8_t>(n));
  k.created_unix_ms = 1000 + n;
  return k;
}

TEST(StoreTest, RegistersKeysAndChainsTheLog) {
  TempDir dir("signer-store");
  std::string path = (dir / "s.db").string();
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), SignerStore::LatestSchemaVersion());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*store)->RegisterKey(MakeKey(i)).ok());
  absl::StatusOr<LogEntry> sig = (*store)->AppendLog(2000, "signature", MakeKey(0).key_id,
                                                     {{"digest", std::vector<uint8_t>(32, 9)}});
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->seq, 4u);

  absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].prev_hash, (std::array<uint8_t, 32>{}));
  for (size_t i = 1; i < log->size(); ++i) EXPECT_EQ((*log)[i].prev_hash, (*log)[i - 1].hash);
  EXPECT_EQ((*log)[1].fields.at("purpose"), std::vector<uint8_t>({'p', 'u', 'r', 'p', 'o', 's', 'e', '-', '1'}));

  absl::StatusOr<KeyRecord> got = (*store)->GetKey(MakeKey(1).key_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->type, KeyType::kEd25519);
  EXPECT_EQ(got->public_key, MakeKey(1).public_key);
  EXPECT_EQ((*store)->GetKey("b").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<KeyRecord>> keys = (*store)->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[2].key_id, MakeKey(2).key_id);

  // A duplicate key id changes nothing, not even the log.
  absl::StatusOr<LogEntry> dup = (*store)->RegisterKey(MakeKey(1));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->ReadLog()->size(), 4u);

  absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, 4u);

  // Survives reopening, chain intact.
  store->reset();
  store = SignerStore::Open(path);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->VerifyLog(), 4u);
  absl::StatusOr<LogEntry> next = (*store)->AppendLog(3000, "signature", "", {});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->prev_hash, (*log)[3].hash);
}

TEST(StoreTest, LogIsAppendOnlyThroughItsConnection) {
  TempDir dir("signer-store");
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open((dir / "s.db").string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RegisterKey(MakeKey(2)).ok());
  absl::Status s = (*store)->Transact([](SignerStore::Txn& txn) -> absl::Status {
    char* err = nullptr;
    int rc = sqlite3_exec(txn.db(), "UPDATE sign_log SET time_unix_ms = 5", nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    if (rc != SQLITE_OK) return absl::FailedPreconditionError(message);
    return absl::OkStatus();
  });
  EXPECT_THAT(s.message(), HasSubstr("sign_log is append-only"));
  EXPECT_TRUE((*store)->VerifyLog().ok());
}

// Rewrites the database behind the store's back (dropping the guard triggers), as an
// attacker with file access could, and checks VerifyLog notices.
void Tamper(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string all = "DROP TRIGGER sign_log_no_update; DROP TRIGGER sign_log_no_delete; "
                    "DROP TRIGGER keys_no_update; DROP TRIGGER keys_no_delete; " + sql;
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class TamperTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(TamperTest, VerifyLogNamesTheBrokenEntry) {
  TempDir dir("signer-store");
  std::string path = (dir / "s.db").string();
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(path);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE((*store)->RegisterKey(MakeKey(i)).ok());
    ASSERT_TRUE((*store)->VerifyLog().ok());
  }
  Tamper(path, GetParam().first);
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
  ASSERT_EQ(verified.status().code(), absl::StatusCode::kDataLoss) << verified.status();
  EXPECT_THAT(verified.status().message(), HasSubstr(GetParam().second));
}

INSTANTIATE_TEST_SUITE_P(
    Tampering, TamperTest,
    ::testing::Values(
        std::make_pair("UPDATE sign_log SET time_unix_ms = 1 WHERE seq = 2",
                       "entry 2 does not match its hash"),
        std::make_pair("DELETE FROM sign_log WHERE seq = 2", "entry 2 is missing (found 3 instead)"),
        std::make_pair("DELETE FROM sign_log WHERE seq = 4",
                       "has no key_created entry"),
        std::make_pair("UPDATE sign_log SET prev_hash = zeroblob(32) WHERE seq = 3",
                       "entry 3 does not link to entry 2"),
        std::make_pair("UPDATE keys SET public_key = x'00' WHERE rowid = 1",
                       "differs from its key_created entry"),
        std::make_pair("UPDATE sign_log SET fields = x'0000' WHERE seq = 1",
                       "sign log entry 1: log fields: truncated count")));

TEST(StoreTest, RejectsBadNamesAndNewerSchemaAndGarbageFiles) {
  TempDir dir("signer-store");
  std::string path = (dir / "s.db").string();
  {
    absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(path);
    ASSERT_TRUE(store.ok());
    EXPECT_THAT((*store)->AppendLog(1, "Bad Kind", "", {}).status().message(),
                HasSubstr("kind 'Bad Kind' must be 1..64 characters of [a-z0-9_]"));
    EXPECT_THAT((*store)->AppendLog(1, "ok", "", {{"UPPER", {}}}).status().message(),
                HasSubstr("log field name 'UPPER'"));
    EXPECT_EQ((*store)->ReadLog()->size(), 0u);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT(SignerStore::Open(path).status().message(),
              HasSubstr("schema version 99 is newer than this signerd knows"));

  std::string garbage = (dir / "garbage.db").string();
  std::ofstream(garbage) << std::string(4096, 'g');
  absl::StatusOr<std::unique_ptr<SignerStore>> bad = SignerStore::Open(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("garbage.db"));
}

TEST(LogFieldsTest, RoundTripsAndRejectsMalformedEncodings) {
  LogFields fields = {{"a", {1, 2}}, {"b_2", {}}, {"z", std::vector<uint8_t>(300, 7)}};
  std::vector<uint8_t> enc = EncodeLogFields(fields);
  absl::StatusOr<LogFields> dec = DecodeLogFields(enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, fields);

  std::vector<uint8_t> truncated(enc.begin(), enc.end() - 1);
  EXPECT_THAT(DecodeLogFields(truncated).status().message(), HasSubstr("field 2 is truncated"));
  std::vector<uint8_t> trailing = enc;
  trailing.push_back(0);
  EXPECT_THAT(DecodeLogFields(trailing).status().message(), HasSubstr("trailing bytes"));
  // Duplicate and out-of-order names: encode by hand.
  std::vector<uint8_t> dup = {0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0};
  EXPECT_THAT(DecodeLogFields(dup).status().message(), HasSubstr("'a' is out of order or repeated"));
  // A length that overflows the input.
  std::vector<uint8_t> huge = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 'a'};
  EXPECT_THAT(DecodeLogFields(huge).status().message(), HasSubstr("truncated"));
  // A count far beyond the data.
  std::vector<uint8_t> many = {0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(DecodeLogFields(many).ok());
  std::vector<uint8_t> badname = {0, 0, 0, 1, 0, 0, 0, 1, 'A', 0, 0, 0, 0};
  EXPECT_THAT(DecodeLogFields(badname).status().message(), HasSubstr("invalid name"));
}

TEST(LogHashTest, EveryPartOfAnEntryIsCovered) {
  LogEntry e;
  e.seq = 7;
  e.time_unix_ms = 123;
  e.kind = "signature";
  e.key_id = std::string(32, 'c');
  e.fields = {{"digest", std::vector<uint8_t>(32, 1)}};
  e.prev_hash.fill(4);
  std::array<uint8_t, 32> base = *ComputeLogEntryHash(e);
  auto differs = [&](auto mutate) {
    LogEntry m = e;
    mutate(m);
    return *ComputeLogEntryHash(m) != base;
  };
  EXPECT_TRUE(differs([](LogEntry& m) { m.seq = 8; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.time_unix_ms = 124; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.kind = "signaturf"; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.key_id[0] = 'd'; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.fields["digest"][0] = 2; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.fields["extra"] = {}; }));
  EXPECT_TRUE(differs([](LogEntry& m) { m.prev_hash[31] = 5; }));
  // Moving bytes between kind and key_id must change the hash (length prefixes).
  EXPECT_TRUE(differs([](LogEntry& m) {
    m.kind = "signaturec";
    m.key_id = std::string(31, 'c');
  }));
}

}  // namespace
}  // namespace ringfence::signer
