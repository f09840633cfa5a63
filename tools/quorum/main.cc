// quorum: the ops staff's approval tool. Creates an approver's sealed Ed25519 key; against
// custodyd (mTLS with the approver's client certificate) lists what waits for approval, shows a
// withdrawal or whitelist addition with the digest it computes itself, approves it by signing
// that digest, or rejects it; offline, prints and signs the approval digest of a request given
// field by field. Flags are parsed and the calls made here; the work is in review.cc (what an
// approver sees and signs), sealed_key.cc, terminal.cc (passphrases and confirmations),
// amount_display.cc and policy/approval_digest.cc (the digests signerd and custodyd recompute).
//
// Exit status: 0 done; 1 a call to custodyd failed (its gRPC code and message on stderr) or
// custodyd's answer was refused (it disagrees with itself); 2 bad input (flags, ids, files,
// key file, passphrase).
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/amount.h"
#include "base/hex.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/text.h"
#include "policy/approval_digest.h"
#include "proto/custody.grpc.pb.h"
#include "tools/custody_cli/connection.h"
#include "tools/quorum/amount_display.h"
#include "tools/quorum/review.h"
#include "tools/quorum/sealed_key.h"
#include "tools/quorum/terminal.h"

namespace {

using ringfence::base::Cat;
using ringfence::base::Clip;
using ringfence::base::FormatLabelledAmount;
using ringfence::base::HexEncode;
using ringfence::base::SecretBytes;
using ringfence::quorum::DisplayUnits;
using ringfence::quorum::KdfCost;
using ringfence::quorum::ResolveDisplayUnits;
using ringfence::quorum::SealedKey;
using ringfence::quorum::TargetKind;
namespace cli = ringfence::custody_cli;
namespace quorum = ringfence::quorum;
namespace v1 = ringfence::custody::v1;

constexpr char kPassphraseEnv[] = "RINGFENCE_QUORUM_PASSPHRASE";
constexpr int kExitFailed = 1;    // a failed call, or an answer refused
constexpr int kExitBadInput = 2;  // flags, ids, files, key file, passphrase

int Fail(absl::string_view message, int code) {
  std::fprintf(stderr, "quorum: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

// A sealed key file is at most 4096 bytes (docs/quorum.md); one byte more tells an oversized
// file apart without reading the rest.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path, std::string_view flag) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(Cat(flag, ": cannot read ", Clip(path, 200)));
  std::string text(4097, '\0');
  size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = read(fd, text.data() + size, text.size() - size);
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(size);
  return text;
}

// Where a passphrase comes from: a descriptor, a file, the environment (keygen and sign
// only) or the terminal (approve only). Never a command-line argument.
struct PassphraseSource {
  int fd = -1;
  std::string file;

  void Add(CLI::App* cmd) {
    cmd->add_option("--passphrase-fd", fd, "read the passphrase from this open file descriptor (to its end)")
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--passphrase-file", file, "read the passphrase from this file");
  }

  absl::StatusOr<SecretBytes> Read(bool environment, bool terminal, std::string_view prompt) const {
    if (fd >= 0 && !file.empty()) return absl::InvalidArgumentError("give --passphrase-fd or --passphrase-file, not both");
    if (fd >= 0) return quorum::ReadSecretFromFd(fd, Cat("--passphrase-fd ", fd));
    if (!file.empty()) return quorum::ReadSecretFile(file, "--passphrase-file");
    if (environment) {
      const char* env = std::getenv(kPassphraseEnv);
      if (env != nullptr) return SecretBytes::CopyOf(std::string_view(env));
    }
    if (terminal) {
      return quorum::ReadPassphraseFromTerminal(prompt, "give --passphrase-fd N or --passphrase-file F");
    }
    return absl::InvalidArgumentError(
        Cat("no passphrase: give --passphrase-fd N, --passphrase-file F or set ", kPassphraseEnv));
  }
};

struct SubjectFlags {
  ringfence::policy::ApprovalSubject subject;
  std::string amount;
  std::string fee_cap;
  std::string kind;
  int decimals = 0;
  CLI::Option* decimals_option = nullptr;

  void Add(CLI::App* cmd) {
    cmd->add_option("--request-id", subject.request_id, "withdrawal or sweep id")->required();
    cmd->add_option("--kind", kind, "withdrawal, sweep, top_up, fee_reimbursement or gas_funding")->required();
    cmd->add_option("--source-wallet", subject.source_wallet, "id of the wallet the funds leave")->required();
    cmd->add_option("--expires-at", subject.expires_at, "when the approval expires, Unix seconds")->required();
    cmd->add_option("--chain", subject.chain, "bitcoin or ethereum")->required();
    cmd->add_option("--network", subject.network, "network as configured in signerd")->required();
    cmd->add_option("--asset", subject.asset, "asset id, e.g. BTC")->required();
    cmd->add_option("--amount", amount, "amount the destination receives, in base units")->required();
    cmd->add_option("--destination", subject.destination, "canonical destination address")->required();
    cmd->add_option("--fee-cap", fee_cap, "most network fee, in the chain's native base units")->required();
    decimals_option = cmd->add_option(
        "--decimals", decimals,
        "the asset's decimals, to show its amount; required for tokens, checked for BTC (8) and ETH (18)");
  }

  // The digest of the request, and a line saying what it approves in display units and in
  // base units. InvalidArgument naming the bad flag.
  absl::StatusOr<std::array<uint8_t, 32>> Digest(std::string* terms) {
    const auto parsed_kind = ringfence::policy::ParseRequestKind(kind);
    if (!parsed_kind) {
      return absl::InvalidArgumentError(
          Cat("--kind: ", Clip(kind), " is not withdrawal, sweep, top_up, fee_reimbursement or gas_funding"));
    }
    subject.kind = *parsed_kind;
    auto amount_value = ringfence::base::ParseBaseUnits(amount);
    if (!amount_value.ok()) return absl::InvalidArgumentError(Cat("--amount: ", amount_value.status().message()));
    auto fee_value = ringfence::base::ParseBaseUnits(fee_cap);
    if (!fee_value.ok()) return absl::InvalidArgumentError(Cat("--fee-cap: ", fee_value.status().message()));
    RF_ASSIGN_OR_RETURN(const DisplayUnits units,
                        ResolveDisplayUnits(subject.chain, subject.asset,
                                            decimals_option->count() > 0 ? std::optional<int>(decimals) : std::nullopt));
    subject.amount = *amount_value;
    subject.fee_cap = *fee_value;
    RF_ASSIGN_OR_RETURN(const auto digest, ringfence::policy::ApprovalDigest(subject));
    // What is approved is shown in full: approvers never sign blind either.
    *terms = Cat(subject.request_id, ": ", kind, " from wallet ", subject.source_wallet, ", ",
                 FormatLabelledAmount(*amount_value, units.asset_decimals, units.asset), " on ", subject.chain, "/",
                 subject.network, " to ", subject.destination, ", fee cap ",
                 FormatLabelledAmount(*fee_value, units.fee_decimals, units.fee_unit), ", expires at ",
                 subject.expires_at, " (Unix seconds)");
    return digest;
  }
};

int Keygen(const std::string& out_path, const PassphraseSource& source, const KdfCost& cost) {
  auto passphrase = source.Read(/*environment=*/true, /*terminal=*/false, "");
  if (!passphrase.ok()) return Fail(passphrase.status().message(), kExitBadInput);
  std::array<uint8_t, 32> public_key{};
  auto text = SealedKey::Generate(passphrase->view(), cost, &public_key);
  passphrase->Wipe();
  if (!text.ok()) return Fail(text.status().message(), kExitBadInput);
  // "x" is O_EXCL: never overwrite an existing key.
  const mode_t old = umask(077);
  FILE* f = std::fopen(out_path.c_str(), "wx");
  umask(old);
  if (f == nullptr) return Fail(Cat("cannot create '", out_path, "' (does it exist already?)"), kExitBadInput);
  bool ok = std::fwrite(text->data(), 1, text->size(), f) == text->size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Fail(Cat("cannot write '", out_path, "'"), kExitBadInput);
  std::printf("%s\n", HexEncode(public_key).c_str());
  return 0;
}

int PrintPublicKey(const std::string& key_path) {
  auto text = ReadKeyFile(key_path, "key file");
  if (!text.ok()) return Fail(text.status().message(), kExitBadInput);
  auto public_key = SealedKey::PublicKeyOf(*text);
  if (!public_key.ok()) return Fail(public_key.status().message(), kExitBadInput);
  std::printf("%s\n", HexEncode(*public_key).c_str());
  return 0;
}

// Opens the sealed key with a passphrase from `source`. InvalidArgument for a malformed file,
// PermissionDenied for a wrong passphrase.
absl::StatusOr<std::unique_ptr<SealedKey>> OpenKey(const std::string& key_text, const PassphraseSource& source,
                                                   bool environment, bool terminal) {
  RF_ASSIGN_OR_RETURN(SecretBytes passphrase, source.Read(environment, terminal, "approver key passphrase: "));
  auto key = SealedKey::Open(key_text, passphrase.view());
  passphrase.Wipe();
  return key;
}

// The digest on stdout (for scripts); what it approves on stderr (for the person comparing).
int PrintDigest(SubjectFlags& flags) {
  std::string terms;
  auto digest = flags.Digest(&terms);
  if (!digest.ok()) return Fail(digest.status().message(), kExitBadInput);
  std::fprintf(stderr, "digest of %s\n", terms.c_str());
  std::printf("%s\n", HexEncode(*digest).c_str());
  return 0;
}

// Offline: signs a request given field by field and prints the approval as JSON.
int SignOffline(SubjectFlags& flags, const std::string& key_path, const std::string& approver_id,
                const PassphraseSource& source) {
  std::string terms;
  auto digest = flags.Digest(&terms);
  if (!digest.ok()) return Fail(digest.status().message(), kExitBadInput);
  auto text = ReadKeyFile(key_path, "--key-file");
  if (!text.ok()) return Fail(text.status().message(), kExitBadInput);
  auto key = OpenKey(*text, source, /*environment=*/true, /*terminal=*/false);
  if (!key.ok()) return Fail(key.status().message(), kExitBadInput);
  std::fprintf(stderr, "approving %s\n", terms.c_str());
  const auto signature = (*key)->Sign(*digest);
  std::printf("{\"approver_id\":\"%s\",\"digest\":\"%s\",\"signature\":\"%s\"}\n", approver_id.c_str(),
              HexEncode(*digest).c_str(), HexEncode(signature).c_str());
  return 0;
}

// ---- against custodyd ---------------------------------------------------------------------------

// A fresh idempotency key: 128 random bits, so that two invocations never share one.
std::string NewIdempotencyKey() {
  std::array<uint8_t, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  return Cat("quorum-", HexEncode(bytes));
}

int64_t NowUnixSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

class Custodyd {
 public:
  Custodyd(std::shared_ptr<grpc::Channel> channel, unsigned timeout_seconds)
      : stub_(v1::Custody::NewStub(std::move(channel))), timeout_seconds_(timeout_seconds) {}

  // Runs one call; on failure prints what it was, the gRPC code and message, and returns false.
  template <typename Response>
  bool Call(std::string_view what, const std::function<grpc::Status(v1::Custody::Stub*, grpc::ClientContext*)>& call) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds_));
    const grpc::Status status = call(stub_.get(), &context);
    if (status.ok()) return true;
    std::fprintf(stderr, "quorum: %.*s failed: %s: %s\n", static_cast<int>(what.size()), what.data(),
                 absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
                 status.error_message().c_str());
    return false;
  }

  bool Assets(v1::ListAssetsResponse* out) {
    return Call<v1::ListAssetsResponse>(
        "ListAssets", [&](v1::Custody::Stub* s, grpc::ClientContext* c) { return s->ListAssets(c, {}, out); });
  }

  bool Withdrawal(const std::string& id, v1::Withdrawal* out) {
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(id);
    v1::GetWithdrawalResponse resp;
    if (!Call<v1::GetWithdrawalResponse>(
            "GetWithdrawal", [&](v1::Custody::Stub* s, grpc::ClientContext* c) { return s->GetWithdrawal(c, req, &resp); })) {
      return false;
    }
    *out = resp.withdrawal();
    return true;
  }

  // Every page of ListPendingApprovals, oldest first; `visit` returns false to stop early.
  bool Pending(const std::string& approver_id, const std::function<bool(const v1::PendingApproval&)>& visit) {
    v1::ListPendingApprovalsRequest req;
    req.set_approver_id(approver_id);
    req.set_page_size(1000);
    // A bound on pages, so that a custodyd handing out endless tokens cannot keep quorum going.
    for (int page = 0; page < 1000; ++page) {
      v1::ListPendingApprovalsResponse resp;
      if (!Call<v1::ListPendingApprovalsResponse>("ListPendingApprovals", [&](v1::Custody::Stub* s, grpc::ClientContext* c) {
            return s->ListPendingApprovals(c, req, &resp);
          })) {
        return false;
      }
      for (const v1::PendingApproval& p : resp.pending()) {
        if (!visit(p)) return true;
      }
      if (resp.next_page_token().empty()) return true;
      req.set_page_token(resp.next_page_token());
    }
    std::fprintf(stderr, "quorum: ListPendingApprovals: stopped after 1000 pages\n");
    return true;
  }

  v1::Custody::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<v1::Custody::Stub> stub_;
  unsigned timeout_seconds_;
};

