// The PKCS#11 client and KeyService against a real module (hsm_sim or SoftHSM2, chosen by
// ctest through RINGFENCE_SIGNER_MODULE), each test on a freshly initialised private token.
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/hex.h"
#include "chain/ecdsa.h"
#include "signer/crypto.h"
#include "signer/key_service.h"
#include "signer/pkcs11_client.h"
#include "signer/store.h"
#include "tests/signer/token_sandbox.h"

namespace ringfence::signer {
namespace {

using ::testing::HasSubstr;
using testing::IsHsmSim;
using testing::TokenSandbox;

// n / 2 for secp256k1, big-endian.
constexpr uint8_t kHalfOrder[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
                                    0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

bool HighS(std::span<const uint8_t> rs) {
  return std::memcmp(rs.data() + 32, kHalfOrder, 32) > 0;
}

std::array<uint8_t, 32> RandomDigest() {
  std::array<uint8_t, 32> d{};
  randombytes_buf(d.data(), d.size());
  return d;
}

std::vector<uint8_t> Id(uint8_t tag) {
  std::vector<uint8_t> id(16, 0);
  randombytes_buf(id.data(), id.size());
  id[0] = tag;
  return id;
}

// Independent check with libsecp256k1: the signature verifies, is low-S, and `recid` (and only
// it) recovers the public key.
void ExpectRecoverable(const chain::FinishedSignature& sig, const std::array<uint8_t, 32>& digest,
                       const std::vector<uint8_t>& public_key) {
  const secp256k1_context* ctx = secp256k1_context_static;
  secp256k1_pubkey pub;
  ASSERT_TRUE(secp256k1_ec_pubkey_parse(ctx, &pub, public_key.data(), public_key.size()));
  secp256k1_ecdsa_signature s;
  ASSERT_TRUE(secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig.compact.data()));
  secp256k1_ecdsa_signature normalized;
  EXPECT_EQ(secp256k1_ecdsa_signature_normalize(ctx, &normalized, &s), 0) << "S is still high";
  EXPECT_EQ(secp256k1_ecdsa_verify(ctx, &s, digest.data(), &pub), 1);
  for (int recid = 0; recid < 4; ++recid) {
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig.compact.data(), recid)) {
      continue;
    }
    secp256k1_pubkey rec;
    bool same = secp256k1_ecdsa_recover(ctx, &rec, &rs, digest.data()) == 1 &&
                secp256k1_ec_pubkey_cmp(ctx, &rec, &pub) == 0;
    EXPECT_EQ(same, recid == sig.recovery_id) << "recovery id " << recid;
  }
}

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    sandbox_ = std::make_unique<TokenSandbox>();
    absl::StatusOr<std::unique_ptr<Pkcs11Token>> token = sandbox_->OpenToken();
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *std::move(token);
  }
  void TearDown() override {
    token_.reset();
    sandbox_.reset();
  }

  std::unique_ptr<TokenSandbox> sandbox_;
  std::unique_ptr<Pkcs11Token> token_;
  std::unique_ptr<ringfence::testing::TempDir> testing_store_dir_;
};

TEST_F(TokenTest, CreatesSecp256k1KeyAndFindsItById) {
  std::vector<uint8_t> id = Id(1);
  absl::StatusOr<TokenKey> key = token_->GenerateKeyPair(KeyType::kSecp256k1, id, "deposit");
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->public_key.size(), 33u);
  EXPECT_TRUE(key->public_key[0] == 0x02 || key->public_key[0] == 0x03);
  secp256k1_pubkey pub;
  EXPECT_TRUE(secp256k1_ec_pubkey_parse(secp256k1_context_static, &pub, key->public_key.data(), 33));

  absl::StatusOr<TokenKey> found = token_->FindKey(id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->type, KeyType::kSecp256k1);
  EXPECT_EQ(found->public_key, key->public_key);

  // A second key differs.
  absl::StatusOr<TokenKey> other = token_->GenerateKeyPair(KeyType::kSecp256k1, Id(2), "other");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->public_key, key->public_key);
}

