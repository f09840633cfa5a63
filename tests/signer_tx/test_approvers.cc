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

std::vector<uint8_t> SignApprovalV1(const TestApprover& approver, const policy::ApprovalSubject& subject) {
  auto text = [](std::string& out, const std::string& v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v.size() >> shift) & 0xff));
    out += v;
  };
  auto u128 = [](std::string& out, base::Amount v) {
    const auto be = v.ToBigEndian();
    out.append(reinterpret_cast<const char*>(be.data()), be.size());
  };
  std::string body;
  text(body, subject.request_id);
  text(body, subject.chain);
  text(body, subject.network);
  text(body, subject.asset);
  u128(body, subject.amount);
  text(body, subject.destination);
  u128(body, subject.fee_cap);
  static constexpr char kV1Tag[] = "ringfence/approval/v1";
  unsigned char tag[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(tag, reinterpret_cast<const unsigned char*>(kV1Tag), sizeof kV1Tag - 1);
  std::string message(reinterpret_cast<const char*>(tag), sizeof tag);
  message.append(message);
  message += body;
  std::array<uint8_t, 32> digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(message.data()), message.size());
  std::vector<uint8_t> sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, digest.data(), digest.size(), approver.secret_key.data());
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
