// tlog::TileHashSource (Node, Root, and the proofs built on it) over tiles that come from the fuzz
// input. The first byte picks one of two readers:
//
//  - honest: the tiles of a real tree of up to kMaxHonestLeaves leaves (leaf hashes derived from the
//    input), grown past the size the source is asked about, as a log that kept growing serves them.
//    It may have dropped old partial tiles, which the source must then take from the full tile
//    (c2sp.org/tlog-tiles). Every hash and proof must equal the RFC 9162 reference computed from
//    the leaves, and proofs must verify; with all partial tiles kept, every request for a node of
//    the tree must succeed. The reader also checks that no tile is fetched twice (the source
//    promises a cache).
//  - hostile: each tile request is answered from the input: NotFound, another error, a tile of the
//    right size, or bytes of any length. Mostly only crashes, hangs and sanitizer reports count
//    here; tlog::ReadTileOrFull is also called directly, for hash tiles and entry bundles, and
//    what it cuts from a full tile must be a prefix of it with exactly the partial tile's width;
//    tlog::ReadEntry reads entries through the same reader.
#include <algorithm>
#include <set>

#include "crypto/sha256.h"
#include "fuzz_common.h"
#include "tlog/log.h"
#include "tlog/tile.h"

namespace {
using namespace accord;
using tlog::Hash;

// Large enough for level-1 tiles, partial ones included; small enough to hash the tree per input.
constexpr uint64_t kMaxHonestLeaves = 1300;

// Whether node (level, index), leaves [index << level, (index + 1) << level), lies within a tree of
// `size` leaves; in 128 bits, where nothing wraps.
bool CompleteIn(int level, uint64_t index, uint64_t size) {
  if (level < 0 || level >= 64) return false;
  return ((static_cast<unsigned __int128>(index) + 1) << level) <= size;
}

Bytes HashBytes(std::span<const Hash> hashes) {
  Bytes out;
  for (const Hash& h : hashes) out.append(crypto::AsView(h));
  return out;
}

class HonestReader : public tlog::TileReader {
 public:
  HonestReader(std::span<const Hash> leaves, bool keep_partials) : keep_partials_(keep_partials) {
    levels_.emplace_back(leaves.begin(), leaves.end());
    if (leaves.size() < 256) return;
    levels_.emplace_back();
    for (size_t i = 0; i + 256 <= leaves.size(); i += 256)
      levels_[1].push_back(fuzz::ReferenceRoot(leaves.subspan(i, 256)));
  }

  Result<Bytes> ReadTile(const tlog::TileCoord& t) override {
    if (t.level < 0 || size_t(t.level) >= levels_.size()) return NotFound(tlog::TilePath(t));
    const std::vector<Hash>& level = levels_[t.level];
    if (t.index > level.size() / 256 || t.index * 256 >= level.size()) return NotFound(tlog::TilePath(t));
    uint64_t available = std::min<uint64_t>(256, level.size() - t.index * 256);
    if (t.width > available) return NotFound(tlog::TilePath(t));
    // A log that drops old partial tiles keeps only the one for its current size.
    if (!t.full() && !keep_partials_ && t.width != available) return NotFound(tlog::TilePath(t));
    FUZZ_CHECK(served_.emplace(t.level, t.index).second);
    return HashBytes(std::span(level).subspan(t.index * 256, t.width));
  }

 private:
  bool keep_partials_;
  std::vector<std::vector<Hash>> levels_;
  std::set<std::pair<int, uint64_t>> served_;
};

void RunHonest(fuzz::FuzzInput& in, bool keep_partials) {
  uint64_t grown = in.Uint(2) % (kMaxHonestLeaves + 1);
  uint64_t n = in.Uint(2) % (grown + 1);
  uint8_t salt = in.Byte();
  std::vector<Hash> leaves = fuzz::SyntheticLeaves(grown, salt);
  std::span<const Hash> all(leaves);
  HonestReader reader(all, keep_partials);
  tlog::TileHashSource source(reader, n);

  for (int op = 0; op < 4 && !in.empty(); ++op) {
    switch (in.Byte() % 4) {
      case 0: {
        Result<Hash> root = source.Root();
        FUZZ_CHECK(root.ok() || !keep_partials);
        if (root.ok()) FUZZ_CHECK(*root == fuzz::ReferenceRoot(all.subspan(0, n)));
        break;
      }
      case 1: {
        int level = int(in.Byte() % 66) - 1;  // -1 and 64 are out of range
        uint64_t index = in.Size();
        bool complete = CompleteIn(level, index, n);
        Result<Hash> node = source.Node(level, index);
        FUZZ_CHECK(!node.ok() || complete);
        FUZZ_CHECK(node.ok() || !complete || !keep_partials);
        if (node.ok())
          FUZZ_CHECK(*node == fuzz::ReferenceRoot(all.subspan(index << level, uint64_t(1) << level)));
        break;
      }
      case 2: {
        // Sizes up to the grown tree: proofs for sizes past n may still succeed when every node
        // they need is already complete at n (the path of the last leaf needs none of its own).
        uint64_t size = in.Uint(2) % (grown + 1);
        uint64_t index = in.Uint(2) % (size + 1);
        Result<std::vector<Hash>> proof = tlog::ProveInclusion(source, index, size);
        FUZZ_CHECK(proof.ok() || index >= size || size > n || !keep_partials);
        if (!proof.ok()) break;
        FUZZ_CHECK(index < size);
        std::span<const Hash> tree = all.subspan(0, size);
        FUZZ_CHECK(*proof == fuzz::ReferenceInclusion(index, tree));
        Hash root = fuzz::ReferenceRoot(tree);
        FUZZ_CHECK(tlog::VerifyInclusion(index, size, tree[index], *proof, crypto::AsView(root)).ok());
        break;
      }
      case 3: {
        uint64_t size = in.Uint(2) % (grown + 1);
        uint64_t old_size = in.Uint(2) % (size + 2);
        Result<std::vector<Hash>> proof = tlog::ProveConsistency(source, old_size, size);
        FUZZ_CHECK(proof.ok() || old_size == 0 || old_size > size || size > n || !keep_partials);
        if (!proof.ok()) break;
        FUZZ_CHECK(old_size > 0 && old_size <= size);
        std::span<const Hash> tree = all.subspan(0, size);
        FUZZ_CHECK(*proof == fuzz::ReferenceConsistency(old_size, tree));
        Hash old_root = fuzz::ReferenceRoot(tree.subspan(0, old_size)), root = fuzz::ReferenceRoot(tree);
        FUZZ_CHECK(
            tlog::VerifyConsistency(old_size, size, crypto::AsView(old_root), crypto::AsView(root), *proof)
                .ok());
        break;
      }
    }
  }
}

class HostileReader : public tlog::TileReader {
 public:
  explicit HostileReader(fuzz::FuzzInput& in) : in_(in) {}

