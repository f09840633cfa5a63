// SignTransaction end to end through the gRPC service over a Unix socket, on a real PKCS#11
// token (RINGFENCE_TX_TOKEN = hsm_sim or softhsm) and signerd's real SQLite database:
// signed Bitcoin P2WPKH, Ethereum EIP-1559/legacy and ERC-20 transactions checked by
// bitcoinjs-lib/tiny-secp256k1 and ethers (check_signed_tx.js); every refusal rule of the
// issue as a gRPC error with its log entry; the state rules, also across a restart.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chain/bech32.h"
#include "chain/erc20.h"
#include "chain/hashes.h"
#include "base/hex.h"
#include "tests/common/temp_dir.h"
#include "tests/signer_tx/harness.h"
#include "tests/signer_tx/test_keys.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ringfence::signer::tx::testing;
namespace v1 = ringfence::signer::v1;

TokenKind KindFromEnv() {
  const char* kind = std::getenv("RINGFENCE_TX_TOKEN");
  return ParseTokenKind(kind ? kind : "hsm_sim");
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ringfence::testing::TempDir("signer_tx_service");
    harness_ = new SignerHarness(KindFromEnv(), dir_->path());
  }
  static void TearDownTestSuite() {
    delete harness_;
    delete dir_;
  }

  grpc::Status Call(const TxRequest& request, v1::SignTransactionResponse* response) {
    grpc::ClientContext context;
    return harness_->stub().SignTransaction(&context, ToProto(request), response);
  }

  // Log entries of `kind` for `request_id`.
  std::vector<LogEntry> Entries(const std::string& kind, const std::string& request_id) {
    auto log = harness_->store().ReadLog();
    EXPECT_TRUE(log.ok()) << log.status();
    std::vector<LogEntry> out;
    for (const auto& e : *log) {
      auto it = e.fields.find("request_id");
      if (e.kind == kind && it != e.fields.end() &&
          std::string(it->second.begin(), it->second.end()) == request_id) {
        out.push_back(e);
      }
    }
    return out;
  }

  static std::string Field(const LogEntry& e, const std::string& name) {
    auto it = e.fields.find(name);
    return it == e.fields.end() ? "" : std::string(it->second.begin(), it->second.end());
  }

  const World& world() { return harness_->world(); }

  static ringfence::testing::TempDir* dir_;
  static SignerHarness* harness_;
};

ringfence::testing::TempDir* ServiceTest::dir_ = nullptr;
SignerHarness* ServiceTest::harness_ = nullptr;

// Distinct outpoints per test, so tests do not trip each other's outpoint rule.
void UseOutpoint(BitcoinCase* c, uint8_t tag) {
  c->tx.inputs[0].prevout.txid.fill(tag);
  SetTx(&c->request, c->tx);
}

