// Request limits of signerd's gRPC API: the most bytes each string and bytes field of every
// request of proto/signer.proto and proto/signer_tx.proto may hold, the most entries each
// repeated field may hold, the largest request those limits allow (the server's maximum
// receive size), and the check the key service runs on each request before any other work.
// SignTransaction's check is signer/tx/request_limits.h; it uses these constants.
//
// Why: a field quoted whole in a refusal once made a 1 MiB gRPC status message and sign-log
// entry; gRPC C-core clients then saw RESOURCE_EXHAUSTED (metadata too large) instead of the
// rule, and Node clients no answer at all. A request over a limit is now refused with
// INVALID_ARGUMENT "request_limit: <field>: <n> bytes, at most <limit>", and every message
// and log entry quotes request text through base::Clip. The limits are documented in the
// proto comments, docs/signer.md and docs/sign_transaction.md.
//
// Constants and pure functions; thread-safe.
#ifndef RINGFENCE_SIGNER_REQUEST_LIMITS_H_
#define RINGFENCE_SIGNER_REQUEST_LIMITS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "proto/signer.pb.h"

namespace ringfence::signer {

// The rule name that starts the message of every refusal for a limit.
inline constexpr char kLimitRule[] = "request_limit";

// --- proto/signer.proto (the key service) -------------------------------------------------
// A key id is the token's 16-byte CKA_ID in lowercase hex.
inline constexpr size_t kMaxKeyIdBytes = 32;
inline constexpr size_t kMaxPurposeBytes = 128;
// A wallet binding's wallet id ("<asset>:client-hot" and the like).
inline constexpr size_t kMaxWalletIdBytes = 64;

// --- proto/signer_tx.proto (SignTransaction) ----------------------------------------------
inline constexpr size_t kMaxRequestIdBytes = 128;
// "bitcoin" or "ethereum".
inline constexpr size_t kMaxChainBytes = 16;
// As long as the longest network name signerd's transaction config accepts.
inline constexpr size_t kMaxNetworkBytes = 64;
// Bitcoin's consensus limit for a transaction without witnesses (a block's 4,000,000 weight
// units / 4), so that no transaction valid on its chain is refused for its size. Ethereum
// transfers are far smaller (nodes relay at most 128 KiB).
inline constexpr size_t kMaxUnsignedTxBytes = 1'000'000;
// No transaction within kMaxUnsignedTxBytes has more inputs: each takes at least 41 bytes,
// and the rest (version, input count, one empty output, output count, lock time) 21.
inline constexpr size_t kMaxBitcoinInputs = (kMaxUnsignedTxBytes - 21) / 41;
// As long as the longest asset id signerd's transaction config accepts.
inline constexpr size_t kMaxAssetBytes = 32;
// 2^128 - 1 has 39 decimal digits.
inline constexpr size_t kMaxAmountBytes = 39;
// The longest bech32 string (BIP-173); an EIP-55 address has 42 characters.
inline constexpr size_t kMaxDestinationBytes = 90;
inline constexpr size_t kMaxApprovals = 32;
// The latest expires_at (Unix seconds, the end of year 9999): policy::kMaxTimestamp, which
// signer/tx/request_limits.cc checks this against.
inline constexpr int64_t kMaxExpiresAt = 253402300799;
// As long as the longest approver id the approver registry accepts.
inline constexpr size_t kMaxApproverIdBytes = 64;
// An Ed25519 signature.
inline constexpr size_t kMaxApprovalSignatureBytes = 64;

// --- The largest request ------------------------------------------------------------------
// Protobuf wire sizes: every field number of these messages is below 16, so each tag is one
// byte; a string, bytes or message field adds its length as a varint; a varint field (uint64,
// enum) is at most 10 bytes (a negative enum value takes all 10).
namespace request_limits_internal {
constexpr size_t VarintBytes(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}
constexpr size_t LengthDelimited(size_t payload) { return 1 + VarintBytes(payload) + payload; }
inline constexpr size_t kVarintField = 1 + 10;
}  // namespace request_limits_internal

inline constexpr size_t kMaxBitcoinInputSpendBytes =
    request_limits_internal::kVarintField +  // amount
    request_limits_internal::LengthDelimited(kMaxKeyIdBytes);
inline constexpr size_t kMaxTransactionIntentBytes =
    request_limits_internal::LengthDelimited(kMaxAssetBytes) +
    request_limits_internal::LengthDelimited(kMaxAmountBytes) +
    request_limits_internal::LengthDelimited(kMaxDestinationBytes) +
    request_limits_internal::LengthDelimited(kMaxAmountBytes);  // fee_cap
inline constexpr size_t kMaxTransactionApprovalBytes =
    request_limits_internal::LengthDelimited(kMaxApproverIdBytes) +
    request_limits_internal::LengthDelimited(kMaxApprovalSignatureBytes);
inline constexpr size_t kMaxSignTransactionRequestBytes =
    request_limits_internal::LengthDelimited(kMaxRequestIdBytes) +
    request_limits_internal::LengthDelimited(kMaxChainBytes) +
    request_limits_internal::LengthDelimited(kMaxNetworkBytes) +
    request_limits_internal::LengthDelimited(kMaxUnsignedTxBytes) +
    kMaxBitcoinInputs * request_limits_internal::LengthDelimited(kMaxBitcoinInputSpendBytes) +
    request_limits_internal::LengthDelimited(kMaxKeyIdBytes) +  // ethereum_key_id
    request_limits_internal::LengthDelimited(kMaxTransactionIntentBytes) +
    kMaxApprovals * request_limits_internal::LengthDelimited(kMaxTransactionApprovalBytes) +
    request_limits_internal::kVarintField +                                   // kind
    1 + request_limits_internal::VarintBytes(static_cast<uint64_t>(kMaxExpiresAt));  // expires_at
// WalletBinding: wallet_id, asset (kMaxAssetBytes, the transaction config's asset id limit),
// owner_class, tier.
inline constexpr size_t kMaxWalletBindingBytes =
    request_limits_internal::LengthDelimited(kMaxWalletIdBytes) +
    request_limits_internal::LengthDelimited(kMaxAssetBytes) + 2 * request_limits_internal::kVarintField;
inline constexpr size_t kMaxCreateKeyRequestBytes =
    request_limits_internal::kVarintField + request_limits_internal::LengthDelimited(kMaxPurposeBytes) +
    request_limits_internal::LengthDelimited(kMaxWalletBindingBytes);
inline constexpr size_t kMaxGetKeyRequestBytes = request_limits_internal::LengthDelimited(kMaxKeyIdBytes);
inline constexpr size_t kMaxListKeysRequestBytes =
    request_limits_internal::kVarintField + request_limits_internal::LengthDelimited(kMaxPurposeBytes) +
    request_limits_internal::LengthDelimited(kMaxWalletIdBytes);

// signerd's maximum receive size: the largest request any of its RPCs accepts, 2,151,085 bytes
// (SignTransaction with every field and list full). So a 1 MiB field beside an otherwise
// ordinary request still reaches signerd, and its sender learns the rule (INVALID_ARGUMENT)
// rather than gRPC's RESOURCE_EXHAUSTED, which signerd's callers read as "overloaded, retry
// later". Only a request larger than any valid one is refused by gRPC itself (RESOURCE_EXHAUSTED
// "Received message larger than max"), before signerd sees it.
inline constexpr size_t kMaxRequestBytes =
    std::max({kMaxSignTransactionRequestBytes, kMaxCreateKeyRequestBytes, kMaxGetKeyRequestBytes,
              kMaxListKeysRequestBytes});
static_assert(kMaxRequestBytes < (1u << 31), "gRPC takes the maximum receive size as an int");

// InvalidArgument "request_limit: <field>: <size> bytes, at most <limit>" when size > limit.
absl::Status CheckSize(std::string_view field, size_t size, size_t limit);
// InvalidArgument "request_limit: <field>: <count> entries, at most <limit>" when
// count > limit.
absl::Status CheckCount(std::string_view field, size_t count, size_t limit);

// The key service's edge checks: OK, or the first field over its limit (CheckSize).
absl::Status CheckRequestLimits(const v1::CreateKeyRequest& request);
absl::Status CheckRequestLimits(const v1::GetKeyRequest& request);
absl::Status CheckRequestLimits(const v1::ListKeysRequest& request);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_REQUEST_LIMITS_H_
