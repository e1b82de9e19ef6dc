#include "scan/zip_legacy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "scan/inflate.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

namespace fs = std::filesystem;

// Text-like data with long repeats far apart: matches beyond 32 KiB and longer than 258 bytes,
// which only deflate64 (distance codes 30-31, length code 285 with 16 extra bits) can express.
Bytes Deflate64Friendly(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes block;
  while (block.size() < 40000) block += "line " + std::to_string(rng() % 100000) + " of some text\n";
  Bytes out;
  while (out.size() < size) {
    out += block;  // repeated 40+ KiB back: distance > 32 KiB
    for (int i = 0; i < 3000; ++i) out.push_back(static_cast<char>(rng()));  // incompressible
  }
  out.resize(size);
  return out;
}

TEST(ZipLegacyTest, Deflate64ZipsFromSevenZipDecode) {
  if (!HaveProgram("7zz")) GTEST_SKIP() << "7zz absent (apt-get install 7zip)";
  std::string dir = MakeTempDir("accord-zip-legacy");
  Bytes small = Deflate64Friendly(3000, 3), big = Deflate64Friendly(600000, 7);
  WriteWholeFile(dir + "/small.txt", small);
  WriteWholeFile(dir + "/big.bin", big);
  ASSERT_EQ(
      std::system(
          ("cd " + dir + " && 7zz a -bd -bso0 -tzip -mm=Deflate64 -mx=9 t.zip small.txt big.bin").c_str()),
      0);
  Bytes zip = ReadWholeFile(dir + "/t.zip");
  Result<std::vector<LegacyZipEntry>> entries = ListLegacyZipEntries(zip);
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  ASSERT_EQ(entries->size(), 2u);
  std::map<std::string, Bytes> got;
  for (const LegacyZipEntry& e : *entries) {
    EXPECT_EQ(e.method, 9);
    Bytes out;
    Status s = DecodeLegacyZipEntry(zip, e, uint64_t{1} << 30, out);
    EXPECT_TRUE(s.ok()) << e.raw_name << ": " << s.message();
    got[e.raw_name] = out;
  }
  EXPECT_EQ(got["small.txt"], small);
  EXPECT_TRUE(got["big.bin"] == big) << "big.bin differs";
  // The test means something only if 7-Zip used what plain deflate lacks: zlib cannot read it.
  for (const LegacyZipEntry& e : *entries) {
    if (e.raw_name != "big.bin") continue;
    size_t data = e.local_header + 30 + Le16(zip, e.local_header + 26) + Le16(zip, e.local_header + 28);
    Bytes zlib_out;
    Status zs = InflateCapped(ByteView(zip).substr(data, e.compressed_size), uint64_t{1} << 30, zlib_out);
    EXPECT_FALSE(zs.ok() && zlib_out == big) << "7-Zip wrote plain deflate: deflate64 untested";
  }

  // Through the walker, as `accord scan` meets it: members named, nothing reported.
  WalkResult w = WalkAll(zip, "t.zip");
  EXPECT_TRUE(w.Data("t.zip!big.bin") == big);
  EXPECT_EQ(w.Data("t.zip!small.txt"), small);
  EXPECT_TRUE(w.events.empty()) << w.events.front().name << ": " << w.events.front().message;

  // A cap cuts the output at exactly the cap, with no error.
  Bytes out;
  auto big_entry = std::find_if(entries->begin(), entries->end(),
                                [](const LegacyZipEntry& e) { return e.raw_name == "big.bin"; });
  ASSERT_NE(big_entry, entries->end());
  EXPECT_TRUE(DecodeLegacyZipEntry(zip, *big_entry, 100000, out).ok());
  EXPECT_EQ(out, big.substr(0, 100000));
  fs::remove_all(dir);
}

