#include "policy/approval_digest.h"

#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/text.h"

namespace ringfence::policy {
namespace {

// The body of docs/approval-digest.md, one field at a time. The first bad field is kept and
// the rest ignored, so the field list in ApprovalDigest reads like the document's table.
class Body {
 public:
  Body() { bytes_.reserve(256); }

  // text: 4-byte big-endian length, then the bytes; 1 to kMaxApprovalFieldBytes of them.
  void Text(std::string_view name, std::string_view value) {
    if (!status_.ok()) return;
    if (value.empty()) {
      status_ = absl::InvalidArgumentError(base::Cat(name, ": must not be empty"));
      return;
    }
    if (value.size() > kMaxApprovalFieldBytes) {
      status_ = absl::InvalidArgumentError(
          base::Cat(name, ": ", value.size(), " bytes; at most ", kMaxApprovalFieldBytes));
      return;
    }
    const auto size = static_cast<uint32_t>(value.size());
    for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<char>((size >> shift) & 0xff));
    bytes_.append(value);
  }

  // u128: 16 bytes, big-endian, no length.
  void U128(base::Amount value) {
    const std::array<uint8_t, 16> be = value.ToBigEndian();
    bytes_.append(reinterpret_cast<const char*>(be.data()), be.size());
  }

  const absl::Status& status() const { return status_; }
  std::string_view bytes() const { return bytes_; }

 private:
  std::string bytes_;
  absl::Status status_;
};

// SHA-256 through OpenSSL, which policy already uses for its policy hash. OpenSSL failing here
// is a broken installation, not bad input.
void Sha256Update(EVP_MD_CTX* ctx, std::string_view bytes) {
  RF_CHECK(EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1, "SHA-256 update failed");
}

std::array<uint8_t, 32> Sha256Concat(std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  RF_CHECK(ctx != nullptr && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
  for (std::string_view part : parts) Sha256Update(ctx.get(), part);
  std::array<uint8_t, 32> out;
  unsigned int len = 0;
  RF_CHECK(EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size(), "SHA-256 final failed");
  return out;
}

std::string_view View(const std::array<uint8_t, 32>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

absl::StatusOr<ApprovalDigestBytes> ApprovalDigest(const ApprovalSubject& s) {
  Body body;
  body.Text("request_id", s.request_id);
  body.Text("chain", s.chain);
  body.Text("network", s.network);
  body.Text("intent.asset", s.asset);
  body.U128(s.amount);
  body.Text("intent.destination", s.destination);
  body.U128(s.fee_cap);
  if (!body.status().ok()) return body.status();

  // The tagged hash of BIP-340: SHA-256(T || T || body) with T = SHA-256(tag).
  static const std::array<uint8_t, 32> tag = Sha256Concat({kApprovalTag});
  return Sha256Concat({View(tag), View(tag), body.bytes()});
}

}  // namespace ringfence::policy