// What `show` and `approve` found and computed for one target.
struct Reviewed {
  TargetKind kind = TargetKind::kWithdrawal;
  v1::Withdrawal withdrawal;
  v1::WhitelistEntry entry;
  v1::AssetFreeze freeze;
  ringfence::policy::ApprovalDigestBytes digest{};
  std::vector<std::string> disagreements;
};

// Keeps a review's digest and disagreements; false after printing why there is none.
template <typename Review>
bool TakeReview(const absl::StatusOr<Review>& review, Reviewed* out) {
  if (!review.ok()) {
    Fail(review.status().message(), kExitFailed);
    return false;
  }
  out->digest = review->digest;
  out->disagreements = review->disagreements;
  return true;
}

// The pending approval whose whitelist entry or asset freeze is `id`; nullopt after printing
// that it is not among the `what` pending approval (unknown, or `gone`).
std::optional<v1::PendingApproval> FindPending(Custodyd& custodyd, const std::string& id, std::string_view what,
                                               std::string_view gone) {
  std::optional<v1::PendingApproval> found;
  if (!custodyd.Pending("", [&](const v1::PendingApproval& p) {
        const bool match = (p.kind() == v1::APPROVAL_TARGET_KIND_WHITELIST_ADD && p.whitelist_entry().entry_id() == id) ||
                           (p.kind() == v1::APPROVAL_TARGET_KIND_ASSET_FREEZE && p.asset_freeze().freeze_id() == id);
        if (match) found = p;
        return !match;
      })) {
    return std::nullopt;
  }
  if (!found) Fail(Cat(id, " is not among the ", what, " pending approval (unknown, or ", gone, ")"), kExitFailed);
  return found;
}

