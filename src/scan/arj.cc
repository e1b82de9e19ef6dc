#include "scan/arj.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <optional>

#include "scan/huffman.h"

namespace accord::scan {
namespace {

constexpr size_t kMaxBasicHeader = 2600;  // ARJ's own bound (HEADERSIZE_MAX)

uint32_t Crc32(ByteView d) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
}

// ARJ's bit reader: a 16-bit window, most significant bit first; past the end it reads zeros, as
// ARJ does. It counts the bits taken, so that what was decoded from bits past the end (a cut
// stream) is told from the window's look-ahead.
class MsbBits {
 public:
  explicit MsbBits(ByteView in) : in_(in) { Fill(16); }
  uint32_t Peek() const { return window_; }  // 16 bits
  uint32_t Get(int n) {                      // n <= 16
    uint32_t v = n == 0 ? 0 : window_ >> (16 - n);
    Fill(n);
    taken_ += static_cast<uint64_t>(n);
    return v;
  }
  int Bit() { return static_cast<int>(Get(1)); }
  // Bits were taken past the end of the input: what they decoded to is not the file's.
  bool overrun() const { return taken_ > uint64_t{8} * in_.size(); }

 private:
  void Fill(int n) {
    window_ = (window_ << n) & 0xffff;
    while (n > bit_count_) {
      n -= bit_count_;
      window_ |= (sub_ << n) & 0xffff;
      if (pos_ < in_.size()) {
        sub_ = static_cast<unsigned char>(in_[pos_++]);
      } else {
        sub_ = 0;
      }
      bit_count_ = 8;
    }
    bit_count_ -= n;
    window_ |= sub_ >> bit_count_;
  }
  ByteView in_;
  size_t pos_ = 0;
  uint32_t window_ = 0, sub_ = 0;
  int bit_count_ = 0;
  uint64_t taken_ = 0;
};

// A code table of ar002: either a Huffman code or, when the stored count is 0, one symbol that
// costs no bits.
struct Table {
  std::optional<int> only;
  Huffman code;
  int Decode(MsbBits& bits) const {
    if (only) return *only;
    return code.Decode([&] { return bits.Bit(); });
  }
};

constexpr int kNC = 510, kNP = 17, kNT = 19, kCBit = 9, kPBit = 5, kTBit = 5;

Status Cut(const Bytes& out) {
  return DataLoss("ARJ data cut after " + std::to_string(out.size()) + " bytes");
}
Status Bad(const Bytes& out, std::string_view why) {
  return DataLoss("ARJ data damaged after " + std::to_string(out.size()) + " bytes: " + std::string(why));
}

bool ReadPtLen(MsbBits& bits, int nn, int nbit, int special, Table& t) {
  int n = static_cast<int>(bits.Get(nbit));
  if (n == 0) {
    int c = static_cast<int>(bits.Get(nbit));
    if (c >= nn) return false;
    t.only = c;
    return true;
  }
  if (n > nn) return false;
  std::array<uint8_t, kNT> len{};
  int i = 0;
  while (i < n) {
    int c = static_cast<int>(bits.Peek() >> 13);
    if (c == 7) {
      for (uint32_t mask = 1u << 12; (mask & bits.Peek()) != 0; mask >>= 1) ++c;
      if (c > 16) return false;
    }
    bits.Get(c < 7 ? 3 : c - 3);
    len[static_cast<size_t>(i++)] = static_cast<uint8_t>(c);
    if (i == special) {
      int zeros = static_cast<int>(bits.Get(2));
      if (i + zeros > nn) return false;
      while (zeros-- > 0) len[static_cast<size_t>(i++)] = 0;
    }
  }
  t.only.reset();
  return t.code.Build(len.data(), nn);
}

bool ReadCLen(MsbBits& bits, const Table& pt, Table& t) {
  int n = static_cast<int>(bits.Get(kCBit));
  if (n == 0) {
    int c = static_cast<int>(bits.Get(kCBit));
    if (c >= kNC) return false;
    t.only = c;
    return true;
  }
  if (n > kNC) return false;
  std::array<uint8_t, kNC> len{};
  int i = 0;
  while (i < n) {
    int c = pt.Decode(bits);
    if (c < 0 || c >= kNT) return false;
    if (c <= 2) {
      int zeros = c == 0   ? 1
                  : c == 1 ? static_cast<int>(bits.Get(4)) + 3
                           : static_cast<int>(bits.Get(kCBit)) + 20;
      if (i + zeros > kNC) return false;
      while (zeros-- > 0) len[static_cast<size_t>(i++)] = 0;
    } else {
      len[static_cast<size_t>(i++)] = static_cast<uint8_t>(c - 2);
    }
  }
  t.only.reset();
  return t.code.Build(len.data(), kNC);
}

bool CopyBack(Bytes& out, uint64_t distance, uint64_t length, uint64_t limit) {
  if (distance > out.size()) return false;
  for (uint64_t k = 0; k < length && out.size() < limit; ++k) out.push_back(out[out.size() - distance]);
  return true;
}

Status DecodeLzh(ByteView in, uint64_t limit, Bytes& out) {
  MsbBits bits(in);
  Table c_table, p_table, t_table;
  uint16_t block = 0;
  while (out.size() < limit) {
    if (bits.overrun()) return Cut(out);
    if (block == 0) {
      block = static_cast<uint16_t>(bits.Get(16));
      if (!ReadPtLen(bits, kNT, kTBit, 3, t_table) || !ReadCLen(bits, t_table, c_table) ||
          !ReadPtLen(bits, kNP, kPBit, -1, p_table)) {
        return Bad(out, "invalid code tables");
      }
    }
    --block;
    int c = c_table.Decode(bits);
    if (bits.overrun()) break;
    if (c < 0) return Bad(out, "invalid code");
    if (c <= 255) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    uint64_t length = static_cast<uint64_t>(c) - 253;  // (c - 256) + THRESHOLD 3
    int p = p_table.Decode(bits);
    if (p < 0) return Bad(out, "invalid position code");
    uint64_t position = p == 0 ? 0 : (uint64_t{1} << (p - 1)) + bits.Get(p - 1);
    if (bits.overrun()) break;
    if (!CopyBack(out, position + 1, length, limit)) return Bad(out, "a match before the start");
  }
  if (bits.overrun()) return Cut(out);
  return Status::Ok();
}

// Method 4: a unary prefix picks the width of the value that follows.
uint32_t GammaLike(MsbBits& bits, int start, int stop) {
  uint32_t plus = 0, power = 1u << start;
  int width = start;
  for (; width < stop; ++width) {
    if (bits.Bit() == 0) break;
    plus += power;
    power <<= 1;
  }
  return (width != 0 ? bits.Get(width) : 0) + plus;
}

Status DecodeFastest(ByteView in, uint64_t limit, Bytes& out) {
  MsbBits bits(in);
  while (out.size() < limit) {
    if (bits.overrun()) return Cut(out);
    uint32_t c = GammaLike(bits, 0, 7);
    if (c == 0) {
      char literal = static_cast<char>(bits.Get(8));
      if (bits.overrun()) break;
      out.push_back(literal);
      continue;
    }
    uint64_t length = c - 1 + 3;
    uint64_t position = GammaLike(bits, 9, 13);
    if (bits.overrun()) break;
    if (!CopyBack(out, position + 1, length, limit)) return Bad(out, "a match before the start");
  }
  if (bits.overrun()) return Cut(out);
  return Status::Ok();
}

struct Header {
  ByteView basic;   // first_hdr_size onwards
  size_t next = 0;  // offset after its extended headers
};

// The header at `pos`: nullopt at the end marker. DataLoss when cut or its CRC fails.
Result<std::optional<Header>> ReadHeader(ByteView d, size_t pos) {
  if (pos > d.size() || d.size() - pos < 4)
    return DataLoss("ARJ archive cut at offset " + std::to_string(pos));
  if (static_cast<unsigned char>(d[pos]) != 0x60 || static_cast<unsigned char>(d[pos + 1]) != 0xEA) {
    return DataLoss("no ARJ header at offset " + std::to_string(pos));
  }
  size_t size = Le16(d, pos + 2);
  if (size == 0) return std::optional<Header>();
  if (size > kMaxBasicHeader) return DataLoss("ARJ header at offset " + std::to_string(pos) + " too large");
  if (d.size() - pos - 4 < size + 4) return DataLoss("ARJ header cut at offset " + std::to_string(pos));
  Header h;
  h.basic = d.substr(pos + 4, size);
  if (Crc32(h.basic) != Le32(d, pos + 4 + size)) {
    return DataLoss("ARJ header at offset " + std::to_string(pos) + ": CRC-32 mismatch");
  }
  size_t at = pos + 4 + size + 4;
  for (;;) {  // extended headers
    if (d.size() - at < 2) return DataLoss("ARJ extended header cut at offset " + std::to_string(at));
    size_t ext = Le16(d, at);
    at += 2;
    if (ext == 0) break;
    if (d.size() - at < ext + 4) return DataLoss("ARJ extended header cut at offset " + std::to_string(at));
    at += ext + 4;
  }
  h.next = at;
  return std::optional<Header>(h);
}

}  // namespace

