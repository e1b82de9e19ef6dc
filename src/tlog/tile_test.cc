// Tiles (c2sp.org/tlog-tiles): paths and widths against the spec's own examples, strict parsing of
// tiles and entry bundles, and tree hashes read from tiles against an independent RFC 6962
// reference written here from the RFC's definition.
#include "tlog/tile.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/limits.h"
#include "crypto/sha256.h"

namespace accord::tlog {
namespace {

// --- An independent reference: RFC 6962 section 2.1, straight from the definition ---------------

Hash RefLeafHash(std::string_view entry) {
  std::string m(1, '\x00');
  m.append(entry);
  return crypto::Sha256(m);
}

Hash RefNodeHash(const Hash& left, const Hash& right) {
  std::string m(1, '\x01');
  m.append(crypto::AsView(left));
  m.append(crypto::AsView(right));
  return crypto::Sha256(m);
}

// MTH(D[begin:end]) given the leaf hashes: k is the largest power of two smaller than n.
Hash RefMth(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  size_t n = end - begin;
  if (n == 0) return crypto::Sha256("");
  if (n == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return RefNodeHash(RefMth(leaves, begin, begin + k), RefMth(leaves, begin + k, end));
}

std::string Entry(uint64_t i) {
  return "entry " + std::to_string(i);
}

const std::vector<Hash>& Leaves() {  // leaf hashes of entries 0..70000
  static const std::vector<Hash>* leaves = [] {
    auto* v = new std::vector<Hash>;
    for (uint64_t i = 0; i <= 70000; ++i) v->push_back(RefLeafHash(Entry(i)));
    return v;
  }();
  return *leaves;
}

Hash RefRoot(uint64_t size) {
  return RefMth(Leaves(), 0, size);
}

// "x001/x234/067", written here from the spec's description rather than with TileIndexPath.
std::string RefIndexPath(uint64_t n) {
  std::vector<std::string> groups;
  do {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%03u", unsigned(n % 1000));
    groups.push_back(buf);
    n /= 1000;
  } while (n > 0);
  std::string out;
  for (size_t i = groups.size(); i-- > 0;) out += (i > 0 ? "x" + groups[i] + "/" : groups[i]);
  return out;
}

// Every hash tile that a tree of `size` leaves has (full tiles and the rightmost partial ones),
// by the spec's definition: tile n of level l holds MTH(D[(n*256+i)*256^l : (n*256+i+1)*256^l]).
std::map<std::string, Bytes> BuildTiles(uint64_t size) {
  std::map<std::string, Bytes> tiles;
  std::vector<Hash> level(Leaves().begin(), Leaves().begin() + size);
  for (int l = 0; !level.empty(); ++l) {
    for (uint64_t n = 0; n * 256 < level.size(); ++n) {
      uint64_t width = std::min<uint64_t>(256, level.size() - n * 256);
      Bytes data;
      for (uint64_t i = n * 256; i < n * 256 + width; ++i) data.append(crypto::AsView(level[i]));
      std::string path = "tile/" + std::to_string(l) + "/" + RefIndexPath(n);
      if (width < 256) path += ".p/" + std::to_string(width);
      tiles[path] = data;
    }
    std::vector<Hash> up;
    for (uint64_t j = 0; (j + 1) * 256 <= level.size(); ++j)
      up.push_back(RefMth(level, j * 256, j * 256 + 256));
    level = std::move(up);
  }
  return tiles;
}

// Tiles from memory, recording every request.
class MemTileReader : public TileReader {
 public:
  explicit MemTileReader(std::map<std::string, Bytes> tiles) : tiles(std::move(tiles)) {}
  Result<Bytes> ReadTile(const TileCoord& t) override {
    std::string path = TilePath(t);
    requests.push_back(path);
    auto it = tiles.find(path);
    if (it == tiles.end()) return NotFound(path + ": no such tile");
    return it->second;
  }

  std::map<std::string, Bytes> tiles;
  std::vector<std::string> requests;
};

std::string Hex(const Hash& h) {
  return HexEncode(crypto::AsView(h));
}

// --- Paths ---------------------------------------------------------------------------------------

TEST(TilePathTest, IndexPathFollowsTheSpecExample) {
  EXPECT_EQ(TileIndexPath(1234067), "x001/x234/067");
  EXPECT_EQ(TileIndexPath(0), "000");
  EXPECT_EQ(TileIndexPath(5), "005");
  EXPECT_EQ(TileIndexPath(999), "999");
  EXPECT_EQ(TileIndexPath(1000), "x001/000");
  EXPECT_EQ(TileIndexPath(1000000), "x001/x000/000");
  EXPECT_EQ(TileIndexPath(UINT64_MAX), "x018/x446/x744/x073/x709/x551/615");
  for (uint64_t n :
       {uint64_t(0), uint64_t(7), uint64_t(272), uint64_t(1234067), uint64_t(999999999), UINT64_MAX / 3})
    EXPECT_EQ(TileIndexPath(n), RefIndexPath(n)) << n;
}

TEST(TilePathTest, FullPartialAndEntryTiles) {
  EXPECT_EQ(TilePath({0, 1234067, 256}), "tile/0/x001/x234/067");
  EXPECT_EQ(TilePath({0, 1234067, 5}), "tile/0/x001/x234/067.p/5");
  EXPECT_EQ(TilePath({kEntriesLevel, 1234067, 256}), "tile/entries/x001/x234/067");
  EXPECT_EQ(TilePath({kEntriesLevel, 0, 17}), "tile/entries/000.p/17");
  EXPECT_EQ(TilePath({2, 0, 1}), "tile/2/000.p/1");
  EXPECT_EQ(TilePath({63, 0, 255}), "tile/63/000.p/255");
}

TEST(TilePathTest, ParseRoundTrips) {
  for (const TileCoord& t :
       {TileCoord{0, 1234067, 256}, TileCoord{0, 1234067, 5}, TileCoord{kEntriesLevel, 1234067, 256},
        TileCoord{kEntriesLevel, 0, 17}, TileCoord{63, 0, 1}, TileCoord{1, 1000, 255},
        TileCoord{5, UINT64_MAX >> 48, 256}, TileCoord{0, UINT64_MAX >> 8, 256}, TileCoord{0, 0, 256}}) {
    auto parsed = ParseTilePath(TilePath(t));
    ASSERT_TRUE(parsed.ok()) << TilePath(t) << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, t) << TilePath(t);
  }
}

TEST(TilePathTest, ParseRejectsIndicesNoTreeHas) {
  // Level 5 tiles span 256^6 = 2^48 leaves each: index 2^16 would start at leaf 2^64.
  EXPECT_FALSE(ParseTilePath(TilePath({5, uint64_t(1) << 16, 256})).ok());
  EXPECT_FALSE(ParseTilePath(TilePath({0, uint64_t(1) << 56, 256})).ok());
  EXPECT_FALSE(ParseTilePath(TilePath({7, 1, 256})).ok());
  EXPECT_FALSE(ParseTilePath("tile/5/x018/x446/x744/x073/x709/x551/615").ok());
}

TEST(TilePathTest, ParseRejectsNonCanonicalPaths) {
  for (const char* p : {
           "tile/0/x001/x234/067.p/0",    // width 0
           "tile/0/x001/x234/067.p/256",  // a full tile has no .p/ suffix
           "tile/0/x001/x234/067.p/007",  // leading zeroes in the width
           "tile/0/000.p/+5",
           "tile/0/000.p/",
           "tile/0/000.p/5/",
           "tile/0/000.p/5.p/5",
           "tile/entries/000.p/0",
           "tile/64/000",  // levels are 0..63
           "tile/99999999999999999999999/000",
           "tile/00/000",  // leading zeroes in the level
           "tile/01/000",
           "tile/-1/000",
           "tile//000",
           "tile/0/001/234/067",     // missing x
           "tile/0/X001/000",        // capital X
           "tile/0/x001/x234/067/",  // trailing slash
           "tile/0/x000/001",        // a leading zero group
           "tile/0/x001/x000/",
           "tile/0/0001",
           "tile/0/01",
           "tile/0/1",
           "tile/0/abc",
           "tile/0/x1000/000",
           "tile/0/x018/x446/x744/x073/x709/x551/616",  // 2^64: overflows uint64
           "tile/0/",
           "tile/0",
           "tile/",
           "",
           "/tile/0/000",
           "tiles/0/000",
           "tile/Entries/000",
           "tile/0/000 ",
           "tile/0/000\n",
           "./tile/0/000",
       })
    EXPECT_FALSE(ParseTilePath(p).ok()) << p;
}

// --- Widths --------------------------------------------------------------------------------------

TEST(PartialWidthTest, SpecExampleTreeOf70000) {
  // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile
  // of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial
  // level 2 tile of width 1."
  EXPECT_EQ(PartialWidth(0, 70000), 112u);
  EXPECT_EQ(PartialWidth(1, 70000), 17u);
  EXPECT_EQ(PartialWidth(2, 70000), 1u);
  EXPECT_EQ(PartialWidth(3, 70000), 0u);
  EXPECT_EQ(TileFor(0, 69999, 70000), (TileCoord{0, 273, 112}));
  EXPECT_EQ(TileFor(0, 272 * 256 + 255, 70000), (TileCoord{0, 272, 256}));
  EXPECT_EQ(TileFor(1, 0, 70000), (TileCoord{1, 0, 256}));
  EXPECT_EQ(TileFor(1, 272, 70000), (TileCoord{1, 1, 17}));
  EXPECT_EQ(TileFor(2, 0, 70000), (TileCoord{2, 0, 1}));
  EXPECT_EQ(TileFor(kEntriesLevel, 69999, 70000), (TileCoord{kEntriesLevel, 273, 112}));

  // And the reference tile builder agrees with the spec's count.
  std::map<std::string, Bytes> tiles = BuildTiles(70000);
  int full0 = 0, full1 = 0;
  for (const auto& [path, data] : tiles) {
    if (path.rfind("tile/0/", 0) == 0 && path.find(".p/") == std::string::npos) ++full0;
    if (path.rfind("tile/1/", 0) == 0 && path.find(".p/") == std::string::npos) ++full1;
  }
  EXPECT_EQ(full0, 273);
  EXPECT_EQ(full1, 1);
  EXPECT_EQ(tiles.count("tile/0/273.p/112"), 1u);
  EXPECT_EQ(tiles.count("tile/1/001.p/17"), 1u);
  EXPECT_EQ(tiles.count("tile/2/000.p/1"), 1u);
  EXPECT_EQ(tiles.size(), 273u + 1 + 1 + 1 + 1);
}

TEST(PartialWidthTest, SpecExampleTreeOf256) {
  // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of
  // width 1."
  EXPECT_EQ(PartialWidth(0, 256), 0u);
  EXPECT_EQ(PartialWidth(1, 256), 1u);
  EXPECT_EQ(TileFor(0, 255, 256), (TileCoord{0, 0, 256}));
  EXPECT_EQ(TileFor(1, 0, 256), (TileCoord{1, 0, 1}));
  std::map<std::string, Bytes> tiles = BuildTiles(256);
  EXPECT_EQ(tiles.size(), 2u);
  EXPECT_EQ(tiles.count("tile/0/000"), 1u);
  EXPECT_EQ(tiles.count("tile/1/000.p/1"), 1u);
}

TEST(PartialWidthTest, EdgeSizes) {
  for (int l = 0; l < 64; ++l) EXPECT_EQ(PartialWidth(l, 0), 0u) << l;
  EXPECT_EQ(PartialWidth(0, 1), 1u);
  EXPECT_EQ(PartialWidth(0, 255), 255u);
  EXPECT_EQ(PartialWidth(1, 255), 0u);
  EXPECT_EQ(PartialWidth(0, 257), 1u);
  EXPECT_EQ(PartialWidth(1, 65535), 255u);
  EXPECT_EQ(PartialWidth(2, 65536), 1u);
  EXPECT_EQ(PartialWidth(7, UINT64_MAX), 255u);
  EXPECT_EQ(PartialWidth(8, UINT64_MAX), 0u);
}

// --- Hash tiles and entry bundles ----------------------------------------------------------------

TEST(ParseHashTileTest, ExactSizesOnly) {
  Bytes data;
  for (int i = 0; i < 3; ++i) data.append(crypto::AsView(Leaves()[i]));
  auto hashes = ParseHashTile(data, 3);
  ASSERT_TRUE(hashes.ok()) << hashes.status().ToString();
  ASSERT_EQ(hashes->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*hashes)[i], Leaves()[i]);

