// Always-on invariant checks.
//
// RF_CHECK(cond, message) aborts the process when `cond` is false, in every build type. It is
// for broken invariants only (an unbalanced journal, a signature failing its own re-check, a
// hash chain our own writer broke), never for validating input: input errors are
// absl::Status values.
#ifndef RINGFENCE_BASE_CHECK_H_
#define RINGFENCE_BASE_CHECK_H_

#include <string_view>

namespace ringfence::base {

// Prints file, line, the condition and `message` to stderr, then aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, std::string_view message);

}  // namespace ringfence::base

#define RF_CHECK(cond, message)                                                        \
  do {                                                                                 \
    if (!(cond)) ::ringfence::base::CheckFailed(__FILE__, __LINE__, #cond, (message)); \
  } while (false)

#endif  // RINGFENCE_BASE_CHECK_H_