TEST_F(TokenTest, CreatesEd25519KeyAndSignsVerifiably) {
  std::vector<uint8_t> id = Id(3);
  absl::StatusOr<TokenKey> key = token_->GenerateKeyPair(KeyType::kEd25519, id, "sol");
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->public_key.size(), 32u);
  absl::StatusOr<TokenKey> found = token_->FindKey(id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->type, KeyType::kEd25519);
  EXPECT_EQ(found->public_key, key->public_key);

  const std::string text = "ringfence ed25519 message";
  std::vector<uint8_t> msg(text.begin(), text.end());
  absl::StatusOr<std::array<uint8_t, 64>> sig = token_->SignEd25519(id, msg, key->public_key);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(crypto_sign_verify_detached(sig->data(), msg.data(), msg.size(), key->public_key.data()), 0);
  msg[0] ^= 1;
  EXPECT_NE(crypto_sign_verify_detached(sig->data(), msg.data(), msg.size(), key->public_key.data()), 0);
}

TEST_F(TokenTest, NormalisesHighSAndComputesRecoveryIds) {
  std::vector<uint8_t> id = Id(4);
  absl::StatusOr<TokenKey> key = token_->GenerateKeyPair(KeyType::kSecp256k1, id, "btc");
  ASSERT_TRUE(key.ok()) << key.status();

  constexpr int kRounds = 64;
  int raw_high = 0;
  int normalized = 0;
  int recid_one = 0;
  for (int i = 0; i < kRounds; ++i) {
    std::array<uint8_t, 32> digest = RandomDigest();
    // What the token itself returns, before the client's normalisation.
    absl::StatusOr<std::vector<uint8_t>> raw = token_->SignRaw(KeyType::kSecp256k1, id, digest);
    ASSERT_TRUE(raw.ok()) << raw.status();
    ASSERT_EQ(raw->size(), 64u);
    raw_high += HighS(*raw) ? 1 : 0;
    absl::StatusOr<chain::FinishedSignature> finished =
        CheckTokenEcdsa(*raw, digest, key->public_key, chain::RecoveryId::kCompute);
    ASSERT_TRUE(finished.ok()) << finished.status();
    EXPECT_EQ(finished->normalized, HighS(*raw));
    EXPECT_EQ(std::memcmp(finished->compact.data(), raw->data(), 32), 0) << "r must not change";
    ExpectRecoverable(*finished, digest, key->public_key);

    absl::StatusOr<chain::FinishedSignature> sig = token_->SignEcdsa(id, digest, key->public_key, chain::RecoveryId::kCompute);
    ASSERT_TRUE(sig.ok()) << sig.status();
    normalized += sig->normalized ? 1 : 0;
    recid_one += sig->recovery_id == 1 ? 1 : 0;
    ExpectRecoverable(*sig, digest, key->public_key);
  }
  if (IsHsmSim()) {
    // hsm_sim signs with low S by construction (RFC 6979, libsecp256k1).
    EXPECT_EQ(raw_high, 0);
    EXPECT_EQ(normalized, 0);
  } else {
    // SoftHSM2 returns high S about half the time: with 64 rounds, none at all has
    // probability 2^-64.
    EXPECT_GT(raw_high, 0);
    EXPECT_GT(normalized, 0);
  }
  // Both recovery ids 0 and 1 occur about equally; again 2^-64 odds of one never showing.
  EXPECT_GT(recid_one, 0);
  EXPECT_LT(recid_one, kRounds);
}

TEST_F(TokenTest, UnknownKeyIdIsNotFound) {
  std::vector<uint8_t> id = Id(5);
  absl::StatusOr<TokenKey> found = token_->FindKey(id);
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("no public key with CKA_ID " + base::HexEncode(id)));
  std::array<uint8_t, 32> digest = RandomDigest();
  absl::StatusOr<std::vector<uint8_t>> sig = token_->SignRaw(KeyType::kSecp256k1, id, digest);
  ASSERT_EQ(sig.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(sig.status().message(), HasSubstr("no private key with CKA_ID"));
}

