#include "scan/wwpack.h"

#include <algorithm>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "scan/pe.h"
#include "scan/stub_code.h"

namespace accord::scan {
namespace {

constexpr std::string_view kHead("\x53\x55\x8b\xe8\x33\xdb\xeb\x60", 8);
constexpr std::string_view kBanner = "WWPack32 decompression routine version 1.12";
constexpr size_t kBannerAt = 0xc;
// The stub's setup from +0x68: call $+5; pop eax; sub eax, 6Dh (eax = the stub); ...; then the
// record fields X, Z, Y, N by cs:[ebp+ecx+T+k] (0x100: a byte of T + k, checked apart).
constexpr int kT = kAnyByte;
constexpr int kSetup[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00, 0x00, 0x50, 0x60,
                          0x33, 0xc9, 0x50, 0x58, 0x50, 0x50, 0x8b, 0xe8, 0x51, 0xfd, 0x2e, 0x2b, 0x84,
                          0x0d, kT,   kT,   kT,   kT,   0x8b, 0xf0, 0x2e, 0x03, 0xb4, 0x0d, kT,   kT,
                          kT,   kT,   0x8b, 0xf8, 0x2e, 0x03, 0xbc, 0x0d, kT,   kT,   kT,   kT,   0x57,
                          0x2e, 0x8b, 0x8c, 0x0d, kT,   kT,   kT,   kT,   0xf3, 0xa5};
constexpr size_t kSetupAt = 0x68;
// The code after the setup, stub + 0xa6 to + 0x237 (the decoder, its end and the zero fill), must
// be WWPack32 1.12's (clam-wwpack.exe's); the setup before it and the record test after it are
// compared byte by byte (kSetup, kMoreCode), the table offset T aside.
constexpr size_t kDecoderBegin = 0xa6, kDecoderEnd = 0x237;
constexpr std::string_view kDecoderSha256 =
    "599983e6b087f1e0c7a2f59482cf4d1e3aac3e55a717defb384e59375fc738b5";
// `cmp byte cs:[ebp+ecx+T+16], 0` at + 0x237: whether another record follows.
constexpr size_t kMoreAt = 0x237;
constexpr std::string_view kMoreCode("\x2e\x80\xbc\x0d", 4);
constexpr size_t kRecord = 17, kMaxBlocks = 96;

struct Stub {
  PeImage pe;
  size_t at = 0;       // file offset of the entry point (the stub)
  uint32_t table = 0;  // T: the records' offset from the stub
};

// The stub at the entry point; `decoder_known` says whether its decoder is 1.12's.
std::optional<Stub> FindStub(ByteView d, bool* decoder_known) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe) return std::nullopt;
  std::optional<size_t> ep = PeOffsetOf(*pe, pe->entry_rva, d.size());
  if (!ep || d.size() - *ep < kMoreAt + 8) return std::nullopt;
  ByteView s = d.substr(*ep);
  if (!s.starts_with(kHead) || s.substr(kBannerAt, kBanner.size()) != kBanner) return std::nullopt;
  if (!MatchesCode(s.substr(kSetupAt), kSetup)) return std::nullopt;
  const uint32_t t = Le32(s, kSetupAt + 27);
  *decoder_known = Le32(s, kSetupAt + 37) == t + 12 && Le32(s, kSetupAt + 47) == t + 4 &&
                   Le32(s, kSetupAt + 56) == t + 8 && s.substr(kMoreAt, 4) == kMoreCode &&
                   Le32(s, kMoreAt + 4) == t + 16 &&
                   HasSha256(s.substr(kDecoderBegin, kDecoderEnd - kDecoderBegin), kDecoderSha256);
  return Stub{std::move(*pe), *ep, t};
}

// The packed stream: 32-bit flag words (most significant bit first) and literal bytes, both read
// in order from `in`. Reading past the end sets `bad` and gives zeros.
struct Stream {
  ByteView in;
  size_t pos = 0;
  uint32_t word = 0;
  int left = 0;
  bool bad = false;

  uint32_t Word() {
    if (in.size() - pos < 4) {
      bad = true;
      return 0;
    }
    uint32_t v = Le32(in, pos);
    pos += 4;
    return v;
  }
  int Bit() {
    int b = static_cast<int>(word >> 31);
    word <<= 1;
    if (--left == 0) {  // the stub loads the next word as soon as one is used up
      word = Word();
      left = 32;
    }
    return b;
  }
  uint32_t Bits(int n) {
    uint32_t v = 0;
    while (n-- > 0) v = (v << 1) | static_cast<uint32_t>(Bit());
    return v;
  }
  uint8_t Byte() {
    if (pos >= in.size()) {
      bad = true;
      return 0;
    }
    return static_cast<uint8_t>(in[pos++]);
  }
};

