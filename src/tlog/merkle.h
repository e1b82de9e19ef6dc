// RFC 9162 (RFC 6962) Merkle tree hashing and proofs, with SHA-256.
//
//   leaf hash  = SHA-256(0x00 || entry)
//   node hash  = SHA-256(0x01 || left || right)
//   empty tree = SHA-256("")
//
// Proofs are built from a HashSource, which returns the hash of any complete subtree; the tile
// reader (tile.h) is one, so the same code serves the log's writer, scanners and auditors.
// Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2, with the edge cases of the
// transparency-dev/merkle test vectors (e.g. size1 == 0 never verifies).
// Thread-safety: pure functions; CompactRange is a value owned by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/sha256.h"

namespace accord::tlog {

using Hash = crypto::Hash;

Hash HashLeaf(ByteView entry);
Hash HashChildren(const Hash& left, const Hash& right);
Hash EmptyRoot();

// Source of complete-subtree hashes: Node(level, index) is MTH(D[index << level : (index+1) << level]).
class HashSource {
 public:
  virtual ~HashSource() = default;
  virtual Result<Hash> Node(int level, uint64_t index) = 0;
};

// MTH(D[begin:end]) for a range that the RFC 9162 recursion produces: begin is a multiple of the
// largest power of two below end - begin (any begin works when end - begin is a power of two).
Result<Hash> RangeRoot(HashSource& source, uint64_t begin, uint64_t end);

// RFC 9162 2.1.3.1 PATH(index, D[0:size]), ordered from the leaf's sibling up.
Result<std::vector<Hash>> ProveInclusion(HashSource& source, uint64_t index, uint64_t size);
// RFC 9162 2.1.4.1 PROOF(size1, D[0:size2]); requires 0 < size1 <= size2.
Result<std::vector<Hash>> ProveConsistency(HashSource& source, uint64_t size1, uint64_t size2);

// The root that an inclusion proof implies (RFC 9162 2.1.3.2), or an error if the proof's shape
// does not fit (index, size).
Result<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf,
                                    std::span<const Hash> proof);
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                       ByteView root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, ByteView root1, ByteView root2,
                         std::span<const Hash> proof);

// Subtrees (draft-ietf-plants-merkle-tree-certs): [start, end) is a valid subtree if start < end
// and start is a multiple of the smallest power of two >= end - start.
bool IsValidSubtree(uint64_t start, uint64_t end);
Status VerifySubtreeInclusion(uint64_t index, uint64_t start, uint64_t end, const Hash& leaf,
                              std::span<const Hash> proof, ByteView subtree_root);
Status VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t size, ByteView subtree_root,
                                ByteView root, std::span<const Hash> proof);

// The right edge of a growing tree: the roots of its maximal complete subtrees, left to right.
// Appending a leaf merges equal-height subtrees; every merge that completes a subtree of height
// 8*k (k >= 1) is reported to `on_complete`, which is how tiles of level k get their hashes.
class CompactRange {
 public:
  CompactRange() = default;
  uint64_t size() const { return size_; }
  // Restores the range of a tree of `size` leaves from its subtree roots (left to right).
  static Result<CompactRange> FromHashes(uint64_t size, std::vector<Hash> hashes);
  const std::vector<Hash>& hashes() const { return hashes_; }

  // Appends one leaf hash. on_complete(level_in_tiles, index, hash) is called for every complete
  // subtree of height 8*level (level >= 1) that this append finishes.
  template <typename F>
  void Append(const Hash& leaf, F&& on_complete);
  void Append(const Hash& leaf) {
    Append(leaf, [](int, uint64_t, const Hash&) {});
  }
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;
};

template <typename F>
void CompactRange::Append(const Hash& leaf, F&& on_complete) {
  hashes_.push_back(leaf);
  uint64_t s = size_;
  int height = 0;
  // Each trailing 1 bit of the old size is a complete subtree to merge with.
  while (s & 1) {
    Hash right = hashes_.back();
    hashes_.pop_back();
    hashes_.back() = HashChildren(hashes_.back(), right);
    ++height;
    s >>= 1;
    if (height % 8 == 0) on_complete(height / 8, (size_ + 1) / (uint64_t(1) << height) - 1, hashes_.back());
  }
  ++size_;
}

}  // namespace accord::tlog
