// The offline signer through the real signerd binary (`signerd --offline`), on a private token
// (hsm_sim or SoftHSM2 per RINGFENCE_SIGNER_MODULE): identity key, cold keys written as a
// signed cold-key file, a top-up from the cold wallet to the registered client-hot wallet signed
// from a signing bundle, the signed transaction checked by bitcoinjs-lib
// (tests/signer_tx/check_signed_tx.js), and every refusal: a bundle edited in transit, a bundle
// claiming another source wallet, a changed amount or destination (a house address among them),
// too few approvals, approvals under the retired digest v1, a bundle signed before (without
// --again), and the commands without --offline. Each command is one process that exits; nothing listens.
#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "offline/bundle.h"
#include "tests/signer/token_sandbox.h"
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/harness.h"
#include "tests/signer_tx/test_keys.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using namespace ringfence::signer::tx::testing;
namespace air = ringfence::offline;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) {
    std::fprintf(stderr, "%s is not set: run this test through ctest\n", name);
    std::abort();
  }
  return v;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class OfflineSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = std::make_unique<ringfence::signer::testing::TokenSandbox>();
    sandbox_->ReleaseModule();  // the signerd processes own the token
    const auto dir = sandbox_->dir();
    // The cold signer's transaction config: the fixture's assets and wallets, plus the client-hot
    // wallet of BTC that a top-up pays (registered here because this signer has none of its keys).
    const World world = MakeWorld();
    std::ofstream(dir / "signer_tx.toml") << world.config_toml << "[[wallet]]\nid = \"BTC:client-hot\"\nasset = \"BTC\"\n"
                                          << "owner = \"client\"\ntier = \"hot\"\naddresses = [\""
                                          << P2wpkhAddressOf(TestPublicKey(kInputKeySeed)) << "\"]\n";
    std::ofstream(dir / "approvers.toml") << world.registry_toml;
    config_ = dir / "cold.toml";
    std::ofstream(config_) << "[server]\nsocket = \"" << (dir / "unused.sock").string() << "\"\ndatabase = \""
                           << (dir / "cold.db").string() << "\"\n\n[pkcs11]\nmodule = \""
                           << ringfence::signer::testing::ModulePath() << "\"\ntoken_label = \""
                           << ringfence::signer::testing::kTokenLabel << "\"\npin_file = \""
                           << sandbox_->pin_file().string() << "\"\nsession_pool_size = 2\n\n[transactions]\nconfig = \""
                           << (dir / "signer_tx.toml").string() << "\"\n";
  }

  // `signerd <args...>` to completion.
  Outcome Signerd(const std::vector<std::string>& args) {
    const auto dir = sandbox_->dir();
    std::string cmd = Env("SIGNERD");
    for (const std::string& a : args) cmd += " '" + a + "'";
    cmd += " >" + (dir / "cmd.out").string() + " 2>" + (dir / "cmd.err").string();
    const int status = std::system(cmd.c_str());
    Outcome r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    r.out = ReadAll(dir / "cmd.out");
    r.err = ReadAll(dir / "cmd.err");
    return r;
  }
  Outcome Offline(std::vector<std::string> args) {
    args.insert(args.begin(), {"--offline", "--config", config_.string()});
    return Signerd(args);
  }

  std::filesystem::path Put(const std::string& name, const std::string& text) {
    std::ofstream(sandbox_->dir() / name, std::ios::binary) << text;
    return sandbox_->dir() / name;
  }

  // Makes the identity and one cold key; returns the identity public key and fills keys_.
  air::IdentityKey Provision() {
    Outcome r = Offline({"identity", "--create"});
    EXPECT_EQ(r.code, 0) << r.err;
    const std::string prefix = "offline signer identity (Ed25519): ";
    EXPECT_THAT(r.out, HasSubstr(prefix));
    air::IdentityKey identity{};
    const std::string hex = r.out.substr(r.out.find(prefix) + prefix.size(), 64);
    EXPECT_TRUE(base::HexDecodeInto(hex, identity).ok()) << r.out;

    r = Offline({"create-keys", "--wallet-id", "BTC:client-cold", "--asset", "BTC", "--owner", "client", "--tier",
                 "cold", "--count", "2", "--out", (sandbox_->dir() / "cold-keys.json").string()});
    EXPECT_EQ(r.code, 0) << r.err;
    absl::StatusOr<air::ColdKeys> cold = air::ReadColdKeys(ReadAll(sandbox_->dir() / "cold-keys.json"));
    EXPECT_TRUE(cold.ok()) << cold.status();
    if (cold.ok()) cold_ = *cold;
    return identity;
  }

  // The fixture's world with its cold BTC key replaced by the token's first cold key.
  World ColdWorld() const {
    std::vector<std::pair<std::string, std::array<uint8_t, 33>>> keys;
    for (size_t i = 0; i < OwnKeySpecs().size(); ++i) {
      keys.emplace_back(OwnKeySpecs()[i].default_id, TestPublicKey(OwnKeySpecs()[i].seed));
    }
    keys[kColdBtcKey] = {cold_.keys.at(0).key_id, cold_.keys.at(0).public_key};
    return MakeWorld(&keys);
  }

  // A top-up of 60,000 sat from the cold key to the registered hot address, change back to the
  // cold key, approved by `approvers` (alice and bob: the fixture's 2 from 50,000).
  BitcoinCase TopUp(const World& world, const std::string& id) const {
    return BitcoinMove(world, policy::RequestKind::kTopUp, kColdBtcKey, TestPublicKey(kInputKeySeed), kColdBtcKey, id);
  }

  std::string Bundle(const TxRequest& request, const std::string& source_wallet) const {
    air::SigningBundle b;
    b.bundle_id = request.request_id;
    b.kind = "top_up";
    b.source_wallet = source_wallet;
    b.created_at = static_cast<int64_t>(std::time(nullptr));
    b.request = ToProto(request);
    absl::StatusOr<std::string> file = air::WriteSigningBundle(b);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *file : "";
  }

  std::unique_ptr<ringfence::signer::testing::TokenSandbox> sandbox_;
  std::filesystem::path config_;
  air::ColdKeys cold_;
};

