// Fuzz target: a SignTransaction request from the wire (serialised SignTransactionRequest)
// through the pure checks, against the test world's configuration, registry and keys. Any
// input must be refused with a FailedPrecondition/PermissionDenied naming a rule, or pass;
// a pass must assemble with dummy-free inputs only when signatures are given, so here it only
// checks that the digests and claims are consistent.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proto/signer_tx.pb.h"
#include "signer/tx/amount.h"
#include "signer/tx/service.h"
#include "signer/tx/tx_check.h"
#include "tests/signer_tx/fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::signer::tx;
  static const testing::World* world = new testing::World(testing::MakeWorld());
  ringfence::signer::v1::SignTransactionRequest proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return 0;
  const TxRequest request = FromProto(proto);
  auto checked = CheckTransaction(request, world->config, world->registry, world->keys, ringfence::signer::tx::testing::kFixtureNow);
  if (!checked.ok()) {
    const auto code = checked.status().code();
    if (code != absl::StatusCode::kFailedPrecondition && code != absl::StatusCode::kPermissionDenied) std::abort();
    const std::string message(checked.status().message());
    if (message.find(": ") == std::string::npos) std::abort();  // every refusal names its rule
    return 0;
  }
  if (checked->jobs.empty()) std::abort();
  if (checked->chain == ChainKind::kBitcoin && checked->jobs.size() != checked->outpoints.size()) std::abort();
  if (checked->chain == ChainKind::kEthereum && !checked->nonce) std::abort();
  if (checked->fee > *ParseAmountField(request.intent.fee_cap, "fee_cap")) std::abort();
  return 0;
}
