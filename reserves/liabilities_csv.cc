#include "reserves/liabilities_csv.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <thread>

#include "base/status.h"
#include "base/text.h"
#include "reserves/amount.h"
#include "reserves/file_io.h"

namespace ringfence::reserves {

void AdviseHugePages(void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{1} << 21;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

void RowBlocks::FreeDeleter::operator()(LiabilityRow* p) const { std::free(p); }

void RowBlocks::Push(const LiabilityRow& row) {
  if ((size_ & (kBlock - 1)) == 0) {
    constexpr size_t kBytes = kBlock * sizeof(LiabilityRow);
    void* mem = std::aligned_alloc(size_t{1} << 21, kBytes);
    if (mem == nullptr) throw std::bad_alloc();
    AdviseHugePages(mem, kBytes);
    blocks_.emplace_back(static_cast<LiabilityRow*>(mem));
  }
  blocks_.back()[size_ & (kBlock - 1)] = row;
  ++size_;
}

void AssetRows::AddSegment(RowBlocks rows, std::vector<std::string> ids) {
  size_ += rows.size();
  segments_.push_back(std::move(rows));
  for (auto& id : ids) ids_.push_back(std::move(id));
}

namespace {

constexpr std::string_view kHeader = "client_account_id,asset_id,amount";
constexpr size_t kMaxLine = 1024;
constexpr size_t kReadChunk = size_t{4} << 20;

using ReadAt = std::function<ssize_t(uint64_t offset, char* buf, size_t len)>;

struct Segment {
  std::string asset_id;
  RowBlocks rows;
  std::vector<std::string> ids;
  base::Amount total;
};

struct ThreadResult {
  std::map<std::string, size_t> index;  // asset id -> segment
  std::vector<Segment> segments;
  uint64_t lines = 0;
  bool failed = false;
  uint64_t error_line = 0;  // relative to this thread's first line
  std::string error;
  bool io_error = false;
};

struct ParsedLine {
  std::string_view account, asset, amount;
};

// Splits and checks one data line; on failure returns the message (without the line number).
std::string ParseLine(std::string_view line, ParsedLine* out) {
  size_t c1 = line.find(',');
  size_t c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
  if (c2 == std::string_view::npos || line.find(',', c2 + 1) != std::string_view::npos) {
    return "expected 3 comma-separated fields: client_account_id,asset_id,amount";
  }
  out->account = line.substr(0, c1);
  out->asset = line.substr(c1 + 1, c2 - c1 - 1);
  out->amount = line.substr(c2 + 1);
  if (!IsValidId(out->account)) return "client_account_id must be 1 to 64 characters of [A-Za-z0-9._:-]";
  if (!IsValidId(out->asset)) return "asset_id must be 1 to 64 characters of [A-Za-z0-9._:-]";
  return "";
}

// Calls `on_line(text, relative_line)` for every line whose first byte lies in [begin, end);
// stops early when it returns false. Returns false on a read error.
bool ForEachLine(const ReadAt& read_at, uint64_t size, uint64_t begin, uint64_t end, Progress* progress,
                 const std::function<bool(std::string_view, uint64_t)>& on_line, bool* too_long, uint64_t* line_no) {
  std::string carry;
  std::vector<char> buf(kReadChunk);
  uint64_t offset = begin == 0 ? 0 : begin - 1;
  bool skipping = begin != 0;
  uint64_t line_start = offset;
  *line_no = 0;
  *too_long = false;
  while (offset < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kReadChunk, size - offset));
    ssize_t got = read_at(offset, buf.data(), want);
    if (got <= 0) return false;
    // Count only this thread's share; the last chunk may run past it.
    if (offset < end) AddProgress(progress, std::min<uint64_t>(static_cast<uint64_t>(got), end - offset));
    size_t i = 0;
    while (i < static_cast<size_t>(got)) {
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + i, '\n', got - i));
      size_t stop = nl ? static_cast<size_t>(nl - buf.data()) : static_cast<size_t>(got);
      if (skipping) {
        if (nl) {
          skipping = false;
          line_start = offset + stop + 1;
        }
      } else {
        if (line_start >= end) return true;
        if (carry.size() + (stop - i) > kMaxLine + 1) {
          *too_long = true;
          ++*line_no;
          return true;
        }
        carry.append(buf.data() + i, stop - i);
        if (nl) {
          ++*line_no;
          std::string_view text(carry);
          if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
          if (text.size() > kMaxLine) {
            *too_long = true;
            return true;
          }
          if (!on_line(text, *line_no)) return true;
          carry.clear();
          line_start = offset + stop + 1;
        }
      }
      i = stop + 1;
    }
    offset += static_cast<uint64_t>(got);
  }
  if (!skipping && !carry.empty() && line_start < end) {
    ++*line_no;
    std::string_view text(carry);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    on_line(text, *line_no);
  }
  return true;
}

