#include "tlog/tile.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/fs.h"
#include "core/limits.h"

namespace accord::tlog {

std::string TileIndexPath(uint64_t index) {
  std::string groups;
  std::vector<unsigned> parts;
  do {
    parts.push_back(unsigned(index % 1000));
    index /= 1000;
  } while (index > 0);
  std::string out;
  for (size_t i = parts.size(); i-- > 0;) {
    char buf[8];
    std::snprintf(buf, sizeof buf, i == 0 ? "%03u" : "x%03u/", parts[i]);
    out += buf;
  }
  return out;
}

std::string TilePath(const TileCoord& t) {
  std::string out = "tile/";
  out += t.level == kEntriesLevel ? std::string("entries") : std::to_string(t.level);
  out += "/";
  out += TileIndexPath(t.index);
  if (!t.full()) out += ".p/" + std::to_string(t.width);
  return out;
}

Result<TileCoord> ParseTilePath(std::string_view path) {
  auto bad = [&](std::string why) {
    return InvalidArgument("tile path \"" + Printable(path) + "\": " + why);
  };
  if (path.substr(0, 5) != "tile/") return bad("does not start with tile/");
  std::string_view rest = path.substr(5);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("no index");
  std::string_view level = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  TileCoord t;
  if (level == "entries") {
    t.level = kEntriesLevel;
  } else {
    auto l = ParseDecimal(level);
    if (!l || *l > 63) return bad("level must be 0..63");
    t.level = int(*l);
  }
  std::string_view width;
  size_t p = rest.find(".p/");
  if (p != std::string_view::npos) {
    width = rest.substr(p + 3);
    rest = rest.substr(0, p);
    auto w = ParseDecimal(width);
    if (!w || *w < 1 || *w > 255) return bad("width must be 1..255");
    t.width = uint32_t(*w);
  }
  uint64_t index = 0;
  while (true) {
    bool last = rest.size() == 3;
    std::string_view group = last ? rest : rest.substr(0, 5);
    if (!last) {
      if (rest.size() < 5 || group[0] != 'x' || group[4] != '/') return bad("malformed index");
      group = group.substr(1, 3);
    }
    for (char c : group)
      if (c < '0' || c > '9') return bad("malformed index");
    uint64_t g = uint64_t(group[0] - '0') * 100 + uint64_t(group[1] - '0') * 10 + uint64_t(group[2] - '0');
    if (index > (UINT64_MAX - g) / 1000) return bad("index overflows");
    index = index * 1000 + g;
    if (last) break;
    rest.remove_prefix(5);
  }
  t.index = index;
  // A tile index whose first leaf would be past 2^64 exists in no tree.
  int shift = 8 * (std::max(t.level, 0) + 1);
  if (index > (shift >= 64 ? 0 : UINT64_MAX >> shift)) return bad("index beyond any tree of 2^64 leaves");
  if (TilePath(t) != path) return bad("not in canonical form");
  return t;
}

uint32_t PartialWidth(int level, uint64_t size) {
  int shift = 8 * level;
  if (shift >= 64) return 0;
  return uint32_t((size >> shift) & 0xff);
}

TileCoord TileFor(int level, uint64_t index, uint64_t size) {
  int l = level == kEntriesLevel ? 0 : level;
  TileCoord t{level, index / 256, 256};
  uint64_t level_size = 8 * l >= 64 ? 0 : size >> (8 * l);  // hashes at this level
  uint64_t start = t.index * 256;                           // <= index: cannot wrap
  if (level_size <= start) {
    t.width = 0;  // no such tile in this tree; callers check the index first
  } else if (level_size - start < 256) {
    t.width = uint32_t(level_size - start);
  }
  return t;
}

Result<std::vector<Hash>> ParseHashTile(ByteView data, uint32_t width) {
  if (data.size() != size_t(width) * 32)
    return DataLoss("size " + std::to_string(data.size()) + ", want " + std::to_string(size_t(width) * 32));
  std::vector<Hash> out(width);
  for (uint32_t i = 0; i < width; ++i) std::memcpy(out[i].data(), data.data() + 32 * i, 32);
  return out;
}

Result<std::vector<ByteView>> ParseEntryBundle(ByteView data, uint32_t width) {
  std::vector<ByteView> out;
  out.reserve(width);
  size_t pos = 0;
  while (pos < data.size()) {
    if (out.size() == width)
      return DataLoss(std::to_string(data.size() - pos) + " bytes after entry " + std::to_string(width - 1));
    if (data.size() - pos < 2)
      return DataLoss("truncated length prefix of entry " + std::to_string(out.size()));
    size_t len = size_t(uint8_t(data[pos])) << 8 | uint8_t(data[pos + 1]);
    pos += 2;
    if (data.size() - pos < len)
      return DataLoss("entry " + std::to_string(out.size()) + " truncated: " +
                      std::to_string(data.size() - pos) + " of " + std::to_string(len) + " bytes");
    out.push_back(data.substr(pos, len));
    pos += len;
  }
  if (out.size() != width)
    return DataLoss(std::to_string(out.size()) + " entries, want " + std::to_string(width));
  return out;
}

void AppendBundleEntry(Bytes& bundle, ByteView entry) {
  PutU16(bundle, uint16_t(entry.size()));
  bundle.append(entry);
}

Result<Bytes> DirTileReader::ReadTile(const TileCoord& tile) {
  size_t max = tile.level == kEntriesLevel ? limits::kMaxBundleSize : limits::kFullTileSize;
  return fs::ReadFile(fs::JoinPath(root_, TilePath(tile)), max);
}

Result<Bytes> ReadTileOrFull(TileReader& reader, const TileCoord& tile) {
  Result<Bytes> data = reader.ReadTile(tile);
  if (!data.ok() && data.status().code() == Code::kNotFound && !tile.full()) {
    TileCoord full = tile;
    full.width = 256;
    Result<Bytes> whole = reader.ReadTile(full);
    if (whole.ok()) {
      if (tile.level != kEntriesLevel) {
        if (whole->size() != limits::kFullTileSize)
          return DataLoss(TilePath(full) + ": size " + std::to_string(whole->size()) + ", want 8192");
        whole->resize(size_t(tile.width) * 32);
        return whole;
      }
      Result<std::vector<ByteView>> entries = ParseEntryBundle(*whole, 256);
      if (!entries.ok()) return entries.status().WithContext(TilePath(full));
      size_t n = 0;
      for (uint32_t i = 0; i < tile.width; ++i) n += 2 + (*entries)[i].size();
      whole->resize(n);
      return whole;
    }
  }
  if (!data.ok()) return data.status().WithContext(TilePath(tile));
  return data;
}

Hash SubtreeRoot(const Hash* hashes, size_t count) {
  if (count == 1) return hashes[0];
  size_t half = count / 2;
  return HashChildren(SubtreeRoot(hashes, half), SubtreeRoot(hashes + half, half));
}

Result<const std::vector<Hash>*> TileHashSource::Tile(int level, uint64_t tile_index) {
  auto key = std::make_pair(level, tile_index);
  auto it = cache_.find(key);
  if (it != cache_.end()) return &it->second;
  TileCoord t = TileFor(level, tile_index * 256, size_);
  ASSIGN_OR_RETURN(Bytes data, ReadTileOrFull(reader_, t));
  uint32_t want = t.width;
  Result<std::vector<Hash>> hashes = ParseHashTile(data, want);
  if (!hashes.ok()) return hashes.status().WithContext(TilePath(t));
  auto [pos, _] = cache_.emplace(key, std::move(hashes).value());
  return &pos->second;
}

Result<Hash> TileHashSource::Node(int level, uint64_t index) {
  if (level < 0 || level >= 64) return InvalidArgument("node level " + std::to_string(level));
  int tile_level = level / 8, r = level % 8;
  uint64_t first = index << r;  // first hash at the tile level
  if ((first >> r) != index) return InvalidArgument("node index overflows");
  uint64_t level_size = (8 * tile_level) >= 64 ? 0 : size_ >> (8 * tile_level);
  if (first > level_size || (uint64_t(1) << r) > level_size - first)  // no wrap past 2^64
    return InvalidArgument("node (" + std::to_string(level) + ", " + std::to_string(index) +
                           ") is not complete in a tree of size " + std::to_string(size_));
  ASSIGN_OR_RETURN(const std::vector<Hash>* tile, Tile(tile_level, first / 256));
  size_t pos = first % 256;
  return SubtreeRoot(tile->data() + pos, size_t(1) << r);
}

Result<Hash> TileHashSource::Root() {
  if (size_ == 0) return EmptyRoot();
  return RangeRoot(*this, 0, size_);
}

}  // namespace accord::tlog
