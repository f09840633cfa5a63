#include "policy/approval_digest.h"

#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/text.h"
#include "policy/withdrawal.h"

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

  // u64: 8 bytes, big-endian, no length; a Unix time in 0..kMaxTimestamp.
  void Time(std::string_view name, int64_t value) {
    if (!status_.ok()) return;
    if (absl::Status s = ValidateTimestamp(value, name); !s.ok()) {
      status_ = s;
      return;
    }
    const auto v = static_cast<uint64_t>(value);
    for (int shift = 56; shift >= 0; shift -= 8) bytes_.push_back(static_cast<char>((v >> shift) & 0xff));
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

// The tagged hash of BIP-340: SHA-256(T || T || body) with T = SHA-256(tag).
ApprovalDigestBytes TaggedHash(const std::array<uint8_t, 32>& tag, const Body& body) {
  return Sha256Concat({View(tag), View(tag), body.bytes()});
}

}  // namespace

std::string_view RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kWithdrawal:
      return "withdrawal";
    case RequestKind::kSweep:
      return "sweep";
    case RequestKind::kTopUp:
      return "top_up";
    case RequestKind::kFeeReimbursement:
      return "fee_reimbursement";
  }
  RF_CHECK(false, "unknown RequestKind");
  return "";
}

std::optional<RequestKind> ParseRequestKind(std::string_view name) {
  for (RequestKind kind : {RequestKind::kWithdrawal, RequestKind::kSweep, RequestKind::kTopUp,
                           RequestKind::kFeeReimbursement}) {
    if (RequestKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

absl::StatusOr<ApprovalDigestBytes> ApprovalDigest(const ApprovalSubject& s) {
  Body body;
  body.Text("request_id", s.request_id);
  body.Text("kind", RequestKindName(s.kind));
  body.Text("source_wallet", s.source_wallet);
  body.Text("chain", s.chain);
  body.Text("network", s.network);
  body.Text("intent.asset", s.asset);
  body.U128(s.amount);
  body.Text("intent.destination", s.destination);
  body.U128(s.fee_cap);
  body.Time("expires_at", s.expires_at);
  if (!body.status().ok()) return body.status();
  static const std::array<uint8_t, 32> tag = Sha256Concat({kApprovalTag});
  return TaggedHash(tag, body);
}

absl::StatusOr<ApprovalDigestBytes> WhitelistChangeDigest(const WhitelistChangeSubject& s) {
  Body body;
  body.Text("change_id", s.change_id);
  body.Text("action", "add");
  body.Text("client_id", s.client_id);
  body.Text("asset", s.asset);
  body.Text("address", s.address);
  body.Time("expires_at", s.expires_at);
  if (!body.status().ok()) return body.status();
  static const std::array<uint8_t, 32> tag = Sha256Concat({kWhitelistChangeTag});
  return TaggedHash(tag, body);
}

}  // namespace ringfence::policy