  for (size_t size : {size_t(0), size_t(95), size_t(97), size_t(128), size_t(8192)}) {
    auto bad = ParseHashTile(Bytes(size, 'h'), 3);
    ASSERT_FALSE(bad.ok()) << size;
    EXPECT_EQ(bad.status().code(), Code::kDataLoss) << size;
    EXPECT_NE(bad.status().message().find(std::to_string(size)), std::string::npos) << bad.status().message();
  }
  EXPECT_TRUE(ParseHashTile(Bytes(limits::kFullTileSize, 'h'), 256).ok());
  EXPECT_FALSE(ParseHashTile(Bytes(limits::kFullTileSize - 1, 'h'), 256).ok());
  EXPECT_TRUE(ParseHashTile(Bytes(32, 'h'), 1).ok());
}

Bytes Bundle(const std::vector<std::string>& entries) {
  Bytes b;
  for (const auto& e : entries) AppendBundleEntry(b, e);
  return b;
}

// A big-endian uint16 length prefix, written here byte by byte.
Bytes Len(unsigned n) {
  return Bytes{static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
}

TEST(EntryBundleTest, AppendWritesBigEndianLengthPrefixes) {
  EXPECT_EQ(Bundle({"abc", "", "z"}), Len(3) + "abc" + Len(0) + Len(1) + "z");
  EXPECT_EQ(HexEncode(Len(258)), "0102");
  EXPECT_EQ(Bundle({std::string(258, 'q')}).substr(0, 2), Len(258));
}

TEST(EntryBundleTest, ParsesExactWidth) {
  const Bytes b = Len(3) + "abc" + Len(0) + Len(1) + "z";
  auto entries = ParseEntryBundle(b, 3);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(*entries, (std::vector<ByteView>{"abc", "", "z"}));
  EXPECT_EQ(ParseEntryBundle(b, 2).status().code(), Code::kDataLoss);  // one entry too many
  EXPECT_EQ(ParseEntryBundle(b, 4).status().code(), Code::kDataLoss);  // one entry missing
  EXPECT_EQ(ParseEntryBundle("", 1).status().code(), Code::kDataLoss);
}

TEST(EntryBundleTest, RejectsTruncation) {
  const Bytes prefix_cut = Len(3) + "abc" + Bytes(1, '\0');  // second length prefix cut in half
  const Bytes one_byte = Bytes(1, '\0');
  const Bytes entry_cut = Len(5) + "abc";  // 3 of 5 bytes
  const Bytes big_cut = Len(65535) + Bytes(65534, 'e');
  for (const Bytes* b : {&prefix_cut, &one_byte, &entry_cut, &big_cut}) {
    uint32_t width = b == &prefix_cut ? 2 : 1;
    EXPECT_EQ(ParseEntryBundle(*b, width).status().code(), Code::kDataLoss) << Printable(*b);
  }
}

TEST(EntryBundleTest, RejectsTrailingBytes) {
  const Bytes one_extra = Len(1) + "a" + Bytes(1, '\0');
  const Bytes empty_entry_extra = Len(1) + "a" + Len(0);
  EXPECT_EQ(ParseEntryBundle(one_extra, 1).status().code(), Code::kDataLoss);
  EXPECT_EQ(ParseEntryBundle(empty_entry_extra, 1).status().code(), Code::kDataLoss);
}

TEST(EntryBundleTest, ZeroLengthEntries) {
  auto entries = ParseEntryBundle(Bytes(512, '\0'), 256);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(entries->size(), 256u);
  for (ByteView e : *entries) EXPECT_TRUE(e.empty());
}

TEST(EntryBundleTest, LargestEntry) {
  std::string big(limits::kMaxEntrySize, 'e');
  big[0] = 'a';
  big.back() = 'z';
  Bytes b = Bundle({big, "x"});
  EXPECT_EQ(b.size(), 2 + 65535 + 2 + 1u);
  EXPECT_EQ(b.substr(0, 2), Len(65535));
  auto entries = ParseEntryBundle(b, 2);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ((*entries)[0], big);
  EXPECT_EQ((*entries)[1], "x");
}

TEST(EntryBundleTest, FullBundleRoundTrips) {
  std::vector<std::string> entries;
  for (int i = 0; i < 256; ++i) entries.push_back(Entry(i));
  const Bytes bundle = Bundle(entries);
  auto parsed = ParseEntryBundle(bundle, 256);
  ASSERT_TRUE(parsed.ok());
  for (int i = 0; i < 256; ++i) EXPECT_EQ((*parsed)[i], entries[i]);
}

// --- Tree hashes from tiles ----------------------------------------------------------------------

TEST(TileHashSourceTest, RootMatchesRfc6962AcrossTileBoundaries) {
  for (uint64_t size : {1, 2, 3, 7, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70000}) {
    MemTileReader reader(BuildTiles(size));
    TileHashSource source(reader, size);
    auto root = source.Root();
    ASSERT_TRUE(root.ok()) << size << ": " << root.status().ToString();
    EXPECT_EQ(Hex(*root), Hex(RefRoot(size))) << "size " << size;
    // A client reads only tiles that a tree of this size has.
    for (const std::string& p : reader.requests) EXPECT_EQ(reader.tiles.count(p), 1u) << size << ": " << p;
  }
}

TEST(TileHashSourceTest, EmptyTreeRootIsHashOfNothing) {
  MemTileReader reader({});
  TileHashSource source(reader, 0);
  auto root = source.Root();
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(Hex(*root), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(reader.requests.empty());
}

TEST(TileHashSourceTest, NodesMatchTheirSubtrees) {
  const uint64_t size = 65537;
  MemTileReader reader(BuildTiles(size));
  TileHashSource source(reader, size);
  struct Case {
    int level;
    uint64_t index;
  };
  for (const Case& c : {Case{0, 0}, Case{0, 65536}, Case{3, 5}, Case{7, 511}, Case{8, 0}, Case{8, 255},
                        Case{10, 31}, Case{15, 1}, Case{16, 0}}) {
    auto node = source.Node(c.level, c.index);
    ASSERT_TRUE(node.ok()) << c.level << "/" << c.index << ": " << node.status().ToString();
    uint64_t begin = c.index << c.level, end = (c.index + 1) << c.level;
    EXPECT_EQ(Hex(*node), Hex(RefMth(Leaves(), begin, end))) << c.level << "/" << c.index;
  }
  // Subtrees not complete in this tree.
  for (const Case& c : {Case{0, 65537}, Case{1, 32768}, Case{8, 256}, Case{17, 0}, Case{64, 0}, Case{-1, 0},
                        Case{63, UINT64_MAX}})
    EXPECT_FALSE(source.Node(c.level, c.index).ok()) << c.level << "/" << c.index;
}

TEST(TileHashSourceTest, ProofsFromTilesVerifyAgainstTheReferenceRoot) {
  const uint64_t size = 65537;
  MemTileReader reader(BuildTiles(size));
  TileHashSource source(reader, size);
  Hash root = RefRoot(size);
  for (uint64_t i : {0, 1, 255, 256, 300, 65535, 65536}) {
    auto proof = ProveInclusion(source, i, size);
    ASSERT_TRUE(proof.ok()) << i << ": " << proof.status().ToString();
    EXPECT_TRUE(VerifyInclusion(i, size, Leaves()[i], *proof, crypto::AsView(root)).ok()) << i;
  }
  for (uint64_t old_size : {1, 256, 300, 65536}) {
    auto proof = ProveConsistency(source, old_size, size);
    ASSERT_TRUE(proof.ok()) << old_size << ": " << proof.status().ToString();
    Hash old_root = RefRoot(old_size);
    EXPECT_TRUE(
        VerifyConsistency(old_size, size, crypto::AsView(old_root), crypto::AsView(root), *proof).ok())
        << old_size;
  }
}

TEST(TileHashSourceTest, MissingPartialTileFallsBackToTheFullTile) {
  // A tree of 300 has tile/0/001.p/44; once the log has grown past 512, the partial may be gone
  // and the full tile/0/001 serves instead (c2sp.org/tlog-tiles, "Partial Tiles").
  std::map<std::string, Bytes> tiles = BuildTiles(300);
  ASSERT_EQ(tiles.erase("tile/0/001.p/44"), 1u);
  tiles["tile/0/001"] = BuildTiles(512)["tile/0/001"];
  MemTileReader reader(tiles);
  TileHashSource source(reader, 300);
  auto root = source.Root();
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(Hex(*root), Hex(RefRoot(300)));
  auto partial = std::find(reader.requests.begin(), reader.requests.end(), "tile/0/001.p/44");
  auto full = std::find(reader.requests.begin(), reader.requests.end(), "tile/0/001");
  EXPECT_NE(partial, reader.requests.end());
  EXPECT_NE(full, reader.requests.end());
  EXPECT_LT(partial, full);
}

TEST(TileHashSourceTest, MissingPartialTileOfALevelAboveFallsBackToo) {
  std::map<std::string, Bytes> tiles = BuildTiles(70000);
  ASSERT_EQ(tiles.erase("tile/1/001.p/17"), 1u);
  ASSERT_EQ(tiles.erase("tile/0/273.p/112"), 1u);
  // Full tiles that a tree of 131072 leaves would have, from the reference.
  std::vector<Hash> extended(Leaves());
  while (extended.size() < 131072) extended.push_back(RefLeafHash(Entry(extended.size())));
  Bytes level0;
  for (uint64_t i = 273 * 256; i < 274 * 256; ++i) level0.append(crypto::AsView(extended[i]));
  tiles["tile/0/273"] = level0;
  Bytes level1;
  for (uint64_t j = 256; j < 512; ++j)
    level1.append(crypto::AsView(RefMth(extended, j * 256, j * 256 + 256)));
  tiles["tile/1/001"] = level1;
  MemTileReader reader(tiles);
  TileHashSource source(reader, 70000);
  auto root = source.Root();
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(Hex(*root), Hex(RefRoot(70000)));
}

TEST(TileHashSourceTest, MissingTileIsNotFoundNamingThePartialTile) {
  std::map<std::string, Bytes> tiles = BuildTiles(300);
  tiles.erase("tile/0/001.p/44");
  MemTileReader reader(tiles);
  TileHashSource source(reader, 300);
  auto root = source.Root();
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), Code::kNotFound);
  EXPECT_NE(root.status().message().find("tile/0/001.p/44"), std::string::npos) << root.status().message();
}

TEST(TileHashSourceTest, TruncatedFullTileIsDataLossNamingIt) {
  std::map<std::string, Bytes> tiles = BuildTiles(300);
  tiles["tile/0/000"].resize(8000);
  MemTileReader reader(tiles);
  TileHashSource source(reader, 300);
  // The root of a tree of 300 comes from tile/1/000.p/1 and tile/0/001.p/44; a proof for entry 5
  // needs tile/0/000.
  auto node = source.Node(0, 5);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), Code::kDataLoss);
  EXPECT_NE(node.status().message().find("tile/0/000"), std::string::npos) << node.status().message();
  EXPECT_NE(node.status().message().find("8000"), std::string::npos) << node.status().message();
  auto proof = ProveInclusion(source, 5, 300);
  ASSERT_FALSE(proof.ok());
  EXPECT_NE(proof.status().message().find("tile/0/000"), std::string::npos) << proof.status().message();
}

