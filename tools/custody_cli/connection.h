// How custodyctl and chainsimctl reach their server: the address and the mTLS identity
// (CA certificate, a role's certificate and key) from flags or the RINGFENCE_CUSTODY_*
// environment variables, turned into a gRPC channel. A value, no state; thread-compatible.
#ifndef RINGFENCE_TOOLS_CUSTODY_CLI_CONNECTION_H_
#define RINGFENCE_TOOLS_CUSTODY_CLI_CONNECTION_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace ringfence::custody_cli {

// Environment variables read for the connection flags a command line leaves out.
inline constexpr char kAddrEnv[] = "RINGFENCE_CUSTODY_ADDR";
inline constexpr char kCaEnv[] = "RINGFENCE_CUSTODY_CA";
inline constexpr char kCertEnv[] = "RINGFENCE_CUSTODY_CERT";
inline constexpr char kKeyEnv[] = "RINGFENCE_CUSTODY_KEY";

struct ConnectionOptions {
  std::string addr;  // gRPC target: host:port, [v6]:port or unix:/path
  std::string ca;    // PEM file: the CA custodyd's server certificate chains to
  std::string cert;  // PEM file: the caller's client certificate (it decides the role)
  std::string key;   // PEM file: that certificate's private key
  bool plaintext = false;  // no TLS: only for a custodyd started with --insecure-loopback
};

// Fills each empty field from its environment variable (unset or empty leaves it empty).
void FillFromEnvironment(ConnectionOptions* options);

// A channel to options.addr with TLS (the CA as the only trust root, the certificate and key as
// the client identity) unless plaintext. The files are read here, so a missing or unreadable
// one is reported before any call. Returns InvalidArgument naming the flag and its
// environment variable when a required value is missing, a file cannot be read or is not PEM.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options);

}  // namespace ringfence::custody_cli

#endif  // RINGFENCE_TOOLS_CUSTODY_CLI_CONNECTION_H_
