// AuditLog: the hash format against an independent computation, canonical details (parsed, and
// built directly by AuditDetails), input limits, AppendBatch chaining exactly as Append does,
// and Verify against a file tampered with through SQL: a changed, removed, inserted or
// reordered entry, a rehashed change, a truncated tail (with an anchor).
#include <sodium.h>

#include "base/hex.h"
#include "custody/audit_log.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

class AuditTest : public StoreTest {
 protected:
  // Appends `n` entries, one per committed transaction.
  void AppendEntries(int n) {
    for (int i = 0; i < n; ++i) {
      auto txn = Write();
      auto row = AuditLog::Append(*txn, "platform:CN=platform-1", "CreateClient", "c_" + std::to_string(i),
                                  R"({"client_ref":"r)" + std::to_string(i) + R"("})", 1000 + i);
      ASSERT_TRUE(row.ok()) << row.status();
      ASSERT_TRUE(txn->Commit().ok());
    }
  }

  AuditVerifyResult Verify(const std::optional<AuditAnchor>& anchor = std::nullopt) {
    auto txn = Read();
    auto result = AuditLog::Verify(*txn, anchor);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : AuditVerifyResult{};
  }

  void Tamper(const std::string& sql) {
    RawSql("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; " + sql);
  }

  void ExpectBrokenAt(uint64_t seq, const std::string& needle) {
    const AuditVerifyResult result = Verify();
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.first_bad_seq, seq) << result.reason;
    EXPECT_NE(result.reason.find(needle), std::string::npos) << result.reason;
  }
};

// The format of docs/audit-log.md, built byte by byte here and hashed in one call.
std::string ReferenceHash(uint64_t seq, int64_t unix_ms, const std::string& prev_hex, const std::string& actor,
                          const std::string& action, const std::string& subject, const std::string& details) {
  std::string buf = "ringfence/audit/v1";
  auto u64 = [&](uint64_t v) {
    for (int i = 7; i >= 0; --i) buf.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto field = [&](const std::string& f) {
    const uint32_t n = static_cast<uint32_t>(f.size());
    for (int i = 3; i >= 0; --i) buf.push_back(static_cast<char>(n >> (8 * i)));
    buf += f;
  };
  u64(seq);
  u64(static_cast<uint64_t>(unix_ms));
  auto prev = base::HexDecode(prev_hex);
  field(std::string(prev->begin(), prev->end()));
  field(actor);
  field(action);
  field(subject);
  field(details);
  uint8_t out[32];
  crypto_hash_sha256(out, reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
  return base::HexEncode(std::span<const uint8_t>(out, 32));
}

TEST_F(AuditTest, EntriesChainFromZerosAndMatchTheDocumentedHash) {
  AppendEntries(3);
  auto txn = Read();
  auto rows = txn->ListAudit(0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].prev_hash, std::string(64, '0'));
  for (size_t i = 0; i < rows->size(); ++i) {
    const store::AuditRow& r = (*rows)[i];
    EXPECT_EQ(r.seq, i + 1);
    if (i > 0) {
      EXPECT_EQ(r.prev_hash, (*rows)[i - 1].hash);
    }
    EXPECT_EQ(r.hash, ReferenceHash(r.seq, r.unix_ms, r.prev_hash, r.actor, r.action, r.subject, r.details));
  }
  txn.reset();
  const AuditVerifyResult result = Verify();
  EXPECT_TRUE(result.ok) << result.reason;
  EXPECT_EQ(result.entries, 3u);
  EXPECT_EQ(result.head_seq, 3u);
  EXPECT_EQ(result.head_hash, (*rows)[2].hash);
}

TEST_F(AuditTest, AnEmptyLogVerifies) {
  const AuditVerifyResult result = Verify();
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.entries, 0u);
  EXPECT_EQ(result.head_seq, 0u);
}

