#include "tlog/merkle.h"

#include <bit>
#include <cstring>

#include "core/limits.h"

namespace accord::tlog {

namespace {
// Largest power of two strictly less than n (n >= 2).
uint64_t SplitPoint(uint64_t n) {
  return std::bit_floor(n - 1);
}

bool EqualRoot(const Hash& h, ByteView root) {
  return root.size() == h.size() && crypto::AsView(h) == root;
}
}  // namespace

Hash HashLeaf(ByteView entry) {
  thread_local crypto::Sha256Stream s;
  static const char zero = 0;
  s.Update(ByteView(&zero, 1));
  s.Update(entry);
  return s.Finish();
}

Hash HashChildren(const Hash& left, const Hash& right) {
  char buf[65];
  buf[0] = 1;
  std::memcpy(buf + 1, left.data(), 32);
  std::memcpy(buf + 33, right.data(), 32);
  return crypto::Sha256(ByteView(buf, sizeof buf));
}

Hash EmptyRoot() {
  return crypto::Sha256("");
}

Result<Hash> RangeRoot(HashSource& source, uint64_t begin, uint64_t end) {
  if (begin >= end) return InvalidArgument("empty range");
  uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) return source.Node(std::countr_zero(n), begin / n);
  uint64_t k = SplitPoint(n);
  ASSIGN_OR_RETURN(Hash left, RangeRoot(source, begin, begin + k));
  ASSIGN_OR_RETURN(Hash right, RangeRoot(source, begin + k, end));
  return HashChildren(left, right);
}

namespace {
Status Path(HashSource& source, uint64_t index, uint64_t begin, uint64_t end, std::vector<Hash>& out) {
  if (end - begin == 1) return Status::Ok();
  uint64_t k = SplitPoint(end - begin);
  if (index < begin + k) {
    RETURN_IF_ERROR(Path(source, index, begin, begin + k, out));
    ASSIGN_OR_RETURN(Hash h, RangeRoot(source, begin + k, end));
    out.push_back(h);
  } else {
    RETURN_IF_ERROR(Path(source, index, begin + k, end, out));
    ASSIGN_OR_RETURN(Hash h, RangeRoot(source, begin, begin + k));
    out.push_back(h);
  }
  return Status::Ok();
}

// RFC 9162 SUBPROOF(m, D[begin:end], b) with m counted from begin.
Status SubProof(HashSource& source, uint64_t m, uint64_t begin, uint64_t end, bool whole,
                std::vector<Hash>& out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!whole) {
      ASSIGN_OR_RETURN(Hash h, RangeRoot(source, begin, end));
      out.push_back(h);
    }
    return Status::Ok();
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    RETURN_IF_ERROR(SubProof(source, m, begin, begin + k, whole, out));
    ASSIGN_OR_RETURN(Hash h, RangeRoot(source, begin + k, end));
    out.push_back(h);
  } else {
    RETURN_IF_ERROR(SubProof(source, m - k, begin + k, end, false, out));
    ASSIGN_OR_RETURN(Hash h, RangeRoot(source, begin, begin + k));
    out.push_back(h);
  }
  return Status::Ok();
}
}  // namespace

Result<std::vector<Hash>> ProveInclusion(HashSource& source, uint64_t index, uint64_t size) {
  if (index >= size)
    return InvalidArgument("inclusion proof: index " + std::to_string(index) + " not below size " +
                           std::to_string(size));
  std::vector<Hash> out;
  RETURN_IF_ERROR(Path(source, index, 0, size, out));
  return out;
}

Result<std::vector<Hash>> ProveConsistency(HashSource& source, uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 > size2)
    return InvalidArgument("consistency proof: need 0 < size1 <= size2, have " + std::to_string(size1) +
                           " and " + std::to_string(size2));
  std::vector<Hash> out;
  RETURN_IF_ERROR(SubProof(source, size1, 0, size2, true, out));
  return out;
}

