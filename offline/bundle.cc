#include "offline/bundle.h"

#include <google/protobuf/io/coded_stream.h>
#include <sodium.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <set>
#include <span>
#include <utility>

#include "base/hex.h"
#include "base/strict_json.h"
#include "base/text.h"
#include "chain/ecdsa.h"
#include "policy/approval_digest.h"

namespace ringfence::offline {
namespace {

using base::Json;

absl::Status Bad(std::string_view field, std::string_view rule) {
  return absl::InvalidArgumentError(base::Cat(field, ": ", rule));
}

// An id of 1..max bytes of [A-Za-z0-9._:-].
absl::Status CheckId(std::string_view field, std::string_view id, size_t max) {
  if (id.empty() || id.size() > max) return Bad(field, base::Cat("must be 1 to ", max, " bytes"));
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return Bad(field, base::Cat("must be characters of [A-Za-z0-9._:-], found ", base::Clip(id)));
  }
  return absl::OkStatus();
}

// The kind's name for the proto enum; empty for UNSPECIFIED or an unknown value.
std::string_view KindName(signer::v1::RequestKind kind) {
  switch (kind) {
    case signer::v1::REQUEST_KIND_WITHDRAWAL:
      return policy::RequestKindName(policy::RequestKind::kWithdrawal);
    case signer::v1::REQUEST_KIND_SWEEP:
      return policy::RequestKindName(policy::RequestKind::kSweep);
    case signer::v1::REQUEST_KIND_TOP_UP:
      return policy::RequestKindName(policy::RequestKind::kTopUp);
    case signer::v1::REQUEST_KIND_FEE_REIMBURSEMENT:
      return policy::RequestKindName(policy::RequestKind::kFeeReimbursement);
    case signer::v1::REQUEST_KIND_GAS_FUNDING:
      return policy::RequestKindName(policy::RequestKind::kGasFunding);
    default:
      return "";
  }
}

// Deterministic serialisation: what the writer puts in a file, and what a canonical request
// serialises back to.
absl::StatusOr<std::string> Serialize(const signer::v1::SignTransactionRequest& request) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!request.SerializeToCodedStream(&coded)) return Bad("request", "cannot be serialised");
  }
  if (out.size() > kMaxTransactionBytes) {
    return Bad("request", base::Cat(out.size(), " bytes; at most ", kMaxTransactionBytes));
  }
  return out;
}

// The bundle's own consistency: id and kind as the request says, the wallet a text field.
absl::Status CheckSigningBundle(const SigningBundle& b) {
  if (absl::Status s = CheckId("bundle_id", b.bundle_id, kMaxBundleIdBytes); !s.ok()) return s;
  if (!policy::ParseRequestKind(b.kind).has_value()) {
    return Bad("kind", base::Cat("must be withdrawal, sweep, top_up, fee_reimbursement or gas_funding, found ", base::Clip(b.kind)));
  }
  if (b.request.request_id() != b.bundle_id) {
    return Bad("request.request_id", base::Cat("is ", base::Clip(b.request.request_id()), ", not the bundle_id"));
  }
  if (KindName(b.request.kind()) != b.kind) return Bad("request.kind", "is not the bundle's kind");
  return absl::OkStatus();
}

absl::Status CheckColdKeys(const ColdKeys& c) {
  if (c.keys.empty()) return Bad("keys", "must hold at least one key");
  if (c.keys.size() > kMaxColdKeys) return Bad("keys", base::Cat(c.keys.size(), " keys; at most ", kMaxColdKeys));
  std::set<std::string_view> ids;
  std::set<PublicKey> public_keys;
  for (size_t i = 0; i < c.keys.size(); ++i) {
    const ColdKey& k = c.keys[i];
    const std::string where = base::Cat("keys[", i, "]");
    if (absl::Status s = CheckId(where + ".key_id", k.key_id, kMaxKeyIdBytes); !s.ok()) return s;
    if (!ids.insert(k.key_id).second) return Bad(where + ".key_id", base::Cat(base::Clip(k.key_id), " appears twice"));
    if (!chain::CompressPublicKey(k.public_key).ok()) return Bad(where + ".public_key", "is not a point on secp256k1");
    if (!public_keys.insert(k.public_key).second) return Bad(where + ".public_key", "appears twice");
    if (k.owner_class != "client" && k.owner_class != "house") return Bad(where + ".owner_class", "must be client or house");
    if (k.tier != "hot" && k.tier != "cold") return Bad(where + ".tier", "must be hot or cold");
    if (k.asset.size() > kMaxAssetBytes) return Bad(where + ".asset", base::Cat("at most ", kMaxAssetBytes, " bytes"));
  }
  return absl::OkStatus();
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  return base::HexEncode(std::span<const uint8_t>(bytes));
}

