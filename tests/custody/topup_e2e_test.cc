// Top-ups through the offline signer end to end (issue 13): custodyd with its executor,
// signerd (hot) and chainsim as real processes, and the offline signer (`signerd --offline`) run
// as a process per command on a token of its own. A client withdrawal larger than the
// client-hot wallet holds makes custodyd plan a top-up from client-cold; approvers approve it
// (with the quorum binary and with approver_keys.h), it is exported as a signing bundle,
// signed offline, imported, broadcast and settled, and then the withdrawal is paid from hot.
//
// The offline signer is provisioned before the stack starts (its identity and a cold key, so
// that the stack's signerd and custodyd can be configured with them); its transactions config
// is written once the top-up is planned, because it registers the client-hot wallet by the
// address the top-up pays. Its token's environment (HSM_SIM_DIR, ...) is passed to each
// command explicitly: the stack's own token sandbox owns the process environment.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "chain/hashes.h"
#include "offline/bundle.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/cold_support.h"
#include "tests/custody/e2e_harness.h"
#include "tests/signer/token_sandbox.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;
namespace air = ringfence::offline;
namespace fs = std::filesystem;

constexpr uint64_t kDeposit = 200'000'000;   // 2 BTC
constexpr uint64_t kWithdraw = 150'000'000;  // 1.5 BTC: two approvals of ops (from 1 BTC)
constexpr uint64_t kFeeCap = 10'000;         // kBtcFeeCap
constexpr char kPassphrase[] = "alice's top-up test passphrase";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ToString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// A quorum key file (docs/quorum.md, "Key file") sealing the test approver's seed, so that the
// quorum binary signs as that approver (whose public key the harness gave custodyd and signerd).
// The cheapest Argon2id cost the format allows keeps it fast.
std::string SealedApproverKey(uint8_t seed_byte, const std::string& passphrase) {
  EXPECT_GE(sodium_init(), 0);
  const TestKey key = KeyOf(seed_byte);
  std::array<uint8_t, 32> seed;
  seed.fill(seed_byte);
  std::array<uint8_t, crypto_pwhash_SALTBYTES> salt{};
  std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  const uint64_t opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  const uint64_t memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> sealing{};
  EXPECT_EQ(crypto_pwhash(sealing.data(), sealing.size(), passphrase.data(), passphrase.size(), salt.data(), opslimit,
                          memlimit, crypto_pwhash_ALG_ARGON2ID13),
            0);
  std::array<uint8_t, 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES> sealed{};
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), nullptr, seed.data(), seed.size(), key.public_key.data(),
                                             key.public_key.size(), nullptr, nonce.data(), sealing.data());
  sodium_memzero(sealing.data(), sealing.size());
  sodium_memzero(seed.data(), seed.size());
  return "format=ringfence-approver-key/1\npublic_key=" + base::HexEncode(key.public_key) +
         "\nopslimit=" + std::to_string(opslimit) + "\nmemlimit=" + std::to_string(memlimit) +
         "\nsalt=" + base::HexEncode(salt) + "\nnonce=" + base::HexEncode(nonce) +
         "\nsealed_seed=" + base::HexEncode(sealed) + "\n";
}

