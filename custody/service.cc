#include "custody/service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <new>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "custody/allocation.h"
#include "custody/approvers.h"
#include "custody/audit_log.h"
#include "custody/cold_keys.h"
#include "custody/deposits.h"
#include "custody/idempotency.h"
#include "custody/invariants.h"
#include "custody/ledger.h"
#include "offline/bundle.h"
#include "custody/reconciler.h"
#include "policy/ids.h"

namespace ringfence::custody {
namespace {

using base::Cat;
using base::Clip;
using nlohmann::json;

constexpr std::string_view kServiceName = "ringfence.custody.v1.Custody";

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

std::string FullMethod(std::string_view method) { return Cat("/", kServiceName, "/", method); }

// --- field checks: each names the field and the rule, quoting input only through Clip --------

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

absl::Status CheckLength(std::string_view field, std::string_view value, size_t max) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(Cat(field, ": ", value.size(), " bytes, at most ", max));
  }
  return absl::OkStatus();
}

// 1..max bytes of [A-Za-z0-9._:-].
absl::Status CheckIdText(std::string_view field, std::string_view value, size_t max = kMaxIdLength) {
  RF_RETURN_IF_ERROR(CheckLength(field, value, max));
  if (value.empty()) return absl::InvalidArgumentError(Cat(field, ": required (1..", max, " bytes of [A-Za-z0-9._:-])"));
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsIdChar(value[i])) {
      return absl::InvalidArgumentError(
          Cat(field, ": may hold only [A-Za-z0-9._:-] (byte ", i, " of ", Clip(value), " is not)"));
    }
  }
  return absl::OkStatus();
}

