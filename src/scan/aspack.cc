#include "scan/aspack.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/bytes.h"
#include "scan/pe.h"
#include "scan/stub_code.h"

namespace accord::scan {
namespace {

// Offsets from the stub's base S (the entry point - 1).
constexpr uint64_t kVersionAt = 0x3ba;  // 2.12's `push 0; ret`
constexpr std::string_view kVersion("\x68\x00\x00\x00\x00\xc3", 6);
// The stub's code from after its first bytes to the end of its block loop (the filter inside),
// compared with the base it computes (`sub ebx, S` at + 0x1e) and the loop's four settings aside.
constexpr uint64_t kCodeBegin = 0x10, kCodeEnd = 0x1a9, kBaseAt = 0x1e;
constexpr uint64_t kFilterFlagAt = 0xff, kE9JumpAt = 0x139, kMarkerJumpAt = 0x145, kMarkerAt = 0x148;
constexpr std::string_view kCodeSha256 = "af53f87e330d2dab33ac5b9fa7ab4eebec9925529a564b75ced5a4292c8a7a6d";
// Two dwords its code reads before the loop: "already unpacked" (+ 0x435) and the address of a
// dword it swaps with + 0x548 around the loop (+ 0x544); accord reads stubs with both 0.
constexpr uint64_t kUnpackedAt = 0x435, kSwapAt = 0x544;
constexpr uint64_t kDecoderBegin = 0x66c, kDecoderEnd = 0xf3c;  // the decompressor and its tables
constexpr std::string_view kDecoderSha256 =
    "f55273bce9c422414c0ba2491193831dc7ab8e3097b94e353dd82011e1cd2ba0";
// The block list: (RVA, size) entries up to the decompressor, 30 of them at most.
constexpr uint64_t kBlocksAt = 0x57c;
constexpr size_t kMaxBlocks = (kDecoderBegin - kBlocksAt) / 8;

constexpr size_t kMain = 721, kLen = 28, kAlign = 8, kPre = 19, kLengths = kMain + kLen + kAlign;
constexpr unsigned kNewTables = 720;
constexpr size_t kMaxMatch = 9 + 224 + 31;  // a match may run this far past its block (the stub's
                                            // buffer has 0x10e bytes more)

enum class StubKind { kOtherVersion, kUnknownCode, kKnown };

// `stub`: the bytes from S, kDecoderEnd of them (fewer: not read).
StubKind Classify(ByteView stub, uint64_t s) {
  if (stub.size() < kDecoderEnd || stub.substr(kVersionAt, kVersion.size()) != kVersion)
    return StubKind::kOtherVersion;
  Bytes code(stub.substr(kCodeBegin, kCodeEnd - kCodeBegin));
  for (uint64_t off : {kFilterFlagAt, kE9JumpAt, kMarkerJumpAt, kMarkerAt}) code[off - kCodeBegin] = '\0';
  std::fill_n(code.begin() + (kBaseAt - kCodeBegin), 4, '\0');
  const bool known = HasSha256(code, kCodeSha256) && Le32(stub, kBaseAt) == s &&
                     Le32(stub, kUnpackedAt) == 0 && Le32(stub, kSwapAt) == 0 &&
                     HasSha256(stub.substr(kDecoderBegin, kDecoderEnd - kDecoderBegin), kDecoderSha256);
  return known ? StubKind::kKnown : StubKind::kUnknownCode;
}

struct Stub {
  PeImage pe;
  uint64_t base = 0;  // S, an RVA
  StubKind kind = StubKind::kOtherVersion;
};

std::optional<Stub> FindStub(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe || pe->entry_rva == 0 || PeBytesAt(d, *pe, pe->entry_rva, kAspackHead.size()) != kAspackHead)
    return std::nullopt;
  const uint64_t s = pe->entry_rva - uint64_t{1};
  Stub stub{std::move(*pe), s};
  // A stub in the file as its section holds it; ReadAspack checks it again in the image.
  if (std::optional<ByteView> bytes = PeBytesAt(d, stub.pe, s, kDecoderEnd)) {
    stub.kind = Classify(*bytes, s);
  } else if (PeBytesAt(d, stub.pe, s + kVersionAt, kVersion.size()) == kVersion) {
    stub.kind = StubKind::kUnknownCode;
  }
  return stub;
}

// The stream of one block, MSB first, 32 bits loaded ahead; past the image's end it reads zeros.
struct BitStream {
  const Bytes& in;
  size_t pos;  // the next byte to load (may pass the image's end)
  uint32_t acc = 0;
  unsigned used = 32;  // of acc's bits, those already taken (from the top)

