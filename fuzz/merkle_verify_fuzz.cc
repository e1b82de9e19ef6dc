// Proof verification (RFC 9162 inclusion and consistency; draft-ietf-plants-merkle-tree-certs
// subtree inclusion and consistency) with sizes, hashes and proofs from the input. The first byte
// picks a mode:
//
//  0: raw. Every argument comes from the input. Nothing may crash or overflow, and the outcomes
//     must agree with each other (VerifyInclusion with RootFromInclusionProof; a verified subtree
//     is a valid one).
//  1-4: honest. A correct proof is built by the RFC's and the draft's reference definitions for a
//     tree of up to kMaxLeaves leaves and must verify; then, as the input says, one bit of a proof
//     hash, the leaf or a root is flipped, a root is cut short, or a hash dropped or added, and the
//     proof must then fail. This is the property that matters: a verifier that accepts a tampered
//     proof accepts a forked log.
#include <bit>

#include "fuzz_common.h"
#include "tlog/merkle.h"

namespace {
using namespace accord;
using tlog::Hash;

constexpr uint64_t kMaxLeaves = 300;

enum class Tamper { kNone, kProofBit, kLeafBit, kRootBit, kOtherRootBit, kRootShort, kDropHash, kExtraHash };

// What may be changed in one verification, and whether it was.
struct Case {
  std::vector<Hash> proof;
  Hash leaf{};
  Bytes root, other_root;  // inclusion: root; consistency: old root (`other_root`) and new root
  bool tampered = false;
};

void ApplyTamper(fuzz::FuzzInput& in, Case& c, bool has_leaf, bool has_other_root) {
  auto tamper = Tamper(in.Byte() % 8);
  uint64_t where = in.Uint(2);
  auto flip = [&](uint8_t* bytes, size_t size) {
    bytes[(where >> 3) % size] ^= uint8_t(1u << (where & 7));
    c.tampered = true;
  };
  switch (tamper) {
    case Tamper::kNone:
      break;
    case Tamper::kProofBit:
      if (!c.proof.empty()) flip(c.proof[(where >> 8) % c.proof.size()].data(), 32);
      break;
    case Tamper::kLeafBit:
      if (has_leaf) flip(c.leaf.data(), 32);
      break;
    case Tamper::kRootBit:
      flip(reinterpret_cast<uint8_t*>(c.root.data()), c.root.size());
      break;
    case Tamper::kOtherRootBit:
      if (has_other_root) flip(reinterpret_cast<uint8_t*>(c.other_root.data()), c.other_root.size());
      break;
    case Tamper::kRootShort:
      c.root.resize(where % 32);
      c.tampered = true;
      break;
    case Tamper::kDropHash:
      if (!c.proof.empty()) {
        c.proof.erase(c.proof.begin() + (where % c.proof.size()));
        c.tampered = true;
      }
      break;
    case Tamper::kExtraHash:
      c.proof.insert(c.proof.begin() + (where % (c.proof.size() + 1)), in.TakeHash());
      c.tampered = true;
      break;
  }
}

Bytes RootBytes(const Hash& h) {
  return Bytes(crypto::AsView(h));
}

void HonestInclusion(fuzz::FuzzInput& in) {
  uint64_t n = 1 + in.Uint(2) % kMaxLeaves, index = in.Uint(2) % n;
  std::vector<Hash> leaves = fuzz::SyntheticLeaves(n, in.Byte());
  Case c{fuzz::ReferenceInclusion(index, leaves), leaves[index], RootBytes(fuzz::ReferenceRoot(leaves)), {}};
  ApplyTamper(in, c, true, false);
  Status st = tlog::VerifyInclusion(index, n, c.leaf, c.proof, c.root);
  FUZZ_CHECK(st.ok() == !c.tampered);
}

void HonestConsistency(fuzz::FuzzInput& in) {
  uint64_t n = 1 + in.Uint(2) % kMaxLeaves, m = 1 + in.Uint(2) % n;
  std::vector<Hash> leaves = fuzz::SyntheticLeaves(n, in.Byte());
  std::span<const Hash> all(leaves);
  Case c{fuzz::ReferenceConsistency(m, all),
         {},
         RootBytes(fuzz::ReferenceRoot(all)),
         RootBytes(fuzz::ReferenceRoot(all.subspan(0, m)))};
  ApplyTamper(in, c, false, true);
  Status st = tlog::VerifyConsistency(m, n, c.other_root, c.root, c.proof);
  FUZZ_CHECK(st.ok() == !c.tampered);
}

// A valid subtree [start, end) of a tree of n leaves: start is a multiple of 2^k >= end - start.
void PickSubtree(fuzz::FuzzInput& in, uint64_t n, uint64_t* start, uint64_t* end) {
  int k = in.Byte() % 10;
  uint64_t blocks = (n + (uint64_t(1) << k) - 1) >> k;
  *start = (in.Uint(2) % blocks) << k;
  *end = *start + 1 + in.Uint(2) % std::min(uint64_t(1) << k, n - *start);
}

void HonestSubtreeInclusion(fuzz::FuzzInput& in) {
  uint64_t n = 1 + in.Uint(2) % kMaxLeaves, start, end;
  PickSubtree(in, n, &start, &end);
  FUZZ_CHECK(tlog::IsValidSubtree(start, end));
  uint64_t index = start + in.Uint(2) % (end - start);
  std::vector<Hash> leaves = fuzz::SyntheticLeaves(n, in.Byte());
  std::span<const Hash> sub = std::span<const Hash>(leaves).subspan(start, end - start);
  Case c{
      fuzz::ReferenceInclusion(index - start, sub), leaves[index], RootBytes(fuzz::ReferenceRoot(sub)), {}};
  ApplyTamper(in, c, true, false);
  Status st = tlog::VerifySubtreeInclusion(index, start, end, c.leaf, c.proof, c.root);
  FUZZ_CHECK(st.ok() == !c.tampered);
}

void HonestSubtreeConsistency(fuzz::FuzzInput& in) {
  uint64_t n = 1 + in.Uint(2) % kMaxLeaves, start, end;
  PickSubtree(in, n, &start, &end);
  std::vector<Hash> leaves = fuzz::SyntheticLeaves(n, in.Byte());
  std::span<const Hash> all(leaves);
  Case c{fuzz::ReferenceSubtreeConsistency(start, end, all),
         {},
         RootBytes(fuzz::ReferenceRoot(all)),
         RootBytes(fuzz::ReferenceRoot(all.subspan(start, end - start)))};
  ApplyTamper(in, c, false, true);
  Status st = tlog::VerifySubtreeConsistency(start, end, n, c.other_root, c.root, c.proof);
  FUZZ_CHECK(st.ok() == !c.tampered);
}

// IsValidSubtree's definition, in 128 bits so that 2^64 is representable.
bool ValidSubtree(uint64_t start, uint64_t end) {
  if (start >= end) return false;
  unsigned __int128 width = 1;
  while (width < end - start) width <<= 1;
  return start % width == 0;
}

void Raw(fuzz::FuzzInput& in) {
  uint64_t a = in.Size(), b = in.Size(), c = in.Size();
  Hash leaf = in.TakeHash();
  auto root_bytes = [&] { return in.Take(in.Byte() % 2 ? 32 : in.Byte() % 48); };
  ByteView root1 = root_bytes(), root2 = root_bytes();
  std::vector<Hash> proof(in.Byte());  // up to 255: past limits::kMaxProofHashes
  for (Hash& h : proof) h = in.TakeHash();

  FUZZ_CHECK(tlog::IsValidSubtree(a, b) == ValidSubtree(a, b));

  Result<Hash> implied = tlog::RootFromInclusionProof(a, b, leaf, proof);
  if (implied.ok()) FUZZ_CHECK(tlog::VerifyInclusion(a, b, leaf, proof, crypto::AsView(*implied)).ok());
  if (tlog::VerifyInclusion(a, b, leaf, proof, root1).ok())
    FUZZ_CHECK(implied.ok() && crypto::AsView(*implied) == root1);

  if (tlog::VerifyConsistency(a, b, root1, root2, proof).ok()) {
    FUZZ_CHECK(0 < a && a <= b);
    if (a == b) FUZZ_CHECK(proof.empty() && root1 == root2);
  }
  if (tlog::VerifySubtreeInclusion(a, b, c, leaf, proof, root1).ok())
    FUZZ_CHECK(ValidSubtree(b, c) && b <= a && a < c);
  if (tlog::VerifySubtreeConsistency(a, b, c, root1, root2, proof).ok())
    FUZZ_CHECK((a == b || ValidSubtree(a, b)) && b <= c);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(fuzz::AsBytes(data, size));
  switch (in.Byte() % 5) {
    case 0:
      Raw(in);
      break;
    case 1:
      HonestInclusion(in);
      break;
    case 2:
      HonestConsistency(in);
      break;
    case 3:
      HonestSubtreeInclusion(in);
      break;
    case 4:
      HonestSubtreeConsistency(in);
      break;
  }
  return 0;
}