TEST_F(ServiceTest, SignedTransactionsVerifyWithBitcoinjsAndEthers) {
  nlohmann::json cases = nlohmann::json::array();

  // Bitcoin: two inputs of two different keys, change back to signerd.
  auto btc = ValidBitcoinRequest(world(), "wd-verify-btc");
  UseOutpoint(&btc, 0x01);
  chain::TxIn second;
  second.prevout.txid.fill(0x02);
  second.prevout.vout = 3;
  btc.tx.inputs.push_back(second);
  btc.tx.outputs[1].value = 88500;
  SetTx(&btc.request, btc.tx);
  btc.request.bitcoin_inputs.push_back({50000, world().own_keys[kChangeKey].key_id});
  v1::SignTransactionResponse response;
  grpc::Status status = Call(btc.request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.replayed());
  EXPECT_GT(response.log_sequence(), 0u);
  nlohmann::json inputs = nlohmann::json::array();
  for (int i = 0; i < 2; ++i) {
    inputs.push_back({{"amount", btc.request.bitcoin_inputs[i].amount},
                      {"pubkey", base::HexEncode(world().own_keys[i].public_key)}});
  }
  cases.push_back({{"chain", "bitcoin"},
                   {"signed_tx", base::HexEncode(std::vector<uint8_t>(response.signed_tx().begin(),
                                                                       response.signed_tx().end()))},
                   {"unsigned_tx", base::HexEncode(btc.request.unsigned_tx)},
                   {"txid", response.txid()},
                   {"inputs", inputs}});

  // Ethereum: EIP-1559, legacy EIP-155 and an ERC-20 transfer, nonces 1..3.
  const std::pair<EthForm, uint64_t> forms[] = {
      {EthForm::kEip1559, 1}, {EthForm::kLegacy, 2}, {EthForm::kErc20, 3}};
  for (const auto& [form, nonce] : forms) {
    auto eth = ValidEthereumRequest(world(), form, "wd-verify-eth-" + std::to_string(nonce));
    eth.eip1559.nonce = nonce;
    eth.legacy.nonce = nonce;
    SetEthTx(&eth);
    v1::SignTransactionResponse r;
    grpc::Status s = Call(eth.request, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    nlohmann::json c = {
        {"chain", "ethereum"},
        {"type", form == EthForm::kLegacy ? 0 : 2},
        {"signed_tx", "0x" + base::HexEncode(std::vector<uint8_t>(r.signed_tx().begin(), r.signed_tx().end()))},
        {"hash", r.txid()},
        {"from", EthAddressOf(world().own_keys[form == EthForm::kErc20 ? kUsdcKey : kEthKey].public_key)},
        {"chain_id", kEthChainId},
        {"nonce", nonce},
        {"to", form == EthForm::kErc20 ? world().erc20_contract : eth.request.intent.destination},
        {"value", form == EthForm::kErc20 ? "0" : "60000"},
    };
    if (form == EthForm::kErc20) {
      c["token_recipient"] = eth.request.intent.destination;
      c["token_amount"] = "60000";
    }
    cases.push_back(c);
  }

  const auto path = dir_->path() / "signed.json";
  std::ofstream(path) << cases.dump(2);
  const char* src = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const std::string cmd = std::string("node ") + src + "/tests/signer_tx/check_signed_tx.js " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_TRUE(harness_->store().VerifyLog().ok());
}

struct GrpcRefusal {
  const char* name;
  std::function<TxRequest(const World&)> make;
  grpc::StatusCode code;
  const char* rule;
};

// The refusal rules of the issue, each through the service.
std::vector<GrpcRefusal> IssueRefusals() {
  using G = grpc::StatusCode;
  const auto foreign2 = chain::P2wpkhScriptPubKey(chain::Hash160(TestPublicKey(kOtherForeignKeySeed)));
  auto btc = [](const World& w, const char* id, uint8_t tag) {
    auto c = ValidBitcoinRequest(w, id);
    UseOutpoint(&c, tag);
    Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
    return c;
  };
  return {
      {"another destination",
       [=](const World& w) {
         auto c = btc(w, "wd-r1", 0x31);
         c.tx.outputs[0].script_pubkey = foreign2;
         SetTx(&c.request, c.tx);
         return c.request;
       },
       G::FAILED_PRECONDITION, "destination_missing"},
      {"extra output to a foreign address",
       [=](const World& w) {
         auto c = btc(w, "wd-r2", 0x32);
         c.tx.outputs[1].value -= 100;
         c.tx.outputs.push_back({100, foreign2});
         SetTx(&c.request, c.tx);
         return c.request;
       },
       G::FAILED_PRECONDITION, "output_foreign"},
      {"changed amount",
       [=](const World& w) {
         auto c = ValidEthereumRequest(w, EthForm::kEip1559, "wd-r3");
         c.eip1559.value = chain::U256::FromU128(60001);
         SetEthTx(&c);
         return c.request;
       },
       G::FAILED_PRECONDITION, "amount_mismatch"},
      {"fee above the cap",
       [=](const World& w) {
         auto c = btc(w, "wd-r4", 0x34);
         c.tx.outputs[1].value -= 1000;
         SetTx(&c.request, c.tx);
         return c.request;
       },
       G::FAILED_PRECONDITION, "fee_above_cap"},
      {"wrong chain id",
       [=](const World& w) {
         auto c = ValidEthereumRequest(w, EthForm::kLegacy, "wd-r5");
         c.legacy.chain_id = 1;
         SetEthTx(&c);
         return c.request;
       },
       G::FAILED_PRECONDITION, "chain_id_mismatch"},
      {"approval replayed from another request",
       [=](const World& w) {
         auto c = btc(w, "wd-r6", 0x36);
         auto other = c.request;
         other.request_id = "wd-r6-other";
         Approve(w, &other, {w.approvers[0], w.approvers[1]});
         c.request.approvals = other.approvals;
         return c.request;
       },
       G::PERMISSION_DENIED, "approval_signature"},
      {"approver not in the registry",
       [=](const World& w) {
         auto c = btc(w, "wd-r7", 0x37);
         Approve(w, &c.request, {w.approvers[0], w.mallory});
         return c.request;
       },
       G::PERMISSION_DENIED, "approver_unknown"},
      {"same approver twice",
       [=](const World& w) {
         auto c = btc(w, "wd-r8", 0x38);
         Approve(w, &c.request, {w.approvers[1], w.approvers[1]});
         return c.request;
       },
       G::PERMISSION_DENIED, "approver_duplicate"},
      {"too few approvals",
       [=](const World& w) {
         auto c = ValidEthereumRequest(w, EthForm::kErc20, "wd-r9");
         Approve(w, &c.request, {w.approvers[2]});
         return c.request;
       },
       G::PERMISSION_DENIED, "quorum_not_met"},
      {"trailing bytes",
       [=](const World& w) {
         auto c = btc(w, "wd-r10", 0x3a);
         c.request.unsigned_tx.push_back(0);
         return c.request;
       },
       G::FAILED_PRECONDITION, "tx_decode"},
  };
}

TEST_F(ServiceTest, EveryRefusalIsAGrpcErrorWithAReasonAndALogEntry) {
  for (const GrpcRefusal& rc : IssueRefusals()) {
    SCOPED_TRACE(rc.name);
    const TxRequest request = rc.make(world());
    v1::SignTransactionResponse response;
    grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), rc.code) << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith(std::string(rc.rule) + ": "));
    EXPECT_TRUE(response.signed_tx().empty());
    auto refused = Entries("tx_refused", request.request_id);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(Field(refused[0], "rule"), rc.rule);
    EXPECT_EQ(Field(refused[0], "reason"), status.error_message());
    EXPECT_TRUE(Entries("tx_signed", request.request_id).empty());
  }
}

