// Ownership proofs of reserve addresses (spec section 4): checks that a reserve entry's proof
// is a valid signature by the key behind `address` over exactly the expected message.
//   ed25519:       RFC 8032 signature by the 32-byte key written as the address (libsodium);
//   eip191:        personal_sign over Keccak-256, r||s||v with v 27/28 and low s, recovering
//                  the EIP-55 checksummed address (chain/eth_address.h);
//   bip322-simple: BIP-322's simple format for a P2WPKH address: the to_spend/to_sign
//                  virtual transactions, BIP-143 sighash (chain/bitcoin_tx.h), witness
//                  [DER signature + SIGHASH_ALL, compressed key] with HASH160(key) equal to
//                  the address's program, low-s ECDSA verified with libsecp256k1.
//
// Pure functions; thread-safe. Failures are InvalidArgument naming the rule broken.
#ifndef RINGFENCE_RESERVES_OWNERSHIP_H_
#define RINGFENCE_RESERVES_OWNERSHIP_H_

#include <string_view>

#include "absl/status/status.h"
#include "reserves/format.h"

namespace ringfence::reserves {

// Verifies `entry.proof` against `expected_message` (OwnershipMessage for the snapshot).
absl::Status VerifyOwnership(const ReserveEntry& entry, std::string_view expected_message);

// BIP-322 message hash: TH("BIP0322-signed-message", message).
Hash32 Bip322MessageHash(std::string_view message);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_OWNERSHIP_H_
