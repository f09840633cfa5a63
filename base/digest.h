// The field encodings and the tagged hash every Ringfence digest is built from
// (docs/approval-digest.md, "Encodings"; docs/signing-bundle.md): approvals, whitelist changes,
// signing bundles and the offline signer's answers all concatenate fields with DigestBody and
// hash them with TaggedHash, so no two of them can disagree about a byte.
//
//   text  = u32 big-endian length || bytes        (1..max bytes: empty or longer is refused)
//   blob  = u32 big-endian length || bytes        (0..max bytes)
//   u64   = 8 bytes big-endian                    (Time: a Unix time in 0..kMaxTimestamp)
//   u128  = 16 bytes big-endian (an Amount)
//   fixed = the bytes as they are (a fixed-width field such as an earlier digest)
//   TaggedHash(tag, body) = SHA-256(SHA-256(tag) || SHA-256(tag) || body)   (BIP-340's construction)
//
// DigestBody keeps the first bad field's error and ignores the rest, so a digest function reads
// like its document's table and checks status() once. Nothing is ever truncated. Pure values;
// a DigestBody is not shared between threads, TaggedHash is thread-safe.
#ifndef RINGFENCE_BASE_DIGEST_H_
#define RINGFENCE_BASE_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "base/amount.h"

namespace ringfence::base {

// Unix seconds. Times in digests and decisions are in 0..kMaxTimestamp (the end of year 9999),
// so that a time plus any policy period stays far inside int64.
inline constexpr int64_t kMaxTimestamp = 253402300799;

// Returns InvalidArgument naming `field` if `t` is outside 0..kMaxTimestamp.
absl::Status ValidateTimestamp(int64_t t, std::string_view field);

// Longest text field by default (the approval digest's limit).
inline constexpr size_t kMaxDigestTextBytes = 256;

using Digest32 = std::array<uint8_t, 32>;

class DigestBody {
 public:
  DigestBody() { bytes_.reserve(256); }

  // text: 1..max bytes; "name: must not be empty" or "name: N bytes; at most max".
  void Text(std::string_view name, std::string_view value, size_t max = kMaxDigestTextBytes);
  // blob: 0..max bytes (max < 2^32).
  void Blob(std::string_view name, std::string_view value, size_t max);
  // u64 holding a Unix time in 0..kMaxTimestamp.
  void Time(std::string_view name, int64_t value);
  void U64(uint64_t value);
  void U128(Amount value);
  void Fixed(std::span<const uint8_t> bytes);

  const absl::Status& status() const { return status_; }
  std::string_view bytes() const { return bytes_; }

 private:
  void Length(size_t size);

  std::string bytes_;
  absl::Status status_;
};

// SHA-256(T || T || body) with T = SHA-256(tag).
Digest32 TaggedHash(std::string_view tag, std::string_view body);
inline Digest32 TaggedHash(std::string_view tag, const DigestBody& body) { return TaggedHash(tag, body.bytes()); }

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_DIGEST_H_