// A client id as custodyd makes them: "c_" + 16 lowercase hex digits.
absl::Status CheckClientId(std::string_view field, std::string_view value) {
  RF_RETURN_IF_ERROR(CheckIdText(field, value));
  bool ok = value.size() == 18 && value.substr(0, 2) == "c_";
  for (size_t i = 2; ok && i < value.size(); ++i) {
    ok = (value[i] >= '0' && value[i] <= '9') || (value[i] >= 'a' && value[i] <= 'f');
  }
  if (!ok) {
    return absl::InvalidArgumentError(Cat(field, ": must be c_ followed by 16 lowercase hex digits (got ",
                                          Clip(value), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckReason(std::string_view field, std::string_view value) {
  RF_RETURN_IF_ERROR(CheckLength(field, value, kMaxReasonLength));
  if (value.empty()) return absl::InvalidArgumentError(Cat(field, ": required (1..", kMaxReasonLength, " printable bytes)"));
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] < 0x20 || value[i] >= 0x7f) {
      return absl::InvalidArgumentError(Cat(field, ": must be printable ASCII (byte ", i, " is not)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPageSize(std::string_view field, uint32_t size) {
  if (size > kMaxPageSize) {
    return absl::InvalidArgumentError(Cat(field, ": ", size, " is above ", kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  return absl::OkStatus();
}

uint32_t PageSizeOrDefault(uint32_t size) { return size == 0 ? kDefaultPageSize : size; }

// Page tokens: lowercase hex of "<kind>|<filter>|<cursor>". The kind and the filter bind a
// token to the listing (and its filters) that issued it; the cursor is where the next page
// starts. Opaque to callers; checked fully on the way back in.
std::string EncodePageToken(char kind, std::string_view filter, std::string_view cursor) {
  return base::HexEncode(Cat(kind, '|', filter, '|', cursor));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view token, char kind, std::string_view filter) {
  constexpr std::string_view kField = "page_token";
  RF_RETURN_IF_ERROR(CheckLength(kField, token, kMaxPageTokenLength));
  if (token.empty()) return std::string();
  absl::StatusOr<std::vector<uint8_t>> bytes = base::HexDecode(token, kField, base::HexCase::kLowerOnly);
  if (!bytes.ok()) return absl::InvalidArgumentError(Cat(kField, ": not a token this server issued (", Clip(token), ")"));
  const std::string text(bytes->begin(), bytes->end());
  const size_t first = text.find('|');
  const size_t second = first == std::string::npos ? first : text.find('|', first + 1);
  if (first != 1 || second == std::string::npos || text[0] != kind ||
      std::string_view(text).substr(first + 1, second - first - 1) != filter) {
    return absl::InvalidArgumentError(
        Cat(kField, ": was not issued by this listing with these filters (", Clip(token), ")"));
  }
  std::string cursor = text.substr(second + 1);
  if (cursor.empty() || cursor.size() > 100 || !std::all_of(cursor.begin(), cursor.end(), IsIdChar)) {
    return absl::InvalidArgumentError(Cat(kField, ": carries a malformed cursor (", Clip(token), ")"));
  }
  return cursor;
}

// A journal seq cursor: canonical decimal, 1..2^63-1.
absl::Status CheckSeqCursor(std::string_view cursor) {
  const base::BaseUnitsScan scan = base::ScanBaseUnits(cursor);
  if (!scan.ok() || scan.value == 0 || scan.value > static_cast<base::Uint128>(INT64_MAX)) {
    return absl::InvalidArgumentError(Cat("page_token: carries a malformed cursor (", Clip(cursor), ")"));
  }
  return absl::OkStatus();
}

// --- conversions -------------------------------------------------------------------------------

void FillClient(const store::ClientRow& row, v1::Client* out) {
  out->set_client_id(row.client_id);
  out->set_client_ref(row.client_ref);
  out->set_frozen(row.frozen);
  out->set_frozen_reason(row.frozen_reason);
  out->set_created_unix_ms(row.created_unix_ms);
}

void FillAsset(const AssetConfig& a, v1::Asset* out) {
  out->set_asset_id(a.id);
  out->set_chain(a.chain);
  out->set_network(a.network);
  out->set_decimals(a.decimals);
  out->set_confirmations(a.confirmations);
  out->set_erc20_contract(a.erc20_contract);
}

void FillAddress(const store::AddressRow& row, v1::DepositAddress* out) {
  out->set_address(row.address);
  out->set_client_id(row.client_id);
  out->set_asset_id(row.asset_id);
  out->set_wallet_id(row.wallet_id);
  out->set_key_id(row.key_id);
  out->set_created_unix_ms(row.created_unix_ms);
}

uint32_t DecimalsOf(const Config& config, std::string_view asset_id) {
  const AssetConfig* a = config.FindAsset(asset_id);
  return a == nullptr ? 0 : a->decimals;
}

void FillEntry(const Config& config, const store::JournalEntry& e, v1::LedgerEntry* out) {
  out->set_seq(e.seq);
  out->set_asset_id(e.asset_id);
  out->set_decimals(DecimalsOf(config, e.asset_id));
  out->set_kind(e.kind);
  out->set_reference(e.reference);
  out->set_created_unix_ms(e.created_unix_ms);
  for (const store::Posting& p : e.postings) {
    v1::Posting* posting = out->add_postings();
    posting->set_account(p.account);
    posting->set_debit(p.debit ? p.amount.ToBaseUnitString() : "0");
    posting->set_credit(p.debit ? "0" : p.amount.ToBaseUnitString());
  }
}

v1::OwnerClass OwnerClassOf(std::string_view owner_class) {
  if (owner_class == "client") return v1::OWNER_CLASS_CLIENT;
  if (owner_class == "house") return v1::OWNER_CLASS_HOUSE;
  return v1::OWNER_CLASS_UNSPECIFIED;
}

v1::Tier TierOf(std::string_view tier) {
  if (tier == "hot") return v1::TIER_HOT;
  if (tier == "cold") return v1::TIER_COLD;
  return v1::TIER_UNSPECIFIED;
}

// The configured asset `asset_id` names; NOT_FOUND if none. REQUIRES: grammar already checked.
absl::StatusOr<const AssetConfig*> KnownAsset(const Config& config, std::string_view field, std::string_view asset_id) {
  const AssetConfig* asset = config.FindAsset(asset_id);
  if (asset == nullptr) return absl::NotFoundError(Cat(field, ": no asset ", Clip(asset_id), " is configured"));
  return asset;
}

absl::StatusOr<store::ClientRow> KnownClient(store::Txn& txn, std::string_view field, const std::string& client_id) {
  RF_ASSIGN_OR_RETURN(std::optional<store::ClientRow> client, txn.GetClient(client_id));
  if (!client) return absl::NotFoundError(Cat(field, ": no client ", Clip(client_id)));
  return *std::move(client);
}

void AddPositions(const Config& config, const std::map<std::string, ClientPositionValue>& positions,
                  google::protobuf::RepeatedPtrField<v1::Position>* out) {
  auto add = [&](const std::string& asset_id, const ClientPositionValue& value) {
    v1::Position* p = out->Add();
    p->set_asset_id(asset_id);
    p->set_decimals(DecimalsOf(config, asset_id));
    p->set_available(value.available.ToBaseUnitString());
    p->set_held(value.held.ToBaseUnitString());
  };
  // Every configured asset, zero or not, then any other the journal holds.
  for (const AssetConfig& a : config.assets) {
    auto it = positions.find(a.id);
    add(a.id, it == positions.end() ? ClientPositionValue{} : it->second);
  }
  for (const auto& [asset_id, value] : positions) {
    if (config.FindAsset(asset_id) == nullptr) add(asset_id, value);
  }
}

}  // namespace

CustodyService::CustodyService(const Config& config, store::Store& store, Env& env, SignerClient& signer,
                               const Authenticator& auth)
    : config_(config),
      store_(store),
      env_(env),
      signer_(signer),
      auth_(auth),
      whitelists_(config),
      withdrawals_(config) {
  if (config_.withdrawals.has_value()) {
    expiry_thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(expiry_mu_);
      while (!expiry_cv_.wait_for(lock, std::chrono::milliseconds(kExpiryIntervalMs), [this] { return stopping_; })) {
        lock.unlock();
        absl::StatusOr<size_t> closed = ExpireOverdueOnce();
        if (!closed.ok()) {
          std::fprintf(stderr, "custodyd: WARNING expiring overdue approvals: %s\n",
                       std::string(closed.status().message()).c_str());
        }
        lock.lock();
      }
    });
  }
}

CustodyService::~CustodyService() {
  {
    std::lock_guard<std::mutex> lock(expiry_mu_);
    stopping_ = true;
  }
  expiry_cv_.notify_all();
  if (expiry_thread_.joinable()) expiry_thread_.join();
}

absl::StatusOr<size_t> CustodyService::ExpireOverdueOnce() {
  const int64_t now = env_.NowUnixMs();
  {
    // Look first through a snapshot, so that a quiet service never takes the writer.
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> read, store_.BeginRead());
    RF_ASSIGN_OR_RETURN(std::vector<store::WithdrawalRow> w, read->ListOverdueWithdrawals(now / 1000, 1));
    RF_ASSIGN_OR_RETURN(std::vector<store::WhitelistEntryRow> e, read->ListOverdueWhitelistEntries(now / 1000, 1));
    if (w.empty() && e.empty()) return 0;
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  RF_ASSIGN_OR_RETURN(size_t closed, withdrawals_.ExpireOverdue(*txn, now, 100));
  RF_RETURN_IF_ERROR(txn->Commit());
  if (closed > 0) NotifyWithdrawalEvents();
  return closed;
}

grpc::Status CustodyService::Serve(std::string_view method, grpc::ServerContextBase* context,
                                   absl::FunctionRef<absl::Status()> validate,
                                   absl::FunctionRef<absl::Status(const Caller&)> run) {
  try {
    absl::Status valid = validate();
    if (!valid.ok()) return ToGrpc(valid);
    const Caller caller = auth_.Identify(*context->auth_context());
    if (!caller.role.has_value()) {
      AuditDenial(caller, method, caller.why_no_role);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, Cat(method, ": ", caller.why_no_role));
    }
    if (!IsAllowed(method, *caller.role)) {
      std::string allowed;
      for (Role r : AllowedRoles(method)) allowed += Cat(allowed.empty() ? "" : ", ", RoleName(r));
      const std::string reason = Cat("role ", RoleName(*caller.role), " may not call ", method, " (allowed: ", allowed, ")");
      AuditDenial(caller, method, reason);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, reason);
    }
    return ToGrpc(run(caller));
  } catch (const std::bad_alloc&) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, Cat(method, ": out of memory"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custodyd: ERROR %s threw: %s\n", std::string(method).c_str(), e.what());
    return grpc::Status(grpc::StatusCode::INTERNAL, Cat(method, ": internal error"));
  } catch (...) {
    std::fprintf(stderr, "custodyd: ERROR %s threw a non-standard exception\n", std::string(method).c_str());
    return grpc::Status(grpc::StatusCode::INTERNAL, Cat(method, ": internal error"));
  }
}

void CustodyService::AuditDenial(const Caller& caller, std::string_view method, std::string_view reason) {
  absl::Status s = [&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
    const json details = {{"method", std::string(method)}, {"reason", std::string(reason)}};
    RF_RETURN_IF_ERROR(AuditLog::Append(*txn, caller.Actor(), "denied", method, details.dump(), env_.NowUnixMs()).status());
    return txn->Commit();
  }();
  if (!s.ok()) {
    std::fprintf(stderr, "custodyd: ERROR could not audit a denied %s by %s: %s\n", std::string(method).c_str(),
                 caller.Actor().c_str(), std::string(s.message()).c_str());
  }
}

absl::Status CustodyService::Mutate(std::string_view method, std::string_view idempotency_key,
                                    const google::protobuf::Message& request, google::protobuf::Message* response,
                                    absl::FunctionRef<absl::Status(store::Txn&)> effect) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  RF_ASSIGN_OR_RETURN(IdempotencyOutcome outcome,
                      Idempotency::Run(*txn, idempotency_key, FullMethod(method), request, response,
                                       [&]() { return effect(*txn); }));
  // A replay changed nothing; the transaction is dropped (rolled back) unused.
  if (outcome == IdempotencyOutcome::kReplayed) return absl::OkStatus();
  return txn->Commit();
}

// --- assets and wallets --------------------------------------------------------------------------

grpc::Status CustodyService::ListAssets(grpc::ServerContext* context, const v1::ListAssetsRequest*,
                                        v1::ListAssetsResponse* response) {
  return Serve(
      "ListAssets", context, [] { return absl::OkStatus(); },
      [&](const Caller&) {
        for (const AssetConfig& a : config_.assets) FillAsset(a, response->add_assets());
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::ListWallets(grpc::ServerContext* context, const v1::ListWalletsRequest* request,
                                         v1::ListWalletsResponse* response) {
  return Serve(
      "ListWallets", context,
      [&] { return request->asset_id().empty() ? absl::OkStatus() : CheckIdText("asset_id", request->asset_id()); },
      [&](const Caller&) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        for (const AssetConfig& a : config_.assets) {
          if (!request->asset_id().empty() && a.id != request->asset_id()) continue;
          for (const store::WalletRow& w : WalletsOf(a)) {
            v1::Wallet* out = response->add_wallets();
            out->set_wallet_id(w.wallet_id);
            out->set_asset_id(w.asset_id);
            out->set_owner_class(OwnerClassOf(w.owner_class));
            out->set_tier(TierOf(w.tier));
            out->set_signer(w.signer);
            out->set_decimals(a.decimals);
            RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> addresses, txn->ListAddressesOfWallet(w.wallet_id));
            for (const store::AddressRow& row : addresses) out->add_addresses(row.address);
            RF_ASSIGN_OR_RETURN(base::Amount holding, Ledger::WalletHolding(*txn, w.wallet_id));
            out->set_ledger_balance(holding.ToBaseUnitString());
            RF_ASSIGN_OR_RETURN(auto observed, txn->GetObservedBalance(w.wallet_id));
            if (observed) {
              out->set_chain_balance(observed->first.ToBaseUnitString());
              out->set_chain_height(observed->second);
            }
          }
        }
        return absl::OkStatus();
      });
}

// --- clients ---------------------------------------------------------------------------------

grpc::Status CustodyService::CreateClient(grpc::ServerContext* context, const v1::CreateClientRequest* request,
                                          v1::CreateClientResponse* response) {
  return Serve(
      "CreateClient", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        return CheckIdText("client_ref", request->client_ref(), kMaxClientRefLength);
      },
      [&](const Caller& caller) {
        return Mutate("CreateClient", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(std::optional<store::ClientRow> taken, txn.GetClientByRef(request->client_ref()));
          if (taken) {
            return absl::AlreadyExistsError(Cat("client_ref: ", Clip(request->client_ref()),
                                                " already belongs to client ", taken->client_id));
          }
          store::ClientRow row;
          row.client_ref = request->client_ref();
          row.created_unix_ms = env_.NowUnixMs();
          // 64 random bits: a collision is retried, never silently merged.
          absl::Status inserted;
          for (int attempt = 0; attempt < 4; ++attempt) {
            uint8_t id[8];
            env_.RandomBytes(id);
            row.client_id = Cat("c_", base::HexEncode(id));
            inserted = txn.InsertClient(row);
            if (inserted.code() != absl::StatusCode::kAlreadyExists) break;
          }
          RF_RETURN_IF_ERROR(inserted);
          const json details = {{"client_ref", row.client_ref}};
          RF_RETURN_IF_ERROR(AuditLog::Append(txn, caller.Actor(), "CreateClient", row.client_id, details.dump(),
                                              row.created_unix_ms)
                                 .status());
          FillClient(row, response->mutable_client());
          return absl::OkStatus();
        });
      });
}

grpc::Status CustodyService::GetClient(grpc::ServerContext* context, const v1::GetClientRequest* request,
                                       v1::GetClientResponse* response) {
  return Serve(
      "GetClient", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckLength("client_id", request->client_id(), kMaxIdLength));
        RF_RETURN_IF_ERROR(CheckLength("client_ref", request->client_ref(), kMaxClientRefLength));
        if (request->client_id().empty() == request->client_ref().empty()) {
          return absl::InvalidArgumentError("client_id, client_ref: exactly one must be set");
        }
        if (!request->client_id().empty()) return CheckClientId("client_id", request->client_id());
        return CheckIdText("client_ref", request->client_ref(), kMaxClientRefLength);
      },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        std::optional<store::ClientRow> client;
        if (!request->client_id().empty()) {
          RF_ASSIGN_OR_RETURN(client, txn->GetClient(request->client_id()));
          if (!client) return absl::NotFoundError(Cat("client_id: no client ", Clip(request->client_id())));
        } else {
          RF_ASSIGN_OR_RETURN(client, txn->GetClientByRef(request->client_ref()));
          if (!client) return absl::NotFoundError(Cat("client_ref: no client ", Clip(request->client_ref())));
        }
        FillClient(*client, response->mutable_client());
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::ListClients(grpc::ServerContext* context, const v1::ListClientsRequest* request,
                                         v1::ListClientsResponse* response) {
  std::string cursor;
  return Serve(
      "ListClients", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'c', ""));
        if (!cursor.empty()) RF_RETURN_IF_ERROR(CheckClientId("page_token", cursor));
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        const uint32_t size = PageSizeOrDefault(request->page_size());
        RF_ASSIGN_OR_RETURN(std::vector<store::ClientRow> rows, txn->ListClients({cursor, size}));
        for (const store::ClientRow& row : rows) FillClient(row, response->add_clients());
        if (rows.size() == size) response->set_next_page_token(EncodePageToken('c', "", rows.back().client_id));
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::FreezeClient(grpc::ServerContext* context, const v1::FreezeClientRequest* request,
                                          v1::FreezeClientResponse* response) {
  return Serve(
      "FreezeClient", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) {
        return Mutate("FreezeClient", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(store::ClientRow client, KnownClient(txn, "client_id", request->client_id()));
          if (client.frozen) {
            return absl::FailedPreconditionError(Cat("client_id: client ", client.client_id, " is already frozen"));
          }
          RF_RETURN_IF_ERROR(txn.UpdateClientFrozen(client.client_id, true, request->reason()));
          client.frozen = true;
          client.frozen_reason = request->reason();
          const json details = {{"reason", request->reason()}};
          RF_RETURN_IF_ERROR(
              AuditLog::Append(txn, caller.Actor(), "FreezeClient", client.client_id, details.dump(), env_.NowUnixMs())
                  .status());
          FillClient(client, response->mutable_client());
          return absl::OkStatus();
        });
      });
}

grpc::Status CustodyService::UnfreezeClient(grpc::ServerContext* context, const v1::UnfreezeClientRequest* request,
                                            v1::UnfreezeClientResponse* response) {
  return Serve(
      "UnfreezeClient", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) {
        return Mutate("UnfreezeClient", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(store::ClientRow client, KnownClient(txn, "client_id", request->client_id()));
          if (!client.frozen) {
            return absl::FailedPreconditionError(Cat("client_id: client ", client.client_id, " is not frozen"));
          }
          RF_RETURN_IF_ERROR(txn.UpdateClientFrozen(client.client_id, false, ""));
          const json details = {{"reason", request->reason()}, {"was_frozen_for", client.frozen_reason}};
          client.frozen = false;
          client.frozen_reason.clear();
          RF_RETURN_IF_ERROR(
              AuditLog::Append(txn, caller.Actor(), "UnfreezeClient", client.client_id, details.dump(), env_.NowUnixMs())
                  .status());
          FillClient(client, response->mutable_client());
          return absl::OkStatus();
        });
      });
}

// --- deposit addresses -----------------------------------------------------------------------

