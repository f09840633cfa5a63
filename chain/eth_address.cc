#include "chain/eth_address.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "chain/ecdsa.h"
#include "base/hex.h"
#include "chain/keccak.h"

namespace ringfence::chain {
namespace {

std::array<uint8_t, 20> AddressFromUncompressed(const std::array<uint8_t, 65>& uncompressed) {
  std::array<uint8_t, 32> h = Keccak256(std::span<const uint8_t>(uncompressed.data() + 1, 64));
  std::array<uint8_t, 20> out;
  std::copy(h.begin() + 12, h.end(), out.begin());
  return out;
}

}  // namespace

std::string EthChecksumAddress(const std::array<uint8_t, 20>& addr) {
  std::string lower = base::HexEncode(addr);
  std::array<uint8_t, 32> h =
      Keccak256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(lower.data()), lower.size()));
  std::string out = "0x";
  for (size_t i = 0; i < lower.size(); ++i) {
    char c = lower[i];
    uint8_t nibble = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
    if (c >= 'a' && c <= 'f' && nibble >= 8) c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::array<uint8_t, 20>> ParseEthAddress(std::string_view s) {
  if (s.size() < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
    return absl::InvalidArgumentError("Ethereum address: must start with 0x");
  }
  if (s[1] == 'X') return absl::InvalidArgumentError("Ethereum address: prefix must be lowercase 0x");
  std::string_view digits = s.substr(2);
  if (digits.size() != 40) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ethereum address: must have 40 hex digits after 0x, got ", digits.size()));
  }
  bool has_lower = false;
  bool has_upper = false;
  for (size_t i = 0; i < digits.size(); ++i) {
    char c = digits[i];
    if (c >= 'a' && c <= 'f') {
      has_lower = true;
    } else if (c >= 'A' && c <= 'F') {
      has_upper = true;
    } else if (!(c >= '0' && c <= '9')) {
      return absl::InvalidArgumentError(absl::StrCat("Ethereum address: non-hex character at position ", i + 2));
    }
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = base::HexDecode(digits, "Ethereum address");
  if (!bytes.ok()) return bytes.status();
  std::array<uint8_t, 20> addr;
  std::copy(bytes->begin(), bytes->end(), addr.begin());
  if (has_lower && has_upper && EthChecksumAddress(addr) != s) {
    return absl::InvalidArgumentError("Ethereum address: mixed-case address fails its EIP-55 checksum");
  }
  return addr;
}

std::array<uint8_t, 20> EthAddressFromPubkey(const secp256k1_pubkey& pk) {
  std::array<uint8_t, 65> uncompressed;
  size_t len = uncompressed.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, uncompressed.data(), &len, &pk, SECP256K1_EC_UNCOMPRESSED);
  return AddressFromUncompressed(uncompressed);
}

absl::StatusOr<std::array<uint8_t, 20>> EthAddressFromPubkeyBytes(std::span<const uint8_t> pubkey) {
  absl::StatusOr<std::array<uint8_t, 65>> uncompressed = UncompressPublicKey(pubkey);
  if (!uncompressed.ok()) return uncompressed.status();
  return AddressFromUncompressed(*uncompressed);
}

absl::StatusOr<std::array<uint8_t, 20>> RecoverEthAddress(const std::array<uint8_t, 32>& digest,
                                                          std::span<const uint8_t> sig65) {
  if (sig65.size() != 65) {
    return absl::InvalidArgumentError(absl::StrCat("Ethereum signature: must be 65 bytes r||s||v, got ", sig65.size()));
  }
  int v = sig65[64];
  int recid;
  if (v == 0 || v == 1) {
    recid = v;
  } else if (v == 27 || v == 28) {
    recid = v - 27;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("Ethereum signature: v must be 0, 1, 27 or 28, got ", v));
  }
  CompactSignature sig;
  std::copy(sig65.begin(), sig65.begin() + 64, sig.begin());
  absl::StatusOr<std::array<uint8_t, 65>> pubkey = RecoverPublicKey(digest, sig, recid);
  if (!pubkey.ok()) return pubkey.status();
  return AddressFromUncompressed(*pubkey);
}

}  // namespace ringfence::chain
