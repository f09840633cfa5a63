#include "signer/tx/approval.h"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <string_view>

#include "base/text.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

std::array<uint8_t, 32> TagHash() {
  std::array<uint8_t, 32> out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(kApprovalTag),
                     std::strlen(kApprovalTag));
  return out;
}

void AppendU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

absl::Status AppendText(std::string* out, std::string_view name, std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(Cat(name, ": must not be empty"));
  if (value.size() > kMaxApprovalFieldBytes) {
    return absl::InvalidArgumentError(Cat(name, ": ", value.size(),
                                                   " bytes; at most ", kMaxApprovalFieldBytes));
  }
  AppendU32(out, static_cast<uint32_t>(value.size()));
  out->append(value);
  return absl::OkStatus();
}

void AppendAmount(std::string* out, base::Amount v) {
  const std::array<uint8_t, 16> be = v.ToBigEndian();
  out->append(reinterpret_cast<const char*>(be.data()), be.size());
}

}  // namespace

absl::StatusOr<std::array<uint8_t, 32>> ApprovalDigest(const ApprovalSubject& s) {
  std::string body;
  body.reserve(256);
  if (auto st = AppendText(&body, "request_id", s.request_id); !st.ok()) return st;
  if (auto st = AppendText(&body, "chain", s.chain); !st.ok()) return st;
  if (auto st = AppendText(&body, "network", s.network); !st.ok()) return st;
  if (auto st = AppendText(&body, "intent.asset", s.asset); !st.ok()) return st;
  AppendAmount(&body, s.amount);
  if (auto st = AppendText(&body, "intent.destination", s.destination); !st.ok()) return st;
  AppendAmount(&body, s.fee_cap);

  static const std::array<uint8_t, 32> tag = TagHash();
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, tag.data(), tag.size());
  crypto_hash_sha256_update(&state, tag.data(), tag.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                            body.size());
  std::array<uint8_t, 32> digest;
  crypto_hash_sha256_final(&state, digest.data());
  return digest;
}

bool VerifyApprovalSignature(std::span<const uint8_t> public_key,
                             std::span<const uint8_t> signature,
                             const std::array<uint8_t, 32>& digest) {
  EnsureSodium();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), digest.data(), digest.size(),
                                     public_key.data()) == 0;
}

}  // namespace ringfence::signer::tx