TEST(ZipLegacyTest, Inflate64ReadsPlainDeflateFromZlib) {
  // Deflate64 is deflate with more codes: zlib's raw deflate streams (every block type) decode.
  for (int level : {0, 1, 9}) {
    Bytes in = Deflate64Friendly(200000, static_cast<uint32_t>(level));
    z_stream z{};
    ASSERT_EQ(deflateInit2(&z, level, Z_DEFLATED, -15, 8, level == 1 ? Z_FIXED : Z_DEFAULT_STRATEGY), Z_OK);
    Bytes raw(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(raw.data());
    z.avail_out = static_cast<uInt>(raw.size());
    ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    raw.resize(z.total_out);
    deflateEnd(&z);
    Bytes out;
    Status s = Inflate64(raw, uint64_t{1} << 30, out);
    EXPECT_TRUE(s.ok()) << level << ": " << s.message();
    EXPECT_TRUE(out == in) << "level " << level;
    // Cut anywhere: DataLoss, and what came out is a prefix of the data.
    for (size_t cut : {size_t{1}, raw.size() / 3, raw.size() - 1}) {
      Status c = Inflate64(ByteView(raw).substr(0, cut), uint64_t{1} << 30, out);
      EXPECT_EQ(c.code(), Code::kDataLoss) << level << " cut at " << cut;
      EXPECT_TRUE(ByteView(in).starts_with(out)) << level << " cut at " << cut;
    }
  }
}

// ---- An imploder written from APPNOTE §5.3 for the tests, checked by Info-ZIP's unzip ----

struct BitWriter {
  Bytes out;
  uint32_t acc = 0;
  int n = 0;
  void Put(uint32_t v, int bits) {
    for (int i = 0; i < bits; ++i) {
      acc |= ((v >> i) & 1u) << n;
      if (++n == 8) {
        out.push_back(static_cast<char>(acc));
        acc = 0;
        n = 0;
      }
    }
  }
  void Flush() {
    if (n > 0) out.push_back(static_cast<char>(acc));
  }
};

// A Shannon-Fano tree as APPNOTE builds it: codes handed out from the longest lengths down, each
// written most significant bit first into the least-significant-first stream.
struct SfTree {
  std::vector<int> lengths;
  std::vector<uint32_t> codes;  // bit-reversed: ready to Put() with its length
  explicit SfTree(std::vector<int> l) : lengths(std::move(l)), codes(lengths.size()) {
    std::vector<int> order(lengths.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return lengths[a] < lengths[b]; });
    uint32_t code = 0, increment = 0;
    int last = 0;
    for (size_t k = order.size(); k-- > 0;) {
      int s = order[k];
      code += increment;
      if (lengths[s] != last) {
        last = lengths[s];
        increment = 1u << (16 - last);
      }
      uint32_t reversed = 0;
      for (int b = 0; b < 16; ++b) reversed |= ((code >> b) & 1u) << (15 - b);
      codes[s] = reversed;
    }
  }
  void Write(BitWriter& w, int symbol) const { w.Put(codes[symbol], lengths[symbol]); }
  Bytes Stored() const {  // (count - 1) << 4 | (length - 1) per run, after a byte count - 1
    Bytes runs;
    for (size_t i = 0; i < lengths.size();) {
      size_t j = i;
      while (j < lengths.size() && lengths[j] == lengths[i] && j - i < 16) ++j;
      runs.push_back(static_cast<char>(((j - i - 1) << 4) | static_cast<size_t>(lengths[i] - 1)));
      i = j;
    }
    return Bytes(1, static_cast<char>(runs.size() - 1)) + runs;
  }
};

std::vector<int> Lengths(std::initializer_list<std::pair<int, int>> runs) {  // {count, length}
  std::vector<int> l;
  for (auto [count, length] : runs) l.insert(l.end(), static_cast<size_t>(count), length);
  return l;
}

