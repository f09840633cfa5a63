// Unit tests of hsm_sim_core below the PKCS#11 surface: the strict encodings (DER signatures,
// CKA_EC_PARAMS, CKA_EC_POINT), sealing and PIN key derivation, the environment settings, and
// the SQLite token store's handling of missing, damaged and well-formed files.
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hsm_sim/config.h"
#include "hsm_sim/crypto.h"
#include "hsm_sim/token_store.h"
#include "tests/common/temp_dir.h"
#include "tests/common/vectors.h"

namespace ringfence::hsm_sim {
namespace {

using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::TempDir;
using Bytes = std::vector<uint8_t>;

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

Bytes Der(const std::string& hex) { return HexToBytes(hex); }

TEST_F(CoreTest, DerSignatureParserAcceptsOnlyStrictDer) {
  // r = 1, s = 2.
  const auto ok = ParseDerSignature(Der("3006020101020102"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)[31], 1);
  EXPECT_EQ((*ok)[63], 2);
  EXPECT_EQ((*ok)[0], 0);
  // A leading zero is required (and allowed) exactly when the top bit is set.
  const std::string r33 = "0221008" + std::string(63, '1');
  const auto high = ParseDerSignature(Der("3026" + r33 + "020101"));
  ASSERT_TRUE(high.has_value());
  EXPECT_EQ((*high)[0], 0x81);

  const std::vector<std::pair<const char*, std::string>> bad = {
      {"empty", ""},
      {"too short", "300602010102"},
      {"not a sequence", "3106020101020102"},
      {"sequence length too long", "3007020101020102"},
      {"sequence length too short", "3005020101020102"},
      {"long-form sequence length", "308106020101020102"},
      {"trailing byte", "300602010102010200"},
      {"r not an integer", "3006030101020102"},
      {"zero-length r", "30050200020102"},
      {"negative r", "3006020181020102"},
      {"needless leading zero", "300702020001020102"},
      {"needless leading zero on s", "30070201010202000a"},
      {"r longer than 32 bytes", "3027022201" + std::string(66, '1') + "020101"},
      {"r with 33 bytes and no sign reason", "302602210" + std::string(65, '1') + "020101"},
      {"s missing", "3003020101"},
      {"s runs past the end", "3006020101020202"},
      {"long-form integer length", "300702810101020102"},
      {"oversized input", "30" + std::string(400, '0')},
  };
  for (const auto& [what, hex] : bad) {
    EXPECT_FALSE(ParseDerSignature(Der(hex)).has_value()) << what;
  }
}

TEST_F(CoreTest, EcParamsNameOnlyTheSupportedCurves) {
  EXPECT_EQ(CurveFromEcParams(Der("06052b8104000a")), Curve::kSecp256k1);
  EXPECT_EQ(CurveFromEcParams(Der("06032b6570")), Curve::kEd25519);
  EXPECT_EQ(CurveFromEcParams(Der("06092b06010401da470f01")), Curve::kEd25519);
  EXPECT_EQ(CurveFromEcParams(Der("130b6564776172647332353531")), std::nullopt);
  EXPECT_EQ(CurveFromEcParams(Der("130c656477617264733235353139")), Curve::kEd25519);
  EXPECT_EQ(CurveFromEcParams(Der("130c656477617264733235353138")), std::nullopt);
  EXPECT_EQ(CurveFromEcParams(Der("06082a8648ce3d030107")), std::nullopt);  // P-256
  EXPECT_EQ(CurveFromEcParams(Der("06052b8104000a00")), std::nullopt);
  EXPECT_EQ(CurveFromEcParams(Der("06052b81040022")), std::nullopt);  // P-384
  EXPECT_EQ(CurveFromEcParams(Der("0c0c656477617264733235353139")), std::nullopt);
  EXPECT_EQ(CurveFromEcParams(Bytes()), std::nullopt);
  EXPECT_EQ(Secp256k1EcParams(), Der("06052b8104000a"));
  EXPECT_EQ(EncodeEcPoint(Bytes(32, 7)).size(), 34u);
  EXPECT_EQ(EncodeEcPoint(Bytes(65, 4))[1], 65);
}

TEST_F(CoreTest, VerificationRejectsMalformedInputs) {
  std::array<uint8_t, 32> d{};
  d[31] = 5;
  std::array<uint8_t, 65> pub;
  ASSERT_TRUE(Secp256k1PublicKey(d, pub));
  std::array<uint8_t, 32> digest{};
  digest[0] = 1;
  EcdsaSignature sig;
  ASSERT_TRUE(EcdsaSign(d, digest, nullptr, &sig));
  EXPECT_TRUE(EcdsaVerifyCompact(pub, digest, sig.compact));
  EXPECT_FALSE(EcdsaVerifyCompact(pub, Bytes(31, 1), sig.compact));
  EXPECT_FALSE(EcdsaVerifyCompact(pub, digest, Bytes(sig.compact.begin(), sig.compact.end() - 1)));
  EXPECT_FALSE(EcdsaVerifyCompact(Bytes(pub.begin(), pub.end() - 1), digest, sig.compact));
  EXPECT_FALSE(EcdsaVerifyCompact(Bytes(), digest, sig.compact));
  Bytes all_ff(64, 0xff);
  EXPECT_FALSE(EcdsaVerifyCompact(pub, digest, all_ff));
  EXPECT_FALSE(EcdsaVerifyCompact(pub, digest, Bytes(64, 0)));
  std::array<uint8_t, 32> zero{};
  EXPECT_FALSE(Secp256k1SecretValid(zero));
  EXPECT_FALSE(Ed25519Verify(Bytes(31, 1), Bytes(), Bytes(64, 0)));
  EXPECT_FALSE(Ed25519Verify(Bytes(32, 1), Bytes(), Bytes(65, 0)));
}

TEST_F(CoreTest, SealOpensOnlyWithTheSameKeyAndAssociatedData) {
  std::array<uint8_t, kSealKeySize> key, other;
  randombytes_buf(key.data(), key.size());
  randombytes_buf(other.data(), other.size());
  const Bytes secret(32, 0x5a), ad = {'a', 'd'};
  const Bytes sealed = Seal(key, secret, ad);
  ASSERT_EQ(sealed.size(), secret.size() + kSealOverhead);
  EXPECT_NE(Seal(key, secret, ad), sealed) << "each seal draws a fresh nonce";
  Bytes out(32);
  ASSERT_TRUE(Open(key, sealed, ad, out));
  EXPECT_EQ(out, secret);
  EXPECT_FALSE(Open(other, sealed, ad, out));
  EXPECT_FALSE(Open(key, sealed, Bytes{'a', 'e'}, out));
  Bytes flipped = sealed;
  flipped[30] ^= 1;
  EXPECT_FALSE(Open(key, flipped, ad, out));
  Bytes wrong_size(31);
  EXPECT_FALSE(Open(key, sealed, ad, wrong_size));
  EXPECT_FALSE(Open(key, Bytes(10), ad, out));
}

TEST_F(CoreTest, PinKeyDerivationDependsOnPinAndSalt) {
  std::array<uint8_t, kKdfSaltSize> salt{}, salt2{};
  salt2[0] = 1;
  const KdfCost cost{1, 8192};
  const Bytes pin = {'1', '2', '3', '4'}, pin2 = {'1', '2', '3', '5'};
  base::SecretBytes a, b, c, d;
  ASSERT_TRUE(DerivePinKey(pin, salt, cost, &a));
  ASSERT_TRUE(DerivePinKey(pin, salt, cost, &b));
  ASSERT_TRUE(DerivePinKey(pin2, salt, cost, &c));
  ASSERT_TRUE(DerivePinKey(pin, salt2, cost, &d));
  ASSERT_EQ(a.size(), 32u);
  EXPECT_EQ(sodium_memcmp(a.data(), b.data(), 32), 0);
  EXPECT_NE(sodium_memcmp(a.data(), c.data(), 32), 0);
  EXPECT_NE(sodium_memcmp(a.data(), d.data(), 32), 0);
  base::SecretBytes e;
  EXPECT_FALSE(DerivePinKey(pin, salt, KdfCost{0, 8192}, &e));
  EXPECT_FALSE(DerivePinKey(pin, salt, KdfCost{1, 1024}, &e));
  EXPECT_TRUE(e.empty());
}

TEST_F(CoreTest, ConfigNamesTheVariableAndItsRule) {
  const char* vars[] = {"HSM_SIM_DIR",
                        "HSM_SIM_ARGON2_OPSLIMIT",
                        "HSM_SIM_ARGON2_MEMLIMIT_KIB",
                        "HSM_SIM_MAX_PIN_TRIES",
                        "HSM_SIM_LATENCY_US",
                        "HSM_SIM_FAIL_SIGN_EVERY",
                        "HSM_SIM_FAIL_OPEN_SESSION"};
  for (const char* v : vars) unsetenv(v);
  EXPECT_FALSE(Config::FromEnvironment().ok());
  setenv("HSM_SIM_DIR", "", 1);
  EXPECT_FALSE(Config::FromEnvironment().ok());
  setenv("HSM_SIM_DIR", "/tmp/x", 1);
  absl::StatusOr<Config> c = Config::FromEnvironment();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_pin_tries, 5u);
  EXPECT_EQ(c->kdf_cost.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(c->fail_sign_every, 0u);
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"HSM_SIM_MAX_PIN_TRIES", "0"},
      {"HSM_SIM_MAX_PIN_TRIES", "1001"},
      {"HSM_SIM_LATENCY_US", "-5"},
      {"HSM_SIM_LATENCY_US", "99999999999"},
      {"HSM_SIM_FAIL_SIGN_EVERY", "2x"},
      {"HSM_SIM_FAIL_OPEN_SESSION", ""},
      {"HSM_SIM_ARGON2_OPSLIMIT", "0"},
      {"HSM_SIM_ARGON2_MEMLIMIT_KIB", "7"},
      {"HSM_SIM_FAIL_SIGN_EVERY", "99999999999999999999999"}};
  for (const auto& [name, value] : bad) {
    setenv(name, value, 1);
    absl::StatusOr<Config> r = Config::FromEnvironment();
    ASSERT_FALSE(r.ok()) << name << "=" << value;
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status();
    unsetenv(name);
  }
  setenv("HSM_SIM_FAIL_SIGN_EVERY", "7", 1);
  setenv("HSM_SIM_MAX_PIN_TRIES", "3", 1);
  c = Config::FromEnvironment();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->fail_sign_every, 7u);
  EXPECT_EQ(c->max_pin_tries, 3u);
  for (const char* v : vars) unsetenv(v);
}

