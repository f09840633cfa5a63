// Section 8 of the spec: every rejection class as its own test, for the client's inclusion
// check (VerifyInclusion) and for the auditor's package check (VerifyPackage) where it applies.
// A deliberate change is re-signed with the custodian's key whenever that is needed to reach
// the check under test (otherwise the signature check would hide it).
#include <gtest/gtest.h>

#include "tests/reserves/test_support.h"
#include "reserves/tree.h"

namespace ringfence::reserves::test {
namespace {

class RejectTest : public ::testing::Test {
 protected:
  Custodian c_;
  fs::path pkg_;

  void SetUp() override {
    c_.WriteLedger({{"ACC-0001", "BTC", 150000000},
                    {"ACC-0002", "BTC", 2500},
                    {"ACC-0003", "BTC", 99999999},
                    {"ACC-0002", "ETH", 7000},
                    {"ACC-0004", "ETH", 1}});
    c_.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 300000000, 1}}},
                      {"ETH", {{"ethereum-sim", "native", 5000, 2}, {"ethereum-sim", "usdc", 5000, 3}}}});
    ExportOptions o = c_.Options("pkg");
    o.decimals = {{"BTC", 8}, {"ETH", 18}};
    o.parts = 2;
    o.decoys = 3;
    o.inclusion_files = true;
    auto m = Export(o);
    ASSERT_TRUE(m.ok()) << m.status();
    pkg_ = c_.dir() / "pkg";
  }

  std::string Manifest() { return ReadFile(pkg_ / "manifest.json"); }
  Json Proof(const std::string& who = "ACC-0002") {
    return Json::parse(ReadFile(pkg_ / "inclusion" / (who + ".json")));
  }

  InclusionResult Check(const std::string& proof_text, const std::string& account = "ACC-0002",
                        const std::map<std::string, base::Uint128>& expect = {},
                        std::optional<std::string> manifest = std::nullopt,
                        std::optional<Hash32> published = std::nullopt) {
    InclusionOptions o;
    o.proof_text = proof_text;
    o.manifest_text = manifest ? *manifest : Manifest();
    o.pubkey = c_.pubkey();
    o.account_id = account;
    for (const auto& [asset, amount] : expect) o.expect.emplace(asset, base::Amount(amount));
    o.published_digest = published;
    return VerifyInclusion(o);
  }
  InclusionResult Check(const Json& proof, const std::string& account = "ACC-0002") {
    return Check(proof.dump(), account);
  }

  PackageResult VerifyDir(const std::string& chain_view = "", std::optional<Hash32> published = std::nullopt) {
    PackageOptions o;
    o.dir = pkg_.string();
    o.pubkey = c_.pubkey();
    o.published_digest = published;
    if (!chain_view.empty()) {
      WriteFile(c_.dir() / "chain.json", chain_view);
      o.chain_balances_path = (c_.dir() / "chain.json").string();
    }
    return VerifyPackage(o);
  }

  // Rewrites the BTC tree file through `change` and re-signs a manifest whose BTC root is the
  // root rebuilt over the changed leaves with `pad` (canonical padding unless told otherwise).
  void RewriteTree(const std::function<void(TreeFile&)>& change, bool zero_padding = false) {
    fs::remove_all(pkg_ / "inclusion");  // they bind the old manifest digest
    fs::path p = pkg_ / "liabilities" / "BTC.tree";
    auto tree = ReadTreeFile(p.string(), 1u << 20, nullptr);
    ASSERT_TRUE(tree.ok());
    change(*tree);
    std::string out;
    auto header = TreeFileHeader(tree->snapshot_id, tree->asset_id, tree->depth, tree->leaves.size());
    out.assign(header.begin(), header.end());
    for (const Node& n : tree->leaves) {
      uint8_t rec[48];
      EncodeTreeRecord(n, rec);
      out.append(reinterpret_cast<char*>(rec), 48);
    }
    WriteFile(p, out);
    Node root;
    std::vector<Node> leaves = tree->leaves;
    if (zero_padding) {
      leaves.resize(size_t{1} << tree->depth);
      for (size_t i = tree->leaves.size(); i < leaves.size(); ++i) leaves[i] = Node{};
      for (int level = 1; level <= tree->depth; ++level) {
        for (size_t j = 0; j < leaves.size() >> level; ++j) TreeHasher::Combine(level, leaves[2 * j], leaves[2 * j + 1], &leaves[j]);
      }
      root = leaves[0];
    } else {
      TreeHasher hasher(tree->snapshot_id, tree->asset_id);
      auto r = BuildTree(hasher, leaves, tree->depth, BuildOptions{});
      // An overflowing tree has no root: keep the signed one so only the overflow is wrong.
      if (!r.ok()) {
        auto m = ParseManifest(Manifest());
        std::copy(m->assets[0].root_hash.begin(), m->assets[0].root_hash.end(), root.hash);
        root.sum = m->assets[0].root_sum;
      } else {
        root = *r;
      }
    }
    uint64_t n = tree->leaves.size();
    c_.Resign(pkg_, [&](reserves::Manifest& m) {
      std::copy(root.hash, root.hash + 32, m.assets[0].root_hash.begin());
      m.assets[0].root_sum = root.sum;
      m.assets[0].n_leaves = n;
    });
  }

  // Replaces an asset's reserves and re-signs the manifest with their digest and total.
  void RewriteReserves(const std::string& asset, const std::vector<ReserveEntry>& entries) {
    fs::remove_all(pkg_ / "inclusion");  // they bind the old manifest digest
    WriteFile(pkg_ / "reserves" / (asset + ".json"), ReserveEntriesToJson(entries));
    base::Amount total;
    for (const auto& e : entries) total = *total.CheckedAdd(e.balance);
    c_.Resign(pkg_, [&](reserves::Manifest& m) {
      for (auto& a : m.assets) {
        if (a.asset_id != asset) continue;
        a.reserves_total = total;
        a.reserves_digest = ReservesDigest(m.snapshot_id, asset, entries);
      }
    });
  }

  std::string ChainView() {
    Json j = Json::object();
    for (const char* asset : {"BTC", "ETH"}) {
      auto entries = ParseReserveEntries(ReadFile(pkg_ / "reserves" / (std::string(asset) + ".json")), asset);
      for (const auto& e : *entries) {
        std::string key = e.token == "native" ? e.address : e.token + "/" + e.address;
        j[e.chain][key] = {{"height", e.height}, {"block_hash", base::HexEncode(e.block_hash)}, {"balance", e.balance.ToBaseUnitString()}};
      }
    }
    return j.dump();
  }
};

