#include "tests/custody/approver_keys.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "base/amount.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {

TestKey KeyOf(uint8_t seed_byte) {
  EXPECT_GE(sodium_init(), 0);
  TestKey key;
  std::array<uint8_t, 32> seed;
  seed.fill(seed_byte);
  crypto_sign_seed_keypair(key.public_key.data(), key.secret_key.data(), seed.data());
  return key;
}

TestKey ApproverKey(const std::string& id) {
  for (const TestApprover& a : kTestApprovers) {
    if (id == a.id) return KeyOf(a.seed_byte);
  }
  ADD_FAILURE() << "no test approver " << id;
  return {};
}

policy::ApprovalSubject SubjectOf(const ringfence::custody::v1::Withdrawal& w) {
  const auto& in = w.digest_inputs();
  policy::ApprovalSubject s;
  s.request_id = in.request_id();
  std::optional<policy::RequestKind> kind = policy::ParseRequestKind(in.kind());
  EXPECT_TRUE(kind.has_value()) << in.kind();
  s.kind = kind.value_or(policy::RequestKind::kWithdrawal);
  s.source_wallet = in.source_wallet();
  s.chain = in.chain();
  s.network = in.network();
  s.asset = in.asset();
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(in.amount());
  EXPECT_TRUE(amount.ok()) << in.amount();
  s.amount = amount.value_or(base::Amount::Zero());
  s.destination = in.destination();
  absl::StatusOr<base::Amount> fee_cap = base::ParseBaseUnits(in.fee_cap());
  EXPECT_TRUE(fee_cap.ok()) << in.fee_cap();
  s.fee_cap = fee_cap.value_or(base::Amount::Zero());
  s.expires_at = in.expires_at_unix_s();
  return s;
}

policy::ApprovalDigestBytes DigestOf(const policy::ApprovalSubject& subject) {
  absl::StatusOr<policy::ApprovalDigestBytes> d = policy::ApprovalDigest(subject);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.value_or(policy::ApprovalDigestBytes{});
}

policy::ApprovalDigestBytes WhitelistDigestOf(const ringfence::custody::v1::WhitelistEntry& e) {
  policy::WhitelistChangeSubject s;
  s.change_id = e.entry_id();
  s.client_id = e.client_id();
  s.asset = e.asset_id();
  s.address = e.address();
  s.expires_at = e.expires_at_unix_s();
  absl::StatusOr<policy::ApprovalDigestBytes> d = policy::WhitelistChangeDigest(s);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.value_or(policy::ApprovalDigestBytes{});
}

std::string Sign(const TestKey& key, const policy::ApprovalDigestBytes& digest) {
  std::string sig(64, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, digest.data(), digest.size(),
                       key.secret_key.data());
  return sig;
}

}  // namespace ringfence::custody::testing
