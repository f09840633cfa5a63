// Independent verification: transactions built and signed here with the chain codecs (and
// libsecp256k1 with fixed test keys) are handed to bitcoinjs-lib / tiny-secp256k1 and ethers
// (tests/chain/interop_check.js), which must parse them, recompute the BIP-143 hash and
// verify every signature, recover the Ethereum sender and find the intended recipient,
// value and ERC-20 calldata. A deliberately broken case of each kind must be refused, so a
// checker that accepts everything fails this test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"
#include "tests/common/temp_dir.h"

namespace ringfence::chain {
namespace {

const std::vector<uint8_t> kBtcKey(32, 0x2a);
const std::vector<uint8_t> kEthKey(32, 0x3b);

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string Hex0x(std::span<const uint8_t> b) { return "0x" + base::HexEncode(b); }

EthSignature SignEth(const std::array<uint8_t, 32>& digest) {
  testing::RecoverableSignature s = testing::SignDigest(kEthKey, digest);
  absl::StatusOr<EthSignature> sig = MakeEthSignature(s.rs, s.recid);
  EXPECT_TRUE(sig.ok());
  return *sig;
}

// A regtest P2WPKH spend of two outputs of the test key: payment to another key's address
// plus change back to the key. `sighash_amount_delta` signs input 1 over a wrong amount to
// make the negative case.
nlohmann::json BitcoinCase(const std::string& name, uint64_t sighash_amount_delta) {
  std::array<uint8_t, 33> pubkey = testing::CompressedPubkey(kBtcKey);
  std::array<uint8_t, 20> key_hash = Hash160(pubkey);
  std::vector<uint8_t> spk = P2wpkhScriptPubKey(key_hash);
  std::array<uint8_t, 20> dest_hash = Hash160(testing::CompressedPubkey(std::vector<uint8_t>(32, 0x4d)));
  std::string dest = *P2wpkhAddress("bcrt", dest_hash);
  std::string change = *P2wpkhAddress("bcrt", key_hash);

  Transaction tx;
  tx.version = 2;
  const uint64_t amounts[2] = {150'000'000, 2'500'000};
  for (int i = 0; i < 2; ++i) {
    TxIn in;
    in.prevout.txid.fill(static_cast<uint8_t>(0xa0 + i));
    in.prevout.vout = static_cast<uint32_t>(i * 3);
    in.sequence = 0xfffffffd;
    tx.inputs.push_back(in);
  }
  tx.outputs.push_back(TxOut{100'000'000, *ScriptPubKeyForAddress(dest)});
  tx.outputs.push_back(TxOut{52'490'000, *ScriptPubKeyForAddress(change)});
  tx.locktime = 101;

  nlohmann::json inputs = nlohmann::json::array();
  std::vector<std::array<uint8_t, 32>> digests;
  for (size_t i = 0; i < tx.inputs.size(); ++i) {
    uint64_t signed_amount = amounts[i] + (i == 1 ? sighash_amount_delta : 0);
    absl::StatusOr<std::array<uint8_t, 32>> digest =
        Bip143Sighash(tx, i, P2wpkhScriptCode(key_hash), signed_amount, kSighashAll);
    EXPECT_TRUE(digest.ok()) << digest.status();
    digests.push_back(*digest);
    nlohmann::json in = {{"script_pubkey", base::HexEncode(spk)}, {"amount", amounts[i]}};
    if (sighash_amount_delta == 0) in["sighash"] = base::HexEncode(*digest);
    inputs.push_back(in);
  }
  for (size_t i = 0; i < tx.inputs.size(); ++i) {
    testing::RecoverableSignature sig = testing::SignDigest(kBtcKey, digests[i]);
    absl::Status st = SetP2wpkhWitness(tx, i, P2wpkhSignatureItem(sig.rs), pubkey);
    EXPECT_TRUE(st.ok()) << st;
  }
  absl::StatusOr<uint64_t> fee = Fee(tx, amounts);
  EXPECT_TRUE(fee.ok());
  EXPECT_EQ(*fee, 10'000u);
  return {{"name", name},
          {"chain", "bitcoin"},
          {"network", "regtest"},
          {"raw", base::HexEncode(Serialize(tx))},
          {"txid", DisplayHex(Txid(tx))},
          {"weight", Weight(tx)},
          {"vsize", VirtualSize(tx)},
          {"inputs", inputs},
          {"outputs", {{{"address", dest}, {"value", 100'000'000}}, {{"address", change}, {"value", 52'490'000}}}}};
}

struct EthCaseSpec {
  std::string name;
  std::optional<Erc20Transfer> erc20;
  bool sign_other_chain = false;  // negative case: signature over a different chain id
};

nlohmann::json EthereumCase(const EthCaseSpec& spec) {
  EthAddress sender = *EthAddressFromPubkeyBytes(testing::UncompressedPubkey(kEthKey));
  Eip1559Tx tx;
  tx.chain_id = 11155111;
  tx.nonce = 42;
  tx.max_priority_fee_per_gas = U256::FromU128(2'000'000'000);
  tx.max_fee_per_gas = U256::FromU128(40'000'000'000ULL);
  if (spec.erc20) {
    tx.gas_limit = 65'000;
    tx.to = *ParseEthAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238");
    tx.value = U256();
    tx.data = EncodeErc20Transfer(*spec.erc20);
  } else {
    tx.gas_limit = 21'000;
    tx.to = *ParseEthAddress("0x8ba1f109551bD432803012645Ac136ddd64DBA72");
    tx.value = U256::FromU128(static_cast<unsigned __int128>(3) * 1'000'000'000'000'000'000ULL / 2);
  }
  Eip1559Tx signed_over = tx;
  if (spec.sign_other_chain) signed_over.chain_id = 1;
  std::array<uint8_t, 32> digest = Eip1559SigningHash(tx);
  absl::StatusOr<std::vector<uint8_t>> raw = EncodeSignedEip1559(tx, SignEth(Eip1559SigningHash(signed_over)));
  EXPECT_TRUE(raw.ok()) << raw.status();
  nlohmann::json c = {{"name", spec.name},
                      {"chain", "ethereum"},
                      {"type", 2},
                      {"raw", Hex0x(*raw)},
                      {"chain_id", tx.chain_id},
                      {"sender", EthChecksumAddress(sender)},
                      {"to", EthChecksumAddress(*tx.to)},
                      {"value", tx.value.ToDecimal()},
                      {"data", Hex0x(tx.data)},
                      {"signing_hash", Hex0x(digest)}};
  if (spec.erc20) {
    c["erc20"] = {{"to", EthChecksumAddress(spec.erc20->to)}, {"amount", spec.erc20->amount.ToDecimal()}};
  }
  // Our own decoder must agree before the outside one is asked.
  absl::StatusOr<SignedEip1559Tx> back = DecodeSignedEip1559(*raw);
  EXPECT_TRUE(back.ok()) << back.status();
  if (!spec.sign_other_chain) {
    EXPECT_EQ(*RecoverSender(*back), sender);
  }
  return c;
}

std::string RunChecker(const std::filesystem::path& input) {
  std::string node = Env("RINGFENCE_NODE");
  std::string script = Env("CHAIN_INTEROP_SCRIPT");
  EXPECT_TRUE(!node.empty() && std::filesystem::exists(node))
      << "node not found (\"" << node << "\"); install nodejs: the cross-check is required, not optional";
  EXPECT_FALSE(script.empty()) << "CHAIN_INTEROP_SCRIPT not set";
  EXPECT_FALSE(Env("NODE_PATH").empty()) << "NODE_PATH must point at tests/js/node_modules";
  std::string cmd = "'" + node + "' '" + script + "' '" + input.string() + "' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  EXPECT_EQ(status, 0) << out;
  return out;
}

std::map<std::string, std::string> Verdicts(const std::string& out) {
  std::map<std::string, std::string> v;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    if (line.rfind("CASE ", 0) == 0) {
      size_t sp = line.find(' ', 5);
      v[line.substr(5, sp - 5)] = line.substr(sp + 1);
    }
    pos = end + 1;
  }
  return v;
}

// A legacy EIP-155 transfer on Ethereum mainnet; ethers derives the chain id from v.
nlohmann::json LegacyCase() {
  EthAddress sender = *EthAddressFromPubkeyBytes(testing::UncompressedPubkey(kEthKey));
  LegacyTx tx;
  tx.nonce = 9;
  tx.gas_price = U256::FromU128(25'000'000'000ULL);
  tx.gas_limit = 21'000;
  tx.to = *ParseEthAddress("0x3535353535353535353535353535353535353535");
  tx.value = U256::FromU128(777);
  tx.chain_id = 1;
  std::array<uint8_t, 32> digest = LegacySigningHash(tx);
  absl::StatusOr<std::vector<uint8_t>> raw = EncodeSignedLegacy(tx, SignEth(digest));
  EXPECT_TRUE(raw.ok()) << raw.status();
  return {{"name", "eth_legacy_eip155"},
          {"chain", "ethereum"},
          {"type", 0},
          {"raw", Hex0x(*raw)},
          {"chain_id", tx.chain_id},
          {"sender", EthChecksumAddress(sender)},
          {"to", EthChecksumAddress(*tx.to)},
          {"value", tx.value.ToDecimal()},
          {"data", "0x"},
          {"signing_hash", Hex0x(digest)}};
}

TEST(ChainInterop, BitcoinjsAndEthersAcceptOurTransactions) {
  Erc20Transfer transfer{*ParseEthAddress("0x00000000219ab540356cBB839Cbe05303d7705Fa"),
                         U256::FromU128(static_cast<unsigned __int128>(250) * 1'000'000)};
  nlohmann::json input = {
      {"cases",
       {BitcoinCase("btc_p2wpkh", 0), BitcoinCase("btc_wrong_amount_signed", 1),
        EthereumCase({"eth_eip1559", std::nullopt, false}), EthereumCase({"eth_erc20", transfer, false}),
        EthereumCase({"eth_signed_for_other_chain", std::nullopt, true}), LegacyCase()}}};
  ringfence::testing::TempDir dir("chain-interop");
  std::filesystem::path file = dir / "cases.json";
  std::ofstream(file) << input.dump(1);
  std::string out = RunChecker(file);
  std::map<std::string, std::string> v = Verdicts(out);
  ASSERT_EQ(v.size(), 6u) << out;
  EXPECT_NE(out.find("CHECKED 6"), std::string::npos) << out;
  for (const char* good : {"btc_p2wpkh", "eth_eip1559", "eth_erc20", "eth_legacy_eip155"}) {
    EXPECT_EQ(v[good].rfind("OK ", 0), 0u) << good << ": " << v[good];
  }
  EXPECT_EQ(v["btc_wrong_amount_signed"].rfind("FAIL ", 0), 0u) << v["btc_wrong_amount_signed"];
  EXPECT_NE(v["btc_wrong_amount_signed"].find("input 1: signature does not verify"), std::string::npos)
      << v["btc_wrong_amount_signed"];
  EXPECT_EQ(v["eth_signed_for_other_chain"].rfind("FAIL ", 0), 0u) << v["eth_signed_for_other_chain"];
  EXPECT_NE(v["eth_signed_for_other_chain"].find("sender"), std::string::npos) << v["eth_signed_for_other_chain"];
  EXPECT_NE(v["eth_erc20"].find("erc20_amount=250000000"), std::string::npos) << v["eth_erc20"];
  std::printf("%s", out.c_str());
}

}  // namespace
}  // namespace ringfence::chain
