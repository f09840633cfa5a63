// The cold tier end to end (issue 13): custodyd with a [cold_signer] identity, over mTLS, with
// chainsim and signerd on hsm_sim as real processes.
//
// Cold-key files are written here with offline/bundle.h (the library the offline signer writes
// them with; tests/signer_tx_offline/offline_signer_test.cc runs the real `signerd --offline
// create-keys` against it) and signed with an Ed25519 identity made from a fixed seed with
// libsodium, so that each refusal can be made precisely: another identity, an edited file, a
// key bound to another wallet, an asset custodyd does not serve.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>
#include <string>

#include "base/hex.h"
#include "chain/bech32.h"
#include "custody/allocation.h"
#include "chain/eth_address.h"
#include "chain/hashes.h"
#include "offline/bundle.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/cold_support.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;
namespace air = ringfence::offline;

// Compressed points G, 2G and 3G of secp256k1: valid public keys whose private keys no test needs.
constexpr const char* kPoints[] = {
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
    "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
};

air::ColdKey Key(const std::string& key_id, int point, const std::string& asset, const std::string& wallet_id,
                 const std::string& owner = "client", const std::string& tier = "cold") {
  air::ColdKey k;
  k.key_id = key_id;
  EXPECT_TRUE(base::HexDecodeInto(kPoints[point], k.public_key).ok());
  k.wallet_id = wallet_id;
  k.asset = asset;
  k.owner_class = owner;
  k.tier = tier;
  return k;
}

// The file of `keys`, signed by `by`.
std::string ColdKeyFile(const std::vector<air::ColdKey>& keys, const Identity& by) {
  air::ColdKeys file;
  file.created_at = 1'790'000'000;
  file.keys = keys;
  return ColdKeysSignedBy(std::move(file), by);
}

grpc::Status Import(v1::Custody::Stub& stub, const std::string& key, const std::string& file,
                    v1::ImportColdKeysResponse* response) {
  grpc::ClientContext ctx;
  v1::ImportColdKeysRequest request;
  request.set_idempotency_key(key);
  request.set_file(file);
  return stub.ImportColdKeys(&ctx, request, response);
}