TEST_F(TokenTest, EcdsaRejectsDigestOfWrongLength) {
  std::vector<uint8_t> id = Id(6);
  ASSERT_TRUE(token_->GenerateKeyPair(KeyType::kSecp256k1, id, "x").ok());
  std::vector<uint8_t> digest(31, 7);
  absl::StatusOr<std::vector<uint8_t>> sig = token_->SignRaw(KeyType::kSecp256k1, id, digest);
  ASSERT_EQ(sig.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sig.status().message(), HasSubstr("32-byte digest, got 31"));
}

TEST_F(TokenTest, ConcurrentSigningThroughThePool) {
  std::vector<uint8_t> id = Id(7);
  absl::StatusOr<TokenKey> key = token_->GenerateKeyPair(KeyType::kSecp256k1, id, "pool");
  ASSERT_TRUE(key.ok()) << key.status();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        std::array<uint8_t, 32> digest = RandomDigest();
        if (!token_->SignEcdsa(id, digest, key->public_key, chain::RecoveryId::kCompute).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(TokenTest, KeysPersistAcrossModuleReload) {
  std::vector<uint8_t> id = Id(8);
  absl::StatusOr<TokenKey> key = token_->GenerateKeyPair(KeyType::kSecp256k1, id, "persist");
  ASSERT_TRUE(key.ok()) << key.status();
  token_.reset();
  sandbox_->ReleaseModule();  // C_Finalize; the next load re-reads the token from disk.
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> again = sandbox_->OpenToken();
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<TokenKey> found = (*again)->FindKey(id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->public_key, key->public_key);
}

TEST_F(TokenTest, KeyServiceCreatesLogsAndSigns) {
  testing_store_dir_ = std::make_unique<ringfence::testing::TempDir>("signer-db");
  absl::StatusOr<std::unique_ptr<SignerStore>> store =
      SignerStore::Open((testing_store_dir_->path() / "signer.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  int64_t now = 1'700'000'000'000;
  KeyService keys(token_.get(), store->get(), [&] { return now++; });

  absl::StatusOr<KeyRecord> btc = keys.CreateKey(
      KeyType::kSecp256k1, "btc-hot", {"btc:client-hot", "btc", OwnerClass::kClient, Tier::kHot});
  ASSERT_TRUE(btc.ok()) << btc.status();
  absl::StatusOr<KeyRecord> sol = keys.CreateKey(
      KeyType::kEd25519, "sol-hot", {"sol:client-hot", "sol", OwnerClass::kClient, Tier::kHot});
  ASSERT_TRUE(sol.ok()) << sol.status();
  EXPECT_EQ(btc->key_id.size(), 32u);
  EXPECT_NE(btc->key_id, sol->key_id);

  // The registry and the token agree on the public key.
  std::vector<uint8_t> raw_id = *base::HexDecode(btc->key_id);
  absl::StatusOr<TokenKey> on_token = token_->FindKey(raw_id);
  ASSERT_TRUE(on_token.ok()) << on_token.status();
  EXPECT_EQ(on_token->public_key, btc->public_key);

  std::array<uint8_t, 32> digest = RandomDigest();
  absl::StatusOr<chain::FinishedSignature> sig = keys.SignDigest(btc->key_id, digest, {{"request_id", {'r', '1'}}},
                                                                  chain::RecoveryId::kCompute);
  ASSERT_TRUE(sig.ok()) << sig.status();
  ExpectRecoverable(*sig, digest, btc->public_key);
  std::vector<uint8_t> msg = {1, 2, 3};
  ASSERT_TRUE(keys.SignMessage(sol->key_id, msg, {}).ok());

  // Wrong key type for the operation.
  absl::StatusOr<chain::FinishedSignature> wrong = keys.SignDigest(sol->key_id, digest, {}, chain::RecoveryId::kCompute);
  ASSERT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.status().message(), HasSubstr("is ed25519, not secp256k1"));

  absl::StatusOr<KeyRecord> unknown = keys.GetKey(std::string(32, 'a'));
  ASSERT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("no key with key_id 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"));

  absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].kind, "key_created");
  EXPECT_EQ((*log)[2].kind, "signature");
  EXPECT_EQ((*log)[2].key_id, btc->key_id);
  EXPECT_EQ((*log)[2].fields.at("digest"), std::vector<uint8_t>(digest.begin(), digest.end()));
  EXPECT_EQ((*log)[2].fields.at("signature"),
            std::vector<uint8_t>(sig->compact.begin(), sig->compact.end()));
  EXPECT_EQ((*log)[2].fields.at("recovery_id"), std::vector<uint8_t>{static_cast<uint8_t>(*sig->recovery_id)});
  absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, 4u);
}