PinRecord SomePin() {
  PinRecord p;
  p.salt.fill(3);
  p.cost = {1, 8192};
  p.wrapped_master_key.assign(kSealKeySize + kSealOverhead, 9);
  return p;
}

TEST_F(CoreTest, TokenStoreRoundTripsAndCountsFailures) {
  TempDir tmp("hsm_sim_store");
  const std::string dir = (tmp.path() / "tok").string();
  auto store = TokenStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->initialized());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  TokenMeta meta{std::string(32, 'L'), "0123456789abcdef", 4};
  ASSERT_TRUE((*store)->Initialize(meta, SomePin()).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "tok" / "token.db.new"));
  StoredObject pub, priv;
  pub.object_class = ObjectClass::kPublicKey;
  pub.ec_params = Secp256k1EcParams();
  pub.public_key.assign(65, 4);
  pub.verify = true;
  priv = pub;
  priv.object_class = ObjectClass::kPrivateKey;
  priv.sealed_secret.assign(32 + kSealOverhead, 1);
  priv.label = {'k'};
  ASSERT_TRUE((*store)->InsertKeyPair(&pub, &priv, meta.serial).ok());
  EXPECT_NE(pub.id, priv.id);
  ASSERT_TRUE((*store)->PutPin(PinRole::kUser, SomePin(), meta.serial).ok());
  // A writer whose state predates a re-initialisation (another serial) is refused.
  StoredObject stale_pub = pub, stale_priv = priv;
  EXPECT_EQ((*store)->InsertKeyPair(&stale_pub, &stale_priv, "fedcba9876543210").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*store)->PutPin(PinRole::kSo, SomePin(), "fedcba9876543210").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*store)->Load()->objects.size(), 2u);
  EXPECT_EQ(*(*store)->CountFailure(PinRole::kUser), 1u);
  EXPECT_EQ(*(*store)->CountFailure(PinRole::kUser), 2u);
  store->reset();

  auto again = TokenStore::Open(dir);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->initialized());
  absl::StatusOr<TokenState> state = (*again)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->meta.serial, meta.serial);
  EXPECT_EQ(state->meta.max_pin_tries, 4u);
  EXPECT_TRUE(state->has_user_pin);
  EXPECT_EQ(state->user_pin.failures, 2u);
  ASSERT_EQ(state->objects.size(), 2u);
  EXPECT_EQ(state->objects[1].label, Bytes{'k'});
  ASSERT_TRUE((*again)->ResetFailures(PinRole::kUser).ok());
  EXPECT_EQ((*again)->LoadPin(PinRole::kUser)->failures, 0u);
  ASSERT_TRUE((*again)->DeleteObject(pub.id).ok());
  EXPECT_EQ((*again)->Load()->objects.size(), 1u);
  // Re-initialising replaces everything; ids are never reused.
  ASSERT_TRUE((*again)->Initialize(meta, SomePin()).ok());
  state = (*again)->Load();
  EXPECT_TRUE(state->objects.empty());
  EXPECT_FALSE(state->has_user_pin);
  StoredObject p2 = pub, k2 = priv;
  ASSERT_TRUE((*again)->InsertKeyPair(&p2, &k2, meta.serial).ok());
  EXPECT_GT(p2.id, priv.id);
}