grpc::Status CustodyService::CreateDepositAddress(grpc::ServerContext* context,
                                                  const v1::CreateDepositAddressRequest* request,
                                                  v1::CreateDepositAddressResponse* response) {
  return Serve(
      "CreateDepositAddress", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        return CheckIdText("asset_id", request->asset_id());
      },
      [&](const Caller& caller) -> absl::Status {
        RF_ASSIGN_OR_RETURN(const AssetConfig* asset, KnownAsset(config_, "asset_id", request->asset_id()));
        const std::string wallet_id = ClientHotWallet(asset->id);
        // The key is made outside the write transaction, so that a slow signerd never holds the
        // database's writer. First the cheap refusals, from a snapshot, so that no key is made
        // for a request that will fail; a retry of a recorded request makes no key either.
        std::optional<SignerKey> key;
        {
          RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
          RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> seen,
                              snapshot->GetIdempotency(request->idempotency_key()));
          if (!seen) {
            RF_ASSIGN_OR_RETURN(store::ClientRow client, KnownClient(*snapshot, "client_id", request->client_id()));
            if (client.frozen) {
              return absl::FailedPreconditionError(
                  Cat("client_id: client ", client.client_id, " is frozen; no new deposit addresses"));
            }
            snapshot.reset();
            WalletBinding binding{wallet_id, asset->id, "client", "hot"};
            RF_ASSIGN_OR_RETURN(key, signer_.CreateKey(Cat("deposit:", client.client_id, ":", asset->id), binding));
          }
        }
        std::string address;
        if (key) {
          absl::StatusOr<std::string> derived = DepositAddressFor(*asset, key->public_key);
          if (!derived.ok()) {
            std::fprintf(stderr, "custodyd: ERROR no address from signer key %s: %s\n", key->key_id.c_str(),
                         std::string(derived.status().message()).c_str());
            return absl::InternalError(Cat("signer key ", key->key_id, " gives no address: ", derived.status().message()));
          }
          address = *std::move(derived);
        }
        absl::Status done = Mutate(
            "CreateDepositAddress", request->idempotency_key(), *request, response, [&](store::Txn& txn) -> absl::Status {
              // Reached without a key only if the key's record vanished since the snapshot (a
              // rolled-back first attempt): ask the caller to retry rather than guess.
              if (!key) return absl::AbortedError("idempotency_key: the first attempt did not complete; retry");
              RF_ASSIGN_OR_RETURN(store::ClientRow client, KnownClient(txn, "client_id", request->client_id()));
              if (client.frozen) {
                return absl::FailedPreconditionError(
                    Cat("client_id: client ", client.client_id, " is frozen; no new deposit addresses"));
              }
              store::AddressRow row;
              row.address = address;
              row.asset_id = asset->id;
              row.wallet_id = wallet_id;
              row.client_id = client.client_id;
              row.key_id = key->key_id;
              row.created_unix_ms = env_.NowUnixMs();
              RF_RETURN_IF_ERROR(txn.InsertAddress(row));
              const json details = {{"address", row.address},  {"asset_id", row.asset_id},
                                    {"wallet_id", row.wallet_id}, {"key_id", row.key_id},
                                    {"client_id", row.client_id}};
              RF_RETURN_IF_ERROR(AuditLog::Append(txn, caller.Actor(), "CreateDepositAddress", row.client_id,
                                                  details.dump(), row.created_unix_ms)
                                     .status());
              FillAddress(row, response->mutable_deposit_address());
              return absl::OkStatus();
            });
        if (key && (!done.ok() || response->deposit_address().key_id() != key->key_id)) {
          // Bound to the wallet in signerd's registry but holding no address here: harmless (it
          // can receive nothing we would not see), and named so reconciliation can account for it.
          std::fprintf(stderr, "custodyd: WARNING signer key %s (wallet %s) is unused: %s\n", key->key_id.c_str(),
                       wallet_id.c_str(), done.ok() ? "a concurrent retry answered first" : std::string(done.message()).c_str());
        }
        return done;
      });
}

grpc::Status CustodyService::ListDepositAddresses(grpc::ServerContext* context,
                                                  const v1::ListDepositAddressesRequest* request,
                                                  v1::ListDepositAddressesResponse* response) {
  std::string cursor;
  const std::string filter = Cat(request->client_id(), ",", request->asset_id());
  return Serve(
      "ListDepositAddresses", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'd', filter));
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_RETURN_IF_ERROR(KnownClient(*txn, "client_id", request->client_id()).status());
        const uint32_t size = PageSizeOrDefault(request->page_size());
        RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> rows,
                            txn->ListAddressesOfClient(request->client_id(), request->asset_id(), {cursor, size}));
        for (const store::AddressRow& row : rows) FillAddress(row, response->add_deposit_addresses());
        if (rows.size() == size) response->set_next_page_token(EncodePageToken('d', filter, rows.back().address));
        return absl::OkStatus();
      });
}

// --- balances, ledger, statements --------------------------------------------------------------

grpc::ServerUnaryReactor* CustodyService::GetBalances(grpc::CallbackServerContext* context,
                                                      const v1::GetBalancesRequest* request,
                                                      v1::GetBalancesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Serve(
      "GetBalances", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_RETURN_IF_ERROR(KnownClient(*txn, "client_id", request->client_id()).status());
        RF_ASSIGN_OR_RETURN(uint64_t seq, txn->LastJournalSeq());
        RF_ASSIGN_OR_RETURN(std::vector<store::DepositRow> pending, txn->ListPendingDepositsOfClient(request->client_id()));
        std::map<std::string, uint64_t> tips;  // chain -> last ingested height
        for (const ChainConfig& c : config_.chains) {
          RF_ASSIGN_OR_RETURN(std::optional<store::ChainBlockRow> last, txn->LastChainBlock(c.name));
          if (last) tips[c.name] = last->height;
        }
        // Every account of the client in one range read, rather than two lookups per asset.
        RF_ASSIGN_OR_RETURN(auto accounts, txn->ListBalances(ClientAccountPrefix(request->client_id())));
        const std::map<std::string, store::AccountBalance> balances(accounts.begin(), accounts.end());
        auto normal = [&](const std::string& account) {
          auto it = balances.find(account);
          return it == balances.end() ? base::Amount()
                                      : NormalBalance(NormalSide::kCredit, it->second, account);
        };
        response->set_client_id(request->client_id());
        response->set_ledger_seq(seq);
        for (const AssetConfig& a : config_.assets) {
          if (!request->asset_id().empty() && a.id != request->asset_id()) continue;
          const ClientPositionValue position{normal(ClientAvailableAccount(request->client_id(), a.id)),
                                             normal(ClientHeldAccount(request->client_id(), a.id))};
          v1::AssetBalance* out = response->add_balances();
          out->set_asset_id(a.id);
          out->set_decimals(a.decimals);
          out->set_available(position.available.ToBaseUnitString());
          out->set_held(position.held.ToBaseUnitString());
          base::Amount total;
          for (const store::DepositRow& d : pending) {
            if (d.asset_id != a.id) continue;
            std::optional<base::Amount> sum = total.CheckedAdd(d.amount);
            if (!sum) return absl::OutOfRangeError(Cat("pending deposits of ", a.id, " exceed 2^128 - 1"));
            total = *sum;
            v1::PendingDeposit* p = out->add_pending_deposits();
            p->set_txid(d.txid);
            p->set_index(d.index);
            p->set_address(d.address);
            p->set_amount(d.amount.ToBaseUnitString());
            auto tip = tips.find(d.chain);
            const uint64_t confirmations =
                tip == tips.end() || tip->second < d.block_height ? 0 : tip->second - d.block_height + 1;
            p->set_confirmations(static_cast<uint32_t>(std::min<uint64_t>(confirmations, UINT32_MAX)));
            p->set_required_confirmations(a.confirmations);
          }
          out->set_pending(total.ToBaseUnitString());
        }
        return absl::OkStatus();
      }));
  return reactor;
}

grpc::Status CustodyService::ListLedgerEntries(grpc::ServerContext* context,
                                               const v1::ListLedgerEntriesRequest* request,
                                               v1::ListLedgerEntriesResponse* response) {
  std::string cursor;
  const std::string filter = Cat(request->client_id(), ",", request->wallet_id(), ",", request->asset_id());
  return Serve(
      "ListLedgerEntries", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckLength("client_id", request->client_id(), kMaxIdLength));
        RF_RETURN_IF_ERROR(CheckLength("wallet_id", request->wallet_id(), kMaxIdLength));
        if (request->client_id().empty() == request->wallet_id().empty()) {
          return absl::InvalidArgumentError("client_id, wallet_id: exactly one must be set");
        }
        if (!request->client_id().empty()) {
          RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        } else {
          RF_RETURN_IF_ERROR(CheckIdText("wallet_id", request->wallet_id()));
          RF_RETURN_IF_ERROR(ParseWalletId(request->wallet_id(), "wallet_id").status());
        }
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'l', filter));
        if (!cursor.empty()) RF_RETURN_IF_ERROR(CheckSeqCursor(cursor));
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        std::string prefix;
        if (!request->client_id().empty()) {
          RF_RETURN_IF_ERROR(KnownClient(*txn, "client_id", request->client_id()).status());
          prefix = ClientAccountPrefix(request->client_id());
        } else {
          bool known = false;
          for (const AssetConfig& a : config_.assets) {
            for (const store::WalletRow& w : WalletsOf(a)) known = known || w.wallet_id == request->wallet_id();
          }
          if (!known) return absl::NotFoundError(Cat("wallet_id: no wallet ", Clip(request->wallet_id())));
          prefix = WalletAccount(request->wallet_id());
        }
        const uint32_t size = PageSizeOrDefault(request->page_size());
        RF_ASSIGN_OR_RETURN(std::vector<store::JournalEntry> entries,
                            txn->ListJournal(prefix, request->asset_id(), {cursor, size}));
        for (const store::JournalEntry& e : entries) FillEntry(config_, e, response->add_entries());
        if (entries.size() == size) {
          response->set_next_page_token(EncodePageToken('l', filter, std::to_string(entries.back().seq)));
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::GetStatement(grpc::ServerContext* context, const v1::GetStatementRequest* request,
                                          v1::GetStatementResponse* response) {
  return Serve(
      "GetStatement", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        if (request->at_seq() != 0 && request->from_seq() > request->at_seq()) {
          return absl::InvalidArgumentError(
              Cat("from_seq: ", request->from_seq(), " is after at_seq ", request->at_seq()));
        }
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_ASSIGN_OR_RETURN(store::ClientRow client, KnownClient(*txn, "client_id", request->client_id()));
        RF_ASSIGN_OR_RETURN(uint64_t last, txn->LastJournalSeq());
        const uint64_t at = request->at_seq() == 0 ? last : request->at_seq();
        if (at > last) {
          return absl::InvalidArgumentError(Cat("at_seq: ", at, " is after the journal's last entry ", last));
        }
        if (request->from_seq() > at) {
          return absl::InvalidArgumentError(Cat("from_seq: ", request->from_seq(), " is after at_seq ", at));
        }
        const std::string prefix = ClientAccountPrefix(client.client_id);
        RF_ASSIGN_OR_RETURN(std::vector<store::JournalEntry> movements,
                            txn->JournalRange(prefix, request->from_seq(), at));
        if (movements.size() > kMaxStatementMovements) {
          return absl::OutOfRangeError(Cat("from_seq, at_seq: ", movements.size(), " movements, at most ",
                                           kMaxStatementMovements, " per statement; ask for a narrower range"));
        }
        RF_ASSIGN_OR_RETURN(auto opening, Ledger::PositionsAt(*txn, client.client_id, request->from_seq()));
        RF_ASSIGN_OR_RETURN(auto closing, Ledger::PositionsAt(*txn, client.client_id, at));
        response->set_client_id(client.client_id);
        response->set_client_ref(client.client_ref);
        response->set_from_seq(request->from_seq());
        response->set_at_seq(at);
        AddPositions(config_, opening, response->mutable_opening());
        AddPositions(config_, closing, response->mutable_closing());
        for (const store::JournalEntry& e : movements) FillEntry(config_, e, response->add_movements());
        response->set_generated_unix_ms(env_.NowUnixMs());
        return absl::OkStatus();
      });
}