TEST_F(RejectTest, BaselineIsValid) {
  InclusionResult r = Check(Proof().dump(), "ACC-0002", {{"BTC", 2500}, {"ETH", 7000}});
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.error;
  PackageResult p = VerifyDir(ChainView());
  EXPECT_EQ(p.verdict, Verdict::kValid) << p.error;
  EXPECT_EQ(p.inclusion_files_checked, 4u);
}

// 1. A lowered sibling sum (the max attack).
TEST_F(RejectTest, R01_LoweredSiblingSum) {
  // Leaf positions are shuffled, so look for a sibling whose sum is not zero (the siblings
  // together hold every other leaf, so one exists).
  Json p = Proof();
  Json* sib = nullptr;
  for (Json& s : p["entries"][0]["parts"][0]["path"]) {
    if (s["sum"] != "0") sib = &s["sum"];
  }
  ASSERT_NE(sib, nullptr);
  base::Amount v = *ParseAmount(sib->get<std::string>(), "sum");
  *sib = v.CheckedSub(base::Amount(1))->ToBaseUnitString();
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
}

// 2. Negative, fractional, exponent, leading zero, '+', above u128.
TEST_F(RejectTest, R02_MalformedAmounts) {
  for (const char* bad : {"-2500", "2500.0", "2.5e3", "02500", "+2500", "340282366920938463463374607431768211456"}) {
    Json p = Proof();
    p["entries"][0]["parts"][0]["amount"] = bad;
    InclusionResult r = Check(p);
    EXPECT_EQ(r.verdict, Verdict::kInvalid) << bad;
    EXPECT_NE(r.error.find("amount"), std::string::npos) << r.error;
  }
  // A JSON number instead of a string, negative numbers and fractions as numbers.
  for (const char* bad : {"2500", "-1", "1.5", "1e3"}) {
    std::string text = Proof().dump();
    std::string from = "\"amount\":\"" + Proof()["entries"][0]["parts"][0]["amount"].get<std::string>() + "\"";
    text.replace(text.find(from), from.size(), std::string("\"amount\":") + bad);
    EXPECT_EQ(Check(text).verdict, Verdict::kInvalid) << bad;
  }
  // The largest u128 parses; the package verifier refuses the same in a tree's manifest.
  EXPECT_TRUE(ParseAmount("340282366920938463463374607431768211455", "x").ok());
  std::string m = Manifest();
  size_t at = m.find("\"root_sum\":\"");
  m.insert(at + 12, "0");
  WriteFile(pkg_ / "manifest.json", m);
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

// 3. Sibling sums that wrap past 2^128.
TEST_F(RejectTest, R03_SiblingSumsWrap) {
  // A part with a non-zero amount (random splits may give a part zero).
  Json p = Proof();
  Json* part = nullptr;
  for (Json& q : p["entries"][0]["parts"]) {
    if (q["amount"] != "0") part = &q;
  }
  ASSERT_NE(part, nullptr);
  (*part)["path"][0]["sum"] = "340282366920938463463374607431768211455";
  InclusionResult r = Check(p);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("overflow"), std::string::npos) << r.error;
  // In a tree file: two leaves whose sums wrap, re-signed so only the overflow is wrong.
  RewriteTree([](TreeFile& t) {
    t.leaves[0].sum = base::Amount::Max();
    t.leaves[1].sum = base::Amount(5);
  });
  PackageResult pr = VerifyDir();
  EXPECT_EQ(pr.verdict, Verdict::kInvalid);
  EXPECT_NE(pr.error.find("overflow"), std::string::npos) << pr.error;
}