Result<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf,
                                    std::span<const Hash> proof) {
  if (index >= size)
    return InvalidArgument("inclusion proof: index " + std::to_string(index) + " not below size " +
                           std::to_string(size));
  if (proof.size() > limits::kMaxProofHashes) return InvalidArgument("inclusion proof: too many hashes");
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0)
      return InvalidArgument("inclusion proof: " + std::to_string(proof.size()) +
                             " hashes is too many for this tree");
    if ((fn & 1) || fn == sn) {
      r = HashChildren(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return InvalidArgument("inclusion proof: " + std::to_string(proof.size()) +
                           " hashes is too few for this tree");
  return r;
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                       ByteView root) {
  ASSIGN_OR_RETURN(Hash got, RootFromInclusionProof(index, size, leaf, proof));
  if (!EqualRoot(got, root))
    return PermissionDenied("inclusion proof: computed root " + Base64Encode(crypto::AsView(got)) +
                            " does not match " + Base64Encode(root));
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, ByteView root1, ByteView root2,
                         std::span<const Hash> proof) {
  if (size2 < size1)
    return InvalidArgument("consistency proof: size1 " + std::to_string(size1) + " > size2 " +
                           std::to_string(size2));
  if (size1 == 0) return InvalidArgument("consistency proof: size1 is 0, nothing to prove");
  if (size1 == size2) {
    if (!proof.empty()) return InvalidArgument("consistency proof: sizes equal but proof not empty");
    if (root1 != root2) return PermissionDenied("consistency proof: sizes equal but roots differ");
    return Status::Ok();
  }
  if (proof.empty()) return InvalidArgument("consistency proof: empty proof");
  if (proof.size() > limits::kMaxProofHashes) return InvalidArgument("consistency proof: too many hashes");
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) {
    if (root1.size() != 32) return PermissionDenied("consistency proof: old root is not a SHA-256 hash");
    Hash h;
    std::memcpy(h.data(), root1.data(), 32);
    path.push_back(h);
  }
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return InvalidArgument("consistency proof: too many hashes");
    if ((fn & 1) || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return InvalidArgument("consistency proof: too few hashes");
  if (!EqualRoot(fr, root1)) return PermissionDenied("consistency proof: does not lead to the old root");
  if (!EqualRoot(sr, root2)) return PermissionDenied("consistency proof: does not lead to the new root");
  return Status::Ok();
}

bool IsValidSubtree(uint64_t start, uint64_t end) {
  if (start >= end) return false;
  uint64_t n = end - start;
  // bit_ceil(n) would be 2^64 (undefined for uint64_t): only start == 0 is a multiple of it.
  if (n > (uint64_t(1) << 63)) return start == 0;
  return start % std::bit_ceil(n) == 0;
}

Status VerifySubtreeInclusion(uint64_t index, uint64_t start, uint64_t end, const Hash& leaf,
                              std::span<const Hash> proof, ByteView subtree_root) {
  if (!IsValidSubtree(start, end))
    return InvalidArgument("subtree [" + std::to_string(start) + ", " + std::to_string(end) +
                           ") is not valid");
  if (index < start || index >= end) return InvalidArgument("subtree inclusion: index outside the subtree");
  return VerifyInclusion(index - start, end - start, leaf, proof, subtree_root);
}

// Subtree consistency (draft-ietf-plants-merkle-tree-certs, "Verifying a Subtree Consistency
// Proof"). The walk follows RFC 9162 2.1.4.2, with fn, sn and tn tracking the subtree's first
// leaf, its last leaf and the tree's last leaf as they are shifted up one level per step. While
// fn < sn the path is still inside the subtree, so left siblings also rebuild the subtree root;
// once fn == sn the path has reached the subtree's enclosing node and only the tree root grows.
Status VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t size, ByteView subtree_root,
                                ByteView root, std::span<const Hash> proof) {
  const std::string range = "[" + std::to_string(start) + ", " + std::to_string(end) + ")";
  if (start != end && !IsValidSubtree(start, end))
    return InvalidArgument("subtree consistency: subtree " + range + " is not valid");
  if (end > size)
    return InvalidArgument("subtree consistency: subtree " + range + " ends past tree size " +
                           std::to_string(size));
  if (start == end) {
    // An empty subtree lies in every tree: its hash is MTH({}) and it says nothing of the root
    // (the transparency-dev/merkle vectors accept it with any tree root).
    if (!proof.empty())
      return InvalidArgument("subtree consistency: subtree " + range + " is empty but proof not empty");
    if (!EqualRoot(EmptyRoot(), subtree_root))
      return PermissionDenied("subtree consistency: empty subtree's root is not the empty tree hash");
    return Status::Ok();
  }
  if (start == 0 && end == size) {
    if (!proof.empty())
      return InvalidArgument("subtree consistency: subtree is the whole tree but proof not empty");
    if (subtree_root != root)
      return PermissionDenied("subtree consistency: subtree is the whole tree but roots differ");
    return Status::Ok();
  }
  if (proof.empty()) return InvalidArgument("subtree consistency: empty proof");
  if (proof.size() > limits::kMaxProofHashes) return InvalidArgument("subtree consistency: too many hashes");

  uint64_t fn = start, sn = end - 1, tn = size - 1;
  auto up = [&] {
    fn >>= 1;
    sn >>= 1;
    tn >>= 1;
  };
  if (sn == tn) {
    // The subtree ends where the tree ends: start from the subtree's own node.
    while (fn != sn) up();
  } else {
    // Start from the rightmost complete subtree inside [start, end).
    while (fn != sn && (sn & 1)) up();
  }
  size_t next = 0;
  Hash seed;
  if (fn == sn) {
    // That complete subtree is the subtree itself, whose root the verifier already holds.
    if (subtree_root.size() != seed.size())
      return PermissionDenied("subtree consistency: subtree root is not a SHA-256 hash");
    std::memcpy(seed.data(), subtree_root.data(), seed.size());
  } else {
    seed = proof[next++];
  }
  // A node on the tree's right edge that is a left child has no sibling: its parent is itself.
  auto skip_lone_levels = [&] {
    while (tn != 0 && sn == tn && !(sn & 1)) up();
  };
  Hash fr = seed, sr = seed;
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    skip_lone_levels();
    if (tn == 0) return InvalidArgument("subtree consistency: too many hashes");
    if (sn & 1) {
      // A left sibling: inside the subtree while below its enclosing node.
      if (fn < sn) fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
    } else {
      // A right sibling: it covers leaves at or past `end`, so only the tree root takes it.
      sr = HashChildren(sr, c);
    }
    up();
  }
  skip_lone_levels();
  if (tn != 0) return InvalidArgument("subtree consistency: too few hashes");
  if (!EqualRoot(fr, subtree_root))
    return PermissionDenied("subtree consistency: does not lead to the subtree root of " + range);
  if (!EqualRoot(sr, root))
    return PermissionDenied("subtree consistency: does not lead to the root of tree size " +
                            std::to_string(size));
  return Status::Ok();
}

Result<CompactRange> CompactRange::FromHashes(uint64_t size, std::vector<Hash> hashes) {
  if (static_cast<size_t>(std::popcount(size)) != hashes.size())
    return InvalidArgument("compact range: " + std::to_string(hashes.size()) + " hashes for size " +
                           std::to_string(size));
  CompactRange r;
  r.size_ = size;
  r.hashes_ = std::move(hashes);
  return r;
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Hash r = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) r = HashChildren(hashes_[i], r);
  return r;
}

}  // namespace accord::tlog
