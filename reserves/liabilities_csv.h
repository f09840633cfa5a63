// The liabilities CSV that `reserves export` reads: a header line
// "client_account_id,asset_id,amount" then one row per (client, asset) with the amount in the
// asset's base units as a canonical decimal. Rows are parsed by several threads, each
// over its own byte range, into compact per-asset storage (client_ref + amount, 48 bytes a
// row; the account id itself only when asked for, for writing inclusion files).
//
// Refused, with the line number: a malformed line or field, a negative, fractional or
// oversized amount, the same client and asset twice, an empty line, a line over 1024 bytes.
// Pure functions over a file or buffer; thread-safe.
#ifndef RINGFENCE_RESERVES_LIABILITIES_CSV_H_
#define RINGFENCE_RESERVES_LIABILITIES_CSV_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "reserves/hash.h"
#include "reserves/progress.h"

namespace ringfence::reserves {

struct alignas(16) LiabilityRow {
  uint8_t client_ref[32];
  base::Amount amount;
};

// Asks the kernel to back [p, p + bytes) with transparent huge pages (2 MiB), which cuts TLB
// misses when big arrays are read in random order. Call before the memory is first touched.
// A hint only: errors are ignored.
void AdviseHugePages(void* p, size_t bytes);

// Append-only storage in fixed blocks, so growth never copies or doubles the footprint.
// Blocks are 6 MiB, 2 MiB aligned and advised for huge pages (rows are read in shuffled order).
class RowBlocks {
 public:
  static constexpr size_t kBlockBits = 17;
  static constexpr size_t kBlock = size_t{1} << kBlockBits;
  void Push(const LiabilityRow& row);
  size_t size() const { return size_; }
  const LiabilityRow& operator[](size_t i) const { return blocks_[i >> kBlockBits][i & (kBlock - 1)]; }

 private:
  struct FreeDeleter {
    void operator()(LiabilityRow* p) const;
  };
  std::vector<std::unique_ptr<LiabilityRow[], FreeDeleter>> blocks_;
  size_t size_ = 0;
};

// The rows of one asset, in file order, as the segments the parser threads produced.
class AssetRows {
 public:
  std::string asset_id;
  base::Amount total;
  size_t size() const { return size_; }
  const LiabilityRow& operator[](size_t i) const {
    size_t s = 0;
    while (i >= segments_[s].size()) i -= segments_[s++].size();
    return segments_[s][i];
  }
  // Account ids in row order; empty unless the parse kept them.
  const std::string& account_id(size_t i) const { return ids_[i]; }
  bool has_ids() const { return !ids_.empty() || size_ == 0; }
  void AddSegment(RowBlocks rows, std::vector<std::string> ids);

 private:
  std::vector<RowBlocks> segments_;
  std::vector<std::string> ids_;
  size_t size_ = 0;
};

struct Liabilities {
  std::vector<AssetRows> assets;  // ascending asset_id
};

struct CsvOptions {
  bool keep_ids = false;
  int threads = 2;
  Progress* progress = nullptr;  // in bytes
};

// Reads and checks a whole liabilities file. InvalidArgument ("line N: ...") for bad input,
// NotFound/Unavailable for I/O.
absl::StatusOr<Liabilities> ReadLiabilitiesCsv(const std::string& path, const CsvOptions& options);
// The same rules over a buffer (used by the fuzz target and tests).
absl::StatusOr<Liabilities> ParseLiabilitiesCsv(std::string_view text, const CsvOptions& options);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_LIABILITIES_CSV_H_