  // Whether bits past the image's end were taken (not only loaded ahead: the stub's ahead reads
  // stay in its memory).
  bool Past() const { return uint64_t{pos} * 8 - (32 - used) > uint64_t{in.size()} * 8; }
  // The next 24 bits, the first most significant.
  uint32_t Window() {
    while (used >= 8) {
      const uint8_t b = pos < in.size() ? static_cast<uint8_t>(in[pos]) : 0;
      ++pos;
      acc = acc << 8 | b;
      used -= 8;
    }
    return (acc >> (8 - used)) & 0xffffff;
  }
  uint32_t Bits(unsigned n) {  // n <= 24
    const uint32_t v = Window() >> (24 - n);
    used += n;
    return v;
  }
};

// A canonical code, decoded as the stub does: the first 15 bits of the window against the first
// code of each length (left-aligned in 24 bits).
class Code {
 public:
  // False unless the lengths (0-15) make a complete code: the sum of 2^(24 - length) is 2^24 and
  // never passes it on the way, summed by length in 32 bits (as the stub's register wraps).
  bool Build(std::span<const uint8_t> lengths) {
    std::array<uint32_t, 16> count{};
    for (uint8_t l : lengths) ++count[l];
    uint32_t sum = 0;
    size_t index = 0;
    for (unsigned l = 1; l < 16; ++l) {
      first_index_[l] = index;
      index += count[l];
      sum += count[l] << (24 - l);
      if (sum > uint32_t{1} << 24) return false;
      limit_[l] = sum;
    }
    if (sum != uint32_t{1} << 24) return false;
    std::array<size_t, 16> next = first_index_;
    for (size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] != 0) symbols_[next[lengths[s]]++] = static_cast<uint16_t>(s);
    }
    return true;
  }
  unsigned Decode(BitStream& bits) const {
    const uint32_t w = bits.Window() & 0xfffe00;
    unsigned l = 1;
    while (w >= limit_[l]) ++l;  // limit_[15] is 2^24: the code is complete
    bits.used += l;
    return symbols_[first_index_[l] + ((w - limit_[l - 1]) >> (24 - l))];
  }

 private:
  std::array<uint32_t, 16> limit_{};  // limit_[0] = 0
  std::array<size_t, 16> first_index_{};
  std::array<uint16_t, kMain> symbols_{};
};

struct Tables {
  std::array<uint8_t, kLengths> lengths{};  // the previous ones, kept for the next tables
  Code main, len, align;
  bool use_align = false;

  Status Read(BitStream& bits) {
    if (bits.Bits(1) == 0) lengths.fill(0);
    std::array<uint8_t, kPre> pre_lengths{};
    for (uint8_t& l : pre_lengths) l = static_cast<uint8_t>(bits.Bits(4));
    Code pre;
    if (!pre.Build(pre_lengths)) return DataLoss("the lengths' code is not complete");
    std::array<uint8_t, kLengths> next{};
    for (size_t i = 0; i < kLengths;) {
      const unsigned s = pre.Decode(bits);
      if (s < 16) {
        next[i] = static_cast<uint8_t>((lengths[i] + s) & 15);
        ++i;
        continue;
      }
      if (s == 16 && i == 0) return DataLoss("a repeat before the first length");
      const size_t run = s == 16 ? 3 + bits.Bits(2) : s == 17 ? 3 + bits.Bits(3) : 11 + bits.Bits(7);
      const uint8_t v = s == 16 ? next[i - 1] : 0;
      for (size_t end = std::min(kLengths, i + run); i < end; ++i) next[i] = v;
    }
    lengths = next;
    const std::span<const uint8_t> all(lengths);
    if (!main.Build(all.subspan(0, kMain))) return DataLoss("the main code is not complete");
    if (!len.Build(all.subspan(kMain, kLen))) return DataLoss("the length code is not complete");
    if (!align.Build(all.subspan(kMain + kLen, kAlign))) return DataLoss("the align code is not complete");
    use_align = std::any_of(all.begin() + kMain + kLen, all.end(), [](uint8_t l) { return l != 3; });
    return Status::Ok();
  }
};

