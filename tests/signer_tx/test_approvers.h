// Test approvers for signer_tx tests: deterministic Ed25519 key pairs (from a one-byte seed),
// approval signatures over policy::ApprovalDigest, and registry TOML text naming them.
// Not thread-safe beyond what libsodium guarantees; test-only.
#ifndef RINGFENCE_TESTS_SIGNER_TX_TEST_APPROVERS_H_
#define RINGFENCE_TESTS_SIGNER_TX_TEST_APPROVERS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/approval_digest.h"

namespace ringfence::signer::tx::testing {

struct TestApprover {
  std::string id;
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> secret_key{};
};

TestApprover MakeTestApprover(const std::string& id, uint8_t seed_byte);

// Ed25519 signature by `approver` over policy::ApprovalDigest(subject). Aborts if the subject
// has no digest (a broken test).
std::vector<uint8_t> SignApproval(const TestApprover& approver, const policy::ApprovalSubject& subject);
// Ed25519 signature by `approver` over the retired approval digest v1 of `subject` (tag
// "ringfence/approval/v1"; request id, chain, network, asset, amount, destination, fee cap;
// docs/approval-digest.md, "Versions"), written out here because no product code computes it
// any more: what an approver's old quorum would have sent.
std::vector<uint8_t> SignApprovalV1(const TestApprover& approver, const policy::ApprovalSubject& subject);

// [[approver]] entries for `approvers`.
std::string ApproverEntries(const std::vector<TestApprover>& approvers);

}  // namespace ringfence::signer::tx::testing

#endif  // RINGFENCE_TESTS_SIGNER_TX_TEST_APPROVERS_H_