// The addresses of every wallet, by wallet id.
std::map<std::string, std::set<std::string>> WalletAddresses(v1::Custody::Stub& auditor) {
  grpc::ClientContext ctx;
  v1::ListWalletsResponse response;
  grpc::Status s = auditor.ListWallets(&ctx, v1::ListWalletsRequest(), &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, std::set<std::string>> out;
  for (const v1::Wallet& w : response.wallets()) {
    out[w.wallet_id()] = std::set<std::string>(w.addresses().begin(), w.addresses().end());
  }
  return out;
}

std::string RegtestAddress(int point) {
  std::array<uint8_t, 33> key{};
  EXPECT_TRUE(base::HexDecodeInto(kPoints[point], key).ok());
  return chain::P2wpkhAddress("bcrt", chain::Hash160(key)).value();
}

std::string EthAddress(int point) {
  std::array<uint8_t, 33> key{};
  EXPECT_TRUE(base::HexDecodeInto(kPoints[point], key).ok());
  return chain::EthChecksumAddress(chain::EthAddressFromPubkeyBytes(key).value());
}

TEST(ColdKeysE2e, ImportedOnlyFromTheConfiguredColdSignerAndOnlyIntoClientColdWallets) {
  const Identity cold_signer(0x11);
  const Identity impostor(0x22);
  StackOptions options;
  options.cold_identity_hex = cold_signer.Hex();
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  const auto before = WalletAddresses(*auditor);
  ASSERT_TRUE(before.contains("BTC:client-cold"));
  EXPECT_TRUE(before.at("BTC:client-cold").empty());

  const std::string good = ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold"),
                                        Key("cold-btc-2", 1, "BTC", "BTC:client-cold"),
                                        Key("cold-eth-1", 2, "ETH", "ETH:client-cold")},
                                       cold_signer);
  ASSERT_FALSE(good.empty());

  // Every refusal first: each changes nothing.
  struct Refusal {
    std::string name;
    std::string file;
    grpc::StatusCode code;
    std::string message;
  };
  std::string edited = good;
  const size_t at = edited.find("cold-btc-2");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 10, "cold-btc-9");
  const std::vector<Refusal> refusals = {
      {"another identity",
       ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, impostor), grpc::StatusCode::PERMISSION_DENIED,
       "file:"},
      {"an edited key id", edited, grpc::StatusCode::PERMISSION_DENIED, "file:"},
      {"a key bound to the hot wallet",
       ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-hot", "client", "hot")}, cold_signer),
       grpc::StatusCode::INVALID_ARGUMENT, "file: keys[0]: bound to wallet \"BTC:client-hot\""},
      {"a house cold key",
       ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:house-cold", "house", "cold")}, cold_signer),
       grpc::StatusCode::INVALID_ARGUMENT, "file: keys[0]: bound to wallet \"BTC:house-cold\""},
      {"a key of BTC named for the ETH wallet",
       ColdKeyFile({Key("cold-x", 0, "BTC", "ETH:client-cold")}, cold_signer), grpc::StatusCode::INVALID_ARGUMENT,
       "only BTC:client-cold"},
      {"an asset custodyd does not serve",
       ColdKeyFile({Key("cold-ltc", 0, "LTC", "LTC:client-cold")}, cold_signer), grpc::StatusCode::INVALID_ARGUMENT,
       "file: keys[0].asset: \"LTC\" is no configured asset"},
      {"not JSON", "cold keys, trust me", grpc::StatusCode::INVALID_ARGUMENT, "file:"},
      {"empty", "", grpc::StatusCode::INVALID_ARGUMENT, "file: empty"},
      {"oversized", std::string(air::kMaxColdKeysFileBytes + 1, ' '), grpc::StatusCode::INVALID_ARGUMENT,
       "a cold-key file is at most"},
  };
  int n = 0;
  for (const Refusal& r : refusals) {
    v1::ImportColdKeysResponse response;
    grpc::Status s = Import(*admin, "refused-" + std::to_string(n++), r.file, &response);
    EXPECT_EQ(s.error_code(), r.code) << r.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(r.message)) << r.name;
  }
  EXPECT_EQ(WalletAddresses(*auditor), before) << "a refused file changed the wallets";

  // The platform may not import keys.
  {
    v1::ImportColdKeysResponse response;
    grpc::Status s = Import(*stack.As("platform"), "by-platform", good, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }

  // The signed file: three keys, addresses derived by custodyd.
  v1::ImportColdKeysResponse first;
  grpc::Status s = Import(*admin, "import-1", good, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(first.added(), 3u);
  ASSERT_EQ(first.keys_size(), 3);
  EXPECT_EQ(first.keys(0).address(), RegtestAddress(0));
  EXPECT_EQ(first.keys(1).address(), RegtestAddress(1));
  EXPECT_EQ(first.keys(2).address(), EthAddress(2));
  for (const auto& k : first.keys()) EXPECT_FALSE(k.already_known()) << k.key_id();
  auto after = WalletAddresses(*auditor);
  EXPECT_EQ(after.at("BTC:client-cold"), (std::set<std::string>{RegtestAddress(0), RegtestAddress(1)}));
  EXPECT_EQ(after.at("ETH:client-cold"), (std::set<std::string>{EthAddress(2)}));
  EXPECT_EQ(after.at("BTC:client-hot"), before.at("BTC:client-hot"));

  // The same call again: the first answer. The same file under a new key: nothing new.
  v1::ImportColdKeysResponse retry;
  s = Import(*admin, "import-1", good, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  v1::ImportColdKeysResponse again;
  s = Import(*admin, "import-2", good, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.added(), 0u);
  for (const auto& k : again.keys()) EXPECT_TRUE(k.already_known()) << k.key_id();
  // The same key id under another key (a point already imported as another key): refused.
  v1::ImportColdKeysResponse clash;
  s = Import(*admin, "import-3", ColdKeyFile({Key("cold-btc-7", 0, "BTC", "BTC:client-cold")}, cold_signer), &clash);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("already key cold-btc-1"));
  EXPECT_EQ(WalletAddresses(*auditor), after);

  // The import is in the audit log, with the file's digest.
  {
    grpc::ClientContext ctx;
    v1::ListAuditEntriesRequest request;
    request.set_page_size(100);
    v1::ListAuditEntriesResponse response;
    ASSERT_TRUE(auditor->ListAuditEntries(&ctx, request, &response).ok());
    int imports = 0, denied = 0;
    for (const auto& e : response.entries()) {
      if (e.action() == "ImportColdKeys") ++imports;
      if (e.action() == "denied" && e.subject() == "ImportColdKeys") ++denied;
    }
    EXPECT_EQ(imports, 2);  // import-1 and import-2 (which added nothing)
    // The two files not signed by the cold signer, and the platform's call.
    EXPECT_EQ(denied, 3);
  }
  stack.ExpectInvariantsAndAuditHold();
}

// The operator's path: the file on disk, custodyctl with the admin certificate.
TEST(ColdKeysE2e, CustodyctlImportsAColdKeyFile) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.cold_identity_hex = cold_signer.Hex();
  CustodyStack stack(options);
  const std::filesystem::path file = stack.dir() / "cold-keys.json";
  std::ofstream(file, std::ios::binary) << ColdKeyFile(
      {Key("cold-btc-1", 0, "BTC", "BTC:client-cold"), Key("cold-btc-2", 1, "BTC", "BTC:client-cold")}, cold_signer);
  auto ctl = [&](const std::string& role, const std::string& path) {
    Process p({RequiredEnv("CUSTODYCTL"), "--addr", stack.address(), "--ca", (stack.certs_dir() / "ca.crt").string(),
               "--cert", (stack.certs_dir() / (role + ".crt")).string(), "--key",
               (stack.certs_dir() / (role + ".key")).string(), "import-cold-keys", "--file", path},
              stack.dir() / ("ctl-" + role + "-" + std::to_string(std::hash<std::string>()(path) % 1000)), false);
    CommandResult r;
    r.exit_code = p.Wait();
    r.out = p.Stdout();
    r.err = p.Stderr();
    return r;
  };
  CommandResult r = ctl("admin", file.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("cold-btc-1  BTC:client-cold  " + RegtestAddress(0)));
  EXPECT_THAT(r.out, HasSubstr("2 of 2 keys added"));
  r = ctl("admin", file.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(already known)"));
  EXPECT_THAT(r.out, HasSubstr("0 of 2 keys added"));
  r = ctl("platform", file.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  r = ctl("admin", (stack.dir() / "no-such-file").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read"));
  EXPECT_EQ(WalletAddresses(*stack.As("auditor")).at("BTC:client-cold"),
            (std::set<std::string>{RegtestAddress(0), RegtestAddress(1)}));
}

TEST(AllocationTest, SharesAreBasisPointsRoundedDownWithoutOverflow) {
  using base::Amount;
  EXPECT_EQ(ShareBps(Amount(0), Amount(0)), 0u);
  EXPECT_EQ(ShareBps(Amount(0), Amount(7)), 0u);
  EXPECT_EQ(ShareBps(Amount(7), Amount(7)), 10000u);
  EXPECT_EQ(ShareBps(Amount(1), Amount(3)), 3333u);
  EXPECT_EQ(ShareBps(Amount(2), Amount(3)), 6666u);
  EXPECT_EQ(ShareBps(Amount(199), Amount(10000)), 199u);
  EXPECT_EQ(ShareBps(Amount(1), Amount(10001)), 0u);
  // Near 2^128 - 1, where part * 10,000 would overflow.
  EXPECT_EQ(ShareBps(Amount::Max(), Amount::Max()), 10000u);
  const Amount half(Amount::Max().base_units() / 2);
  EXPECT_EQ(ShareBps(half, Amount::Max()), 5000u);
}

// Allocation and coverage from the ledger after a deposit: the shares, the cap, the sweep that
// would be planned (or not, below min_sweep), the cover required against the cover configured,
// and the aggregates in the reference asset. The allocation rules are the policy's.
TEST(AllocationE2e, HotShareCapPlannedSweepAndCoverFromTheLedger) {
  StackOptions options;
  options.policy = TestPolicyWith({{"BTC", "hot_cap = \"0.02\"\nmin_sweep = 1000000\n"},
                                   {"ETH", "hot_cap = \"0.05\"\nmin_sweep = \"1\"\n"}},
                                  "[allocation]\naggregate_hot_cap = \"0.03\"\n");
  options.asset_lines["BTC"] = "price = \"6500000\"\n";
  options.asset_lines["ETH"] = "price = \"300000\"\n";
  options.asset_lines["USDC-ETH"] = "price = \"100\"\n";
  options.extra_config =
      "[allocation]\nreference = \"USD\"\nreference_decimals = 2\n\n"
      "[coverage]\n\n"
      "[[coverage.cover]]\npolicy = \"Crime policy 2026-A\"\nasset = \"BTC\"\namount = \"30000000\"\n\n"
      "[[coverage.cover]]\npolicy = \"Compensation fund\"\nasset = \"BTC\"\namount = \"20000000\"\n\n"
      "[[coverage.cover]]\npolicy = \"Stablecoin bond\"\nasset = \"USDC-ETH\"\namount = \"1000000000\"\n";
  CustodyStack stack(options);
  auto platform = stack.As("platform");
  auto auditor = stack.As("auditor");

  grpc::ClientContext cctx;
  v1::CreateClientRequest creq;
  creq.set_idempotency_key("client-1");
  creq.set_client_ref("alloc-1");
  v1::CreateClientResponse client;
  ASSERT_TRUE(platform->CreateClient(&cctx, creq, &client).ok());
  auto address = [&](const std::string& asset) {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key("addr-" + asset);
    req.set_client_id(client.client().client_id());
    req.set_asset_id(asset);
    v1::CreateDepositAddressResponse resp;
    grpc::Status s = platform->CreateDepositAddress(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.deposit_address().address();
  };
  stack.Credit("bitcoin", address("BTC"), "100000000");   // 1 BTC
  stack.Credit("ethereum", address("ETH"), "500000000000000000");  // 0.5 ETH
  stack.Mine("bitcoin", 3);
  stack.Mine("ethereum", 2);
  stack.WaitIngested("bitcoin");
  stack.WaitIngested("ethereum");

  grpc::ClientContext actx;
  v1::GetAllocationResponse alloc;
  grpc::Status s = auditor->GetAllocation(&actx, v1::GetAllocationRequest(), &alloc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(alloc.assets_size(), 3);
  const v1::AssetAllocation& btc = alloc.assets(0);
  EXPECT_EQ(btc.asset_id(), "BTC");
  EXPECT_EQ(btc.client_hot(), "100000000");
  EXPECT_EQ(btc.client_cold(), "0");
  EXPECT_EQ(btc.client_total(), "100000000");
  EXPECT_EQ(btc.hot_share_bps(), 10000u);
  EXPECT_EQ(btc.hot_cap_bps(), 200u);
  EXPECT_EQ(btc.hot_cap(), "2000000");
  EXPECT_TRUE(btc.over_cap());
  // Down to the 1% target, 1,000,000 sat, is 99,000,000; the aggregate cap takes more (below).
  EXPECT_EQ(btc.decided_amount(), btc.planned_sweep());
  EXPECT_EQ(btc.hot_target(), "1000000");
  EXPECT_EQ(btc.hot_floor(), "0");
  EXPECT_EQ(btc.min_sweep(), "1000000");
  EXPECT_EQ(btc.cold_addresses(), 0u);
  EXPECT_EQ(btc.hot_value(), "6500000");       // USD 65,000.00
  const v1::AssetAllocation& eth = alloc.assets(1);
  EXPECT_EQ(eth.asset_id(), "ETH");
  EXPECT_EQ(eth.client_hot(), "500000000000000000");
  EXPECT_TRUE(eth.over_cap());
  EXPECT_EQ(eth.planned_sweep(), "0") << "0.4875 ETH is below the 1 ETH min_sweep";
  EXPECT_EQ(eth.action(), "none");
  EXPECT_EQ(eth.reason(), "below_minimum_sweep");
  EXPECT_EQ(eth.hot_cap_bps(), 500u);
  EXPECT_EQ(eth.hot_value(), "150000");        // USD 1,500.00
  EXPECT_EQ(alloc.assets(2).client_total(), "0");
  EXPECT_FALSE(alloc.assets(2).over_cap());
  EXPECT_EQ(alloc.assets(2).hot_share_bps(), 0u);
  EXPECT_EQ(alloc.reference(), "USD");
  EXPECT_EQ(alloc.reference_decimals(), 2u);
  EXPECT_TRUE(alloc.aggregate_complete());
  EXPECT_EQ(alloc.hot_value(), "6650000");
  EXPECT_EQ(alloc.cold_value(), "0");
  EXPECT_EQ(alloc.aggregate_hot_share_bps(), 10000u);
  EXPECT_EQ(alloc.aggregate_hot_cap_bps(), 300u);
  EXPECT_TRUE(alloc.aggregate_over_cap());
  // The aggregate cap (policy): values after each asset's own plan, hot BTC 1,000,000 sat at
  // USD 650.00 (65,000) + ETH 150,000 = 215,000 against floor(6,650,000 * 3%) = 199,500. BTC,
  // first in id order, is swept ceil(15,500 * 10^8 / 6,500,000) = 238,462 sat further.
  EXPECT_EQ(btc.action(), "sweep");
  EXPECT_EQ(btc.reason(), "aggregate_sweep");
  EXPECT_EQ(btc.planned_sweep(), "99238462");
  EXPECT_EQ(btc.hot_after(), "761538");
  EXPECT_EQ(btc.policy_hash(), alloc.policy_hash());
  EXPECT_EQ(alloc.policy_hash().size(), 64u);

  grpc::ClientContext vctx;
  v1::GetCoverageRequest vreq;
  vreq.set_asset_id("BTC");
  v1::GetCoverageResponse cover;
  s = auditor->GetCoverage(&vctx, vreq, &cover);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(cover.assets_size(), 1);
  const v1::AssetCoverage& c = cover.assets(0);
  EXPECT_EQ(c.required(), "100000000");  // all of hot, half of nothing cold
  EXPECT_EQ(c.configured(), "50000000");
  EXPECT_EQ(c.shortfall(), "50000000");
  EXPECT_FALSE(c.covered());
  ASSERT_EQ(c.policies_size(), 2);
  EXPECT_EQ(c.policies(0).policy(), "Crime policy 2026-A");
  EXPECT_EQ(c.policies(1).amount(), "20000000");
  EXPECT_EQ(c.required_value(), "6500000");
  EXPECT_EQ(c.configured_value(), "3250000");
  EXPECT_EQ(cover.required_value(), "6500000");
  EXPECT_EQ(cover.shortfall_value(), "3250000");
  // Over every asset: USDC's cover (USD 1,000, nothing to cover) does not offset the shortfalls
  // of BTC (USD 32,500) and ETH (0.5 ETH, USD 1,500).
  {
    grpc::ClientContext ctx;
    v1::GetCoverageResponse all;
    ASSERT_TRUE(auditor->GetCoverage(&ctx, v1::GetCoverageRequest(), &all).ok());
    EXPECT_EQ(all.required_value(), "6650000");
    EXPECT_EQ(all.configured_value(), "3350000");
    EXPECT_EQ(all.shortfall_value(), "3400000");
    ASSERT_EQ(all.assets_size(), 3);
    EXPECT_TRUE(all.assets(2).covered());
    EXPECT_EQ(all.assets(1).shortfall(), "500000000000000000");
  }

  // Roles and input.
  {
    grpc::ClientContext ctx;
    v1::GetAllocationResponse r;
    EXPECT_EQ(platform->GetAllocation(&ctx, v1::GetAllocationRequest(), &r).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  for (const auto& [asset, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"B TC", grpc::StatusCode::INVALID_ARGUMENT},
           {std::string(200, 'A'), grpc::StatusCode::INVALID_ARGUMENT},
           {"-1", grpc::StatusCode::NOT_FOUND},
           {"LTC", grpc::StatusCode::NOT_FOUND}}) {
    grpc::ClientContext ctx;
    v1::GetCoverageRequest req;
    req.set_asset_id(asset);
    v1::GetCoverageResponse r;
    EXPECT_EQ(auditor->GetCoverage(&ctx, req, &r).error_code(), code) << asset;
  }
  stack.ExpectInvariantsAndAuditHold();
}

// A new client (platform role) and a deposit address of it for `asset`; returns the address.
std::string NewClientAddress(v1::Custody::Stub& platform, const std::string& ref, const std::string& asset = "BTC") {
  grpc::ClientContext cctx;
  v1::CreateClientRequest creq;
  creq.set_idempotency_key("client-" + ref);
  creq.set_client_ref(ref);
  v1::CreateClientResponse client;
  grpc::Status s = platform.CreateClient(&cctx, creq, &client);
  EXPECT_TRUE(s.ok()) << s.error_message();
  grpc::ClientContext actx;
  v1::CreateDepositAddressRequest areq;
  areq.set_idempotency_key("addr-" + ref);
  areq.set_client_id(client.client().client_id());
  areq.set_asset_id(asset);
  v1::CreateDepositAddressResponse address;
  s = platform.CreateDepositAddress(&actx, areq, &address);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return address.deposit_address().address();
}

// A new address of the asset's house-hot wallet (admin role).
std::string HouseAddress(v1::Custody::Stub& admin, const std::string& asset = "BTC") {
  grpc::ClientContext ctx;
  v1::CreateHouseAddressRequest req;
  req.set_idempotency_key("house-" + asset);
  req.set_asset_id(asset);
  v1::CreateHouseAddressResponse house;
  grpc::Status s = admin.CreateHouseAddress(&ctx, req, &house);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return house.house_address().address();
}

// The moves of `kind` of `asset` as the auditor sees them, newest first.
std::vector<v1::Withdrawal> Moves(v1::Custody::Stub& auditor, v1::RequestKind kind, const std::string& asset = "BTC") {
  return MovesOfKind(auditor, asset, kind);
}

std::vector<v1::Withdrawal> Sweeps(v1::Custody::Stub& auditor) { return Moves(auditor, v1::REQUEST_KIND_SWEEP); }

// No false alarm from normal operation: every wallet of `asset` reconciled at the chain's tip
// without a difference, and no asset ever frozen (custody/reconciler.h).
void ExpectReconciledWithoutAlarm(CustodyStack& stack, v1::Custody::Stub& auditor, const std::string& asset = "BTC",
                                  const std::string& chain = "bitcoin") {
  const uint64_t tip = stack.Tip(chain);
  v1::GetReconciliationResponse r;
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext ctx;
    r.Clear();
    EXPECT_TRUE(auditor.GetReconciliation(&ctx, v1::GetReconciliationRequest(), &r).ok());
    int at_tip = 0;
    for (const auto& w : r.wallets()) at_tip += w.asset_id() == asset && w.height() == tip;
    return at_tip == 3;
  })) << stack.CustodydStderr();
  for (const auto& w : r.wallets()) {
    if (w.asset_id() != asset) continue;
    EXPECT_EQ(w.difference(), "0") << w.ShortDebugString();
    EXPECT_EQ(w.state(), "ok") << w.ShortDebugString();
  }
  EXPECT_EQ(r.freezes_size(), 0);
  EXPECT_EQ(r.unknown_transfers_size(), 0);
}

v1::GetAllocationResponse Allocation(v1::Custody::Stub& auditor, const std::string& asset = "BTC") {
  grpc::ClientContext ctx;
  v1::GetAllocationRequest req;
  req.set_asset_id(asset);
  v1::GetAllocationResponse resp;
  grpc::Status s = auditor.GetAllocation(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

// What chainsim's Ethereum chain holds at `address` at its tip (ether, or the token's units).
std::string ChainBalanceOf(CustodyStack& stack, const std::string& address, const std::string& token = "") {
  grpc::ClientContext ctx;
  sim::GetBalanceRequest req;
  req.set_chain("ethereum");
  req.set_address(address);
  req.set_token_contract(token);
  req.set_height(stack.Tip("ethereum"));
  sim::GetBalanceResponse resp;
  grpc::Status s = stack.node().GetBalance(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.amount();
}

// Deposits that take the hot share over the cap are swept to the imported cold addresses:
// planned by custodyd, signed by signerd under its internal-sweep rule (no approvals, because
// the destination is a cold address of its own configuration), broadcast, confirmed and
// settled; afterwards the hot share is within the cap, the fee is a receivable from the house,
// and the segregation invariant holds. Below min_sweep nothing moves.
TEST(SweepE2e, DepositsOverTheCapAreSweptToColdAndTheBooksHold) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["BTC"] = {RegtestAddress(0), RegtestAddress(1)};
  options.policy = TestPolicyWith({{"BTC", "hot_cap = \"0.02\"\nmin_sweep = 60000000\n"}});
  // 0.6 BTC of cover: enough for 0.5 BTC hot, short for 1 BTC hot, enough again once most of
  // it is cold (half of cold is required).
  options.extra_config =
      "[coverage]\n\n[[coverage.cover]]\npolicy = \"p\"\nasset = \"BTC\"\namount = \"60000000\"\n"
      "\n[reconciliation]\nlift_group = \"ops\"\n";
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  {
    v1::ImportColdKeysResponse imported;
    grpc::Status s = Import(*admin, "import-1",
                            ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold"),
                                         Key("cold-btc-2", 1, "BTC", "BTC:client-cold")},
                                        cold_signer),
                            &imported);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::ClientContext cctx;
  v1::CreateClientRequest creq;
  creq.set_idempotency_key("client-1");
  creq.set_client_ref("sweep-1");
  v1::CreateClientResponse client;
  ASSERT_TRUE(platform->CreateClient(&cctx, creq, &client).ok());
  grpc::ClientContext actx;
  v1::CreateDepositAddressRequest areq;
  areq.set_idempotency_key("addr-1");
  areq.set_client_id(client.client().client_id());
  areq.set_asset_id("BTC");
  v1::CreateDepositAddressResponse address;
  ASSERT_TRUE(platform->CreateDepositAddress(&actx, areq, &address).ok());

  // 0.5 BTC: all of it hot, over the 2% cap, but the sweep to the 1% target (0.495 BTC) is
  // below min_sweep, and so is all of hot (no sweep of the minimum keeps the zero floor).
  stack.Credit("bitcoin", address.deposit_address().address(), "50000000");
  stack.Mine("bitcoin", 3);
  stack.WaitIngested("bitcoin");
  ASSERT_TRUE(Eventually([&] { return Allocation(*auditor).assets(0).client_hot() == "50000000"; }));
  EXPECT_TRUE(Allocation(*auditor).assets(0).over_cap());
  EXPECT_EQ(Allocation(*auditor).assets(0).planned_sweep(), "0");
  EXPECT_EQ(Allocation(*auditor).assets(0).reason(), "below_minimum_sweep");
  // The executor plans every 250 ms; a few of its passes find nothing to sweep.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(Sweeps(*auditor).empty());

  // Another 0.5 BTC: the planned sweep (0.99 BTC) is above min_sweep and goes to cold.
  stack.Credit("bitcoin", address.deposit_address().address(), "50000000");
  stack.Mine("bitcoin", 3);
  stack.WaitIngested("bitcoin");
  ASSERT_TRUE(Eventually([&] {
    const auto sweeps = Sweeps(*auditor);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
  })) << stack.CustodydStderr();
  std::vector<v1::Withdrawal> sweeps = Sweeps(*auditor);
  ASSERT_EQ(sweeps.size(), 1u);
  const v1::Withdrawal sweep = sweeps[0];
  EXPECT_EQ(sweep.amount(), "99000000");
  EXPECT_EQ(sweep.destination(), std::min(RegtestAddress(0), RegtestAddress(1)));
  EXPECT_EQ(sweep.source_wallet(), "BTC:client-hot");
  EXPECT_EQ(sweep.client_id(), "");
  EXPECT_EQ(sweep.approvals_required(), 0u);
  EXPECT_EQ(stack.BroadcastCount("bitcoin", sweep.txid()).accepted(), 1u);

  // The platform does not see internal moves, nor can it cancel one.
  {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(sweep.withdrawal_id());
    v1::GetWithdrawalResponse resp;
    EXPECT_EQ(platform->GetWithdrawal(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
    grpc::ClientContext lctx;
    v1::ListWithdrawalsResponse listed;
    ASSERT_TRUE(platform->ListWithdrawals(&lctx, v1::ListWithdrawalsRequest(), &listed).ok());
    EXPECT_EQ(listed.withdrawals_size(), 0);
    grpc::ClientContext xctx;
    v1::CancelWithdrawalRequest cancel;
    cancel.set_idempotency_key("cancel-sweep");
    cancel.set_withdrawal_id(sweep.withdrawal_id());
    cancel.set_reason("not mine");
    v1::CancelWithdrawalResponse cancelled;
    EXPECT_EQ(admin->CancelWithdrawal(&xctx, cancel, &cancelled).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }

  stack.Mine("bitcoin", 3);
  ASSERT_TRUE(Eventually([&] {
    const auto now = Sweeps(*auditor);
    return !now.empty() && now[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
  })) << stack.CustodydStderr();
  sweeps = Sweeps(*auditor);
  const std::string fee = sweeps[0].network_fee();
  ASSERT_FALSE(fee.empty());
  const uint64_t fee_sat = std::stoull(fee);
  EXPECT_GT(fee_sat, 0u);

  const v1::GetAllocationResponse after = Allocation(*auditor);
  const v1::AssetAllocation& btc = after.assets(0);
  EXPECT_EQ(btc.client_cold(), "99000000");
  EXPECT_EQ(btc.client_hot(), std::to_string(1'000'000 - fee_sat));
  EXPECT_FALSE(btc.over_cap());
  EXPECT_LE(btc.hot_share_bps(), btc.hot_cap_bps());
  EXPECT_EQ(btc.planned_sweep(), "0");

  // The client's balance is untouched; the fee is owed by the house (a receivable), and the
  // books hold with it.
  grpc::ClientContext bctx;
  v1::GetBalancesRequest breq;
  breq.set_client_id(client.client().client_id());
  breq.set_asset_id("BTC");
  v1::GetBalancesResponse balances;
  ASSERT_TRUE(platform->GetBalances(&bctx, breq, &balances).ok());
  EXPECT_EQ(balances.balances(0).available(), "100000000");
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  bool seen = false;
  for (const auto& a : report.assets()) {
    if (a.asset_id() != "BTC") continue;
    seen = true;
    EXPECT_TRUE(a.holds());
    EXPECT_EQ(a.receivables(), fee);
    EXPECT_EQ(a.client_liabilities(), "100000000");
    EXPECT_EQ(a.client_wallet_holdings(), std::to_string(100'000'000 - fee_sat));
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(report.holds());
  // The sweep's outputs (to cold, and its change back to hot) are not deposits.
  auto audit = [&] {
    grpc::ClientContext ctx;
    v1::ListAuditEntriesRequest req;
    req.set_page_size(1000);
    v1::ListAuditEntriesResponse resp;
    EXPECT_TRUE(auditor->ListAuditEntries(&ctx, req, &resp).ok());
    return resp;
  };
  auto count = [&](const std::string& action, const std::string& subject) {
    int n = 0;
    const v1::ListAuditEntriesResponse entries = audit();  // kept alive for the loop
    for (const auto& e : entries.entries()) n += e.action() == action && e.subject() == subject;
    return n;
  };
  // The coverage check follows the settlement within the executor's pass.
  EXPECT_TRUE(Eventually([&] { return count("coverage.restored", "BTC") > 0; }));
  {
    const v1::ListAuditEntriesResponse resp = audit();
    int detected = 0, created = 0, short_btc = 0, restored_btc = 0, other_alerts = 0;
    for (const auto& e : resp.entries()) {
      if (e.action() == "deposit.detected") ++detected;
      if (e.action() == "sweep.created") ++created;
      const bool alert = e.action() == "coverage.shortfall" || e.action() == "coverage.restored";
      if (alert && e.subject() != "BTC") ++other_alerts;
      if (e.action() == "coverage.shortfall" && e.subject() == "BTC") ++short_btc;
      if (e.action() == "coverage.restored" && e.subject() == "BTC") ++restored_btc;
    }
    EXPECT_EQ(detected, 2);
    EXPECT_EQ(created, 1);
    // Cover turned short once (1 BTC hot against 0.6) and was restored once by the sweep.
    EXPECT_EQ(short_btc, 1);
    EXPECT_EQ(restored_btc, 1);
    EXPECT_EQ(other_alerts, 0) << "assets holding nothing need no cover";
  }
  ExpectReconciledWithoutAlarm(stack, *auditor);
  stack.ExpectInvariantsAndAuditHold();
}

// The sweep's fee is a receivable of the client-hot wallet from the house; once it reaches the
// asset's receivable_threshold, custodyd pays it back from house-hot (funded through a house
// address) with a fee_reimbursement, which signerd signs because it pays a client-hot wallet's
// own address from a house-hot wallet. Afterwards the receivables net to zero, the house bore
// both fees, and the books hold.
TEST(ReimbursementE2e, TheHousePaysBackTheSweepFeeAndReceivablesNetToZero) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["BTC"] = {RegtestAddress(0)};
  options.asset_lines["BTC"] = "receivable_threshold = \"1\"\n";
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1", ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, cold_signer),
                     &imported)
                  .ok());
  // The house funds its hot wallet; the platform only sees its own clients' side.
  grpc::ClientContext hctx;
  v1::CreateHouseAddressRequest hreq;
  hreq.set_idempotency_key("house-1");
  hreq.set_asset_id("BTC");
  v1::CreateHouseAddressResponse house;
  grpc::Status s = admin->CreateHouseAddress(&hctx, hreq, &house);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(house.house_address().wallet_id(), "BTC:house-hot");
  EXPECT_EQ(house.house_address().client_id(), "");
  {
    grpc::ClientContext ctx;
    v1::CreateHouseAddressResponse denied;
    hreq.set_idempotency_key("house-by-platform");
    EXPECT_EQ(platform->CreateHouseAddress(&ctx, hreq, &denied).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  stack.Credit("bitcoin", house.house_address().address(), "10000000");  // 0.1 BTC of the house's own

  stack.Credit("bitcoin", NewClientAddress(*platform, "reimburse-1"), "100000000");
  stack.Mine("bitcoin", 3);

  auto moves = [&](v1::RequestKind kind) { return Moves(*auditor, kind); };
  auto settle = [&](v1::RequestKind kind) {
    EXPECT_TRUE(Eventually([&] {
      const auto m = moves(kind);
      return !m.empty() && m[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
    })) << stack.CustodydStderr();
    stack.Mine("bitcoin", 3);
    EXPECT_TRUE(Eventually([&] {
      const auto m = moves(kind);
      return !m.empty() && m[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
    })) << stack.CustodydStderr();
    return moves(kind);
  };
  const std::vector<v1::Withdrawal> sweeps = settle(v1::REQUEST_KIND_SWEEP);
  ASSERT_EQ(sweeps.size(), 1u);
  const uint64_t sweep_fee = std::stoull(sweeps[0].network_fee());
  const std::vector<v1::Withdrawal> paid = settle(v1::REQUEST_KIND_FEE_REIMBURSEMENT);
  ASSERT_EQ(paid.size(), 1u) << "one reimbursement";
  EXPECT_EQ(paid[0].amount(), sweeps[0].network_fee());
  EXPECT_EQ(paid[0].source_wallet(), "BTC:house-hot");
  const uint64_t reimbursement_fee = std::stoull(paid[0].network_fee());
  EXPECT_EQ(stack.BroadcastCount("bitcoin", paid[0].txid()).accepted(), 1u);
  {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(paid[0].withdrawal_id());
    v1::GetWithdrawalResponse resp;
    EXPECT_EQ(platform->GetWithdrawal(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }

  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  EXPECT_TRUE(report.holds()) << report.DebugString();
  for (const auto& a : report.assets()) {
    if (a.asset_id() != "BTC") continue;
    EXPECT_EQ(a.receivables(), "0") << "receivables net to zero once settled";
    EXPECT_EQ(a.client_liabilities(), "100000000");
    EXPECT_EQ(a.client_wallet_holdings(), "100000000");
    EXPECT_EQ(a.house_holdings(), std::to_string(10'000'000 - sweep_fee - reimbursement_fee));
    EXPECT_EQ(a.house_client_funds(), "0");
  }
  // Nothing planned again: the receivable is paid.
  std::this_thread::sleep_for(std::chrono::milliseconds(750));
  EXPECT_EQ(moves(v1::REQUEST_KIND_FEE_REIMBURSEMENT).size(), 1u);
  stack.ExpectInvariantsAndAuditHold();
}

// A longer mixed run: rounds of deposits of varying size to several clients, each followed by
// whatever sweeps and fee reimbursements custodyd plans, mined to settlement. After every
// round the books hold (segregation with receivables), and once a sweep has settled the hot
// share is within the cap; at the end every receivable has been paid back.
TEST(MixedRunE2e, RoundsOfDepositsSweepsAndReimbursementsKeepTheCapAndTheBooks) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["BTC"] = {RegtestAddress(0), RegtestAddress(1)};
  options.policy = TestPolicyWith({{"BTC", "min_sweep = 100000\n"}});
  options.asset_lines["BTC"] = "receivable_threshold = \"1\"\n";
  options.extra_config = "[reconciliation]\nlift_group = \"ops\"\n";
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1",
                     ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold"),
                                  Key("cold-btc-2", 1, "BTC", "BTC:client-cold")},
                                 cold_signer),
                     &imported)
                  .ok());
  stack.Credit("bitcoin", HouseAddress(*admin), "50000000");
  std::vector<std::string> addresses;
  for (int c = 0; c < 4; ++c) addresses.push_back(NewClientAddress(*platform, "mixed-" + std::to_string(c)));

  // Every move that is broadcast gets its confirmations; returns when nothing is moving.
  auto settle_moves = [&] {
    for (int i = 0; i < 20; ++i) {
      grpc::ClientContext ctx;
      v1::ListWithdrawalsRequest req;
      req.set_asset_id("BTC");
      req.add_states(v1::WITHDRAWAL_STATE_APPROVED);
      req.add_states(v1::WITHDRAWAL_STATE_SIGNING);
      req.add_states(v1::WITHDRAWAL_STATE_SIGNED);
      req.add_states(v1::WITHDRAWAL_STATE_BROADCAST);
      v1::ListWithdrawalsResponse live;
      EXPECT_TRUE(auditor->ListWithdrawals(&ctx, req, &live).ok());
      if (live.withdrawals_size() == 0) return;
      stack.Mine("bitcoin", 1);
      stack.WaitIngested("bitcoin");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // an executor pass
    }
    ADD_FAILURE() << "moves still live after 20 blocks\n" << stack.CustodydStderr();
  };
  uint64_t deposited = 0;
  int sweeps_seen = 0;
  for (int round = 0; round < 12; ++round) {
    for (size_t c = 0; c < addresses.size(); ++c) {
      const uint64_t amount = 1'000'000 * (1 + (round * 7 + c * 3) % 11);  // 0.01 .. 0.11 BTC
      stack.Credit("bitcoin", addresses[c], std::to_string(amount));
      deposited += amount;
    }
    stack.Mine("bitcoin", 3);
    stack.WaitIngested("bitcoin");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // an executor pass plans
    settle_moves();
    const auto sweeps = Sweeps(*auditor);
    const v1::AssetAllocation btc = Allocation(*auditor).assets(0);
    if (static_cast<int>(sweeps.size()) > sweeps_seen) {
      sweeps_seen = static_cast<int>(sweeps.size());
      EXPECT_FALSE(btc.over_cap()) << "round " << round << ": " << btc.DebugString();
      EXPECT_LE(btc.hot_share_bps(), btc.hot_cap_bps()) << "round " << round;
    }
    EXPECT_EQ(btc.client_total(), std::to_string(deposited)) << "round " << round;
    grpc::ClientContext sctx;
    v1::GetSegregationReportResponse report;
    ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
    EXPECT_TRUE(report.holds()) << "round " << round << "\n" << report.DebugString();
  }
  EXPECT_GE(sweeps_seen, 3);
  // The last reimbursement: receivables net to zero once settled.
  settle_moves();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  settle_moves();
  {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.set_asset_id("BTC");
    req.set_page_size(1000);
    v1::ListWithdrawalsResponse all;
    ASSERT_TRUE(auditor->ListWithdrawals(&ctx, req, &all).ok());
    int reimbursements = 0, confirmed = 0;
    for (const v1::Withdrawal& w : all.withdrawals()) {
      reimbursements += w.kind() == v1::REQUEST_KIND_FEE_REIMBURSEMENT;
      confirmed += w.state() == v1::WITHDRAWAL_STATE_CONFIRMED;
    }
    EXPECT_EQ(confirmed, all.withdrawals_size()) << "every move settled";
    EXPECT_GE(reimbursements, 1);
    std::printf("mixed run: %zu deposits, %d sweeps, %d fee reimbursements settled\n", 12 * addresses.size(),
                sweeps_seen, reimbursements);
  }
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  for (const auto& a : report.assets()) {
    if (a.asset_id() == "BTC") {
      EXPECT_EQ(a.receivables(), "0") << a.DebugString();
    }
  }
  ExpectReconciledWithoutAlarm(stack, *auditor);
  stack.ExpectInvariantsAndAuditHold();
}

// Ether sits in one account per deposit address and a transaction sends from one account: each
// sweep moves what the largest account can send (its balance less the most its gas can cost),
// one at a time, until the hot share is within the cap; each sweep's gas is a receivable, and
// the books hold throughout.
TEST(EthSweepE2e, EachSweepEmptiesOneDepositAccountUntilHotIsWithinTheCap) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["ETH"] = {EthAddress(2)};
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1", ColdKeyFile({Key("cold-eth-1", 2, "ETH", "ETH:client-cold")}, cold_signer),
                     &imported)
                  .ok());
  const uint64_t kEth = 1'000'000'000'000'000'000ull;
  std::map<std::string, uint64_t> deposited;  // address -> wei
  for (int c = 0; c < 3; ++c) {
    const std::string address = NewClientAddress(*platform, "eth-sweep-" + std::to_string(c), "ETH");
    deposited[address] = kEth * static_cast<uint64_t>(c + 1);
    stack.Credit("ethereum", address, std::to_string(deposited[address]));
  }
  stack.Mine("ethereum", 2);
  stack.WaitIngested("ethereum");
  // Mine while anything moves; at most 10 rounds.
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // an executor pass plans and signs
    std::vector<v1::Withdrawal> sweeps = Moves(*auditor, v1::REQUEST_KIND_SWEEP, "ETH");
    bool live = false;
    for (const v1::Withdrawal& w : sweeps) live = live || w.state() != v1::WITHDRAWAL_STATE_CONFIRMED;
    if (!live && !Allocation(*auditor, "ETH").assets(0).over_cap()) break;
    stack.Mine("ethereum", 1);
    stack.WaitIngested("ethereum");
  }
  const std::vector<v1::Withdrawal> sweeps = Moves(*auditor, v1::REQUEST_KIND_SWEEP, "ETH");
  ASSERT_EQ(sweeps.size(), 3u) << stack.CustodydStderr();
  std::set<std::string> sources;
  for (const v1::Withdrawal& w : sweeps) {
    EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << w.DebugString();
    EXPECT_EQ(w.destination(), EthAddress(2));
    EXPECT_EQ(w.source_wallet(), "ETH:client-hot");
    // Which account paid it: the chain's view of its transaction.
    grpc::ClientContext ctx;
    sim::GetTransactionRequest req;
    req.set_chain("ethereum");
    req.set_txid(w.txid());
    sim::GetTransactionResponse tx;
    ASSERT_TRUE(stack.node().GetTransaction(&ctx, req, &tx).ok());
    EXPECT_EQ(tx.state(), sim::GetTransactionResponse::STATE_CONFIRMED);
  }
  // Oldest first: the 3 ETH account, then the 2 ETH one, then what the cap still needs of the
  // 1 ETH one (each sweep at most its account's balance less the gas).
  const base::Amount first = base::ParseBaseUnits(sweeps[2].amount()).value();
  const base::Amount second = base::ParseBaseUnits(sweeps[1].amount()).value();
  EXPECT_LT(first, base::Amount(3 * kEth));
  EXPECT_GT(first, base::Amount(2 * kEth));
  EXPECT_LT(second, base::Amount(2 * kEth));
  EXPECT_GT(second, base::Amount(kEth));
  const v1::AssetAllocation eth = Allocation(*auditor, "ETH").assets(0);
  EXPECT_FALSE(eth.over_cap()) << eth.DebugString();
  EXPECT_LE(eth.hot_share_bps(), eth.hot_cap_bps());
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  EXPECT_TRUE(report.holds()) << report.DebugString();
  for (const auto& a : report.assets()) {
    if (a.asset_id() != "ETH") continue;
    // Every sweep's gas is owed by the house: three fees, none zero.
    uint64_t fees = 0;
    for (const v1::Withdrawal& w : sweeps) fees += std::stoull(w.network_fee());
    EXPECT_GT(fees, 0u);
    EXPECT_EQ(a.receivables(), std::to_string(fees)) << a.DebugString();
  }
  stack.ExpectInvariantsAndAuditHold();
}

// The height of the block that holds `txid` on chainsim's Ethereum chain (0 if none does).
uint64_t MinedAt(CustodyStack& stack, const std::string& txid) {
  grpc::ClientContext ctx;
  sim::GetTransactionRequest req;
  req.set_chain("ethereum");
  req.set_txid(txid);
  sim::GetTransactionResponse tx;
  EXPECT_TRUE(stack.node().GetTransaction(&ctx, req, &tx).ok());
  return tx.state() == sim::GetTransactionResponse::STATE_CONFIRMED ? tx.height() : 0;
}

// A token's deposit accounts hold no ether for gas. Over the cap, custodyd funds the largest
// account with ether from the ETH client-hot wallet (kind gas_funding, which signerd allows only
// into a token account of a client-hot wallet), sweeps that account's tokens to cold once the
// funding confirms, and goes on account by account until the token's hot share is within its
// cap. The funding is no deposit (nothing unattributed, no unknown transfer), each fee is a
// receivable of ETH client-hot until the house pays it back, and the books, the reconciler and
// every client's balances hold throughout.
TEST(TokenSweepE2e, EachTokenAccountIsFundedWithGasThenSweptUntilHotIsWithinTheCap) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["USDC-ETH"] = {EthAddress(2)};
  // Ether stays hot here (no ETH cold wallet: its own sweeps are EthSweepE2e's); its
  // receivables are paid back. USDC-ETH has the policy's default cap, 2%.
  options.asset_lines["ETH"] = "receivable_threshold = \"1\"\n";
  options.extra_config = "[reconciliation]\nlift_group = \"ops\"\n";
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1",
                     ColdKeyFile({Key("cold-usdc-1", 2, "USDC-ETH", "USDC-ETH:client-cold")}, cold_signer), &imported)
                  .ok());
  stack.Credit("ethereum", HouseAddress(*admin, "ETH"), "1000000000000000000");
  const std::string eth_client = NewClientAddress(*platform, "token-sweep-eth", "ETH");
  stack.Credit("ethereum", eth_client, "1000000000000000000");
  const uint64_t kUsdc = 1'000'000;  // base units per USDC
  std::vector<std::string> accounts;
  for (int c = 0; c < 3; ++c) {
    accounts.push_back(NewClientAddress(*platform, "token-sweep-" + std::to_string(c), "USDC-ETH"));
    stack.Credit("ethereum", accounts.back(), std::to_string(1000 * kUsdc * static_cast<uint64_t>(c + 1)), kUsdcContract);
  }
  stack.Mine("ethereum", 2);
  stack.WaitIngested("ethereum");

  auto live = [&](v1::RequestKind kind, const std::string& asset) {
    for (const v1::Withdrawal& w : Moves(*auditor, kind, asset)) {
      if (w.state() != v1::WITHDRAWAL_STATE_CONFIRMED) return true;
    }
    return false;
  };
  auto receivable = [&](const std::string& asset) {
    grpc::ClientContext ctx;
    v1::GetSegregationReportResponse report;
    EXPECT_TRUE(auditor->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &report).ok());
    for (const auto& a : report.assets()) {
      if (a.asset_id() == asset) return a.receivables();
    }
    return std::string("none");
  };
  // Mine while anything moves: three accounts, each a funding then a sweep, then the paying back.
  for (int round = 0; round < 30; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // an executor pass plans and signs
    if (!live(v1::REQUEST_KIND_GAS_FUNDING, "ETH") && !live(v1::REQUEST_KIND_SWEEP, "USDC-ETH") &&
        !live(v1::REQUEST_KIND_FEE_REIMBURSEMENT, "ETH") && !Allocation(*auditor, "USDC-ETH").assets(0).over_cap() &&
        receivable("ETH") == "0") {
      break;
    }
    stack.Mine("ethereum", 1);
    stack.WaitIngested("ethereum");
  }

  const std::vector<v1::Withdrawal> sweeps = Moves(*auditor, v1::REQUEST_KIND_SWEEP, "USDC-ETH");
  const std::vector<v1::Withdrawal> fundings = Moves(*auditor, v1::REQUEST_KIND_GAS_FUNDING, "ETH");
  ASSERT_EQ(sweeps.size(), 3u) << stack.CustodydStderr();
  ASSERT_EQ(fundings.size(), 3u) << stack.CustodydStderr();
  // Oldest first: the 3,000 USDC account whole, then the 2,000 one, then what the cap still
  // needs of the 1,000 one.
  EXPECT_EQ(sweeps[2].amount(), std::to_string(3000 * kUsdc));
  EXPECT_EQ(sweeps[1].amount(), std::to_string(2000 * kUsdc));
  EXPECT_LT(std::stoull(sweeps[0].amount()), 1000 * kUsdc);
  uint64_t swept = 0, gas = 0;
  for (const v1::Withdrawal& w : sweeps) {
    EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << w.DebugString();
    EXPECT_EQ(w.destination(), EthAddress(2));
    EXPECT_EQ(w.source_wallet(), "USDC-ETH:client-hot");
    EXPECT_EQ(w.fee_asset(), "ETH");
    swept += std::stoull(w.amount());
    gas += std::stoull(w.network_fee());
  }
  // Each funding paid the account swept after it (newest first in both lists), from ETH
  // client-hot, in a block before that sweep's.
  for (size_t i = 0; i < fundings.size(); ++i) {
    const v1::Withdrawal& f = fundings[i];
    EXPECT_EQ(f.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << f.DebugString();
    EXPECT_EQ(f.source_wallet(), "ETH:client-hot");
    EXPECT_EQ(f.destination(), accounts[i]) << "funding " << i;
    EXPECT_LT(MinedAt(stack, f.txid()), MinedAt(stack, sweeps[i].txid())) << "funding " << i;
    EXPECT_GT(std::stoull(f.amount()), 0u);
    EXPECT_LE(std::stoull(f.amount()), std::stoull(kEthFeeCap));
    gas += std::stoull(f.network_fee());
  }
  EXPECT_EQ(ChainBalanceOf(stack, EthAddress(2), kUsdcContract), std::to_string(swept));
  EXPECT_EQ(ChainBalanceOf(stack, accounts[2], kUsdcContract), "0");
  EXPECT_EQ(ChainBalanceOf(stack, accounts[1], kUsdcContract), "0");
  const v1::AssetAllocation usdc = Allocation(*auditor, "USDC-ETH").assets(0);
  EXPECT_FALSE(usdc.over_cap()) << usdc.DebugString();
  EXPECT_LE(usdc.hot_share_bps(), usdc.hot_cap_bps());
  EXPECT_EQ(usdc.client_cold(), std::to_string(swept));

  // The six fees (three fundings, three sweeps' gas) were owed by the house and paid back.
  const std::vector<v1::Withdrawal> paid = Moves(*auditor, v1::REQUEST_KIND_FEE_REIMBURSEMENT, "ETH");
  uint64_t reimbursed = 0;
  for (const v1::Withdrawal& r : paid) {
    EXPECT_EQ(r.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << r.DebugString();
    reimbursed += std::stoull(r.amount());
  }
  EXPECT_GT(gas, 0u);
  EXPECT_EQ(reimbursed, gas);
  EXPECT_EQ(receivable("ETH"), "0");
  EXPECT_EQ(receivable("USDC-ETH"), "0");

  // Clients keep what they deposited: the fundings were not deposits and cost them nothing.
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  EXPECT_TRUE(report.holds()) << report.DebugString();
  for (const auto& a : report.assets()) {
    EXPECT_EQ(a.unattributed(), "0") << a.DebugString();
    if (a.asset_id() == "USDC-ETH") {
      EXPECT_EQ(a.client_liabilities(), std::to_string(6000 * kUsdc));
    } else if (a.asset_id() == "ETH") {
      EXPECT_EQ(a.client_liabilities(), "1000000000000000000");
    }
  }
  ExpectReconciledWithoutAlarm(stack, *auditor, "ETH", "ethereum");
  ExpectReconciledWithoutAlarm(stack, *auditor, "USDC-ETH", "ethereum");
  stack.ExpectInvariantsAndAuditHold();
}

// A long run over BTC and ETH: rounds of deposits to four clients on both chains, each client's
// withdrawals to its whitelisted addresses, and the sweeps and fee reimbursements custodyd plans,
// every move mined to settlement. After every round in which a sweep of an asset settled, that
// asset's hot share is within its cap; after every round segregation holds on both assets and
// each client's balance is what it deposited less what it withdrew with the fees it paid; at the
// end every move is confirmed and the receivables of both assets are back to zero.
TEST(MultiAssetRunE2e, DepositsWithdrawalsSweepsAndReimbursementsOnTwoChainsKeepCapsAndBooks) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["BTC"] = {RegtestAddress(0)};
  options.cold_addresses["ETH"] = {EthAddress(2)};
  options.cold_addresses["USDC-ETH"] = {EthAddress(1)};
  // A 20% cap, so that the hot wallets can pay the run's withdrawals without top-ups (those
  // need the offline signer: custody_topup_e2e_test).
  options.policy = TestPolicyWith({{"BTC", "hot_cap = \"0.2\"\nmin_sweep = 1000000\n"},
                                   {"ETH", "hot_cap = \"0.2\"\nmin_sweep = 100000000000000000\n"},
                                   {"USDC-ETH", "hot_cap = \"0.2\"\nmin_sweep = 100000000\n"}});
  options.asset_lines["BTC"] = "receivable_threshold = \"1\"\n";
  options.asset_lines["ETH"] = "receivable_threshold = \"1\"\n";
  options.extra_config = "[reconciliation]\nlift_group = \"ops\"\n";
  // ETH destinations usable at once (kTestPolicy cools them off for a day).
  const std::string cooling = "[assets.ETH.whitelist]\ncooling_off_seconds = 86400";
  options.policy.replace(options.policy.find(cooling), cooling.size(), "[assets.ETH.whitelist]\ncooling_off_seconds = 0");
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  auto approver = stack.As("approver");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1",
                     ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold"),
                                  Key("cold-eth-1", 2, "ETH", "ETH:client-cold"),
                                  Key("cold-usdc-1", 1, "USDC-ETH", "USDC-ETH:client-cold")},
                                 cold_signer),
                     &imported)
                  .ok());
  stack.Credit("bitcoin", HouseAddress(*admin, "BTC"), "100000000");
  stack.Credit("ethereum", HouseAddress(*admin, "ETH"), "10000000000000000000");
  // USDC-ETH's accounts pay their gas in ether the ETH client-hot wallet sends them
  // (gas_funding), which the house pays back (ETH's receivables).
  const char* kAssets[] = {"BTC", "ETH", "USDC-ETH"};
  const std::map<std::string, std::string> chain_of = {
      {"BTC", "bitcoin"}, {"ETH", "ethereum"}, {"USDC-ETH", "ethereum"}};
  const std::map<std::string, uint32_t> blocks_of = {{"BTC", 3}, {"ETH", 2}, {"USDC-ETH", 2}};
  int keys = 0;
  struct Client {
    std::string id;
    std::map<std::string, std::string> deposit;      // asset -> address
    std::map<std::string, std::string> destination;  // asset -> whitelisted address
  };
  std::vector<Client> clients(4);
  for (size_t c = 0; c < clients.size(); ++c) {
    grpc::ClientContext cctx;
    v1::CreateClientRequest creq;
    creq.set_idempotency_key("client-" + std::to_string(c));
    creq.set_client_ref("multi-" + std::to_string(c));
    v1::CreateClientResponse made;
    ASSERT_TRUE(platform->CreateClient(&cctx, creq, &made).ok());
    clients[c].id = made.client().client_id();
    std::array<uint8_t, 20> hash{};
    hash.fill(static_cast<uint8_t>(0x40 + c));
    clients[c].destination["BTC"] = chain::P2wpkhAddress("bcrt", hash).value();
    clients[c].destination["ETH"] = chain::EthChecksumAddress(hash);
    clients[c].destination["USDC-ETH"] = chain::EthChecksumAddress(hash);
    for (const char* asset : kAssets) {
      grpc::ClientContext actx;
      v1::CreateDepositAddressRequest areq;
      areq.set_idempotency_key("addr-" + std::to_string(++keys));
      areq.set_client_id(clients[c].id);
      areq.set_asset_id(asset);
      v1::CreateDepositAddressResponse address;
      ASSERT_TRUE(platform->CreateDepositAddress(&actx, areq, &address).ok());
      clients[c].deposit[asset] = address.deposit_address().address();
      grpc::ClientContext wctx;
      v1::AddWhitelistAddressRequest wreq;
      wreq.set_idempotency_key("wl-" + std::to_string(++keys));
      wreq.set_client_id(clients[c].id);
      wreq.set_asset_id(asset);
      wreq.set_address(clients[c].destination[asset]);
      v1::AddWhitelistAddressResponse added;
      ASSERT_TRUE(platform->AddWhitelistAddress(&wctx, wreq, &added).ok());
      grpc::ClientContext pctx;
      v1::SubmitApprovalRequest preq;
      preq.set_idempotency_key("approve-" + std::to_string(++keys));
      preq.set_target_id(added.entry().entry_id());
      preq.set_approver_id("alice");
      preq.set_signature(Sign(ApproverKey("alice"), WhitelistDigestOf(added.entry())));
      v1::SubmitApprovalResponse approved;
      grpc::Status s = approver->SubmitApproval(&pctx, preq, &approved);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_TRUE(approved.whitelist_entry().usable());
    }
  }
  auto mine_all = [&](uint32_t extra) {
    for (const char* asset : kAssets) stack.Mine(chain_of.at(asset), blocks_of.at(asset) + extra);
    for (const char* asset : kAssets) stack.WaitIngested(chain_of.at(asset));
  };
  // Every live move of both assets mined to settlement; returns when nothing moves.
  auto settle_moves = [&] {
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // an executor pass plans and signs
      int live = 0;
      for (const char* asset : kAssets) {
        grpc::ClientContext ctx;
        v1::ListWithdrawalsRequest req;
        req.set_asset_id(asset);
        for (auto st : {v1::WITHDRAWAL_STATE_PENDING_APPROVAL, v1::WITHDRAWAL_STATE_APPROVED,
                        v1::WITHDRAWAL_STATE_SIGNING, v1::WITHDRAWAL_STATE_SIGNED, v1::WITHDRAWAL_STATE_BROADCAST}) {
          req.add_states(st);
        }
        v1::ListWithdrawalsResponse resp;
        EXPECT_TRUE(auditor->ListWithdrawals(&ctx, req, &resp).ok());
        live += resp.withdrawals_size();
      }
      if (live == 0) return;
      mine_all(0);
    }
    ADD_FAILURE() << "moves still live after 20 rounds of blocks\n" << stack.CustodydStderr();
  };
  // What each client should hold: deposits less withdrawals and the fees it was charged.
  std::map<std::string, std::map<std::string, base::Amount>> expected;
  std::vector<std::string> withdrawal_ids;
  std::map<std::string, size_t> sweeps_seen = {{"BTC", 0}, {"ETH", 0}, {"USDC-ETH", 0}};
  size_t deposits = 0;
  constexpr int kRounds = 13;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t c = 0; c < clients.size(); ++c) {
      const uint64_t step = 1 + (round * 7 + c * 3) % 5;  // 1..5
      const std::map<std::string, base::Amount> amount = {
          {"BTC", base::Amount(step * 5'000'000ull)},                  // 0.05 .. 0.25 BTC
          {"ETH", base::Amount(step * 500'000'000'000'000'000ull)},  // 0.5 .. 2.5 ETH
          {"USDC-ETH", base::Amount(step * 500'000'000ull)}};       // 500 .. 2,500 USDC
      for (const char* asset : kAssets) {
        stack.Credit(chain_of.at(asset), clients[c].deposit[asset], amount.at(asset).ToBaseUnitString(),
                     std::string(asset) == "USDC-ETH" ? kUsdcContract : "");
        expected[clients[c].id][asset] = *expected[clients[c].id][asset].CheckedAdd(amount.at(asset));
        ++deposits;
      }
    }
    mine_all(0);
    settle_moves();
    // Two clients withdraw from each asset this round.
    for (size_t k = 0; k < 2; ++k) {
      const Client& client = clients[(round * 2 + k) % clients.size()];
      for (const char* asset : kAssets) {
        grpc::ClientContext ctx;
        v1::CreateWithdrawalRequest req;
        req.set_idempotency_key("wd-" + std::to_string(++keys));
        req.set_client_id(client.id);
        req.set_asset_id(asset);
        const std::map<std::string, std::string> wd = {
            {"BTC", "2000000"}, {"ETH", "200000000000000000"}, {"USDC-ETH", "200000000"}};  // 0.02 BTC, 0.2 ETH, 200 USDC
        req.set_amount(wd.at(asset));
        req.set_destination(client.destination.at(asset));
        v1::CreateWithdrawalResponse made;
        grpc::Status s = platform->CreateWithdrawal(&ctx, req, &made);
        ASSERT_TRUE(s.ok()) << s.error_message();
        ASSERT_EQ(made.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED) << made.withdrawal().DebugString();
        withdrawal_ids.push_back(made.withdrawal().withdrawal_id());
      }
    }
    settle_moves();
    for (const char* asset : kAssets) {
      const std::vector<v1::Withdrawal> sweeps = Moves(*auditor, v1::REQUEST_KIND_SWEEP, asset);
      const v1::AssetAllocation a = Allocation(*auditor, asset).assets(0);
      if (sweeps.size() > sweeps_seen[asset]) {
        sweeps_seen[asset] = sweeps.size();
        EXPECT_LE(a.hot_share_bps(), a.hot_cap_bps()) << "round " << round << ": " << a.DebugString();
      }
    }
    grpc::ClientContext sctx;
    v1::GetSegregationReportResponse report;
    ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
    EXPECT_TRUE(report.holds()) << "round " << round << "\n" << report.DebugString();
  }
  settle_moves();
  settle_moves();  // the last reimbursements, planned once the last moves settled
  // Every withdrawal confirmed; each client's balance as expected.
  for (const std::string& id : withdrawal_ids) {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(id);
    v1::GetWithdrawalResponse got;
    ASSERT_TRUE(auditor->GetWithdrawal(&ctx, req, &got).ok());
    const v1::Withdrawal& w = got.withdrawal();
    ASSERT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << w.DebugString();
    base::Amount out = base::ParseBaseUnits(w.amount()).value();
    if (w.fee_charged_to_client()) {
      out = *out.CheckedAdd(base::ParseBaseUnits(w.network_fee()).value());  // native assets: the client pays
    }
    expected[w.client_id()][w.asset_id()] = *expected[w.client_id()][w.asset_id()].CheckedSub(out);
  }
  for (const Client& client : clients) {
    for (const char* asset : kAssets) {
      grpc::ClientContext ctx;
      v1::GetBalancesRequest req;
      req.set_client_id(client.id);
      req.set_asset_id(asset);
      v1::GetBalancesResponse got;
      ASSERT_TRUE(platform->GetBalances(&ctx, req, &got).ok());
      ASSERT_EQ(got.balances_size(), 1);
      EXPECT_EQ(got.balances(0).available(), expected[client.id][asset].ToBaseUnitString()) << client.id << " " << asset;
      EXPECT_EQ(got.balances(0).held(), "0");
    }
  }
  size_t moves = 0, reimbursements = 0;
  for (const char* asset : kAssets) {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.set_asset_id(asset);
    req.set_page_size(1000);
    v1::ListWithdrawalsResponse all;
    ASSERT_TRUE(auditor->ListWithdrawals(&ctx, req, &all).ok());
    for (const v1::Withdrawal& w : all.withdrawals()) {
      EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << w.DebugString();
      reimbursements += w.kind() == v1::REQUEST_KIND_FEE_REIMBURSEMENT;
    }
    moves += static_cast<size_t>(all.withdrawals_size());
  }
  EXPECT_GE(sweeps_seen["BTC"], 3u);
  EXPECT_GE(sweeps_seen["ETH"], 3u);
  EXPECT_GE(sweeps_seen["USDC-ETH"], 3u);
  EXPECT_GE(reimbursements, 2u);
  EXPECT_GE(deposits + moves, 300u);
  std::printf("multi-asset run: %zu deposits and %zu moves settled (%zu withdrawals, %zu BTC, %zu ETH and %zu USDC-ETH "
              "sweeps, %zu fee reimbursements)\n",
              deposits, moves, withdrawal_ids.size(), sweeps_seen["BTC"], sweeps_seen["ETH"], sweeps_seen["USDC-ETH"],
              reimbursements);
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  EXPECT_TRUE(report.holds()) << report.DebugString();
  for (const auto& a : report.assets()) {
    EXPECT_EQ(a.receivables(), "0") << a.DebugString();
    EXPECT_EQ(a.unattributed(), "0") << a.DebugString();
  }
  // The reconciler compared chain and books at every block of the run: no false alarm.
  ExpectReconciledWithoutAlarm(stack, *auditor, "BTC", "bitcoin");
  ExpectReconciledWithoutAlarm(stack, *auditor, "ETH", "ethereum");
  ExpectReconciledWithoutAlarm(stack, *auditor, "USDC-ETH", "ethereum");
  stack.ExpectInvariantsAndAuditHold();
}

