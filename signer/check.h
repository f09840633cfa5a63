// Always-on invariant checks for the signer.
//
// RINGFENCE_SIGNER_CHECK(cond, message) aborts the process when `cond` is false, in every
// build type. It is for broken invariants only (a signature that fails its own re-check, a
// log chain that our own writer broke), never for validating input: input errors are
// absl::Status values.
#ifndef RINGFENCE_SIGNER_CHECK_H_
#define RINGFENCE_SIGNER_CHECK_H_

#include <string_view>

namespace ringfence::signer {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              std::string_view message);

}  // namespace ringfence::signer

#define RINGFENCE_SIGNER_CHECK(cond, message)                                        \
  do {                                                                               \
    if (!(cond)) ::ringfence::signer::CheckFailed(__FILE__, __LINE__, #cond, (message)); \
  } while (false)

#endif  // RINGFENCE_SIGNER_CHECK_H_