// 4. A changed leaf amount.
TEST_F(RejectTest, R04_ChangedLeafAmount) {
  Json p = Proof();
  std::string a = p["entries"][0]["parts"][0]["amount"];
  p["entries"][0]["parts"][0]["amount"] = ParseAmount(a, "a")->CheckedAdd(base::Amount(1))->ToBaseUnitString();
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  // And against the client's own record.
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {{"BTC", 2501}}).verdict, Verdict::kInvalid);
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {{"DOGE", 1}}).verdict, Verdict::kInvalid);
}

// 5. root_hash / root_sum in the proof differ from the signed manifest.
TEST_F(RejectTest, R05_RootDiffersFromManifest) {
  Json p = Proof();
  p["entries"][0]["root_sum"] = "1";
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  Json q = Proof();
  std::string h = q["entries"][0]["root_hash"];
  h[0] = h[0] == 'a' ? 'b' : 'a';
  q["entries"][0]["root_hash"] = h;
  EXPECT_EQ(Check(q).verdict, Verdict::kInvalid);
}

// 6. A path shorter or longer than D.
TEST_F(RejectTest, R06_PathLength) {
  Json p = Proof();
  p["entries"][0]["parts"][0]["path"].erase(p["entries"][0]["parts"][0]["path"].size() - 1);
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  Json q = Proof();
  q["entries"][0]["parts"][0]["path"].push_back({{"hash", std::string(64, '0')}, {"sum", "0"}});
  EXPECT_EQ(Check(q).verdict, Verdict::kInvalid);
}

// 7. Flipped index bits.
TEST_F(RejectTest, R07_FlippedIndexBits) {
  int depth = Proof()["entries"][0]["depth"];
  for (int bit = 0; bit < depth; ++bit) {
    Json p = Proof();
    uint64_t index = p["entries"][0]["parts"][0]["index"];
    uint64_t flipped = index ^ (uint64_t{1} << bit);
    p["entries"][0]["parts"][0]["index"] = flipped;
    EXPECT_EQ(Check(p).verdict, Verdict::kInvalid) << "bit " << bit;
  }
}

// 8. An index at or beyond n (a padding slot).
TEST_F(RejectTest, R08_IndexInPadding) {
  Json p = Proof();
  uint64_t n = p["entries"][0]["n_leaves"];
  p["entries"][0]["parts"][0]["index"] = n;
  InclusionResult r = Check(p);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("padding"), std::string::npos) << r.error;
}

