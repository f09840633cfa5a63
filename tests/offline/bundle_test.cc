#include "offline/bundle.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "base/hex.h"
#include "base/strict_json.h"
#include "base/text.h"
#include "tests/chain/test_signing.h"
#include "tests/common/temp_dir.h"

namespace ringfence::offline {
namespace {

using base::Json;

// Test-only identity keys (the offline signer's lives in its token): Ed25519 from fixed seeds.
const std::array<uint8_t, 32> kIdentitySeed = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
const std::array<uint8_t, 32> kOtherSeed = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                            0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                                            0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};
// secp256k1 secrets for the cold keys' public keys.
const std::array<uint8_t, 32> kColdSecretBase = kOtherSeed;

struct TestIdentity {
  IdentityKey public_key{};
  std::array<uint8_t, 64> secret{};
};

TestIdentity Identity(const std::array<uint8_t, 32>& seed) {
  TestIdentity id;
  EXPECT_EQ(sodium_init() >= 0, true);
  crypto_sign_seed_keypair(id.public_key.data(), id.secret.data(), seed.data());
  return id;
}

Signature SignWith(const std::array<uint8_t, 32>& seed, const base::Digest32& digest) {
  const TestIdentity id = Identity(seed);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, digest.data(), digest.size(), id.secret.data());
  return sig;
}

SigningBundle SampleBundle() {
  SigningBundle b;
  b.bundle_id = "topup-7";
  b.kind = "top_up";
  b.source_wallet = "btc:client-cold";
  b.created_at = 1800000000;
  b.request.set_request_id("topup-7");
  b.request.set_chain("bitcoin");
  b.request.set_network("regtest");
  b.request.set_unsigned_tx(std::string("\x02\x00\x00\x00\x01\xab", 6));
  b.request.set_kind(signer::v1::REQUEST_KIND_TOP_UP);
  b.request.set_expires_at(1800003600);
  auto* input = b.request.add_bitcoin_inputs();
  input->set_key_id("cold-1");
  auto* approval = b.request.add_approvals();
  approval->set_approver_id("alice");
  approval->set_signature(std::string(64, '\x07'));
  return b;
}

std::string Write(const SigningBundle& b) {
  absl::StatusOr<std::string> file = WriteSigningBundle(b);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *file : "";
}

// The file with one top-level field replaced (re-serialised compact, order kept).
std::string WithField(const std::string& file, const std::string& key, const nlohmann::ordered_json& value) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(file);
  j[key] = value;
  return j.dump();
}

std::string ErrorOf(const absl::Status& s) { return std::string(s.message()); }
template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& r) {
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(SigningBundle, WritesAndReadsBackWithTheSameDigest) {
  const SigningBundle b = SampleBundle();
  const std::string file = Write(b);
  EXPECT_EQ(file.rfind(R"({"format":"ringfence/signing-bundle/v1","bundle_id":"topup-7","kind":"top_up",)", 0), 0u)
      << file;
  base::Digest32 digest{};
  absl::StatusOr<SigningBundle> back = ReadSigningBundle(file, &digest);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->bundle_id, b.bundle_id);
  EXPECT_EQ(back->kind, b.kind);
  EXPECT_EQ(back->source_wallet, b.source_wallet);
  EXPECT_EQ(back->created_at, b.created_at);
  EXPECT_EQ(back->request.SerializeAsString(), b.request.SerializeAsString());
  EXPECT_EQ(digest, *SigningBundleDigest(b));
  // Whitespace and key order are not part of the digest.
  Json j = Json::parse(file);
  EXPECT_TRUE(ReadSigningBundle(j.dump(2)).ok());
}

TEST(SigningBundle, EveryFieldIsInTheDigest) {
  const base::Digest32 original = *SigningBundleDigest(SampleBundle());
  std::vector<SigningBundle> changed(5, SampleBundle());
  changed[0].source_wallet = "btc:client-hot";
  changed[1].created_at += 1;
  changed[2].request.set_network("testnet");
  changed[3].request.mutable_approvals(0)->set_approver_id("bob");
  changed[4].bundle_id = changed[4].request.mutable_request_id()->assign("topup-8");
  for (size_t i = 0; i < changed.size(); ++i) {
    absl::StatusOr<base::Digest32> d = SigningBundleDigest(changed[i]);
    ASSERT_TRUE(d.ok()) << i << d.status();
    EXPECT_NE(*d, original) << i;
  }
  SigningBundle kind = SampleBundle();
  kind.kind = "sweep";
  kind.request.set_kind(signer::v1::REQUEST_KIND_SWEEP);
  EXPECT_NE(*SigningBundleDigest(kind), original);
}