// custodyd SIGKILLed at each step boundary of a sweep (its test-only kill point) and started
// again: the sweep completes exactly once, chainsim accepted one transaction, and the books hold.
class SweepCrashE2e : public ::testing::TestWithParam<std::string> {};

TEST_P(SweepCrashE2e, KilledCustodydResumesTheSweepOnce) {
  const std::string step = GetParam();
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.cold_addresses["BTC"] = {RegtestAddress(0)};
  CustodyStack stack(options);
  std::string deposit_address;
  {
    auto admin = stack.As("admin");
    auto platform = stack.As("platform");
    v1::ImportColdKeysResponse imported;
    ASSERT_TRUE(Import(*admin, "import-1", ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, cold_signer),
                       &imported)
                    .ok());
    deposit_address = NewClientAddress(*platform, "crash-" + step);
  }
  ASSERT_EQ(stack.StopCustodyd(), 0) << stack.CustodydStderr();
  stack.StartCustodyd({}, false, {"RINGFENCE_CUSTODYD_TEST_KILL_AT=" + step});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  stack.Credit("bitcoin", deposit_address, "100000000");
  stack.Mine("bitcoin", 3);
  if (step == "settling") {
    auto auditor = stack.As("auditor");
    ASSERT_TRUE(Eventually([&] {
      const auto sweeps = Sweeps(*auditor);
      return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
    })) << stack.CustodydStderr();
    stack.Mine("bitcoin", 3);  // the kill waits for the confirmations
  }
  EXPECT_EQ(stack.WaitCustodydExit(), 128 + SIGKILL);
  EXPECT_THAT(stack.CustodydStderr(), HasSubstr("killed after '" + step + "'"));

  stack.StartCustodyd();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  auto auditor = stack.As("auditor");
  ASSERT_TRUE(Eventually([&] {
    const auto sweeps = Sweeps(*auditor);
    return !sweeps.empty() && (sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST ||
                               sweeps[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED);
  })) << stack.CustodydStderr();
  stack.Mine("bitcoin", 3);
  ASSERT_TRUE(Eventually([&] {
    const auto sweeps = Sweeps(*auditor);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
  })) << stack.CustodydStderr();
  const std::vector<v1::Withdrawal> sweeps = Sweeps(*auditor);
  ASSERT_EQ(sweeps.size(), 1u) << "one sweep, planned once";
  EXPECT_EQ(sweeps[0].amount(), "99000000");
  EXPECT_EQ(stack.BroadcastCount("bitcoin", sweeps[0].txid()).accepted(), 1u);
  EXPECT_EQ(stack.BroadcastCount("bitcoin").accepted(), 1u) << "chainsim accepted one transaction in all";
  const v1::AssetAllocation btc = Allocation(*auditor).assets(0);
  EXPECT_EQ(btc.client_cold(), "99000000");
  EXPECT_FALSE(btc.over_cap());
  stack.ExpectInvariantsAndAuditHold();
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, SweepCrashE2e,
                         ::testing::Values("planned", "claimed", "answered", "signed", "sent", "broadcast",
                                           "settling"));

