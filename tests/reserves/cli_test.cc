// End-to-end tests of the real `reserves` binary: random ledgers exported and verified,
// proofs made on demand and checked, exit codes, refused CSV rows with their line numbers
// (and nothing written), and single-byte changes to every file of a small package.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "tests/reserves/test_support.h"

namespace ringfence::reserves::test {
namespace {

std::string Args(const Custodian& c, const std::string& out, const std::string& extra) {
  return "export --liabilities " + Q(c.dir() / "liabilities.csv") + " --reserves " + Q(c.dir() / "reserves.json") +
         " --custodian-id " + c.custodian_id + " --custodian-key " + Q(c.dir() / "key.hex") + " --snapshot-id " +
         base::HexEncode(c.snapshot) + " --challenge " + base::HexEncode(c.challenge) + " --out " + Q(c.dir() / out) + " --time 1700000000 " +
         extra;
}

base::Uint128 Random128(std::mt19937_64& rng, int bits) {
  base::Uint128 v = (static_cast<base::Uint128>(rng()) << 64) | rng();
  return bits >= 128 ? v : v & ((static_cast<base::Uint128>(1) << bits) - 1);
}

TEST(Cli, RandomLedgersRoundTrip) {
  std::mt19937_64 rng(20261122);
  Custodian c;
  std::vector<Row> rows;
  std::map<std::pair<std::string, std::string>, base::Uint128> record;
  std::map<std::string, base::Uint128> totals;
  const std::vector<std::pair<std::string, int>> assets = {{"BTC", 60}, {"ETH", 100}, {"USDC-ETH", 116}};
  for (int i = 0; i < 3000; ++i) {
    std::string client = "client-" + std::to_string(i);
    for (const auto& [asset, bits] : assets) {
      if (rng() % 3 == 0) continue;
      base::Uint128 amount = Random128(rng, bits);
      rows.push_back({client, asset, amount});
      record[{client, asset}] = amount;
      totals[asset] += amount;
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  c.WriteLedger(rows);
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", totals["BTC"], 1}}},
                   {"ETH", {{"ethereum-sim", "native", totals["ETH"] / 2, 2}, {"ethereum-sim2", "native", totals["ETH"] / 2 + 1, 3}}},
                   {"USDC-ETH", {{"ethereum-sim", "0xa0b8", totals["USDC-ETH"] + 5, 4}}}});
  CommandResult r = RunReserves(Args(c, "pkg", "--decimals BTC=8 --decimals ETH=18 --decimals USDC-ETH=6 --parts 3 --decoys 50"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string pub = base::HexEncode(c.pubkey());
  r = RunReserves("verify " + Q(c.dir() / "pkg") + " --pubkey " + pub);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::map<std::string, int> decimals = {{"BTC", 8}, {"ETH", 18}, {"USDC-ETH", 6}};
  for (const auto& [asset, total] : totals) {
    EXPECT_NE(r.out.find("asset " + asset + ": "), std::string::npos);
    // Display units first, then the exact base units labelled as such.
    std::string shown = base::FormatDecimalAmount(base::Amount(total), decimals.at(asset)) + " " + asset + " (" +
                        base::Uint128ToString(total) + " base units)";
    EXPECT_NE(r.out.find("liabilities " + shown + ", reserves "), std::string::npos) << asset << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("coverage 1.000000"), std::string::npos) << r.out;
  auto m = ParseManifest(ReadFile(c.dir() / "pkg" / "manifest.json"));
  ASSERT_TRUE(m.ok());
  for (const AssetCommit& a : m->assets) {
    EXPECT_EQ(a.root_sum, base::Amount(totals[a.asset_id]));
    EXPECT_GE(a.n_leaves, 50u);
  }
  // Proofs on demand for a sample of clients, checked against their own records.
  for (int i : {0, 1, 7, 1234, 2999}) {
    std::string client = "client-" + std::to_string(i);
    fs::path proof = c.dir() / (client + ".json");
    r = RunReserves("prove " + Q(c.dir() / "pkg") + " --private " + Q(c.dir() / "pkg.private") + " --account " + client +
                    " --out " + Q(proof));
    bool has_any = false;
    std::string expects;
    for (const auto& [asset, bits] : assets) {
      auto it = record.find({client, asset});
      if (it == record.end()) continue;
      has_any = true;
      expects += " --expect " + asset + "=" + base::Uint128ToString(it->second);
    }
    if (!has_any) {
      EXPECT_EQ(r.exit_code, 1) << r.out;
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << r.out;
    std::string base = "verify-inclusion " + Q(proof) + " --manifest " + Q(c.dir() / "pkg" / "manifest.json") +
                       " --pubkey " + pub + " --account " + client;
    r = RunReserves(base + expects);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    r = RunReserves(base + " --published-digest " + base::HexEncode(m->manifest_digest));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    // Another client's record does not match.
    r = RunReserves("verify-inclusion " + Q(proof) + " --manifest " + Q(c.dir() / "pkg" / "manifest.json") +
                    " --pubkey " + pub + " --account client-99999");
    EXPECT_EQ(r.exit_code, 1) << r.out;
  }
  // The private file is not part of the package and is private to its owner.
  EXPECT_FALSE(fs::exists(c.dir() / "pkg" / "pkg.private"));
  EXPECT_EQ(fs::status(c.dir() / "pkg.private").permissions() & fs::perms::others_read, fs::perms::none);
}

TEST(Cli, UnderReservedExitsTwo) {
  Custodian c;
  c.WriteLedger({{"A1", "BTC", 100}, {"A2", "ETH", 100}});
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 100, 1}}}, {"ETH", {{"ethereum-sim", "native", 99, 2}}}});
  CommandResult r = RunReserves(Args(c, "pkg", "--decimals BTC=8 --decimals ETH=18"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = RunReserves("verify " + Q(c.dir() / "pkg") + " --pubkey " + base::HexEncode(c.pubkey()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("coverage 0.990000 UNDER-RESERVED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("asset BTC: leaves 1, liabilities 0.000001 BTC (100 base units), reserves 0.000001 BTC "
                       "(100 base units), coverage 1.000000 covered"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("asset ETH: leaves 1, liabilities 0.0000000000000001 ETH (100 base units), reserves "
                       "0.000000000000000099 ETH (99 base units), coverage 0.990000 UNDER-RESERVED"),
            std::string::npos)
      << r.out;
}

// People read display units with the exact base units labelled beside them (export, verify,
// verify-inclusion and the refusal that compares amounts); the package files keep the spec's
// base-unit strings, unchanged.
TEST(Cli, AmountsShownToPeopleAreDisplayUnitsPackagesKeepBaseUnits) {
  Custodian c;
  c.WriteLedger({{"A1", "BTC", 150000000}, {"A2", "BTC", 2500}, {"A2", "ETH", 1}});
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 200000000, 1}}}, {"ETH", {{"ethereum-sim", "native", 1, 2}}}});
  CommandResult r = RunReserves(Args(c, "pkg", "--decimals BTC=8 --decimals ETH=18 --inclusion-files"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("asset BTC: leaves 2, depth 1, liabilities 1.500025 BTC (150002500 base units), reserves "
                       "2 BTC (200000000 base units)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("liabilities 0.000000000000000001 ETH (1 base unit)"), std::string::npos) << r.out;

  const std::string pub = base::HexEncode(c.pubkey());
  r = RunReserves("verify " + Q(c.dir() / "pkg") + " --pubkey " + pub);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("asset BTC: leaves 2, liabilities 1.500025 BTC (150002500 base units), reserves 2 BTC "
                       "(200000000 base units), coverage 1.333311 covered"),
            std::string::npos)
      << r.out;

  const std::string inclusion = "verify-inclusion " + Q(c.dir() / "pkg" / "inclusion" / "A2.json") + " --manifest " +
                                Q(c.dir() / "pkg" / "manifest.json") + " --pubkey " + pub + " --account A2";
  r = RunReserves(inclusion + " --expect BTC=2500");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("asset BTC: included, amount 0.000025 BTC (2500 base units) (matches your record)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("asset ETH: included, amount 0.000000000000000001 ETH (1 base unit) (not compared"),
            std::string::npos)
      << r.out;
  r = RunReserves(inclusion + " --expect BTC=2600");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("parts add up to 0.000025 BTC (2500 base units), your record says 0.000026 BTC (2600 base units)"),
            std::string::npos)
      << r.out;

  // The package: amounts stay canonical base-unit strings (spec section 1).
  const std::string manifest = ReadFile(c.dir() / "pkg" / "manifest.json");
  EXPECT_NE(manifest.find("\"root_sum\":\"150002500\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"reserves_total\":\"200000000\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"root_sum\":\"1\""), std::string::npos) << manifest;
  EXPECT_NE(ReadFile(c.dir() / "pkg" / "reserves" / "BTC.json").find("\"balance\":\"200000000\""), std::string::npos);
  const Json proof = Json::parse(ReadFile(c.dir() / "pkg" / "inclusion" / "A2.json"));
  EXPECT_EQ(proof["entries"][0]["root_sum"], "150002500");
  EXPECT_EQ(proof["entries"][0]["parts"][0]["amount"], "2500");
  for (const std::string& text : {manifest, proof.dump()}) {
    EXPECT_EQ(text.find(" base unit"), std::string::npos);
    EXPECT_EQ(text.find("BTC ("), std::string::npos);
  }
}

TEST(Cli, UsageAndIoErrorsExitThree) {
  Custodian c;
  EXPECT_EQ(RunReserves("").exit_code, 3);
  EXPECT_EQ(RunReserves("verify").exit_code, 3);
  EXPECT_EQ(RunReserves("verify " + Q(c.dir() / "nope") + " --pubkey " + base::HexEncode(c.pubkey())).exit_code, 3);
  EXPECT_EQ(RunReserves("verify " + Q(c.dir()) + " --pubkey XYZ").exit_code, 3);
  EXPECT_EQ(RunReserves("verify-inclusion " + Q(c.dir() / "missing.json") + " --manifest " + Q(c.dir() / "m.json") +
                        " --pubkey " + base::HexEncode(c.pubkey()) + " --account A")
                .exit_code,
            3);
  // Export inputs that cannot be read are I/O errors, not refused input.
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 10, 1}}}});
  EXPECT_EQ(RunReserves(Args(c, "pkg", "--decimals BTC=8")).exit_code, 3);  // no liabilities.csv
  EXPECT_FALSE(fs::exists(c.dir() / "pkg"));
}

