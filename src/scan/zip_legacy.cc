#include "scan/zip_legacy.h"

#include <zlib.h>

#include <algorithm>
#include <array>

#include "scan/huffman.h"
#include "scan/reader.h"

namespace accord::scan {
namespace {

// Bits of a byte string, least significant bit of each byte first (deflate's and implode's order).
class LsbBits {
 public:
  explicit LsbBits(ByteView in) : in_(in) {}
  // One bit, or -1 past the end.
  int Bit() {
    if (bit_count_ == 0) {
      if (pos_ >= in_.size()) return -1;
      bit_buf_ = static_cast<unsigned char>(in_[pos_++]);
      bit_count_ = 8;
    }
    int b = static_cast<int>(bit_buf_ & 1);
    bit_buf_ >>= 1;
    --bit_count_;
    return b;
  }
  // `n` (<= 24) bits, first bit least significant; -1 past the end.
  int64_t Bits(int n) {
    int64_t v = 0;
    for (int i = 0; i < n; ++i) {
      int b = Bit();
      if (b < 0) return -1;
      v |= static_cast<int64_t>(b) << i;
    }
    return v;
  }
  void AlignToByte() { bit_count_ = 0; }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }
  ByteView rest() const { return in_.substr(pos_); }

 private:
  ByteView in_;
  size_t pos_ = 0;
  uint32_t bit_buf_ = 0;
  int bit_count_ = 0;
};

Status Truncated(std::string_view what, const Bytes& out) {
  return DataLoss(std::string(what) + " stream ends early, after " + std::to_string(out.size()) + " bytes");
}
Status Damaged(std::string_view what, const Bytes& out, std::string_view why) {
  return DataLoss(std::string(what) + " stream damaged after " + std::to_string(out.size()) +
                  " bytes: " + std::string(why));
}

// Copies `length` bytes from `distance` back; bytes before the output's start are `fill` (implode)
// or not allowed (deflate: `fill` < 0). False when the distance is not allowed. Stops at `cap`.
bool CopyMatch(Bytes& out, uint64_t distance, uint64_t length, uint64_t cap, int fill) {
  for (uint64_t i = 0; i < length && out.size() < cap; ++i) {
    if (distance > out.size()) {
      if (fill < 0) return false;
      out.push_back(static_cast<char>(fill));
    } else {
      out.push_back(out[out.size() - distance]);
    }
  }
  return true;
}

// ---- implode (APPNOTE §5.3) ----

// A Shannon-Fano tree as stored: one byte (bytes that follow, minus one), then per byte
// (count - 1) << 4 | (bit length - 1). The codes are canonical codes of those lengths with every
// bit inverted, which is how Info-ZIP's and PKWARE's decoders read them.
bool ReadImplodeTree(ByteView in, size_t& pos, int symbols, Huffman& tree) {
  if (pos >= in.size()) return false;
  size_t n = static_cast<unsigned char>(in[pos++]) + size_t{1};
  if (n > in.size() - pos) return false;
  std::array<uint8_t, 256> lengths{};
  int k = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char b = static_cast<unsigned char>(in[pos++]);
    int count = (b >> 4) + 1, length = (b & 0x0f) + 1;
    if (k + count > symbols) return false;
    for (int j = 0; j < count; ++j) lengths[static_cast<size_t>(k++)] = static_cast<uint8_t>(length);
  }
  return k == symbols && tree.Build(lengths.data(), symbols);
}

// ---- deflate64 ----

constexpr std::array<uint16_t, 29> kLengthBase = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                                  15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                                  67, 83, 99, 115, 131, 163, 195, 227, 3};
constexpr std::array<uint8_t, 29> kLengthExtra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 16};
constexpr std::array<uint32_t, 32> kDistBase = {
    1,   2,   3,   4,   5,    7,    9,    13,   17,   25,   33,   49,    65,    97,    129,   193,
    257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153};
constexpr std::array<uint8_t, 32> kDistExtra = {0, 0, 0, 0, 1, 1, 2,  2,  3,  3,  4,  4,  5,  5,  6,  6,
                                                7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14};