// A sweep signerd refuses (here its configuration does not register the cold address) fails
// with the refusal, holds nothing, and is not planned again on every pass: the next waits
// kInternalMoveRetrySeconds.
TEST(SweepE2e, ARefusedSweepIsNotRepeatedEveryPass) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();  // no cold_addresses: signerd knows no cold wallet
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1", ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, cold_signer),
                     &imported)
                  .ok());
  stack.Credit("bitcoin", NewClientAddress(*platform, "refused-1"), "100000000");
  stack.Mine("bitcoin", 3);
  stack.WaitIngested("bitcoin");
  ASSERT_TRUE(Eventually([&] {
    const auto sweeps = Sweeps(*auditor);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_FAILED;
  })) << stack.CustodydStderr();
  EXPECT_THAT(Sweeps(*auditor)[0].reason(), HasSubstr("signer"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // several executor passes
  EXPECT_EQ(Sweeps(*auditor).size(), 1u) << "one refused sweep, not one per pass";
  EXPECT_TRUE(Allocation(*auditor).assets(0).over_cap());
  stack.ExpectInvariantsAndAuditHold();
}

// A signed bundle for `bundle_id` signed by `by` (a stand-in transaction: these files are
// refused before their transaction is looked at).
std::string SignedBundleFile(const std::string& bundle_id, const Identity& by) {
  air::SignedBundle b;
  b.bundle_id = bundle_id;
  b.bundle_digest.fill(0x42);
  b.signed_tx = std::string("\x02\x00\x00\x00", 4);
  b.txid = std::string(64, 'a');
  b.log_sequence = 7;
  return SignedBundleSignedBy(std::move(b), by);
}

grpc::Status ImportSigned(v1::Custody::Stub& stub, const std::string& key, const std::string& file) {
  grpc::ClientContext ctx;
  v1::ImportSignedBundleRequest request;
  request.set_idempotency_key(key);
  request.set_file(file);
  v1::ImportSignedBundleResponse response;
  return stub.ImportSignedBundle(&ctx, request, &response);
}

grpc::Status Export(v1::Custody::Stub& stub, const std::string& key, const std::string& id) {
  grpc::ClientContext ctx;
  v1::ExportSigningBundleRequest request;
  request.set_idempotency_key(key);
  request.set_withdrawal_id(id);
  v1::ExportSigningBundleResponse response;
  return stub.ExportSigningBundle(&ctx, request, &response);
}

// The top-up RPCs' refusals of bad input: each a clear error, the refused signatures audited,
// and nothing changed (no move, no ledger entry). The flow itself: custody_topup_e2e_test.
TEST(BundleRpcsE2e, BadInputIsRefusedAndChangesNothing) {
  const Identity cold_signer(0x11);
  const Identity stranger(0x22);
  StackOptions options;
  options.cold_identity_hex = cold_signer.Hex();
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto approver = stack.As("approver");
  auto platform = stack.As("platform");
  auto auditor = stack.As("auditor");
  struct Case {
    std::string name;
    grpc::Status status;
    grpc::StatusCode code;
    std::string says;
  };
  const std::string good = SignedBundleFile("w_00000000000000aa", cold_signer);
  std::string edited = good;
  edited.replace(edited.find("\"log_sequence\":7"), 16, "\"log_sequence\":8");
  const std::vector<Case> cases = {
      {"export as platform", Export(*platform, "k1", "w_00000000000000aa"), grpc::StatusCode::PERMISSION_DENIED, ""},
      {"export without a key", Export(*approver, "", "w_00000000000000aa"), grpc::StatusCode::INVALID_ARGUMENT,
       "idempotency_key"},
      {"export of a malformed id", Export(*approver, "k2", "w_xyz"), grpc::StatusCode::INVALID_ARGUMENT, "withdrawal_id"},
      {"export of an unknown id", Export(*admin, "k3", "w_00000000000000aa"), grpc::StatusCode::NOT_FOUND,
       "w_00000000000000aa"},
      {"import as platform", ImportSigned(*platform, "k4", good), grpc::StatusCode::PERMISSION_DENIED, ""},
      {"import as auditor", ImportSigned(*auditor, "k5", good), grpc::StatusCode::PERMISSION_DENIED, ""},
      {"import of nothing", ImportSigned(*admin, "k6", ""), grpc::StatusCode::INVALID_ARGUMENT, "file: empty"},
      {"import above the limit", ImportSigned(*admin, "k7", std::string((size_t{16} << 20) + 1, ' ')),
       grpc::StatusCode::INVALID_ARGUMENT, "at most 16777216"},
      {"import of malformed JSON", ImportSigned(*admin, "k8", "{\"format\":"), grpc::StatusCode::INVALID_ARGUMENT, "file:"},
      {"import of a cold-key file", ImportSigned(*admin, "k9", ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")},
                                                                            cold_signer)),
       grpc::StatusCode::INVALID_ARGUMENT, "unknown key"},
      {"import signed by another identity", ImportSigned(*admin, "k10", SignedBundleFile("w_00000000000000aa", stranger)),
       grpc::StatusCode::PERMISSION_DENIED, "file:"},
      {"import of an edited file", ImportSigned(*admin, "k11", edited), grpc::StatusCode::PERMISSION_DENIED, "file:"},
      {"import for no exported top-up", ImportSigned(*approver, "k12", good), grpc::StatusCode::NOT_FOUND,
       "w_00000000000000aa"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), c.code) << c.name << ": " << c.status.error_message();
    EXPECT_THAT(c.status.error_message(), HasSubstr(c.says)) << c.name;
    EXPECT_LT(c.status.error_message().size(), 600u) << c.name;
  }
  // Nothing moved or was booked; the two refused signatures are in the audit log.
  grpc::ClientContext lctx;
  v1::ListWithdrawalsResponse moves;
  ASSERT_TRUE(auditor->ListWithdrawals(&lctx, v1::ListWithdrawalsRequest(), &moves).ok());
  EXPECT_EQ(moves.withdrawals_size(), 0);
  grpc::ClientContext actx;
  v1::ListAuditEntriesResponse audit;
  ASSERT_TRUE(auditor->ListAuditEntries(&actx, v1::ListAuditEntriesRequest(), &audit).ok());
  int denied_imports = 0;
  for (const auto& e : audit.entries()) {
    denied_imports += e.action() == "denied" && e.details().find("ImportSignedBundle") != std::string::npos &&
                      e.details().find("file:") != std::string::npos;
  }
  EXPECT_EQ(denied_imports, 2) << audit.DebugString();
  stack.ExpectInvariantsAndAuditHold();
}