// Issue 12, signerd sent requests directly (as a compromised custodyd would): each refused with
// its rule, and nothing but the refusal's log entry changes: afterwards the same request id and
// the same outpoint or nonce, in a valid request, are signed (nothing was claimed).
TEST_F(ServiceTest, SegregationRefusalsChangeNothingButTheLog) {
  using G = grpc::StatusCode;
  using K = policy::RequestKind;
  struct Case {
    const char* name;
    std::function<TxRequest(const World&, const std::string&, uint8_t)> make;
    G code;
    const char* rule;
  };
  auto move = [](const World& w, const std::string& id, uint8_t tag, K kind, size_t input,
                 const std::array<uint8_t, 33>& dest, size_t change) {
    auto c = BitcoinMove(w, kind, input, dest, change, id);
    UseOutpoint(&c, tag);
    Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
    return c.request;
  };
  const std::vector<Case> cases = {
      {"change to a house key",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         c.tx.outputs[1].script_pubkey =
             chain::P2wpkhScriptPubKey(chain::Hash160(w.own_keys[kHouseBtcKey].public_key));
         UseOutpoint(&c, tag);
         return c.request;
       },
       G::FAILED_PRECONDITION, "change_leaves_wallet"},
      {"inputs from two wallets",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         chain::TxIn second;
         second.prevout.txid.fill(static_cast<uint8_t>(tag + 1));
         c.tx.inputs.push_back(second);
         c.tx.outputs[1].value += 50000;
         UseOutpoint(&c, tag);
         c.request.bitcoin_inputs.push_back({50000, w.own_keys[kHouseBtcKey].key_id});
         return c.request;
       },
       G::FAILED_PRECONDITION, "inputs_span_wallets"},
      {"house withdrawal funded by client inputs",
       [=](const World& w, const std::string& id, uint8_t tag) {
         return move(w, id, tag, K::kWithdrawal, kInputKey, w.own_keys[kHouseBtcKey].public_key, kChangeKey);
       },
       G::FAILED_PRECONDITION, "client_funds_to_house"},
      {"house withdrawal to a client wallet",
       [=](const World& w, const std::string& id, uint8_t tag) {
         return move(w, id, tag, K::kWithdrawal, kHouseBtcKey, w.own_keys[kInputKey].public_key, kHouseBtcKey);
       },
       G::FAILED_PRECONDITION, "house_pays_client"},
      {"sweep to an unregistered address",
       [=](const World& w, const std::string& id, uint8_t tag) {
         return move(w, id, tag, K::kSweep, kInputKey, TestPublicKey(kForeignKeySeed), kChangeKey);
       },
       G::FAILED_PRECONDITION, "destination_not_registered_wallet"},
      {"top-up from a hot wallet",
       [=](const World& w, const std::string& id, uint8_t tag) {
         return move(w, id, tag, K::kTopUp, kInputKey, w.own_keys[kColdBtcKey].public_key, kChangeKey);
       },
       G::FAILED_PRECONDITION, "kind_tier_mismatch"},
      {"fee reimbursement from a client wallet",
       [=](const World& w, const std::string& id, uint8_t tag) {
         return move(w, id, tag, K::kFeeReimbursement, kInputKey, w.own_keys[kChangeKey].public_key, kChangeKey);
       },
       G::FAILED_PRECONDITION, "kind_owner_mismatch"},
      {"unbound key",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         UseOutpoint(&c, tag);
         c.request.bitcoin_inputs[0].key_id = w.own_keys[kUnboundKey].key_id;
         return c.request;
       },
       G::FAILED_PRECONDITION, "key_unbound"},
      {"v1 approval",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         UseOutpoint(&c, tag);
         ApproveV1(w, &c.request);
         return c.request;
       },
       G::PERMISSION_DENIED, "approval_signature"},
      {"approval for another source wallet",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         UseOutpoint(&c, tag);
         ApproveOther(w, &c.request, [](policy::ApprovalSubject* s) { s->source_wallet = "BTC:house-hot"; });
         return c.request;
       },
       G::PERMISSION_DENIED, "approval_signature"},
      {"expired approval",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidBitcoinRequest(w, id);
         UseOutpoint(&c, tag);
         c.request.expires_at = 1700000000;  // November 2023, before any clock this runs on
         Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
         return c.request;
       },
       G::PERMISSION_DENIED, "approval_expired"},
      {"ethereum sender key of another asset's wallet",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidEthereumRequest(w, EthForm::kErc20, id);
         c.eip1559.nonce = 500 + tag;
         SetEthTx(&c);
         c.request.ethereum_key_id = w.own_keys[kEthKey].key_id;
         Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
         return c.request;
       },
       G::FAILED_PRECONDITION, "sender_wrong_wallet"},
      {"ethereum sender key of another wallet",
       [](const World& w, const std::string& id, uint8_t tag) {
         auto c = ValidEthereumRequest(w, EthForm::kEip1559, id);
         c.eip1559.nonce = 500 + tag;
         SetEthTx(&c);
         Approve(w, &c.request, {w.approvers[0], w.approvers[1]});  // for ETH:client-hot
         c.request.ethereum_key_id = w.own_keys[kHouseEthKey].key_id;
         return c.request;
       },
       G::PERMISSION_DENIED, "approval_signature"},
  };
  uint8_t tag = 0x60;
  for (const Case& rc : cases) {
    SCOPED_TRACE(rc.name);
    const std::string id = std::string("wd-seg-") + std::to_string(tag);
    const TxRequest request = rc.make(world(), id, tag);
    auto before = harness_->store().ReadLog();
    ASSERT_TRUE(before.ok());
    v1::SignTransactionResponse response;
    grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), rc.code) << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith(std::string(rc.rule) + ": "));
    EXPECT_TRUE(response.signed_tx().empty());
    auto after = harness_->store().ReadLog();
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->size(), before->size() + 1);
    EXPECT_EQ(after->back().kind, "tx_refused");
    EXPECT_EQ(Field(after->back(), "rule"), rc.rule);
    EXPECT_EQ(Field(after->back(), "request_id"), id);
    // Nothing claimed: a valid request with the same id and the same outpoint (or, for
    // Ethereum, the same nonce of the sending key) signs.
    TxRequest valid;
    if (request.chain == "bitcoin") {
      auto c = ValidBitcoinRequest(world(), id);
      UseOutpoint(&c, tag);
      valid = c.request;
    } else {
      auto c = ValidEthereumRequest(world(), EthForm::kEip1559, id);
      c.eip1559.nonce = 500 + tag;
      SetEthTx(&c);
      valid = c.request;
    }
    status = Call(valid, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(response.replayed());
    tag = static_cast<uint8_t>(tag + 2);
  }
  EXPECT_TRUE(harness_->store().VerifyLog().ok());
}

