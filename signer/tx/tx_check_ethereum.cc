#include "signer/tx/tx_check_internal.h"

namespace ringfence::signer::tx::internal {

absl::Status CheckEthereum(const TxRequest&, const TxConfig&, const OwnKeys&, const ParsedIntent&,
                           CheckedTx*) {
  return Refuse("chain_not_configured", "ethereum transactions are not supported yet");
}

absl::StatusOr<SignedTx> AssembleEthereum(const CheckedTx&, const JobSignature&) {
  return absl::UnimplementedError("ethereum");
}

}  // namespace ringfence::signer::tx::internal