// The rows of one thread's byte range, parsed line by line into that thread's segments.
// Rows wait in groups of kBatchLanes so that their client_refs are hashed side by side.
class RangeParser {
 public:
  RangeParser(bool first, const CsvOptions& options, ThreadResult* result)
      : first_(first), options_(options), r_(result) {}

  // One line, numbered from 1 within the range. False stops the range (the error is kept).
  bool OnLine(std::string_view text, uint64_t rel) {
    if (first_ && rel == 1) {
      if (text != kHeader) return Fail(rel, base::Cat("header must be exactly \"", kHeader, "\""));
      return true;
    }
    if (text.empty()) return Fail(rel, "empty line");
    ParsedLine p;
    std::string err = ParseLine(text, &p);
    if (!err.empty()) return Fail(rel, err);
    auto amount = ParseAmount(p.amount, "amount");
    if (!amount.ok()) return Fail(rel, std::string(amount.status().message()));
    const size_t segment = SegmentFor(p.asset);
    Segment& seg = r_->segments[segment];
    auto total = seg.total.CheckedAdd(*amount);
    if (!total) return Fail(rel, base::Cat("the liabilities of asset ", p.asset, " add up to more than 2^128-1"));
    seg.total = *total;
    Pending& q = pending_[n_pending_++];
    q.segment = segment;
    std::memcpy(q.id, p.account.data(), p.account.size());
    q.id_len = p.account.size();
    q.amount = *amount;
    if (n_pending_ == kBatchLanes) Flush();
    return true;
  }

  // Hashes the waiting rows' client_refs and appends the rows to their segments.
  void Flush() {
    std::string_view ids[kBatchLanes];
    LiabilityRow rows[kBatchLanes];
    uint8_t* outs[kBatchLanes];
    for (size_t k = 0; k < n_pending_; ++k) {
      ids[k] = std::string_view(pending_[k].id, pending_[k].id_len);
      outs[k] = rows[k].client_ref;
      rows[k].amount = pending_[k].amount;
    }
    ClientRefBatch(n_pending_, ids, outs);
    for (size_t k = 0; k < n_pending_; ++k) {
      Segment& seg = r_->segments[pending_[k].segment];
      seg.rows.Push(rows[k]);
      if (options_.keep_ids) seg.ids.emplace_back(ids[k]);
    }
    n_pending_ = 0;
  }

  bool Fail(uint64_t line, std::string msg) {
    r_->failed = true;
    r_->error_line = line;
    r_->error = std::move(msg);
    return false;
  }

 private:
  struct Pending {
    size_t segment;
    char id[64];
    size_t id_len;
    base::Amount amount;
  };

  // The segment of `asset` in this range, created on its first row. Rows of one asset usually
  // come together, so the last one is remembered.
  size_t SegmentFor(std::string_view asset) {
    if (asset == last_asset_ && !r_->segments.empty()) return last_segment_;
    auto it = r_->index.find(std::string(asset));
    if (it == r_->index.end()) {
      it = r_->index.emplace(std::string(asset), r_->segments.size()).first;
      r_->segments.emplace_back();
      r_->segments.back().asset_id = std::string(asset);
    }
    last_asset_ = std::string(asset);
    last_segment_ = it->second;
    return last_segment_;
  }

  const bool first_;
  const CsvOptions& options_;
  ThreadResult* r_;
  Pending pending_[kBatchLanes];
  size_t n_pending_ = 0;
  std::string last_asset_;
  size_t last_segment_ = 0;
};

