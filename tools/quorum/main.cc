// quorum: the ops staff's approval tool. Creates an approver's sealed Ed25519 key, shows the
// approval digest of a request, and signs it. Flags are parsed here; the work is in
// sealed_key.cc and signer/tx/approval.cc (the digest signerd recomputes).
#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "base/amount.h"
#include "signer/tx/approval.h"
#include "tools/quorum/sealed_key.h"

namespace {

using ringfence::quorum::KdfCost;
using ringfence::quorum::SealedKey;

constexpr char kPassphraseEnv[] = "RINGFENCE_QUORUM_PASSPHRASE";

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "quorum: %s\n", message.c_str());
  return code;
}

std::string Hex(const uint8_t* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// The passphrase comes from a file or the environment, never from the command line. The caller
// wipes it.
bool ReadPassphrase(const std::string& file, std::string* out, std::string* error) {
  if (!file.empty()) {
    if (!ReadFile(file, out)) {
      *error = "cannot read passphrase file '" + file + "'";
      return false;
    }
    if (!out->empty() && out->back() == '\n') out->pop_back();
    return true;
  }
  const char* env = std::getenv(kPassphraseEnv);
  if (env == nullptr) {
    *error = std::string("no passphrase: give --passphrase-file or set ") + kPassphraseEnv;
    return false;
  }
  *out = env;
  return true;
}

void Wipe(std::string* s) {
  if (!s->empty()) sodium_memzero(s->data(), s->size());
  s->clear();
}

struct SubjectFlags {
  ringfence::signer::tx::ApprovalSubject subject;
  std::string amount;
  std::string fee_cap;

  void Add(CLI::App* cmd) {
    cmd->add_option("--request-id", subject.request_id, "withdrawal or sweep id")->required();
    cmd->add_option("--chain", subject.chain, "bitcoin or ethereum")->required();
    cmd->add_option("--network", subject.network, "network as configured in signerd")->required();
    cmd->add_option("--asset", subject.asset, "asset id, e.g. BTC")->required();
    cmd->add_option("--amount", amount, "amount the destination receives, in base units")->required();
    cmd->add_option("--destination", subject.destination, "canonical destination address")->required();
    cmd->add_option("--fee-cap", fee_cap, "most network fee, in the chain's native base units")->required();
  }

  // Digest of the request, or an error message naming the bad flag.
  bool Digest(std::array<uint8_t, 32>* digest, std::string* error) {
    auto amount_value = ringfence::base::ParseBaseUnits(amount);
    if (!amount_value.ok()) {
      *error = "--amount: " + std::string(amount_value.status().message());
      return false;
    }
    auto fee_value = ringfence::base::ParseBaseUnits(fee_cap);
    if (!fee_value.ok()) {
      *error = "--fee-cap: " + std::string(fee_value.status().message());
      return false;
    }
    subject.amount = amount_value->base_units();
    subject.fee_cap = fee_value->base_units();
    auto d = ringfence::signer::tx::ApprovalDigest(subject);
    if (!d.ok()) {
      *error = std::string(d.status().message());
      return false;
    }
    *digest = *d;
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return Fail("libsodium failed to initialise");
  CLI::App app{"quorum: approve Ringfence withdrawals and cold moves with a sealed Ed25519 key"};
  app.require_subcommand(1);

  std::string out_path, passphrase_file, key_path, approver_id;
  KdfCost cost;
  auto* keygen = app.add_subcommand("keygen", "create a sealed approver key and print its public key");
  keygen->add_option("--out", out_path, "sealed key file to create (must not exist)")->required();
  keygen->add_option("--passphrase-file", passphrase_file, std::string("passphrase file (else $") + kPassphraseEnv + ")");
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
  approve->add_option("--passphrase-file", passphrase_file, std::string("passphrase file (else $") + kPassphraseEnv + ")");
  approve_flags.Add(approve);

  CLI11_PARSE(app, argc, argv);

  if (keygen->parsed()) {
    if (keygen->count("--kdf-memlimit-mib") > 0) cost.memlimit <<= 20;
    std::string passphrase, error;
    if (!ReadPassphrase(passphrase_file, &passphrase, &error)) return Fail(error, 3);
    std::array<uint8_t, 32> public_key{};
    auto text = SealedKey::Generate(passphrase, cost, &public_key);
    Wipe(&passphrase);
    if (!text.ok()) return Fail(std::string(text.status().message()));
    // O_EXCL: never overwrite an existing key.
    FILE* f = nullptr;
    mode_t old = umask(077);
    f = std::fopen(out_path.c_str(), "wx");
    umask(old);
    if (f == nullptr) return Fail("cannot create '" + out_path + "' (does it exist already?)", 3);
    bool ok = std::fwrite(text->data(), 1, text->size(), f) == text->size();
    ok = (std::fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) return Fail("cannot write '" + out_path + "'", 3);
    std::printf("%s\n", Hex(public_key.data(), public_key.size()).c_str());
    return 0;
  }
  if (pubkey->parsed()) {
    std::string text;
    if (!ReadFile(key_path, &text)) return Fail("cannot read '" + key_path + "'", 3);
    auto pk = SealedKey::PublicKeyOf(text);
    if (!pk.ok()) return Fail(std::string(pk.status().message()));
    std::printf("%s\n", Hex(pk->data(), pk->size()).c_str());
    return 0;
  }
  if (digest->parsed()) {
    std::array<uint8_t, 32> d{};
    std::string error;
    if (!digest_flags.Digest(&d, &error)) return Fail(error, 3);
    std::printf("%s\n", Hex(d.data(), d.size()).c_str());
    return 0;
  }
  if (approve->parsed()) {
    std::array<uint8_t, 32> d{};
    std::string error;
    if (!approve_flags.Digest(&d, &error)) return Fail(error, 3);
    std::string text;
    if (!ReadFile(key_path, &text)) return Fail("cannot read '" + key_path + "'", 3);
    std::string passphrase;
    if (!ReadPassphrase(passphrase_file, &passphrase, &error)) return Fail(error, 3);
    auto key = SealedKey::Open(text, passphrase);
    Wipe(&passphrase);
    if (!key.ok()) return Fail(std::string(key.status().message()));
    const auto& s = approve_flags.subject;
    // What is being approved goes to the terminal in full: approvers never sign blind either.
    std::fprintf(stderr, "approving %s: %s %s on %s/%s to %s, fee cap %s\n", s.request_id.c_str(),
                 approve_flags.amount.c_str(), s.asset.c_str(), s.chain.c_str(), s.network.c_str(),
                 s.destination.c_str(), approve_flags.fee_cap.c_str());
    auto sig = (*key)->Sign(d);
    std::printf("{\"approver_id\":\"%s\",\"digest\":\"%s\",\"signature\":\"%s\"}\n", approver_id.c_str(),
                Hex(d.data(), d.size()).c_str(), Hex(sig.data(), sig.size()).c_str());
    return 0;
  }
  return Fail("no subcommand", 3);
}