// No address of Ringfence's own wallets can be whitelisted as a destination: another client's
// deposit address, a house address, a cold address. Refused at the request, before any approval
// or signature (signerd would refuse the house one only when signing).
TEST(WhitelistE2e, OwnWalletAddressesAreNoDestination) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.cold_identity_hex = cold_signer.Hex();
  CustodyStack stack(options);
  auto admin = stack.As("admin");
  auto platform = stack.As("platform");
  v1::ImportColdKeysResponse imported;
  ASSERT_TRUE(Import(*admin, "import-1", ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, cold_signer),
                     &imported)
                  .ok());
  const std::string other_deposit = NewClientAddress(*platform, "own-1");
  NewClientAddress(*platform, "own-2");
  grpc::ClientContext lctx;
  v1::ListClientsRequest lreq;
  v1::ListClientsResponse clients;
  ASSERT_TRUE(platform->ListClients(&lctx, lreq, &clients).ok());
  std::string second;
  for (const auto& c : clients.clients()) {
    if (c.client_ref() == "own-2") second = c.client_id();
  }
  ASSERT_FALSE(second.empty());
  const std::map<std::string, std::string> own = {{other_deposit, "BTC:client-hot"},
                                                  {HouseAddress(*admin), "BTC:house-hot"},
                                                  {RegtestAddress(0), "BTC:client-cold"}};
  int n = 0;
  for (const auto& [address, wallet] : own) {
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("wl-" + std::to_string(++n));
    req.set_client_id(second);
    req.set_asset_id("BTC");
    req.set_address(address);
    v1::AddWhitelistAddressResponse resp;
    grpc::Status s = platform->AddWhitelistAddress(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << address << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("own wallet " + wallet)) << address;
  }
  grpc::ClientContext wctx;
  v1::ListWhitelistRequest wreq;
  wreq.set_client_id(second);
  v1::ListWhitelistResponse listed;
  ASSERT_TRUE(platform->ListWhitelist(&wctx, wreq, &listed).ok());
  EXPECT_EQ(listed.entries_size(), 0);
}