void ParseRange(const ReadAt& read_at, uint64_t size, uint64_t begin, uint64_t end, bool first, const CsvOptions& opt,
                ThreadResult* r) {
  RangeParser parser(first, opt, r);
  bool too_long = false;
  uint64_t line_no = 0;
  const bool ok = ForEachLine(
      read_at, size, begin, end, opt.progress,
      [&](std::string_view text, uint64_t rel) { return parser.OnLine(text, rel); }, &too_long, &line_no);
  parser.Flush();
  r->lines = line_no;
  if (!ok) {
    r->io_error = true;
    r->failed = true;
    r->error = "read failed";
    return;
  }
  if (too_long && !r->failed) parser.Fail(line_no, base::Cat("line longer than ", kMaxLine, " bytes"));
  if (first && line_no == 0 && !r->failed) parser.Fail(1, base::Cat("missing header \"", kHeader, "\""));
}

// Finds the lines of the first two rows for (asset, client_ref): only on the error path.
std::pair<uint64_t, uint64_t> FindDuplicateLines(const ReadAt& read_at, uint64_t size, std::string_view asset,
                                                 const uint8_t ref[32]) {
  std::pair<uint64_t, uint64_t> lines{0, 0};
  bool too_long = false;
  uint64_t line_no = 0;
  ForEachLine(
      read_at, size, 0, size, nullptr,
      [&](std::string_view text, uint64_t rel) -> bool {
        ParsedLine p;
        if (rel == 1 || !ParseLine(text, &p).empty() || p.asset != asset) return true;
        if (std::memcmp(ClientRef(p.account).data(), ref, 32) != 0) return true;
        if (lines.first == 0) {
          lines.first = rel;
          return true;
        }
        lines.second = rel;
        return false;
      },
      &too_long, &line_no);
  return lines;
}

// Every thread's share of the file, parsed side by side. Returns the first error in file order
// (its line number counted over the whole file), or each thread's result.
absl::StatusOr<std::vector<ThreadResult>> ParseRanges(const ReadAt& read_at, uint64_t size, const std::string& what,
                                                      const CsvOptions& opt, int threads) {
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    uint64_t begin = size * t / threads, end = size * (t + 1) / threads;
    if (t + 1 == threads) end = size + 1;  // also owns a final line without a newline
    pool.emplace_back([&, t, begin, end] { ParseRange(read_at, size, begin, end, t == 0, opt, &results[t]); });
  }
  for (auto& th : pool) th.join();
  uint64_t line_base = 0;
  for (const ThreadResult& r : results) {
    if (r.io_error) return absl::UnavailableError(base::Cat(what, ": ", r.error));
    if (r.failed) {
      return absl::InvalidArgumentError(base::Cat(what, ": line ", line_base + r.error_line, ": ", r.error));
    }
    line_base += r.lines;
  }
  return results;
}

// The threads' segments merged per asset (ascending asset id), each asset's in file order.
absl::StatusOr<Liabilities> MergeSegments(std::vector<ThreadResult> results, const std::string& what) {
  std::map<std::string, AssetRows> merged;
  for (ThreadResult& r : results) {
    for (Segment& seg : r.segments) {
      AssetRows& a = merged[seg.asset_id];
      a.asset_id = seg.asset_id;
      auto total = a.total.CheckedAdd(seg.total);
      if (!total) {
        return absl::InvalidArgumentError(
            base::Cat(what, ": the liabilities of asset ", seg.asset_id, " add up to more than 2^128-1"));
      }
      a.total = *total;
      a.AddSegment(std::move(seg.rows), std::move(seg.ids));
    }
  }
  Liabilities out;
  for (auto& [id, rows] : merged) out.assets.push_back(std::move(rows));
  if (out.assets.empty()) return absl::InvalidArgumentError(base::Cat(what, ": no liability rows"));
  return out;
}

