// Writes the seed corpora of the signer_tx fuzz targets (corpus/request: serialised valid and
// slightly broken SignTransaction requests of the test world; corpus/registry: the test world's
// registry and config). Usage: signer_tx_gen_corpus <tests/signer_tx/corpus>. Test-only.
#include <fstream>
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/harness.h"
using namespace ringfence::signer::tx;
using namespace ringfence::signer::tx::testing;
int main(int, char** argv) {
  World w = MakeWorld();
  std::string dir = argv[1];
  auto put = [&](const std::string& name, const TxRequest& r) {
    std::ofstream(dir + "/request/" + name, std::ios::binary) << ToProto(r).SerializeAsString();
  };
  put("bitcoin_valid", ValidBitcoinRequest(w).request);
  put("eip1559_valid", ValidEthereumRequest(w, EthForm::kEip1559).request);
  put("legacy_valid", ValidEthereumRequest(w, EthForm::kLegacy).request);
  put("erc20_valid", ValidEthereumRequest(w, EthForm::kErc20).request);
  auto t = ValidBitcoinRequest(w); t.request.unsigned_tx.push_back(0); put("bitcoin_trailing", t.request);
  auto q = ValidEthereumRequest(w, EthForm::kErc20); q.request.approvals.pop_back(); put("erc20_one_approval", q.request);
  put("bitcoin_sweep", BitcoinMove(w, ringfence::policy::RequestKind::kSweep, kInputKey,
                                   w.own_keys[kColdBtcKey].public_key, kChangeKey).request);
  put("bitcoin_fee_reimbursement", BitcoinMove(w, ringfence::policy::RequestKind::kFeeReimbursement, kHouseBtcKey,
                                               w.own_keys[kInputKey].public_key, kHouseBtcKey).request);
  put("bitcoin_change_to_house", BitcoinMove(w, ringfence::policy::RequestKind::kWithdrawal, kInputKey,
                                             w.own_keys[kHouseBtcKey].public_key, kHouseBtcKey).request);
  std::ofstream(dir + "/registry/approvers.toml") << w.registry_toml;
  std::ofstream(dir + "/registry/signer_tx.toml") << w.config_toml;
}