// Greedy LZ77 with one candidate per 3-byte hash; flags bit 1: 8 KiB window, bit 2: literal tree.
Bytes Implode(ByteView in, uint16_t flags, bool lead_with_zero_match) {
  const bool w8k = flags & 2, lit_tree = flags & 4;
  const int low_bits = w8k ? 7 : 6;
  const size_t window = w8k ? 8192 : 4096, min_match = lit_tree ? 3 : 2, max_match = min_match + 63 + 255;
  SfTree literals(Lengths({{64, 7}, {128, 9}, {64, 8}}));
  SfTree lengths(Lengths({{16, 5}, {16, 6}, {32, 7}}));
  SfTree distances(Lengths({{16, 5}, {16, 6}, {32, 7}}));
  BitWriter w;
  if (lit_tree) w.out += literals.Stored();
  w.out += lengths.Stored();
  w.out += distances.Stored();
  auto match = [&](size_t distance, size_t length) {
    w.Put(0, 1);
    w.Put(static_cast<uint32_t>((distance - 1) & ((1u << low_bits) - 1)), low_bits);
    distances.Write(w, static_cast<int>((distance - 1) >> low_bits));
    size_t l = length - min_match;
    lengths.Write(w, static_cast<int>(std::min<size_t>(l, 63)));
    if (l >= 63) w.Put(static_cast<uint32_t>(l - 63), 8);
  };
  size_t pos = 0;
  if (lead_with_zero_match) {  // the data starts with zeros: copied from before the start
    match(100, 4);
    pos = 4;
  }
  std::vector<int64_t> head(1 << 16, -1);
  auto hash = [&](size_t p) {
    return (static_cast<unsigned char>(in[p]) * 2654435761u ^ static_cast<unsigned char>(in[p + 1]) * 40503u ^
            static_cast<unsigned char>(in[p + 2])) &
           0xffff;
  };
  while (pos < in.size()) {
    size_t best = 0, best_dist = 0;
    if (pos + 3 <= in.size()) {
      int64_t cand = head[hash(pos)];
      head[hash(pos)] = static_cast<int64_t>(pos);
      if (cand >= 0 && pos - static_cast<size_t>(cand) <= window) {
        size_t len = 0;
        while (pos + len < in.size() && len < max_match &&
               in[static_cast<size_t>(cand) + len] == in[pos + len])
          ++len;
        if (len >= min_match) {
          best = len;
          best_dist = pos - static_cast<size_t>(cand);
        }
      }
    }
    if (best > 0) {
      match(best_dist, best);
      pos += best;
    } else {
      w.Put(1, 1);
      if (lit_tree) {
        literals.Write(w, static_cast<unsigned char>(in[pos]));
      } else {
        w.Put(static_cast<unsigned char>(in[pos]), 8);
      }
      ++pos;
    }
  }
  w.Flush();
  return w.out;
}

struct ZipMember {
  std::string name;
  uint16_t method = 0, flags = 0;
  Bytes data, stored;
};

// A zip: local headers and data, central directory, end record; after `prefix` bytes of a program
// stub ("MZ..."), with offsets counted from the archive (`file_relative` false) or from the file.
Bytes ZipOf(const std::vector<ZipMember>& members, size_t prefix = 0, bool file_relative = false) {
  Bytes z(prefix, 'X');
  if (prefix >= 2) z.replace(0, 2, "MZ");
  const size_t base = file_relative ? 0 : prefix;
  std::vector<std::pair<Bytes, size_t>> fields;  // per member: the shared fields, local header offset
  for (const ZipMember& m : members) {
    uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size())));
    Bytes f;
    PutLe(f, 0, m.flags, 2);
    PutLe(f, 2, m.method, 2);
    PutLe(f, 4, 0, 4);  // time, date
    PutLe(f, 8, crc, 4);
    PutLe(f, 12, m.stored.size(), 4);
    PutLe(f, 16, m.data.size(), 4);
    PutLe(f, 20, m.name.size(), 2);
    PutLe(f, 22, 0, 2);  // extra
    fields.emplace_back(f, z.size() - base);
    z += "PK\x03\x04";
    PutLe(z, z.size(), 10, 2);  // version needed
    z += f + m.name + m.stored;
  }
  size_t cd = z.size();
  for (size_t i = 0; i < members.size(); ++i) {
    z += "PK\x01\x02";
    PutLe(z, z.size(), 10, 2);
    PutLe(z, z.size(), 10, 2);
    z += fields[i].first;
    PutLe(z, z.size(), 0, 6);                 // comment length, disk, internal attributes
    PutLe(z, z.size(), 0, 4);                 // external attributes
    PutLe(z, z.size(), fields[i].second, 4);  // local header
    z += members[i].name;
  }
  size_t cd_size = z.size() - cd;
  z += "PK\x05\x06";
  PutLe(z, z.size(), 0, 4);
  PutLe(z, z.size(), members.size(), 2);
  PutLe(z, z.size(), members.size(), 2);
  PutLe(z, z.size(), cd_size, 4);
  PutLe(z, z.size(), cd - base, 4);
  PutLe(z, z.size(), 0, 2);
  return z;
}

Bytes OneMemberZip(std::string_view name, uint16_t method, uint16_t flags, ByteView data, ByteView stored,
                   size_t prefix = 0) {
  return ZipOf({{std::string(name), method, flags, Bytes(data), Bytes(stored)}}, prefix);
}

