// Writes the seed corpus of fuzz_chain_adapter_answers into the directory named on the command
// line: for each call the fuzz target makes, a well-formed answer (AnswerKind byte, then the
// serialized response) that the adapter accepts.
//   make_adapter_answers_corpus tests/chainsim/corpus/adapter_answers
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <google/protobuf/message_lite.h>

#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/eth_tx.h"
#include "proto/chainsim.pb.h"
#include "tests/chainsim/adapter_answers_fuzz.h"

namespace {

namespace v1 = ringfence::chainsim::v1;
using ringfence::chainsim::testing::AnswerKind;

const std::string kHashA(64, 'a'), kHashB(64, 'b'), kHashD(64, 'd');

void Write(const std::filesystem::path& path, AnswerKind kind, const google::protobuf::MessageLite& answer) {
  std::ofstream out(path, std::ios::binary);
  out.put(static_cast<char>(kind));
  const std::string bytes = answer.SerializeAsString();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void SetRef(v1::BlockRef* ref, uint64_t height) {
  ref->set_height(height);
  ref->set_hash(kHashA);
  ref->set_parent_hash(kHashB);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringfence::chainsim::testing;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_adapter_answers_corpus OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  {
    v1::GetTipResponse r;
    SetRef(r.mutable_tip(), 9);
    Write(out / "tip", AnswerKind::kTip, r);
  }
  {
    v1::GetBlockResponse r;
    SetRef(r.mutable_block(), kFuzzHeight);
    for (int i = 0; i < 2; ++i) {
      v1::Transfer* t = r.add_transfers();
      t->set_txid(FuzzTxid());
      t->set_index(static_cast<uint32_t>(i));
      t->set_to_address(i == 0 ? FuzzAlice() : FuzzBob());
      t->set_amount(i == 0 ? "5000" : "340282366920938463463374607431768211455");
    }
    r.set_transaction_count(1);
    Write(out / "bitcoin_block", AnswerKind::kBitcoinBlock, r);
  }
  {
    v1::GetBlockResponse r;
    SetRef(r.mutable_block(), kFuzzHeight);
    v1::Transfer* native = r.add_transfers();
    native->set_txid(FuzzTxid());
    native->set_to_address(FuzzCarol());
    native->set_amount("1000000000000000000");
    v1::Transfer* token = r.add_transfers();
    token->set_txid(kHashD);
    token->set_index(3);
    token->set_to_address(FuzzDave());
    token->set_token_contract(TestKey(0x66).EthAddress());
    token->set_amount("250");
    r.set_transaction_count(2);
    Write(out / "ethereum_block", AnswerKind::kEthereumBlock, r);
  }
  {
    v1::GetBalanceResponse r;
    r.set_amount("42");
    r.set_height(kFuzzHeight);
    Write(out / "balance", AnswerKind::kBalance, r);
  }
  {
    v1::GetBalancesResponse r;  // alice and bob: the adapter asks about each address once
    r.add_amounts("42");
    r.add_amounts("0");
    r.set_height(kFuzzHeight);
    Write(out / "balances", AnswerKind::kBalances, r);
  }
  {
    v1::BroadcastResponse r;
    r.set_txid(ringfence::base::HexEncode(ringfence::chain::EthTxHash(FuzzSignedTx())));
    Write(out / "broadcast", AnswerKind::kBroadcast, r);
  }
  {
    v1::ListUnspentResponse r;
    SetRef(r.mutable_tip(), 10);
    uint64_t amount = 3000;
    for (const std::string& address : {FuzzAlice(), FuzzBob()}) {
      v1::UnspentOutput* o = r.add_outputs();
      o->set_txid(FuzzTxid());
      o->set_vout(static_cast<uint32_t>(r.outputs_size()));
      o->set_address(address);
      o->set_amount(std::to_string(amount));
      o->set_height(5);
      const std::vector<uint8_t> script = *ringfence::chain::ScriptPubKeyForAddress(address);
      o->set_script_pubkey(std::string(script.begin(), script.end()));
      amount -= 1000;
    }
    Write(out / "unspent", AnswerKind::kUnspent, r);
  }
  {
    v1::GetNonceResponse r;
    r.set_confirmed_nonce(3);
    r.set_pending_nonce(4);
    Write(out / "nonce", AnswerKind::kNonce, r);
  }
  {
    v1::GetFeeEstimateResponse r;
    r.set_sat_per_vbyte("12");
    r.set_base_fee_per_gas("0");
    r.set_max_priority_fee_per_gas("0");
    Write(out / "bitcoin_fee", AnswerKind::kBitcoinFee, r);
  }
  {
    v1::GetFeeEstimateResponse r;
    r.set_sat_per_vbyte("0");
    r.set_base_fee_per_gas("1000000000");
    r.set_max_priority_fee_per_gas("2");
    Write(out / "ethereum_fee", AnswerKind::kEthereumFee, r);
  }
  {
    v1::GetTransactionResponse r;
    r.set_state(v1::GetTransactionResponse::STATE_CONFIRMED);
    r.set_height(5);
    r.set_block_hash(kHashD);
    r.set_confirmations(6);
    SetRef(r.mutable_tip(), 10);
    Write(out / "transaction", AnswerKind::kTransaction, r);
  }
  return 0;
}
