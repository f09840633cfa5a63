// The two Ledger implementations behind NewLedger, and the Ethereum credit record. Internal to
// tools/chainsim.
#ifndef RINGFENCE_TOOLS_CHAINSIM_LEDGER_INTERNAL_H_
#define RINGFENCE_TOOLS_CHAINSIM_LEDGER_INTERNAL_H_

#include <memory>

#include "tools/chainsim/ledger.h"

namespace ringfence::chainsim {

std::unique_ptr<Ledger> NewBitcoinLedger(bool keep_history);
std::unique_ptr<Ledger> NewEthereumLedger(const TokenRegistry* tokens, bool keep_history);

// The txid of an Ethereum transaction or credit (neither needs decoding).
std::string EthTxid(const TxRecord& tx);

}  // namespace ringfence::chainsim

#endif  // RINGFENCE_TOOLS_CHAINSIM_LEDGER_INTERNAL_H_