// A lowercase hex string of any even length that decodes to at most `max` bytes.
absl::StatusOr<std::string> GetHexBytes(const Json& j, std::string_view key, std::string_view where, size_t max) {
  absl::StatusOr<std::string> text = base::GetString(j, key, where);
  if (!text.ok()) return text.status();
  const std::string field = base::Cat(where, ".", key);
  if (text->size() > 2 * max) return Bad(field, base::Cat(text->size() / 2, " bytes; at most ", max));
  absl::StatusOr<std::vector<uint8_t>> bytes = base::HexDecode(*text, field, base::HexCase::kLowerOnly);
  if (!bytes.ok()) return bytes.status();
  return std::string(bytes->begin(), bytes->end());
}

absl::Status CheckFormat(const Json& j, std::string_view where, std::string_view expected) {
  absl::StatusOr<std::string> format = base::GetString(j, "format", where);
  if (!format.ok()) return format.status();
  if (*format != expected) {
    return Bad(base::Cat(where, ".format"), base::Cat("is ", base::Clip(*format), "; this reader takes ", expected));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> GetTime(const Json& j, std::string_view key, std::string_view where) {
  absl::StatusOr<uint64_t> t = base::GetInteger(j, key, where, static_cast<uint64_t>(base::kMaxTimestamp));
  if (!t.ok()) return t.status();
  return static_cast<int64_t>(*t);
}

// Parses a file of at most `max` bytes into its top-level object with exactly `keys`.
absl::StatusOr<Json> ParseFile(std::string_view file, size_t max, std::string_view what,
                               std::initializer_list<std::string_view> keys) {
  if (file.size() > max) return Bad(what, base::Cat(file.size(), " bytes; at most ", max));
  absl::StatusOr<Json> j = base::ParseStrictJson(file, what);
  if (!j.ok()) return j.status();
  if (absl::Status s = base::ExpectObject(*j, what, keys); !s.ok()) return s;
  return j;
}

absl::Status GetIdentity(const Json& j, std::string_view where, IdentityKey* key, Signature* signature) {
  if (absl::Status s = base::GetHexInto(j, "signer_key", where, *key); !s.ok()) return s;
  return base::GetHexInto(j, "signature", where, *signature);
}

}  // namespace

absl::StatusOr<base::Digest32> SigningBundleDigest(const SigningBundle& b) {
  if (absl::Status s = CheckSigningBundle(b); !s.ok()) return s;
  absl::StatusOr<std::string> request = Serialize(b.request);
  if (!request.ok()) return request.status();
  base::DigestBody body;
  body.Text("bundle_id", b.bundle_id);
  body.Text("kind", b.kind);
  body.Text("source_wallet", b.source_wallet);
  body.Time("created_at", b.created_at);
  body.Blob("request", *request, kMaxTransactionBytes);
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kSigningBundleFormat, body);
}

absl::StatusOr<base::Digest32> SignedBundleDigest(const SignedBundle& s) {
  if (absl::Status st = CheckId("bundle_id", s.bundle_id, kMaxBundleIdBytes); !st.ok()) return st;
  if (s.log_sequence > kMaxLogSequence) return Bad("log_sequence", base::Cat("above ", kMaxLogSequence));
  base::DigestBody body;
  body.Text("bundle_id", s.bundle_id);
  body.Fixed(s.bundle_digest);
  body.Blob("signed_tx", s.signed_tx, kMaxTransactionBytes);
  body.Text("txid", s.txid);
  body.U64(s.log_sequence);
  body.Fixed(s.signer_key);
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kSignedBundleFormat, body);
}

absl::StatusOr<base::Digest32> ColdKeysDigest(const ColdKeys& c) {
  if (absl::Status s = CheckColdKeys(c); !s.ok()) return s;
  base::DigestBody body;
  body.Time("created_at", c.created_at);
  body.U64(c.keys.size());
  body.Fixed(c.signer_key);
  for (const ColdKey& k : c.keys) {
    body.Text("key_id", k.key_id);
    body.Fixed(k.public_key);
    body.Text("wallet_id", k.wallet_id);
    body.Text("asset", k.asset);
    body.Text("owner_class", k.owner_class);
    body.Text("tier", k.tier);
  }
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kColdKeysFormat, body);
}

absl::StatusOr<std::string> WriteSigningBundle(const SigningBundle& b) {
  absl::StatusOr<base::Digest32> digest = SigningBundleDigest(b);
  if (!digest.ok()) return digest.status();
  absl::StatusOr<std::string> request = Serialize(b.request);
  if (!request.ok()) return request.status();
  // nlohmann's ordered_json keeps the document's key order.
  nlohmann::ordered_json j;
  j["format"] = kSigningBundleFormat;
  j["bundle_id"] = b.bundle_id;
  j["kind"] = b.kind;
  j["source_wallet"] = b.source_wallet;
  j["created_at"] = b.created_at;
  j["request"] = base::HexEncode(*request);
  j["digest"] = Hex(*digest);
  return j.dump(-1, ' ', false, Json::error_handler_t::strict);
}