TEST(ColdKeysE2e, WithoutAColdSignerNothingIsImported) {
  const Identity cold_signer(0x11);
  CustodyStack stack;
  v1::ImportColdKeysResponse response;
  grpc::Status s = Import(*stack.As("admin"), "import-1",
                          ColdKeyFile({Key("cold-btc-1", 0, "BTC", "BTC:client-cold")}, cold_signer), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("[cold_signer]"));
  // Nor is a signed bundle believed.
  s = ImportSigned(*stack.As("admin"), "import-2", SignedBundleFile("w_00000000000000aa", cold_signer));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("[cold_signer]"));
}

// The allocation policy tests' stack: the executor on, the cold signer identity 0x11 and the
// policy text given.
StackOptions PolicyStackOptions(const std::string& policy) {
  const Identity cold_signer(0x11);
  StackOptions options;
  options.executor = true;
  options.cold_identity_hex = cold_signer.Hex();
  options.policy = policy;
  return options;
}

// Imports cold `key` (signed by identity 0x11), deposits `amount` of `asset` to a new client's
// address, mines it to credit and waits until the asset's first sweep is broadcast; returns it
// (a test failure and an empty one if it is not broadcast in time).
v1::Withdrawal DepositAndAwaitSweep(CustodyStack& stack, const air::ColdKey& key, const std::string& chain,
                                    uint32_t blocks, const std::string& amount) {
  const Identity cold_signer(0x11);
  auto admin = stack.As("admin");
  auto auditor = stack.As("auditor");
  v1::ImportColdKeysResponse imported;
  EXPECT_TRUE(Import(*admin, "import-1", ColdKeyFile({key}, cold_signer), &imported).ok());
  stack.Credit(chain, NewClientAddress(*stack.As("platform"), "policy-" + key.asset, key.asset), amount);
  stack.Mine(chain, blocks);
  stack.WaitIngested(chain);
  std::vector<v1::Withdrawal> sweeps;
  EXPECT_TRUE(Eventually([&] {
    sweeps = Moves(*auditor, v1::REQUEST_KIND_SWEEP, key.asset);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
  })) << stack.CustodydStderr();
  EXPECT_EQ(sweeps.size(), 1u);
  return sweeps.empty() ? v1::Withdrawal() : sweeps[0];
}

