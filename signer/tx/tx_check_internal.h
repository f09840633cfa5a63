// Internal to signer/tx: the per-chain halves of CheckTransaction and AssembleSignedTx, and the
// helpers they share. Same contract as tx_check.h.
#ifndef RINGFENCE_SIGNER_TX_TX_CHECK_INTERNAL_H_
#define RINGFENCE_SIGNER_TX_TX_CHECK_INTERNAL_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "signer/tx/tx_check.h"

namespace ringfence::signer::tx::internal {

struct ParsedIntent {
  const AssetConfig* asset = nullptr;
  base::Amount amount;
  base::Amount fee_cap;
};

// FailedPrecondition("<rule>: <detail>").
absl::Status Refuse(std::string_view rule, absl::string_view detail);
// PermissionDenied("<rule>: <detail>").
absl::Status Deny(std::string_view rule, absl::string_view detail);

absl::Status CheckEthereum(const TxRequest& request, const TxConfig& config, const OwnKeys& keys,
                           const ParsedIntent& intent, CheckedTx* out);
absl::StatusOr<SignedTx> AssembleEthereum(const CheckedTx& checked, const JobSignature& signature);

}  // namespace ringfence::signer::tx::internal

#endif  // RINGFENCE_SIGNER_TX_TX_CHECK_INTERNAL_H_
