// The primitives of custody-por/1 (section 1 of specs/proof-of-reserves-v1.md): SHA-256,
// BIP-340 style tagged hashes with a precomputed midstate, and the fixed-width big-endian
// encodings u8..u128, str() and blob() as a byte writer. The spec's only 128-bit integers are
// amounts, so u128 is written from a base::Amount (its 16-byte big-endian form).
//
// TaggedHasher instances are immutable after construction and safe to share between threads;
// each call works on its own copy of the midstate. ByteWriter is a plain value, one owner.
#ifndef RINGFENCE_RESERVES_HASH_H_
#define RINGFENCE_RESERVES_HASH_H_

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/amount.h"
#include "reserves/sha256_batch.h"

namespace ringfence::reserves {

using Hash32 = std::array<uint8_t, 32>;

Hash32 Sha256(std::span<const uint8_t> data);

// Big-endian stores into caller memory, used by the hot loops that avoid allocation.
inline void PutU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline void PutAmount(uint8_t* p, base::Amount v) {
  const std::array<uint8_t, 16> bytes = v.ToBigEndian();
  std::memcpy(p, bytes.data(), bytes.size());
}
inline uint16_t GetU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
inline base::Amount GetAmount(const uint8_t* p) {
  return base::Amount::FromBigEndian(std::span<const uint8_t, 16>(p, 16));
}

// True if `s` may be encoded with str(): 1..1024 bytes, each 0x21..0x7E.
bool IsStrEncodable(std::string_view s);
// True if `s` is a custodian, asset or client account id: 1..64 of [A-Za-z0-9._:-].
bool IsValidId(std::string_view s);

// Appends the spec's encodings to a growing buffer.
class ByteWriter {
 public:
  ByteWriter& U8(uint8_t v);
  ByteWriter& U16(uint16_t v);
  ByteWriter& U32(uint32_t v);
  ByteWriter& U64(uint64_t v);
  ByteWriter& U128(base::Amount v);
  ByteWriter& Bytes(std::span<const uint8_t> b);
  ByteWriter& Bytes(const Hash32& h) { return Bytes(std::span<const uint8_t>(h)); }
  // REQUIRES: IsStrEncodable(s); callers validate outside input first, so a violation is a
  // broken invariant and aborts (RF_CHECK).
  ByteWriter& Str(std::string_view s);
  // REQUIRES: b.size() < 2^32 (aborts otherwise).
  ByteWriter& Blob(std::span<const uint8_t> b);

  const std::vector<uint8_t>& data() const { return buf_; }
  std::span<const uint8_t> span() const { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

// TH(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m), with the first 64-byte block already
// compressed. Prefixed() extends the midstate with bytes common to many messages (for example
// snapshot_id || str(asset_id) of every leaf of one tree).
class TaggedHasher {
 public:
  explicit TaggedHasher(std::string_view tag);
  TaggedHasher Prefixed(std::span<const uint8_t> prefix) const;
  Hash32 Hash(std::span<const uint8_t> m) const;
  // Hashes `m` into `out` without allocating.
  void HashInto(const uint8_t* m, size_t len, uint8_t* out) const;
  // outs[k] = Hash(msgs[k][0 .. len)) for k < count <= kBatchLanes, computed side by side.
  void HashBatch(size_t count, const uint8_t* const msgs[], size_t len, uint8_t* const outs[]) const;
  // The SHA-256 state after the 64-byte tag block alone (without any prefix), for callers
  // that batch messages of different lengths under this tag.
  const Sha256Mid& tag_midstate() const { return tag_mid_; }

 private:
  TaggedHasher() = default;
  SHA256_CTX mid_;            // tag block and prefix, for single hashes
  Sha256Mid tag_mid_;         // state after the 64-byte tag block alone
  std::vector<uint8_t> prefix_;  // bytes after the tag block common to every message
};

// The tags of custody-por/1, built once.
const TaggedHasher& ClientTag();        // "por/v1/client"
const TaggedHasher& LeafTag();          // "por/v1/leaf"
const TaggedHasher& PadTag();           // "por/v1/pad"
const TaggedHasher& NodeTag();          // "por/v1/node"
const TaggedHasher& RootTag();          // "por/v1/root"
const TaggedHasher& ReserveEntryTag();  // "por/v1/reserve-entry"
const TaggedHasher& OwnershipTag();     // "por/v1/ownership"
const TaggedHasher& ReservesTag();      // "por/v1/reserves"
const TaggedHasher& ManifestTag();      // "por/v1/manifest"

// client_ref = TH("por/v1/client", str(client_account_id)). REQUIRES: IsValidId(id).
Hash32 ClientRef(std::string_view client_account_id);
// The same for up to kBatchLanes ids at once. REQUIRES: count <= kBatchLanes, each IsValidId.
void ClientRefBatch(size_t count, const std::string_view ids[], uint8_t* const outs[]);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_HASH_H_
