#include "rpc/process.h"

#include "absl/synchronization/mutex.h"

namespace ringfence::rpc {

void DisableMutexDeadlockDetection() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace ringfence::rpc
