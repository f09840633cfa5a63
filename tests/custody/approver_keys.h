// Test approvers' keys (kTestApprovers in e2e_harness.h) and the approvals they sign, computed
// the way an approver's tool does: the digest from the fields custodyd shows
// (Withdrawal.digest_inputs; WhitelistEntry's id, client, asset, address and deadline), never
// from the digest_hex custodyd sent. Test-only.
#ifndef RINGFENCE_TESTS_CUSTODY_APPROVER_KEYS_H_
#define RINGFENCE_TESTS_CUSTODY_APPROVER_KEYS_H_

#include <array>
#include <cstdint>
#include <string>

#include "policy/approval_digest.h"
#include "proto/custody.pb.h"

namespace ringfence::custody::testing {

// The Ed25519 key pair of the seed of 32 bytes equal to `seed_byte`.
struct TestKey {
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> secret_key{};
};
TestKey KeyOf(uint8_t seed_byte);
// The key of kTestApprovers' `id`; a test failure for an unknown id.
TestKey ApproverKey(const std::string& id);

// The v2 digest of the withdrawal as shown (its digest_inputs).
policy::ApprovalSubject SubjectOf(const ringfence::custody::v1::Withdrawal& w);
policy::ApprovalDigestBytes DigestOf(const policy::ApprovalSubject& subject);
policy::ApprovalDigestBytes WhitelistDigestOf(const ringfence::custody::v1::WhitelistEntry& e);

// A 64-byte Ed25519 signature over `digest` (as a byte string for SubmitApprovalRequest).
std::string Sign(const TestKey& key, const policy::ApprovalDigestBytes& digest);

}  // namespace ringfence::custody::testing

#endif  // RINGFENCE_TESTS_CUSTODY_APPROVER_KEYS_H_
