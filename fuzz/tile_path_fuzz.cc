// tlog::ParseTilePath on arbitrary text (c2sp.org/tlog-tiles paths, as a tile server receives them).
//
// Properties: a parsed path is canonical (TilePath writes it back byte for byte), so one tile has one
// URL and a cache or mirror cannot be made to hold two copies; its level and width are in range;
// and TileFor, asked about the tree whose rightmost tile this is, names the same tile.
#include <optional>

#include "fuzz_common.h"
#include "tlog/tile.h"

namespace {
using namespace accord;

// The size of the smallest tree whose rightmost tile at t's level is t, if under 2^64.
std::optional<uint64_t> TreeEndingIn(const tlog::TileCoord& t) {
  int level = t.level == tlog::kEntriesLevel ? 0 : t.level;
  if (level >= 8) return std::nullopt;
  unsigned __int128 size = (static_cast<unsigned __int128>(t.index) * 256 + t.width) << (8 * level);
  if (size > UINT64_MAX) return std::nullopt;
  return uint64_t(size);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::AsBytes(data, size);
  Result<tlog::TileCoord> t = tlog::ParseTilePath(in);
  if (!t.ok()) return 0;
  FUZZ_CHECK(tlog::TilePath(*t) == in);
  FUZZ_CHECK(t->level == tlog::kEntriesLevel || (t->level >= 0 && t->level <= 63));
  FUZZ_CHECK(t->width >= 1 && t->width <= 256);
  if (std::optional<uint64_t> tree = TreeEndingIn(*t))
    FUZZ_CHECK(tlog::TileFor(t->level, t->index * 256, *tree) == *t);
  return 0;
}