TEST(TileHashSourceTest, WrongSizedPartialTileIsDataLossNamingIt) {
  std::map<std::string, Bytes> tiles = BuildTiles(300);
  tiles["tile/0/001.p/44"].resize(43 * 32);
  MemTileReader reader(tiles);
  TileHashSource source(reader, 300);
  auto root = source.Root();
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), Code::kDataLoss);
  EXPECT_NE(root.status().message().find("tile/0/001.p/44"), std::string::npos) << root.status().message();
}

TEST(TileHashSourceTest, CorruptFallbackTileIsNamedByItsOwnPath) {
  // The partial tile is gone and the full tile read in its place is short: the error must point
  // at the file that is actually corrupt, tile/0/001, not at the missing partial.
  std::map<std::string, Bytes> tiles = BuildTiles(300);
  tiles.erase("tile/0/001.p/44");
  tiles["tile/0/001"] = BuildTiles(512)["tile/0/001"].substr(0, 8000);
  MemTileReader reader(tiles);
  TileHashSource source(reader, 300);
  auto root = source.Root();
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), Code::kDataLoss);
  std::string message = root.status().message();
  for (size_t p; (p = message.find("tile/0/001.p/44")) != std::string::npos;) message.erase(p, 15);
  EXPECT_NE(message.find("tile/0/001"), std::string::npos) << root.status().message();
}

