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

// The kind rules of docs/sign_transaction.md ("Segregation") for `out->kind` from
// `out->source_wallet` to the request's destination: client_funds_to_house,
// house_pays_client, kind_owner_mismatch, kind_tier_mismatch,
// kind_asset_mismatch, destination_not_registered_wallet.
absl::Status CheckKindRules(const TxRequest& request, const TxConfig& config, const OwnKeys& keys,
                            const CheckedTx* out);

absl::Status CheckEthereum(const TxRequest& request, const TxConfig& config, const OwnKeys& keys,
                           const ParsedIntent& intent, CheckedTx* out);
absl::StatusOr<SignedTx> AssembleEthereum(const CheckedTx& checked, const JobSignature& signature);

}  // namespace ringfence::signer::tx::internal

#endif  // RINGFENCE_SIGNER_TX_TX_CHECK_INTERNAL_H_
