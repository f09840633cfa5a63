#include "chain/ecdsa.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringfence::chain {
namespace {

constexpr std::array<uint8_t, 32> kOrder = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
constexpr std::array<uint8_t, 32> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

int Compare(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, 32); }

bool IsZero(const uint8_t* a) {
  return std::all_of(a, a + 32, [](uint8_t v) { return v == 0; });
}

// n - s, big-endian. REQUIRES: 0 < s < n.
void NegateModOrder(uint8_t* s) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = static_cast<int>(kOrder[i]) - s[i] - borrow;
    borrow = v < 0;
    s[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
}

absl::StatusOr<secp256k1_pubkey> ParsePubkey(std::span<const uint8_t> pubkey) {
  if (pubkey.size() != 33 && pubkey.size() != 65) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key: must be 33 (compressed) or 65 (uncompressed) bytes, got ", pubkey.size()));
  }
  if ((pubkey.size() == 33 && pubkey[0] != 0x02 && pubkey[0] != 0x03) || (pubkey.size() == 65 && pubkey[0] != 0x04)) {
    return absl::InvalidArgumentError("public key: bad prefix byte for its length");
  }
  secp256k1_pubkey pk;
  if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, pubkey.data(), pubkey.size())) {
    return absl::InvalidArgumentError("public key: not a point on secp256k1");
  }
  return pk;
}

absl::Status CheckRange(const uint8_t* rs) {
  if (IsZero(rs)) return absl::InvalidArgumentError("signature: r is zero");
  if (Compare(rs, kOrder.data()) >= 0) return absl::InvalidArgumentError("signature: r is not below the group order");
  if (IsZero(rs + 32)) return absl::InvalidArgumentError("signature: s is zero");
  if (Compare(rs + 32, kOrder.data()) >= 0) {
    return absl::InvalidArgumentError("signature: s is not below the group order");
  }
  return absl::OkStatus();
}

// Appends a DER INTEGER for a 32-byte big-endian unsigned value.
void AppendDerInteger(std::vector<uint8_t>& out, const uint8_t* v) {
  size_t start = 0;
  while (start < 31 && v[start] == 0) ++start;
  bool pad = (v[start] & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<uint8_t>(32 - start + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), v + start, v + 32);
}

absl::Status ReadDerInteger(std::span<const uint8_t> der, size_t& pos, const char* name, uint8_t* out32) {
  if (pos + 2 > der.size() || der[pos] != 0x02) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is not an INTEGER"));
  }
  size_t len = der[pos + 1];
  pos += 2;
  if (len == 0) return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " has zero length"));
  if (len > 33 || pos + len > der.size()) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " length out of range"));
  }
  const uint8_t* p = der.data() + pos;
  if (p[0] & 0x80) return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is negative"));
  if (len > 1 && p[0] == 0x00 && !(p[1] & 0x80)) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " has a superfluous leading zero"));
  }
  if (len == 33) {
    // Only a sign-padding zero may make it 33 bytes; anything else is a value of 2^256 or more.
    if (p[0] != 0x00) {
      return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is larger than 256 bits"));
    }
    ++p;
    --len;
  }
  std::memset(out32, 0, 32);
  std::memcpy(out32 + 32 - len, p, len);
  pos += der[pos - 1];
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CompactSignature> NormalizeLowS(std::span<const uint8_t> rs64) {
  if (rs64.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat("signature: must be 64 bytes r||s, got ", rs64.size()));
  }
  if (absl::Status st = CheckRange(rs64.data()); !st.ok()) return st;
  CompactSignature sig;
  std::copy(rs64.begin(), rs64.end(), sig.begin());
  if (Compare(sig.data() + 32, kHalfOrder.data()) > 0) NegateModOrder(sig.data() + 32);
  return sig;
}

bool IsLowS(const CompactSignature& sig) { return Compare(sig.data() + 32, kHalfOrder.data()) <= 0; }