  Result<Bytes> ReadTile(const tlog::TileCoord& t) override {
    size_t len = 0;
    switch (in_.Byte() % 4) {
      case 0:
        return NotFound(tlog::TilePath(t));
      case 1:
        return Unavailable(tlog::TilePath(t));
      case 2:
        len = size_t(t.width) * 32;
        break;
      case 3:
        len = in_.Uint(2);  // past the input's end, zeroes: 512 of them are 256 empty entries
        break;
    }
    last_request_ = t;
    last_data_ = Bytes(in_.Take(len));
    last_data_.resize(len);
    return last_data_;
  }

  // The last tile that was asked for and answered with bytes.
  const tlog::TileCoord& last_request() const { return last_request_; }
  const Bytes& last_data() const { return last_data_; }

 private:
  fuzz::FuzzInput& in_;
  tlog::TileCoord last_request_;
  Bytes last_data_;
};

void CheckReadTileOrFull(fuzz::FuzzInput& in, HostileReader& reader) {
  tlog::TileCoord t;
  t.level = in.Byte() % 3 == 0 ? tlog::kEntriesLevel : in.Byte() % 64;
  t.index = in.Size();
  t.width = uint32_t(in.Byte()) + 1;
  Result<Bytes> data = tlog::ReadTileOrFull(reader, t);
  if (!data.ok()) return;
  if (reader.last_request() == t) {
    FUZZ_CHECK(*data == reader.last_data());
    return;
  }
  // Served from the full tile: a prefix of it, and exactly the partial tile's width of it.
  tlog::TileCoord full = t;
  full.width = 256;
  FUZZ_CHECK(!t.full() && reader.last_request() == full);
  FUZZ_CHECK(reader.last_data().starts_with(*data));
  if (t.level == tlog::kEntriesLevel) {
    FUZZ_CHECK(tlog::ParseEntryBundle(*data, t.width).ok());
  } else {
    FUZZ_CHECK(data->size() == size_t(t.width) * 32);
  }
}

void RunHostile(fuzz::FuzzInput& in) {
  HostileReader reader(in);
  uint64_t n = in.Size();
  tlog::TileHashSource source(reader, n);
  for (int op = 0; op < 8 && !in.empty(); ++op) {
    switch (in.Byte() % 6) {
      case 0:
        (void)source.Root();
        break;
      case 1: {
        // Whatever the tiles say, a node that is not complete in the tree must not be served.
        int level = int(in.Byte() % 66) - 1;
        uint64_t index = in.Size();
        if (source.Node(level, index).ok()) FUZZ_CHECK(CompleteIn(level, index, n));
        break;
      }
      case 2: {
        uint64_t index = in.Size(), size = in.Byte() % 2 ? n : in.Size();
        Result<std::vector<Hash>> proof = tlog::ProveInclusion(source, index, size);
        if (proof.ok()) FUZZ_CHECK(proof->size() <= 64);
        break;
      }
      case 3: {
        uint64_t old_size = in.Size(), size = in.Byte() % 2 ? n : in.Size();
        Result<std::vector<Hash>> proof = tlog::ProveConsistency(source, old_size, size);
        if (proof.ok()) FUZZ_CHECK(proof->size() <= 2 * 64);
        break;
      }
      case 4:
        CheckReadTileOrFull(in, reader);
        break;
      case 5: {
        uint64_t index = in.Size(), size = in.Byte() % 2 ? n : in.Size();
        if (tlog::ReadEntry(reader, index, size).ok()) FUZZ_CHECK(index < size);
        break;
      }
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(fuzz::AsBytes(data, size));
  uint8_t mode = in.Byte();
  if (mode & 1) {
    RunHonest(in, mode & 2);
  } else {
    RunHostile(in);
  }
  return 0;
}