class TopUpE2e : public ::testing::Test {
 protected:
  // Provisions the offline signer (identity, one cold key) on its own token, then starts the
  // stack with that cold address registered in the hot signerd, and imports the cold key. When
  // `trust_test_identity`, custodyd's [cold_signer] is the test's identity instead of the
  // offline signer's (the cold-key file re-signed by it).
  void Start(bool trust_test_identity) {
    ASSERT_GE(sodium_init(), 0);
    cold_ = std::make_unique<ringfence::signer::testing::TokenSandbox>();
    cold_->ReleaseModule();  // the offline signer processes own the token
    WriteColdConfig(/*with_transactions=*/false);

    CommandResult r = Offline({"identity", "--create"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string prefix = "offline signer identity (Ed25519): ";
    const size_t at = r.out.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.out;
    ASSERT_TRUE(base::HexDecodeInto(r.out.substr(at + prefix.size(), 64), offline_identity_).ok()) << r.out;
    const fs::path keys_file = cold_->dir() / "cold-keys.json";
    r = Offline({"create-keys", "--wallet-id", asset_ + ":client-cold", "--asset", asset_, "--owner", "client",
                 "--tier", "cold", "--count", "1", "--out", keys_file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    absl::StatusOr<air::ColdKeys> keys = air::ReadColdKeys(ReadAll(keys_file));
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_EQ(keys->keys.size(), 1u);
    cold_address_ = asset_ == "BTC"
                        ? chain::P2wpkhAddress("bcrt", chain::Hash160(keys->keys[0].public_key)).value()
                        : chain::EthChecksumAddress(chain::EthAddressFromPubkeyBytes(keys->keys[0].public_key).value());

    StackOptions options;
    options.executor = true;
    options.cold_identity_hex =
        trust_test_identity ? test_identity_.Hex() : base::HexEncode(std::span<const uint8_t>(offline_identity_));
    options.cold_addresses[asset_] = {cold_address_};
    // The first sweep (1.98 BTC) goes to cold; what is hot after the withdrawal (the policy's
    // target of the smaller total, within its cap) stays hot, and a min_sweep of 0.05 BTC keeps
    // it there should the fee left over take it past the cap, so that the end balances are
    // those of the top-up and the withdrawal alone. Likewise for ether (0.05 ETH).
    options.policy = TestPolicyWith({{"BTC", "min_sweep = 5000000\n"}, {"ETH", "min_sweep = 50000000000000000\n"}});
    // ETH destinations usable at once (kTestPolicy cools them off for a day).
    const std::string cooling = "[assets.ETH.whitelist]\ncooling_off_seconds = 86400";
    options.policy.replace(options.policy.find(cooling), cooling.size(), "[assets.ETH.whitelist]\ncooling_off_seconds = 0");
    // The reconciler runs throughout: a top-up in flight must not read as a difference.
    options.extra_config = "[reconciliation]\nlift_group = \"ops\"\n";
    stack_ = std::make_unique<CustodyStack>(options);
    ASSERT_FALSE(HasFatalFailure());
    platform_ = stack_->As("platform");
    approver_ = stack_->As("approver");
    auditor_ = stack_->As("auditor");
    admin_ = stack_->As("admin");

    grpc::ClientContext ctx;
    v1::ImportColdKeysRequest req;
    req.set_idempotency_key("import-cold-keys");
    req.set_file(trust_test_identity ? ColdKeysSignedBy(*keys, test_identity_) : ReadAll(keys_file));
    v1::ImportColdKeysResponse resp;
    grpc::Status s = admin_->ImportColdKeys(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.keys_size(), 1);
    ASSERT_EQ(resp.keys(0).address(), cold_address_);
  }

  // The offline signer's config: its token, its own database; with_transactions: the stack's
  // signer-tx.toml (assets, wallets, the same approver registry as the hot signerd) plus the
  // client-hot wallet with the top-up's destination.
  void WriteColdConfig(bool with_transactions, const std::string& hot_address = "") {
    const fs::path dir = cold_->dir();
    std::string config = "[server]\nsocket = \"" + (dir / "unused.sock").string() + "\"\ndatabase = \"" +
                         (dir / "cold.db").string() + "\"\n\n[pkcs11]\nmodule = \"" +
                         ringfence::signer::testing::ModulePath() + "\"\ntoken_label = \"" +
                         ringfence::signer::testing::kTokenLabel + "\"\npin_file = \"" +
                         cold_->pin_file().string() + "\"\nsession_pool_size = 2\n";
    if (with_transactions) {
      std::string tx = ReadAll(stack_->dir() / "signer-tx.toml");
      const std::string relative = "approver_registry = \"approvers.toml\"";
      const size_t at = tx.find(relative);
      ASSERT_NE(at, std::string::npos) << tx;
      tx.replace(at, relative.size(), "approver_registry = \"" + (stack_->dir() / "approvers.toml").string() + "\"");
      tx += "\n[[wallet]]\nid = \"" + asset_ + ":client-hot\"\nasset = \"" + asset_ +
            "\"\nowner = \"client\"\ntier = \"hot\"\naddresses = [\"" + hot_address + "\"]\n";
      WriteAll(dir / "cold-tx.toml", tx);
      config += "\n[transactions]\nconfig = \"" + (dir / "cold-tx.toml").string() + "\"\n";
    }
    cold_config_ = dir / "cold.toml";
    WriteAll(cold_config_, config);
  }

  CommandResult Run(const std::vector<std::string>& args, const std::string& name) {
    const fs::path where = cold_->dir() / ("cmd-" + std::to_string(++runs_) + "-" + name);
    Process p(args, where, false);
    CommandResult r;
    r.exit_code = p.Wait();
    r.out = p.Stdout();
    r.err = p.Stderr();
    return r;
  }

  // `signerd --offline --config COLD.toml <args...>` with the offline token's environment.
  CommandResult Offline(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"/usr/bin/env"};
    for (const auto& [k, v] : cold_->env()) full.push_back(k + "=" + v);
    full.insert(full.end(), {RequiredEnv("SIGNERD"), "--offline", "--config", cold_config_.string()});
    full.insert(full.end(), args.begin(), args.end());
    return Run(full, "offline");
  }

  // custodyctl with `role`'s certificate.
  CommandResult Ctl(const std::string& role, const std::vector<std::string>& args) {
    const fs::path certs = stack_->certs_dir();
    std::vector<std::string> full = {RequiredEnv("CUSTODYCTL"), "--addr", stack_->address(), "--ca",
                                     (certs / "ca.crt").string(), "--cert", (certs / (role + ".crt")).string(),
                                     "--key", (certs / (role + ".key")).string()};
    full.insert(full.end(), args.begin(), args.end());
    return Run(full, "custodyctl");
  }

  // quorum with the approver role's certificate.
  CommandResult Quorum(const std::vector<std::string>& args) {
    const fs::path certs = stack_->certs_dir();
    std::vector<std::string> full = {RequiredEnv("QUORUM"), "--endpoint", stack_->address(), "--ca",
                                     (certs / "ca.crt").string(), "--cert", (certs / "approver.crt").string(),
                                     "--key", (certs / "approver.key").string()};
    full.insert(full.end(), args.begin(), args.end());
    return Run(full, "quorum");
  }

  std::string NewClient(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::CreateClientRequest req;
    req.set_idempotency_key("client-" + ref);
    req.set_client_ref(ref);
    v1::CreateClientResponse resp;
    grpc::Status s = platform_->CreateClient(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.client().client_id();
  }

  std::string DepositAddress(const std::string& client_id) {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key("addr-" + client_id);
    req.set_client_id(client_id);
    req.set_asset_id(asset_);
    v1::CreateDepositAddressResponse resp;
    grpc::Status s = platform_->CreateDepositAddress(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.deposit_address().address();
  }

  grpc::Status Approve(const std::string& target_id, const std::string& approver_id, const std::string& signature,
                       v1::SubmitApprovalResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::SubmitApprovalRequest req;
    req.set_idempotency_key("approve-" + std::to_string(++keys_));
    req.set_target_id(target_id);
    req.set_approver_id(approver_id);
    req.set_signature(signature);
    v1::SubmitApprovalResponse resp;
    grpc::Status s = approver_->SubmitApproval(&ctx, req, &resp);
    if (out != nullptr) *out = resp;
    return s;
  }

  v1::Withdrawal Get(const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(id);
    v1::GetWithdrawalResponse resp;
    grpc::Status s = auditor_->GetWithdrawal(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.withdrawal();
  }

  // The moves of `kind` of the test's asset, as the auditor sees them.
  std::vector<v1::Withdrawal> Moves(v1::RequestKind kind) {
    grpc::ClientContext ctx;
    v1::ListWithdrawalsRequest req;
    req.set_asset_id(asset_);
    req.set_page_size(100);
    v1::ListWithdrawalsResponse resp;
    grpc::Status s = auditor_->ListWithdrawals(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::Withdrawal> out;
    for (const v1::Withdrawal& w : resp.withdrawals()) {
      if (w.kind() == kind) out.push_back(w);
    }
    return out;
  }

  bool WaitState(const std::string& id, v1::WithdrawalState state) {
    const bool reached = Eventually([&] { return Get(id).state() == state; });
    EXPECT_TRUE(reached) << id << " did not reach " << v1::WithdrawalState_Name(state) << "; it is "
                         << Get(id).DebugString() << "\n"
                         << stack_->CustodydStderr();
    return reached;
  }

  v1::AssetAllocation Allocation() {
    grpc::ClientContext ctx;
    v1::GetAllocationRequest req;
    req.set_asset_id(asset_);
    v1::GetAllocationResponse resp;
    grpc::Status s = auditor_->GetAllocation(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.assets_size() == 1 ? resp.assets(0) : v1::AssetAllocation();
  }

  std::map<std::string, v1::Wallet> Wallets() {
    grpc::ClientContext ctx;
    v1::ListWalletsRequest req;
    req.set_asset_id(asset_);
    v1::ListWalletsResponse resp;
    grpc::Status s = auditor_->ListWallets(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, v1::Wallet> out;
    for (const v1::Wallet& w : resp.wallets()) out[w.wallet_id()] = w;
    return out;
  }

  v1::AssetSegregation Segregation() {
    grpc::ClientContext ctx;
    v1::GetSegregationReportResponse resp;
    grpc::Status s = auditor_->GetSegregationReport(&ctx, v1::GetSegregationReportRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::AssetSegregation& a : resp.assets()) {
      if (a.asset_id() == asset_) return a;
    }
    ADD_FAILURE() << "no " << asset_ << " in the segregation report";
    return {};
  }

  grpc::Status Export(v1::Custody::Stub& as, const std::string& key, const std::string& id,
                      v1::ExportSigningBundleResponse* out) {
    grpc::ClientContext ctx;
    v1::ExportSigningBundleRequest req;
    req.set_idempotency_key(key);
    req.set_withdrawal_id(id);
    return as.ExportSigningBundle(&ctx, req, out);
  }

  grpc::Status Import(v1::Custody::Stub& as, const std::string& key, const std::string& file,
                      v1::ImportSignedBundleResponse* out) {
    grpc::ClientContext ctx;
    v1::ImportSignedBundleRequest req;
    req.set_idempotency_key(key);
    req.set_file(file);
    return as.ImportSignedBundle(&ctx, req, out);
  }

  // A client with 2 BTC deposited, swept to cold (1.98 BTC; the sweep confirmed), and a
  // whitelisted destination; fills client_id_, destination_ and sweep_fee_.
  void FundAndSweep() {
    client_id_ = NewClient("topup-client");
    deposit_address_ = DepositAddress(client_id_);
    stack_->Credit("bitcoin", deposit_address_, std::to_string(kDeposit));
    stack_->Mine("bitcoin", 3);
    ASSERT_TRUE(Eventually([&] {
      const auto sweeps = Moves(v1::REQUEST_KIND_SWEEP);
      return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
    })) << stack_->CustodydStderr();
    stack_->Mine("bitcoin", 3);
    ASSERT_TRUE(Eventually([&] {
      const auto sweeps = Moves(v1::REQUEST_KIND_SWEEP);
      return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
    })) << stack_->CustodydStderr();
    const auto sweeps = Moves(v1::REQUEST_KIND_SWEEP);
    ASSERT_EQ(sweeps.size(), 1u);
    ASSERT_EQ(sweeps[0].amount(), "198000000");  // down to the policy's 1% target of 2 BTC
    ASSERT_EQ(sweeps[0].destination(), cold_address_);
    sweep_fee_ = std::stoull(sweeps[0].network_fee());
    ASSERT_GT(sweep_fee_, 0u);

    std::array<uint8_t, 20> hash;
    hash.fill(0x42);  // (0x5a would be the house address of kHouseAddresses)
    destination_ = chain::P2wpkhAddress("bcrt", hash).value();
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("whitelist-1");
    req.set_client_id(client_id_);
    req.set_asset_id("BTC");
    req.set_address(destination_);
    req.set_label("exchange");
    v1::AddWhitelistAddressResponse added;
    grpc::Status s = platform_->AddWhitelistAddress(&ctx, req, &added);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::SubmitApprovalResponse approved;
    s = Approve(added.entry().entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(added.entry())),
                &approved);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(approved.whitelist_entry().state(), v1::WHITELIST_STATE_ACTIVE);
  }

  // The client's 1.5 BTC withdrawal, approved by alice and bob: fills withdrawal_id_.
  void WithdrawAndApprove() {
    grpc::ClientContext ctx;
    v1::CreateWithdrawalRequest req;
    req.set_idempotency_key("withdraw-1");
    req.set_client_id(client_id_);
    req.set_asset_id("BTC");
    req.set_amount(std::to_string(kWithdraw));
    req.set_destination(destination_);
    v1::CreateWithdrawalResponse created;
    grpc::Status s = platform_->CreateWithdrawal(&ctx, req, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(created.withdrawal().state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL)
        << created.withdrawal().DebugString();
    withdrawal_id_ = created.withdrawal().withdrawal_id();
    const auto digest = DigestOf(SubjectOf(created.withdrawal()));
    v1::SubmitApprovalResponse resp;
    for (const char* who : {"alice", "bob"}) {
      s = Approve(withdrawal_id_, who, Sign(ApproverKey(who), digest), &resp);
      ASSERT_TRUE(s.ok()) << who << ": " << s.error_message();
    }
    ASSERT_EQ(resp.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED);
  }

  // The one top-up custodyd plans, once planned.
  v1::Withdrawal WaitTopUp() {
    EXPECT_TRUE(Eventually([&] { return !Moves(v1::REQUEST_KIND_TOP_UP).empty(); }))
        << "no top-up planned\n" << stack_->CustodydStderr();
    const auto top_ups = Moves(v1::REQUEST_KIND_TOP_UP);
    EXPECT_EQ(top_ups.size(), 1u);
    return top_ups.empty() ? v1::Withdrawal() : top_ups[0];
  }

  // The common start of each test: the stack, 2 BTC swept to cold, the 1.5 BTC withdrawal
  // approved, and the top-up custodyd plans for it (empty on a failure).
  v1::Withdrawal PlanTopUp(bool trust_test_identity) {
    Start(trust_test_identity);
    if (HasFatalFailure()) return {};
    FundAndSweep();
    if (HasFatalFailure()) return {};
    WithdrawAndApprove();
    if (HasFatalFailure()) return {};
    return WaitTopUp();
  }

  // An Ethereum asset's withdrawal of `amount` by the client to a new whitelisted address
  // (approved by alice), below the asset's approval tier, so approved at once: fills
  // destination_ and withdrawal_id_.
  void WhitelistAndWithdraw(const std::string& amount) {
    std::array<uint8_t, 20> hash;
    hash.fill(0x42);
    destination_ = chain::EthChecksumAddress(hash);
    grpc::ClientContext ctx;
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key("whitelist-" + asset_);
    req.set_client_id(client_id_);
    req.set_asset_id(asset_);
    req.set_address(destination_);
    v1::AddWhitelistAddressResponse added;
    ASSERT_TRUE(platform_->AddWhitelistAddress(&ctx, req, &added).ok());
    v1::SubmitApprovalResponse approved;
    ASSERT_TRUE(Approve(added.entry().entry_id(), "alice", Sign(ApproverKey("alice"), WhitelistDigestOf(added.entry())),
                        &approved)
                    .ok());
    ASSERT_EQ(approved.whitelist_entry().state(), v1::WHITELIST_STATE_ACTIVE);
    grpc::ClientContext wctx;
    v1::CreateWithdrawalRequest wreq;
    wreq.set_idempotency_key("withdraw-" + asset_);
    wreq.set_client_id(client_id_);
    wreq.set_asset_id(asset_);
    wreq.set_amount(amount);
    wreq.set_destination(destination_);
    v1::CreateWithdrawalResponse created;
    grpc::Status s = platform_->CreateWithdrawal(&wctx, wreq, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(created.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED) << created.withdrawal().DebugString();
    withdrawal_id_ = created.withdrawal().withdrawal_id();
  }

  // Checks that the client's withdrawal waits, approved, not failed.
  void ExpectWithdrawalWaits(const std::string& when) {
    const v1::Withdrawal w = Get(withdrawal_id_);
    EXPECT_EQ(w.state(), v1::WITHDRAWAL_STATE_APPROVED) << when << ": " << w.DebugString();
    EXPECT_EQ(w.txid(), "") << when;
  }

  std::unique_ptr<ringfence::signer::testing::TokenSandbox> cold_;  // before stack_: its env is restored last
  std::unique_ptr<CustodyStack> stack_;
  std::unique_ptr<v1::Custody::Stub> platform_, approver_, auditor_, admin_;
  fs::path cold_config_;
  air::IdentityKey offline_identity_{};
  const Identity test_identity_{0x33};
  std::string asset_ = "BTC";  // the asset topped up: BTC, or ETH (set before Start)
  std::string cold_address_;
  std::string client_id_, deposit_address_, destination_, withdrawal_id_;
  uint64_t sweep_fee_ = 0;
  int runs_ = 0;
  int keys_ = 0;
};

// The whole path: the top-up planned with the documented amount, approved (quorum and
// SubmitApproval), exported with custodyctl, signed by the offline signer, imported, broadcast
// and settled; then the waiting withdrawal is paid from hot. Balances, receivables and the
// books checked at the end, and the top-up's transaction on chainsim.
TEST_F(TopUpE2e, WithdrawalBeyondHotIsPaidAfterAnOfflineSignedTopUp) {
  // The top-up: client-cold to the client-hot wallet's own address, pending two approvals.
  const v1::Withdrawal planned = PlanTopUp(/*trust_test_identity=*/false);
  ASSERT_FALSE(planned.withdrawal_id().empty());
  const std::string top_up_id = planned.withdrawal_id();
  EXPECT_EQ(planned.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL) << planned.DebugString();
  EXPECT_EQ(planned.kind(), v1::REQUEST_KIND_TOP_UP);
  EXPECT_EQ(planned.source_wallet(), "BTC:client-cold");
  EXPECT_EQ(planned.client_id(), "");
  EXPECT_EQ(planned.asset_id(), "BTC");
  EXPECT_EQ(planned.fee_cap(), kBtcFeeCap);
  EXPECT_EQ(planned.approvals_required(), 2u);
  EXPECT_EQ(planned.approval_group(), "ops");
  EXPECT_EQ(planned.approvals_size(), 0);
  const std::string top_up_address = planned.destination();
  {
    const auto wallets = Wallets();
    ASSERT_TRUE(wallets.contains("BTC:client-hot"));
    const auto& hot = wallets.at("BTC:client-hot").addresses();
    EXPECT_NE(std::find(hot.begin(), hot.end(), top_up_address), hot.end())
        << top_up_address << " is no address of BTC:client-hot";
    EXPECT_NE(top_up_address, deposit_address_) << "a client's deposit address";
    EXPECT_NE(top_up_address, destination_);
  }
  // The policy's top-up: the deficit (need - hot) plus the target, floor(1% of the total once
  // the withdrawal is paid) (the rule before the policy took half the cap of the total before
  // it), at most cold less the fee cap.
  const v1::AssetAllocation during = Allocation();
  EXPECT_EQ(during.reserved_for_withdrawals(), std::to_string(kWithdraw + kFeeCap));
  EXPECT_EQ(during.client_hot(), std::to_string(2'000'000 - sweep_fee_));
  EXPECT_EQ(during.client_cold(), "198000000");
  const uint64_t target = (std::stoull(during.client_total()) - (kWithdraw + kFeeCap)) / 100;
  EXPECT_EQ(during.hot_target(), std::to_string(target));
  const uint64_t expected_amount = kWithdraw + kFeeCap - (2'000'000 - sweep_fee_) + target;
  ASSERT_LE(expected_amount, 198'000'000 - kFeeCap);
  EXPECT_EQ(planned.amount(), std::to_string(expected_amount));
  const uint64_t top_up_amount = std::stoull(planned.amount());
  EXPECT_EQ(during.topping_up(), planned.amount());
  EXPECT_EQ(during.planned_top_up(), "0") << "one top-up at a time";
  ExpectWithdrawalWaits("top-up pending approval");

  // Who sees it: approvers, auditors and admins, not the platform.
  {
    grpc::ClientContext ctx;
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(top_up_id);
    v1::GetWithdrawalResponse resp;
    EXPECT_EQ(platform_->GetWithdrawal(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
    grpc::ClientContext lctx;
    v1::ListWithdrawalsResponse listed;
    ASSERT_TRUE(platform_->ListWithdrawals(&lctx, v1::ListWithdrawalsRequest(), &listed).ok());
    for (const v1::Withdrawal& w : listed.withdrawals()) EXPECT_NE(w.withdrawal_id(), top_up_id);
    grpc::ClientContext actx;
    v1::GetWithdrawalResponse by_admin;
    EXPECT_TRUE(admin_->GetWithdrawal(&actx, req, &by_admin).ok());
    grpc::ClientContext pctx;
    v1::ListPendingApprovalsResponse pending;
    ASSERT_TRUE(approver_->ListPendingApprovals(&pctx, v1::ListPendingApprovalsRequest(), &pending).ok());
    int seen = 0;
    for (const auto& p : pending.pending()) seen += p.withdrawal().withdrawal_id() == top_up_id;
    EXPECT_EQ(seen, 1) << pending.DebugString();
  }
  // The digest v2 of a top_up, as shown.
  const auto& in = planned.digest_inputs();
  EXPECT_EQ(in.request_id(), top_up_id);
  EXPECT_EQ(in.kind(), "top_up");
  EXPECT_EQ(in.source_wallet(), "BTC:client-cold");
  EXPECT_EQ(in.chain(), "bitcoin");
  EXPECT_EQ(in.network(), "regtest");
  EXPECT_EQ(in.asset(), "BTC");
  EXPECT_EQ(in.amount(), planned.amount());
  EXPECT_EQ(in.destination(), top_up_address);
  EXPECT_EQ(in.fee_cap(), kBtcFeeCap);
  EXPECT_EQ(in.expires_at_unix_s(), planned.expires_at_unix_s());
  const auto digest = DigestOf(SubjectOf(planned));
  const std::string digest_hex = base::HexEncode(std::span<const uint8_t>(digest));
  EXPECT_EQ(planned.digest_hex(), digest_hex);

  // Not exportable before it is approved.
  {
    v1::ExportSigningBundleResponse early;
    grpc::Status s = Export(*approver_, "export-early", top_up_id, &early);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  }

  // alice with the quorum binary (it computes the digest itself), bob through SubmitApproval.
  WriteAll(stack_->dir() / "alice.key", SealedApproverKey(1, kPassphrase));
  fs::permissions(stack_->dir() / "alice.key", fs::perms::owner_read | fs::perms::owner_write);
  WriteAll(stack_->dir() / "alice.pass", std::string(kPassphrase) + "\n");
  CommandResult q = Quorum({"show", top_up_id});
  EXPECT_EQ(q.exit_code, 0) << q.out << q.err;
  EXPECT_THAT(q.out, HasSubstr(digest_hex));
  EXPECT_THAT(q.out + q.err, HasSubstr("top_up"));
  EXPECT_THAT(q.out + q.err, ::testing::Not(HasSubstr("WARNING")));
  q = Quorum({"approve", top_up_id, "--key-file", (stack_->dir() / "alice.key").string(), "--approver-id", "alice",
              "--yes", "--passphrase-file", (stack_->dir() / "alice.pass").string()});
  ASSERT_EQ(q.exit_code, 0) << q.out << q.err;
  {
    const v1::Withdrawal half = Get(top_up_id);
    EXPECT_EQ(half.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
    EXPECT_THAT(half.approvals(), ::testing::ElementsAre("alice"));
  }
  v1::SubmitApprovalResponse approved;
  grpc::Status s = Approve(top_up_id, "bob", Sign(ApproverKey("bob"), digest), &approved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(approved.withdrawal().state(), v1::WITHDRAWAL_STATE_APPROVED);
  EXPECT_THAT(approved.withdrawal().approvals(), ::testing::ElementsAre("alice", "bob"));
  ExpectWithdrawalWaits("top-up approved");

  // Export with custodyctl (approver certificate): a signing bundle of the approved top-up.
  const fs::path bundle_path = stack_->dir() / "bundle.json";
  CommandResult ctl = Ctl("approver", {"export-bundle", "--id", top_up_id, "--out", bundle_path.string()});
  ASSERT_EQ(ctl.exit_code, 0) << ctl.out << ctl.err;
  const std::string bundle_file = ReadAll(bundle_path);
  base::Digest32 bundle_digest{};
  absl::StatusOr<air::SigningBundle> bundle = air::ReadSigningBundle(bundle_file, &bundle_digest);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->bundle_id, top_up_id);
  EXPECT_EQ(bundle->kind, "top_up");
  EXPECT_EQ(bundle->source_wallet, "BTC:client-cold");
  EXPECT_EQ(bundle->request.request_id(), top_up_id);
  EXPECT_EQ(bundle->request.kind(), ringfence::signer::v1::REQUEST_KIND_TOP_UP);
  EXPECT_EQ(bundle->request.chain(), "bitcoin");
  EXPECT_EQ(bundle->request.network(), "regtest");
  EXPECT_EQ(bundle->request.intent().asset(), "BTC");
  EXPECT_EQ(bundle->request.intent().amount(), planned.amount());
  EXPECT_EQ(bundle->request.intent().destination(), top_up_address);
  EXPECT_EQ(bundle->request.intent().fee_cap(), kBtcFeeCap);
  EXPECT_EQ(bundle->request.expires_at(), planned.expires_at_unix_s());
  EXPECT_EQ(bundle->request.approvals_size(), 2);
  {
    absl::StatusOr<chain::Transaction> unsigned_tx = chain::ParseTransaction(Bytes(bundle->request.unsigned_tx()));
    ASSERT_TRUE(unsigned_tx.ok()) << unsigned_tx.status();
    const std::vector<uint8_t> pays = chain::ScriptPubKeyForAddress(top_up_address).value();
    uint64_t to_hot = 0;
    for (const chain::TxOut& o : unsigned_tx->outputs) {
      if (o.script_pubkey == pays) to_hot += o.value;
    }
    EXPECT_EQ(to_hot, top_up_amount);
  }
  // The same bundle again (gRPC, admin): the same file; the top-up is signing.
  v1::ExportSigningBundleResponse again;
  s = Export(*admin_, "export-again", top_up_id, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.file(), bundle_file);
  EXPECT_EQ(again.bundle_digest(), base::HexEncode(std::span<const uint8_t>(bundle_digest)));
  EXPECT_EQ(again.withdrawal().state(), v1::WITHDRAWAL_STATE_SIGNING);
  EXPECT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_SIGNING);
  ExpectWithdrawalWaits("top-up exported");

  // The offline signer, configured with the hot wallet's address the top-up pays.
  WriteColdConfig(/*with_transactions=*/true, top_up_address);
  ASSERT_FALSE(HasFatalFailure());
  const fs::path signed_path = cold_->dir() / "signed.json";
  CommandResult r = Offline({"sign", "--in", bundle_path.string(), "--out", signed_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string signed_file = ReadAll(signed_path);
  absl::StatusOr<air::SignedBundle> signed_bundle = air::ReadSignedBundle(signed_file);
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
  EXPECT_EQ(signed_bundle->bundle_id, top_up_id);
  EXPECT_EQ(signed_bundle->bundle_digest, bundle_digest);
  EXPECT_EQ(signed_bundle->signer_key, offline_identity_);

  // Import with custodyctl (admin): signed; once more through gRPC: already imported.
  ctl = Ctl("admin", {"import-signed-bundle", "--file", signed_path.string()});
  ASSERT_EQ(ctl.exit_code, 0) << ctl.out << ctl.err;
  v1::ImportSignedBundleResponse repeat;
  s = Import(*approver_, "import-repeat", signed_file, &repeat);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(repeat.already_imported());
  EXPECT_EQ(repeat.withdrawal().withdrawal_id(), top_up_id);
  EXPECT_EQ(repeat.withdrawal().txid(), signed_bundle->txid);

  // The executor broadcasts it; three blocks confirm and settle it.
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_BROADCAST));
  EXPECT_EQ(Get(top_up_id).txid(), signed_bundle->txid);
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", signed_bundle->txid).accepted(), 1u);
  ExpectWithdrawalWaits("top-up broadcast");
  stack_->Mine("bitcoin", 3);
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_CONFIRMED));
  const v1::Withdrawal top_up = Get(top_up_id);
  const uint64_t top_up_fee = std::stoull(top_up.network_fee());
  EXPECT_GT(top_up_fee, 0u);
  EXPECT_LE(top_up_fee, kFeeCap);
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", top_up.txid()).received(), 1u) << "the repeated import sent nothing";

  // On chain: confirmed, paying the hot address the amount.
  {
    grpc::ClientContext ctx;
    sim::GetTransactionRequest req;
    req.set_chain("bitcoin");
    req.set_txid(top_up.txid());
    sim::GetTransactionResponse tx;
    ASSERT_TRUE(stack_->node().GetTransaction(&ctx, req, &tx).ok());
    EXPECT_EQ(tx.state(), sim::GetTransactionResponse::STATE_CONFIRMED);
    EXPECT_GE(tx.confirmations(), 3u);
    grpc::ClientContext bctx;
    sim::GetBlockRequest breq;
    breq.set_chain("bitcoin");
    breq.set_height(tx.height());
    breq.add_watched_addresses(top_up_address);
    sim::GetBlockResponse block;
    ASSERT_TRUE(stack_->node().GetBlock(&bctx, breq, &block).ok());
    uint64_t paid = 0;
    for (const sim::Transfer& t : block.transfers()) {
      if (t.txid() == top_up.txid() && t.to_address() == top_up_address) paid += std::stoull(t.amount());
    }
    EXPECT_EQ(paid, top_up_amount);
    absl::StatusOr<chain::Transaction> signed_tx = chain::ParseTransaction(Bytes(signed_bundle->signed_tx));
    ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
    EXPECT_EQ(chain::DisplayHex(chain::Txid(*signed_tx)), top_up.txid());
  }

  // Then the withdrawal, from hot.
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_BROADCAST));
  stack_->Mine("bitcoin", 3);
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_CONFIRMED));
  const v1::Withdrawal paid = Get(withdrawal_id_);
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", paid.txid()).accepted(), 1u);
  const uint64_t withdrawal_fee = std::stoull(paid.network_fee());
  stack_->WaitIngested("bitcoin");

  // Balances: cold paid the top-up and its fee, hot got the top-up and paid the withdrawal;
  // the top-up's fee (like the sweep's) is owed by the house.
  const auto wallets = Wallets();
  const uint64_t cold_left = 198'000'000 - top_up_amount - top_up_fee;
  const uint64_t hot_left = 2'000'000 - sweep_fee_ + top_up_amount - kWithdraw - withdrawal_fee;
  EXPECT_EQ(wallets.at("BTC:client-cold").ledger_balance(), std::to_string(cold_left));
  EXPECT_EQ(wallets.at("BTC:client-cold").chain_balance(), std::to_string(cold_left));
  EXPECT_EQ(wallets.at("BTC:client-hot").ledger_balance(), std::to_string(hot_left));
  EXPECT_EQ(wallets.at("BTC:client-hot").chain_balance(), std::to_string(hot_left));
  {
    grpc::ClientContext ctx;
    v1::GetBalancesRequest req;
    req.set_client_id(client_id_);
    req.set_asset_id("BTC");
    v1::GetBalancesResponse resp;
    ASSERT_TRUE(platform_->GetBalances(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.balances_size(), 1);
    EXPECT_EQ(resp.balances(0).available(), std::to_string(kDeposit - kWithdraw - withdrawal_fee));
    EXPECT_EQ(resp.balances(0).held(), "0");
  }
  const v1::AssetSegregation seg = Segregation();
  EXPECT_TRUE(seg.holds()) << seg.DebugString();
  EXPECT_EQ(seg.receivables(), std::to_string(sweep_fee_ + top_up_fee)) << seg.DebugString();
  EXPECT_EQ(seg.client_liabilities(), std::to_string(kDeposit - kWithdraw - withdrawal_fee));
  EXPECT_EQ(seg.client_wallet_holdings(), std::to_string(cold_left + hot_left));
  EXPECT_EQ(seg.house_client_funds(), "0");
  const v1::AssetAllocation after = Allocation();
  EXPECT_EQ(after.topping_up(), "0");
  EXPECT_EQ(after.planned_top_up(), "0");
  EXPECT_EQ(after.reserved_for_withdrawals(), "0");
  EXPECT_EQ(Moves(v1::REQUEST_KIND_TOP_UP).size(), 1u) << "one top-up in all";
  // Chain and books agreed at every block of it: no freeze, every BTC wallet at difference 0.
  const uint64_t tip = stack_->Tip("bitcoin");
  v1::GetReconciliationResponse rec;
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext ctx;
    rec.Clear();
    EXPECT_TRUE(auditor_->GetReconciliation(&ctx, v1::GetReconciliationRequest(), &rec).ok());
    int at_tip = 0;
    for (const auto& w : rec.wallets()) at_tip += w.asset_id() == "BTC" && w.height() == tip;
    return at_tip == 3;
  })) << stack_->CustodydStderr();
  for (const auto& w : rec.wallets()) {
    if (w.asset_id() == "BTC") {
      EXPECT_EQ(w.difference(), "0") << w.ShortDebugString();
    }
  }
  EXPECT_EQ(rec.freezes_size(), 0) << rec.DebugString();
  stack_->ExpectInvariantsAndAuditHold();
}

// Refusals. The offline signer refuses a bundle edited after approval (its digest recomputed,
// so only the approvals and the wallet rules can catch it): a changed amount, the destination
// moved to the house, an approval removed; and a bundle it signed before. custodyd (trusting
// the test's identity here, so that files can be signed by the configured identity with any
// content) refuses a signed bundle of another identity (the offline signer's own) or edited
// after signing, one whose bundle digest or transaction is not what it exported, and a second
// import changes nothing: one broadcast.
// Approvers may say no: a rejected top-up moves nothing and holds nothing, the withdrawal
// keeps waiting approved, and no new top-up is put to the approvers at once (the next waits
// kTopUpRetrySeconds); a top-up cannot be cancelled through the platform's CancelWithdrawal.
TEST_F(TopUpE2e, ARejectedTopUpIsNotAskedAgainAtOnce) {
  const v1::Withdrawal planned = PlanTopUp(/*trust_test_identity=*/true);
  ASSERT_FALSE(planned.withdrawal_id().empty());
  {
    grpc::ClientContext ctx;
    v1::CancelWithdrawalRequest req;
    req.set_idempotency_key("cancel-top-up");
    req.set_withdrawal_id(planned.withdrawal_id());
    req.set_reason("not the platform's");
    v1::CancelWithdrawalResponse resp;
    grpc::Status s = admin_->CancelWithdrawal(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  }
  grpc::ClientContext ctx;
  v1::RejectWithdrawalRequest req;
  req.set_idempotency_key("reject-top-up");
  req.set_withdrawal_id(planned.withdrawal_id());
  req.set_approver_id("carol");
  req.set_reason("move it from another cold wallet");
  v1::RejectWithdrawalResponse rejected;
  grpc::Status s = approver_->RejectWithdrawal(&ctx, req, &rejected);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rejected.withdrawal().state(), v1::WITHDRAWAL_STATE_REJECTED);
  EXPECT_EQ(rejected.withdrawal().held(), "0");
  // Several executor passes (250 ms apart) later: still that one top-up, the withdrawal waiting.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto top_ups = Moves(v1::REQUEST_KIND_TOP_UP);
  ASSERT_EQ(top_ups.size(), 1u);
  EXPECT_EQ(top_ups[0].state(), v1::WITHDRAWAL_STATE_REJECTED);
  EXPECT_EQ(Allocation().topping_up(), "0");
  ExpectWithdrawalWaits("after the rejection");
  stack_->ExpectInvariantsAndAuditHold();
}

TEST_F(TopUpE2e, EditedReplayedAndForeignBundlesAreRefused) {
  const v1::Withdrawal planned = PlanTopUp(/*trust_test_identity=*/true);
  ASSERT_FALSE(planned.withdrawal_id().empty());
  const std::string top_up_id = planned.withdrawal_id();
  const auto digest = DigestOf(SubjectOf(planned));
  for (const char* who : {"alice", "carol"}) {
    grpc::Status s = Approve(top_up_id, who, Sign(ApproverKey(who), digest));
    ASSERT_TRUE(s.ok()) << who << ": " << s.error_message();
  }
  ASSERT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_APPROVED);

  // Roles: neither the platform nor the auditor exports or imports.
  for (const char* role : {"platform", "auditor"}) {
    v1::ExportSigningBundleResponse denied;
    EXPECT_EQ(Export(*stack_->As(role), std::string("export-") + role, top_up_id, &denied).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << role;
  }
  ASSERT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_APPROVED);
  // Only a top-up is exported: not the client's approved withdrawal (left as it is), not an id
  // custodyd does not know, not a malformed one.
  for (const auto& [id, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {withdrawal_id_, grpc::StatusCode::FAILED_PRECONDITION},
           {"w_0000000000000000", grpc::StatusCode::NOT_FOUND},
           {"not-an-id", grpc::StatusCode::INVALID_ARGUMENT}}) {
    v1::ExportSigningBundleResponse refused;
    grpc::Status s = Export(*admin_, "export-" + id, id, &refused);
    EXPECT_EQ(s.error_code(), code) << id << ": " << s.error_message();
  }
  ExpectWithdrawalWaits("export of the withdrawal refused");
  v1::ExportSigningBundleResponse exported;
  grpc::Status s = Export(*approver_, "export-1", top_up_id, &exported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exported.withdrawal().state(), v1::WITHDRAWAL_STATE_SIGNING);
  base::Digest32 bundle_digest{};
  absl::StatusOr<air::SigningBundle> bundle = air::ReadSigningBundle(exported.file(), &bundle_digest);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(exported.bundle_digest(), base::HexEncode(std::span<const uint8_t>(bundle_digest)));
  const std::string top_up_address = planned.destination();
  WriteColdConfig(/*with_transactions=*/true, top_up_address);
  ASSERT_FALSE(HasFatalFailure());

  // Edited bundles, each with a valid digest: refused by a rule (exit 3), no file written.
  const std::string house = kHouseAddresses[0].address;
  ASSERT_STREQ(kHouseAddresses[0].asset, "BTC");
  using Edit = std::function<void(ringfence::signer::v1::SignTransactionRequest&, chain::Transaction&)>;
  auto edited = [&](const Edit& edit) {
    air::SigningBundle b = *bundle;
    absl::StatusOr<chain::Transaction> tx = chain::ParseTransaction(Bytes(b.request.unsigned_tx()));
    EXPECT_TRUE(tx.ok()) << tx.status();
    if (!tx.ok()) return std::string();
    edit(b.request, *tx);
    b.request.set_unsigned_tx(ToString(chain::Serialize(*tx)));
    absl::StatusOr<std::string> file = air::WriteSigningBundle(b);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *file : std::string();
  };
  const std::vector<uint8_t> hot_script = chain::ScriptPubKeyForAddress(top_up_address).value();
  auto output_to = [&](chain::Transaction& tx, const std::vector<uint8_t>& script) -> chain::TxOut* {
    for (chain::TxOut& o : tx.outputs) {
      if (o.script_pubkey == script) return &o;
    }
    ADD_FAILURE() << "no output pays the top-up's address";
    return nullptr;
  };
  struct Refusal {
    std::string name;
    std::string file;
    std::string rule;
  };
  const std::vector<Refusal> refusals = {
      {"amount", edited([&](auto& request, auto& tx) {
         // 10,000 sat more to the same address, from the change.
         chain::TxOut* out = output_to(tx, hot_script);
         if (out == nullptr) return;
         out->value += 10'000;
         for (chain::TxOut& o : tx.outputs) {
           if (&o != out) {
             o.value -= 10'000;
             break;
           }
         }
         request.mutable_intent()->set_amount(std::to_string(out->value));
       }),
       "approval_signature"},
      {"house", edited([&](auto& request, auto& tx) {
         chain::TxOut* out = output_to(tx, hot_script);
         if (out == nullptr) return;
         out->script_pubkey = chain::ScriptPubKeyForAddress(house).value();
         request.mutable_intent()->set_destination(house);
       }),
       "destination_not_registered_wallet: a top_up from client-cold wallet BTC:client-cold"},
      {"one-approval", edited([&](auto& request, auto&) { request.mutable_approvals()->RemoveLast(); }),
       "quorum_not_met"},
  };
  for (const Refusal& refusal : refusals) {
    ASSERT_FALSE(refusal.file.empty()) << refusal.name;
    const fs::path in = cold_->dir() / (refusal.name + ".json");
    const fs::path out = cold_->dir() / (refusal.name + "-signed.json");
    WriteAll(in, refusal.file);
    CommandResult r = Offline({"sign", "--in", in.string(), "--out", out.string()});
    EXPECT_EQ(r.exit_code, 3) << refusal.name << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(refusal.rule)) << refusal.name;
    EXPECT_FALSE(fs::exists(out)) << refusal.name;
  }

  // The bundle as exported: signed (the refusals left no trace in the way); a second time:
  // bundle_already_signed.
  const fs::path bundle_path = cold_->dir() / "bundle.json";
  WriteAll(bundle_path, exported.file());
  const fs::path signed_path = cold_->dir() / "signed.json";
  CommandResult r = Offline({"sign", "--in", bundle_path.string(), "--out", signed_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path twice = cold_->dir() / "signed-twice.json";
  r = Offline({"sign", "--in", bundle_path.string(), "--out", twice.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bundle_already_signed"));
  EXPECT_FALSE(fs::exists(twice));
  const std::string from_offline = ReadAll(signed_path);
  absl::StatusOr<air::SignedBundle> signed_bundle = air::ReadSignedBundle(from_offline);
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();

  // Refused imports; each changes nothing.
  struct ImportRefusal {
    std::string name;
    std::string file;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<ImportRefusal> imports;
  // Signed by another identity than custodyd's [cold_signer]: the offline signer's own file.
  imports.push_back({"another identity", from_offline, grpc::StatusCode::PERMISSION_DENIED, "signer_key"});
  {
    // Signed by the trusted identity, then edited: the signature no longer verifies.
    absl::StatusOr<air::SignedBundle> reread = air::ReadSignedBundle(SignedBundleSignedBy(*signed_bundle, test_identity_));
    ASSERT_TRUE(reread.ok()) << reread.status();
    reread->log_sequence += 1;  // the trusted identity's signature kept
    absl::StatusOr<std::string> edited_file = air::WriteSignedBundle(*reread);
    ASSERT_TRUE(edited_file.ok()) << edited_file.status();
    imports.push_back(
        {"edited after signing", *edited_file, grpc::StatusCode::PERMISSION_DENIED, "signature: does not verify"});
  }
  {
    air::SignedBundle b = *signed_bundle;
    b.bundle_digest[0] ^= 1;
    imports.push_back({"another bundle digest", SignedBundleSignedBy(b, test_identity_), grpc::StatusCode::FAILED_PRECONDITION,
                       "is not the digest of the bundle exported for " + top_up_id});
  }
  absl::StatusOr<chain::Transaction> signed_tx = chain::ParseTransaction(Bytes(signed_bundle->signed_tx));
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  {
    // One more satoshi to the hot address, one less change: not the exported transaction.
    chain::Transaction tx = *signed_tx;
    chain::TxOut* out = output_to(tx, hot_script);
    ASSERT_NE(out, nullptr);
    out->value += 1;
    for (chain::TxOut& o : tx.outputs) {
      if (&o != out) {
        o.value -= 1;
        break;
      }
    }
    air::SignedBundle b = *signed_bundle;
    b.signed_tx = ToString(chain::Serialize(tx));
    b.txid = chain::DisplayHex(chain::Txid(tx));
    imports.push_back({"another transaction", SignedBundleSignedBy(b, test_identity_), grpc::StatusCode::FAILED_PRECONDITION,
                       "signed_tx: signerd signed another transaction"});
  }
  {
    // The exported transaction with its input's signature damaged (the txid is unchanged).
    chain::Transaction tx = *signed_tx;
    ASSERT_FALSE(tx.inputs.empty());
    ASSERT_FALSE(tx.inputs[0].witness.empty());
    ASSERT_GT(tx.inputs[0].witness[0].size(), 10u);
    tx.inputs[0].witness[0][8] ^= 1;
    air::SignedBundle b = *signed_bundle;
    b.signed_tx = ToString(chain::Serialize(tx));
    ASSERT_EQ(chain::DisplayHex(chain::Txid(tx)), b.txid);
    imports.push_back({"a bad signature", SignedBundleSignedBy(b, test_identity_), grpc::StatusCode::FAILED_PRECONDITION,
                       "signed_tx: input 0: the signature does not verify"});
  }
  imports.push_back({"not a signed bundle", "{\"format\":\"ringfence/signed-bundle/v1\"}",
                     grpc::StatusCode::INVALID_ARGUMENT, "bundle_id: missing"});
  int n = 0;
  for (const ImportRefusal& refusal : imports) {
    ASSERT_FALSE(refusal.file.empty()) << refusal.name;
    v1::ImportSignedBundleResponse resp;
    s = Import(*admin_, "refused-" + std::to_string(n++), refusal.file, &resp);
    EXPECT_EQ(s.error_code(), refusal.code) << refusal.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(refusal.message)) << refusal.name;
    EXPECT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_SIGNING) << refusal.name;
  }
  {
    // The same refusal through custodyctl: exit 1, the code named.
    CommandResult c = Ctl("admin", {"import-signed-bundle", "--file", signed_path.string()});
    EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
    EXPECT_THAT(c.err, HasSubstr("PERMISSION_DENIED"));
    v1::ImportSignedBundleResponse resp;
    EXPECT_EQ(Import(*platform_, "by-platform", SignedBundleSignedBy(*signed_bundle, test_identity_), &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", signed_bundle->txid).received(), 0u);
  ExpectWithdrawalWaits("refused imports");

  // The genuine signed bundle under the trusted identity: signed, then broadcast once; a
  // repeat (before and after the broadcast) is already imported and broadcasts nothing.
  const std::string genuine = SignedBundleSignedBy(*signed_bundle, test_identity_);
  v1::ImportSignedBundleResponse first;
  s = Import(*approver_, "import-1", genuine, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(first.already_imported());
  EXPECT_EQ(first.withdrawal().withdrawal_id(), top_up_id);
  EXPECT_EQ(first.withdrawal().state(), v1::WITHDRAWAL_STATE_SIGNED);
  EXPECT_EQ(first.withdrawal().txid(), signed_bundle->txid);
  v1::ImportSignedBundleResponse second;
  s = Import(*admin_, "import-2", genuine, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(second.already_imported());
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_BROADCAST));
  v1::ImportSignedBundleResponse third;
  s = Import(*admin_, "import-3", genuine, &third);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(third.already_imported());
  EXPECT_EQ(third.withdrawal().state(), v1::WITHDRAWAL_STATE_BROADCAST);
  stack_->Mine("bitcoin", 3);
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_CONFIRMED));
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", signed_bundle->txid).accepted(), 1u);
  // After settlement: the same file is still already imported (the top-up stays confirmed),
  // the other identity's file still refused.
  {
    v1::ImportSignedBundleResponse late;
    s = Import(*admin_, "import-4", genuine, &late);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(late.already_imported());
    EXPECT_EQ(late.withdrawal().state(), v1::WITHDRAWAL_STATE_CONFIRMED);
    v1::ImportSignedBundleResponse resp;
    EXPECT_EQ(Import(*admin_, "late-foreign", from_offline, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_BROADCAST));
  stack_->Mine("bitcoin", 3);
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_CONFIRMED));
  EXPECT_EQ(stack_->BroadcastCount("bitcoin", signed_bundle->txid).received(), 1u) << "one broadcast in all";
  EXPECT_TRUE(Segregation().holds());
  stack_->ExpectInvariantsAndAuditHold();
}

// An ether top-up: the same path for the native coin of Ethereum. The cold wallet is the account
// of a key the offline signer made; the top-up is an EIP-1559 transfer from it to the ETH
// client-hot wallet's own account, with the nonce the node gives, signed offline and checked on
// import against the sender its signature recovers. The 1.5 ETH withdrawal hot could not pay
// waits, approved, and is paid once the top-up has settled.
TEST_F(TopUpE2e, EtherWithdrawalBeyondHotIsPaidAfterAnOfflineSignedTopUp) {
  asset_ = "ETH";
  Start(/*trust_test_identity=*/true);
  ASSERT_FALSE(HasFatalFailure());
  const uint64_t kEther = 1'000'000'000'000'000'000ull;
  client_id_ = NewClient("eth-topup-client");
  deposit_address_ = DepositAddress(client_id_);
  stack_->Credit("ethereum", deposit_address_, std::to_string(2 * kEther));
  stack_->Mine("ethereum", 2);
  // 2 ETH, all hot: swept to cold down to half the 2% cap.
  ASSERT_TRUE(Eventually([&] {
    const auto sweeps = Moves(v1::REQUEST_KIND_SWEEP);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_BROADCAST;
  })) << stack_->CustodydStderr();
  stack_->Mine("ethereum", 2);
  ASSERT_TRUE(WaitState(Moves(v1::REQUEST_KIND_SWEEP).at(0).withdrawal_id(), v1::WITHDRAWAL_STATE_CONFIRMED));
  ASSERT_EQ(Moves(v1::REQUEST_KIND_SWEEP).size(), 1u);

  // Below ETH's approval tier: approved at once, and hot cannot pay it.
  ASSERT_NO_FATAL_FAILURE(WhitelistAndWithdraw(std::to_string(3 * kEther / 2)));
  const v1::Withdrawal planned = WaitTopUp();
  const std::string top_up_id = planned.withdrawal_id();
  ASSERT_FALSE(top_up_id.empty());
  EXPECT_EQ(planned.state(), v1::WITHDRAWAL_STATE_PENDING_APPROVAL) << planned.DebugString();
  EXPECT_EQ(planned.source_wallet(), "ETH:client-cold");
  EXPECT_EQ(planned.digest_inputs().chain(), "ethereum");
  EXPECT_EQ(planned.approvals_required(), 2u);
  {
    const auto wallets = Wallets();
    const auto& hot = wallets.at("ETH:client-hot").addresses();
    EXPECT_NE(std::find(hot.begin(), hot.end(), planned.destination()), hot.end()) << planned.destination();
    EXPECT_NE(planned.destination(), deposit_address_) << "a client's deposit address";
  }
  ExpectWithdrawalWaits("ether top-up pending approval");
  const auto digest = DigestOf(SubjectOf(planned));
  for (const char* who : {"alice", "bob"}) {
    ASSERT_TRUE(Approve(top_up_id, who, Sign(ApproverKey(who), digest)).ok()) << who;
  }
  v1::ExportSigningBundleResponse exported;
  grpc::Status s = Export(*approver_, "export-eth", top_up_id, &exported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<air::SigningBundle> bundle = air::ReadSigningBundle(exported.file());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->request.chain(), "ethereum");
  EXPECT_FALSE(bundle->request.ethereum_key_id().empty());

  // Signed offline, on the offline signer's own token.
  WriteColdConfig(/*with_transactions=*/true, planned.destination());
  const fs::path bundle_path = cold_->dir() / "eth-bundle.json";
  const fs::path signed_path = cold_->dir() / "eth-signed.json";
  WriteAll(bundle_path, exported.file());
  CommandResult r = Offline({"sign", "--in", bundle_path.string(), "--out", signed_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  absl::StatusOr<air::SignedBundle> signed_bundle = air::ReadSignedBundle(ReadAll(signed_path));
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
  {
    // The exported transaction with the other recovery parity: another sender recovers (or none),
    // so it is refused, and nothing changes.
    absl::StatusOr<chain::SignedEip1559Tx> tx = chain::DecodeSignedEip1559(Bytes(signed_bundle->signed_tx));
    ASSERT_TRUE(tx.ok()) << tx.status();
    chain::EthSignature other = tx->signature;
    other.y_parity ^= 1;
    absl::StatusOr<std::vector<uint8_t>> raw = chain::EncodeSignedEip1559(tx->tx, other);
    ASSERT_TRUE(raw.ok()) << raw.status();
    air::SignedBundle b = *signed_bundle;
    b.signed_tx = ToString(*raw);
    b.txid = base::HexEncode(chain::EthTxHash(*raw));
    v1::ImportSignedBundleResponse refused;
    s = Import(*admin_, "import-other-sender", SignedBundleSignedBy(b, test_identity_), &refused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::AnyOf(HasSubstr("signed_tx: signed by 0x"), HasSubstr("does not recover")));
    EXPECT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_SIGNING);
  }
  v1::ImportSignedBundleResponse imported;
  s = Import(*admin_, "import-eth", SignedBundleSignedBy(*signed_bundle, test_identity_), &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(imported.withdrawal().state(), v1::WITHDRAWAL_STATE_SIGNED);
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_BROADCAST));
  stack_->Mine("ethereum", 2);
  ASSERT_TRUE(WaitState(top_up_id, v1::WITHDRAWAL_STATE_CONFIRMED));
  EXPECT_EQ(stack_->BroadcastCount("ethereum", Get(top_up_id).txid()).accepted(), 1u);

  // The waiting withdrawal, paid from hot.
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_BROADCAST));
  stack_->Mine("ethereum", 2);
  ASSERT_TRUE(WaitState(withdrawal_id_, v1::WITHDRAWAL_STATE_CONFIRMED));
  const v1::Withdrawal paid = Get(withdrawal_id_);
  const uint64_t fee = std::stoull(paid.network_fee());
  EXPECT_GT(fee, 0u);
  grpc::ClientContext bctx;
  v1::GetBalancesRequest breq;
  breq.set_client_id(client_id_);
  v1::GetBalancesResponse balances;
  ASSERT_TRUE(platform_->GetBalances(&bctx, breq, &balances).ok());
  int eth_rows = 0;
  for (const auto& b : balances.balances()) {
    if (b.asset_id() != "ETH") continue;
    ++eth_rows;
    EXPECT_EQ(b.available(), std::to_string(2 * kEther - 3 * kEther / 2 - fee));
    EXPECT_EQ(b.held(), "0");
  }
  EXPECT_EQ(eth_rows, 1);
  EXPECT_TRUE(Segregation().holds()) << Segregation().DebugString();
  stack_->ExpectInvariantsAndAuditHold();
}

// A top-up records the allocation decision that planned it, as a sweep does: `custodyd policy
// replay` finds it the same under the policy it was taken under, and names it once the policy
// file's BTC target is 0.5% (the top-up would be the deficit plus half as much).
TEST_F(TopUpE2e, ATopUpsDecisionIsRecordedAndReplays) {
  const v1::Withdrawal planned = PlanTopUp(/*trust_test_identity=*/true);
  ASSERT_FALSE(planned.withdrawal_id().empty());
  const std::vector<std::string> replay = {"policy", "replay", "--config", stack_->config_path().string()};
  CommandResult same = stack_->RunCustodyd(replay);
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_THAT(same.out, HasSubstr(" 0 differ"));
  std::ofstream(stack_->dir() / "policy.toml", std::ios::trunc)
      << TestPolicyWith({{"BTC", "min_sweep = 5000000\nhot_target = \"0.005\"\n"}});
  CommandResult other = stack_->RunCustodyd(replay);
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
  EXPECT_THAT(other.out, HasSubstr("allocation " + planned.withdrawal_id() + ": recorded"));
}

// A token top-up. Token accounts hold no ether, so gas is funded three times, each by a
// gas_funding from ETH client-hot: the deposit account before its sweep, the cold account before
// the top-up's export can be built, and the hot account the top-up fills before the waiting
// withdrawal can be paid from it. Each lands when the block with the funding is mined.
TEST_F(TopUpE2e, TokenWithdrawalBeyondHotIsPaidAfterAGasFundedOfflineSignedTopUp) {
  asset_ = "USDC-ETH";
  Start(/*trust_test_identity=*/true);
  ASSERT_FALSE(HasFatalFailure());
  const uint64_t kUsdc = 1'000'000;
  // Ether in ETH client-hot: what pays the fundings (no ETH cold wallet here, so it stays hot).
  const std::string funder = NewClient("eth-funder");
  {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key("addr-funder");
    req.set_client_id(funder);
    req.set_asset_id("ETH");
    v1::CreateDepositAddressResponse resp;
    ASSERT_TRUE(platform_->CreateDepositAddress(&ctx, req, &resp).ok());
    stack_->Credit("ethereum", resp.deposit_address().address(), "1000000000000000000");
  }
  client_id_ = NewClient("usdc-topup-client");
  deposit_address_ = DepositAddress(client_id_);
  stack_->Credit("ethereum", deposit_address_, std::to_string(2000 * kUsdc), kUsdcContract);
  stack_->Mine("ethereum", 2);
  // Mines a block at a time (an executor pass between) until `done`.
  auto mine_until = [&](const std::function<bool()>& done) {
    for (int round = 0; round < 30; ++round) {
      for (int poll = 0; poll < 12; ++poll) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      stack_->Mine("ethereum", 1);
    }
    return done();
  };
  auto fundings = [&] { return MovesOfKind(*auditor_, "ETH", v1::REQUEST_KIND_GAS_FUNDING); };
  // The deposit account funded, then swept to cold.
  ASSERT_TRUE(mine_until([&] {
    const auto sweeps = Moves(v1::REQUEST_KIND_SWEEP);
    return !sweeps.empty() && sweeps[0].state() == v1::WITHDRAWAL_STATE_CONFIRMED;
  })) << stack_->CustodydStderr();
  ASSERT_EQ(fundings().size(), 1u);
  EXPECT_EQ(fundings()[0].destination(), deposit_address_);
  const uint64_t swept = std::stoull(Moves(v1::REQUEST_KIND_SWEEP)[0].amount());
  ASSERT_GT(swept, 1500 * kUsdc);

  ASSERT_NO_FATAL_FAILURE(WhitelistAndWithdraw(std::to_string(1500 * kUsdc)));
  const v1::Withdrawal planned = WaitTopUp();
  const std::string top_up_id = planned.withdrawal_id();
  ASSERT_FALSE(top_up_id.empty());
  EXPECT_EQ(planned.source_wallet(), "USDC-ETH:client-cold");
  EXPECT_EQ(planned.fee_asset(), "ETH");
  ExpectWithdrawalWaits("token top-up pending approval");
  const auto digest = DigestOf(SubjectOf(planned));
  for (const char* who : {"alice", "bob"}) {
    ASSERT_TRUE(Approve(top_up_id, who, Sign(ApproverKey(who), digest)).ok()) << who;
  }
  // The cold account is funded with gas; until that is mined the export cannot be built.
  ASSERT_TRUE(Eventually([&] { return fundings().size() == 2; })) << stack_->CustodydStderr();
  EXPECT_EQ(fundings()[0].destination(), cold_address_);
  v1::ExportSigningBundleResponse exported;
  ASSERT_TRUE(mine_until([&] {
    exported.Clear();
    return Export(*approver_, "export-usdc-" + std::to_string(++keys_), top_up_id, &exported).ok();
  })) << stack_->CustodydStderr();
  WriteColdConfig(/*with_transactions=*/true, planned.destination());
  const fs::path bundle_path = cold_->dir() / "usdc-bundle.json";
  const fs::path signed_path = cold_->dir() / "usdc-signed.json";
  WriteAll(bundle_path, exported.file());
  CommandResult r = Offline({"sign", "--in", bundle_path.string(), "--out", signed_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  absl::StatusOr<air::SignedBundle> signed_bundle = air::ReadSignedBundle(ReadAll(signed_path));
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
  v1::ImportSignedBundleResponse imported;
  grpc::Status s = Import(*admin_, "import-usdc", SignedBundleSignedBy(*signed_bundle, test_identity_), &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Settled; then the hot account it filled is funded with gas, and the withdrawal is paid.
  ASSERT_TRUE(mine_until([&] { return Get(withdrawal_id_).state() == v1::WITHDRAWAL_STATE_CONFIRMED; }))
      << Get(withdrawal_id_).DebugString() << stack_->CustodydStderr();
  EXPECT_EQ(Get(top_up_id).state(), v1::WITHDRAWAL_STATE_CONFIRMED);
  const auto all = fundings();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].destination(), planned.destination());
  for (const v1::Withdrawal& f : all) {
    EXPECT_EQ(f.state(), v1::WITHDRAWAL_STATE_CONFIRMED) << f.DebugString();
    EXPECT_EQ(f.source_wallet(), "ETH:client-hot");
  }
  grpc::ClientContext bctx;
  v1::GetBalancesRequest breq;
  breq.set_client_id(client_id_);
  v1::GetBalancesResponse balances;
  ASSERT_TRUE(platform_->GetBalances(&bctx, breq, &balances).ok());
  int rows = 0;
  for (const auto& b : balances.balances()) {
    if (b.asset_id() != asset_) continue;
    ++rows;
    EXPECT_EQ(b.available(), std::to_string(500 * kUsdc));  // the client pays the amount only
    EXPECT_EQ(b.held(), "0");
  }
  EXPECT_EQ(rows, 1);
  grpc::ClientContext sctx;
  v1::GetSegregationReportResponse report;
  ASSERT_TRUE(auditor_->GetSegregationReport(&sctx, v1::GetSegregationReportRequest(), &report).ok());
  EXPECT_TRUE(report.holds()) << report.DebugString();
  for (const auto& a : report.assets()) EXPECT_EQ(a.unattributed(), "0") << a.DebugString();
  stack_->ExpectInvariantsAndAuditHold();
}

}  // namespace
}  // namespace ringfence::custody::testing