std::vector<uint8_t> EncodeDerSignature(const CompactSignature& sig) {
  std::vector<uint8_t> body;
  AppendDerInteger(body, sig.data());
  AppendDerInteger(body, sig.data() + 32);
  std::vector<uint8_t> out;
  out.reserve(body.size() + 2);
  out.push_back(0x30);
  out.push_back(static_cast<uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

absl::StatusOr<CompactSignature> ParseDerSignature(std::span<const uint8_t> der) {
  if (der.size() < 8 || der.size() > 72) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: length ", der.size(), " outside 8..72"));
  }
  if (der[0] != 0x30) return absl::InvalidArgumentError("DER signature: not a SEQUENCE");
  if (der[1] != der.size() - 2) {
    return absl::InvalidArgumentError("DER signature: SEQUENCE length does not match the data");
  }
  CompactSignature sig;
  size_t pos = 2;
  if (absl::Status st = ReadDerInteger(der, pos, "r", sig.data()); !st.ok()) return st;
  if (absl::Status st = ReadDerInteger(der, pos, "s", sig.data() + 32); !st.ok()) return st;
  if (pos != der.size()) return absl::InvalidArgumentError("DER signature: trailing bytes after s");
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  return sig;
}

absl::StatusOr<std::array<uint8_t, 33>> CompressPublicKey(std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  std::array<uint8_t, 33> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &*pk, SECP256K1_EC_COMPRESSED);
  return out;
}

absl::StatusOr<std::array<uint8_t, 65>> UncompressPublicKey(std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &*pk, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

absl::Status VerifyEcdsa(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                         std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  secp256k1_ecdsa_signature parsed;
  if (!secp256k1_ecdsa_signature_parse_compact(secp256k1_context_static, &parsed, sig.data())) {
    return absl::InvalidArgumentError("signature: cannot be parsed");
  }
  if (!secp256k1_ecdsa_verify(secp256k1_context_static, &parsed, digest.data(), &*pk)) {
    return absl::PermissionDeniedError("signature does not verify for this key and digest");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::array<uint8_t, 65>> RecoverPublicKey(const std::array<uint8_t, 32>& digest,
                                                         const CompactSignature& sig, int recid) {
  if (recid < 0 || recid > 3) return absl::InvalidArgumentError(absl::StrCat("recovery id ", recid, " outside 0..3"));
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  secp256k1_ecdsa_recoverable_signature rsig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &rsig, sig.data(), recid)) {
    return absl::InvalidArgumentError("signature: cannot be parsed");
  }
  secp256k1_pubkey pk;
  if (!secp256k1_ecdsa_recover(secp256k1_context_static, &pk, &rsig, digest.data())) {
    return absl::InvalidArgumentError("signature: no public key recovers from it");
  }
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &pk, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

absl::StatusOr<int> ComputeRecoveryId(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                                      std::span<const uint8_t> pubkey) {
  absl::StatusOr<std::array<uint8_t, 65>> want = UncompressPublicKey(pubkey);
  if (!want.ok()) return want.status();
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  for (int recid = 0; recid < 4; ++recid) {
    // Ids 2 and 3 fail for all but a negligible share of r values; failure just means "not this id".
    absl::StatusOr<std::array<uint8_t, 65>> got = RecoverPublicKey(digest, sig, recid);
    if (got.ok() && *got == *want) return recid;
  }
  return absl::NotFoundError("signature: no recovery id yields this public key (wrong key or digest)");
}

absl::StatusOr<FinishedSignature> FinishSignature(std::span<const uint8_t> rs64,
                                                  const std::array<uint8_t, 32>& digest,
                                                  std::span<const uint8_t> pubkey, RecoveryId recovery) {
  absl::StatusOr<CompactSignature> sig = NormalizeLowS(rs64);
  if (!sig.ok()) return sig.status();
  FinishedSignature out;
  out.compact = *sig;
  out.normalized = !std::equal(sig->begin(), sig->end(), rs64.begin());
  if (recovery == RecoveryId::kSkip) {
    if (absl::Status st = VerifyEcdsa(digest, *sig, pubkey); !st.ok()) return st;
    return out;
  }
  absl::StatusOr<int> recid = ComputeRecoveryId(digest, *sig, pubkey);
  if (recid.status().code() == absl::StatusCode::kNotFound) {
    return absl::PermissionDeniedError("signature does not verify for this key and digest (no recovery id yields the key)");
  }
  if (!recid.ok()) return recid.status();
  out.recovery_id = *recid;
  return out;
}

}  // namespace ringfence::chain
