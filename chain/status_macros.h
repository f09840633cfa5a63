// Early-return helpers for absl::Status / absl::StatusOr inside chain/ sources. Internal to
// the module: other modules bring their own.
#ifndef RINGFENCE_CHAIN_STATUS_MACROS_H_
#define RINGFENCE_CHAIN_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"

// Evaluates `expr` (a StatusOr); returns its status on error, else moves the value to `lhs`.
#define RF_ASSIGN_OR_RETURN(lhs, expr)           \
  do {                                           \
    auto rf_tmp = (expr);                        \
    if (!rf_tmp.ok()) return rf_tmp.status();    \
    lhs = std::move(*rf_tmp);                    \
  } while (0)

// Evaluates `expr` (a Status); returns it on error.
#define RF_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    absl::Status rf_st = (expr);                 \
    if (!rf_st.ok()) return rf_st;               \
  } while (0)

#endif  // RINGFENCE_CHAIN_STATUS_MACROS_H_