// One block's symbols until end-of-block. 1 = block ended, 0 = cap reached, or an error.
Status InflateCodes(LsbBits& bits, const Huffman& lit, const Huffman& dist, uint64_t cap, Bytes& out,
                    bool& cap_reached) {
  auto next = [&] { return bits.Bit(); };
  for (;;) {
    if (out.size() >= cap) {
      cap_reached = true;
      return Status::Ok();
    }
    int sym = lit.Decode(next);
    if (sym == -1) return Truncated("deflate64", out);
    if (sym < 0) return Damaged("deflate64", out, "invalid literal/length code");
    if (sym < 256) {
      out.push_back(static_cast<char>(sym));
      continue;
    }
    if (sym == 256) return Status::Ok();
    sym -= 257;
    if (sym >= 29) return Damaged("deflate64", out, "invalid length symbol");
    int64_t extra = bits.Bits(kLengthExtra[static_cast<size_t>(sym)]);
    if (extra < 0) return Truncated("deflate64", out);
    uint64_t length = kLengthBase[static_cast<size_t>(sym)] + static_cast<uint64_t>(extra);
    int dsym = dist.Decode(next);
    if (dsym == -1) return Truncated("deflate64", out);
    if (dsym < 0 || dsym >= 32) return Damaged("deflate64", out, "invalid distance code");
    int64_t dextra = bits.Bits(kDistExtra[static_cast<size_t>(dsym)]);
    if (dextra < 0) return Truncated("deflate64", out);
    uint64_t distance = kDistBase[static_cast<size_t>(dsym)] + static_cast<uint64_t>(dextra);
    if (!CopyMatch(out, distance, length, cap, -1)) {
      return Damaged("deflate64", out, "distance " + std::to_string(distance) + " before the start");
    }
  }
}

// RFC 1951 §3.2.6, with deflate64's distance codes 30 and 31 in use.
struct FixedCodes {
  Huffman lit, dist;
  FixedCodes() {
    std::array<uint8_t, 288 + 32> fixed{};
    for (size_t i = 0; i < 288; ++i) fixed[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    for (size_t i = 288; i < fixed.size(); ++i) fixed[i] = 5;
    lit.Build(fixed.data(), 288);
    dist.Build(fixed.data() + 288, 32);
  }
};

Status DynamicTables(LsbBits& bits, Huffman& lit, Huffman& dist, const Bytes& out) {
  int64_t hlit = bits.Bits(5), hdist = bits.Bits(5), hclen = bits.Bits(4);
  if (hlit < 0 || hdist < 0 || hclen < 0) return Truncated("deflate64", out);
  int nlit = static_cast<int>(hlit) + 257, ndist = static_cast<int>(hdist) + 1,
      nclen = static_cast<int>(hclen) + 4;
  if (nlit > 286) return Damaged("deflate64", out, "too many length codes");
  static constexpr std::array<uint8_t, 19> kOrder = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                     11, 4,  12, 3, 13, 2, 14, 1, 15};
  std::array<uint8_t, 19> clen{};
  for (int i = 0; i < nclen; ++i) {
    int64_t v = bits.Bits(3);
    if (v < 0) return Truncated("deflate64", out);
    clen[kOrder[static_cast<size_t>(i)]] = static_cast<uint8_t>(v);
  }
  Huffman lencode;
  if (!lencode.Build(clen.data(), 19)) return Damaged("deflate64", out, "invalid code lengths code");
  std::array<uint8_t, 286 + 32> lengths{};
  auto next = [&] { return bits.Bit(); };
  for (int i = 0; i < nlit + ndist;) {
    int sym = lencode.Decode(next);
    if (sym == -1) return Truncated("deflate64", out);
    if (sym < 0) return Damaged("deflate64", out, "invalid code lengths");
    if (sym < 16) {
      lengths[static_cast<size_t>(i++)] = static_cast<uint8_t>(sym);
      continue;
    }
    uint8_t value = 0;
    if (sym == 16) {
      if (i == 0) return Damaged("deflate64", out, "repeat with no previous length");
      value = lengths[static_cast<size_t>(i - 1)];
    }
    int64_t repeat = bits.Bits(sym == 16 ? 2 : sym == 17 ? 3 : 7);
    if (repeat < 0) return Truncated("deflate64", out);
    repeat += sym == 18 ? 11 : 3;
    if (i + repeat > nlit + ndist) return Damaged("deflate64", out, "code lengths past the tables");
    while (repeat-- > 0) lengths[static_cast<size_t>(i++)] = value;
  }
  if (lengths[256] == 0) return Damaged("deflate64", out, "no end-of-block code");
  if (!lit.Build(lengths.data(), nlit) || !dist.Build(lengths.data() + nlit, ndist)) {
    return Damaged("deflate64", out, "over-subscribed code");
  }
  return Status::Ok();
}

}  // namespace