constexpr std::array<uint32_t, 58> DistanceBases() {
  std::array<uint32_t, 58> base{};
  uint32_t sum = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    base[i] = sum;
    sum += uint32_t{1} << kAspackDistExtra[i];
  }
  return base;
}
constexpr std::array<uint32_t, 58> kDistBase = DistanceBases();

// Unpacks the block at `from` (`size` bytes once unpacked) into `out`; `*read` is set to the bytes
// of the image it read. `out` holds what was unpacked, also on failure; a last match may take it
// past `size` (by kMaxMatch - 1 bytes at most), as the stub's buffer.
Status UnpackBlock(const Bytes& image, size_t from, size_t size, Bytes* out, uint64_t* read) {
  out->clear();
  out->reserve(size + kMaxMatch);
  BitStream bits{image, from};
  auto end = [&](Status s) {
    *read = std::min(bits.pos, image.size()) - from;
    return bits.Past() ? DataLoss("its packed data runs past the image") : s;
  };
  auto tables = std::make_unique<Tables>();
  if (Status s = tables->Read(bits); !s.ok()) return end(s);
  std::array<uint32_t, 3> last{};  // distances - 1, the last used first
  while (out->size() < size) {
    if (bits.Past()) return end(Status::Ok());
    const unsigned sym = tables->main.Decode(bits);
    if (sym < 256) {
      out->push_back(static_cast<char>(sym));
      continue;
    }
    if (sym == kNewTables) {
      if (Status s = tables->Read(bits); !s.ok()) return end(s);
      continue;
    }
    const unsigned slot = (sym - 256) >> 3, k = (sym - 256) & 7;
    size_t length = k + 2;
    if (k == 7) {
      const unsigned l = tables->len.Decode(bits);
      length += kAspackLenBase[l] + bits.Bits(kAspackLenExtra[l]);
    }
    const unsigned extra = kAspackDistExtra[slot];
    uint32_t v = kDistBase[slot];
    if (tables->use_align && extra >= 3) {
      v += bits.Bits(extra - 3) << 3;
      v += tables->align.Decode(bits);
    } else {
      v += bits.Bits(extra);
    }
    uint32_t d;
    if (v < 3) {
      d = last[v];
      std::swap(last[v], last[0]);
    } else {
      d = v - 3;
      last = {d, last[0], last[1]};
    }
    if (bits.Past()) return end(Status::Ok());
    const uint64_t distance = uint64_t{d} + 1;
    if (distance > out->size())
      return end(DataLoss("a match at distance " + std::to_string(distance) + " reaches before the block"));
    for (size_t i = 0; i < length; ++i) out->push_back((*out)[out->size() - distance]);
  }
  return end(Status::Ok());
}

// The stub's E8/E9 filter over one block's output, as set by the loop's immediates: positions
// below the block's SIZE - 6 (as ClamAV's aspack.c takes it), not over what a last match wrote
// past SIZE.
void Filter(Bytes& b, size_t size, bool e9_too, bool marker_test, uint8_t marker) {
  const size_t n = std::min(b.size(), size);
  if (n < 7) return;
  for (size_t i = 0; i < n - 6;) {
    const uint8_t op = static_cast<uint8_t>(b[i]);
    if ((op == 0xe8 || (e9_too && op == 0xe9)) &&
        (!marker_test || static_cast<uint8_t>(b[i + 1]) == marker)) {
      const uint32_t x = Le32(b, i + 2) & 0xffffff;  // the operand's upper three bytes (rol 24)
      const uint32_t y = x - static_cast<uint32_t>(i);
      for (int j = 0; j < 4; ++j) b[i + 1 + j] = static_cast<char>((y >> (8 * j)) & 0xff);
      i += 5;
    } else {
      ++i;
    }
  }
}

}  // namespace

bool LooksLikeAspack(ByteView d) {
  return FindStub(d).has_value();
}