// `custodyd policy replay` on the stack's config (and so its policy file as it is now).
CommandResult ReplayDecisions(const CustodyStack& stack) {
  return stack.RunCustodyd({"policy", "replay", "--config", stack.config_path().string()});
}

// The sweep is the policy's (issue 13: allocation rules from the policy engine): with a 4% cap
// and a 3% target, 1 BTC all hot is swept down to 3,000,000 sat, 97,000,000 (the rule before the
// policy, half the cap, would have swept 98,000,000). The decision is recorded with the move and
// `custodyd policy replay` re-runs it: the same under the policy file it was taken under, a
// difference once the file says otherwise.
TEST(AllocationPolicyE2e, TheSweepIsThePolicysAndItsRecordedDecisionReplays) {
  StackOptions options = PolicyStackOptions(TestPolicyWith({{"BTC", "hot_cap = \"0.04\"\nhot_target = \"0.03\"\n"}}));
  options.cold_addresses["BTC"] = {RegtestAddress(0)};
  CustodyStack stack(options);
  auto auditor = stack.As("auditor");
  const v1::Withdrawal sweep =
      DepositAndAwaitSweep(stack, Key("cold-btc-1", 0, "BTC", "BTC:client-cold"), "bitcoin", 3, "100000000");
  EXPECT_EQ(sweep.amount(), "97000000");
  const v1::AssetAllocation during = Allocation(*auditor).assets(0);
  EXPECT_EQ(during.hot_cap_bps(), 400u);
  EXPECT_EQ(during.hot_target(), "3000000");
  EXPECT_EQ(during.sweeping(), "97000000");
  EXPECT_EQ(during.planned_sweep(), "0");

  // The recorded decision replays the same under the configured policy.
  CommandResult replay = ReplayDecisions(stack);
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr(" 0 differ"));
  EXPECT_THAT(replay.out, ::testing::Not(HasSubstr("replayed 0 decisions")));

  // The policy file now says a 2% target: the recorded decision would sweep 98,000,000.
  std::string lower = options.policy;
  const std::string from = "hot_target = \"0.03\"";
  lower.replace(lower.find(from), from.size(), "hot_target = \"0.02\"");
  std::ofstream(stack.dir() / "policy.toml") << lower;
  replay = ReplayDecisions(stack);
  EXPECT_EQ(replay.exit_code, 1) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr("allocation " + sweep.withdrawal_id() + ": recorded"));
  EXPECT_THAT(replay.out, HasSubstr("\"amount\":\"98000000\""));
  EXPECT_THAT(replay.out, HasSubstr(" 1 differ"));

  stack.Mine("bitcoin", 3);
  ASSERT_TRUE(Eventually([&] { return Sweeps(*auditor)[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED; }))
      << stack.CustodydStderr();
  stack.ExpectInvariantsAndAuditHold();

  // A policy file that does not fit the served assets fails the config load, naming the asset
  // (USDC-ETH left out) or the rule (a target above the cap).
  std::string without_usdc = options.policy;
  without_usdc.erase(without_usdc.find("[assets.USDC-ETH]"));
  std::ofstream(stack.dir() / "policy.toml") << without_usdc;
  CommandResult check = stack.RunCustodyd({"check", "--config", stack.config_path().string()});
  EXPECT_NE(check.exit_code, 0) << check.out;
  EXPECT_THAT(check.err, HasSubstr("'withdrawals.policy: assets.USDC-ETH' is missing"));
  std::string above_cap = options.policy;
  above_cap.replace(above_cap.find(from), from.size(), "hot_target = \"0.05\"");
  std::ofstream(stack.dir() / "policy.toml") << above_cap;
  check = stack.RunCustodyd({"check", "--config", stack.config_path().string()});
  EXPECT_NE(check.exit_code, 0) << check.out;
  EXPECT_THAT(check.err, HasSubstr("assets.BTC.allocation.hot_target"));
}

