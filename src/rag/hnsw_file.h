// Checks on hnswlib index files before hnswlib's loadIndex, which trusts every size and neighbour id
// it reads. The layout (hnswlib 0.6, HierarchicalNSW::saveIndex):
//
//   header   offsetLevel0 u64, max_elements u64, count u64, size_data_per_element u64, label_offset u64,
//            offsetData u64, maxlevel i32, enterpoint u32, maxM u64, maxM0 u64, M u64, mult f64,
//            ef_construction u64                                                        (96 bytes)
//   level 0  count x [links: u32 n (low 16 bits; bit 16-23 = deleted mark), maxM0 x u32 ids]
//                    [vector: dim x f32] [label: u64]
//   upper    count x [u32 bytes, then bytes / (4 + 4 maxM) lists of [u32 n, maxM x u32 ids]]
#pragma once
#include <cstddef>
#include <cstdint>

#include "tunekit/io/mapped_file.h"

namespace tunekit::rag::hnsw_file {

// FNV-1a over the little-endian 64-bit words of the bytes (the tail zero-padded), then the length.
uint64_t hash_bytes(const uint8_t* data, size_t n);

// Throws Error naming file.path() unless it is a complete, self-consistent index of unit vectors of
// dimension dim: sizes agree with dim and M, every link count fits its list, every neighbour id is
// an element on that level, labels are unique, and the file ends where the last list does.
void validate(const MappedFile& file, int64_t dim);

}  // namespace tunekit::rag::hnsw_file
