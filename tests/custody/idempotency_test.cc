// Idempotency::Run: the key grammar, a first run recorded with its effect, a retry answered
// from the record without running again (also after a reopen), a reused key with another
// request or method refused naming the key, and a failed run recording nothing.
#include "custody/idempotency.h"

#include "proto/custody.pb.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

namespace v1 = ::ringfence::custody::v1;

constexpr char kMethod[] = "/ringfence.custody.v1.Custody/CreateClient";

class IdempotencyTest : public StoreTest {
 protected:
  // CreateClient as a service would run it: insert the client, answer with it.
  absl::StatusOr<IdempotencyOutcome> CreateClient(const v1::CreateClientRequest& request,
                                                  v1::CreateClientResponse* response, const std::string& client_id,
                                                  const std::string& method = kMethod) {
    auto txn = Write();
    auto outcome = Idempotency::Run(*txn, request.idempotency_key(), method, request, response, [&]() -> absl::Status {
      ++runs_;
      store::ClientRow row;
      row.client_id = client_id;
      row.client_ref = request.client_ref();
      row.created_unix_ms = 1234;
      absl::Status inserted = txn->InsertClient(row);
      if (!inserted.ok()) return inserted;
      response->mutable_client()->set_client_id(client_id);
      response->mutable_client()->set_client_ref(request.client_ref());
      response->mutable_client()->set_created_unix_ms(1234);
      return absl::OkStatus();
    });
    if (outcome.ok()) {
      EXPECT_TRUE(txn->Commit().ok());
    }
    return outcome;
  }

  size_t ClientCount() { return Read()->ListClients(store::Page{})->size(); }

  int runs_ = 0;
};

v1::CreateClientRequest Request(const std::string& key, const std::string& ref) {
  v1::CreateClientRequest request;
  request.set_idempotency_key(key);
  request.set_client_ref(ref);
  return request;
}

TEST(IdempotencyKeyTest, FollowsTheGrammar) {
  for (const std::string& good : std::vector<std::string>{"a", "K-1", "2024-05-01T10:00:00.123Z", "a_b.c:d-e", std::string(128, 'k')}) {
    EXPECT_TRUE(Idempotency::CheckKey(good).ok()) << good;
  }
  for (const std::string& bad : std::vector<std::string>{std::string(), std::string(129, 'k'), std::string("a b"), std::string("a/b"),
                                std::string("caf\xc3\xa9"), std::string("k\n"), std::string("a\0b", 3),
                                std::string("{\"k\":1}")}) {
    const absl::Status st = Idempotency::CheckKey(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("idempotency_key"), std::string::npos) << st;
    EXPECT_LT(st.message().size(), 160u) << "outside input is clipped";
  }
}

TEST(IdempotencyHashTest, CoversMethodAndRequestButNotTheKey) {
  const auto a = Idempotency::RequestHash(kMethod, Request("k1", "ref"));
  const auto b = Idempotency::RequestHash(kMethod, Request("k2", "ref"));
  const auto c = Idempotency::RequestHash(kMethod, Request("k1", "other"));
  const auto d = Idempotency::RequestHash("/ringfence.custody.v1.Custody/FreezeClient", Request("k1", "ref"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_NE(*a, *d);
}

TEST_F(IdempotencyTest, ARetryGetsTheFirstResponseWithoutRunningAgain) {
  v1::CreateClientResponse first;
  auto outcome = CreateClient(Request("key-1", "platform-ref-1"), &first, "c_0000000000000001");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, IdempotencyOutcome::kFresh);
  EXPECT_EQ(runs_, 1);

  v1::CreateClientResponse second;
  second.mutable_client()->set_client_id("stale");  // replaced, not merged
  outcome = CreateClient(Request("key-1", "platform-ref-1"), &second, "c_0000000000000002");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, IdempotencyOutcome::kReplayed);
  EXPECT_EQ(runs_, 1) << "the effect ran once";
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(ClientCount(), 1u);

  // The record is durable: a restarted custodyd answers the same.
  Reopen();
  v1::CreateClientResponse third;
  outcome = CreateClient(Request("key-1", "platform-ref-1"), &third, "c_0000000000000003");
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, IdempotencyOutcome::kReplayed);
  EXPECT_EQ(third.client().client_id(), "c_0000000000000001");
  EXPECT_EQ(ClientCount(), 1u);
}

TEST_F(IdempotencyTest, AReusedKeyWithAnotherRequestIsRefusedNamingTheKey) {
  v1::CreateClientResponse response;
  ASSERT_TRUE(CreateClient(Request("key-1", "ref-a"), &response, "c_1").ok());
  auto other_body = CreateClient(Request("key-1", "ref-b"), &response, "c_2");
  ASSERT_FALSE(other_body.ok());
  EXPECT_EQ(other_body.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other_body.status().message().find("\"key-1\""), std::string::npos) << other_body.status();
  auto other_method = CreateClient(Request("key-1", "ref-a"), &response, "c_3", "/ringfence.custody.v1.Custody/Other");
  ASSERT_FALSE(other_method.ok());
  EXPECT_EQ(other_method.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other_method.status().message().find("key-1"), std::string::npos) << other_method.status();
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(ClientCount(), 1u) << "nothing changed";
}

TEST_F(IdempotencyTest, TheSameRequestUnderANewKeyIsANewRequest) {
  v1::CreateClientResponse response;
  ASSERT_TRUE(CreateClient(Request("key-1", "ref-a"), &response, "c_1").ok());
  auto again = CreateClient(Request("key-2", "ref-a"), &response, "c_2");
  ASSERT_FALSE(again.ok()) << "runs, and the effect itself refuses a second client with the ref";
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runs_, 2);
}

TEST_F(IdempotencyTest, AFailedRunRecordsNothingSoARetryRunsAgain) {
  AddClient("c_taken", "ref-taken");
  v1::CreateClientResponse response;
  auto failed = CreateClient(Request("key-1", "ref-new"), &response, "c_taken");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(Read()->GetIdempotency("key-1")->has_value());
  auto retried = CreateClient(Request("key-1", "ref-new"), &response, "c_free");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, IdempotencyOutcome::kFresh);
  EXPECT_EQ(response.client().client_id(), "c_free");
}

TEST_F(IdempotencyTest, AnInvalidKeyIsRefusedBeforeAnythingRuns) {
  v1::CreateClientResponse response;
  auto outcome = CreateClient(Request("bad key", "ref"), &response, "c_1");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runs_, 0);
  EXPECT_EQ(ClientCount(), 0u);
}

TEST_F(IdempotencyTest, AStoredResponseThatNoLongerParsesIsDataLoss) {
  v1::CreateClientResponse response;
  ASSERT_TRUE(CreateClient(Request("key-1", "ref"), &response, "c_1").ok());
  RawSql("UPDATE idempotency SET response = x'0aff' WHERE key = 'key-1'");
  auto outcome = CreateClient(Request("key-1", "ref"), &response, "c_2");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ringfence::custody::testing
