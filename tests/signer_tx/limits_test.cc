// signerd's request limits seen from a C++ (gRPC C-core) client, through the real services on a
// Unix socket: TransactionSigner as SignerHarness serves it on a real token and database, and
// the key service (Signer) over the same token and store, both with signerd's maximum receive
// size. For every string and bytes field of every request: at its limit the request passes the
// edge (it is signed or refused by a later rule); one byte over, and at 1 MiB, it is refused
// with INVALID_ARGUMENT naming the field and the limit, in a short message, and a refused
// SignTransaction leaves one short tx_refused log entry and nothing else. Repeated fields
// likewise by count. Also: the limits add up to the server's maximum receive size exactly.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/text.h"
#include "proto/signer.grpc.pb.h"
#include "signer/key_service.h"
#include "signer/request_limits.h"
#include "signer/service.h"
#include "tests/common/temp_dir.h"
#include "tests/signer_tx/harness.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::Not;
using ::testing::StartsWith;
using namespace ringfence::signer::tx::testing;
namespace v1 = ringfence::signer::v1;

constexpr size_t kMiB = size_t{1} << 20;
// The most bytes a refusal's message may take: far below the 8 KB at which gRPC C-core clients
// stop reading a status and report RESOURCE_EXHAUSTED instead.
constexpr size_t kShortMessage = 512;
// The most bytes a refusal's sign-log entry may take, all fields together.
constexpr size_t kShortLogEntry = 1024;

std::string LimitMessage(const std::string& field, size_t n, size_t limit, const char* unit = "bytes") {
  return base::Cat("request_limit: ", field, ": ", n, " ", unit, ", at most ", limit);
}

// One limited field of SignTransactionRequest: how signerd names it, its limit, whether the
// limit counts entries, a valid request to start from, and how to give the field size n.
struct TxField {
  std::string name;
  size_t limit;
  bool entries;
  std::function<TxRequest(const World&, const std::string& request_id)> make;
  std::function<void(TxRequest*, size_t)> set;
};

TxRequest Btc(const World& w, const std::string& id) { return ValidBitcoinRequest(w, id).request; }
TxRequest Eth(const World& w, const std::string& id) { return ValidEthereumRequest(w, EthForm::kEip1559, id).request; }

