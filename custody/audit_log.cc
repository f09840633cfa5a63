#include "custody/audit_log.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include <string>

#include "base/check.h"
#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;

namespace {

constexpr char kDomain[] = "ringfence/audit/v1";
constexpr uint32_t kVerifyPage = 1000;

void PutU32(crypto_hash_sha256_state* state, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  crypto_hash_sha256_update(state, b, sizeof(b));
}

void PutU64(crypto_hash_sha256_state* state, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  crypto_hash_sha256_update(state, b, sizeof(b));
}

void PutField(crypto_hash_sha256_state* state, std::string_view field) {
  PutU32(state, static_cast<uint32_t>(field.size()));
  crypto_hash_sha256_update(state, reinterpret_cast<const uint8_t*>(field.data()), field.size());
}

// Valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF) without control
// characters: what an audit line may hold, so that printing it cannot forge another line.
bool IsCleanUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t length;
    uint32_t code;
    if ((c & 0xe0) == 0xc0) {
      length = 2;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<uint8_t>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinForLength[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    if (code >= 0x80 && code < 0xa0) return false;  // C1 controls
    i += length;
  }
  return true;
}

absl::Status CheckText(std::string_view value, std::string_view field, size_t max, bool required) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(Cat(field, " is ", value.size(), " bytes, above the limit of ", max));
  }
  if (required && value.empty()) return absl::InvalidArgumentError(Cat(field, " must not be empty"));
  if (!IsCleanUtf8(value)) {
    return absl::InvalidArgumentError(Cat(field, " ", Clip(value), " must be UTF-8 without control characters"));
  }
  return absl::OkStatus();
}

AuditVerifyResult Broken(AuditVerifyResult result, uint64_t seq, std::string reason) {
  result.ok = false;
  result.first_bad_seq = seq;
  result.reason = std::move(reason);
  return result;
}

}  // namespace

std::array<uint8_t, 32> AuditLog::EntryHash(uint64_t seq, int64_t unix_ms, const std::array<uint8_t, 32>& prev_hash,
                                            std::string_view actor, std::string_view action,
                                            std::string_view subject, std::string_view details) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>(kDomain), sizeof(kDomain) - 1);
  PutU64(&state, seq);
  PutU64(&state, static_cast<uint64_t>(unix_ms));
  PutField(&state, std::string_view(reinterpret_cast<const char*>(prev_hash.data()), prev_hash.size()));
  PutField(&state, actor);
  PutField(&state, action);
  PutField(&state, subject);
  PutField(&state, details);
  std::array<uint8_t, 32> out;
  crypto_hash_sha256_final(&state, out.data());
  return out;
}

absl::StatusOr<std::string> AuditLog::CanonicalDetails(std::string_view details_json) {
  if (details_json.size() > kMaxAuditDetailsLength) {
    return absl::InvalidArgumentError(
        Cat("details are ", details_json.size(), " bytes, above the limit of ", kMaxAuditDetailsLength));
  }
  nlohmann::json parsed = nlohmann::json::parse(details_json.begin(), details_json.end(), nullptr,
                                                /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::InvalidArgumentError(Cat("details ", Clip(details_json), " are not a JSON object"));
  }
  // nlohmann keeps object keys sorted (std::map), so dump() is one canonical form: sorted keys,
  // no whitespace, strings as UTF-8 (the parser has already refused invalid UTF-8).
  std::string canonical = parsed.dump();
  if (canonical.size() > kMaxAuditDetailsLength) {
    return absl::InvalidArgumentError(
        Cat("details are ", canonical.size(), " bytes in canonical form, above the limit of ", kMaxAuditDetailsLength));
  }
  return canonical;
}