// Fetches `id`, prints the review and returns it; nullopt after printing why not (*exit_code
// set). A whitelist addition is looked up among the pending approvals: custodyd has no other
// way to fetch one entry, and only a pending one can be approved.
std::optional<Reviewed> FetchAndShow(Custodyd& custodyd, const std::string& id, TargetKind kind, int* exit_code) {
  *exit_code = kExitFailed;
  v1::ListAssetsResponse assets;
  if (!custodyd.Assets(&assets)) return std::nullopt;
  Reviewed out;
  out.kind = kind;
  const int64_t now = NowUnixSeconds();
  if (kind == TargetKind::kWithdrawal) {
    if (!custodyd.Withdrawal(id, &out.withdrawal)) return std::nullopt;
    if (out.withdrawal.withdrawal_id() != id) {
      Fail(Cat("custodyd answered GetWithdrawal ", id, " with withdrawal ", Clip(out.withdrawal.withdrawal_id())),
           kExitFailed);
      return std::nullopt;
    }
    auto review = quorum::ReviewWithdrawal(out.withdrawal, assets);
    if (!TakeReview(review, &out)) return std::nullopt;
    std::fputs(quorum::RenderWithdrawalReview(out.withdrawal, *review, now).c_str(), stdout);
  } else if (kind == TargetKind::kAssetFreeze) {
    std::optional<v1::PendingApproval> pending = FindPending(custodyd, id, "asset freezes", "already lifted");
    if (!pending) return std::nullopt;
    out.freeze = pending->asset_freeze();
    auto review = quorum::ReviewAssetFreeze(out.freeze);
    if (!TakeReview(review, &out)) return std::nullopt;
    std::fputs(quorum::RenderFreezeReview(out.freeze, *review, now).c_str(), stdout);
  } else {
    std::optional<v1::PendingApproval> pending = FindPending(custodyd, id, "whitelist additions", "already decided");
    if (!pending) return std::nullopt;
    out.entry = pending->whitelist_entry();
    auto review = quorum::ReviewWhitelistAddition(out.entry, assets);
    if (!TakeReview(review, &out)) return std::nullopt;
    std::fputs(quorum::RenderWhitelistReview(out.entry, *review, now).c_str(), stdout);
  }
  std::fflush(stdout);
  if (!out.disagreements.empty()) {
    std::fputs(quorum::RenderDisagreements(id, out.disagreements).c_str(), stderr);
    return std::nullopt;
  }
  *exit_code = 0;
  return out;
}