// A row of the same client and asset as an earlier one, as (asset index, row), or nullopt.
// Open addressing keyed by the client_ref (already a collision-resistant hash of the account
// id) and the asset; with `shares` > 1 each thread owns the rows whose client_ref falls in its
// share, so the tables are independent.
std::optional<std::pair<size_t, size_t>> FindDuplicateRow(const Liabilities& l, int threads) {
  size_t total_rows = 0;
  for (const AssetRows& a : l.assets) total_rows += a.size();
  const int shares = total_rows < (size_t{1} << 16) ? 1 : threads;
  std::vector<std::optional<std::pair<size_t, size_t>>> dups(shares);
  auto scan = [&](int t) {
    size_t cap = 16;
    while (cap < total_rows * 2 / shares + 16) cap <<= 1;
    std::vector<uint64_t> table;
    table.reserve(cap);
    AdviseHugePages(table.data(), cap * sizeof(uint64_t));
    table.assign(cap, 0);
    for (size_t ai = 0; ai < l.assets.size() && !dups[t]; ++ai) {
      const AssetRows& a = l.assets[ai];
      for (size_t i = 0; i < a.size(); ++i) {
        const LiabilityRow& row = a[i];
        if (row.client_ref[31] % shares != static_cast<unsigned>(t)) continue;
        uint64_t h;
        std::memcpy(&h, row.client_ref, 8);
        h ^= (ai + 1) * 0x9E3779B97F4A7C15ULL;
        size_t slot = static_cast<size_t>(h) & (cap - 1);
        while (table[slot] != 0) {
          uint64_t other = table[slot];
          if ((other >> 40) == ai + 1 &&
              std::memcmp(a[other & ((uint64_t{1} << 40) - 1)].client_ref, row.client_ref, 32) == 0) {
            dups[t] = std::make_pair(ai, i);
            return;
          }
          slot = (slot + 1) & (cap - 1);
        }
        table[slot] = (uint64_t{ai + 1} << 40) | i;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < shares; ++t) pool.emplace_back(scan, t);
  scan(0);
  for (auto& th : pool) th.join();
  for (const auto& d : dups) {
    if (d) return d;
  }
  return std::nullopt;
}

absl::StatusOr<Liabilities> Parse(const ReadAt& read_at, uint64_t size, const std::string& what,
                                  const CsvOptions& opt) {
  const int threads = size < (uint64_t{1} << 20) ? 1 : std::max(1, opt.threads);
  RF_ASSIGN_OR_RETURN(std::vector<ThreadResult> results, ParseRanges(read_at, size, what, opt, threads));
  RF_ASSIGN_OR_RETURN(Liabilities out, MergeSegments(std::move(results), what));
  if (auto dup = FindDuplicateRow(out, threads)) {
    const AssetRows& a = out.assets[dup->first];
    auto lines = FindDuplicateLines(read_at, size, a.asset_id, a[dup->second].client_ref);
    return absl::InvalidArgumentError(base::Cat(what, ": line ", lines.second,
                                                ": duplicate row for the same client and asset ", a.asset_id,
                                                " (first on line ", lines.first, ")"));
  }
  return out;
}

}  // namespace

absl::StatusOr<Liabilities> ReadLiabilitiesCsv(const std::string& path, const CsvOptions& options) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return errno == ENOENT ? absl::UnavailableError(base::Cat(path, ": no such file")) : ErrnoError(path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::UnavailableError(base::Cat(path, ": not a regular file"));
  }
  // The parser never asks past the size it was given, so a short read is an error.
  ReadAt read_at = [&fd](uint64_t offset, char* buf, size_t len) -> ssize_t {
    return PReadAll(fd.get(), buf, len, offset) ? static_cast<ssize_t>(len) : -1;
  };
  return Parse(read_at, static_cast<uint64_t>(st.st_size), path, options);
}

absl::StatusOr<Liabilities> ParseLiabilitiesCsv(std::string_view text, const CsvOptions& options) {
  ReadAt read_at = [text](uint64_t offset, char* buf, size_t len) -> ssize_t {
    if (offset >= text.size()) return -1;
    size_t n = std::min<size_t>(len, text.size() - offset);
    std::memcpy(buf, text.data() + offset, n);
    return static_cast<ssize_t>(n);
  };
  return Parse(read_at, text.size(), "liabilities", options);
}

}  // namespace ringfence::reserves