// --- evidence ------------------------------------------------------------------------------

grpc::Status CustodyService::GetSegregationReport(grpc::ServerContext* context,
                                                  const v1::GetSegregationReportRequest*,
                                                  v1::GetSegregationReportResponse* response) {
  return Serve(
      "GetSegregationReport", context, [] { return absl::OkStatus(); },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        std::vector<std::string> ids;
        for (const AssetConfig& a : config_.assets) ids.push_back(a.id);
        RF_ASSIGN_OR_RETURN(InvariantReport report, CheckInvariants(*txn, ids, InvariantScope::kBalances));
        response->set_ledger_seq(report.ledger_seq);
        response->set_holds(report.holds);
        response->set_generated_unix_ms(env_.NowUnixMs());
        for (const AssetInvariants& a : report.assets) {
          v1::AssetSegregation* out = response->add_assets();
          out->set_asset_id(a.asset_id);
          out->set_decimals(DecimalsOf(config_, a.asset_id));
          out->set_client_liabilities(a.client_liabilities.ToBaseUnitString());
          out->set_client_wallet_holdings(a.client_wallet_holdings.ToBaseUnitString());
          if (a.client_wallet_chain_holdings) {
            out->set_client_wallet_chain_holdings(a.client_wallet_chain_holdings->ToBaseUnitString());
          }
          out->set_in_flight(a.in_flight.ToBaseUnitString());
          out->set_house_holdings(a.house_holdings.ToBaseUnitString());
          out->set_house_client_funds(a.house_client_funds.ToBaseUnitString());
          out->set_difference(a.difference.ToBaseUnitString());
          out->set_difference_negative(a.difference_negative);
          out->set_holds(a.holds);
          out->set_chain_height(a.chain_height);
          out->set_unattributed(a.unattributed.ToBaseUnitString());
          out->set_receivables(a.receivables.ToBaseUnitString());
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::ListAuditEntries(grpc::ServerContext* context, const v1::ListAuditEntriesRequest* request,
                                              v1::ListAuditEntriesResponse* response) {
  return Serve(
      "ListAuditEntries", context,
      [&]() -> absl::Status {
        if (request->after_seq() > static_cast<uint64_t>(INT64_MAX)) {
          return absl::InvalidArgumentError(Cat("after_seq: ", request->after_seq(), " is above 2^63 - 1"));
        }
        return CheckPageSize("page_size", request->page_size());
      },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_ASSIGN_OR_RETURN(std::vector<store::AuditRow> rows,
                            txn->ListAudit(request->after_seq(), PageSizeOrDefault(request->page_size())));
        for (const store::AuditRow& row : rows) {
          v1::AuditEntry* out = response->add_entries();
          out->set_seq(row.seq);
          out->set_unix_ms(row.unix_ms);
          out->set_actor(row.actor);
          out->set_action(row.action);
          out->set_subject(row.subject);
          out->set_details(row.details);
          out->set_prev_hash(row.prev_hash);
          out->set_hash(row.hash);
        }
        return absl::OkStatus();
      });
}

// --- whitelists, withdrawals, approvals (issue 12) ----------------------------------------------

namespace {

// An id custodyd makes: `prefix` followed by 16 lowercase hex digits.
absl::Status CheckMadeId(std::string_view field, std::string_view value, std::string_view prefix) {
  RF_RETURN_IF_ERROR(CheckIdText(field, value));
  bool ok = value.size() == prefix.size() + 16 && value.substr(0, prefix.size()) == prefix;
  for (size_t i = prefix.size(); ok && i < value.size(); ++i) {
    ok = (value[i] >= '0' && value[i] <= '9') || (value[i] >= 'a' && value[i] <= 'f');
  }
  if (!ok) {
    return absl::InvalidArgumentError(Cat(field, ": must be ", prefix, " followed by 16 lowercase hex digits (got ",
                                          Clip(value), ")"));
  }
  return absl::OkStatus();
}

// Internal moves (sweeps) name the cold wallet's addresses: the platform sees clients'
// withdrawals only; approvers, auditors and admins see everything.
bool VisibleTo(const Caller& caller, const store::WithdrawalRow& row) {
  return !store::IsInternalMove(row) || caller.role != Role::kPlatform;
}

absl::Status CheckWithdrawalId(std::string_view field, std::string_view value) { return CheckMadeId(field, value, "w_"); }
absl::Status CheckEntryId(std::string_view field, std::string_view value) { return CheckMadeId(field, value, "wl_"); }
absl::Status CheckFreezeId(std::string_view field, std::string_view value) { return CheckMadeId(field, value, "fz_"); }

absl::Status FillAssetFreeze(store::Txn& txn, const store::AssetFreezeRow& row, v1::AssetFreeze* out) {
  out->set_freeze_id(row.freeze_id);
  out->set_asset_id(row.asset_id);
  out->set_reason(row.reason);
  out->set_details(row.details);
  out->set_details_sha256(Reconciler::DetailsSha256(row.details));
  out->set_height(row.height);
  out->set_state(std::string(store::FreezeStateName(row.state)));
  out->set_approvals_required(row.approvals_required);
  out->set_approval_group(row.approval_group);
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(row.freeze_id));
  for (const store::ApprovalRow& a : approvals) out->add_approved_by(a.approver_id);
  out->set_created_unix_ms(row.created_unix_ms);
  out->set_updated_unix_ms(row.updated_unix_ms);
  return absl::OkStatus();
}

absl::Status CheckPrintable(std::string_view field, std::string_view value, size_t max, bool required) {
  RF_RETURN_IF_ERROR(CheckLength(field, value, max));
  if (required && value.empty()) return absl::InvalidArgumentError(Cat(field, ": required (1..", max, " printable bytes)"));
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] < 0x21 || value[i] >= 0x7f) {
      if (value[i] == ' ' && field == "label") continue;
      return absl::InvalidArgumentError(Cat(field, ": must be printable ASCII without spaces (byte ", i, " is not)"));
    }
  }
  return absl::OkStatus();
}

// A principal id (policy grammar), when given.
absl::Status CheckPrincipal(std::string_view field, std::string_view value, bool required) {
  if (value.empty() && !required) return absl::OkStatus();
  RF_RETURN_IF_ERROR(CheckLength(field, value, kMaxPrincipalLength));
  return policy::ValidateIdText(value, field);
}

// An amount of base units above zero, in the one grammar (INVALID_ARGUMENT naming the field
// for every way it can be wrong, including above 2^128 - 1).
absl::StatusOr<base::Amount> ParsePositiveAmount(std::string_view field, std::string_view text) {
  RF_RETURN_IF_ERROR(CheckLength(field, text, 40));
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return absl::InvalidArgumentError(Cat(field, ": ", amount.status().message()));
  if (amount->is_zero()) return absl::InvalidArgumentError(Cat(field, ": must be above 0"));
  return *amount;
}

v1::WithdrawalState ToProto(store::WithdrawalState state) {
  return static_cast<v1::WithdrawalState>(static_cast<int>(state) + 1);
}

v1::WhitelistState ToProto(store::WhitelistState state) {
  return static_cast<v1::WhitelistState>(static_cast<int>(state) + 1);
}

}  // namespace

void CustodyService::NotifyWithdrawalEvents() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    ++watch_generation_;
  }
  watch_cv_.notify_all();
}

void CustodyService::AuditRefusal(const Caller& caller, std::string_view method, std::string_view target,
                                  std::string_view approver_id, const absl::Status& refusal) {
  absl::Status s = [&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
    const json details = {{"method", std::string(method)},
                          {"approver_id", std::string(approver_id)},
                          {"code", absl::StatusCodeToString(refusal.code())},
                          {"reason", std::string(refusal.message())}};
    RF_RETURN_IF_ERROR(
        AuditLog::Append(*txn, caller.Actor(), "approval.refused", target, details.dump(), env_.NowUnixMs()).status());
    return txn->Commit();
  }();
  if (!s.ok()) {
    std::fprintf(stderr, "custodyd: ERROR could not audit a refused %s by %s: %s\n", std::string(method).c_str(),
                 caller.Actor().c_str(), std::string(s.message()).c_str());
  }
}

absl::Status CustodyService::FillWhitelistEntry(store::Txn& txn, const store::WhitelistEntryRow& row,
                                                v1::WhitelistEntry* out) const {
  out->set_entry_id(row.entry_id);
  out->set_client_id(row.client_id);
  out->set_asset_id(row.asset_id);
  out->set_address(row.address);
  out->set_label(row.label);
  out->set_state(ToProto(row.state));
  out->set_requester(row.requester);
  out->set_approvals_required(row.approvals_required);
  out->set_approval_group(row.approval_group);
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(row.entry_id));
  for (const store::ApprovalRow& a : approvals) out->add_approvals(a.approver_id);
  out->set_expires_at_unix_s(row.expires_at_unix_s);
  out->set_approved_at_unix_s(row.approved_at_unix_s);
  out->set_usable_from_unix_s(row.usable_from_unix_s);
  out->set_usable(row.state == store::WhitelistState::kActive && env_.NowUnixMs() / 1000 >= row.usable_from_unix_s);
  out->set_reason(row.reason);
  out->set_policy_hash(row.policy_hash);
  out->set_created_unix_ms(row.created_unix_ms);
  out->set_updated_unix_ms(row.updated_unix_ms);
  absl::StatusOr<policy::ApprovalDigestBytes> digest = Whitelists::Digest(row);
  if (digest.ok()) out->set_digest_hex(base::HexEncode(*digest));
  return absl::OkStatus();
}