TEST(Cli, LongRunsShowProgressOnStderr) {
  Custodian c;
  std::vector<Row> rows;
  for (int i = 0; i < 120000; ++i) rows.push_back({"client-" + std::to_string(i), "BTC", 1});
  c.WriteLedger(rows);
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 120000, 1}}}});
  // Not a terminal here, so plain lines rather than a redrawn bar.
  CommandResult r = RunReserves(Args(c, "pkg", "--decimals BTC=8"), /*quiet=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Each of the two parser threads reports its half of the file: a partial step, then 100%.
  size_t lines = 0;
  for (size_t at = r.out.find("reserves: reading liabilities "); at != std::string::npos;
       at = r.out.find("reserves: reading liabilities ", at + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 2u) << r.out;
  EXPECT_NE(r.out.find("reserves: reading liabilities 100%\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
}

struct BadCsv {
  std::string name;
  std::string body;  // after the header line
  std::string expect;
};

TEST(Cli, RefusedRowsNameTheirLineAndWriteNothing) {
  const std::vector<BadCsv> cases = {
      {"negative", "A1,BTC,5\nA2,BTC,-5\n", "line 3: amount \"-5\" is negative"},
      {"fraction", "A1,BTC,5\nA2,BTC,1.5\n", "line 3: amount \"1.5\" is fractional"},
      {"exponent", "A1,BTC,1e5\n", "line 2: amount \"1e5\" uses an exponent"},
      {"leading zero", "A1,BTC,05\n", "line 2: amount \"05\" has a leading zero"},
      {"plus", "A1,BTC,+5\n", "line 2: amount \"+5\" has a leading '+'"},
      {"oversized", "A1,BTC,1\nA2,BTC,340282366920938463463374607431768211456\n", "line 3: amount"},
      {"malformed", "A1,BTC,1\nA2;BTC;1\n", "line 3: expected 3 comma-separated fields"},
      {"extra field", "A1,BTC,1,2\n", "line 2: expected 3"},
      {"bad id", "A 1,BTC,1\n", "line 2: client_account_id"},
      {"empty line", "A1,BTC,1\n\nA2,BTC,1\n", "line 3: empty line"},
      {"duplicate", "A1,BTC,1\nA2,BTC,2\nA1,ETH,3\nA1,BTC,4\n", "line 5: duplicate row for the same client and asset BTC (first on line 2)"},
      {"total overflow", "A1,BTC,340282366920938463463374607431768211455\nA2,BTC,1\n", "add up to more than 2^128-1"},
  };
  for (const BadCsv& bc : cases) {
    Custodian c;
    WriteFile(c.dir() / "liabilities.csv", "client_account_id,asset_id,amount\n" + bc.body);
    c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 10, 1}}}, {"ETH", {{"ethereum-sim", "native", 10, 2}}}});
    CommandResult r = RunReserves(Args(c, "pkg", "--decimals BTC=8 --decimals ETH=18"));
    EXPECT_EQ(r.exit_code, 1) << bc.name << ": " << r.out;
    EXPECT_NE(r.out.find(bc.expect), std::string::npos) << bc.name << ": " << r.out;
    // Nothing written: no package, no private file, no temporaries.
    size_t entries = 0;
    for (const auto& e : fs::directory_iterator(c.dir())) {
      std::string n = e.path().filename().string();
      EXPECT_TRUE(n == "liabilities.csv" || n == "reserves.json" || n == "key.hex") << bc.name << ": left " << n;
      ++entries;
    }
    EXPECT_EQ(entries, 3u);
  }
}

TEST(Cli, RefusedInputsOtherThanRows) {
  Custodian c;
  c.WriteLedger({{"A1", "BTC", 5}});
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 10, 1}}}});
  // Missing decimals, decimals for an unknown asset, a depth too small, too many parts.
  EXPECT_EQ(RunReserves(Args(c, "p1", "--decimals ETH=18")).exit_code, 1);
  EXPECT_EQ(RunReserves(Args(c, "p2", "--decimals BTC=8 --decimals ETH=1")).exit_code, 1);
  EXPECT_EQ(RunReserves(Args(c, "p3", "--decimals BTC=8 --parts 17")).exit_code, 1);
  // Reserves for an asset without liabilities, and no reserves for one with.
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 10, 1}}}, {"ETH", {{"ethereum-sim", "native", 10, 2}}}});
  EXPECT_EQ(RunReserves(Args(c, "p4", "--decimals BTC=8")).exit_code, 1);
  c.WriteReserves({{"BTC", {}}});
  EXPECT_EQ(RunReserves(Args(c, "p5", "--decimals BTC=8")).exit_code, 1);
  // A proof over another challenge is refused at export.
  Custodian other;
  other.challenge = Fill(0x77);
  Json j = {{"BTC", Json::array({ReserveEntryToJson(other.MakeEntry({"bitcoin-sim", "native", 10, 1}))})}};
  WriteFile(c.dir() / "reserves.json", j.dump());
  CommandResult r = RunReserves(Args(c, "p6", "--decimals BTC=8"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("message"), std::string::npos) << r.out;
  for (const char* p : {"p1", "p2", "p3", "p4", "p5", "p6"}) EXPECT_FALSE(fs::exists(c.dir() / p)) << p;
  // A larger depth is honoured.
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 10, 1}}}});
  ASSERT_EQ(RunReserves(Args(c, "p7", "--decimals BTC=8 --depth 12")).exit_code, 0);
  EXPECT_EQ(ParseManifest(ReadFile(c.dir() / "p7" / "manifest.json"))->assets[0].depth, 12);
  EXPECT_EQ(RunReserves("verify " + Q(c.dir() / "p7") + " --pubkey " + base::HexEncode(c.pubkey())).exit_code, 0);
  // An existing target is never overwritten.
  EXPECT_NE(RunReserves(Args(c, "p7", "--decimals BTC=8")).exit_code, 0);
}

// Every single-byte change of every file of a small package makes verification fail. The
// exhaustive pass runs the verifier in-process (the code `reserves verify` runs); a
// deterministic sample also goes through the binary.
TEST(Cli, AnySingleByteChangeIsDetected) {
  Custodian c;
  c.WriteLedger({{"A1", "BTC", 7}, {"A2", "BTC", 9}, {"A2", "ETH", 3}});
  c.WriteReserves({{"BTC", {{"bitcoin-sim", "native", 20, 1}}}, {"ETH", {{"ethereum-sim", "native", 3, 2}}}});
  ExportOptions o = c.Options("pkg");
  o.decimals = {{"BTC", 8}, {"ETH", 18}};
  o.inclusion_files = true;
  o.decoys = 1;
  ASSERT_TRUE(Export(o).ok());
  fs::path pkg = c.dir() / "pkg";
  PackageOptions po;
  po.dir = pkg.string();
  po.pubkey = c.pubkey();
  ASSERT_EQ(VerifyPackage(po).verdict, Verdict::kValid);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(pkg)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u + 2 + 2 + 2);
  size_t changes = 0;
  std::mt19937 rng(5);
  std::vector<std::tuple<fs::path, size_t, uint8_t>> sample;
  for (const fs::path& f : files) {
    const std::string original = ReadFile(f);
    for (size_t i = 0; i < original.size(); ++i) {
      // Every byte with its low bit flipped; letters also with their case flipped.
      bool letter = std::isalpha(static_cast<unsigned char>(original[i])) != 0;
      for (uint8_t mask : {0x01, 0x20}) {
        if (mask == 0x20 && !letter) continue;
        std::string changed = original;
        changed[i] = static_cast<char>(changed[i] ^ mask);
        WriteFile(f, changed);
        PackageResult r = VerifyPackage(po);
        EXPECT_EQ(r.verdict, Verdict::kInvalid) << f << " byte " << i << " ^ " << int(mask);
        ++changes;
        if (rng() % 300 == 0) sample.emplace_back(f, i, mask);
      }
    }
    WriteFile(f, original);
  }
  EXPECT_GT(changes, 5000u);
  EXPECT_GE(sample.size(), 5u);
  ASSERT_EQ(VerifyPackage(po).verdict, Verdict::kValid);
  for (const auto& [f, i, mask] : sample) {
    const std::string original = ReadFile(f);
    std::string changed = original;
    changed[i] = static_cast<char>(changed[i] ^ mask);
    WriteFile(f, changed);
    CommandResult r = RunReserves("verify " + Q(pkg) + " --pubkey " + base::HexEncode(c.pubkey()));
    EXPECT_EQ(r.exit_code, 1) << f << " byte " << i << ": " << r.out;
    WriteFile(f, original);
  }
}

}  // namespace
}  // namespace ringfence::reserves::test
