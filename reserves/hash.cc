#include "reserves/hash.h"

#include <cstring>

#include "base/check.h"

namespace ringfence::reserves {

Hash32 Sha256(std::span<const uint8_t> data) {
  Hash32 out;
  SHA256(data.data(), data.size(), out.data());
  return out;
}

bool IsStrEncodable(std::string_view s) {
  if (s.empty() || s.size() > 1024) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

ByteWriter& ByteWriter::U8(uint8_t v) {
  buf_.push_back(v);
  return *this;
}
ByteWriter& ByteWriter::U16(uint16_t v) {
  uint8_t b[2];
  PutU16(b, v);
  buf_.insert(buf_.end(), b, b + 2);
  return *this;
}
ByteWriter& ByteWriter::U32(uint32_t v) {
  uint8_t b[4];
  PutU32(b, v);
  buf_.insert(buf_.end(), b, b + 4);
  return *this;
}
ByteWriter& ByteWriter::U64(uint64_t v) {
  uint8_t b[8];
  PutU64(b, v);
  buf_.insert(buf_.end(), b, b + 8);
  return *this;
}
ByteWriter& ByteWriter::U128(base::Amount v) {
  const std::array<uint8_t, 16> b = v.ToBigEndian();
  buf_.insert(buf_.end(), b.begin(), b.end());
  return *this;
}
ByteWriter& ByteWriter::Bytes(std::span<const uint8_t> b) {
  buf_.insert(buf_.end(), b.begin(), b.end());
  return *this;
}
ByteWriter& ByteWriter::Str(std::string_view s) {
  RF_CHECK(IsStrEncodable(s), "str() of a string outside 1..1024 printable ASCII bytes");
  U16(static_cast<uint16_t>(s.size()));
  buf_.insert(buf_.end(), s.begin(), s.end());
  return *this;
}
ByteWriter& ByteWriter::Blob(std::span<const uint8_t> b) {
  RF_CHECK(b.size() <= 0xFFFFFFFFu, "blob() longer than 2^32-1 bytes");
  U32(static_cast<uint32_t>(b.size()));
  return Bytes(b);
}

TaggedHasher::TaggedHasher(std::string_view tag) {
  Hash32 t;
  SHA256(reinterpret_cast<const uint8_t*>(tag.data()), tag.size(), t.data());
  SHA256_Init(&mid_);
  SHA256_Update(&mid_, t.data(), t.size());
  SHA256_Update(&mid_, t.data(), t.size());
  for (int i = 0; i < 8; ++i) tag_mid_.h[i] = mid_.h[i];
  tag_mid_.bytes = 64;
}

TaggedHasher TaggedHasher::Prefixed(std::span<const uint8_t> prefix) const {
  TaggedHasher out;
  out.mid_ = mid_;
  SHA256_Update(&out.mid_, prefix.data(), prefix.size());
  out.tag_mid_ = tag_mid_;
  out.prefix_ = prefix_;
  out.prefix_.insert(out.prefix_.end(), prefix.begin(), prefix.end());
  return out;
}

void TaggedHasher::HashBatch(size_t count, const uint8_t* const msgs[], size_t len, uint8_t* const outs[]) const {
  if (prefix_.size() + len > kBatchMaxLen || count > kBatchLanes) {
    for (size_t k = 0; k < count; ++k) HashInto(msgs[k], len, outs[k]);
    return;
  }
  if (prefix_.empty()) {
    size_t lens[kBatchLanes];
    for (size_t k = 0; k < count; ++k) lens[k] = len;
    Sha256FinishBatch(tag_mid_, count, msgs, lens, outs);
    return;
  }
  uint8_t bufs[kBatchLanes][kBatchMaxLen];
  const uint8_t* ptrs[kBatchLanes];
  size_t lens[kBatchLanes];
  for (size_t k = 0; k < count; ++k) {
    std::memcpy(bufs[k], prefix_.data(), prefix_.size());
    std::memcpy(bufs[k] + prefix_.size(), msgs[k], len);
    ptrs[k] = bufs[k];
    lens[k] = prefix_.size() + len;
  }
  Sha256FinishBatch(tag_mid_, count, ptrs, lens, outs);
}

Hash32 TaggedHasher::Hash(std::span<const uint8_t> m) const {
  Hash32 out;
  HashInto(m.data(), m.size(), out.data());
  return out;
}

void TaggedHasher::HashInto(const uint8_t* m, size_t len, uint8_t* out) const {
  SHA256_CTX ctx = mid_;
  SHA256_Update(&ctx, m, len);
  SHA256_Final(out, &ctx);
}

#define RINGFENCE_TAG(fn, text)           \
  const TaggedHasher& fn() {              \
    static const TaggedHasher kTag(text); \
    return kTag;                          \
  }
RINGFENCE_TAG(ClientTag, "por/v1/client")
RINGFENCE_TAG(LeafTag, "por/v1/leaf")
RINGFENCE_TAG(PadTag, "por/v1/pad")
RINGFENCE_TAG(NodeTag, "por/v1/node")
RINGFENCE_TAG(RootTag, "por/v1/root")
RINGFENCE_TAG(ReserveEntryTag, "por/v1/reserve-entry")
RINGFENCE_TAG(OwnershipTag, "por/v1/ownership")
RINGFENCE_TAG(ReservesTag, "por/v1/reserves")
RINGFENCE_TAG(ManifestTag, "por/v1/manifest")
#undef RINGFENCE_TAG

Hash32 ClientRef(std::string_view client_account_id) {
  RF_CHECK(IsValidId(client_account_id), "client_ref of an invalid account id");
  uint8_t buf[2 + 64];
  PutU16(buf, static_cast<uint16_t>(client_account_id.size()));
  for (size_t i = 0; i < client_account_id.size(); ++i) buf[2 + i] = static_cast<uint8_t>(client_account_id[i]);
  Hash32 out;
  ClientTag().HashInto(buf, 2 + client_account_id.size(), out.data());
  return out;
}

void ClientRefBatch(size_t count, const std::string_view ids[], uint8_t* const outs[]) {
  uint8_t bufs[kBatchLanes][2 + 64];
  const uint8_t* ptrs[kBatchLanes];
  size_t lens[kBatchLanes];
  for (size_t k = 0; k < count; ++k) {
    RF_CHECK(!ids[k].empty() && ids[k].size() <= 64, "client_ref of an invalid account id");
    PutU16(bufs[k], static_cast<uint16_t>(ids[k].size()));
    std::memcpy(bufs[k] + 2, ids[k].data(), ids[k].size());
    ptrs[k] = bufs[k];
    lens[k] = 2 + ids[k].size();
  }
  // ClientTag() carries no prefix, so its tag midstate is the whole common start.
  Sha256FinishBatch(ClientTag().tag_midstate(), count, ptrs, lens, outs);
}

}  // namespace ringfence::reserves