absl::StatusOr<std::string> WriteSignedBundle(const SignedBundle& s) {
  absl::StatusOr<base::Digest32> digest = SignedBundleDigest(s);
  if (!digest.ok()) return digest.status();
  nlohmann::ordered_json j;
  j["format"] = kSignedBundleFormat;
  j["bundle_id"] = s.bundle_id;
  j["bundle_digest"] = Hex(s.bundle_digest);
  j["signed_tx"] = base::HexEncode(s.signed_tx);
  j["txid"] = s.txid;
  j["log_sequence"] = s.log_sequence;
  j["signer_key"] = Hex(s.signer_key);
  j["signature"] = Hex(s.signature);
  return j.dump(-1, ' ', false, Json::error_handler_t::strict);
}

absl::StatusOr<std::string> WriteColdKeys(const ColdKeys& c) {
  absl::StatusOr<base::Digest32> digest = ColdKeysDigest(c);
  if (!digest.ok()) return digest.status();
  nlohmann::ordered_json j;
  j["format"] = kColdKeysFormat;
  j["created_at"] = c.created_at;
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (const ColdKey& k : c.keys) {
    nlohmann::ordered_json o;
    o["key_id"] = k.key_id;
    o["public_key"] = Hex(k.public_key);
    o["wallet_id"] = k.wallet_id;
    o["asset"] = k.asset;
    o["owner_class"] = k.owner_class;
    o["tier"] = k.tier;
    keys.push_back(std::move(o));
  }
  j["keys"] = std::move(keys);
  j["signer_key"] = Hex(c.signer_key);
  j["signature"] = Hex(c.signature);
  return j.dump(-1, ' ', false, Json::error_handler_t::strict);
}

absl::StatusOr<SigningBundle> ReadSigningBundle(std::string_view file, base::Digest32* digest_out) {
  constexpr std::string_view what = "bundle";
  absl::StatusOr<Json> j = ParseFile(file, kMaxBundleFileBytes, what,
                                     {"format", "bundle_id", "kind", "source_wallet", "created_at", "request", "digest"});
  if (!j.ok()) return j.status();
  if (absl::Status s = CheckFormat(*j, what, kSigningBundleFormat); !s.ok()) return s;
  SigningBundle b;
  absl::StatusOr<std::string> id = base::GetString(*j, "bundle_id", what);
  absl::StatusOr<std::string> kind = base::GetString(*j, "kind", what);
  absl::StatusOr<std::string> wallet = base::GetString(*j, "source_wallet", what);
  absl::StatusOr<int64_t> created_at = GetTime(*j, "created_at", what);
  absl::StatusOr<std::string> request = GetHexBytes(*j, "request", what, kMaxTransactionBytes);
  for (const absl::Status& s : {id.status(), kind.status(), wallet.status(), created_at.status(), request.status()}) {
    if (!s.ok()) return s;
  }
  base::Digest32 stated;
  if (absl::Status s = base::GetHexInto(*j, "digest", what, stated); !s.ok()) return s;
  b.bundle_id = std::move(*id);
  b.kind = std::move(*kind);
  b.source_wallet = std::move(*wallet);
  b.created_at = *created_at;
  if (!b.request.ParseFromString(*request)) return Bad("bundle.request", "is not a SignTransactionRequest");
  // Unknown fields would survive a re-serialisation; dropped here, they make it differ.
  b.request.DiscardUnknownFields();
  absl::StatusOr<std::string> again = Serialize(b.request);
  if (!again.ok()) return again.status();
  if (*again != *request) {
    return Bad("bundle.request",
               "is not in canonical form (a field written twice, an unknown field or a non-minimal encoding)");
  }
  absl::StatusOr<base::Digest32> digest = SigningBundleDigest(b);
  if (!digest.ok()) return digest.status();
  if (*digest != stated) return Bad("bundle.digest", "does not match the bundle's fields");
  if (digest_out != nullptr) *digest_out = *digest;
  return b;
}