TEST(SigningBundle, AnEditedFieldIsRefused) {
  const std::string file = Write(SampleBundle());
  EXPECT_EQ(ErrorOf(ReadSigningBundle(WithField(file, "source_wallet", "house:btc-hot"))),
            "bundle.digest: does not match the bundle's fields");
  EXPECT_EQ(ErrorOf(ReadSigningBundle(WithField(file, "created_at", 1800000001))),
            "bundle.digest: does not match the bundle's fields");
  EXPECT_EQ(ErrorOf(ReadSigningBundle(WithField(file, "digest", std::string(64, '0')))),
            "bundle.digest: does not match the bundle's fields");
  // A request for another id or kind than the bundle states.
  EXPECT_NE(ErrorOf(ReadSigningBundle(WithField(file, "bundle_id", "topup-8"))).find("not the bundle_id"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSigningBundle(WithField(file, "kind", "sweep"))).find("request.kind: is not the bundle's kind"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSigningBundle(WithField(file, "kind", "gift"))).find("kind: must be withdrawal"),
            std::string::npos);
}

TEST(SigningBundle, ANonCanonicalRequestIsRefused) {
  const SigningBundle b = SampleBundle();
  const std::string canonical = b.request.SerializeAsString();
  // request_id (field 1, length-delimited) written a second time at the end: protobuf would keep
  // the last value.
  const std::string twice = canonical + std::string("\x0a\x07topup-9", 9);
  // An unknown field 99 (varint).
  const std::string unknown = canonical + std::string("\x98\x06\x01", 3);
  for (const std::string& request : {twice, unknown}) {
    const std::string file = WithField(Write(b), "request", base::HexEncode(request));
    EXPECT_NE(ErrorOf(ReadSigningBundle(file)).find("bundle.request: is not in canonical form"), std::string::npos)
        << ErrorOf(ReadSigningBundle(file));
  }
  EXPECT_EQ(ErrorOf(ReadSigningBundle(WithField(Write(b), "request", "ffff"))),
            "bundle.request: is not a SignTransactionRequest");
}