// Each kind's happy path through the service: signed, and the signatures verify with
// bitcoinjs-lib (check_signed_tx.js).
TEST_F(ServiceTest, SweepTopUpAndFeeReimbursementSignAndVerify) {
  using K = policy::RequestKind;
  const World& w = world();
  struct Move {
    const char* id;
    K kind;
    size_t input;
    std::array<uint8_t, 33> dest;
    size_t change;
  };
  const Move moves[] = {
      {"sweep-1", K::kSweep, kInputKey, TestPublicKey(kColdKeySeed), kChangeKey},
      {"top-up-1", K::kTopUp, kColdBtcKey, w.own_keys[kInputKey].public_key, kColdBtcKey},
      {"fee-reimbursement-1", K::kFeeReimbursement, kHouseBtcKey, w.own_keys[kChangeKey].public_key, kHouseBtcKey},
  };
  nlohmann::json cases = nlohmann::json::array();
  uint8_t tag = 0x90;
  for (const Move& m : moves) {
    SCOPED_TRACE(m.id);
    auto c = BitcoinMove(w, m.kind, m.input, m.dest, m.change, m.id);
    UseOutpoint(&c, tag++);
    Approve(w, &c.request, {w.approvers[0], w.approvers[1]});
    v1::SignTransactionResponse response;
    grpc::Status status = Call(c.request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    auto signed_entries = Entries("tx_signed", m.id);
    ASSERT_EQ(signed_entries.size(), 1u);
    EXPECT_EQ(Field(signed_entries[0], "kind"), policy::RequestKindName(m.kind));
    EXPECT_EQ(Field(signed_entries[0], "source_wallet"), OwnKeySpecs()[m.input].binding->wallet_id);
    cases.push_back({{"chain", "bitcoin"},
                     {"signed_tx", base::HexEncode(std::vector<uint8_t>(response.signed_tx().begin(),
                                                                         response.signed_tx().end()))},
                     {"unsigned_tx", base::HexEncode(c.request.unsigned_tx)},
                     {"txid", response.txid()},
                     {"inputs", {{{"amount", 100000}, {"pubkey", base::HexEncode(w.own_keys[m.input].public_key)}}}}});
  }
  const auto path = dir_->path() / "moves.json";
  std::ofstream(path) << cases.dump();
  const std::string cmd = std::string("node ") + std::getenv("RINGFENCE_SOURCE_DIR") +
                          "/tests/signer_tx/check_signed_tx.js " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST_F(ServiceTest, StateRulesHoldAndSurviveARestart) {
  // A request is signed once; the same transaction again gets the same bytes back.
  auto first = ValidBitcoinRequest(world(), "wd-state-1");
  UseOutpoint(&first, 0x41);
  v1::SignTransactionResponse signed1, again;
  ASSERT_TRUE(Call(first.request, &signed1).ok());
  ASSERT_TRUE(Call(first.request, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.signed_tx(), signed1.signed_tx());
  EXPECT_EQ(again.log_sequence(), signed1.log_sequence());
  EXPECT_EQ(Entries("tx_replayed", "wd-state-1").size(), 1u);

  // The same request id with another transaction (less change, same intent).
  auto conflicting = first;
  conflicting.tx.outputs[1].value -= 10;
  SetTx(&conflicting.request, conflicting.tx);
  v1::SignTransactionResponse r;
  grpc::Status s = Call(conflicting.request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), StartsWith("request_conflict: "));

  // The same outpoint for another request.
  auto respend = ValidBitcoinRequest(world(), "wd-state-2");
  UseOutpoint(&respend, 0x41);
  Approve(world(), &respend.request, {world().approvers[0], world().approvers[1]});
  s = Call(respend.request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), StartsWith("outpoint_spent: "));
  EXPECT_THAT(s.error_message(), HasSubstr("wd-state-1"));

  // The same nonce of the same key for another request.
  auto eth = ValidEthereumRequest(world(), EthForm::kEip1559, "wd-state-3");
  eth.eip1559.nonce = 40;
  SetEthTx(&eth);
  ASSERT_TRUE(Call(eth.request, &r).ok());
  auto reuse = ValidEthereumRequest(world(), EthForm::kEip1559, "wd-state-4");
  reuse.eip1559.nonce = 40;
  SetEthTx(&reuse);
  s = Call(reuse.request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), StartsWith("nonce_reused: "));
  // A legacy transaction with that nonce is the same account nonce.
  auto reuse_legacy = ValidEthereumRequest(world(), EthForm::kLegacy, "wd-state-5");
  reuse_legacy.legacy.nonce = 40;
  SetEthTx(&reuse_legacy);
  s = Call(reuse_legacy.request, &r);
  EXPECT_THAT(s.error_message(), StartsWith("nonce_reused: "));

  harness_->Restart();
  v1::SignTransactionResponse after;
  ASSERT_TRUE(Call(first.request, &after).ok());
  EXPECT_TRUE(after.replayed());
  EXPECT_EQ(after.signed_tx(), signed1.signed_tx());
  EXPECT_THAT(Call(conflicting.request, &r).error_message(), StartsWith("request_conflict: "));
  EXPECT_THAT(Call(respend.request, &r).error_message(), StartsWith("outpoint_spent: "));
  EXPECT_THAT(Call(reuse.request, &r).error_message(), StartsWith("nonce_reused: "));
  // A refused request did not claim anything: its nonce stays free for its own request id.
  auto fresh = ValidEthereumRequest(world(), EthForm::kEip1559, "wd-state-4");
  fresh.eip1559.nonce = 41;
  SetEthTx(&fresh);
  EXPECT_TRUE(Call(fresh.request, &r).ok());
  EXPECT_TRUE(harness_->store().VerifyLog().ok());
}