Bytes Sample(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out;
  while (out.size() < size) {
    if (rng() % 3 == 0) {
      for (int i = 0; i < 50; ++i) out.push_back(static_cast<char>(rng()));
    } else {
      out += "repeat " + std::to_string(rng() % 50) + " ";
      if (rng() % 7 == 0) out += std::string(400, 'A');  // longer than 63 + min: the 8-bit extension
    }
  }
  out.resize(size);
  return out;
}

TEST(ZipLegacyTest, ExplodeAgreesWithInfoZipUnzip) {
  if (!HaveProgram("unzip")) GTEST_SKIP() << "unzip absent (apt-get install unzip)";
  std::string dir = MakeTempDir("accord-zip-legacy");
  int variant = 0;
  for (uint16_t flags : {uint16_t{0}, uint16_t{2}, uint16_t{4}, uint16_t{6}}) {
    for (bool zero_lead : {false, true}) {
      Bytes data = Sample(30000, flags * 2 + zero_lead);
      if (zero_lead) data.replace(0, 4, std::string(4, '\0'));
      Bytes zip = OneMemberZip("m.bin", 6, flags, data, Implode(data, flags, zero_lead));
      std::string path = dir + "/v" + std::to_string(variant++) + ".zip";
      WriteWholeFile(path, zip);
      // Info-ZIP's explode (independent of accord's) must read the test imploder's output back.
      ASSERT_EQ(std::system(("unzip -p " + path + " > " + path + ".out 2>/dev/null").c_str()), 0) << path;
      ASSERT_TRUE(ReadWholeFile(path + ".out") == data)
          << "unzip disagrees with the test imploder, flags " << flags;
      // And accord's, through the walker.
      WalkResult w = WalkAll(zip, "v.zip");
      EXPECT_TRUE(w.Data("v.zip!m.bin") == data) << "flags " << flags << " zero lead " << zero_lead;
      EXPECT_TRUE(w.events.empty()) << flags << ": " << w.events.front().message;
    }
  }
  fs::remove_all(dir);
}

TEST(ZipLegacyTest, ClamavImplodedAndDeflate64TestFiles) {
  Bytes clam = ReadTestFile("clam.exe");
  if (clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  for (const char* name : {"clam.impl.zip", "clam.d64.zip"}) {
    Bytes zip = ReadTestFile(name);
    Result<std::vector<LegacyZipEntry>> entries = ListLegacyZipEntries(zip);
    ASSERT_TRUE(entries.ok()) << name;
    ASSERT_EQ(entries->size(), 1u) << name;
    Bytes out;
    EXPECT_TRUE(DecodeLegacyZipEntry(zip, entries->front(), 1 << 20, out).ok()) << name;
    EXPECT_EQ(out, clam) << name;
  }
}

TEST(ZipLegacyTest, DamageIsReportedWithWhatCameBefore) {
  Bytes data = Sample(20000, 99);
  Bytes imploded = Implode(data, 6, false);
  Bytes out;
  // Cut streams: DataLoss, output a prefix.
  for (size_t cut : {size_t{0}, size_t{5}, imploded.size() / 2, imploded.size() - 2}) {
    Status s = Explode(ByteView(imploded).substr(0, cut), 6, data.size(), 1 << 20, out);
    EXPECT_EQ(s.code(), Code::kDataLoss) << cut;
    EXPECT_TRUE(ByteView(data).starts_with(out)) << cut;
  }
  // A tree whose lengths over-subscribe the code, or list more symbols than the tree has.
  Bytes bad_tree = imploded;
  bad_tree[1] = static_cast<char>(0xf0);  // 16 literals of length 1
  EXPECT_EQ(Explode(bad_tree, 6, data.size(), 1 << 20, out).code(), Code::kDataLoss);
  // The cap: exactly that many bytes, OK.
  EXPECT_TRUE(Explode(imploded, 6, data.size(), 1000, out).ok());
  EXPECT_EQ(out, data.substr(0, 1000));

  // In a zip: a flipped byte fails the CRC (or the stream) and is reported, the bytes still scanned.
  Bytes zip = OneMemberZip("m.bin", 6, 6, data, imploded);
  zip[30 + 5 + imploded.size() / 2] ^= 0x10;
  WalkResult w = WalkAll(zip, "d.zip");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.Zip"));
  EXPECT_FALSE(w.HasEvent("Heuristics.Unsupported.Zip"));
  // Encrypted: reported as such, nothing decoded.
  Bytes enc = OneMemberZip("m.bin", 6, 7, data, imploded);
  w = WalkAll(enc, "e.zip");
  EXPECT_TRUE(w.HasEventPrefix("Heuristics.Encrypted.Zip"));
  EXPECT_EQ(w.Data("e.zip!m.bin"), "<absent>");
}

TEST(ZipLegacyTest, ArchivesAfterAStubAreFound) {
  // A self-extractor: 5,000 bytes of program before the zip, offsets counted from the zip.
  Bytes data = Sample(5000, 5);
  Bytes zip = OneMemberZip("m.bin", 6, 4, data, Implode(data, 4, false), 5000);
  Result<std::vector<LegacyZipEntry>> entries = ListLegacyZipEntries(zip);
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->front().local_header, 5000u);
  Bytes out;
  EXPECT_TRUE(DecodeLegacyZipEntry(zip, entries->front(), 1 << 20, out).ok());
  EXPECT_TRUE(out == data);
  // No end record, or one pointing outside: DataLoss, not a crash.
  EXPECT_EQ(ListLegacyZipEntries("PK\x03\x04 nothing else").status().code(), Code::kDataLoss);
  Bytes bad = zip;
  bad[bad.size() - 7] = '\x7f';  // central directory larger than the file
  EXPECT_EQ(ListLegacyZipEntries(bad).status().code(), Code::kDataLoss);
}