Status Explode(ByteView in, uint16_t flags, uint64_t size, uint64_t cap, Bytes& out) {
  out.clear();
  const bool window_8k = (flags & 0x02) != 0, literal_tree = (flags & 0x04) != 0;
  size_t pos = 0;
  Huffman literals, lengths, distances;
  if ((literal_tree && !ReadImplodeTree(in, pos, 256, literals)) || !ReadImplodeTree(in, pos, 64, lengths) ||
      !ReadImplodeTree(in, pos, 64, distances)) {
    return DataLoss("implode: Shannon-Fano trees damaged or cut");
  }
  LsbBits bits(in.substr(pos));
  auto inverted = [&] {
    int b = bits.Bit();
    return b < 0 ? b : b ^ 1;
  };
  const int low_bits = window_8k ? 7 : 6;
  const uint64_t min_match = literal_tree ? 3 : 2;
  const uint64_t limit = std::min(size, cap);
  while (out.size() < limit) {
    int flag = bits.Bit();
    if (flag < 0) return Truncated("implode", out);
    if (flag == 1) {
      int c = literal_tree ? literals.Decode(inverted) : static_cast<int>(bits.Bits(8));
      if (c == -1) return Truncated("implode", out);
      if (c < 0) return Damaged("implode", out, "invalid literal code");
      out.push_back(static_cast<char>(c));
      continue;
    }
    int64_t low = bits.Bits(low_bits);
    int high = distances.Decode(inverted);
    int len = lengths.Decode(inverted);
    if (low < 0 || high == -1 || len == -1) return Truncated("implode", out);
    if (high < 0 || len < 0) return Damaged("implode", out, "invalid distance or length code");
    uint64_t length = static_cast<uint64_t>(len);
    if (len == 63) {
      int64_t more = bits.Bits(8);
      if (more < 0) return Truncated("implode", out);
      length += static_cast<uint64_t>(more);
    }
    length += min_match;
    uint64_t distance = (static_cast<uint64_t>(high) << low_bits) + static_cast<uint64_t>(low) + 1;
    CopyMatch(out, distance, std::min(length, limit - out.size()), limit, 0);
  }
  return Status::Ok();
}

Status Inflate64(ByteView in, uint64_t cap, Bytes& out) {
  out.clear();
  LsbBits bits(in);
  for (;;) {
    int64_t final_block = bits.Bit(), type = bits.Bits(2);
    if (final_block < 0 || type < 0) return Truncated("deflate64", out);
    bool cap_reached = false;
    if (type == 0) {
      bits.AlignToByte();
      ByteView rest = bits.rest();
      if (rest.size() < 4) return Truncated("deflate64", out);
      uint16_t len = Le16(rest, 0), nlen = Le16(rest, 2);
      if (len != static_cast<uint16_t>(~nlen)) return Damaged("deflate64", out, "stored block length check");
      if (rest.size() - 4 < len) {  // what is there, then the report
        out.append(
            rest.substr(4, static_cast<size_t>(std::min<uint64_t>(rest.size() - 4, cap - out.size()))));
        return Truncated("deflate64", out);
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(len, cap - out.size()));
      out.append(rest.substr(4, take));
      bits.Skip(4 + size_t{len});
      cap_reached = out.size() >= cap;
    } else if (type == 1) {
      static const FixedCodes kFixed;  // built once: a run of empty fixed blocks costs 10 bits each
      if (Status st = InflateCodes(bits, kFixed.lit, kFixed.dist, cap, out, cap_reached); !st.ok()) return st;
    } else if (type == 2) {
      Huffman lit, dist;
      if (Status s = DynamicTables(bits, lit, dist, out); !s.ok()) return s;
      if (Status s = InflateCodes(bits, lit, dist, cap, out, cap_reached); !s.ok()) return s;
    } else {
      return Damaged("deflate64", out, "block type 3");
    }
    if (cap_reached || final_block == 1) return Status::Ok();
  }
}

