// A check for fuzz targets that holds in every build type: a violated round-trip property
// is a bug the fuzzer must see as a crash.
#ifndef RINGFENCE_TESTS_CHAIN_FUZZ_FUZZ_CHECK_H_
#define RINGFENCE_TESTS_CHAIN_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

#endif  // RINGFENCE_TESTS_CHAIN_FUZZ_FUZZ_CHECK_H_
