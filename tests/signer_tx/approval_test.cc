// Amount fields, approval signatures over the approval digest (policy/approval_digest.h), the
// approver registry parser and the transaction config's registered wallets ([[wallet]]).
#include <sodium.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/amount.h"
#include "base/hex.h"
#include "policy/approval_digest.h"
#include "signer/tx/amount.h"
#include "signer/tx/approval.h"
#include "signer/tx/approver_registry.h"
#include "signer/tx/tx_config.h"
#include "tests/signer_tx/test_approvers.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using testing::ApproverEntries;
using testing::MakeTestApprover;
using testing::SignApproval;

constexpr base::Amount kMax = base::Amount::Max();

// The grammar itself is base::ParseBaseUnits's (tests/base); the wrapper only has to name the
// field, for every rule, with one status code.
TEST(ParseAmountFieldTest, NamesTheFieldForEveryRule) {
  EXPECT_EQ(*ParseAmountField("340282366920938463463374607431768211455", "f"), kMax);
  for (const std::string text : {"", "-1", "1.5", "01", "340282366920938463463374607431768211456",
                                 "9999999999999999999999999999999999999999"}) {
    auto r = ParseAmountField(text, "intent.amount");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(r.status().message()), ::testing::StartsWith("intent.amount: amount")) << text;
  }
  // A long text is quoted clipped.
  auto long_zero = ParseAmountField("0" + std::string(10000, '1'), "fee_cap");
  ASSERT_FALSE(long_zero.ok());
  EXPECT_THAT(std::string(long_zero.status().message()), HasSubstr("leading zero"));
  EXPECT_LT(long_zero.status().message().size(), 200u);
}

// The digest itself, its known answers and its independent check are policy's
// (tests/policy/approval_digest_test.cc); signerd verifies signatures over it.
policy::ApprovalSubject BaseSubject() {
  policy::ApprovalSubject s;
  s.request_id = "wd-1";
  s.kind = policy::RequestKind::kWithdrawal;
  s.source_wallet = "BTC:client-hot";
  s.expires_at = 1800000000;
  s.chain = "bitcoin";
  s.network = "regtest";
  s.asset = "BTC";
  s.amount = base::Amount(100000);
  s.destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
  s.fee_cap = base::Amount(1000);
  return s;
}

TEST(ApprovalSignatureTest, VerifiesOnlyForItsDigestAndKey) {
  auto alice = MakeTestApprover("alice", 1);
  auto bob = MakeTestApprover("bob", 2);
  auto subject = BaseSubject();
  auto sig = SignApproval(alice, subject);
  auto digest = *policy::ApprovalDigest(subject);
  EXPECT_TRUE(VerifyApprovalSignature(alice.public_key, sig, digest));
  EXPECT_FALSE(VerifyApprovalSignature(bob.public_key, sig, digest));
  subject.request_id = "wd-other";
  EXPECT_FALSE(VerifyApprovalSignature(alice.public_key, sig, *policy::ApprovalDigest(subject)));
  auto bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(VerifyApprovalSignature(alice.public_key, bad, digest));
  bad = sig;
  bad.push_back(0);
  EXPECT_FALSE(VerifyApprovalSignature(alice.public_key, bad, digest));
  bad.resize(63);
  EXPECT_FALSE(VerifyApprovalSignature(alice.public_key, bad, digest));
}

constexpr char kQuorum[] = R"(
[quorum.BTC]
internal_sweep_approvals = 0
tiers = [ { from = "0", approvals = 1 }, { from = "100000000", approvals = 2 } ]

[[cold_address]]
asset = "BTC"
address = "bcrt1qcold"
)";

TEST(ApproverRegistryTest, ParsesApproversQuorumAndColdAddresses) {
  auto a = MakeTestApprover("alice", 1), b = MakeTestApprover("bob", 2);
  const std::string text = ApproverEntries({a, b}) + kQuorum;
  auto reg = ApproverRegistry::Parse(text);
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->approver_count(), 2u);
  ASSERT_NE(reg->FindApprover("bob"), nullptr);
  EXPECT_EQ(*reg->FindApprover("bob"), b.public_key);
  EXPECT_EQ(reg->FindApprover("carol"), nullptr);
  EXPECT_EQ(*reg->RequiredApprovals("BTC", base::Amount(99999999), false), 1);
  EXPECT_EQ(*reg->RequiredApprovals("BTC", base::Amount(100000000), false), 2);
  EXPECT_EQ(*reg->RequiredApprovals("BTC", kMax, false), 2);
  EXPECT_EQ(*reg->RequiredApprovals("BTC", kMax, true), 0);
  EXPECT_EQ(reg->RequiredApprovals("ETH", base::Amount(1), false).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(reg->IsColdAddress("BTC", "bcrt1qcold"));
  EXPECT_FALSE(reg->IsColdAddress("ETH", "bcrt1qcold"));
  std::array<uint8_t, 32> h;
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  EXPECT_EQ(reg->sha256_hex(), base::HexEncode(h));
}

