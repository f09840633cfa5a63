#include "tests/chainsim/test_wallets.h"

#include <algorithm>
#include <cstdlib>

#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "chain/hashes.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chainsim::testing {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "test wallets: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return *std::move(v);
}

std::array<uint8_t, 20> KeyHash(const TestKey& key) {
  const std::array<uint8_t, 33> pub = chain::testing::CompressedPubkey(key.secret);
  return chain::Hash160(pub);
}

}  // namespace

std::string TestKey::BitcoinAddress() const { return OrDie(chain::P2wpkhAddress("bcrt", KeyHash(*this))); }

std::string TestKey::EthAddress() const {
  return chain::EthChecksumAddress(OrDie(chain::EthAddressFromPubkeyBytes(chain::testing::UncompressedPubkey(secret))));
}

std::vector<uint8_t> SignedSpend(const std::vector<SpendInput>& inputs, const std::vector<SpendOutput>& outputs) {
  chain::Transaction tx;
  tx.version = 2;
  for (const SpendInput& in : inputs) {
    chain::TxIn txin;
    std::vector<uint8_t> display = OrDie(base::HexDecode(in.txid));
    std::reverse(display.begin(), display.end());
    std::copy(display.begin(), display.end(), txin.prevout.txid.begin());
    txin.prevout.vout = in.vout;
    tx.inputs.push_back(std::move(txin));
  }
  for (const SpendOutput& out : outputs) {
    tx.outputs.push_back(
        chain::TxOut{out.value, out.script.empty() ? OrDie(chain::ScriptPubKeyForAddress(out.address)) : out.script});
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::array<uint8_t, 32> sighash = OrDie(
        chain::Bip143Sighash(tx, i, chain::P2wpkhScriptCode(KeyHash(inputs[i].key)), inputs[i].value, chain::kSighashAll));
    const chain::testing::RecoverableSignature sig = chain::testing::SignDigest(inputs[i].key.secret, sighash);
    const std::array<uint8_t, 33> pub = chain::testing::CompressedPubkey(inputs[i].key.secret);
    absl::Status s = chain::SetP2wpkhWitness(tx, i, chain::P2wpkhSignatureItem(sig.rs), pub);
    if (!s.ok()) std::abort();
  }
  return chain::Serialize(tx);
}

EthTransfer Pay(const std::string& to, base::Uint128 value, uint64_t nonce) {
  EthTransfer t;
  t.to = to;
  t.value = value;
  t.nonce = nonce;
  return t;
}

EthTransfer TokenCall(const std::string& token, const std::string& to, base::Uint128 amount, uint64_t nonce) {
  EthTransfer t;
  t.to = token;
  t.nonce = nonce;
  t.gas_limit = 60'000;
  t.data = Erc20TransferData(to, amount);
  return t;
}

std::vector<uint8_t> SignedEthTransfer(const TestKey& key, const EthTransfer& transfer) {
  chain::Eip1559Tx tx;
  tx.chain_id = transfer.chain_id;
  tx.nonce = transfer.nonce;
  tx.max_priority_fee_per_gas = chain::U256::FromU128(transfer.max_priority_fee_per_gas);
  tx.max_fee_per_gas = chain::U256::FromU128(transfer.max_fee_per_gas);
  tx.gas_limit = transfer.gas_limit;
  tx.to = OrDie(chain::ParseEthAddress(transfer.to));
  tx.value = chain::U256::FromU128(transfer.value);
  tx.data = transfer.data;
  const chain::testing::RecoverableSignature sig = chain::testing::SignDigest(key.secret, chain::Eip1559SigningHash(tx));
  return OrDie(chain::EncodeSignedEip1559(tx, OrDie(chain::MakeEthSignature(sig.rs, sig.recid))));
}

std::vector<uint8_t> Erc20TransferData(const std::string& to, base::Uint128 amount) {
  return chain::EncodeErc20Transfer(chain::Erc20Transfer{OrDie(chain::ParseEthAddress(to)), chain::U256::FromU128(amount)});
}

std::string AsString(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

}  // namespace ringfence::chainsim::testing
