// The private file `reserves export` writes beside a package (never inside it, mode 0600) and
// `reserves prove` reads to make any client's inclusion proof later. It holds, for every leaf
// in index order, what a proof needs and the package does not publish:
//   "CPOR1PRV" || manifest_digest || snapshot_id || str(custodian_id) || u32 n_assets ||
//   per asset in manifest order: str(asset_id) || u64 n || n x (client_ref || salt ||
//   u16 part_index || u16 part_count)
// A record's position is its leaf's index; the leaf's amount is in the package's .tree file.
// The exporter writes manifest_digest last, once the manifest is signed.
//
// Constants only; docs/proof-of-reserves.md section 4 describes the same layout.
#ifndef RINGFENCE_RESERVES_PRIVATE_FILE_H_
#define RINGFENCE_RESERVES_PRIVATE_FILE_H_

#include <cstddef>
#include <cstdint>

namespace ringfence::reserves {

inline constexpr char kPrivateMagic[8] = {'C', 'P', 'O', 'R', '1', 'P', 'R', 'V'};
// Where manifest_digest starts, and where snapshot_id does.
inline constexpr uint64_t kPrivateDigestOffset = 8;
inline constexpr uint64_t kPrivateSnapshotOffset = 8 + 32;
// magic, manifest_digest, snapshot_id and the u16 length of str(custodian_id).
inline constexpr size_t kPrivateFixedHeader = 8 + 32 + 32 + 2;
// client_ref || salt || u16 part_index || u16 part_count.
inline constexpr size_t kPrivateRecord = 32 + 32 + 2 + 2;

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_PRIVATE_FILE_H_