TEST_F(AuditTest, DetailsAreStoredInCanonicalForm) {
  auto txn = Write();
  auto row = AuditLog::Append(*txn, "system", "deposit.credited", "tx:1", "{ \"b\" : 2, \"a\": {\"z\":1,\"y\":[3, 4]} }", 5);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->details, R"({"a":{"y":[3,4],"z":1},"b":2})");
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditTest, BadInputIsRefusedAndAppendsNothing) {
  struct Case {
    std::string actor, action, subject, details, needle;
  };
  const std::vector<Case> cases = {
      {"", "a", "s", "{}", "actor must not be empty"},
      {"x", "", "s", "{}", "action must not be empty"},
      {std::string(513, 'x'), "a", "s", "{}", "actor is 513 bytes"},
      {"x", std::string(65, 'a'), "s", "{}", "action is 65 bytes"},
      {"x", "a", std::string(513, 's'), "{}", "subject is 513 bytes"},
      {"x\n", "a", "s", "{}", "actor"},
      {"x", "a\x1b[31m", "s", "{}", "action"},
      {"x", "a", "\xc3\x28", "{}", "subject"},
      {"x", "a", "\xed\xa0\x80", "{}", "subject"},  // a UTF-16 surrogate
      {"x", "a", "\xc0\xaf", "{}", "subject"},       // overlong '/'
      {"x", "a", "s", "", "not a JSON object"},
      {"x", "a", "s", "[1,2]", "not a JSON object"},
      {"x", "a", "s", "{\"a\":", "not a JSON object"},
      {"x", "a", "s", "{\"a\":\"\xff\"}", "not a JSON object"},
      {"x", "a", "s", "{\"a\":\"" + std::string(16 * 1024, 'd') + "\"}", "above the limit"},
  };
  auto txn = Write();
  for (const Case& c : cases) {
    auto row = AuditLog::Append(*txn, c.actor, c.action, c.subject, c.details, 1);
    ASSERT_FALSE(row.ok()) << c.needle;
    EXPECT_EQ(row.status().code(), absl::StatusCode::kInvalidArgument) << row.status();
    EXPECT_NE(row.status().message().find(c.needle), std::string::npos) << row.status();
    EXPECT_LT(row.status().message().size(), 200u) << "outside input is clipped in messages";
  }
  EXPECT_TRUE(AuditLog::Append(*txn, "admin:CN=ops \xc3\xa9", "FreezeClient", "", "{}", 1).ok()) << "UTF-8 is fine";
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(Verify().entries, 1u);
}

TEST_F(AuditTest, TheTableRefusesUpdatesAndDeletesThroughSql) {
  AppendEntries(2);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_log WHERE seq = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditTest, VerifyFindsAChangedEntry) {
  AppendEntries(5);
  Tamper("UPDATE audit_log SET details = '{\"client_ref\":\"evil\"}' WHERE seq = 3");
  ExpectBrokenAt(3, "changed");
}

TEST_F(AuditTest, VerifyFindsAChangedTimestamp) {
  AppendEntries(5);
  Tamper("UPDATE audit_log SET unix_ms = unix_ms + 1 WHERE seq = 4");
  ExpectBrokenAt(4, "changed");
}

TEST_F(AuditTest, VerifyFindsAChangeWhoseHashWasRecomputed) {
  AppendEntries(5);
  auto rows = *Read()->ListAudit(0, 10);
  const store::AuditRow& r = rows[2];
  const std::string forged = ReferenceHash(r.seq, r.unix_ms, r.prev_hash, "admin:CN=mallory", r.action, r.subject, r.details);
  Tamper("UPDATE audit_log SET actor = 'admin:CN=mallory', hash = '" + forged + "' WHERE seq = 3");
  ExpectBrokenAt(4, "prev_hash is not the hash of entry 3");
}

TEST_F(AuditTest, VerifyFindsARemovedEntry) {
  AppendEntries(5);
  Tamper("DELETE FROM audit_log WHERE seq = 3");
  ExpectBrokenAt(3, "entry 3 is missing");
}

TEST_F(AuditTest, VerifyFindsARemovedFirstEntry) {
  AppendEntries(3);
  Tamper("DELETE FROM audit_log WHERE seq = 1");
  ExpectBrokenAt(1, "entry 1 is missing");
}

TEST_F(AuditTest, VerifyFindsARemovedEntryWithTheRestRenumbered) {
  AppendEntries(5);
  Tamper("DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2");
  ExpectBrokenAt(2, "prev_hash");
}

TEST_F(AuditTest, VerifyFindsAnInsertedEntry) {
  AppendEntries(5);
  // Make room at seq 3 (moving the tail up one, highest first) and put a plausible entry there,
  // correctly hashed over entry 2.
  auto rows = *Read()->ListAudit(0, 10);
  const std::string hash = ReferenceHash(3, 1002, rows[1].hash, "admin:CN=mallory", "UnfreezeClient", "c_1", "{}");
  Tamper("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 99 WHERE seq > 100;"
         " INSERT INTO audit_log VALUES (3, 1002, 'admin:CN=mallory', 'UnfreezeClient', 'c_1', '{}', '" +
         rows[1].hash + "', '" + hash + "')");
  ExpectBrokenAt(4, "prev_hash is not the hash of entry 3");
}

