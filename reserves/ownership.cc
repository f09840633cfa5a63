#include "reserves/ownership.h"

#include <sodium.h>

#include <string>
#include <vector>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"

#ifdef RINGFENCE_RESERVES_HAVE_CHAIN
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/ecdsa.h"
#include "chain/eth_address.h"
#include "chain/keccak.h"
#endif

namespace ringfence::reserves {

namespace {

absl::Status Bad(std::string_view why) { return absl::InvalidArgumentError(base::Cat("proof: ", why)); }

absl::Status VerifyEd25519(const ReserveEntry& e) {
  Hash32 pk;
  if (!base::HexDecodeInto(e.address, pk, "address", base::HexCase::kLowerOnly).ok()) {
    return Bad("an ed25519 address must be the 32-byte key as 64 lowercase hex");
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (crypto_sign_verify_detached(e.signature.data(), reinterpret_cast<const unsigned char*>(e.message.data()),
                                  e.message.size(), pk.data()) != 0) {
    return Bad("ed25519 signature does not verify for this address and message");
  }
  return absl::OkStatus();
}

#ifdef RINGFENCE_RESERVES_HAVE_CHAIN

absl::Status VerifyEip191(const ReserveEntry& e) {
  auto addr = chain::ParseEthAddress(e.address);
  if (!addr.ok()) return Bad(base::Cat("eip191 address: ", addr.status().message()));
  if (chain::EthChecksumAddress(*addr) != e.address) return Bad("eip191 address must be in EIP-55 checksummed form");
  if (e.signature.size() != 65 || (e.signature[64] != 27 && e.signature[64] != 28)) {
    return Bad("eip191 signature must be r||s||v with v = 27 or 28");
  }
  std::string prefixed = base::Cat("\x19" "Ethereum Signed Message:\n", e.message.size(), e.message);
  auto digest = chain::Keccak256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(prefixed.data()),
                                                          prefixed.size()));
  auto recovered = chain::RecoverEthAddress(digest, e.signature);
  if (!recovered.ok()) return Bad(base::Cat("eip191 signature: ", recovered.status().message()));
  if (*recovered != *addr) return Bad("eip191 signature recovers a different address");
  return absl::OkStatus();
}

// Reads a Bitcoin compact size; false when truncated or not minimally encoded.
bool ReadCompactSize(std::span<const uint8_t> b, size_t* pos, uint64_t* out) {
  if (*pos >= b.size()) return false;
  uint8_t first = b[(*pos)++];
  int len = first < 0xfd ? 0 : first == 0xfd ? 2 : first == 0xfe ? 4 : 8;
  if (len == 0) {
    *out = first;
    return true;
  }
  if (b.size() - *pos < static_cast<size_t>(len)) return false;
  uint64_t v = 0;
  for (int i = len - 1; i >= 0; --i) v = v << 8 | b[*pos + i];
  *pos += len;
  uint64_t min = len == 2 ? 0xfd : len == 4 ? 0x10000 : 0x100000000ULL;
  if (v < min) return false;
  *out = v;
  return true;
}

// The witness stack a bip322-simple signature carries, consensus-serialised: exactly two
// items (the signature, the public key) and nothing after them.
absl::StatusOr<std::vector<std::vector<uint8_t>>> ParseBip322Witness(std::span<const uint8_t> bytes) {
  std::vector<std::vector<uint8_t>> witness;
  size_t pos = 0;
  uint64_t count = 0;
  if (!ReadCompactSize(bytes, &pos, &count) || count != 2) {
    return Bad("bip322-simple witness must hold exactly 2 items (signature, public key)");
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = 0;
    if (!ReadCompactSize(bytes, &pos, &len) || len > bytes.size() - pos) {
      return Bad("bip322-simple witness is truncated");
    }
    witness.emplace_back(bytes.begin() + pos, bytes.begin() + pos + len);
    pos += len;
  }
  if (pos != bytes.size()) return Bad("bip322-simple witness has trailing bytes");
  return witness;
}

// BIP-322's virtual transactions for a P2WPKH `program`: to_spend, whose scriptSig pushes the
// message hash, and to_sign, which spends it with `witness` into an OP_RETURN.
chain::Transaction Bip322ToSign(const std::array<uint8_t, 20>& program, std::string_view message,
                                const std::vector<std::vector<uint8_t>>& witness) {
  const Hash32 message_hash = Bip322MessageHash(message);
  chain::Transaction to_spend;
  to_spend.version = 0;
  to_spend.locktime = 0;
  chain::TxIn in;
  in.prevout.txid.fill(0);
  in.prevout.vout = 0xffffffff;
  in.script_sig = {0x00, 0x20};
  in.script_sig.insert(in.script_sig.end(), message_hash.begin(), message_hash.end());
  in.sequence = 0;
  to_spend.inputs.push_back(in);
  chain::TxOut out;
  out.value = 0;
  out.script_pubkey = {0x00, 0x14};
  out.script_pubkey.insert(out.script_pubkey.end(), program.begin(), program.end());
  to_spend.outputs.push_back(out);

  chain::Transaction to_sign;
  to_sign.version = 0;
  to_sign.locktime = 0;
  chain::TxIn sin;
  sin.prevout.txid = chain::Txid(to_spend);
  sin.prevout.vout = 0;
  sin.sequence = 0;
  sin.witness = witness;
  to_sign.inputs.push_back(sin);
  chain::TxOut ret;
  ret.value = 0;
  ret.script_pubkey = {0x6a};
  to_sign.outputs.push_back(ret);
  return to_sign;
}

absl::Status VerifyBip322Simple(const ReserveEntry& e) {
  auto address = chain::DecodeSegwitAddress(e.address);
  if (!address.ok()) return Bad(base::Cat("bip322-simple address: ", address.status().message()));
  if (address->witness_version != 0 || address->program.size() != 20) {
    return Bad("bip322-simple is supported for P2WPKH addresses (witness v0, 20-byte program) only");
  }
  std::array<uint8_t, 20> program;
  std::copy(address->program.begin(), address->program.end(), program.begin());
  RF_ASSIGN_OR_RETURN(const std::vector<std::vector<uint8_t>> witness, ParseBip322Witness(e.signature));
  const std::vector<uint8_t>& sig_item = witness[0];
  const std::vector<uint8_t>& pubkey = witness[1];
  if (pubkey.size() != 33 || (pubkey[0] != 2 && pubkey[0] != 3)) {
    return Bad("bip322-simple public key must be 33-byte compressed");
  }
  auto key_hash = chain::Hash160(pubkey);
  if (!std::equal(key_hash.begin(), key_hash.end(), program.begin())) {
    return Bad("bip322-simple public key does not hash to the address");
  }
  if (sig_item.size() < 9 || sig_item.back() != chain::kSighashAll) {
    return Bad("bip322-simple signature must be DER followed by SIGHASH_ALL");
  }
  auto sig = chain::ParseDerSignature(std::span<const uint8_t>(sig_item.data(), sig_item.size() - 1));
  if (!sig.ok()) return Bad(base::Cat("bip322-simple signature: ", sig.status().message()));
  const chain::Transaction to_sign = Bip322ToSign(program, e.message, witness);
  auto sighash = chain::Bip143Sighash(to_sign, 0, chain::P2wpkhScriptCode(program), 0, chain::kSighashAll);
  if (!sighash.ok()) return Bad(base::Cat("bip322-simple sighash: ", sighash.status().message()));
  absl::Status st = chain::VerifyEcdsa(*sighash, *sig, pubkey);
  if (!st.ok()) return Bad(base::Cat("bip322-simple signature does not verify: ", st.message()));
  return absl::OkStatus();
}

#else

absl::Status VerifyEip191(const ReserveEntry&) {
  return absl::UnimplementedError("eip191 proofs need the chain module, which this build lacks");
}
absl::Status VerifyBip322Simple(const ReserveEntry&) {
  return absl::UnimplementedError("bip322-simple proofs need the chain module, which this build lacks");
}

#endif

}  // namespace

Hash32 Bip322MessageHash(std::string_view message) {
  static const TaggedHasher kTag("BIP0322-signed-message");
  return kTag.Hash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

absl::Status VerifyOwnership(const ReserveEntry& entry, std::string_view expected_message) {
  if (entry.message != expected_message) {
    return Bad(base::Cat("message is not the one for this custodian, snapshot, challenge, chain and address "
                            "(expected \"", expected_message, "\")"));
  }
  switch (entry.type) {
    case ProofType::kEd25519:
      return VerifyEd25519(entry);
    case ProofType::kEip191:
      return VerifyEip191(entry);
    case ProofType::kBip322Simple:
      return VerifyBip322Simple(entry);
  }
  return Bad("unknown proof type");
}

}  // namespace ringfence::reserves