TEST_F(TokenTest, KeyServiceSignsWithoutARecoveryIdWhenTheChainNeedsNone) {
  testing_store_dir_ = std::make_unique<ringfence::testing::TempDir>("signer-db");
  absl::StatusOr<std::unique_ptr<SignerStore>> store =
      SignerStore::Open((testing_store_dir_->path() / "signer.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  KeyService keys(token_.get(), store->get());
  absl::StatusOr<KeyRecord> btc = keys.CreateKey(
      KeyType::kSecp256k1, "btc-hot", {"btc:client-hot", "btc", OwnerClass::kClient, Tier::kHot});
  ASSERT_TRUE(btc.ok()) << btc.status();
  for (int i = 0; i < 8; ++i) {
    std::array<uint8_t, 32> digest = RandomDigest();
    absl::StatusOr<chain::FinishedSignature> sig = keys.SignDigest(btc->key_id, digest, {}, chain::RecoveryId::kSkip);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_FALSE(sig->recovery_id.has_value());
    EXPECT_TRUE(chain::IsLowS(sig->compact));
    EXPECT_TRUE(chain::VerifyEcdsa(digest, sig->compact, btc->public_key).ok());
    std::array<uint8_t, 32> other = digest;
    other[0] ^= 1;
    EXPECT_FALSE(chain::VerifyEcdsa(other, sig->compact, btc->public_key).ok());
  }
  absl::StatusOr<std::vector<LogEntry>> log = (*store)->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 9u);
  for (size_t i = 1; i < log->size(); ++i) {
    EXPECT_EQ((*log)[i].kind, "signature");
    EXPECT_TRUE((*log)[i].fields.contains("signature"));
    EXPECT_FALSE((*log)[i].fields.contains("recovery_id")) << "entry " << i;
  }
  absl::StatusOr<uint64_t> verified = (*store)->VerifyLog();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, 9u);
}

// ---------------------------------------------------------------------------------------
// Login and token problems.

TEST(TokenLoginTest, WrongPinIsPermissionDeniedAndRightPinStillWorks) {
  TokenSandbox sandbox;
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> bad = sandbox.OpenToken("not-the-pin");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bad.status().message(), HasSubstr("C_Login failed: CKR_PIN_INCORRECT"));
  EXPECT_THAT(bad.status().message(), HasSubstr("wrong PIN"));
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> good = sandbox.OpenToken();
  EXPECT_TRUE(good.ok()) << good.status();
}

