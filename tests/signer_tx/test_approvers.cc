#include "tests/signer_tx/test_approvers.h"

#include <sodium.h>

#include <cstdlib>

#include "base/hex.h"

namespace ringfence::signer::tx::testing {

TestApprover MakeTestApprover(const std::string& id, uint8_t seed_byte) {
  if (sodium_init() < 0) std::abort();
  TestApprover a;
  a.id = id;
  std::array<uint8_t, 32> seed;
  seed.fill(seed_byte);
  crypto_sign_seed_keypair(a.public_key.data(), a.secret_key.data(), seed.data());
  return a;
}

std::vector<uint8_t> SignApproval(const TestApprover& approver, const policy::ApprovalSubject& subject) {
  auto digest = policy::ApprovalDigest(subject);
  if (!digest.ok()) std::abort();
  std::vector<uint8_t> sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, digest->data(), digest->size(),
                       approver.secret_key.data());
  return sig;
}

std::string ApproverEntries(const std::vector<TestApprover>& approvers) {
  std::string out;
  for (const auto& a : approvers) {
    out += "[[approver]]\nid = \"" + a.id + "\"\npublic_key = \"" +
           base::HexEncode(a.public_key) + "\"\n\n";
  }
  return out;
}

}  // namespace ringfence::signer::tx::testing