std::vector<TxField> TxFields() {
  return {
      {"request_id", kMaxRequestIdBytes, false, Btc, [](TxRequest* r, size_t n) { r->request_id = std::string(n, 'r'); }},
      {"chain", kMaxChainBytes, false, Btc, [](TxRequest* r, size_t n) { r->chain = std::string(n, 'c'); }},
      {"network", kMaxNetworkBytes, false, Btc, [](TxRequest* r, size_t n) { r->network = std::string(n, 'n'); }},
      {"unsigned_tx", kMaxUnsignedTxBytes, false, Btc,
       [](TxRequest* r, size_t n) { r->unsigned_tx.assign(n, 0x5a); }},
      {"bitcoin_inputs", kMaxBitcoinInputs, true, Btc,
       [](TxRequest* r, size_t n) {
         const BitcoinInputSpend first = r->bitcoin_inputs[0];
         r->bitcoin_inputs.resize(n, first);
       }},
      {"bitcoin_inputs[0].key_id", kMaxKeyIdBytes, false, Btc,
       [](TxRequest* r, size_t n) { r->bitcoin_inputs[0].key_id = std::string(n, 'k'); }},
      {"ethereum_key_id", kMaxKeyIdBytes, false, Eth, [](TxRequest* r, size_t n) { r->ethereum_key_id = std::string(n, 'k'); }},
      {"intent.asset", kMaxAssetBytes, false, Btc, [](TxRequest* r, size_t n) { r->intent.asset = std::string(n, 'A'); }},
      {"intent.amount", kMaxAmountBytes, false, Btc, [](TxRequest* r, size_t n) { r->intent.amount = std::string(n, '9'); }},
      {"intent.destination", kMaxDestinationBytes, false, Btc,
       [](TxRequest* r, size_t n) { r->intent.destination = std::string(n, 'd'); }},
      {"intent.fee_cap", kMaxAmountBytes, false, Eth, [](TxRequest* r, size_t n) { r->intent.fee_cap = std::string(n, '9'); }},
      {"approvals", kMaxApprovals, true, Eth, [](TxRequest* r, size_t n) {
         const ApprovalInput first = r->approvals[0];
         r->approvals.resize(n, first);
       }},
      {"approvals[0].approver_id", kMaxApproverIdBytes, false, Eth,
       [](TxRequest* r, size_t n) { r->approvals[0].approver_id = std::string(n, 'a'); }},
      {"approvals[0].signature", kMaxApprovalSignatureBytes, false, Eth,
       [](TxRequest* r, size_t n) { r->approvals[0].signature.assign(n, 0x02); }},
  };
}

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* kind = std::getenv("RINGFENCE_TX_TOKEN");
    dir_ = new ringfence::testing::TempDir("signer_tx_limits");
    harness_ = new SignerHarness(ParseTokenKind(kind ? kind : "hsm_sim"), dir_->path());
    keys_ = new KeyService(&harness_->token(), &harness_->store());
    key_service_ = new SignerServiceImpl(keys_);
    const std::string target = "unix:" + (dir_->path() / "keys.sock").string();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(target, grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));  // as signerd
    builder.RegisterService(key_service_);
    key_server_ = builder.BuildAndStart().release();
    ASSERT_NE(key_server_, nullptr);
    key_stub_ = v1::Signer::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())).release();
  }
  static void TearDownTestSuite() {
    delete key_stub_;
    key_server_->Shutdown();
    key_server_->Wait();
    delete key_server_;
    delete key_service_;
    delete keys_;
    delete harness_;
    delete dir_;
  }

  static grpc::Status Sign(const v1::SignTransactionRequest& request) {
    grpc::ClientContext context;
    v1::SignTransactionResponse response;
    return harness_->stub().SignTransaction(&context, request, &response);
  }
  static grpc::Status Sign(const TxRequest& request) { return Sign(ToProto(request)); }

  static std::vector<LogEntry> Log() {
    auto log = harness_->store().ReadLog();
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : std::vector<LogEntry>{};
  }

  static std::string Field(const LogEntry& e, const std::string& name) {
    auto it = e.fields.find(name);
    return it == e.fields.end() ? "" : std::string(it->second.begin(), it->second.end());
  }

  // Sends `request`, which has one field over its limit, and checks the answer and that the
  // sign log grew by exactly one short tx_refused entry for it.
  static void ExpectRefusedAtTheEdge(const TxRequest& request, const std::string& message) {
    const size_t before = Log().size();
    grpc::Status status = Sign(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message().substr(0, 200);
    EXPECT_EQ(status.error_message(), message);
    EXPECT_LT(status.error_message().size(), kShortMessage);
    const std::vector<LogEntry> log = Log();
    ASSERT_EQ(log.size(), before + 1);
    const LogEntry& entry = log.back();
    EXPECT_EQ(entry.kind, "tx_refused");
    EXPECT_EQ(Field(entry, "rule"), kLimitRule);
    EXPECT_EQ(Field(entry, "code"), "INVALID_ARGUMENT");
    EXPECT_EQ(Field(entry, "reason"), message);
    size_t total = 0;
    for (const auto& [name, value] : entry.fields) total += name.size() + value.size();
    EXPECT_LT(total, kShortLogEntry);
  }

  static ringfence::testing::TempDir* dir_;
  static SignerHarness* harness_;
  static KeyService* keys_;
  static SignerServiceImpl* key_service_;
  static grpc::Server* key_server_;
  static v1::Signer::Stub* key_stub_;
};

ringfence::testing::TempDir* LimitsTest::dir_ = nullptr;
SignerHarness* LimitsTest::harness_ = nullptr;
KeyService* LimitsTest::keys_ = nullptr;
SignerServiceImpl* LimitsTest::key_service_ = nullptr;
grpc::Server* LimitsTest::key_server_ = nullptr;
v1::Signer::Stub* LimitsTest::key_stub_ = nullptr;

TEST_F(LimitsTest, EachTransactionFieldAtItsLimitPassesTheEdge) {
  int n = 0;
  for (const TxField& f : TxFields()) {
    SCOPED_TRACE(f.name);
    TxRequest request = f.make(harness_->world(), base::Cat("lim-at-", ++n));
    f.set(&request, f.limit);
    grpc::Status status = Sign(request);
    EXPECT_THAT(status.error_code(), ::testing::AnyOf(grpc::StatusCode::OK, grpc::StatusCode::FAILED_PRECONDITION,
                                                      grpc::StatusCode::PERMISSION_DENIED))
        << status.error_message();
    EXPECT_THAT(status.error_message(), Not(StartsWith(kLimitRule)));
  }
}