TEST(ApproverRegistryTest, RejectsBadRegistries) {
  auto a = MakeTestApprover("alice", 1), b = MakeTestApprover("bob", 2);
  const std::string ab = ApproverEntries({a, b});
  auto b_as_carol = b;
  b_as_carol.id = "carol";
  struct Case {
    std::string text;
    const char* error;
  } cases[] = {
      {"", "at least one [[approver]]"},
      {"[[approver]]\nid = \"x\"\n", "approver[0].public_key: missing"},
      {"[[approver]]\nid = \"x\"\npublic_key = \"00\"\n", "64 hex digits"},
      {"[[approver]]\nid = \"x\"\npublic_key = \"" + std::string(64, 'g') + "\"\n", "non-hex"},
      {"[[approver]]\nid = \"a b\"\npublic_key = \"" + std::string(64, '1') + "\"\n", "approver[0].id"},
      {"[[approver]]\nid = 5\npublic_key = \"" + std::string(64, '1') + "\"\n", "must be a string"},
      {ab + ApproverEntries({a}), "duplicate approver \"alice\""},
      {ab + ApproverEntries({b_as_carol}), "same key is registered"},
      {ab + "extra = 1\n", "extra: unknown field"},
      {ab + "[[approver]]\nid = \"z\"\npublic_key = \"" + std::string(64, '1') + "\"\nrole = \"x\"\n",
       "approver[2].role: unknown field"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = []\n", "quorum.BTC.tiers"},
      {ab + "[quorum.BTC]\ntiers = [ { from = \"0\", approvals = 1 } ]\n",
       "quorum.BTC.internal_sweep_approvals: missing"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = [ { from = \"1\", approvals = 1 } ]\n",
       "must start at \"0\""},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = [ { from = \"0\", approvals = 1 }, "
            "{ from = \"0\", approvals = 2 } ]\n",
       "strictly increasing"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = [ { from = \"0\", approvals = 3 } ]\n",
       "quorum.BTC.tiers[0].approvals: 3 is not within 0..2"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = -1\ntiers = [ { from = \"0\", approvals = 1 } ]\n",
       "internal_sweep_approvals: -1"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = [ { from = \"-5\", approvals = 1 } ]\n",
       "quorum.BTC.tiers[0].from"},
      {ab + "[quorum.BTC]\ninternal_sweep_approvals = 0\ntiers = [ { from = \"0\", approvals = 1, "
            "until = \"5\" } ]\n",
       "until: unknown field"},
      {ab + "[[cold_address]]\nasset = \"BTC\"\naddress = \"x\"\n[[cold_address]]\nasset = \"BTC\"\n"
            "address = \"x\"\n",
       "cold_address[1]: duplicate"},
      {ab + "[[approver]\n", "TOML syntax error"},
  };
  for (const auto& c : cases) {
    auto reg = ApproverRegistry::Parse(c.text);
    ASSERT_FALSE(reg.ok()) << c.text;
    EXPECT_EQ(reg.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(reg.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(ApproverRegistryTest, LoadNamesTheFile) {
  auto missing = ApproverRegistry::Load("/nonexistent/approvers.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/approvers.toml"));
}

}  // namespace
// The transaction config's [[wallet]] entries: parsed strictly, every bad entry named.
constexpr char kConfigHead[] = R"(approver_registry = "approvers.toml"
[bitcoin]
network = "regtest"
[ethereum]
network = "devnet"
chain_id = 1337
[[asset]]
id = "BTC"
chain = "bitcoin"
[[asset]]
id = "ETH"
chain = "ethereum"
)";
constexpr char kColdBtc[] = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
constexpr char kColdEth[] = "0x52908400098527886E0F7030069857D2E4169EE7";

std::string WalletEntry(const std::string& id, const std::string& asset, const std::string& owner,
                        const std::string& tier, const std::string& addresses) {
  return "[[wallet]]\nid = \"" + id + "\"\nasset = \"" + asset + "\"\nowner = \"" + owner + "\"\ntier = \"" + tier +
         "\"\naddresses = " + addresses + "\n";
}

TEST(TxConfigTest, ParsesRegisteredWallets) {
  auto config = ParseTxConfig(std::string(kConfigHead) +
                                  WalletEntry("BTC:client-cold", "BTC", "client", "cold", std::string("[\"") + kColdBtc + "\"]") +
                                  WalletEntry("ETH:house-cold", "ETH", "house", "cold", std::string("[\"") + kColdEth + "\"]"),
                              "/etc/ringfence");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->wallets.size(), 2u);
  EXPECT_EQ(config->wallets[0].wallet, (WalletBinding{"BTC:client-cold", "BTC", OwnerClass::kClient, Tier::kCold}));
  EXPECT_EQ(config->wallets[0].addresses, std::vector<std::string>{kColdBtc});
  EXPECT_EQ(config->wallets[1].wallet, (WalletBinding{"ETH:house-cold", "ETH", OwnerClass::kHouse, Tier::kCold}));
  // No [[wallet]] at all is fine: signerd then knows only its keys' wallets.
  EXPECT_TRUE(ParseTxConfig(kConfigHead, "/etc/ringfence").ok());
}

TEST(TxConfigTest, RejectsBadRegisteredWallets) {
  const std::string btc = std::string("[\"") + kColdBtc + "\"]";
  std::string many = "[";
  for (size_t i = 0; i <= kMaxRegisteredWalletAddresses; ++i) many += std::string(i ? "," : "") + "\"" + kColdBtc + "\"";
  many += "]";
  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {WalletEntry("BTC:cold", "BTC", "client", "cold", btc) + "label = \"x\"\n", "wallet[0].label: unknown field"},
      {"[[wallet]]\nid = \"BTC:cold\"\nasset = \"BTC\"\nowner = \"client\"\naddresses = []\n", "wallet[0].tier"},
      {"[[wallet]]\nid = \"BTC:cold\"\nasset = \"BTC\"\nowner = \"client\"\ntier = \"cold\"\n",
       "wallet[0].addresses: missing"},
      {WalletEntry("", "BTC", "client", "cold", btc), "wallet[0].id"},
      {WalletEntry("BTC cold", "BTC", "client", "cold", btc), "wallet[0].id"},
      {WalletEntry(std::string(65, 'w'), "BTC", "client", "cold", btc), "wallet[0].id"},
      {WalletEntry("DOGE:cold", "DOGE", "client", "cold", btc), "wallet[0].asset: \"DOGE\" is not a configured [[asset]]"},
      {WalletEntry("BTC:cold", "BTC", "customer", "cold", btc), "wallet[0].owner: \"customer\" is not client or house"},
      {WalletEntry("BTC:cold", "BTC", "client", "frozen", btc), "wallet[0].tier: \"frozen\" is not hot or cold"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", "[]"), "wallet[0].addresses: must be a non-empty array"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", "\"x\""), "wallet[0].addresses: must be a non-empty array"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", "[5]"), "wallet[0].addresses[0]: must be a string"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", many), "wallet[0].addresses: 10001 entries, at most 10000"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", "[\"BCRT1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KYGT080\"]"),
       "wallet[0].addresses[0]"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", "[\"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\"]"),
       "is not a regtest address"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", std::string("[\"") + kColdEth + "\"]"), "wallet[0].addresses[0]"},
      {WalletEntry("ETH:cold", "ETH", "client", "cold", "[\"0x52908400098527886e0f7030069857d2e4169ee7\"]"),
       "EIP-55"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", std::string("[\"") + kColdBtc + "\", \"" + kColdBtc + "\"]"),
       "wallet[0].addresses[1]: " + std::string(kColdBtc) + " is already an address of wallet BTC:cold"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", btc) + WalletEntry("BTC:cold2", "BTC", "house", "cold", btc),
       "wallet[1].addresses[0]"},
      {WalletEntry("BTC:cold", "BTC", "client", "cold", btc) +
           WalletEntry("BTC:cold", "ETH", "client", "cold", std::string("[\"") + kColdEth + "\"]"),
       "wallet[1].id: duplicate wallet \"BTC:cold\""},
  };
  auto not_tables = ParseTxConfig("wallet = 5\n" + std::string(kConfigHead), "/etc/ringfence");
  EXPECT_THAT(std::string(not_tables.status().message()), HasSubstr("wallet: must be an array of tables"));
  for (const auto& c : cases) {
    auto config = ParseTxConfig(std::string(kConfigHead) + c.text, "/etc/ringfence");
    ASSERT_FALSE(config.ok()) << c.text.substr(0, 300);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.error)) << c.text.substr(0, 300);
  }
}

}  // namespace ringfence::signer::tx