int Show(Custodyd& custodyd, const std::string& id, TargetKind kind) {
  int code = 0;
  FetchAndShow(custodyd, id, kind, &code);
  return code;
}

int Pending(Custodyd& custodyd, const std::string& approver_id) {
  const int64_t now = NowUnixSeconds();
  size_t count = 0;
  if (!custodyd.Pending(approver_id, [&](const v1::PendingApproval& p) {
        std::fputs(quorum::RenderPendingLine(p, now).c_str(), stdout);
        ++count;
        return true;
      })) {
    return kExitFailed;
  }
  if (count == 0) std::printf("nothing pending approval%s\n", approver_id.empty() ? "" : Cat(" by ", approver_id).c_str());
  return 0;
}

struct ApproveFlags {
  std::string key_file;
  std::string approver_id;
  std::string idempotency_key;
  bool yes = false;
  PassphraseSource passphrase;
};

int Approve(Custodyd& custodyd, const std::string& id, TargetKind kind, const ApproveFlags& flags) {
  // The key file is checked before anything is fetched: a wrong path is bad input, not a reason
  // to show a withdrawal that cannot be approved.
  auto key_text = ReadKeyFile(flags.key_file, "--key-file");
  if (!key_text.ok()) return Fail(key_text.status().message(), kExitBadInput);
  if (auto pk = SealedKey::PublicKeyOf(*key_text); !pk.ok()) return Fail(Cat("--key-file: ", pk.status().message()), kExitBadInput);

  int code = 0;
  std::optional<Reviewed> reviewed = FetchAndShow(custodyd, id, kind, &code);
  if (!reviewed) {
    if (code == kExitFailed) std::fprintf(stderr, "quorum: %s not approved\n", id.c_str());
    return code;
  }
  if (!flags.yes) {
    auto confirmed = quorum::ConfirmOnTerminal(Cat("Approve ", id, " as ", flags.approver_id, " by signing the digest above?"),
                                               "review it with `quorum show` and give --yes");
    if (!confirmed.ok()) return Fail(confirmed.status().message(), kExitBadInput);
    if (!*confirmed) return Fail(Cat(id, " not approved: not confirmed"), kExitBadInput);
  }
  auto key = OpenKey(*key_text, flags.passphrase, /*environment=*/false, /*terminal=*/true);
  if (!key.ok()) return Fail(key.status().message(), kExitBadInput);
  const std::array<uint8_t, 64> signature = (*key)->Sign(reviewed->digest);
  key->reset();

  v1::SubmitApprovalRequest req;
  const std::string idempotency_key = flags.idempotency_key.empty() ? NewIdempotencyKey() : flags.idempotency_key;
  req.set_idempotency_key(idempotency_key);
  req.set_target_id(id);
  req.set_approver_id(flags.approver_id);
  req.set_signature(signature.data(), signature.size());
  v1::SubmitApprovalResponse resp;
  if (!custodyd.Call<v1::SubmitApprovalResponse>(
          "SubmitApproval", [&](v1::Custody::Stub* s, grpc::ClientContext* c) { return s->SubmitApproval(c, req, &resp); })) {
    std::fprintf(stderr, "quorum: the request's idempotency key was %s\n", idempotency_key.c_str());
    return kExitFailed;
  }
  const bool freeze = kind == TargetKind::kAssetFreeze;
  const google::protobuf::RepeatedPtrField<std::string>& approvals =
      freeze ? resp.asset_freeze().approved_by()
             : kind == TargetKind::kWithdrawal ? resp.withdrawal().approvals() : resp.whitelist_entry().approvals();
  const uint32_t required = freeze                            ? resp.asset_freeze().approvals_required()
                            : kind == TargetKind::kWithdrawal ? resp.withdrawal().approvals_required()
                                                              : resp.whitelist_entry().approvals_required();
  const std::string state = freeze                            ? resp.asset_freeze().state()
                            : kind == TargetKind::kWithdrawal ? v1::WithdrawalState_Name(resp.withdrawal().state())
                                                              : v1::WhitelistState_Name(resp.whitelist_entry().state());
  bool counted = false;
  for (const std::string& a : approvals) counted = counted || a == flags.approver_id;
  std::printf("approved %s as %s: %d of %u approvals, state %s\nidempotency key: %s\n", id.c_str(),
              flags.approver_id.c_str(), approvals.size(), required, state.c_str(), idempotency_key.c_str());
  if (!counted) return Fail(Cat("custodyd accepted the call but does not list ", flags.approver_id, " among the approvals"), kExitFailed);
  return 0;
}