TEST_F(AuditTest, VerifyFindsAnAppendedEntryWithABadHash) {
  AppendEntries(2);
  auto rows = *Read()->ListAudit(0, 10);
  Tamper("INSERT INTO audit_log VALUES (3, 5, 'x', 'y', 'z', '{}', '" + rows[1].hash + "', '" + std::string(64, 'a') +
         "')");
  ExpectBrokenAt(3, "changed");
}

TEST_F(AuditTest, VerifyFindsReorderedEntries) {
  AppendEntries(5);
  Tamper("UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4;"
         " UPDATE audit_log SET seq = 4 WHERE seq = 100");
  ExpectBrokenAt(2, "prev_hash");
}

TEST_F(AuditTest, VerifyFindsAMangledPrevHash) {
  AppendEntries(2);
  Tamper("UPDATE audit_log SET prev_hash = 'zz' WHERE seq = 2");
  ExpectBrokenAt(2, "not 64 lowercase hex digits");
}

TEST_F(AuditTest, AnAnchorRevealsATruncatedTail) {
  AppendEntries(5);
  const AuditVerifyResult full = Verify();
  ASSERT_TRUE(full.ok);
  const AuditAnchor anchor{full.head_seq, full.head_hash};
  EXPECT_TRUE(Verify(anchor).ok);
  Tamper("DELETE FROM audit_log WHERE seq >= 4");
  EXPECT_TRUE(Verify().ok) << "a shorter chain is valid on its own";
  const AuditVerifyResult truncated = Verify(anchor);
  EXPECT_FALSE(truncated.ok);
  EXPECT_EQ(truncated.first_bad_seq, 4u);
  EXPECT_NE(truncated.reason.find("removed from the end"), std::string::npos) << truncated.reason;
  EXPECT_FALSE(Verify(AuditAnchor{2, std::string(64, 'b')}).ok) << "an anchor whose hash differs";
}

TEST_F(AuditTest, AppendingAfterADamagedHeadIsRefused) {
  AppendEntries(1);
  Tamper("UPDATE audit_log SET hash = 'nothex' WHERE seq = 1");
  auto txn = Write();
  auto row = AuditLog::Append(*txn, "system", "x", "", "{}", 1);
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditTest, DetailsBuiltDirectlyAreCanonical) {
  // Every ASCII character (the escapes are nlohmann::json's), and UTF-8 beyond it.
  for (int c = 0; c < 0x80; ++c) {
    AuditDetails d;
    d.Add("a", std::string(1, static_cast<char>(c)) + "x").Add("b", static_cast<uint64_t>(c));
    ASSERT_TRUE(d.status().ok());
    auto canonical = AuditLog::CanonicalDetails(d.text());
    ASSERT_TRUE(canonical.ok()) << c << ": " << canonical.status();
    EXPECT_EQ(*canonical, d.text()) << "character " << c;
  }
  AuditDetails d;
  d.Add("address", "bcrt1q\"\\\n\x01\x7f")
      .Add("amount", "340282366920938463463374607431768211455")
      .Add("block_height", uint64_t{18446744073709551615u})
      .Add("client_id", "")
      .Add("name", "caf\xc3\xa9 \xf0\x9f\x94\x92");
  ASSERT_TRUE(d.status().ok()) << d.status();
  EXPECT_EQ(d.text(),
            R"({"address":"bcrt1q\"\\\n\u0001)" "\x7f" R"(","amount":"340282366920938463463374607431768211455",)"
            R"("block_height":18446744073709551615,"client_id":"",)"
            "\"name\":\"caf\xc3\xa9 \xf0\x9f\x94\x92\"}");
  EXPECT_EQ(*AuditLog::CanonicalDetails(d.text()), d.text());
  EXPECT_EQ(AuditDetails().text(), "{}");
  AuditDetails bad;
  bad.Add("a", "\xc3\x28");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditTest, AppendBatchChainsAsAppendDoes) {
  // The same five entries through Append one by one, and through Append + AppendBatch(3) +
  // Append in another file: the two logs are identical, hash for hash.
  auto inputs = [] {
    std::vector<AuditInput> in(5);
    for (int i = 0; i < 5; ++i) {
      in[i].actor = "system";
      in[i].action = "deposit.credited";
      in[i].subject = "tx:" + std::to_string(i);
      in[i].details.Add("amount", std::to_string(1000 + i)).Add("journal_seq", uint64_t(i + 1));
      in[i].unix_ms = 5000 + i;
    }
    return in;
  }();
  {
    auto txn = Write();
    for (const AuditInput& e : inputs) {
      ASSERT_TRUE(AuditLog::Append(*txn, e.actor, e.action, e.subject, e.details.text(), e.unix_ms).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto other = store::SqliteStore::Open((dir_ / "batched.db").string());
  ASSERT_TRUE(other.ok()) << other.status();
  {
    auto txn = (*other)->Begin();
    ASSERT_TRUE(txn.ok());
    const AuditInput& e = inputs[0];
    ASSERT_TRUE(AuditLog::Append(**txn, e.actor, e.action, e.subject, e.details.text(), e.unix_ms).ok());
    auto first = AuditLog::AppendBatch(**txn, std::span<const AuditInput>(inputs).subspan(1, 3));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, 2u);
    const AuditInput& l = inputs[4];
    ASSERT_TRUE(AuditLog::Append(**txn, l.actor, l.action, l.subject, l.details.text(), l.unix_ms).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto mine = Read();
  auto theirs = (*other)->BeginRead();
  ASSERT_TRUE(theirs.ok());
  auto a = mine->ListAudit(0, 10);
  auto b = (*theirs)->ListAudit(0, 10);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 5u);
  ASSERT_EQ(b->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*b)[i].seq, i + 1);
    EXPECT_EQ((*b)[i].details, (*a)[i].details);
    EXPECT_EQ((*b)[i].prev_hash, (*a)[i].prev_hash);
    EXPECT_EQ((*b)[i].hash, (*a)[i].hash) << "entry " << i + 1;
    EXPECT_EQ((*b)[i].hash, ReferenceHash((*b)[i].seq, (*b)[i].unix_ms, (*b)[i].prev_hash, (*b)[i].actor,
                                          (*b)[i].action, (*b)[i].subject, (*b)[i].details));
  }
  auto verified = AuditLog::Verify(**theirs);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->entries, 5u);
}

