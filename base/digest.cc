#include "base/digest.h"

#include <sodium.h>

#include "base/check.h"
#include "base/text.h"

namespace ringfence::base {

absl::Status ValidateTimestamp(int64_t t, std::string_view field) {
  if (t < 0 || t > kMaxTimestamp) {
    return absl::InvalidArgumentError(Cat(field, ": time ", t, " is outside 0..", kMaxTimestamp));
  }
  return absl::OkStatus();
}

void DigestBody::Length(size_t size) {
  const auto n = static_cast<uint32_t>(size);
  for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<char>((n >> shift) & 0xff));
}

void DigestBody::Text(std::string_view name, std::string_view value, size_t max) {
  if (!status_.ok()) return;
  if (value.empty()) {
    status_ = absl::InvalidArgumentError(Cat(name, ": must not be empty"));
    return;
  }
  if (value.size() > max) {
    status_ = absl::InvalidArgumentError(Cat(name, ": ", value.size(), " bytes; at most ", max));
    return;
  }
  Length(value.size());
  bytes_.append(value);
}

void DigestBody::Blob(std::string_view name, std::string_view value, size_t max) {
  if (!status_.ok()) return;
  RF_CHECK(max <= UINT32_MAX, "DigestBody::Blob: a limit above 2^32-1 cannot be encoded");
  if (value.size() > max) {
    status_ = absl::InvalidArgumentError(Cat(name, ": ", value.size(), " bytes; at most ", max));
    return;
  }
  Length(value.size());
  bytes_.append(value);
}

void DigestBody::Time(std::string_view name, int64_t value) {
  if (!status_.ok()) return;
  if (absl::Status s = ValidateTimestamp(value, name); !s.ok()) {
    status_ = s;
    return;
  }
  U64(static_cast<uint64_t>(value));
}

void DigestBody::U64(uint64_t value) {
  if (!status_.ok()) return;
  for (int shift = 56; shift >= 0; shift -= 8) bytes_.push_back(static_cast<char>((value >> shift) & 0xff));
}

void DigestBody::U128(Amount value) {
  if (!status_.ok()) return;
  const std::array<uint8_t, 16> be = value.ToBigEndian();
  bytes_.append(reinterpret_cast<const char*>(be.data()), be.size());
}

void DigestBody::Fixed(std::span<const uint8_t> bytes) {
  if (!status_.ok()) return;
  bytes_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Digest32 TaggedHash(std::string_view tag, std::string_view body) {
  static const bool sodium_ready = sodium_init() >= 0;
  RF_CHECK(sodium_ready, "libsodium failed to initialise");
  Digest32 t;
  crypto_hash_sha256(t.data(), reinterpret_cast<const unsigned char*>(tag.data()), tag.size());
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, t.data(), t.size());
  crypto_hash_sha256_update(&state, t.data(), t.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  Digest32 out;
  crypto_hash_sha256_final(&state, out.data());
  return out;
}

}  // namespace ringfence::base
