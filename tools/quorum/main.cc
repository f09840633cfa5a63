// quorum: the ops staff's approval tool. Creates an approver's sealed Ed25519 key, shows the
// approval digest of a request, and signs it. Flags are parsed here; the work is in
// sealed_key.cc, amount_display.cc (amounts as a person reads them) and
// policy/approval_digest.cc (the digest signerd recomputes).
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
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
#include "tools/quorum/amount_display.h"
#include "tools/quorum/sealed_key.h"

namespace {

using ringfence::base::Cat;
using ringfence::base::FormatLabelledAmount;
using ringfence::base::HexEncode;
using ringfence::base::SecretBytes;
using ringfence::quorum::DisplayUnits;
using ringfence::quorum::KdfCost;
using ringfence::quorum::ResolveDisplayUnits;
using ringfence::quorum::SealedKey;

constexpr char kPassphraseEnv[] = "RINGFENCE_QUORUM_PASSPHRASE";

int Fail(absl::string_view message, int code) {
  std::fprintf(stderr, "quorum: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// The longest passphrase file read: far more than any passphrase, and it bounds the read.
constexpr size_t kMaxPassphraseFileBytes = 4096;

// The passphrase comes from a file or the environment, never from the command line. It is read
// straight into guarded memory, so the only copy is wiped when the returned buffer goes.
absl::StatusOr<SecretBytes> ReadPassphrase(const std::string& file) {
  if (file.empty()) {
    const char* env = std::getenv(kPassphraseEnv);
    if (env == nullptr) {
      return absl::InvalidArgumentError(Cat("no passphrase: give --passphrase-file or set ", kPassphraseEnv));
    }
    return SecretBytes::CopyOf(std::string_view(env));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (f == nullptr) return absl::InvalidArgumentError(Cat("cannot read passphrase file '", file, "'"));
  // Unbuffered, so that stdio keeps no copy; one byte more than allowed tells an oversized file
  // apart.
  std::setvbuf(f.get(), nullptr, _IONBF, 0);
  SecretBytes passphrase(kMaxPassphraseFileBytes + 1);
  const size_t size = std::fread(passphrase.data(), 1, passphrase.size(), f.get());
  if (std::ferror(f.get())) return absl::InvalidArgumentError(Cat("cannot read passphrase file '", file, "'"));
  if (size > kMaxPassphraseFileBytes) {
    return absl::InvalidArgumentError(
        Cat("passphrase file '", file, "' is larger than ", kMaxPassphraseFileBytes, " bytes"));
  }
  passphrase.Truncate(size > 0 && passphrase.data()[size - 1] == '\n' ? size - 1 : size);
  return passphrase;
}

struct SubjectFlags {
  ringfence::policy::ApprovalSubject subject;
  std::string amount;
  std::string fee_cap;
  std::string kind;
  int decimals = 0;
  CLI::Option* decimals_option = nullptr;

  void Add(CLI::App* cmd) {
    cmd->add_option("--request-id", subject.request_id, "withdrawal or sweep id")->required();
    cmd->add_option("--kind", kind, "withdrawal, sweep, top_up or fee_reimbursement")->required();
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
          Cat("--kind: '", ringfence::base::Clip(kind), "' is not withdrawal, sweep, top_up or fee_reimbursement"));
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
    *terms = Cat(subject.request_id, ": ", kind, " from wallet ", subject.source_wallet, ", ", FormatLabelledAmount(*amount_value, units.asset_decimals, units.asset), " on ",
                 subject.chain, "/", subject.network, " to ", subject.destination, ", fee cap ",
                 FormatLabelledAmount(*fee_value, units.fee_decimals, units.fee_unit), ", expires at ",
                 subject.expires_at, " (Unix seconds)");
    return digest;
  }
};

constexpr int kRefused = 1;
constexpr int kUsageOrIo = 3;

int Keygen(const std::string& out_path, const std::string& passphrase_file, const KdfCost& cost) {
  auto passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status().message(), kUsageOrIo);
  std::array<uint8_t, 32> public_key{};
  auto text = SealedKey::Generate(passphrase->view(), cost, &public_key);
  passphrase->Wipe();
  if (!text.ok()) return Fail(text.status().message(), kRefused);
  // "x" is O_EXCL: never overwrite an existing key.
  const mode_t old = umask(077);
  FILE* f = std::fopen(out_path.c_str(), "wx");
  umask(old);
  if (f == nullptr) return Fail(Cat("cannot create '", out_path, "' (does it exist already?)"), kUsageOrIo);
  bool ok = std::fwrite(text->data(), 1, text->size(), f) == text->size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Fail(Cat("cannot write '", out_path, "'"), kUsageOrIo);
  std::printf("%s\n", HexEncode(public_key).c_str());
  return 0;
}

int PrintPublicKey(const std::string& key_path) {
  std::string text;
  if (!ReadFile(key_path, &text)) return Fail(Cat("cannot read '", key_path, "'"), kUsageOrIo);
  auto public_key = SealedKey::PublicKeyOf(text);
  if (!public_key.ok()) return Fail(public_key.status().message(), kRefused);
  std::printf("%s\n", HexEncode(*public_key).c_str());
  return 0;
}

// The digest on stdout (for scripts); what it approves on stderr (for the person comparing).
int PrintDigest(SubjectFlags& flags) {
  std::string terms;
  auto digest = flags.Digest(&terms);
  if (!digest.ok()) return Fail(digest.status().message(), kUsageOrIo);
  std::fprintf(stderr, "digest of %s\n", terms.c_str());
  std::printf("%s\n", HexEncode(*digest).c_str());
  return 0;
}

int Approve(SubjectFlags& flags, const std::string& key_path, const std::string& approver_id,
            const std::string& passphrase_file) {
  std::string terms;
  auto digest = flags.Digest(&terms);
  if (!digest.ok()) return Fail(digest.status().message(), kUsageOrIo);
  std::string text;
  if (!ReadFile(key_path, &text)) return Fail(Cat("cannot read '", key_path, "'"), kUsageOrIo);
  auto passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status().message(), kUsageOrIo);
  auto key = SealedKey::Open(text, passphrase->view());
  passphrase->Wipe();
  if (!key.ok()) return Fail(key.status().message(), kRefused);
  std::fprintf(stderr, "approving %s\n", terms.c_str());
  const auto signature = (*key)->Sign(*digest);
  std::printf("{\"approver_id\":\"%s\",\"digest\":\"%s\",\"signature\":\"%s\"}\n", approver_id.c_str(),
              HexEncode(*digest).c_str(), HexEncode(signature).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return Fail("libsodium failed to initialise", kUsageOrIo);
  CLI::App app{"quorum: approve Ringfence withdrawals and cold moves with a sealed Ed25519 key"};
  app.require_subcommand(1);

  std::string out_path, passphrase_file, key_path, approver_id;
  KdfCost cost;
  const std::string passphrase_help = Cat("passphrase file (else $", kPassphraseEnv, ")");
  auto* keygen = app.add_subcommand("keygen", "create a sealed approver key and print its public key");
  keygen->add_option("--out", out_path, "sealed key file to create (must not exist)")->required();
  keygen->add_option("--passphrase-file", passphrase_file, passphrase_help);
  keygen->add_option("--kdf-opslimit", cost.opslimit, "Argon2id passes")->check(CLI::Range(1, 64));
  keygen->add_option("--kdf-memlimit-mib", cost.memlimit, "Argon2id memory in MiB")->check(CLI::Range(8, 4096));

  auto* pubkey = app.add_subcommand("pubkey", "print the public key of a sealed key file");
  pubkey->add_option("key", key_path, "sealed key file")->required();

  SubjectFlags digest_flags;
  auto* digest = app.add_subcommand("digest", "print the approval digest of a request (docs/approval-digest.md)");
  digest_flags.Add(digest);

  SubjectFlags approve_flags;
  auto* approve = app.add_subcommand("approve", "sign a request's approval digest; prints a JSON approval");
  approve->add_option("--key", key_path, "sealed key file")->required();
  approve->add_option("--approver-id", approver_id, "your id in signerd's approver registry")->required();
  approve->add_option("--passphrase-file", passphrase_file, passphrase_help);
  approve_flags.Add(approve);

  CLI11_PARSE(app, argc, argv);

  if (keygen->parsed()) {
    if (keygen->count("--kdf-memlimit-mib") > 0) cost.memlimit <<= 20;
    return Keygen(out_path, passphrase_file, cost);
  }
  if (pubkey->parsed()) return PrintPublicKey(key_path);
  if (digest->parsed()) return PrintDigest(digest_flags);
  if (approve->parsed()) return Approve(approve_flags, key_path, approver_id, passphrase_file);
  return Fail("no subcommand", kUsageOrIo);
}