absl::StatusOr<store::AuditRow> AuditLog::Append(store::Txn& txn, std::string_view actor, std::string_view action,
                                                 std::string_view subject, std::string_view details_json,
                                                 int64_t now_unix_ms) {
  RF_RETURN_IF_ERROR(CheckText(actor, "actor", kMaxAuditActorLength, /*required=*/true));
  RF_RETURN_IF_ERROR(CheckText(action, "action", kMaxAuditActionLength, /*required=*/true));
  RF_RETURN_IF_ERROR(CheckText(subject, "subject", kMaxAuditSubjectLength, /*required=*/false));
  RF_ASSIGN_OR_RETURN(std::string details, CanonicalDetails(details_json));

  RF_ASSIGN_OR_RETURN(std::optional<store::AuditRow> head, txn.AuditHeadForUpdate());
  std::array<uint8_t, 32> prev{};
  uint64_t seq = 1;
  if (head) {
    absl::Status decoded = base::HexDecodeInto(head->hash, prev, "audit head hash", base::HexCase::kLowerOnly);
    if (!decoded.ok()) {
      return absl::DataLossError(Cat("the audit log's head (seq ", head->seq, ") has a damaged hash (",
                                     decoded.message(), "); run `custodyd audit verify`"));
    }
    seq = head->seq + 1;
  }
  store::AuditRow row;
  row.seq = seq;
  row.unix_ms = now_unix_ms;
  row.actor = std::string(actor);
  row.action = std::string(action);
  row.subject = std::string(subject);
  row.details = std::move(details);
  row.prev_hash = base::HexEncode(prev);
  row.hash = base::HexEncode(EntryHash(seq, now_unix_ms, prev, row.actor, row.action, row.subject, row.details));
  RF_RETURN_IF_ERROR(txn.AppendAudit(row));
  return row;
}

void AuditDetails::Key(std::string_view key) {
  RF_CHECK(!key.empty() && (text_.size() == 2 || key > last_key_),
           Cat("audit details: key \"", Clip(key), "\" is not after \"", Clip(last_key_), "\""));
  for (char c : key) RF_CHECK(c >= 0x20 && c < 0x7f && c != '"' && c != '\\', "audit details: a key must be plain ASCII");
  last_key_.assign(key);
  text_.pop_back();  // the closing brace
  if (text_.size() > 1) text_.push_back(',');
  text_.push_back('"');
  text_.append(key);
  text_.append("\":");
}

AuditDetails& AuditDetails::Add(std::string_view key, std::string_view value) {
  Key(key);
  bool ascii = true;
  for (char c : value) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) {
    // nlohmann::json's escaping (dump() without ensure_ascii): the two-character escapes,
    // \u00xx (lowercase hex) for the other control characters, everything else as it is.
    static constexpr char kHex[] = "0123456789abcdef";
    text_.push_back('"');
    for (char c : value) {
      switch (c) {
        case '"': text_.append("\\\""); break;
        case '\\': text_.append("\\\\"); break;
        case '\b': text_.append("\\b"); break;
        case '\f': text_.append("\\f"); break;
        case '\n': text_.append("\\n"); break;
        case '\r': text_.append("\\r"); break;
        case '\t': text_.append("\\t"); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            text_.append("\\u00");
            text_.push_back(kHex[(c >> 4) & 0xf]);
            text_.push_back(kHex[c & 0xf]);
          } else {
            text_.push_back(c);
          }
      }
    }
    text_.push_back('"');
  } else {
    // Beyond ASCII the serializer itself decides (and refuses text that is not UTF-8).
    try {
      text_.append(nlohmann::json(std::string(value)).dump());
    } catch (const nlohmann::json::exception&) {
      text_.append("null");
      if (status_.ok()) status_ = absl::InvalidArgumentError(Cat("details: ", Clip(key), " is not valid UTF-8"));
    }
  }
  text_.push_back('}');
  return *this;
}

AuditDetails& AuditDetails::Add(std::string_view key, uint64_t value) {
  Key(key);
  text_.append(std::to_string(value));
  text_.push_back('}');
  return *this;
}