// 9. Another client's leaf presented as yours.
TEST_F(RejectTest, R09_AnotherClientsLeaf) {
  EXPECT_EQ(Check(Proof("ACC-0001").dump(), "ACC-0002").verdict, Verdict::kInvalid);
  Json p = Proof("ACC-0001");
  p["client_account_id"] = "ACC-0002";
  InclusionResult r = Check(p, "ACC-0002");
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("root"), std::string::npos) << r.error;
}

// 10. A duplicated or missing part.
TEST_F(RejectTest, R10_DuplicatedOrMissingPart) {
  Json p = Proof();
  p["entries"][0]["parts"].erase(1);
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  Json q = Proof();
  q["entries"][0]["parts"][1] = q["entries"][0]["parts"][0];
  EXPECT_EQ(Check(q).verdict, Verdict::kInvalid);
  Json r = Proof();
  r["entries"][0]["parts"][1]["part_index"] = 0;
  EXPECT_EQ(Check(r).verdict, Verdict::kInvalid);
}

// 11. A proof or manifest replayed from another snapshot, asset or custodian.
TEST_F(RejectTest, R11_Replay) {
  // Another snapshot of the same custodian: same ledger, fresh snapshot id.
  Custodian other;
  other.snapshot = Fill(0x33);
  other.WriteLedger({{"ACC-0002", "BTC", 2500}, {"ACC-0009", "BTC", 1}});
  other.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 300000000, 1}}}});
  ExportOptions o = other.Options("pkg2");
  o.decimals = {{"BTC", 8}};
  o.inclusion_files = true;
  ASSERT_TRUE(Export(o).ok());
  std::string other_manifest = ReadFile(other.dir() / "pkg2" / "manifest.json");
  // Both custodians use the same seed, so the signature is good: only the binding rejects.
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, other_manifest).verdict, Verdict::kInvalid);
  std::string other_proof = ReadFile(other.dir() / "pkg2" / "inclusion" / "ACC-0002.json");
  EXPECT_EQ(Check(other_proof).verdict, Verdict::kInvalid);
  // Another asset: the BTC entry relabelled as ETH.
  Json p = Proof();
  p["entries"][0]["asset_id"] = "ETH";
  p["entries"].erase(1);
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  // Another custodian.
  Json q = Proof();
  q["custodian_id"] = "OTHER";
  EXPECT_EQ(Check(q).verdict, Verdict::kInvalid);
  // A manifest replayed from another snapshot into this package.
  WriteFile(pkg_ / "manifest.json", other_manifest);
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

// 12. Uppercase, short or truncated hashes.
TEST_F(RejectTest, R12_HashEncodings) {
  std::string salt = Proof()["entries"][0]["parts"][0]["salt"];
  std::string upper = salt;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
  ASSERT_NE(upper, salt);
  for (const std::string& bad : {upper, salt.substr(0, 63), salt.substr(0, 32), salt + "00", "0x" + salt.substr(2)}) {
    Json p = Proof();
    p["entries"][0]["parts"][0]["salt"] = bad;
    EXPECT_EQ(Check(p).verdict, Verdict::kInvalid) << bad;
  }
  std::string m = Manifest();
  std::string digest = Json::parse(m)["manifest_digest"];
  std::string up = digest;
  for (char& ch : up) ch = static_cast<char>(std::toupper(ch));
  m.replace(m.find(digest), 64, up);
  WriteFile(pkg_ / "manifest.json", m);
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

// 13. Duplicate or unknown JSON keys.
TEST_F(RejectTest, R13_DuplicateAndUnknownKeys) {
  std::string text = Proof().dump();
  std::string dup = text;
  dup.insert(1, "\"format\":\"custody-por-inclusion/1\",");
  InclusionResult r = Check(dup);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("duplicate"), std::string::npos) << r.error;
  Json p = Proof();
  p["entries"][0]["parts"][0]["note"] = "x";
  r = Check(p);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("unknown key"), std::string::npos) << r.error;
  // The manifest: a duplicated key whose last copy is the genuine value still fails.
  std::string m = Manifest();
  m.insert(1, "\"custodian_id\":\"EVIL\",");
  WriteFile(pkg_ / "manifest.json", m);
  PackageResult pr = VerifyDir();
  EXPECT_EQ(pr.verdict, Verdict::kInvalid);
  EXPECT_NE(pr.error.find("duplicate"), std::string::npos) << pr.error;
}