TEST(TokenLoginTest, UnknownTokenLabelIsNotFound) {
  TokenSandbox sandbox;
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token =
      Pkcs11Token::Open(sandbox.Module(), "no-such-token", base::SecretBytes::CopyOf(testing::kUserPin), 1);
  ASSERT_EQ(token.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(token.status().message(), HasSubstr("no initialised token labelled 'no-such-token'"));
  EXPECT_THAT(token.status().message(), HasSubstr("'ringfence-test'"));
}

TEST(TokenLoginTest, LockedPinIsFailedPrecondition) {
  if (!IsHsmSim()) {
    GTEST_SKIP() << "SoftHSM2 2.6 has no PIN retry limit, so its PIN never locks";
  }
  TokenSandbox sandbox(std::map<std::string, std::string>{{"HSM_SIM_MAX_PIN_TRIES", "3"}});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Pkcs11Token>> bad = sandbox.OpenToken("wrong");
    EXPECT_FALSE(bad.ok());
  }
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> locked = sandbox.OpenToken();
  ASSERT_EQ(locked.status().code(), absl::StatusCode::kFailedPrecondition) << locked.status();
  EXPECT_THAT(locked.status().message(), HasSubstr("CKR_PIN_LOCKED"));
  EXPECT_THAT(locked.status().message(), HasSubstr("the PIN is locked"));
}

TEST(TokenLoginTest, MissingTokenDirectoryIsAClearError) {
  TokenSandbox sandbox({}, /*init_token=*/false);
  std::filesystem::remove_all(sandbox.token_dir());
  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load(testing::ModulePath());
  absl::Status status = module.status();
  if (module.ok()) {
    // hsm_sim creates its directory on first use: it then holds no initialised token.
    status = Pkcs11Token::Open(*module, testing::kTokenLabel, base::SecretBytes::CopyOf(testing::kUserPin), 1).status();
    ASSERT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_THAT(status.message(), HasSubstr("no initialised token labelled 'ringfence-test'"));
    EXPECT_THAT(status.message(), HasSubstr("initialised tokens: none"));
  } else {
    // SoftHSM2 refuses to start without its token directory.
    EXPECT_THAT(status.message(), HasSubstr("C_Initialize failed: CKR_GENERAL_ERROR"));
    EXPECT_THAT(status.message(), HasSubstr("token directory"));
  }
}

TEST(TokenLoginTest, CorruptTokenDirectoryIsAClearError) {
  TokenSandbox sandbox;
  sandbox.ReleaseModule();
  // Overwrite every file of the token's state with garbage of the same size.
  int corrupted = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(sandbox.token_dir())) {
    if (!entry.is_regular_file()) continue;
    std::string garbage(std::max<uintmax_t>(entry.file_size(), 64), '\x5a');
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << garbage;
    ++corrupted;
  }
  ASSERT_GT(corrupted, 0);
  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load(testing::ModulePath());
  absl::Status status = module.status();
  if (module.ok()) {
    status = Pkcs11Token::Open(*module, testing::kTokenLabel, base::SecretBytes::CopyOf(testing::kUserPin), 1).status();
  }
  ASSERT_FALSE(status.ok());
  // Whichever step notices first, the error names the PKCS#11 call or the missing token.
  EXPECT_THAT(std::string(status.message()),
              ::testing::AnyOf(HasSubstr("C_Initialize failed"), HasSubstr("C_Login failed"),
                               HasSubstr("C_OpenSession failed"),
                               HasSubstr("no initialised token labelled 'ringfence-test'")))
      << status;
}