TEST(SigningBundle, MalformedInputIsRefusedNamingTheField) {
  const std::string file = Write(SampleBundle());
  struct Case {
    std::string file;
    std::string error;
  };
  Json j = Json::parse(file);
  Json extra = j;
  extra["note"] = "x";
  Json missing = j;
  missing.erase("source_wallet");
  std::string duplicate = file;
  duplicate.insert(1, R"("kind":"sweep",)");
  const std::vector<Case> cases = {
      {"", "bundle: not strict JSON"},
      {"[]", "bundle: must be a JSON object"},
      {duplicate, "duplicate key \"kind\""},
      {extra.dump(), "bundle: unknown key \"note\""},
      {missing.dump(), "bundle.source_wallet: missing"},
      {WithField(file, "format", "ringfence/signing-bundle/v2"), "bundle.format: is \"ringfence/signing-bundle/v2\""},
      {WithField(file, "created_at", -1), "negative number"},
      {WithField(file, "created_at", 1.5), "fractions, exponents"},
      {WithField(file, "created_at", 253402300800ull), "bundle.created_at: 253402300800 is above 253402300799"},
      {WithField(file, "created_at", "1800000000"), "bundle.created_at: must be a non-negative JSON integer"},
      {WithField(file, "request", "0A"), "lowercase"},
      {WithField(file, "request", "0a0"), "odd number"},
      {WithField(file, "request", std::string(2 * kMaxTransactionBytes + 2, 'a')), "bundle.request: 4194305 bytes; at most 4194304"},
      {WithField(file, "digest", "00"), "bundle.digest: must be exactly 64 lowercase hex"},
      {WithField(file, "bundle_id", ""), "bundle_id: must be 1 to 128 bytes"},
      {WithField(file, "bundle_id", "top up"), "bundle_id: must be characters of [A-Za-z0-9._:-]"},
      {WithField(file, "source_wallet", std::string(257, 'w')), "source_wallet: 257 bytes; at most 256"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SigningBundle> r = ReadSigningBundle(c.file);
    ASSERT_FALSE(r.ok()) << c.error;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_NE(ErrorOf(r).find(c.error), std::string::npos) << "want " << c.error << ", got " << ErrorOf(r);
  }
  const std::string oversized(kMaxBundleFileBytes + 1, ' ');
  EXPECT_EQ(ErrorOf(ReadSigningBundle(oversized)), "bundle: 16777217 bytes; at most 16777216");
}

SignedBundle SampleSigned() {
  SignedBundle s;
  s.bundle_id = "topup-7";
  s.bundle_digest = *SigningBundleDigest(SampleBundle());
  s.signed_tx = std::string("\x02\x00\x00\x00\x00\x01\x01\xab\xcd", 9);
  s.txid = std::string(64, 'e');
  s.log_sequence = 42;
  s.signer_key = Identity(kIdentitySeed).public_key;
  s.signature = SignWith(kIdentitySeed, *SignedBundleDigest(s));
  return s;
}

TEST(SignedBundle, RoundTripsAndVerifiesOnlyUnderTheTrustedKey) {
  const SignedBundle s = SampleSigned();
  absl::StatusOr<std::string> file = WriteSignedBundle(s);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<SignedBundle> back = ReadSignedBundle(*file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->signed_tx, s.signed_tx);
  EXPECT_EQ(back->bundle_digest, s.bundle_digest);
  const base::Digest32 digest = *SignedBundleDigest(*back);
  const IdentityKey trusted = Identity(kIdentitySeed).public_key;
  EXPECT_TRUE(VerifyIdentitySignature(digest, back->signer_key, back->signature, trusted).ok());

  // Another key, even one the file names and signs with, is not the trusted one.
  SignedBundle forged = s;
  forged.signer_key = Identity(kOtherSeed).public_key;
  forged.signature = SignWith(kOtherSeed, *SignedBundleDigest(forged));
  absl::Status st = VerifyIdentitySignature(*SignedBundleDigest(forged), forged.signer_key, forged.signature, trusted);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(ErrorOf(st).find("signer_key: is not the offline signer's identity key"), std::string::npos);

  // An edited transaction keeps the old signature, which no longer verifies.
  absl::StatusOr<SignedBundle> edited =
      ReadSignedBundle(WithField(*file, "signed_tx", base::HexEncode(std::string("\x02\x00\x00\x00\x00", 5))));
  ASSERT_TRUE(edited.ok()) << edited.status();
  st = VerifyIdentitySignature(*SignedBundleDigest(*edited), edited->signer_key, edited->signature, trusted);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(ErrorOf(st).find("signature: does not verify"), std::string::npos);
}

TEST(SignedBundle, MalformedInputIsRefused) {
  const std::string file = *WriteSignedBundle(SampleSigned());
  EXPECT_NE(ErrorOf(ReadSignedBundle(WithField(file, "log_sequence", 9007199254740993ull))).find("is above"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSignedBundle(WithField(file, "signed_tx", ""))).find("signed_tx: must not be empty"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSignedBundle(WithField(file, "signer_key", std::string(66, 'a')))).find("exactly 64"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSignedBundle(WithField(file, "txid", ""))).find("txid: must not be empty"), std::string::npos);
  EXPECT_NE(ErrorOf(ReadSignedBundle(WithField(file, "format", kSigningBundleFormat))).find("signed_bundle.format"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ReadSignedBundle(Write(SampleBundle()))).find("unknown key"), std::string::npos);
}

ColdKeys SampleColdKeys(size_t n) {
  ColdKeys c;
  c.created_at = 1800000000;
  c.signer_key = Identity(kIdentitySeed).public_key;
  for (size_t i = 0; i < n; ++i) {
    std::array<uint8_t, 32> secret = kColdSecretBase;
    secret[31] = static_cast<uint8_t>(i + 1);
    secret[30] = static_cast<uint8_t>((i + 1) >> 8);
    c.keys.push_back({base::Cat("cold-", i), chain::testing::CompressedPubkey(secret), "btc:client-cold", "BTC",
                      "client", "cold"});
  }
  c.signature = SignWith(kIdentitySeed, *ColdKeysDigest(c));
  return c;
}

TEST(ColdKeys, RoundTripsAndVerifies) {
  const ColdKeys c = SampleColdKeys(3);
  absl::StatusOr<std::string> file = WriteColdKeys(c);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<ColdKeys> back = ReadColdKeys(*file);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->keys.size(), 3u);
  EXPECT_EQ(back->keys[2].key_id, "cold-2");
  EXPECT_EQ(back->keys[2].public_key, c.keys[2].public_key);
  EXPECT_TRUE(VerifyIdentitySignature(*ColdKeysDigest(*back), back->signer_key, back->signature, c.signer_key).ok());
  // Reordering keys changes the digest: the signature covers the file's order.
  ColdKeys swapped = *back;
  std::swap(swapped.keys[0], swapped.keys[1]);
  EXPECT_FALSE(VerifyIdentitySignature(*ColdKeysDigest(swapped), swapped.signer_key, swapped.signature, c.signer_key).ok());
}