// 14. A bad or missing signature, the wrong key, an unknown version.
TEST_F(RejectTest, R14_SignatureKeyVersion) {
  Json m = Json::parse(Manifest());
  std::string sig = m["signature"]["sig"];
  sig[10] = sig[10] == '0' ? '1' : '0';
  Json bad = m;
  bad["signature"]["sig"] = sig;
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, bad.dump()).verdict, Verdict::kInvalid);
  Json missing = m;
  missing.erase("signature");
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, missing.dump()).verdict, Verdict::kInvalid);
  Json version = m;
  version["format"] = "custody-por-manifest/2";
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, version.dump()).verdict, Verdict::kInvalid);
  Json p = Proof();
  p["format"] = "custody-por-inclusion/2";
  EXPECT_EQ(Check(p).verdict, Verdict::kInvalid);
  // The wrong pinned key.
  InclusionOptions o;
  o.proof_text = Proof().dump();
  o.manifest_text = Manifest();
  o.pubkey = Fill(0x01);
  o.account_id = "ACC-0002";
  EXPECT_EQ(VerifyInclusion(o).verdict, Verdict::kInvalid);
  PackageOptions po;
  po.dir = pkg_.string();
  po.pubkey = Fill(0x01);
  EXPECT_EQ(VerifyPackage(po).verdict, Verdict::kInvalid);
  WriteFile(pkg_ / "manifest.json", bad.dump());
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

// 15. A manifest digest that differs from the published one.
TEST_F(RejectTest, R15_PublishedDigest) {
  Hash32 real = ParseManifest(Manifest())->manifest_digest;
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, std::nullopt, real).verdict, Verdict::kValid);
  EXPECT_EQ(VerifyDir("", real).verdict, Verdict::kValid);
  Hash32 other = real;
  other[31] ^= 1;
  EXPECT_EQ(Check(Proof().dump(), "ACC-0002", {}, std::nullopt, other).verdict, Verdict::kInvalid);
  EXPECT_EQ(VerifyDir("", other).verdict, Verdict::kInvalid);
}

// 16. A tree file with wrong sums, duplicate leaves, non-canonical padding, or n unlike the
// manifest.
TEST_F(RejectTest, R16_TreeWrongSums) {
  fs::path p = pkg_ / "liabilities" / "BTC.tree";
  std::string t = ReadFile(p);
  t[t.size() - 1] = static_cast<char>(t[t.size() - 1] ^ 1);  // last leaf's amount
  WriteFile(p, t);
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("root"), std::string::npos) << r.error;
}

TEST_F(RejectTest, R16_TreeDuplicateLeaves) {
  RewriteTree([](TreeFile& t) { t.leaves[1] = t.leaves[0]; });
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("same hash"), std::string::npos) << r.error;
}

TEST_F(RejectTest, R16_TreeNonCanonicalPadding) {
  ASSERT_NE(ParseManifest(Manifest())->assets[0].n_leaves, 8u) << "the BTC tree needs padding for this test";
  RewriteTree([](TreeFile&) {}, /*zero_padding=*/true);
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("root"), std::string::npos) << r.error;
}

TEST_F(RejectTest, R16_TreeCountUnlikeManifest) {
  fs::path p = pkg_ / "liabilities" / "BTC.tree";
  auto tree = ReadTreeFile(p.string(), 1u << 20, nullptr);
  ASSERT_TRUE(tree.ok());
  // Drop the last leaf but leave the manifest alone.
  std::string t = ReadFile(p);
  t.resize(t.size() - 48);
  auto header = TreeFileHeader(tree->snapshot_id, tree->asset_id, tree->depth, tree->n - 1);
  t.replace(0, header.size(), std::string(header.begin(), header.end()));
  WriteFile(p, t);
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("n"), std::string::npos) << r.error;
}

// 17. Reserves.
TEST_F(RejectTest, R17_StaleOrWrongMessage) {
  Hash32 old_challenge = Fill(0x99);
  ReserveEntry stale = c_.MakeEntry({"bitcoin-sim", "native", 300000000, 1}, nullptr, &old_challenge);
  RewriteReserves("BTC", {stale});
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("message"), std::string::npos) << r.error;
  // A correct message with a signature over another one.
  ReserveEntry good = c_.MakeEntry({"bitcoin-sim", "native", 300000000, 1});
  good.signature = stale.signature;
  good.signature_text = stale.signature_text;
  RewriteReserves("BTC", {good});
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