absl::StatusOr<SignedBundle> ReadSignedBundle(std::string_view file) {
  constexpr std::string_view what = "signed_bundle";
  absl::StatusOr<Json> j = ParseFile(
      file, kMaxBundleFileBytes, what,
      {"format", "bundle_id", "bundle_digest", "signed_tx", "txid", "log_sequence", "signer_key", "signature"});
  if (!j.ok()) return j.status();
  if (absl::Status s = CheckFormat(*j, what, kSignedBundleFormat); !s.ok()) return s;
  SignedBundle s;
  absl::StatusOr<std::string> id = base::GetString(*j, "bundle_id", what);
  absl::StatusOr<std::string> tx = GetHexBytes(*j, "signed_tx", what, kMaxTransactionBytes);
  absl::StatusOr<std::string> txid = base::GetString(*j, "txid", what);
  absl::StatusOr<uint64_t> seq = base::GetInteger(*j, "log_sequence", what, kMaxLogSequence);
  for (const absl::Status& st : {id.status(), tx.status(), txid.status(), seq.status()}) {
    if (!st.ok()) return st;
  }
  if (absl::Status st = base::GetHexInto(*j, "bundle_digest", what, s.bundle_digest); !st.ok()) return st;
  if (absl::Status st = GetIdentity(*j, what, &s.signer_key, &s.signature); !st.ok()) return st;
  s.bundle_id = std::move(*id);
  s.signed_tx = std::move(*tx);
  s.txid = std::move(*txid);
  s.log_sequence = *seq;
  if (s.signed_tx.empty()) return Bad("signed_bundle.signed_tx", "must not be empty");
  if (absl::StatusOr<base::Digest32> d = SignedBundleDigest(s); !d.ok()) return d.status();
  return s;
}

absl::StatusOr<ColdKeys> ReadColdKeys(std::string_view file) {
  constexpr std::string_view what = "cold_keys";
  absl::StatusOr<Json> j =
      ParseFile(file, kMaxColdKeysFileBytes, what, {"format", "created_at", "keys", "signer_key", "signature"});
  if (!j.ok()) return j.status();
  if (absl::Status s = CheckFormat(*j, what, kColdKeysFormat); !s.ok()) return s;
  ColdKeys c;
  absl::StatusOr<int64_t> created_at = GetTime(*j, "created_at", what);
  if (!created_at.ok()) return created_at.status();
  c.created_at = *created_at;
  if (absl::Status s = GetIdentity(*j, what, &c.signer_key, &c.signature); !s.ok()) return s;
  absl::StatusOr<const Json*> keys = base::GetArray(*j, "keys", what);
  if (!keys.ok()) return keys.status();
  if ((*keys)->size() > kMaxColdKeys) {
    return Bad("cold_keys.keys", base::Cat((*keys)->size(), " keys; at most ", kMaxColdKeys));
  }
  for (size_t i = 0; i < (*keys)->size(); ++i) {
    const Json& o = (**keys)[i];
    const std::string where = base::Cat("cold_keys.keys[", i, "]");
    if (absl::Status s = base::ExpectObject(o, where, {"key_id", "public_key", "wallet_id", "asset", "owner_class", "tier"});
        !s.ok()) {
      return s;
    }
    ColdKey k;
    absl::StatusOr<std::string> key_id = base::GetString(o, "key_id", where);
    absl::StatusOr<std::string> wallet = base::GetString(o, "wallet_id", where);
    absl::StatusOr<std::string> asset = base::GetString(o, "asset", where);
    absl::StatusOr<std::string> owner = base::GetString(o, "owner_class", where);
    absl::StatusOr<std::string> tier = base::GetString(o, "tier", where);
    for (const absl::Status& s : {key_id.status(), wallet.status(), asset.status(), owner.status(), tier.status()}) {
      if (!s.ok()) return s;
    }
    if (absl::Status s = base::GetHexInto(o, "public_key", where, k.public_key); !s.ok()) return s;
    k.key_id = std::move(*key_id);
    k.wallet_id = std::move(*wallet);
    k.asset = std::move(*asset);
    k.owner_class = std::move(*owner);
    k.tier = std::move(*tier);
    c.keys.push_back(std::move(k));
  }
  if (absl::StatusOr<base::Digest32> d = ColdKeysDigest(c); !d.ok()) return d.status();
  return c;
}

absl::Status VerifyIdentitySignature(const base::Digest32& digest, const IdentityKey& named_key,
                                     const Signature& signature, const IdentityKey& trusted_key) {
  if (named_key != trusted_key) {
    return absl::PermissionDeniedError("signer_key: is not the offline signer's identity key this side trusts");
  }
  static const bool sodium_ready = sodium_init() >= 0;
  // libsodium refuses non-canonical encodings and small-order keys as well as wrong signatures.
  if (!sodium_ready ||
      crypto_sign_verify_detached(signature.data(), digest.data(), digest.size(), trusted_key.data()) != 0) {
    return absl::PermissionDeniedError("signature: does not verify under the trusted identity key");
  }
  return absl::OkStatus();
}

}  // namespace ringfence::offline