int Reject(Custodyd& custodyd, const std::string& id, TargetKind kind, const std::string& approver_id,
           const std::string& reason, const std::string& given_key) {
  const std::string idempotency_key = given_key.empty() ? NewIdempotencyKey() : given_key;
  std::string state;
  bool ok = false;
  if (kind == TargetKind::kWithdrawal) {
    v1::RejectWithdrawalRequest req;
    req.set_idempotency_key(idempotency_key);
    req.set_withdrawal_id(id);
    req.set_approver_id(approver_id);
    req.set_reason(reason);
    v1::RejectWithdrawalResponse resp;
    ok = custodyd.Call<v1::RejectWithdrawalResponse>(
        "RejectWithdrawal", [&](v1::Custody::Stub* s, grpc::ClientContext* c) { return s->RejectWithdrawal(c, req, &resp); });
    state = v1::WithdrawalState_Name(resp.withdrawal().state());
  } else {
    v1::RejectWhitelistAdditionRequest req;
    req.set_idempotency_key(idempotency_key);
    req.set_entry_id(id);
    req.set_approver_id(approver_id);
    req.set_reason(reason);
    v1::RejectWhitelistAdditionResponse resp;
    ok = custodyd.Call<v1::RejectWhitelistAdditionResponse>(
        "RejectWhitelistAddition",
        [&](v1::Custody::Stub* s, grpc::ClientContext* c) { return s->RejectWhitelistAddition(c, req, &resp); });
    state = v1::WhitelistState_Name(resp.entry().state());
  }
  if (!ok) {
    std::fprintf(stderr, "quorum: the request's idempotency key was %s\n", idempotency_key.c_str());
    return kExitFailed;
  }
  std::printf("rejected %s as %s: state %s\nidempotency key: %s\n", id.c_str(), approver_id.c_str(), state.c_str(),
              idempotency_key.c_str());
  return 0;
}