TEST_F(RejectTest, R17_AddressCountedTwice) {
  ReserveEntry e = c_.MakeEntry({"bitcoin-sim", "native", 150000000, 1});
  RewriteReserves("BTC", {e, e});
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("unique"), std::string::npos) << r.error;
}

TEST_F(RejectTest, R17_BalanceUnlikeChain) {
  Json view = Json::parse(ChainView());
  for (auto& [chain, addrs] : view.items()) {
    for (auto& [addr, rec] : addrs.items()) rec["balance"] = "1";
    break;
  }
  PackageResult r = VerifyDir(view.dump());
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  // Both balances as a person reads them: display units, base units labelled.
  EXPECT_NE(r.error.find("balance 3 BTC (300000000 base units) differs from the chain's 0.00000001 BTC (1 base unit)"),
            std::string::npos)
      << r.error;
}

TEST_F(RejectTest, R17_BlockNotOnChain) {
  Json view = Json::parse(ChainView());
  for (auto& [chain, addrs] : view.items()) {
    for (auto& [addr, rec] : addrs.items()) rec["block_hash"] = std::string(64, 'c');
  }
  PackageResult r = VerifyDir(view.dump());
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("not on the auditor's chain"), std::string::npos) << r.error;
  Json view2 = Json::parse(ChainView());
  view2.erase("bitcoin-sim");
  EXPECT_EQ(VerifyDir(view2.dump()).verdict, Verdict::kInvalid);
}

TEST_F(RejectTest, R17_LiabilitiesWithoutReserves) {
  RewriteReserves("BTC", {});
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("no reserves"), std::string::npos) << r.error;
  fs::remove(pkg_ / "reserves" / "BTC.json");
  EXPECT_EQ(VerifyDir().verdict, Verdict::kInvalid);
}

TEST_F(RejectTest, R17_ReservesCountedForAnotherAsset) {
  // The ETH entry also listed under BTC.
  auto eth = ParseReserveEntries(ReadFile(pkg_ / "reserves" / "ETH.json"), "ETH");
  ASSERT_TRUE(eth.ok());
  std::vector<ReserveEntry> btc = *ParseReserveEntries(ReadFile(pkg_ / "reserves" / "BTC.json"), "BTC");
  btc.push_back((*eth)[0]);
  std::sort(btc.begin(), btc.end(), EntryLess);
  RewriteReserves("BTC", btc);
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("another asset"), std::string::npos) << r.error;
}

TEST_F(RejectTest, UnderReservedIsValidButReported) {
  RewriteReserves("ETH", {c_.MakeEntry({"ethereum-sim", "native", 6999, 2})});
  PackageResult r = VerifyDir();
  EXPECT_EQ(r.verdict, Verdict::kUnderReserved) << r.error;
}

// 18. Ambiguous concatenations: str() keeps "AB"+"C" apart from "A"+"BC".
TEST(Ambiguity, R18_StrSeparatesFields) {
  ByteWriter a, b;
  a.Str("AB").Str("C");
  b.Str("A").Str("BC");
  EXPECT_NE(a.data(), b.data());
  Hash32 snap = Fill(0x11);
  // Leaves of asset "AB" for client "C..." never equal leaves of asset "A" for "BC...".
  TreeHasher h1(snap, "AB"), h2(snap, "A");
  uint8_t out1[32], out2[32];
  Hash32 salt = Fill(0);
  h1.Leaf(ClientRef("C").data(), 0, 1, salt.data(), base::Amount(1), out1);
  h2.Leaf(ClientRef("BC").data(), 0, 1, salt.data(), base::Amount(1), out2);
  EXPECT_NE(base::HexEncode(std::span<const uint8_t>(out1, 32)), base::HexEncode(std::span<const uint8_t>(out2, 32)));
  AssetCommit x, y;
  x.asset_id = "AB";
  y.asset_id = "A";
  x.decimals = y.decimals = 8;
  x.depth = y.depth = 1;
  x.n_leaves = y.n_leaves = 1;
  EXPECT_NE(RootCommit(snap, x), RootCommit(snap, y));
}

}  // namespace
}  // namespace ringfence::reserves::test
