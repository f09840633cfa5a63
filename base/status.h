// Early-return helpers for absl::Status / absl::StatusOr, the one copy every module uses.
//
// absl::Status is the error type across Ringfence (its codes map to gRPC's); these macros only
// shorten the "if not ok, return it" pattern. Header-only; nothing here has state.
#ifndef RINGFENCE_BASE_STATUS_H_
#define RINGFENCE_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RF_STATUS_CONCAT_INNER(a, b) a##b
#define RF_STATUS_CONCAT(a, b) RF_STATUS_CONCAT_INNER(a, b)

// RF_ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; on error returns its status,
// otherwise moves the value into `lhs`, which may be an existing variable or a declaration
// (`RF_ASSIGN_OR_RETURN(auto tx, Decode(bytes));`). Expands to statements, not an expression:
// do not use it as the body of an unbraced if.
#define RF_ASSIGN_OR_RETURN(lhs, expr) \
  RF_ASSIGN_OR_RETURN_IMPL(RF_STATUS_CONCAT(rf_status_or_, __LINE__), lhs, expr)
#define RF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = *std::move(tmp)

// RF_RETURN_IF_ERROR(expr): evaluates the Status `expr` and returns it if it is an error.
#define RF_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    ::absl::Status rf_status_ = (expr);            \
    if (!rf_status_.ok()) return rf_status_;       \
  } while (0)

#endif  // RINGFENCE_BASE_STATUS_H_