TEST(TileHashSourceTest, TilesAreReadOnce) {
  MemTileReader reader(BuildTiles(65537));
  TileHashSource source(reader, 65537);
  ASSERT_TRUE(source.Root().ok());
  size_t after_root = reader.requests.size();
  ASSERT_TRUE(source.Root().ok());
  EXPECT_EQ(reader.requests.size(), after_root);
  ASSERT_TRUE(ProveInclusion(source, 1000, 65537).ok());
  size_t after_proof = reader.requests.size();
  ASSERT_TRUE(ProveInclusion(source, 1000, 65537).ok());
  ASSERT_TRUE(ProveInclusion(source, 1001, 65537).ok());
  EXPECT_EQ(reader.requests.size(), after_proof);
}

// --- Partial tiles that are gone ----------------------------------------------------------------

std::vector<std::string> Entries(uint64_t n) {
  std::vector<std::string> out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(Entry(i));
  return out;
}

TEST(ReadTileOrFullTest, MissingPartialBundleIsCutFromTheFullBundle) {
  MemTileReader reader({{"tile/entries/000", Bundle(Entries(256))}});
  auto got = ReadTileOrFull(reader, {kEntriesLevel, 0, 3});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Bundle(Entries(3)));
  EXPECT_EQ(reader.requests, (std::vector<std::string>{"tile/entries/000.p/3", "tile/entries/000"}));
}