bool LooksLikeArj(ByteView d) {
  if (d.size() < 8 || static_cast<unsigned char>(d[0]) != 0x60 || static_cast<unsigned char>(d[1]) != 0xEA) {
    return false;
  }
  size_t size = Le16(d, 2);
  if (size < 30 || size > kMaxBasicHeader || d.size() - 4 < size + 4) return false;
  ByteView basic = d.substr(4, size);
  return static_cast<unsigned char>(basic[6]) == 2 && Crc32(basic) == Le32(d, 4 + size);
}

Status DecodeArj(ByteView in, int method, uint64_t size, uint64_t cap, Bytes& out) {
  out.clear();
  const uint64_t limit = std::min(size, cap);
  if (method >= 1 && method <= 3) return DecodeLzh(in, limit, out);
  if (method == 4) return DecodeFastest(in, limit, out);
  return Unimplemented("ARJ method " + std::to_string(method));
}

Status ReadArj(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  Result<std::optional<Header>> main = ReadHeader(d, 0);
  if (!main.ok()) return main.status();
  if (!*main) return Status::Ok();
  Status first_problem;
  auto note = [&](Status s) {
    if (first_problem.ok()) first_problem = std::move(s);
  };
  size_t pos = (*main)->next;
  for (uint64_t index = 1;; ++index) {
    Result<std::optional<Header>> header = ReadHeader(d, pos);
    if (!header.ok()) {
      note(header.status());
      break;
    }
    if (!*header) break;
    ByteView b = (*header)->basic;
    size_t first_size = static_cast<unsigned char>(b[0]);
    if (b.size() < 30 || first_size < 30 || first_size > b.size()) {
      note(DataLoss("ARJ header " + std::to_string(index) + " too short"));
      break;
    }
    int flags = static_cast<unsigned char>(b[4]), method = static_cast<unsigned char>(b[5]),
        type = static_cast<unsigned char>(b[6]);
    uint64_t packed = Le32(b, 12), size = Le32(b, 16);
    uint32_t crc = Le32(b, 20);
    ByteView names = b.substr(first_size);
    std::string name = CleanReaderName(names.substr(0, names.find('\0')), "file" + std::to_string(index));
    size_t data_at = (*header)->next;
    if (packed > d.size() - data_at) {
      note(DataLoss("ARJ file " + name + ": data cut"));
      packed = d.size() - data_at;
    }
    ByteView data = d.substr(data_at, static_cast<size_t>(packed));
    pos = data_at + static_cast<size_t>(packed);
    if (type != 0 && type != 1) continue;  // directories, labels
    if ((flags & 0x01) != 0) {
      note(PermissionDenied("ARJ file " + name + " is garbled (password-protected)"));
      continue;
    }
    Bytes out;
    Status s;
    if (method == 0) {
      out = Bytes(
          data.substr(0, static_cast<size_t>(std::min<uint64_t>(data.size(), options.max_member_bytes))));
    } else {
      s = DecodeArj(data, method, size, options.max_member_bytes, out);
    }
    if (s.code() == Code::kUnimplemented) {
      note(Unimplemented("ARJ file " + name + ": " + s.message()));
      continue;
    }
    if (!s.ok()) {
      note(DataLoss("ARJ file " + name + ": " + s.message()));
    } else if (out.size() < options.max_member_bytes) {
      if ((flags & 0x04) != 0) {
        note(DataLoss("ARJ file " + name + " goes on in the next volume"));
      } else if (out.size() != size) {
        note(DataLoss("ARJ file " + name + ": " + std::to_string(out.size()) + " bytes, the header says " +
                      std::to_string(size)));
      } else if (Crc32(out) != crc) {
        note(DataLoss("ARJ file " + name + ": CRC-32 mismatch"));
      }
    }
    if (!sink(ReaderMember{name, std::move(out)})) return Status::Ok();
  }
  return first_problem;
}

}  // namespace accord::scan