absl::Status CustodyService::FillWithdrawal(store::Txn& txn, const store::WithdrawalRow& row,
                                            v1::Withdrawal* out) const {
  out->set_withdrawal_id(row.withdrawal_id);
  out->set_client_id(row.client_id);
  out->set_asset_id(row.asset_id);
  out->set_amount(row.amount.ToBaseUnitString());
  out->set_decimals(DecimalsOf(config_, row.asset_id));
  out->set_destination(row.destination);
  out->set_whitelist_entry_id(row.whitelist_entry_id);
  if (!row.whitelist_entry_id.empty()) {
    RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> entry, txn.GetWhitelistEntry(row.whitelist_entry_id));
    if (entry) {
      out->set_whitelist_approved_at_unix_s(entry->approved_at_unix_s);
      out->set_whitelist_usable_from_unix_s(entry->usable_from_unix_s);
    }
  }
  out->set_source_wallet(row.source_wallet_id);
  out->set_kind(row.kind == "sweep"               ? v1::REQUEST_KIND_SWEEP
                : row.kind == "top_up"            ? v1::REQUEST_KIND_TOP_UP
                : row.kind == "fee_reimbursement" ? v1::REQUEST_KIND_FEE_REIMBURSEMENT
                : row.kind == "gas_funding"       ? v1::REQUEST_KIND_GAS_FUNDING
                                                  : v1::REQUEST_KIND_WITHDRAWAL);
  out->set_fee_cap(row.fee_cap.ToBaseUnitString());
  out->set_fee_asset(row.fee_asset);
  out->set_fee_charged_to_client(row.fee_charged_to_client);
  RF_ASSIGN_OR_RETURN(std::optional<store::HoldRow> hold, txn.GetHold(row.withdrawal_id));
  out->set_held(hold && hold->state == store::HoldState::kHeld ? hold->amount.ToBaseUnitString() : "0");
  out->set_expires_at_unix_s(row.expires_at_unix_s);
  out->set_not_before_unix_s(row.not_before_unix_s);
  RF_ASSIGN_OR_RETURN(DecisionSummary summary, Withdrawals::Summarise(txn, row.decision_id));
  for (const std::string& rule : summary.matched_rules) out->add_matched_rules(rule);
  if (row.state == store::WithdrawalState::kDenied) {
    for (const policy::Denial& d : summary.denials) {
      v1::PolicyDenial* denial = out->add_denials();
      denial->set_reason(std::string(policy::DenyReasonCode(d.reason)));
      denial->set_rule(d.rule);
      denial->set_until_unix_s(d.until.value_or(0));
    }
  }
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(row.withdrawal_id));
  for (const store::ApprovalRow& a : approvals) out->add_approvals(a.approver_id);
  out->set_approvals_required(row.approvals_required);
  out->set_approval_group(row.approval_group);
  out->set_state(ToProto(row.state));
  out->set_reason(row.reason);
  out->set_txid(row.txid);
  out->set_network_fee(row.network_fee ? row.network_fee->ToBaseUnitString() : "");
  out->set_requester(row.requester);
  out->set_policy_hash(row.policy_hash);
  out->set_decision_id(row.decision_id);
  out->set_created_unix_ms(row.created_unix_ms);
  out->set_updated_unix_ms(row.updated_unix_ms);
  out->set_event_seq(row.event_seq);
  v1::ApprovalDigestInputs* in = out->mutable_digest_inputs();
  in->set_request_id(row.withdrawal_id);
  in->set_kind(row.kind);
  in->set_source_wallet(row.source_wallet_id);
  in->set_chain(row.chain);
  in->set_network(row.network);
  in->set_asset(row.asset_id);
  in->set_amount(row.amount.ToBaseUnitString());
  in->set_destination(row.destination);
  in->set_fee_cap(row.fee_cap.ToBaseUnitString());
  in->set_expires_at_unix_s(row.expires_at_unix_s);
  if (row.state != store::WithdrawalState::kDenied) {
    absl::StatusOr<policy::ApprovalDigestBytes> digest = Withdrawals::Digest(row);
    if (digest.ok()) out->set_digest_hex(base::HexEncode(*digest));
  }
  return absl::OkStatus();
}

grpc::Status CustodyService::AddWhitelistAddress(grpc::ServerContext* context,
                                                 const v1::AddWhitelistAddressRequest* request,
                                                 v1::AddWhitelistAddressResponse* response) {
  return Serve(
      "AddWhitelistAddress", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        RF_RETURN_IF_ERROR(CheckPrintable("address", request->address(), kMaxAddressLength, true));
        RF_RETURN_IF_ERROR(CheckPrintable("label", request->label(), kMaxLabelLength, false));
        return CheckPrincipal("requested_by", request->requested_by(), false);
      },
      [&](const Caller& caller) {
        return Mutate("AddWhitelistAddress", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
          WhitelistAddArgs args{request->client_id(), request->asset_id(), request->address(), request->label(),
                                RequesterPrincipal(caller, request->requested_by())};
          uint8_t id[8];
          env_.RandomBytes(id);
          RF_ASSIGN_OR_RETURN(store::WhitelistEntryRow row,
                              whitelists_.RequestAdd(txn, args, caller.Actor(), Cat("wl_", base::HexEncode(id)),
                                                     env_.NowUnixMs()));
          return FillWhitelistEntry(txn, row, response->mutable_entry());
        });
      });
}

grpc::Status CustodyService::RemoveWhitelistAddress(grpc::ServerContext* context,
                                                    const v1::RemoveWhitelistAddressRequest* request,
                                                    v1::RemoveWhitelistAddressResponse* response) {
  return Serve(
      "RemoveWhitelistAddress", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckEntryId("entry_id", request->entry_id()));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) {
        return Mutate("RemoveWhitelistAddress", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(store::WhitelistEntryRow row, whitelists_.Remove(txn, request->entry_id(), request->reason(),
                                                                               caller.Actor(), env_.NowUnixMs()));
          return FillWhitelistEntry(txn, row, response->mutable_entry());
        });
      });
}

grpc::Status CustodyService::ListWhitelist(grpc::ServerContext* context, const v1::ListWhitelistRequest* request,
                                           v1::ListWhitelistResponse* response) {
  std::string cursor;
  const std::string filter = Cat(request->client_id(), ",", request->asset_id(), ",", request->include_inactive() ? 1 : 0);
  return Serve(
      "ListWhitelist", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'l', filter));
        if (!cursor.empty()) RF_RETURN_IF_ERROR(CheckEntryId("page_token", cursor));
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_RETURN_IF_ERROR(KnownClient(*txn, "client_id", request->client_id()).status());
        const uint32_t size = PageSizeOrDefault(request->page_size());
        RF_ASSIGN_OR_RETURN(std::vector<store::WhitelistEntryRow> rows,
                            txn->ListWhitelist(request->client_id(), request->asset_id(), request->include_inactive(),
                                               {cursor, size}));
        for (const store::WhitelistEntryRow& row : rows) RF_RETURN_IF_ERROR(FillWhitelistEntry(*txn, row, response->add_entries()));
        if (rows.size() == size) response->set_next_page_token(EncodePageToken('l', filter, rows.back().entry_id));
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::RejectWhitelistAddition(grpc::ServerContext* context,
                                                     const v1::RejectWhitelistAdditionRequest* request,
                                                     v1::RejectWhitelistAdditionResponse* response) {
  return Serve(
      "RejectWhitelistAddition", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckEntryId("entry_id", request->entry_id()));
        RF_RETURN_IF_ERROR(CheckPrincipal("approver_id", request->approver_id(), true));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) {
        absl::Status s = Mutate("RejectWhitelistAddition", request->idempotency_key(), *request, response,
                                [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(const ApproverConfig* approver, ApproverFor(config_, caller, request->approver_id()));
          RF_ASSIGN_OR_RETURN(store::WhitelistEntryRow row,
                              whitelists_.Reject(txn, request->entry_id(), *approver, request->reason(), caller.Actor(),
                                                 env_.NowUnixMs()));
          return FillWhitelistEntry(txn, row, response->mutable_entry());
        });
        if (s.code() == absl::StatusCode::kPermissionDenied) {
          AuditRefusal(caller, "RejectWhitelistAddition", request->entry_id(), request->approver_id(), s);
        }
        return s;
      });
}