Status ReadAspack(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Stub> stub = FindStub(d);
  if (!stub) return DataLoss("ASPack: no ASPack stub at the entry point");
  auto check = [](StubKind kind) -> Status {
    if (kind == StubKind::kOtherVersion)
      return Unimplemented("ASPack: a version other than 2.12 (its stub differs)");
    if (kind == StubKind::kUnknownCode)
      return Unimplemented("ASPack: a 2.12 stub whose code or decompressor accord does not know");
    return Status::Ok();
  };
  RETURN_IF_ERROR(check(stub->kind));
  const PeImage& pe = stub->pe;
  const uint64_t s = stub->base;
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(d, pe, options, "ASPack"));
  // The stub runs as the image holds it (sections may overlap): checked there again.
  if (s + kDecoderEnd > image.size()) return DataLoss("ASPack: the stub lies outside the image");
  RETURN_IF_ERROR(check(Classify(ByteView(image).substr(s, kDecoderEnd), s)));
  // The loop's settings: the filter's E9 and marker tests are skipped by a jump over them.
  const uint8_t e9_jump = static_cast<uint8_t>(image[s + kE9JumpAt]);
  const uint8_t marker_jump = static_cast<uint8_t>(image[s + kMarkerJumpAt]);
  if ((e9_jump != 0 && e9_jump != 4) || (marker_jump != 0 && marker_jump != 5))
    return Unimplemented("ASPack: a filter setting accord does not know");
  const uint8_t marker = static_cast<uint8_t>(image[s + kMarkerAt]);
  uint8_t filter_flag = static_cast<uint8_t>(image[s + kFilterFlagAt]);
  // The headers are mapped read-only: a block there faults.
  const uint64_t headers = PeHeaderSize(d, pe);
  // The image and the bytes the blocks read and write add up against what the container may
  // still produce.
  uint64_t work = image.size();
  auto too_much = [&](const std::string& where) {
    return ResourceExhausted(
        where + ": with the image and the blocks before, more than the container may still produce (" +
        std::to_string(options.max_total_bytes) + " bytes)");
  };
  Status status =
      DataLoss("ASPack: no end of the block list within its " + std::to_string(kMaxBlocks) + " entries");
  Bytes out;
  for (size_t k = 0; k < kMaxBlocks; ++k) {
    const uint64_t entry = s + kBlocksAt + 8 * k;
    const uint32_t rva = Le32(image, static_cast<size_t>(entry));
    if (rva == 0) {
      status = Status::Ok();
      break;
    }
    const uint64_t size = Le32(image, static_cast<size_t>(entry + 4));
    const std::string where = "ASPack: block " + std::to_string(k) + " (" + HexNumber(rva) + ", " +
                              std::to_string(size) + " bytes)";
    // The stub runs from the image: a block written over it (or over the list) would change what
    // runs next, which no ASPack writes.
    auto misplaced = [&](uint64_t extent) -> std::optional<Status> {
      const std::string at = where + (extent > size ? ": its last match runs past its end," : ":");
      if (rva + extent > image.size()) return DataLoss(at + " outside the image");
      if (rva < s + kDecoderEnd && rva + extent > s) return DataLoss(at + " over the stub");
      if (rva < headers) return DataLoss(at + " in the headers, which are read-only");
      return std::nullopt;
    };
    if (std::optional<Status> bad = misplaced(size)) {
      status = *bad;
      break;
    }
    if (work + size > options.max_total_bytes) {
      status = too_much(where);
      break;
    }
    uint64_t read = 0;
    Status block = UnpackBlock(image, rva, static_cast<size_t>(size), &out, &read);
    work += out.size() + read;
    // A last match past the block's end is copied back as well (the stub copies back what its
    // decompressor wrote); the filter stops short of SIZE.
    if (std::optional<Status> bad = misplaced(out.size())) {
      status = *bad;
      break;
    }
    if (block.ok() && filter_flag == 0) {
      Filter(out, static_cast<size_t>(size), e9_jump == 0, marker_jump == 0, marker);
      ++filter_flag;  // the stub's `inc byte [ebp+0xec]`: its own immediate
    }
    std::copy(out.begin(), out.end(), image.begin() + rva);
    if (!block.ok()) {
      status = block.WithContext(where);
      break;
    }
    if (work > options.max_total_bytes) {
      status = too_much(where);
      break;
    }
  }
  // The stub has run: its first bytes are cleared, so the image is never taken for a packed
  // program again (the blocks never cover the stub).
  std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pe.entry_rva), kAspackHead.size(), '\0');
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"ASPack", std::move(image)});  // declined or not: the problem met before it
  return status;
}

}  // namespace accord::scan