Result<std::vector<LegacyZipEntry>> ListLegacyZipEntries(ByteView zip) {
  // The end-of-central-directory record: the last "PK\5\6" within 65,557 bytes of the end.
  constexpr size_t kEocd = 22;
  if (zip.size() < kEocd) return DataLoss("zip: no end of central directory");
  size_t lowest = zip.size() > kEocd + 65535 ? zip.size() - kEocd - 65535 : 0;
  size_t eocd = ByteView::npos;
  for (size_t at = zip.size() - kEocd + 1; at-- > lowest;) {
    if (zip.compare(at, 4, "PK\x05\x06") == 0) {
      eocd = at;
      break;
    }
  }
  if (eocd == ByteView::npos) return DataLoss("zip: no end of central directory");
  uint64_t cd_size = Le32(zip, eocd + 12), cd_offset = Le32(zip, eocd + 16);
  size_t cd_end_at = eocd;
  if ((cd_size == 0xffffffff || cd_offset == 0xffffffff) && eocd >= 20 &&
      zip.compare(eocd - 20, 4, "PK\x06\x07") == 0) {
    // The locator's offset counts from the archive's start; after a stub the record is found
    // where it normally is, right before the locator.
    auto is_record = [&](uint64_t at) {
      return at <= zip.size() && zip.size() - at >= 56 &&
             zip.compare(static_cast<size_t>(at), 4, "PK\x06\x06") == 0;
    };
    uint64_t z64 = Le64(zip, eocd - 20 + 8);
    if (!is_record(z64) && eocd >= 20 + 56 && is_record(eocd - 20 - 56)) z64 = eocd - 20 - 56;
    if (!is_record(z64)) return DataLoss("zip: zip64 end of central directory not found");
    cd_size = Le64(zip, static_cast<size_t>(z64) + 40);
    cd_offset = Le64(zip, static_cast<size_t>(z64) + 48);
    cd_end_at = static_cast<size_t>(z64);
  }
  // Data before the archive (a self-extractor's stub) shifts every offset by the same amount.
  if (cd_size > cd_end_at || cd_offset > cd_end_at - cd_size)
    return DataLoss("zip: central directory out of range");
  const uint64_t shift = cd_end_at - cd_size - cd_offset;
  std::vector<LegacyZipEntry> entries;
  size_t at = static_cast<size_t>(cd_end_at - cd_size);
  while (at + 46 <= cd_end_at && zip.compare(at, 4, "PK\x01\x02") == 0) {
    uint16_t method = Le16(zip, at + 10);
    size_t name_len = Le16(zip, at + 28), extra_len = Le16(zip, at + 30), comment_len = Le16(zip, at + 32);
    size_t next = at + 46 + name_len + extra_len + comment_len;
    if (next > cd_end_at) return DataLoss("zip: central directory entry cut");
    if (method == 6 || method == 9) {
      LegacyZipEntry e;
      e.method = method;
      e.flags = Le16(zip, at + 8);
      e.crc32 = Le32(zip, at + 16);
      e.compressed_size = Le32(zip, at + 20);
      e.size = Le32(zip, at + 24);
      e.local_header = Le32(zip, at + 42);
      e.raw_name = std::string(zip.substr(at + 46, name_len));
      // Zip64 extended information (0x0001): the fields that were 0xffffffff, in this order.
      for (size_t x = at + 46 + name_len, x_end = x + extra_len; x + 4 <= x_end;) {
        uint16_t id = Le16(zip, x), len = Le16(zip, x + 2);
        if (x + 4 + len > x_end) break;
        if (id == 0x0001) {
          size_t f = x + 4, f_end = f + len;
          for (uint64_t* field : {&e.size, &e.compressed_size, &e.local_header}) {
            if (*field != 0xffffffff) continue;
            if (f + 8 > f_end) break;
            *field = Le64(zip, f);
            f += 8;
          }
        }
        x += 4 + len;
      }
      if (e.local_header > zip.size() - shift) return DataLoss("zip: local header out of range");
      e.local_header += shift;
      entries.push_back(std::move(e));
    }
    at = next;
  }
  std::stable_sort(entries.begin(), entries.end(), [](const LegacyZipEntry& a, const LegacyZipEntry& b) {
    return a.local_header < b.local_header;
  });
  return entries;
}

Status DecodeLegacyZipEntry(ByteView zip, const LegacyZipEntry& e, uint64_t cap, Bytes& out) {
  out.clear();
  if ((e.flags & 0x01) != 0) return PermissionDenied("zip: encrypted member");
  size_t lh = static_cast<size_t>(e.local_header);
  if (lh > zip.size() || zip.size() - lh < 30 || zip.compare(lh, 4, "PK\x03\x04") != 0) {
    return DataLoss("zip: local header not found");
  }
  uint64_t data = lh + 30 + uint64_t{Le16(zip, lh + 26)} + Le16(zip, lh + 28);
  if (data > zip.size()) return DataLoss("zip: local header cut");
  ByteView in = zip.substr(static_cast<size_t>(data));
  bool cut = e.compressed_size > in.size();
  in = in.substr(0, static_cast<size_t>(std::min<uint64_t>(e.compressed_size, in.size())));
  Status s = e.method == 6 ? Explode(in, e.flags, e.size, cap, out) : Inflate64(in, cap, out);
  if (!s.ok()) return cut ? DataLoss(s.message() + " (the archive is cut)") : s;
  if (out.size() >= cap) return Status::Ok();  // cut by the cap: nothing to check
  if (out.size() != e.size) {
    return DataLoss("zip: member is " + std::to_string(out.size()) + " bytes, the directory says " +
                    std::to_string(e.size));
  }
  uint32_t crc = 0;
  for (size_t off = 0; off < out.size(); off += 1u << 30) {
    size_t n = std::min<size_t>(out.size() - off, 1u << 30);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(out.data() + off), static_cast<uInt>(n)));
  }
  if (crc != e.crc32) return DataLoss("zip: CRC-32 mismatch");
  return Status::Ok();
}

}  // namespace accord::scan