TEST_F(OfflineSignerTest, MakesAnIdentityOnceAndColdKeysSignedByIt) {
  Outcome none = Offline({"identity"});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("no identity key yet"));
  // No key is made without an identity to sign the file.
  Outcome early = Offline({"create-keys", "--wallet-id", "BTC:client-cold", "--asset", "BTC", "--owner", "client",
                       "--tier", "cold", "--count", "1", "--out", (sandbox_->dir() / "early.json").string()});
  EXPECT_NE(early.code, 0);
  EXPECT_FALSE(std::filesystem::exists(sandbox_->dir() / "early.json"));

  const air::IdentityKey identity = Provision();
  Outcome again = Offline({"identity", "--create"});
  EXPECT_EQ(again.code, 0);
  EXPECT_THAT(again.out, HasSubstr(base::HexEncode(std::span<const uint8_t>(identity))));

  ASSERT_EQ(cold_.keys.size(), 2u);
  EXPECT_NE(cold_.keys[0].key_id, cold_.keys[1].key_id);
  for (const air::ColdKey& k : cold_.keys) {
    EXPECT_EQ(k.wallet_id, "BTC:client-cold");
    EXPECT_EQ(k.owner_class, "client");
    EXPECT_EQ(k.tier, "cold");
  }
  EXPECT_TRUE(air::VerifyIdentitySignature(*air::ColdKeysDigest(cold_), cold_.signer_key, cold_.signature, identity).ok());

  Outcome bad_count = Offline({"create-keys", "--wallet-id", "BTC:client-cold", "--asset", "BTC", "--owner", "client",
                           "--tier", "cold", "--count", "0", "--out", (sandbox_->dir() / "none.json").string()});
  EXPECT_EQ(bad_count.code, 2);
  EXPECT_THAT(bad_count.err, HasSubstr("--count: must be 1 to 10000"));
  // One wallet id means one wallet: the same id as a hot wallet is refused.
  Outcome clash = Offline({"create-keys", "--wallet-id", "BTC:client-cold", "--asset", "BTC", "--owner", "client",
                       "--tier", "hot", "--count", "1", "--out", (sandbox_->dir() / "clash.json").string()});
  EXPECT_EQ(clash.code, 3) << clash.err;
}

