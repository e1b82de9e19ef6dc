// Tiles and entry bundles (c2sp.org/tlog-tiles): their paths, their bytes, and proofs from them.
//
//   tile/<L>/<N>[.p/<W>]        256 (or W) SHA-256 hashes of level L (height 8*L in the tree)
//   tile/entries/<N>[.p/<W>]    256 (or W) entries, each a big-endian uint16 length then bytes
//
// <N> is written in 3-digit groups, all but the last prefixed with 'x' (1234067 -> x001/x234/067).
// The partial tile of level L for a tree of size s has floor(s / 256^L) mod 256 hashes.
// Thread-safety: functions are pure. TileHashSource is owned by one thread; DirTileReader is
// stateless and safe to share.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "tlog/merkle.h"

namespace accord::tlog {

inline constexpr int kEntriesLevel = -1;  // "tile/entries/..." in paths

struct TileCoord {
  int level = 0;  // 0..63 for hash tiles, kEntriesLevel for entry bundles
  uint64_t index = 0;
  uint32_t width = 256;  // 1..256; 256 is a full tile

  bool full() const { return width == 256; }
  bool operator==(const TileCoord&) const = default;
};

std::string TileIndexPath(uint64_t index);  // "x001/x234/067"
std::string TilePath(const TileCoord& t);   // "tile/0/x001/x234/067.p/5", "tile/entries/000"
// Parses a path relative to the log root ("tile/..."); strict: rejects leading zeroes, widths
// outside 1..255 after ".p/", levels over 63, and anything else that TilePath would not write.
Result<TileCoord> ParseTilePath(std::string_view path);

// The width of the rightmost tile of `level` for a tree of `size` leaves (0: no partial tile).
uint32_t PartialWidth(int level, uint64_t size);
// The tile of `level` that holds position `index` (counted in level-L hashes) in a tree of size
// `size`, with the width that tree needs: full, or partial for the rightmost tile (width 0 when
// `index` is beyond the tree).
TileCoord TileFor(int level, uint64_t index, uint64_t size);

// Parses a hash tile of exactly `width` hashes (anything else is DataLoss naming the size).
Result<std::vector<Hash>> ParseHashTile(ByteView data, uint32_t width);
// Parses an entry bundle of exactly `width` entries: no more, no fewer, no trailing bytes.
Result<std::vector<ByteView>> ParseEntryBundle(ByteView data, uint32_t width);
// Appends one entry (at most limits::kMaxEntrySize bytes, checked by the caller) to a bundle.
void AppendBundleEntry(Bytes& bundle, ByteView entry);

// Where tiles come from: a directory, an HTTP server, a mirror. ReadTile returns the raw bytes of
// the exact tile asked for, or NotFound.
class TileReader {
 public:
  virtual ~TileReader() = default;
  virtual Result<Bytes> ReadTile(const TileCoord& tile) = 0;
};

class DirTileReader : public TileReader {
 public:
  explicit DirTileReader(std::string root) : root_(std::move(root)) {}
  Result<Bytes> ReadTile(const TileCoord& tile) override;

 private:
  std::string root_;
};

// Reads a tile; if it is a partial tile that is gone (logs may delete partials once the full
// tile exists), reads the full tile and cuts it to the partial's width, as c2sp.org/tlog-tiles
// lets clients do. Errors name the tile's path.
Result<Bytes> ReadTileOrFull(TileReader& reader, const TileCoord& tile);

// Complete-subtree hashes of a tree of `size` leaves, read from tiles (as a remote client would:
// only the tiles that a tree of this size has, through ReadTileOrFull). Any node complete within
// `size` is available, so proofs for smaller trees come from the same source. Tiles are cached
// for the life of the object.
class TileHashSource : public HashSource {
 public:
  TileHashSource(TileReader& reader, uint64_t size) : reader_(reader), size_(size) {}
  Result<Hash> Node(int level, uint64_t index) override;
  Result<Hash> Root();  // MTH of the whole tree

 private:
  Result<const std::vector<Hash>*> Tile(int level, uint64_t tile_index);

  TileReader& reader_;
  uint64_t size_;
  std::map<std::pair<int, uint64_t>, std::vector<Hash>> cache_;
};

// MTH of a complete subtree given its leaves (count must be a power of two).
Hash SubtreeRoot(const Hash* hashes, size_t count);

}  // namespace accord::tlog