// The aggregate cap is enforced (policy [allocation] aggregate_hot_cap): ETH's own cap is 100%,
// so 1 ETH all hot is within it, but across the priced assets 2% is the most that may be hot.
// At USD 3,000.00 per ETH the total is worth 300,000 cents and the cap 6,000; the 294,000 over
// it is ceil(294,000 * 10^18 / 300,000) = 0.98 ETH, which custodyd sweeps (aggregate_sweep).
TEST(AllocationPolicyE2e, TheAggregateCapSweepsAnAssetUnderItsOwnCap) {
  StackOptions options =
      PolicyStackOptions(TestPolicyWith({{"ETH", "hot_cap = \"1\"\n"}}, "[allocation]\naggregate_hot_cap = \"0.02\"\n"));
  options.cold_addresses["ETH"] = {EthAddress(2)};
  options.asset_lines["BTC"] = "price = \"6500000\"\n";
  options.asset_lines["ETH"] = "price = \"300000\"\n";
  options.asset_lines["USDC-ETH"] = "price = \"100\"\n";
  options.extra_config = "[allocation]\nreference = \"USD\"\nreference_decimals = 2\n";
  CustodyStack stack(options);
  auto auditor = stack.As("auditor");
  const v1::Withdrawal sweep =
      DepositAndAwaitSweep(stack, Key("cold-eth-1", 2, "ETH", "ETH:client-cold"), "ethereum", 2, "1000000000000000000");
  EXPECT_EQ(sweep.amount(), "980000000000000000");
  EXPECT_EQ(sweep.destination(), EthAddress(2));
  EXPECT_THAT(stack.CustodydStderr(), HasSubstr(sweep.withdrawal_id() + ": sweep of 980000000000000000"));

  stack.Mine("ethereum", 2);
  ASSERT_TRUE(Eventually([&] {
    return Moves(*auditor, v1::REQUEST_KIND_SWEEP, "ETH")[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
  })) << stack.CustodydStderr();
  grpc::ClientContext ctx;
  v1::GetAllocationResponse after;
  ASSERT_TRUE(auditor->GetAllocation(&ctx, v1::GetAllocationRequest(), &after).ok());
  EXPECT_TRUE(after.aggregate_complete());
  EXPECT_FALSE(after.aggregate_over_cap()) << after.DebugString();
  EXPECT_EQ(after.aggregate_hot_cap_bps(), 200u);
  ASSERT_EQ(after.assets(1).asset_id(), "ETH");
  EXPECT_FALSE(after.assets(1).over_cap());
  EXPECT_EQ(after.assets(1).planned_sweep(), "0") << after.DebugString();
  EXPECT_EQ(Moves(*auditor, v1::REQUEST_KIND_SWEEP, "ETH").size(), 1u);
  // The decision replays the same.
  CommandResult replay = ReplayDecisions(stack);
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr(" 0 differ"));
  stack.ExpectInvariantsAndAuditHold();
}

}  // namespace
}  // namespace ringfence::custody::testing
