// Process-wide settings every Ringfence daemon applies before it starts gRPC.
#ifndef RINGFENCE_RPC_PROCESS_H_
#define RINGFENCE_RPC_PROCESS_H_

namespace ringfence::rpc {

// Turns off abseil's mutex deadlock detection. Debian builds abseil without NDEBUG, so the
// detection is on by default: every absl::Mutex that gRPC locks (several per call) then keeps
// a lock-order graph (GraphCycles), which costs a few microseconds of CPU per RPC and finds
// nothing in a release daemon. Our own code uses std::mutex. Call it first thing in main(),
// before any thread starts; it changes nothing else.
void DisableMutexDeadlockDetection();

}  // namespace ringfence::rpc

#endif  // RINGFENCE_RPC_PROCESS_H_