TEST_F(LimitsTest, EachTransactionFieldOneOverItsLimitIsRefusedAtTheEdge) {
  int n = 0;
  for (const TxField& f : TxFields()) {
    SCOPED_TRACE(f.name);
    TxRequest request = f.make(harness_->world(), base::Cat("lim-over-", ++n));
    f.set(&request, f.limit + 1);
    ExpectRefusedAtTheEdge(request, LimitMessage(f.name, f.limit + 1, f.limit, f.entries ? "entries" : "bytes"));
  }
}

// A 1 MiB field once made a 1 MiB status message (which gRPC C-core clients report as
// RESOURCE_EXHAUSTED "received initial metadata size exceeds limit") and a 1 MiB log entry.
TEST_F(LimitsTest, AOneMebibyteFieldGetsTheRuleInAShortMessage) {
  int n = 0;
  for (const TxField& f : TxFields()) {
    if (f.entries) continue;
    SCOPED_TRACE(f.name);
    TxRequest request = f.make(harness_->world(), base::Cat("lim-mib-", ++n));
    f.set(&request, kMiB);
    ExpectRefusedAtTheEdge(request, LimitMessage(f.name, kMiB, f.limit));
  }
}

// expires_at is Unix seconds in 0..kMaxExpiresAt: a negative, later or overflowing time is
// refused at the edge naming the field; the latest one passes it (and is then checked as usual).
TEST_F(LimitsTest, ExpiresAtOutsideItsRangeIsRefusedAtTheEdge) {
  int n = 0;
  for (int64_t bad : {int64_t{-1}, kMaxExpiresAt + 1, std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max()}) {
    SCOPED_TRACE(bad);
    TxRequest request = Btc(harness_->world(), base::Cat("lim-expiry-", ++n));
    request.expires_at = bad;
    ExpectRefusedAtTheEdge(request, base::Cat("request_limit: expires_at: ", bad, " is outside 0..", kMaxExpiresAt,
                                              " (Unix seconds)"));
  }
  TxRequest latest = Btc(harness_->world(), "lim-expiry-latest");
  latest.expires_at = kMaxExpiresAt;
  grpc::Status status = Sign(latest);
  EXPECT_THAT(status.error_message(), Not(StartsWith(kLimitRule)));
  // Unknown kinds are not a size: they pass the edge and are refused by the checks.
  v1::SignTransactionRequest unknown = ToProto(Btc(harness_->world(), "lim-kind-unknown"));
  unknown.set_kind(static_cast<v1::RequestKind>(99));
  status = Sign(unknown);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), StartsWith("request_malformed: kind: "));
}

