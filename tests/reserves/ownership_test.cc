// Ownership proofs of all three types, made by independent code: ethers (EIP-191) and
// bip322-js (BIP-322 simple, P2WPKH) under node, and Python's `cryptography` (Ed25519). Each
// must verify; each kind of tampering must not. Then a package with all three exports and
// verifies through the real binary, with the auditor's chain view.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/reserves/test_support.h"
#include "reserves/ownership.h"

namespace ringfence::reserves::test {
namespace {

std::string Capture(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(status, 0) << cmd << "\n" << out;
  return out;
}

std::string SourceDir() {
  const char* s = std::getenv("RINGFENCE_SOURCE_DIR");
  return s ? s : ".";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

struct Signed {
  std::string type, chain, address, message, signature;
};

// Signs with the independent tools. `types` are (type, chain, key seed) triples.
std::vector<Signed> SignIndependently(const Custodian& c, const std::vector<std::array<std::string, 3>>& specs) {
  Json node_req = {{"custodian", c.custodian_id}, {"snapshot", base::HexEncode(c.snapshot)}, {"challenge", base::HexEncode(c.challenge)},
                   {"entries", Json::array()}};
  Json py_req = node_req;
  for (const auto& [type, chain, seed] : specs) {
    if (type == "ed25519") {
      py_req["entries"].push_back({{"chain", chain}, {"key_seed", seed}});
    } else {
      node_req["entries"].push_back({{"type", type}, {"chain", chain}, {"key_seed", seed}});
    }
  }
  Json node_out = Json::parse(Capture("node " + ShellQuote(SourceDir() + "/tests/reserves/sign_ownership.js") + " " +
                                      ShellQuote(node_req.dump())));
  const char* py = std::getenv("PYTHON");
  Json py_out = Json::parse(Capture(std::string(py ? py : "/usr/bin/python3") + " " +
                                    ShellQuote(SourceDir() + "/tests/reserves/sign_ed25519.py") + " " +
                                    ShellQuote(py_req.dump())));
  std::vector<Signed> out;
  size_t ni = 0, pi = 0;
  for (const auto& [type, chain, seed] : specs) {
    const Json& e = type == "ed25519" ? py_out["entries"][pi++] : node_out["entries"][ni++];
    out.push_back({type, chain, e["address"], e["message"], e["signature"]});
  }
  return out;
}

ReserveEntry ToEntry(const Signed& s, base::Uint128 balance) {
  Json j = {{"chain", s.chain},
            {"token", "native"},
            {"address", s.address},
            {"height", 812345},
            {"block_hash", std::string(64, 'e')},
            {"balance", base::Uint128ToString(balance)},
            {"proof", {{"type", s.type}, {"message", s.message}, {"signature", s.signature}}}};
  auto e = ParseReserveEntry(j, "entry");
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *e : ReserveEntry{};
}

class OwnershipTest : public ::testing::Test {
 protected:
  // The independent signers start slowly, so they sign once for the whole suite (every
  // Custodian uses the same id, snapshot and challenge).
  static void SetUpTestSuite() {
    Custodian c;
    suite_signed_ = new std::vector<Signed>(SignIndependently(c, {{"eip191", "ethereum-mainnet", "eth-key-1"},
                                                                  {"bip322-simple", "bitcoin-mainnet", "btc-key-1"},
                                                                  {"ed25519", "solana-sim", "sol-key-1"},
                                                                  {"eip191", "ethereum-mainnet", "eth-key-2"},
                                                                  {"bip322-simple", "bitcoin-mainnet", "btc-key-2"}}));
  }
  static void TearDownTestSuite() { delete suite_signed_; }
  void SetUp() override {
    signed_ = *suite_signed_;
    ASSERT_EQ(signed_.size(), 5u);
  }
  static std::vector<Signed>* suite_signed_;
  Custodian c_;
  std::vector<Signed> signed_;
  std::string Expected(const ReserveEntry& e) {
    return OwnershipMessage(c_.custodian_id, c_.snapshot, c_.challenge, e.chain, e.address);
  }
};

std::vector<Signed>* OwnershipTest::suite_signed_ = nullptr;

TEST_F(OwnershipTest, IndependentSignaturesVerify) {
  for (const Signed& s : signed_) {
    ReserveEntry e = ToEntry(s, 1);
    absl::Status st = VerifyOwnership(e, Expected(e));
    EXPECT_TRUE(st.ok()) << s.type << ": " << st;
  }
}

TEST_F(OwnershipTest, WrongOrStaleMessageFails) {
  for (const Signed& s : signed_) {
    ReserveEntry e = ToEntry(s, 1);
    Hash32 stale = Fill(0x99);
    std::string other = OwnershipMessage(c_.custodian_id, c_.snapshot, stale, e.chain, e.address);
    EXPECT_FALSE(VerifyOwnership(e, other).ok()) << s.type;
    // The message field rewritten to the expected text while the signature is over another.
    e.message = other;
    EXPECT_FALSE(VerifyOwnership(e, other).ok()) << s.type;
  }
}

TEST_F(OwnershipTest, FlippedSignatureBytesFail) {
  for (const Signed& s : signed_) {
    ReserveEntry base = ToEntry(s, 1);
    for (size_t i = 0; i < base.signature.size(); i += 5) {
      ReserveEntry e = base;
      e.signature[i] ^= 0x01;
      EXPECT_FALSE(VerifyOwnership(e, Expected(base)).ok()) << s.type << " byte " << i;
    }
  }
}

TEST_F(OwnershipTest, AnotherAddressFails) {
  // Each proof presented for the other key's address of the same type.
  std::vector<std::pair<int, int>> pairs = {{0, 3}, {1, 4}};
  for (auto [a, b] : pairs) {
    ReserveEntry e = ToEntry(signed_[a], 1);
    e.address = signed_[b].address;
    e.message = OwnershipMessage(c_.custodian_id, c_.snapshot, c_.challenge, e.chain, e.address);
    EXPECT_FALSE(VerifyOwnership(e, e.message).ok()) << signed_[a].type;
  }
}

TEST_F(OwnershipTest, Eip191Encodings) {
  ReserveEntry base = ToEntry(signed_[0], 1);
  // Not EIP-55 checksummed.
  ReserveEntry lower = base;
  for (char& ch : lower.address) ch = static_cast<char>(std::tolower(ch));
  lower.address[1] = 'x';
  EXPECT_FALSE(VerifyOwnership(lower, Expected(lower)).ok());
  // v outside 27/28.
  for (uint8_t v : {0, 1, 29}) {
    ReserveEntry e = base;
    e.signature[64] = v;
    EXPECT_FALSE(VerifyOwnership(e, Expected(e)).ok()) << int(v);
  }
  // High s: s -> n - s with the other v recovers the same key but is malleable.
  static const uint8_t kN[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  ReserveEntry high = base;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kN[i] - base.signature[32 + i] - borrow;
    borrow = d < 0;
    high.signature[32 + i] = static_cast<uint8_t>(d + (borrow ? 256 : 0));
  }
  high.signature[64] = base.signature[64] == 27 ? 28 : 27;
  EXPECT_FALSE(VerifyOwnership(high, Expected(high)).ok());
}

TEST_F(OwnershipTest, Bip322Encodings) {
  ReserveEntry base = ToEntry(signed_[1], 1);
  ReserveEntry trailing = base;
  trailing.signature.push_back(0);
  EXPECT_FALSE(VerifyOwnership(trailing, Expected(base)).ok());
  ReserveEntry truncated = base;
  truncated.signature.pop_back();
  EXPECT_FALSE(VerifyOwnership(truncated, Expected(base)).ok());
  // Non-canonical base64 is refused by the parser.
  Json j = ReserveEntryToJson(base);
  std::string sig = j["proof"]["signature"];
  j["proof"]["signature"] = sig + "\n";
  EXPECT_FALSE(ParseReserveEntry(j, "e").ok());
  // A P2TR or legacy address is not P2WPKH.
  ReserveEntry taproot = base;
  taproot.address = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";
  EXPECT_FALSE(VerifyOwnership(taproot, Expected(taproot)).ok());
}

TEST_F(OwnershipTest, PackageWithAllThreeTypesExportsAndVerifies) {
  c_.WriteLedger({{"A1", "BTC", 1000}, {"A2", "ETH", 5000}, {"A3", "SOL", 7}});
  Json reserves = {{"BTC", Json::array({ReserveEntryToJson(ToEntry(signed_[1], 600)), ReserveEntryToJson(ToEntry(signed_[4], 400))})},
                   {"ETH", Json::array({ReserveEntryToJson(ToEntry(signed_[0], 5000))})},
                   {"SOL", Json::array({ReserveEntryToJson(ToEntry(signed_[2], 7))})}};
  WriteFile(c_.dir() / "reserves.json", reserves.dump());
  std::string args = "export --liabilities " + Q(c_.dir() / "liabilities.csv") + " --reserves " +
                     Q(c_.dir() / "reserves.json") + " --custodian-id ACME --custodian-key " + Q(c_.dir() / "key.hex") +
                     " --snapshot-id " + base::HexEncode(c_.snapshot) + " --challenge " + base::HexEncode(c_.challenge) +
                     " --decimals BTC=8 --decimals ETH=18 --decimals SOL=9 --out " + Q(c_.dir() / "pkg");
  CommandResult r = RunReserves(args);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Json view = Json::object();
  for (int i : {0, 1, 2, 4}) view[signed_[i].chain][signed_[i].address] = {{"height", 812345}, {"block_hash", std::string(64, 'e')}};
  view[signed_[1].chain][signed_[1].address]["balance"] = "600";
  view[signed_[4].chain][signed_[4].address]["balance"] = "400";
  view[signed_[0].chain][signed_[0].address]["balance"] = "5000";
  view[signed_[2].chain][signed_[2].address]["balance"] = "7";
  WriteFile(c_.dir() / "chain.json", view.dump());
  r = RunReserves("verify " + Q(c_.dir() / "pkg") + " --pubkey " + base::HexEncode(c_.pubkey()) + " --chain-balances " +
                  Q(c_.dir() / "chain.json"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("not compared with a chain view"), std::string::npos) << r.out;
  view[signed_[4].chain][signed_[4].address]["balance"] = "399";
  WriteFile(c_.dir() / "chain.json", view.dump());
  r = RunReserves("verify " + Q(c_.dir() / "pkg") + " --pubkey " + base::HexEncode(c_.pubkey()) + " --chain-balances " +
                  Q(c_.dir() / "chain.json"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

}  // namespace
}  // namespace ringfence::reserves::test