TEST_F(ServiceTest, ConcurrentIdenticalRequestsSignOnce) {
  auto c = ValidBitcoinRequest(world(), "wd-concurrent");
  UseOutpoint(&c, 0x51);
  std::vector<std::thread> threads;
  std::vector<std::string> results(16);
  std::vector<grpc::Status> statuses(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      v1::SignTransactionResponse r;
      statuses[i] = Call(c.request, &r);
      results[i] = r.signed_tx();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(results[i], results[0]);
  }
  EXPECT_EQ(Entries("tx_signed", "wd-concurrent").size(), 1u);
  EXPECT_EQ(Entries("tx_replayed", "wd-concurrent").size(), 15u);
}

TEST_F(ServiceTest, StartupLogsTheRegistryHash) {
  auto log = harness_->store().ReadLog();
  ASSERT_TRUE(log.ok());
  const LogEntry* started = nullptr;
  for (const auto& e : *log) {
    if (e.kind == "tx_signer_started") started = &e;
  }
  ASSERT_NE(started, nullptr);
  const std::string& text = world().registry_toml;
  EXPECT_EQ(Field(*started, "approver_registry_sha256"),
            base::HexEncode(chain::Sha256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()))));
  EXPECT_EQ(Field(*started, "ethereum_chain_id"), "1337");
}

}  // namespace
}  // namespace ringfence::signer::tx
