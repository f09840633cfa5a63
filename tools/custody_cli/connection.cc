#include "tools/custody_cli/connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody_cli {
namespace {

using base::Cat;
using base::Clip;

// A PEM file is small; anything larger is the wrong file.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

void FillOne(std::string* value, const char* env) {
  if (!value->empty()) return;
  const char* v = std::getenv(env);
  if (v != nullptr) *value = v;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view flag, std::string_view env) {
  if (path.empty()) return absl::InvalidArgumentError(Cat(flag, " is required (or set ", env, ")"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(Cat(flag, ": cannot read ", Clip(path, 200)));
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(Cat(flag, ": ", Clip(path, 200), " is larger than 1 MiB"));
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(Cat(flag, ": ", Clip(path, 200), " is not a PEM file"));
  }
  return text;
}

}  // namespace

void FillFromEnvironment(ConnectionOptions* options) {
  FillOne(&options->addr, kAddrEnv);
  FillOne(&options->ca, kCaEnv);
  FillOne(&options->cert, kCertEnv);
  FillOne(&options->key, kKeyEnv);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options) {
  if (options.addr.empty()) return absl::InvalidArgumentError(Cat("--addr is required (or set ", kAddrEnv, ")"));
  if (options.plaintext) return grpc::CreateChannel(options.addr, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions ssl;
  RF_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.ca, "--ca", kCaEnv));
  RF_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(options.cert, "--cert", kCertEnv));
  RF_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(options.key, "--key", kKeyEnv));
  return grpc::CreateChannel(options.addr, grpc::SslCredentials(ssl));
}

}  // namespace ringfence::custody_cli