absl::StatusOr<uint64_t> AuditLog::AppendBatch(store::Txn& txn, std::span<const AuditInput> entries) {
  if (entries.empty()) return absl::InvalidArgumentError("entries: at least one audit entry to append");
  for (size_t i = 0; i < entries.size(); ++i) {
    const AuditInput& e = entries[i];
    absl::Status s = CheckText(e.actor, "actor", kMaxAuditActorLength, /*required=*/true);
    if (s.ok()) s = CheckText(e.action, "action", kMaxAuditActionLength, /*required=*/true);
    if (s.ok()) s = CheckText(e.subject, "subject", kMaxAuditSubjectLength, /*required=*/false);
    if (s.ok()) s = e.details.status();
    if (s.ok() && e.details.text().size() > kMaxAuditDetailsLength) {
      s = absl::InvalidArgumentError(
          Cat("details are ", e.details.text().size(), " bytes, above the limit of ", kMaxAuditDetailsLength));
    }
    if (!s.ok()) return absl::InvalidArgumentError(Cat("entries[", i, "]: ", s.message()));
  }
  RF_ASSIGN_OR_RETURN(std::optional<store::AuditRow> head, txn.AuditHeadForUpdate());
  std::array<uint8_t, 32> prev{};
  uint64_t seq = 1;
  store::AuditRow row;
  if (head) {
    absl::Status decoded = base::HexDecodeInto(head->hash, prev, "audit head hash", base::HexCase::kLowerOnly);
    if (!decoded.ok()) {
      return absl::DataLossError(Cat("the audit log's head (seq ", head->seq, ") has a damaged hash (",
                                     decoded.message(), "); run `custodyd audit verify`"));
    }
    seq = head->seq + 1;
    row.hash = std::move(head->hash);
  } else {
    row.hash = base::HexEncode(prev);
  }
  const uint64_t first = seq;
  for (const AuditInput& e : entries) {
    row.seq = seq;
    row.unix_ms = e.unix_ms;
    row.actor.assign(e.actor);
    row.action.assign(e.action);
    row.subject.assign(e.subject);
    row.details.assign(e.details.text());
    row.prev_hash = std::move(row.hash);
    prev = EntryHash(seq, e.unix_ms, prev, row.actor, row.action, row.subject, row.details);
    row.hash = base::HexEncode(prev);
    RF_RETURN_IF_ERROR(txn.AppendAudit(row));
    ++seq;
  }
  return first;
}

absl::StatusOr<AuditVerifyResult> AuditLog::Verify(store::Txn& txn, const std::optional<AuditAnchor>& anchor) {
  AuditVerifyResult result;
  std::array<uint8_t, 32> expected_prev{};
  uint64_t expected_seq = 1;
  for (;;) {
    RF_ASSIGN_OR_RETURN(std::vector<store::AuditRow> rows, txn.ListAudit(expected_seq - 1, kVerifyPage));
    for (const store::AuditRow& row : rows) {
      ++result.entries;
      if (row.seq != expected_seq) {
        return Broken(result, expected_seq,
                      Cat("entry ", expected_seq, " is missing: the next entry is ", row.seq));
      }
      std::array<uint8_t, 32> prev;
      if (!base::HexDecodeInto(row.prev_hash, prev, "prev_hash", base::HexCase::kLowerOnly).ok()) {
        return Broken(result, row.seq, Cat("entry ", row.seq, ": prev_hash is not 64 lowercase hex digits"));
      }
      if (prev != expected_prev) {
        return Broken(result, row.seq,
                      row.seq == 1 ? std::string("entry 1: prev_hash is not all zeros")
                                   : Cat("entry ", row.seq, ": prev_hash is not the hash of entry ", row.seq - 1,
                                         " (an entry before it was changed, removed, inserted or reordered)"));
      }
      const std::array<uint8_t, 32> hash =
          EntryHash(row.seq, row.unix_ms, prev, row.actor, row.action, row.subject, row.details);
      if (row.hash != base::HexEncode(hash)) {
        return Broken(result, row.seq, Cat("entry ", row.seq, ": the hash does not match its contents (changed)"));
      }
      absl::StatusOr<std::string> canonical = CanonicalDetails(row.details);
      if (!canonical.ok() || *canonical != row.details) {
        return Broken(result, row.seq, Cat("entry ", row.seq, ": details are not canonical JSON"));
      }
      if (anchor && anchor->seq == row.seq && anchor->hash != row.hash) {
        return Broken(result, row.seq, Cat("entry ", row.seq, " differs from the anchor recorded for it"));
      }
      expected_prev = hash;
      result.head_seq = row.seq;
      result.head_hash = row.hash;
      ++expected_seq;
    }
    if (rows.size() < kVerifyPage) break;
  }
  if (anchor && anchor->seq > result.head_seq) {
    return Broken(result, result.head_seq + 1,
                  Cat("the log ends at entry ", result.head_seq, " but the anchor records entry ", anchor->seq,
                      " (entries were removed from the end)"));
  }
  return result;
}

}  // namespace ringfence::custody