TEST(ColdKeys, DuplicatesBadPointsAndBadClassesAreRefused) {
  const std::string file = *WriteColdKeys(SampleColdKeys(2));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(file);
  auto edit = [&](auto change) {
    nlohmann::ordered_json copy = j;
    change(copy["keys"]);
    return ErrorOf(ReadColdKeys(copy.dump()));
  };
  EXPECT_NE(edit([](auto& k) { k[1]["key_id"] = "cold-0"; }).find("keys[1].key_id: \"cold-0\" appears twice"),
            std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[1]["public_key"] = k[0]["public_key"]; }).find("keys[1].public_key: appears twice"),
            std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[0]["public_key"] = "02" + std::string(64, '0'); }).find("not a point on secp256k1"),
            std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[0]["owner_class"] = "platform"; }).find("owner_class: must be client or house"),
            std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[0]["tier"] = "warm"; }).find("tier: must be hot or cold"), std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[0]["wallet"] = "x"; }).find("unknown key \"wallet\""), std::string::npos);
  EXPECT_NE(edit([](auto& k) { k = nlohmann::ordered_json::array(); }).find("keys: must hold at least one key"),
            std::string::npos);
  EXPECT_NE(edit([](auto& k) { k[0]["asset"] = ""; }).find("asset: must not be empty"), std::string::npos);
  // More keys than the limit: refused by count before each is read.
  EXPECT_NE(edit([](auto& k) {
              nlohmann::ordered_json many = nlohmann::ordered_json::array();
              for (size_t i = 0; i <= kMaxColdKeys; ++i) many.push_back(k[0]);
              k = many;
            }).find("10001 keys; at most 10000"),
            std::string::npos);
}

// tests/offline/check_bundle.py, an independent implementation of docs/signing-bundle.md
// (hashlib, PyNaCl), accepts each file the C++ side writes and refuses each one edited
// after signing.
TEST(AirGapFiles, AgreeWithAnIndependentImplementation) {
  const char* python = std::getenv("PYTHON");
  const char* src = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(python, nullptr);
  ASSERT_NE(src, nullptr);
  ringfence::testing::TempDir dir;
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name, std::ios::binary) << text;
    return (dir.path() / name).string();
  };
  const std::string bundle = put("bundle.json", Write(SampleBundle()));
  const std::string signed_bundle = put("signed.json", *WriteSignedBundle(SampleSigned()));
  const std::string cold = put("cold.json", *WriteColdKeys(SampleColdKeys(4)));
  const std::string trusted = base::HexEncode(std::span<const uint8_t>(Identity(kIdentitySeed).public_key));
  const std::string checker = std::string(python) + " " + src + "/tests/offline/check_bundle.py " + trusted + " ";
  EXPECT_EQ(std::system((checker + bundle + " " + signed_bundle + " " + cold).c_str()), 0);

  // Each edited after its digest or signature was made: the checker refuses every one.
  nlohmann::ordered_json edited_cold = nlohmann::ordered_json::parse(*WriteColdKeys(SampleColdKeys(4)));
  edited_cold["keys"][3]["wallet_id"] = "btc:house-hot";
  for (const std::string& edited :
       {put("e1.json", WithField(Write(SampleBundle()), "created_at", 1800000001)),
        put("e2.json", WithField(*WriteSignedBundle(SampleSigned()), "txid", std::string(64, 'f'))),
        put("e3.json", edited_cold.dump())}) {
    EXPECT_NE(std::system((checker + edited + " >/dev/null").c_str()), 0) << edited;
  }
  // Signed by a key the checker does not trust.
  const std::string other = base::HexEncode(std::span<const uint8_t>(Identity(kOtherSeed).public_key));
  EXPECT_NE(std::system((std::string(python) + " " + src + "/tests/offline/check_bundle.py " + other + " " +
                         signed_bundle + " >/dev/null").c_str()),
            0);
}

// The other direction: the fuzz corpus's three valid seeds were written by Python from the
// document alone (request bytes made by hand); the C++ readers accept them and their identity
// signatures verify.
TEST(AirGapFiles, ReadFilesWrittenFromTheDocumentAlone) {
  const char* src = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto seed = [&](const std::string& name) {
    std::ifstream in(std::string(src) + "/tests/offline/corpus/bundle/" + name, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(text.empty()) << name;
    return text.empty() ? text : text.substr(1);  // the fuzz target's selector byte
  };
  absl::StatusOr<SigningBundle> bundle = ReadSigningBundle(seed("signing_bundle"));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->request.kind(), signer::v1::REQUEST_KIND_TOP_UP);
  const IdentityKey trusted = Identity(kIdentitySeed).public_key;
  absl::StatusOr<SignedBundle> signed_bundle = ReadSignedBundle(seed("signed_bundle"));
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
  EXPECT_TRUE(VerifyIdentitySignature(*SignedBundleDigest(*signed_bundle), signed_bundle->signer_key,
                                      signed_bundle->signature, trusted)
                  .ok());
  absl::StatusOr<ColdKeys> cold = ReadColdKeys(seed("cold_keys"));
  ASSERT_TRUE(cold.ok()) << cold.status();
  EXPECT_TRUE(VerifyIdentitySignature(*ColdKeysDigest(*cold), cold->signer_key, cold->signature, trusted).ok());
}

}  // namespace
}  // namespace ringfence::offline
