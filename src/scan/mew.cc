#include "scan/mew.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "scan/aplib.h"
#include "scan/pe.h"
#include "scan/stub_code.h"

namespace accord::scan {
namespace {

// The stub's decoder, up to the import loop; 0x100 marks an immediate's bytes.
constexpr int kI = kAnyByte;
constexpr int kDecoder[] = {
    0xbe, kI,   kI,   kI,   kI,                // mov esi, TABLE
    0x8b, 0xde, 0xad, 0xad, 0x50, 0xad, 0x97,  // mov ebx, esi; lodsd; lodsd; push eax; lodsd; xchg edi
    0xb2, 0x80, 0xa4, 0xb6, 0x80,              // mov dl, 0x80; movsb; mov dh, 0x80
    0xff, 0x13, 0x73, 0xf9, 0x33, 0xc9, 0xff, 0x13, 0x73, 0x16, 0x33, 0xc0, 0xff, 0x13,
    0x73, 0x21, 0xb6, 0x80, 0x41, 0xb0, 0x10, 0xff, 0x13, 0x12, 0xc0, 0x73, 0xfa, 0x75,
    0x3e, 0xaa, 0xeb, 0xe0, 0xe8, kI,   kI,   kI,   kI,  // call GAMMA
    0x02, 0xf6, 0x83, 0xd9, 0x01, 0x75, 0x0e, 0xff, 0x53, 0xfc, 0xeb, 0x26, 0xac, 0xd1,
    0xe8, 0x74, 0x2f, 0x13, 0xc9, 0xeb, 0x1a, 0x91, 0x48, 0xc1, 0xe0, 0x08, 0xac, 0xff,
    0x53, 0xfc, 0x3d, 0x00, 0x7d, 0x00, 0x00, 0x73, 0x0a, 0x80, 0xfc, 0x05, 0x73, 0x06,
    0x83, 0xf8, 0x7f, 0x77, 0x02, 0x41, 0x41, 0x95, 0x8b, 0xc5, 0xb6, 0x00, 0x56, 0x8b,
    0xf7, 0x2b, 0xf0, 0xf3, 0xa4, 0x5e, 0xeb, 0x9b, 0xad, 0x85, 0xc0, 0x75, 0x90,  // lodsd; test eax, eax;
                                                                                   // jnz (the next block)
};
constexpr size_t kDecoderSize = std::size(kDecoder);
constexpr size_t kTableAt = 1, kCallAt = 0x31;
// ecx = 1; do { call [ebx]; adc ecx, ecx; call [ebx] } while (carry); ret
constexpr std::string_view kGamma("\x33\xc9\x41\xff\x13\x13\xc9\xff\x13\x72\xf8\xc3", 12);

struct Stub {
  PeImage pe;
  std::optional<uint64_t> table;  // RVA of TABLE (unset: below the image base)
  bool readers_known = false;
};

std::optional<uint64_t> RvaOf(const PeImage& pe, uint64_t va) {
  if (va < pe.image_base) return std::nullopt;
  return va - pe.image_base;
}

// The bit reader at `rva`: `add dl, dl; jnz R; mov dl, [esi]`, then `inc esi; adc dl, dl; ret`
// there or after a `jmp`, with `ret` at R.
bool IsBitReader(ByteView d, const PeImage& pe, uint64_t rva) {
  auto at = [&](uint64_t r, size_t n) { return PeBytesAt(d, pe, r, n).value_or(""); };
  ByteView head = at(rva, 6);
  if (head.size() != 6 || head[0] != '\x02' || head[1] != '\xd2' || head[2] != '\x75' || head[4] != '\x8a' ||
      head[5] != '\x16')
    return false;
  const uint64_t ret = rva + 4 + static_cast<int8_t>(head[3]);
  if (at(ret, 1) != "\xc3") return false;
  uint64_t tail = rva + 6;
  if (ByteView j = at(tail, 2); j.size() == 2 && j[0] == '\xeb') tail = tail + 2 + static_cast<int8_t>(j[1]);
  return at(tail, 4) == "\x46\x12\xd2\xc3";
}

std::optional<Stub> FindStub(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe) return std::nullopt;
  uint64_t stub = pe->entry_rva;
  std::optional<ByteView> ep = PeBytesAt(d, *pe, stub, 5);
  if (!ep) return std::nullopt;
  if ((*ep)[0] == '\xe9') stub = (stub + 5 + static_cast<int32_t>(Le32(*ep, 1))) & 0xffffffff;
  std::optional<ByteView> code = PeBytesAt(d, *pe, stub, kDecoderSize);
  if (!code) return std::nullopt;
  if (!MatchesCode(*code, kDecoder)) return std::nullopt;
  Stub s;
  s.table = RvaOf(*pe, Le32(*code, kTableAt));
  const uint64_t call = (stub + kCallAt + 5 + static_cast<int32_t>(Le32(*code, kCallAt + 1))) & 0xffffffff;
  std::optional<ByteView> slots =
      s.table && *s.table >= 4 ? PeBytesAt(d, *pe, *s.table - 4, 8) : std::nullopt;
  if (slots) {
    std::optional<uint64_t> gamma = RvaOf(*pe, Le32(*slots, 0)), bits = RvaOf(*pe, Le32(*slots, 4));
    s.readers_known = gamma && bits && IsBitReader(d, *pe, *bits) &&
                      PeBytesAt(d, *pe, *gamma, kGamma.size()) == kGamma &&
                      PeBytesAt(d, *pe, call, kGamma.size()) == kGamma;
  }
  s.pe = std::move(*pe);
  return s;
}

}  // namespace