// Refused at the edge, a valid request's id, outpoint and approvals are not claimed: the same
// request within the limits is then signed.
TEST_F(LimitsTest, ARefusalAtTheEdgeClaimsNothing) {
  BitcoinCase c = ValidBitcoinRequest(harness_->world(), "lim-claims-nothing");
  c.tx.inputs[0].prevout.txid.fill(0x7e);
  SetTx(&c.request, c.tx);
  TxRequest too_many = c.request;
  const ApprovalInput first = too_many.approvals[0];
  too_many.approvals.resize(kMaxApprovals + 1, first);
  ExpectRefusedAtTheEdge(too_many, LimitMessage("approvals", kMaxApprovals + 1, kMaxApprovals, "entries"));
  grpc::Status status = Sign(c.request);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// The request with every field at its limit and every list full is exactly
// kMaxSignTransactionRequestBytes, the largest request signerd receives, and passes the edge;
// one byte more and gRPC itself refuses it before signerd sees it.
TEST_F(LimitsTest, TheLargestValidRequestIsTheServersMaximumReceiveSize) {
  static_assert(kMaxRequestBytes == kMaxSignTransactionRequestBytes);
  v1::SignTransactionRequest request;
  request.set_request_id(std::string(kMaxRequestIdBytes, 'r'));
  request.set_chain(std::string(kMaxChainBytes, 'c'));
  request.set_network(std::string(kMaxNetworkBytes, 'n'));
  request.set_unsigned_tx(std::string(kMaxUnsignedTxBytes, 'x'));
  for (size_t i = 0; i < kMaxBitcoinInputs; ++i) {
    auto* in = request.add_bitcoin_inputs();
    in->set_amount(std::numeric_limits<uint64_t>::max());
    in->set_key_id(std::string(kMaxKeyIdBytes, 'k'));
  }
  request.set_ethereum_key_id(std::string(kMaxKeyIdBytes, 'e'));
  request.mutable_intent()->set_asset(std::string(kMaxAssetBytes, 'A'));
  request.mutable_intent()->set_amount(std::string(kMaxAmountBytes, '9'));
  request.mutable_intent()->set_destination(std::string(kMaxDestinationBytes, 'd'));
  request.mutable_intent()->set_fee_cap(std::string(kMaxAmountBytes, '9'));
  for (size_t i = 0; i < kMaxApprovals; ++i) {
    auto* a = request.add_approvals();
    a->set_approver_id(std::string(kMaxApproverIdBytes, 'a'));
    a->set_signature(std::string(kMaxApprovalSignatureBytes, 's'));
  }
  // A negative enum value takes a varint's ten bytes (and is refused by the checks, not the
  // limits); the latest expiry its six.
  request.set_kind(static_cast<v1::RequestKind>(-1));
  request.set_expires_at(kMaxExpiresAt);
  ASSERT_EQ(request.ByteSizeLong(), kMaxSignTransactionRequestBytes);
  grpc::Status status = Sign(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), StartsWith("request_malformed: kind: "));

  request.set_network(std::string(kMaxNetworkBytes + 1, 'n'));
  ASSERT_EQ(request.ByteSizeLong(), kMaxSignTransactionRequestBytes + 1);
  status = Sign(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_LT(status.error_message().size(), kShortMessage);
}

TEST_F(LimitsTest, KeyServiceFieldsAtOverAndFarOverTheirLimits) {
  auto create = [](size_t n) {
    grpc::ClientContext context;
    v1::CreateKeyRequest request;
    request.set_key_type(v1::KEY_TYPE_SECP256K1);
    request.set_purpose(std::string(n, 'p'));
    request.mutable_binding()->set_wallet_id("btc:client-hot");
    request.mutable_binding()->set_asset("btc");
    request.mutable_binding()->set_owner_class(v1::OWNER_CLASS_CLIENT);
    request.mutable_binding()->set_tier(v1::TIER_HOT);
    v1::CreateKeyResponse response;
    return key_stub_->CreateKey(&context, request, &response);
  };
  auto get = [](size_t n) {
    grpc::ClientContext context;
    v1::GetKeyRequest request;
    request.set_key_id(std::string(n, 'f'));
    v1::GetKeyResponse response;
    return key_stub_->GetKey(&context, request, &response);
  };
  size_t listed = 0;
  auto list = [&listed](size_t n) {
    grpc::ClientContext context;
    v1::ListKeysRequest request;
    request.set_purpose(std::string(n, 'p'));
    v1::ListKeysResponse response;
    grpc::Status status = key_stub_->ListKeys(&context, request, &response);
    listed = response.keys_size();
    return status;
  };
  struct KeyField {
    const char* rpc;
    const char* field;
    size_t limit;
    grpc::StatusCode at_limit;
    std::function<grpc::Status(size_t)> call;
  };
  const KeyField fields[] = {
      {"CreateKey", "purpose", kMaxPurposeBytes, grpc::StatusCode::OK, create},
      {"GetKey", "key_id", kMaxKeyIdBytes, grpc::StatusCode::NOT_FOUND, get},
      {"ListKeys", "purpose", kMaxPurposeBytes, grpc::StatusCode::OK, list},
  };
  for (const KeyField& f : fields) {
    SCOPED_TRACE(f.rpc);
    grpc::Status status = f.call(f.limit);
    EXPECT_EQ(status.error_code(), f.at_limit) << status.error_message();
    for (size_t n : {f.limit + 1, kMiB}) {
      status = f.call(n);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(status.error_message(), LimitMessage(f.field, n, f.limit));
      EXPECT_LT(status.error_message().size(), kShortMessage);
    }
  }
  // The key created at the limit is the only one with that purpose: the refusals created none.
  ASSERT_TRUE(list(kMaxPurposeBytes).ok());
  EXPECT_EQ(listed, 1u);
}

}  // namespace
}  // namespace ringfence::signer::tx