TEST_F(AuditTest, AppendBatchRefusesBadInputAndAppendsNothing) {
  AppendEntries(1);
  auto batch = [](std::string_view action, std::string subject, std::string value) {
    std::vector<AuditInput> in(3);
    for (AuditInput& e : in) {
      e.actor = "system";
      e.action = "deposit.detected";
      e.details.Add("v", "ok");
    }
    in[1].action = action;
    in[1].subject = std::move(subject);
    in[1].details = AuditDetails();
    in[1].details.Add("v", value);
    return in;
  };
  struct Case {
    std::vector<AuditInput> entries;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {batch("", "s", "x"), "entries[1]: action must not be empty"},
      {batch("a", "s\n", "x"), "entries[1]: subject"},
      {batch("a", "s", "\xff"), R"(entries[1]: details: "v" is not valid UTF-8)"},
      {batch("a", "s", std::string(16 * 1024, 'd')), "entries[1]: details are"},
      {{}, "at least one"},
  };
  for (const Case& c : cases) {
    auto txn = Write();
    auto first = AuditLog::AppendBatch(*txn, c.entries);
    ASSERT_FALSE(first.ok()) << c.needle;
    EXPECT_EQ(first.status().code(), absl::StatusCode::kInvalidArgument) << first.status();
    EXPECT_NE(first.status().message().find(c.needle), std::string::npos) << first.status();
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(Verify().entries, 1u) << "a refused batch appended something";
}

using AuditDeathTest = AuditTest;

TEST_F(AuditDeathTest, DetailKeysOutOfOrderAreAProgrammingError) {
  EXPECT_DEATH(AuditDetails().Add("b", "1").Add("a", "2"), "is not after");
  EXPECT_DEATH(AuditDetails().Add("a", "1").Add("a", "2"), "is not after");
  EXPECT_DEATH(AuditDetails().Add("a\"", "1"), "plain ASCII");
}

TEST_F(AuditTest, VerifyReadsAcrossPages) {
  {
    auto txn = Write();
    for (int i = 0; i < 2500; ++i) {
      ASSERT_TRUE(AuditLog::Append(*txn, "system", "deposit.seen", "tx:" + std::to_string(i), "{}", i).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  const AuditVerifyResult result = Verify();
  EXPECT_TRUE(result.ok) << result.reason;
  EXPECT_EQ(result.entries, 2500u);
  Tamper("UPDATE audit_log SET subject = 'tx:x' WHERE seq = 2001");
  ExpectBrokenAt(2001, "changed");
}

}  // namespace
}  // namespace ringfence::custody::testing