TEST(ReadTileOrFullTest, MissingPartialHashTileIsCutFromTheFullTile) {
  std::map<std::string, Bytes> tiles = BuildTiles(512);
  MemTileReader reader({{"tile/0/001", tiles["tile/0/001"]}});
  auto got = ReadTileOrFull(reader, {0, 1, 44});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, BuildTiles(300)["tile/0/001.p/44"]);
}

TEST(ReadTileOrFullTest, PresentPartialIsReadAsIs) {
  MemTileReader reader({{"tile/entries/000.p/3", Bundle(Entries(3))}, {"tile/entries/000", "junk"}});
  auto got = ReadTileOrFull(reader, {kEntriesLevel, 0, 3});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Bundle(Entries(3)));
  EXPECT_EQ(reader.requests.size(), 1u);
}

TEST(ReadTileOrFullTest, CorruptFullBundleIsDataLossNamingIt) {
  MemTileReader reader({{"tile/entries/x001/234", Bundle(Entries(255))}});
  auto got = ReadTileOrFull(reader, {kEntriesLevel, 1234, 3});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kDataLoss);
  std::string message = got.status().message();
  EXPECT_NE(message.find("tile/entries/x001/234"), std::string::npos) << message;
}

TEST(ReadTileOrFullTest, MissingTilesAreNotFound) {
  MemTileReader reader({});
  auto partial = ReadTileOrFull(reader, {0, 7, 9});
  EXPECT_EQ(partial.status().code(), Code::kNotFound);
  EXPECT_NE(partial.status().message().find("tile/0/007.p/9"), std::string::npos)
      << partial.status().message();
  auto full = ReadTileOrFull(reader, {0, 7, 256});
  EXPECT_EQ(full.status().code(), Code::kNotFound);
  EXPECT_EQ(reader.requests.back(), "tile/0/007");
}

class DirTileReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "accord-tile-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Write(const std::string& rel, ByteView data) {
    std::string path = dir_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(path)).ok());
    ASSERT_TRUE(fs::WriteFileAtomic(path, data).ok());
  }
  std::string dir_;
};

TEST_F(DirTileReaderTest, RootFromTilesOnDisk) {
  // A log directory keeps the partial tiles of the checkpoints it published: here sizes 300 and
  // 65537. A client at size 257 finds no tile/0/001.p/1 and falls back to the full tile.
  for (uint64_t size : {300, 65537})
    for (const auto& [path, data] : BuildTiles(size)) Write(path, data);
  DirTileReader reader(dir_);
  for (uint64_t size : {257, 300, 65536, 65537}) {
    TileHashSource source(reader, size);
    auto root = source.Root();
    ASSERT_TRUE(root.ok()) << size << ": " << root.status().ToString();
    EXPECT_EQ(Hex(*root), Hex(RefRoot(size))) << size;
  }
}

TEST_F(DirTileReaderTest, MissingTileIsNotFoundAndOversizedIsRefused) {
  DirTileReader reader(dir_);
  EXPECT_EQ(reader.ReadTile({0, 0, 256}).status().code(), Code::kNotFound);
  Write("tile/0/000", Bytes(limits::kFullTileSize + 1, 'h'));
  EXPECT_EQ(reader.ReadTile({0, 0, 256}).status().code(), Code::kResourceExhausted);
  Write("tile/entries/x001/234.p/3", "abc");
  auto bundle = reader.ReadTile({kEntriesLevel, 1234, 3});
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  EXPECT_EQ(*bundle, "abc");
}

}  // namespace
}  // namespace accord::tlog