TEST_F(OfflineSignerTest, SignsATopUpBundleWithTheChecksOfOnlineSigning) {
  const air::IdentityKey identity = Provision();
  ASSERT_FALSE(cold_.keys.empty());
  const World world = ColdWorld();
  BitcoinCase top_up = TopUp(world, "topup-1");
  const std::string bundle = Bundle(top_up.request, "BTC:client-cold");
  base::Digest32 bundle_digest{};
  ASSERT_TRUE(air::ReadSigningBundle(bundle, &bundle_digest).ok());
  const auto in = Put("bundle.json", bundle);
  const auto out = sandbox_->dir() / "signed.json";

  Outcome r = Offline({"sign", "--in", in.string(), "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::StatusOr<air::SignedBundle> signed_bundle = air::ReadSignedBundle(ReadAll(out));
  ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
  EXPECT_EQ(signed_bundle->bundle_id, "topup-1");
  EXPECT_EQ(signed_bundle->bundle_digest, bundle_digest);
  EXPECT_TRUE(air::VerifyIdentitySignature(*air::SignedBundleDigest(*signed_bundle), signed_bundle->signer_key,
                                           signed_bundle->signature, identity)
                  .ok());

  // bitcoinjs-lib: the witness signature verifies under the cold key, low S, and the signed
  // transaction is the bundle's unsigned one.
  nlohmann::json cases = nlohmann::json::array();
  cases.push_back({{"chain", "bitcoin"},
                   {"signed_tx", base::HexEncode(signed_bundle->signed_tx)},
                   {"unsigned_tx", base::HexEncode(top_up.request.unsigned_tx)},
                   {"txid", signed_bundle->txid},
                   {"inputs", {{{"amount", 100000}, {"pubkey", base::HexEncode(std::span<const uint8_t>(cold_.keys[0].public_key))}}}}});
  const auto check = Put("check.json", cases.dump());
  const std::string cmd = "node " + Env("RINGFENCE_SOURCE_DIR") + "/tests/signer_tx/check_signed_tx.js " + check.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  // The same bundle again is refused; with --again it gives the same transaction (signerd's
  // replay rule), never a second different spend.
  const auto out2 = sandbox_->dir() / "signed2.json";
  Outcome replay = Offline({"sign", "--in", in.string(), "--out", out2.string()});
  EXPECT_EQ(replay.code, 3);
  EXPECT_THAT(replay.err, HasSubstr("bundle_already_signed: request \"topup-1\" was signed before"));
  EXPECT_FALSE(std::filesystem::exists(out2));
  Outcome again = Offline({"sign", "--again", "--in", in.string(), "--out", out2.string()});
  ASSERT_EQ(again.code, 0) << again.err;
  absl::StatusOr<air::SignedBundle> replayed = air::ReadSignedBundle(ReadAll(out2));
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->signed_tx, signed_bundle->signed_tx);
  // Another transaction under the same request id is refused by the replay rule.
  BitcoinCase other = top_up;
  other.tx.outputs[1].value -= 1;
  SetTx(&other.request, other.tx);
  Approve(world, &other.request, {world.approvers[0], world.approvers[1]});
  Outcome conflict = Offline({"sign", "--in", Put("other.json", Bundle(other.request, "BTC:client-cold")).string(),
                          "--out", (sandbox_->dir() / "other-signed.json").string()});
  EXPECT_EQ(conflict.code, 3) << conflict.err;
  EXPECT_THAT(conflict.err, HasSubstr("request_conflict"));
  EXPECT_FALSE(std::filesystem::exists(sandbox_->dir() / "other-signed.json"));

  Outcome log = Signerd({"--config", config_.string(), "--verify-log"});
  EXPECT_EQ(log.code, 0) << log.err;
}

TEST_F(OfflineSignerTest, RefusesEditedMisattributedUnderApprovedAndV1Bundles) {
  Provision();
  ASSERT_FALSE(cold_.keys.empty());
  const World world = ColdWorld();
  auto refused = [&](const std::string& name, const std::string& bundle) {
    const auto out = sandbox_->dir() / (name + "-signed.json");
    Outcome r = Offline({"sign", "--in", Put(name + ".json", bundle).string(), "--out", out.string()});
    EXPECT_FALSE(std::filesystem::exists(out)) << name;
    return r;
  };

  // Edited in transit: the digest no longer matches.
  nlohmann::ordered_json edited = nlohmann::ordered_json::parse(Bundle(TopUp(world, "topup-e").request, "BTC:client-cold"));
  edited["created_at"] = edited["created_at"].get<int64_t>() + 1;
  Outcome r = refused("edited", edited.dump());
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("bundle.digest: does not match"));

  // A bundle that claims the hot wallet for the cold wallet's coins.
  r = refused("claim", Bundle(TopUp(world, "topup-c").request, "BTC:client-hot"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("source_wallet: the bundle says \"BTC:client-hot\""));

  // Edited after approval by someone who recomputes the bundle digest: a larger amount to the
  // same destination (the transaction and the intent changed together), and the destination
  // moved to the house's cold wallet.
  BitcoinCase more = TopUp(world, "topup-amount");
  more.tx.outputs[0].value += 10000;
  more.tx.outputs[1].value -= 10000;
  SetTx(&more.request, more.tx);
  more.request.intent.amount = "70000";
  r = refused("amount", Bundle(more.request, "BTC:client-cold"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("approval_signature"));
  BitcoinCase house = TopUp(world, "topup-house");
  const BitcoinCase to_house = BitcoinMove(world, policy::RequestKind::kTopUp, kColdBtcKey,
                                           TestPublicKey(kHouseColdKeySeed), kColdBtcKey, "topup-house");
  house.request.unsigned_tx = to_house.request.unsigned_tx;
  house.request.intent = to_house.request.intent;
  // (The wallet rules run before the approvals: a top-up pays only the registered client-hot
  // wallet, whoever approved it.)
  r = refused("house", Bundle(house.request, "BTC:client-cold"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("destination_not_registered_wallet"));
  // Even approved as it is (approvers misled), client coins never go to the house.
  r = refused("house-approved", Bundle(to_house.request, "BTC:client-cold"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("destination_not_registered_wallet: a top_up from client-cold wallet"));

  // One approval where two are needed.
  BitcoinCase one = TopUp(world, "topup-1of2");
  Approve(world, &one.request, {world.approvers[0]});
  r = refused("one", Bundle(one.request, "BTC:client-cold"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("quorum_not_met"));

  // Approvals over the retired digest v1.
  BitcoinCase v1 = TopUp(world, "topup-v1");
  ApproveV1(world, &v1.request);
  r = refused("v1", Bundle(v1.request, "BTC:client-cold"));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("approval_signature"));

  // The commands belong to --offline, and --offline to them.
  Outcome online = Signerd({"--config", config_.string(), "sign", "--in", "x", "--out", "y"});
  EXPECT_EQ(online.code, 2);
  EXPECT_THAT(online.err, HasSubstr("run only with --offline"));
  Outcome bare = Signerd({"--offline", "--config", config_.string()});
  EXPECT_EQ(bare.code, 2);
}

}  // namespace
}  // namespace ringfence::signer::tx