bool LooksLikeMew(ByteView d) {
  return FindStub(d).has_value();
}

Status ReadMew(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Stub> stub = FindStub(d);
  if (!stub) return DataLoss("MEW: no MEW stub at the entry point");
  const PeImage& pe = stub->pe;
  if (!stub->table || *stub->table < 4 || !PeBytesAt(d, pe, *stub->table - 4, 8))
    return DataLoss("MEW: the stub's table lies outside the file");
  if (!stub->readers_known)
    return Unimplemented("MEW: a stub whose bit or gamma reader accord does not know");
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(d, pe, options, "MEW"));
  if (*stub->table + 12 > image.size()) return DataLoss("MEW: the stub's table lies outside the image");
  size_t pos = static_cast<size_t>(*stub->table + 8);
  // The image and the bytes the blocks read and write add up against what the container may
  // still produce.
  uint64_t work = image.size();
  uint32_t last = 0;  // the last distance (ebp, whatever the loader left there; never used before set)
  Status status = DataLoss("MEW: more than " + std::to_string(kMaxMewBlocks) + " blocks");
  for (size_t k = 0; k < kMaxMewBlocks; ++k) {
    if (pos + 4 > image.size()) {
      status = DataLoss("MEW: block " + std::to_string(k) + ": its address lies outside the image");
      break;
    }
    const uint64_t dest = Le32(image, pos);
    pos += 4;
    if (dest == 0) {  // the end; the stub has no such test before its first block
      status = k == 0 ? DataLoss("MEW: no block (the first block's address is 0)") : Status::Ok();
      break;
    }
    const std::string where = "MEW: block " + std::to_string(k) + " (to " + HexNumber(dest) + ")";
    const std::optional<uint64_t> to = RvaOf(pe, dest);
    if (!to || *to >= image.size()) {
      status = DataLoss(where + ": outside the image");
      break;
    }
    Status block = AplibUnpack(image, &pos, image, static_cast<size_t>(*to), &last,
                               options.max_total_bytes - std::min(work, options.max_total_bytes), &work);
    if (block.ok() && work > options.max_total_bytes) {
      block = ResourceExhausted(
          "with the image and the blocks before, more than the container may still produce (" +
          std::to_string(options.max_total_bytes) + " bytes)");
    }
    if (!block.ok()) {
      status = block.WithContext(where);
      break;
    }
  }
  // The stub has run: the entry point's jump (or the decoder's first instruction) is cleared in
  // the image where the image still holds it, whatever section put it there, so the image is never
  // taken for a packed program again.
  if (uint64_t{pe.entry_rva} + 5 <= image.size() &&
      (image[pe.entry_rva] == '\xe9' || image[pe.entry_rva] == static_cast<char>(kDecoder[0])))
    std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pe.entry_rva), 5, '\0');
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"MEW", std::move(image)});
  return status;
}

}  // namespace accord::scan