// A reason as custody.proto allows it: 1..256 printable ASCII bytes.
absl::Status CheckReason(const std::string& reason) {
  if (reason.empty() || reason.size() > 256) return absl::InvalidArgumentError("--reason: 1 to 256 bytes");
  for (const char c : reason) {
    if (c < 0x20 || c > 0x7e) return absl::InvalidArgumentError("--reason: printable ASCII only");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return Fail("libsodium failed to initialise", kExitBadInput);
  CLI::App app{
      "quorum: approve Ringfence withdrawals and whitelist additions with a sealed Ed25519 key. Against "
      "custodyd (pending, show, approve, reject) it connects with the approver's client certificate; the "
      "connection flags fall back to RINGFENCE_CUSTODY_ADDR, RINGFENCE_CUSTODY_CA, RINGFENCE_CUSTODY_CERT and "
      "RINGFENCE_CUSTODY_KEY."};
  app.require_subcommand(1);
  app.fallthrough();

  cli::ConnectionOptions connection;
  unsigned timeout_seconds = 30;
  app.add_option("--endpoint,--addr", connection.addr, "custodyd's address, host:port (env RINGFENCE_CUSTODY_ADDR)");
  app.add_option("--ca", connection.ca, "CA certificate, PEM (env RINGFENCE_CUSTODY_CA)");
  app.add_option("--cert", connection.cert, "the approver's client certificate, PEM (env RINGFENCE_CUSTODY_CERT)");
  app.add_option("--key", connection.key, "that certificate's private key, PEM (env RINGFENCE_CUSTODY_KEY)");
  app.add_option("--timeout", timeout_seconds, "seconds to wait for each answer (default 30)")
      ->check(CLI::Range(1u, 3600u));

  std::string out_path, key_path, approver_id, target_id, reason, idempotency_key;
  PassphraseSource passphrase;
  KdfCost cost;
  auto* keygen = app.add_subcommand("keygen", "create a sealed approver key and print its public key");
  keygen->add_option("--out", out_path, "sealed key file to create (must not exist)")->required();
  passphrase.Add(keygen);
  keygen->add_option("--kdf-opslimit", cost.opslimit, "Argon2id passes")->check(CLI::Range(1, 64));
  keygen->add_option("--kdf-memlimit-mib", cost.memlimit, "Argon2id memory in MiB")->check(CLI::Range(8, 4096));

  auto* pubkey = app.add_subcommand("pubkey", "print the public key of a sealed key file");
  pubkey->add_option("key", key_path, "sealed key file")->required();

  SubjectFlags digest_flags;
  auto* digest = app.add_subcommand("digest", "offline: print the approval digest of a request given field by field");
  digest_flags.Add(digest);

  SubjectFlags sign_flags;
  auto* sign = app.add_subcommand("sign", "offline: sign a request given field by field; prints a JSON approval");
  sign->add_option("--key-file", key_path, "sealed approver key file")->required();
  sign->add_option("--approver-id", approver_id, "your id in the approver registry")->required();
  passphrase.Add(sign);
  sign_flags.Add(sign);

  auto* pending = app.add_subcommand("pending", "what waits for approval, oldest first (ListPendingApprovals)");
  pending->add_option("--approver-id", approver_id, "leave out what this approver already approved");

  auto* show = app.add_subcommand(
      "show", "everything to review about a withdrawal, whitelist addition or asset freeze, and the digest an approval signs");
  show->add_option("ID", target_id, "w_... (withdrawal), wl_... (whitelist addition) or fz_... (asset freeze)")->required();

  ApproveFlags approve_flags;
  auto* approve = app.add_subcommand("approve", "show, confirm, sign the computed digest and submit the approval");
  approve->add_option("ID", target_id, "w_... (withdrawal), wl_... (whitelist addition) or fz_... (lift an asset freeze)")
      ->required();
  approve->add_option("--key-file", approve_flags.key_file, "sealed approver key file")->required();
  approve->add_option("--approver-id", approve_flags.approver_id, "your id in custodyd's [[approvers]]")->required();
  approve->add_flag("--yes", approve_flags.yes, "do not ask for confirmation on the terminal");
  approve->add_option("--idempotency-key", approve_flags.idempotency_key,
                      "retry key (1..128 of [A-Za-z0-9._:-]); a fresh one is made when not given");
  approve_flags.passphrase.Add(approve);

  auto* reject = app.add_subcommand("reject", "reject a withdrawal or whitelist addition (RejectWithdrawal / RejectWhitelistAddition)");
  reject->add_option("ID", target_id, "w_... (withdrawal) or wl_... (whitelist addition)")->required();
  reject->add_option("--reason", reason, "why, 1..256 printable characters")->required();
  reject->add_option("--approver-id", approver_id, "your id in custodyd's [[approvers]]")->required();
  reject->add_option("--idempotency-key", idempotency_key,
                     "retry key (1..128 of [A-Za-z0-9._:-]); a fresh one is made when not given");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }

  if (keygen->parsed()) {
    if (keygen->count("--kdf-memlimit-mib") > 0) cost.memlimit <<= 20;
    return Keygen(out_path, passphrase, cost);
  }
  if (pubkey->parsed()) return PrintPublicKey(key_path);
  if (digest->parsed()) return PrintDigest(digest_flags);
  if (sign->parsed()) return SignOffline(sign_flags, key_path, approver_id, passphrase);

  TargetKind kind = TargetKind::kWithdrawal;
  if (show->parsed() || approve->parsed() || reject->parsed()) {
    absl::StatusOr<TargetKind> parsed = quorum::ParseTargetId(target_id);
    if (!parsed.ok()) return Fail(parsed.status().message(), kExitBadInput);
    kind = *parsed;
  }
  if (reject->parsed()) {
    if (kind == TargetKind::kAssetFreeze) {
      return Fail("ID: an asset freeze is lifted by approvals (quorum approve); it cannot be rejected", kExitBadInput);
    }
    if (absl::Status s = CheckReason(reason); !s.ok()) return Fail(s.message(), kExitBadInput);
  }
  cli::FillFromEnvironment(&connection);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = cli::MakeChannel(connection);
  if (!channel.ok()) return Fail(channel.status().message(), kExitBadInput);
  Custodyd custodyd(*std::move(channel), timeout_seconds);
  if (pending->parsed()) return Pending(custodyd, approver_id);
  if (show->parsed()) return Show(custodyd, target_id, kind);
  if (approve->parsed()) return Approve(custodyd, target_id, kind, approve_flags);
  if (reject->parsed()) return Reject(custodyd, target_id, kind, approver_id, reason, idempotency_key);
  return Fail("no subcommand", kExitBadInput);
}