// Unpacks `packed` into image[at, end): the bytes before `at` are the window too, as in memory.
// Returns the offset where the output ended.
Result<size_t> Unpack(ByteView packed, Bytes& image, size_t at, size_t end) {
  Stream s{packed};
  s.word = s.Word();
  s.left = 32;
  size_t o = at;
  while (true) {
    if (s.bad) return DataLoss("WWPack32: the packed stream ends before its end mark");
    if (s.Bit() == 0) {
      uint8_t b = s.Byte();
      if (s.bad) continue;
      if (o >= end) return DataLoss("WWPack32: a block unpacks past its end");
      image[o++] = static_cast<char>(b);
      continue;
    }
    uint32_t kind = s.Bits(2), length = 0, offset = 0;
    if (kind == 3) {  // length 2, a short offset; one value ends the block
      uint32_t b = s.Bits(2);
      int n = static_cast<int>(b) + (b <= 1 ? 5 : 6);
      uint32_t base = (1u << n) - (b <= 1 ? 0x1f : 0x9f);
      uint32_t v = s.Bits(n);
      if (v == 0x1ff) break;
      offset = (v + base) & 0xffff;
      length = 2;
    } else {
      uint32_t c = s.Bits(3);
      int n = 0;
      if (c < 3) {
        n = static_cast<int>(c) + 5;
      } else if (c == 3) {
        n = 8 + s.Bit();
      } else if (c == 4) {
        n = 10 + s.Bit();
      } else if (c == 5) {
        n = 12;
      } else if (c == 6) {
        offset = (s.Bits(14) + 0x1fe1) & 0xffff;
      } else {
        offset = (s.Bits(15) + 0x5fe1) & 0xffff;
      }
      if (n > 0) offset = (s.Bits(n) + (1u << n) - 0x1f) & 0xffff;
      if (kind == 1) {
        length = 3;
      } else if (kind == 2) {
        length = 4;
      } else if (s.Bit() == 0) {
        length = 5 + static_cast<uint32_t>(s.Bit());
      } else if (uint32_t x = s.Bits(3); x != 0) {
        length = x + 6;
      } else if (x = s.Bits(4); x != 0) {
        length = x + 13;
      } else {
        // Longer: a prefix code picks the width, 5 to 7 bits or 14, and a base.
        uint32_t base = 13;
        int width = 4;
        while (true) {
          if (width == 7) {
            length = s.Bits(14);
            break;
          }
          base = base * 2 + 3;
          ++width;
          if (s.Bit()) {
            uint32_t v = s.Bits(width);
            length = (v & 0xff00) | ((v + base) & 0xff);  // the stub adds to the low byte only
            break;
          }
        }
      }
    }
    if (s.bad) continue;
    if (offset > o) return DataLoss("WWPack32: a match reaches before the image");
    if (length > end - o) return DataLoss("WWPack32: a block unpacks past its end");
    for (uint32_t i = 0; i < length; ++i, ++o) image[o] = image[o - offset];  // may overlap
  }
  return o;
}

}  // namespace

bool LooksLikeWwpack(ByteView d) {
  bool known = false;
  return FindStub(d, &known).has_value();
}

Status ReadWwpack(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  bool known = false;
  std::optional<Stub> stub = FindStub(d, &known);
  if (!stub) return DataLoss("WWPack32: no WWPack32 stub at the entry point");
  if (!known) return Unimplemented("WWPack32: a stub other than version 1.12's");
  const PeImage& pe = stub->pe;
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(d, pe, options, "WWPack32"));
  // The blocks, as the stub walks its records. Everything readable is yielded: a block that fails
  // ends the walk with its status, and the image as far as it was unpacked is the member. The
  // blocks' sizes add up against what the container may still produce (records may name the same
  // range again and again).
  const uint64_t stub_va = pe.image_base + pe.entry_rva;
  uint64_t work = 0;
  Status status;
  for (size_t k = 0;; ++k) {
    if (k == kMaxBlocks) {
      status = DataLoss("WWPack32: more than " + std::to_string(kMaxBlocks) + " blocks");
      break;
    }
    uint64_t record = uint64_t{pe.entry_rva} + stub->table + kRecord * k;
    if (record + kRecord > image.size()) {
      status = DataLoss("WWPack32: a block record outside the image");
      break;
    }
    const uint32_t x = Le32(image, record), y = Le32(image, record + 4), words = Le32(image, record + 8),
                   z = Le32(image, record + 12);
    const uint64_t dest_va = (stub_va - x) & 0xffffffff;
    const uint64_t dest = dest_va - std::min(dest_va, pe.image_base), end = dest + uint64_t{y} + 4,
                   packed_end = dest + uint64_t{z} + 4, packed_bytes = uint64_t{words} * 4;
    if (dest_va < pe.image_base || end > image.size() || packed_end > image.size() ||
        packed_bytes > packed_end || packed_bytes > end - dest) {
      status = DataLoss("WWPack32: a block outside the image");
      break;
    }
    work += (end - dest) + packed_bytes;
    if (work > options.max_total_bytes) {
      status = ResourceExhausted("WWPack32: blocks of " + std::to_string(work) +
                                 " bytes in all, more than the container may still produce (" +
                                 std::to_string(options.max_total_bytes) + ")");
      break;
    }
    // The stub moves the packed words to the block's end, then unpacks from its start; the words
    // are decoded from a copy (as ClamAV does), so output that overtakes them changes nothing.
    const Bytes packed =
        image.substr(static_cast<size_t>(packed_end - packed_bytes), static_cast<size_t>(packed_bytes));
    image.replace(static_cast<size_t>(end - packed_bytes), packed.size(), packed);
    Result<size_t> out_end = Unpack(packed, image, static_cast<size_t>(dest), static_cast<size_t>(end));
    if (!out_end.ok()) {
      status = out_end.status();
      break;
    }
    std::fill(image.begin() + static_cast<std::ptrdiff_t>(*out_end),
              image.begin() + static_cast<std::ptrdiff_t>(end), '\0');
    if (image[record + 16] == 0) break;  // another record? read after unpacking, as the stub does
  }
  // The stub has run: its first bytes are cleared in the image, which so is never taken for a
  // packed program again (an image has the file's layout when the two alignments are equal).
  if (uint64_t{pe.entry_rva} + kHead.size() <= image.size())
    std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pe.entry_rva), kHead.size(), '\0');
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"WWPack32", std::move(image)});
  return status;
}

}  // namespace accord::scan