TEST(ZipLegacyTest, SelfExtractorsWithFileRelativeOffsetsThroughTheWalker) {
  // A program stub, then a zip whose offsets count from the file's start (zip -A, WinZip SFX).
  Bytes data = Sample(8000, 11);
  for (bool file_relative : {false, true}) {
    Bytes exe = ZipOf({{"m.bin", 6, 6, data, Implode(data, 6, false)}}, 3000, file_relative);
    WalkResult w = WalkAll(exe, "sfx.exe");
    EXPECT_TRUE(w.Contains(data)) << "file-relative " << file_relative;
    EXPECT_FALSE(w.HasEventPrefix("Heuristics.Unsupported")) << "file-relative " << file_relative;
  }
}

TEST(ZipLegacyTest, OnlyImplodeAndDeflate64MembersAreTakenOver) {
  // a.txt in method 1 (shrink: libarchive cannot, nor accord), b.bin in deflate64 (here a stored
  // deflate block, which deflate64 reads the same): a.txt stays unsupported, b.bin is decoded.
  Bytes a = "shrunk text, not really", b = Sample(3000, 12);
  Bytes stored = RawDeflate(b, 0);
  Bytes zip = ZipOf({{"a.txt", 1, 0, a, a}, {"b.bin", 9, 0, b, stored}});
  WalkResult w = WalkAll(zip, "m.zip");
  EXPECT_EQ(w.Data("m.zip!a.txt"), "<absent>");
  EXPECT_TRUE(w.HasEvent("Heuristics.Unsupported.Zip"));
  EXPECT_TRUE(w.Data("m.zip!b.bin") == b);
  // Encrypted entries are not decoded.
  Result<std::vector<LegacyZipEntry>> entries = ListLegacyZipEntries(ZipOf({{"b.bin", 9, 1, b, stored}}));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  Bytes out;
  EXPECT_EQ(DecodeLegacyZipEntry(ZipOf({{"b.bin", 9, 1, b, stored}}), entries->front(), 1 << 20, out).code(),
            Code::kPermissionDenied);
}

TEST(ZipLegacyTest, EmptyFixedBlocksCostLittle) {
  // 200,000 empty fixed-Huffman blocks (10 bits each) and a final one: no output, no error, and
  // no table built per block (this took seconds when it was).
  BitWriter w;
  for (int i = 0; i < 200000; ++i) w.Put(0b010, 3), w.Put(0, 7);  // BFINAL 0, BTYPE 01, code 256
  w.Put(0b011, 3), w.Put(0, 7);
  w.Flush();
  Bytes out;
  EXPECT_TRUE(Inflate64(w.out, 1 << 20, out).ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace accord::scan