TEST_F(CoreTest, TokenStoreRefusesDamagedRecordsNamingThem) {
  TempDir tmp("hsm_sim_store");
  const std::string dir = (tmp.path() / "tok").string();
  const std::string db = dir + "/token.db";
  {
    auto store = TokenStore::Open(dir);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)->Initialize({std::string(32, ' '), "0123456789abcdef", 5}, SomePin()).ok());
    StoredObject pub, priv;
    pub.ec_params = Secp256k1EcParams();
    pub.public_key.assign(65, 4);
    priv = pub;
    priv.object_class = ObjectClass::kPrivateKey;
    priv.sealed_secret.assign(32 + kSealOverhead, 1);
    ASSERT_TRUE((*store)->InsertKeyPair(&pub, &priv, "0123456789abcdef").ok());
  }
  std::string pristine;
  {
    std::ifstream in(db, std::ios::binary);
    pristine.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::vector<std::pair<const char*, const char*>> damage = {
      {"UPDATE meta SET value = 2 WHERE key = 'format'", "format version"},
      {"DELETE FROM meta WHERE key = 'serial'", "serial"},
      {"UPDATE meta SET value = 0 WHERE key = 'max_pin_tries'", "max_pin_tries"},
      {"UPDATE pins SET salt = x'00'", "salt"},
      {"UPDATE pins SET wrapped = x'00'", "wrapped master key"},
      {"UPDATE pins SET role = 7", "role 7"},
      {"UPDATE objects SET class = 9 WHERE id = 1", "bad class"},
      {"UPDATE objects SET curve = 1 WHERE id = 1", "EC parameters"},
      {"UPDATE objects SET ec_params = x'0605' WHERE id = 1", "EC parameters"},
      {"UPDATE objects SET sealed = x'00' WHERE id = 2", "sealed secret"},
      {"UPDATE objects SET sealed = x'0102' WHERE id = 1", "sealed secret"},
      {"DROP TABLE objects", "objects"},
  };
  for (const auto& [sql, expected] : damage) {
    {
      std::ofstream out(db, std::ios::binary | std::ios::trunc);
      out << pristine;
    }
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(h);
    auto store = TokenStore::Open(dir);
    absl::Status status = store.ok() ? (*store)->Load().status() : store.status();
    ASSERT_FALSE(status.ok()) << sql;
    EXPECT_NE(status.message().find(expected), std::string::npos) << sql << ": " << status;
  }
}

}  // namespace
}  // namespace ringfence::hsm_sim
