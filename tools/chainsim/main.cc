// chainsim: Ringfence's development chain. Parses flags, starts the server, prints the address
// it listens on as the first line of stdout ("listening <address>", which tests and scripts
// wait for), and serves until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "rpc/process.h"
#include "tools/chainsim/service.h"

int main(int argc, char** argv) {
  ringfence::rpc::DisableMutexDeadlockDetection();
  CLI::App app{"chainsim: a development Bitcoin (regtest) and Ethereum (chain id 1337) chain for Ringfence"};
  std::string state_path;
  std::string listen;
  app.add_option("--state", state_path, "state file (SQLite; created if missing)")->required();
  app.add_option("--listen", listen,
                 "loopback host:port (port 0 picks a free port) or unix:/absolute/path")
      ->required();
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before gRPC starts its threads, so that they inherit the mask and only sigwait
  // below sees the signals.
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    std::fprintf(stderr, "chainsim: cannot block SIGTERM and SIGINT\n");
    return 1;
  }
  auto server = ringfence::chainsim::ChainsimServer::Start(state_path, listen);
  if (!server.ok()) {
    std::fprintf(stderr, "chainsim: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::printf("listening %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::fprintf(stderr, "chainsim: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  return 0;
}