grpc::Status CustodyService::CreateWithdrawal(grpc::ServerContext* context, const v1::CreateWithdrawalRequest* request,
                                              v1::CreateWithdrawalResponse* response) {
  base::Amount amount;
  return Serve(
      "CreateWithdrawal", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        RF_ASSIGN_OR_RETURN(amount, ParsePositiveAmount("amount", request->amount()));
        RF_RETURN_IF_ERROR(CheckPrintable("destination", request->destination(), kMaxAddressLength, true));
        return CheckPrincipal("requested_by", request->requested_by(), false);
      },
      [&](const Caller& caller) -> absl::Status {
        RF_RETURN_IF_ERROR(Mutate("CreateWithdrawal", request->idempotency_key(), *request, response,
                                  [&](store::Txn& txn) -> absl::Status {
          RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
          CreateWithdrawalArgs args{request->client_id(), request->asset_id(), amount, request->destination(),
                                    RequesterPrincipal(caller, request->requested_by())};
          uint8_t id[8];
          env_.RandomBytes(id);
          RF_ASSIGN_OR_RETURN(store::WithdrawalRow row, withdrawals_.Create(txn, args, caller.Actor(),
                                                                            Cat("w_", base::HexEncode(id)),
                                                                            env_.NowUnixMs()));
          return FillWithdrawal(txn, row, response->mutable_withdrawal());
        }));
        NotifyWithdrawalEvents();
        // An approved withdrawal is picked up at once rather than at the executor's next poll.
        if (executor_ != nullptr && response->withdrawal().state() == v1::WITHDRAWAL_STATE_APPROVED) executor_->Wake();
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::GetWithdrawal(grpc::ServerContext* context, const v1::GetWithdrawalRequest* request,
                                           v1::GetWithdrawalResponse* response) {
  return Serve(
      "GetWithdrawal", context, [&] { return CheckWithdrawalId("withdrawal_id", request->withdrawal_id()); },
      [&](const Caller& caller) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        RF_ASSIGN_OR_RETURN(std::optional<store::WithdrawalRow> row, txn->GetWithdrawal(request->withdrawal_id()));
        if (!row || !VisibleTo(caller, *row)) {
          return absl::NotFoundError(Cat("withdrawal_id: no withdrawal ", request->withdrawal_id()));
        }
        return FillWithdrawal(*txn, *row, response->mutable_withdrawal());
      });
}

grpc::Status CustodyService::ListWithdrawals(grpc::ServerContext* context, const v1::ListWithdrawalsRequest* request,
                                             v1::ListWithdrawalsResponse* response) {
  std::string cursor;
  store::WithdrawalFilter filter;
  std::string filter_text = Cat(request->client_id(), ",", request->asset_id());
  return Serve(
      "ListWithdrawals", context,
      [&]() -> absl::Status {
        if (!request->client_id().empty()) RF_RETURN_IF_ERROR(CheckClientId("client_id", request->client_id()));
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(CheckIdText("asset_id", request->asset_id()));
        if (request->states_size() > kMaxStateFilters) {
          return absl::InvalidArgumentError(Cat("states: ", request->states_size(), " states; at most ", kMaxStateFilters));
        }
        for (int i = 0; i < request->states_size(); ++i) {
          const int s = request->states(i);
          if (s <= v1::WITHDRAWAL_STATE_UNSPECIFIED || s > v1::WITHDRAWAL_STATE_FAILED) {
            return absl::InvalidArgumentError(Cat("states[", i, "]: ", s, " is not a withdrawal state"));
          }
          filter.states.push_back(static_cast<store::WithdrawalState>(s - 1));
          filter_text += Cat(",", s);
        }
        filter.client_id = request->client_id();
        filter.asset_id = request->asset_id();
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'w', filter_text));
        if (!cursor.empty()) RF_RETURN_IF_ERROR(CheckSeqCursor(cursor));
        return absl::OkStatus();
      },
      [&](const Caller& caller) -> absl::Status {
        if (!request->asset_id().empty()) RF_RETURN_IF_ERROR(KnownAsset(config_, "asset_id", request->asset_id()).status());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        const uint32_t size = PageSizeOrDefault(request->page_size());
        RF_ASSIGN_OR_RETURN(std::vector<store::WithdrawalRow> rows, txn->ListWithdrawals(filter, {cursor, size}));
        for (const store::WithdrawalRow& row : rows) {
          if (VisibleTo(caller, row)) RF_RETURN_IF_ERROR(FillWithdrawal(*txn, row, response->add_withdrawals()));
        }
        if (rows.size() == size) {
          response->set_next_page_token(EncodePageToken('w', filter_text, std::to_string(rows.back().ordinal)));
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::CancelWithdrawal(grpc::ServerContext* context, const v1::CancelWithdrawalRequest* request,
                                              v1::CancelWithdrawalResponse* response) {
  return Serve(
      "CancelWithdrawal", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckWithdrawalId("withdrawal_id", request->withdrawal_id()));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) -> absl::Status {
        RF_RETURN_IF_ERROR(Mutate("CancelWithdrawal", request->idempotency_key(), *request, response,
                                  [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(store::WithdrawalRow row, withdrawals_.Cancel(txn, request->withdrawal_id(), request->reason(),
                                                                            caller.Actor(), env_.NowUnixMs()));
          return FillWithdrawal(txn, row, response->mutable_withdrawal());
        }));
        NotifyWithdrawalEvents();
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::WatchWithdrawals(grpc::ServerContext* context, const v1::WatchWithdrawalsRequest* request,
                                              grpc::ServerWriter<v1::WithdrawalEvent>* writer) {
  return Serve(
      "WatchWithdrawals", context,
      [&]() -> absl::Status {
        if (request->after_seq() > static_cast<uint64_t>(INT64_MAX)) {
          return absl::InvalidArgumentError("after_seq: above 2^63 - 1");
        }
        if (!request->client_id().empty()) return CheckClientId("client_id", request->client_id());
        return absl::OkStatus();
      },
      [&](const Caller& caller) -> absl::Status {
        uint64_t after = request->after_seq();
        while (!context->IsCancelled()) {
          uint64_t generation;
          {
            std::lock_guard<std::mutex> lock(watch_mu_);
            generation = watch_generation_;
          }
          std::vector<v1::WithdrawalEvent> batch;
          uint64_t read_up_to = after;  // events not shown to this caller are passed over too
          {
            RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
            RF_ASSIGN_OR_RETURN(std::vector<store::WithdrawalEventRow> events,
                                txn->ListWithdrawalEvents(after, request->client_id(), 100));
            for (const store::WithdrawalEventRow& e : events) {
              read_up_to = e.seq;
              RF_ASSIGN_OR_RETURN(std::optional<store::WithdrawalRow> row, txn->GetWithdrawal(e.withdrawal_id));
              if (row && !VisibleTo(caller, *row)) continue;
              v1::WithdrawalEvent& out = batch.emplace_back();
              out.set_seq(e.seq);
              out.set_withdrawal_id(e.withdrawal_id);
              out.set_state(ToProto(e.state));
              out.set_reason(e.reason);
              out.set_unix_ms(e.unix_ms);
              if (row) RF_RETURN_IF_ERROR(FillWithdrawal(*txn, *row, out.mutable_withdrawal()));
            }
          }
          for (const v1::WithdrawalEvent& e : batch) {
            if (!writer->Write(e)) return absl::OkStatus();  // the client went away
            after = e.seq();
          }
          const bool read_any = read_up_to != after;
          after = read_up_to;
          if (!batch.empty() || read_any) continue;
          std::unique_lock<std::mutex> lock(watch_mu_);
          watch_cv_.wait_for(lock, std::chrono::milliseconds(kWatchPollMs),
                             [&] { return watch_generation_ != generation; });
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::ListPendingApprovals(grpc::ServerContext* context,
                                                  const v1::ListPendingApprovalsRequest* request,
                                                  v1::ListPendingApprovalsResponse* response) {
  std::string cursor;
  return Serve(
      "ListPendingApprovals", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckPrincipal("approver_id", request->approver_id(), false));
        RF_RETURN_IF_ERROR(CheckPageSize("page_size", request->page_size()));
        RF_ASSIGN_OR_RETURN(cursor, DecodePageToken(request->page_token(), 'p', request->approver_id()));
        if (!cursor.empty()) {
          // "w:<ordinal>" (withdrawals, newest first) then "e:<entry id>" (whitelist additions).
          if (cursor.starts_with("w:")) return CheckSeqCursor(cursor.substr(2));
          if (cursor.starts_with("e:")) return CheckEntryId("page_token", cursor.substr(2));
          if (cursor.starts_with("f:")) return CheckFreezeId("page_token", cursor.substr(2));
          return absl::InvalidArgumentError(Cat("page_token: carries a malformed cursor (", Clip(cursor), ")"));
        }
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        const uint32_t size = PageSizeOrDefault(request->page_size());
        auto approved_by_caller = [&](const std::string& target) -> absl::StatusOr<bool> {
          if (request->approver_id().empty()) return false;
          RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn->ListApprovals(target));
          for (const store::ApprovalRow& a : approvals) {
            if (a.approver_id == request->approver_id()) return true;
          }
          return false;
        };
        std::string next;
        if (!cursor.starts_with("e:") && !cursor.starts_with("f:")) {
          std::string after = cursor.starts_with("w:") ? cursor.substr(2) : "";
          // Scan in pages until this page is full or the withdrawals run out.
          while (response->pending_size() < static_cast<int>(size)) {
            RF_ASSIGN_OR_RETURN(std::vector<store::WithdrawalRow> rows,
                                txn->ListWithdrawals({"", "", {store::WithdrawalState::kPendingApproval}, {}}, {after, size}));
            for (const store::WithdrawalRow& row : rows) {
              after = std::to_string(row.ordinal);
              RF_ASSIGN_OR_RETURN(bool skip, approved_by_caller(row.withdrawal_id));
              if (skip) continue;
              v1::PendingApproval* p = response->add_pending();
              p->set_kind(v1::APPROVAL_TARGET_KIND_WITHDRAWAL);
              RF_RETURN_IF_ERROR(FillWithdrawal(*txn, row, p->mutable_withdrawal()));
              if (response->pending_size() == static_cast<int>(size)) break;
            }
            if (response->pending_size() == static_cast<int>(size)) {
              next = Cat("w:", after);
              break;
            }
            if (rows.size() < size) break;
          }
          cursor.clear();
        }
        if (next.empty() && !cursor.starts_with("f:")) {
          std::string after = cursor.starts_with("e:") ? cursor.substr(2) : "";
          while (response->pending_size() < static_cast<int>(size)) {
            RF_ASSIGN_OR_RETURN(std::vector<store::WhitelistEntryRow> rows, txn->ListPendingWhitelistEntries({after, size}));
            for (const store::WhitelistEntryRow& row : rows) {
              after = row.entry_id;
              RF_ASSIGN_OR_RETURN(bool skip, approved_by_caller(row.entry_id));
              if (skip) continue;
              v1::PendingApproval* p = response->add_pending();
              p->set_kind(v1::APPROVAL_TARGET_KIND_WHITELIST_ADD);
              RF_RETURN_IF_ERROR(FillWhitelistEntry(*txn, row, p->mutable_whitelist_entry()));
              if (response->pending_size() == static_cast<int>(size)) break;
            }
            if (response->pending_size() == static_cast<int>(size)) {
              next = Cat("e:", after);
              break;
            }
            if (rows.size() < size) break;
          }
        }
        if (next.empty() && response->pending_size() < static_cast<int>(size)) {
          // Asset freezes in state frozen (at most one per asset), by freeze id.
          const std::string after = cursor.starts_with("f:") ? cursor.substr(2) : "";
          RF_ASSIGN_OR_RETURN(std::vector<store::AssetFreezeRow> frozen, txn->ListFreezes(true, 10'000));
          std::sort(frozen.begin(), frozen.end(),
                    [](const auto& a, const auto& b) { return a.freeze_id < b.freeze_id; });
          for (const store::AssetFreezeRow& row : frozen) {
            if (row.freeze_id <= after) continue;
            if (response->pending_size() == static_cast<int>(size)) {
              next = Cat("f:", response->pending().rbegin()->asset_freeze().freeze_id());
              break;
            }
            RF_ASSIGN_OR_RETURN(bool skip, approved_by_caller(row.freeze_id));
            if (skip) continue;
            v1::PendingApproval* p = response->add_pending();
            p->set_kind(v1::APPROVAL_TARGET_KIND_ASSET_FREEZE);
            RF_RETURN_IF_ERROR(FillAssetFreeze(*txn, row, p->mutable_asset_freeze()));
          }
        }
        if (!next.empty()) response->set_next_page_token(EncodePageToken('p', request->approver_id(), next));
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::SubmitApproval(grpc::ServerContext* context, const v1::SubmitApprovalRequest* request,
                                            v1::SubmitApprovalResponse* response) {
  const bool is_withdrawal = request->target_id().starts_with("w_");
  return Serve(
      "SubmitApproval", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        if (is_withdrawal) {
          RF_RETURN_IF_ERROR(CheckWithdrawalId("target_id", request->target_id()));
        } else if (request->target_id().starts_with("wl_")) {
          RF_RETURN_IF_ERROR(CheckEntryId("target_id", request->target_id()));
        } else if (request->target_id().starts_with("fz_")) {
          RF_RETURN_IF_ERROR(CheckFreezeId("target_id", request->target_id()));
        } else {
          return absl::InvalidArgumentError(Cat("target_id: must be a withdrawal id (w_...), a whitelist entry id "
                                                "(wl_...) or an asset freeze id (fz_...), got ",
                                                Clip(request->target_id())));
        }
        RF_RETURN_IF_ERROR(CheckPrincipal("approver_id", request->approver_id(), true));
        if (request->signature().size() != kEd25519SignatureLength) {
          return absl::InvalidArgumentError(
              Cat("signature: ", request->signature().size(), " bytes; an Ed25519 signature is exactly 64"));
        }
        return absl::OkStatus();
      },
      [&](const Caller& caller) -> absl::Status {
        absl::Status s = Mutate("SubmitApproval", request->idempotency_key(), *request, response,
                                [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(const ApproverConfig* approver, ApproverFor(config_, caller, request->approver_id()));
          const int64_t now = env_.NowUnixMs();
          if (is_withdrawal) {
            RF_ASSIGN_OR_RETURN(store::WithdrawalRow row, withdrawals_.Approve(txn, request->target_id(), *approver,
                                                                               request->signature(), caller.Actor(), now));
            response->set_kind(v1::APPROVAL_TARGET_KIND_WITHDRAWAL);
            return FillWithdrawal(txn, row, response->mutable_withdrawal());
          }
          if (request->target_id().starts_with("fz_")) {
            RF_ASSIGN_OR_RETURN(store::AssetFreezeRow row,
                                Reconciler::LiftApprove(txn, config_, request->target_id(), *approver,
                                                        request->signature(), caller.Actor(), now));
            response->set_kind(v1::APPROVAL_TARGET_KIND_ASSET_FREEZE);
            return FillAssetFreeze(txn, row, response->mutable_asset_freeze());
          }
          RF_ASSIGN_OR_RETURN(store::WhitelistEntryRow row, whitelists_.Approve(txn, request->target_id(), *approver,
                                                                                request->signature(), caller.Actor(), now));
          response->set_kind(v1::APPROVAL_TARGET_KIND_WHITELIST_ADD);
          return FillWhitelistEntry(txn, row, response->mutable_whitelist_entry());
        });
        if (!s.ok()) {
          if (s.code() != absl::StatusCode::kInvalidArgument) {
            AuditRefusal(caller, "SubmitApproval", request->target_id(), request->approver_id(), s);
          }
          return s;
        }
        NotifyWithdrawalEvents();
        if (executor_ != nullptr && response->withdrawal().state() == v1::WITHDRAWAL_STATE_APPROVED) executor_->Wake();
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::RejectWithdrawal(grpc::ServerContext* context, const v1::RejectWithdrawalRequest* request,
                                              v1::RejectWithdrawalResponse* response) {
  return Serve(
      "RejectWithdrawal", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        RF_RETURN_IF_ERROR(CheckWithdrawalId("withdrawal_id", request->withdrawal_id()));
        RF_RETURN_IF_ERROR(CheckPrincipal("approver_id", request->approver_id(), true));
        return CheckReason("reason", request->reason());
      },
      [&](const Caller& caller) -> absl::Status {
        absl::Status s = Mutate("RejectWithdrawal", request->idempotency_key(), *request, response,
                                [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(const ApproverConfig* approver, ApproverFor(config_, caller, request->approver_id()));
          RF_ASSIGN_OR_RETURN(store::WithdrawalRow row,
                              withdrawals_.Reject(txn, request->withdrawal_id(), *approver, request->reason(),
                                                  caller.Actor(), env_.NowUnixMs()));
          return FillWithdrawal(txn, row, response->mutable_withdrawal());
        });
        if (!s.ok()) {
          if (s.code() == absl::StatusCode::kPermissionDenied) {
            AuditRefusal(caller, "RejectWithdrawal", request->withdrawal_id(), request->approver_id(), s);
          }
          return s;
        }
        NotifyWithdrawalEvents();
        return absl::OkStatus();
      });
}

// --- cold wallets --------------------------------------------------------------------------------

grpc::Status CustodyService::ImportColdKeys(grpc::ServerContext* context, const v1::ImportColdKeysRequest* request,
                                            v1::ImportColdKeysResponse* response) {
  return Serve(
      "ImportColdKeys", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        if (request->file().empty()) return absl::InvalidArgumentError("file: empty");
        return absl::OkStatus();
      },
      [&](const Caller& caller) -> absl::Status {
        // The file is checked whole (signature, bindings, addresses) before anything is read or
        // written; a refused file changes nothing.
        absl::StatusOr<VerifiedColdKeys> checked = VerifyColdKeyFile(config_, request->file());
        if (!checked.ok()) {
          // A file that is not the cold signer's is worth an auditor's eye: it is recorded.
          if (checked.status().code() == absl::StatusCode::kPermissionDenied) {
            AuditDenial(caller, "ImportColdKeys", std::string(checked.status().message()));
          }
          return checked.status();
        }
        const VerifiedColdKeys& verified = *checked;
        return Mutate("ImportColdKeys", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          const int64_t now = env_.NowUnixMs();
          RF_ASSIGN_OR_RETURN(const std::vector<bool> known, RecordColdKeys(txn, verified.keys, now));
          json keys = json::array();
          uint32_t added = 0;
          for (size_t i = 0; i < verified.keys.size(); ++i) {
            const ColdKeyToImport& key = verified.keys[i];
            v1::ColdKeyImport* out = response->add_keys();
            out->set_key_id(key.key_id);
            out->set_wallet_id(key.wallet_id);
            out->set_asset_id(key.asset_id);
            out->set_address(key.address);
            out->set_already_known(known[i]);
            if (!known[i]) {
              ++added;
              keys.push_back({{"key_id", key.key_id}, {"wallet_id", key.wallet_id}, {"address", key.address}});
            }
          }
          response->set_added(added);
          const json details = {{"file_digest", base::HexEncode(verified.digest)},
                                {"created_at", verified.created_at},
                                {"keys_in_file", verified.keys.size()},
                                {"added", keys}};
          return AuditLog::Append(txn, caller.Actor(), "ImportColdKeys", "cold_keys", details.dump(), now).status();
        });
      });
}

grpc::Status CustodyService::ExportSigningBundle(grpc::ServerContext* context,
                                                 const v1::ExportSigningBundleRequest* request,
                                                 v1::ExportSigningBundleResponse* response) {
  return Serve(
      "ExportSigningBundle", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        return CheckWithdrawalId("withdrawal_id", request->withdrawal_id());
      },
      [&](const Caller& caller) -> absl::Status {
        if (executor_ == nullptr) return absl::UnavailableError("this custodyd runs no executor; nothing is exported");
        // The cold wallet's coins are read from the chain before the write transaction; a
        // retry of a recorded request reads them again and returns the recorded answer.
        RF_ASSIGN_OR_RETURN(const std::optional<WithdrawalExecutor::ChainView> view,
                            executor_->ReadForExport(request->withdrawal_id()));
        RF_RETURN_IF_ERROR(Mutate("ExportSigningBundle", request->idempotency_key(), *request, response,
                                  [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(ExportedBundle exported, executor_->ExportTopUp(txn, request->withdrawal_id(), view));
          response->set_file(exported.file);
          response->set_bundle_digest(base::HexEncode(exported.digest));
          RF_RETURN_IF_ERROR(FillWithdrawal(txn, exported.row, response->mutable_withdrawal()));
          const json details = {{"bundle_digest", base::HexEncode(exported.digest)}, {"bytes", exported.file.size()}};
          return AuditLog::Append(txn, caller.Actor(), "ExportSigningBundle", request->withdrawal_id(), details.dump(),
                                  env_.NowUnixMs())
              .status();
        }));
        NotifyWithdrawalEvents();
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::ImportSignedBundle(grpc::ServerContext* context,
                                                const v1::ImportSignedBundleRequest* request,
                                                v1::ImportSignedBundleResponse* response) {
  return Serve(
      "ImportSignedBundle", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        if (request->file().empty()) return absl::InvalidArgumentError("file: empty");
        if (request->file().size() > offline::kMaxBundleFileBytes) {
          return absl::InvalidArgumentError(
              Cat("file: ", request->file().size(), " bytes; a signed bundle is at most ", offline::kMaxBundleFileBytes));
        }
        return absl::OkStatus();
      },
      [&](const Caller& caller) -> absl::Status {
        if (executor_ == nullptr) return absl::UnavailableError("this custodyd runs no executor; nothing is imported");
        if (!config_.cold_signer.has_value()) {
          return absl::FailedPreconditionError("no [cold_signer] identity_key is configured; no signed bundle is believed");
        }
        absl::StatusOr<offline::SignedBundle> signed_bundle = offline::ReadSignedBundle(request->file());
        if (!signed_bundle.ok()) return absl::InvalidArgumentError(Cat("file: ", signed_bundle.status().message()));
        // Believed only under the identity key of custodyd's own configuration.
        RF_ASSIGN_OR_RETURN(const base::Digest32 digest, offline::SignedBundleDigest(*signed_bundle));
        if (absl::Status by = offline::VerifyIdentitySignature(digest, signed_bundle->signer_key, signed_bundle->signature,
                                                               config_.cold_signer->identity_key);
            !by.ok()) {
          const absl::Status denied = absl::PermissionDeniedError(Cat("file: ", by.message()));
          AuditDenial(caller, "ImportSignedBundle", std::string(denied.message()));
          return denied;
        }
        bool already = false;
        absl::Status s = Mutate("ImportSignedBundle", request->idempotency_key(), *request, response,
                                [&](store::Txn& txn) -> absl::Status {
          RF_ASSIGN_OR_RETURN(ImportedBundle imported, executor_->ImportSignedTopUp(txn, *signed_bundle));
          already = imported.already_imported;
          response->set_already_imported(imported.already_imported);
          RF_RETURN_IF_ERROR(FillWithdrawal(txn, imported.row, response->mutable_withdrawal()));
          const json details = {{"bundle_id", signed_bundle->bundle_id},
                                {"bundle_digest", base::HexEncode(signed_bundle->bundle_digest)},
                                {"txid", signed_bundle->txid},
                                {"signed_bundle_digest", base::HexEncode(digest)},
                                {"already_imported", imported.already_imported}};
          return AuditLog::Append(txn, caller.Actor(), "ImportSignedBundle", signed_bundle->bundle_id, details.dump(),
                                  env_.NowUnixMs())
              .status();
        });
        if (!s.ok()) {
          if (s.code() == absl::StatusCode::kFailedPrecondition) {
            AuditDenial(caller, "ImportSignedBundle", std::string(s.message()));
          }
          return s;
        }
        if (!already) {
          executor_->Wake();
          NotifyWithdrawalEvents();
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::CreateHouseAddress(grpc::ServerContext* context,
                                                const v1::CreateHouseAddressRequest* request,
                                                v1::CreateHouseAddressResponse* response) {
  return Serve(
      "CreateHouseAddress", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(Idempotency::CheckKey(request->idempotency_key()));
        return CheckIdText("asset_id", request->asset_id());
      },
      [&](const Caller& caller) -> absl::Status {
        RF_ASSIGN_OR_RETURN(const AssetConfig* asset, KnownAsset(config_, "asset_id", request->asset_id()));
        const std::string wallet_id = WalletsOf(*asset)[2].wallet_id;
        // As CreateDepositAddress: the key is made outside the write transaction, and not for a
        // retry of a recorded request.
        std::optional<SignerKey> key;
        {
          RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
          RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> seen,
                              snapshot->GetIdempotency(request->idempotency_key()));
          if (!seen) {
            snapshot.reset();
            RF_ASSIGN_OR_RETURN(key, signer_.CreateKey(Cat("house:", asset->id),
                                                       WalletBinding{wallet_id, asset->id, "house", "hot"}));
          }
        }
        std::string address;
        if (key) {
          absl::StatusOr<std::string> derived = DepositAddressFor(*asset, key->public_key);
          if (!derived.ok()) {
            return absl::InternalError(Cat("signer key ", key->key_id, " gives no address: ", derived.status().message()));
          }
          address = *std::move(derived);
        }
        return Mutate("CreateHouseAddress", request->idempotency_key(), *request, response,
                      [&](store::Txn& txn) -> absl::Status {
          if (!key) return absl::AbortedError("idempotency_key: the first attempt did not complete; retry");
          store::AddressRow row;
          row.address = address;
          row.asset_id = asset->id;
          row.wallet_id = wallet_id;
          row.key_id = key->key_id;
          row.created_unix_ms = env_.NowUnixMs();
          RF_RETURN_IF_ERROR(txn.InsertAddress(row));
          const json details = {{"address", row.address}, {"asset_id", row.asset_id}, {"wallet_id", row.wallet_id},
                                {"key_id", row.key_id}};
          RF_RETURN_IF_ERROR(AuditLog::Append(txn, caller.Actor(), "CreateHouseAddress", row.wallet_id, details.dump(),
                                              row.created_unix_ms)
                                 .status());
          FillAddress(row, response->mutable_house_address());
          return absl::OkStatus();
        });
      });
}

// --- allocation and coverage ---------------------------------------------------------------------

namespace {

std::string OptionalValue(const std::optional<base::Amount>& v) { return v ? v->ToBaseUnitString() : ""; }

absl::Status CheckOptionalAssetId(const std::string& asset_id) {
  return asset_id.empty() ? absl::OkStatus() : CheckIdText("asset_id", asset_id);
}

}  // namespace

absl::StatusOr<AllocationReport> CustodyService::ReadAllocation(const std::string& asset_id) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
  return ComputeAllocation(*txn, config_, asset_id);
}

grpc::Status CustodyService::GetAllocation(grpc::ServerContext* context, const v1::GetAllocationRequest* request,
                                           v1::GetAllocationResponse* response) {
  return Serve(
      "GetAllocation", context,
      [&]() { return CheckOptionalAssetId(request->asset_id()); },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(const AllocationReport report, ReadAllocation(request->asset_id()));
        for (const AssetAllocation& a : report.assets) {
          v1::AssetAllocation* out = response->add_assets();
          out->set_asset_id(a.asset->id);
          out->set_decimals(a.asset->decimals);
          out->set_client_hot(a.hot.ToBaseUnitString());
          out->set_client_cold(a.cold.ToBaseUnitString());
          out->set_client_total(a.total.ToBaseUnitString());
          out->set_hot_share_bps(a.hot_share_bps);
          out->set_hot_cap_bps(a.hot_cap_bps);
          out->set_hot_cap(a.hot_cap.ToBaseUnitString());
          out->set_over_cap(a.over_cap);
          out->set_min_sweep(a.rules->min_sweep.ToBaseUnitString());
          out->set_planned_sweep(a.planned_sweep.ToBaseUnitString());
          out->set_cold_addresses(a.cold_addresses);
          out->set_hot_value(OptionalValue(a.hot_value));
          out->set_cold_value(OptionalValue(a.cold_value));
          out->set_reserved_for_withdrawals(a.reserved_for_withdrawals.ToBaseUnitString());
          out->set_sweeping(a.sweeping.ToBaseUnitString());
          out->set_topping_up(a.topping_up.ToBaseUnitString());
          out->set_planned_top_up(a.planned_top_up.ToBaseUnitString());
          out->set_action(std::string(policy::AllocationActionCode(a.decision->action)));
          out->set_reason(std::string(policy::AllocationReasonCode(a.decision->reason)));
          out->set_decided_amount(a.decision->amount.ToBaseUnitString());
          out->set_hot_after(a.decision->hot_after.ToBaseUnitString());
          out->set_hot_target(a.decision->target_amount.ToBaseUnitString());
          out->set_hot_floor(a.rules->hot_floor.ToBaseUnitString());
          out->set_policy_hash(report.policy_hash);
        }
        response->set_ledger_seq(report.ledger_seq);
        response->set_policy_hash(report.policy_hash);
        if (config_.allocation.has_value()) {
          response->set_reference(config_.allocation->reference);
          response->set_reference_decimals(config_.allocation->reference_decimals);
          response->set_aggregate_complete(report.aggregate_complete);
          response->set_hot_value(report.hot_value.ToBaseUnitString());
          response->set_cold_value(report.cold_value.ToBaseUnitString());
          response->set_aggregate_hot_share_bps(report.aggregate_hot_share_bps);
          response->set_aggregate_hot_cap_bps(report.aggregate_hot_cap_bps);
          response->set_aggregate_over_cap(report.aggregate_over_cap);
        }
        return absl::OkStatus();
      });
}

grpc::Status CustodyService::GetCoverage(grpc::ServerContext* context, const v1::GetCoverageRequest* request,
                                         v1::GetCoverageResponse* response) {
  return Serve(
      "GetCoverage", context,
      [&]() { return CheckOptionalAssetId(request->asset_id()); },
      [&](const Caller&) -> absl::Status {
        RF_ASSIGN_OR_RETURN(const AllocationReport report, ReadAllocation(request->asset_id()));
        for (const AssetAllocation& a : report.assets) {
          v1::AssetCoverage* out = response->add_assets();
          out->set_asset_id(a.asset->id);
          out->set_decimals(a.asset->decimals);
          out->set_client_hot(a.hot.ToBaseUnitString());
          out->set_client_cold(a.cold.ToBaseUnitString());
          out->set_cold_share_bps(a.cold_share_bps);
          out->set_required(a.cover_required.ToBaseUnitString());
          out->set_configured(a.cover_configured.ToBaseUnitString());
          out->set_shortfall(a.cover_shortfall.ToBaseUnitString());
          out->set_covered(a.cover_shortfall.is_zero());
          for (const CoverConfig& c : config_.coverage.covers) {
            if (c.asset_id != a.asset->id) continue;
            v1::CoverPolicy* p = out->add_policies();
            p->set_policy(c.policy);
            p->set_amount(c.amount.ToBaseUnitString());
          }
          out->set_required_value(OptionalValue(a.cover_required_value));
          out->set_configured_value(OptionalValue(a.cover_configured_value));
        }
        response->set_ledger_seq(report.ledger_seq);
        if (config_.allocation.has_value()) {
          response->set_reference(config_.allocation->reference);
          response->set_reference_decimals(config_.allocation->reference_decimals);
          response->set_aggregate_complete(report.aggregate_complete);
          response->set_required_value(report.cover_required_value.ToBaseUnitString());
          response->set_configured_value(report.cover_configured_value.ToBaseUnitString());
          response->set_shortfall_value(report.cover_shortfall_value.ToBaseUnitString());
        }
        return absl::OkStatus();
      });
}

// --- reconciliation ----------------------------------------------------------------------------

grpc::Status CustodyService::GetReconciliation(grpc::ServerContext* context,
                                               const v1::GetReconciliationRequest* request,
                                               v1::GetReconciliationResponse* response) {
  return Serve(
      "GetReconciliation", context,
      [&]() -> absl::Status {
        RF_RETURN_IF_ERROR(CheckOptionalAssetId(request->asset_id()));
        if (!request->asset_id().empty()) return KnownAsset(config_, "asset_id", request->asset_id()).status();
        return absl::OkStatus();
      },
      [&](const Caller&) -> absl::Status {
        const std::string& only = request->asset_id();
        response->set_configured(config_.reconciliation.has_value());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
        for (const AssetConfig& a : config_.assets) {
          if (!only.empty() && a.id != only) continue;
          v1::AssetReconciliationState* out = response->add_assets();
          out->set_asset_id(a.id);
          RF_ASSIGN_OR_RETURN(std::optional<store::AssetFreezeRow> freeze, txn->GetActiveFreeze(a.id));
          out->set_frozen(freeze.has_value());
          if (freeze) {
            out->set_freeze_id(freeze->freeze_id);
            out->set_reason(freeze->reason);
          }
        }
        RF_ASSIGN_OR_RETURN(std::vector<store::ReconciliationRow> rows, txn->ListReconciliations());
        for (const store::ReconciliationRow& row : rows) {
          if (!only.empty() && row.asset_id != only) continue;
          v1::WalletReconciliation* out = response->add_wallets();
          out->set_wallet_id(row.wallet_id);
          out->set_asset_id(row.asset_id);
          out->set_chain(row.chain);
          out->set_height(row.height);
          out->set_block_hash(row.block_hash);
          out->set_chain_balance(row.chain_balance.ToBaseUnitString());
          out->set_ledger_balance(row.ledger_balance.ToBaseUnitString());
          out->set_expected(row.expected);
          out->set_difference(row.difference);
          out->set_acknowledged(row.acknowledged);
          out->set_state(row.state);
          const json addresses = json::parse(row.addresses, nullptr, false);
          if (addresses.is_array()) {
            for (const json& a : addresses) {
              v1::AddressBalance* ab = out->add_addresses();
              ab->set_address(a.value("address", ""));
              ab->set_balance(a.value("balance", ""));
            }
          }
          out->set_ledger_seq(row.ledger_seq);
          out->set_unix_ms(row.unix_ms);
        }
        RF_ASSIGN_OR_RETURN(std::vector<store::UnknownTransferRow> unknown, txn->ListUnknownTransfers(only));
        for (const store::UnknownTransferRow& t : unknown) {
          v1::UnknownTransfer* out = response->add_unknown_transfers();
          out->set_chain(t.chain);
          out->set_txid(t.txid);
          out->set_index(t.index);
          out->set_asset_id(t.asset_id);
          out->set_address(t.address);
          out->set_wallet_id(t.wallet_id);
          out->set_amount(t.amount.ToBaseUnitString());
          out->set_block_height(t.block_height);
          out->set_acknowledged(t.acknowledged);
          out->set_freeze_id(t.freeze_id);
          out->set_recorded_unix_ms(t.recorded_unix_ms);
        }
        RF_ASSIGN_OR_RETURN(std::vector<store::AssetFreezeRow> freezes, txn->ListFreezes(false, 100));
        for (const store::AssetFreezeRow& f : freezes) {
          if (!only.empty() && f.asset_id != only) continue;
          RF_RETURN_IF_ERROR(FillAssetFreeze(*txn, f, response->add_freezes()));
        }
        return absl::OkStatus();
      });
}

}  // namespace ringfence::custody