TEST(TokenLoginTest, MissingModuleIsNotFound) {
  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load("/nonexistent/libp11.so");
  ASSERT_EQ(module.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(module.status().message(), HasSubstr("pkcs11 module '/nonexistent/libp11.so' does not exist"));
}

// ---------------------------------------------------------------------------------------
// Fault injection (hsm_sim only: SoftHSM2 has none).

TEST(TokenFaultTest, FailedSignIsAClearErrorAndTheNextSignSucceeds) {
  if (!IsHsmSim()) GTEST_SKIP() << "fault injection is an hsm_sim feature";
  TokenSandbox sandbox;
  sandbox.Reload({{"HSM_SIM_FAIL_SIGN_EVERY", "3"}});
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token = sandbox.OpenToken();
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<uint8_t> id = Id(9);
  absl::StatusOr<TokenKey> key = (*token)->GenerateKeyPair(KeyType::kSecp256k1, id, "faulty");
  ASSERT_TRUE(key.ok()) << key.status();
  int failed = 0;
  int succeeded_after_failure = 0;
  bool last_failed = false;
  // Signs 3, 6 and 9 fail; 4, 7 and 10 follow a failure.
  for (int i = 0; i < 10; ++i) {
    std::array<uint8_t, 32> digest = RandomDigest();
    absl::StatusOr<chain::FinishedSignature> sig = (*token)->SignEcdsa(id, digest, key->public_key, chain::RecoveryId::kCompute);
    if (!sig.ok()) {
      ++failed;
      EXPECT_EQ(sig.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_THAT(sig.status().message(), HasSubstr("C_Sign failed: CKR_DEVICE_ERROR"));
      last_failed = true;
    } else {
      ExpectRecoverable(*sig, digest, key->public_key);
      if (last_failed) ++succeeded_after_failure;
      last_failed = false;
    }
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(succeeded_after_failure, 3);
}

TEST(TokenFaultTest, KeyServiceLogsOnlySignaturesThatWereMade) {
  if (!IsHsmSim()) GTEST_SKIP() << "fault injection is an hsm_sim feature";
  TokenSandbox sandbox;
  sandbox.Reload({{"HSM_SIM_FAIL_SIGN_EVERY", "2"}});
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token = sandbox.OpenToken();
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<std::unique_ptr<SignerStore>> store =
      SignerStore::Open((sandbox.dir() / "signer.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  KeyService keys(token->get(), store->get());
  absl::StatusOr<KeyRecord> key = keys.CreateKey(
      KeyType::kSecp256k1, "faulty", {"btc:client-hot", "btc", OwnerClass::kClient, Tier::kHot});
  ASSERT_TRUE(key.ok()) << key.status();
  std::array<uint8_t, 32> digest = RandomDigest();
  ASSERT_TRUE(keys.SignDigest(key->key_id, digest, {}, chain::RecoveryId::kCompute).ok());  // C_Sign #1
  absl::StatusOr<chain::FinishedSignature> failed = keys.SignDigest(key->key_id, digest, {}, chain::RecoveryId::kCompute);  // #2 fails
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("C_Sign failed: CKR_DEVICE_ERROR"));
  absl::StatusOr<chain::FinishedSignature> next = keys.SignDigest(key->key_id, digest, {}, chain::RecoveryId::kCompute);  // #3
  ASSERT_TRUE(next.ok()) << next.status();
  ExpectRecoverable(*next, digest, key->public_key);
  // key_created plus the two signatures actually made; the failure left no entry.
  absl::StatusOr<uint64_t> n = (*store)->VerifyLog();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3u);
}

TEST(TokenFaultTest, FailedOpenSessionIsAClearErrorAndRecovers) {
  if (!IsHsmSim()) GTEST_SKIP() << "fault injection is an hsm_sim feature";
  // Every 2nd C_OpenSession fails: after the restart the login session is the 1st, the first
  // pool session the 2nd.
  TokenSandbox sandbox;
  sandbox.Reload({{"HSM_SIM_FAIL_OPEN_SESSION", "2"}});
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token = sandbox.OpenToken(testing::kUserPin, 1);
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<uint8_t> id = Id(10);
  absl::StatusOr<TokenKey> key = (*token)->GenerateKeyPair(KeyType::kSecp256k1, id, "x");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(key.status().message(), HasSubstr("C_OpenSession failed: CKR_"));
  key = (*token)->GenerateKeyPair(KeyType::kSecp256k1, id, "x");
  ASSERT_TRUE(key.ok()) << key.status();
  // The session is now pooled: signing needs no new one.
  std::array<uint8_t, 32> digest = RandomDigest();
  EXPECT_TRUE((*token)->SignEcdsa(id, digest, key->public_key, chain::RecoveryId::kCompute).ok());
}

}  // namespace
}  // namespace ringfence::signer
