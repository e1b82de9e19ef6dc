#include "scan/upack.h"

#include <lzma.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "scan/pe.h"
#include "scan/stub_code.h"

namespace accord::scan {
namespace {

// The stub's pieces as clam-upack.exe has them; kI marks an immediate's bytes.
constexpr int kI = kAnyByte;
constexpr int kEntry[] = {0xbe, kI, kI, kI, kI, 0xad, 0x50, 0xff, 0x76, 0x34, 0xeb, kI};
constexpr int kSecond[] = {0xff, 0x76, 0x38, 0xad, 0x50, 0x8b, 0x3e, 0xbe, kI,   kI,   kI,   kI,   0x6a, kI,
                           0x59, 0xf3, 0xa5, 0xff, 0x76, 0x04, 0x83, 0xc8, 0xff, 0x8b, 0xdf, 0xab, 0xeb, kI};
constexpr int kThird[] = {0x40, 0xab, 0x40, 0xb1, 0x04, 0xf3, 0xab, 0xc1, 0xe0, 0x0a, 0xb5, kI,
                          0xf3, 0xab, 0x8b, 0x7e, 0x0c, 0x57, 0x51, 0xe9, kI,   kI,   kI,   kI};
constexpr size_t kSrcAt = 8, kCountAt = 13, kProbabilitiesAt = 11, kDecoderJumpAt = 20;
// The decoder: its routines before DEC, its main loop after, up to where the tail is copied; the
// literal context's shift and the jump into the tail aside.
constexpr uint64_t kBefore = 0x7b, kAfter = 0x115, kShiftAt = 0x1a, kTailJumpAt = 0x54;
constexpr std::string_view kDecoderSha256 =
    "510c2bd0b7c0a7fabf039d48e9e0298e504f6391f523e60135e8d593d33ae0eb";
// Routines whose addresses the parameters hold, from DEC: the bit decoder ([P]), the range's
// normalisation ([P + 0x10]), two bit-tree entries ([P + 0x4c], [P + 0x50]) and the length
// decoder ([P + 0x54]).
constexpr int64_t kBitDecoder = -0x48, kNormalise = -0x13, kTree = -0x7b, kTreeAt1 = -0x78, kLength = -0x69;
// The tail: N dwords; where the decoder jumps into it, its jump back to DEC, the fix-ups' marker,
// and its data (the last dword: the packed data's address).
constexpr uint32_t kTailDwords = 0x27;
constexpr uint64_t kTail = 4 * kTailDwords, kTailEntry = 0x35, kLoopJumpAt = 0x3b, kMarkerAt = 0x50,
                   kTailDataAt = 0x88;
constexpr std::string_view kTailSha256 = "ebb13ebbba30bd469e754be64569be20838e542b15d274e50312ee799f45f4a6";
constexpr uint64_t kParams = 0x58;
// The coder's state at DST + kTail: range, low, four distances, then COUNT * 0x100 probabilities;
// the literal coders (0x300 each) from + 0x1008.
constexpr uint64_t kStateHead = 0x18, kLiterals = 0x1008, kLiteralCoder = 0xc00;

bool Overlap(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end) {
  return a < b_end && b < a_end;
}

constexpr uint64_t kMaxOverrun = 273;  // a last match may write this far past the output's end

// The dictionary liblzma needs to reach back to the image's start from anywhere in the output.
uint64_t DictionarySize(uint64_t end) {
  return std::max<uint64_t>(LZMA_DICT_SIZE_MIN, std::min<uint64_t>(end, 3u << 29));
}

// image[start, end) decoded from raw LZMA1 (lc, lp 0, pb 0) at image[packed, limit) (a zero byte
// fed before it, where LZMA streams have one), the image before `start` as the preset dictionary.
// The input stops at `limit`, before the output or the coder's state, so the two never share
// bytes. `*consumed` is set to the packed bytes read, `*produced` to the bytes out.
Status DecodeLzma(Bytes& image, uint64_t packed, uint64_t limit, uint64_t start, uint64_t end, unsigned lc,
                  uint64_t* consumed, uint64_t* produced) {
  lzma_options_lzma options{};
  if (lzma_lzma_preset(&options, 0)) return Internal("liblzma: no preset 0");
  options.lc = lc;
  options.lp = 0;
  options.pb = 0;
  options.dict_size = static_cast<uint32_t>(DictionarySize(end));
  const uint64_t preset = std::min<uint64_t>(start, options.dict_size);
  options.preset_dict = reinterpret_cast<const uint8_t*>(image.data()) + (start - preset);
  options.preset_dict_size = static_cast<uint32_t>(preset);
  const lzma_filter filters[] = {{LZMA_FILTER_LZMA1, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_ret init = lzma_raw_decoder(&s, filters); init != LZMA_OK) {
    return init == LZMA_MEM_ERROR ? ResourceExhausted("liblzma: out of memory for its dictionary")
                                  : Unimplemented("liblzma refuses the stream's parameters");
  }
  const uint8_t zero = 0;
  s.next_in = &zero;
  s.avail_in = 1;
  s.next_out = reinterpret_cast<uint8_t*>(image.data()) + start;
  s.avail_out = end - start;
  lzma_ret r = lzma_code(&s, LZMA_RUN);
  if (r == LZMA_OK && s.avail_in == 0) {
    s.next_in = reinterpret_cast<const uint8_t*>(image.data()) + packed;
    s.avail_in = limit - packed;
    while (r == LZMA_OK && s.avail_out > 0 && s.avail_in > 0) r = lzma_code(&s, LZMA_RUN);
  }
  *consumed = s.total_in > 0 ? s.total_in - 1 : 0;
  *produced = s.total_out;
  const bool full = s.avail_out == 0;
  lzma_end(&s);
  if (full) return Status::Ok();
  if (r == LZMA_OK || r == LZMA_STREAM_END) {
    return DataLoss(r == LZMA_STREAM_END    ? "its LZMA stream ends early"
                    : limit == image.size() ? "its packed data runs past the image"
                                            : "its packed data runs into its output or coder's state");
  }
  if (r == LZMA_MEM_ERROR) return ResourceExhausted("liblzma: out of memory");
  return DataLoss("its LZMA stream is corrupt (liblzma: error " + std::to_string(static_cast<int>(r)) + ")");
}

}  // namespace

bool LooksLikeUpack(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe) return false;
  std::optional<ByteView> entry = PeBytesAt(d, *pe, pe->entry_rva, std::size(kEntry));
  return entry && MatchesCode(*entry, kEntry);
}

Status ReadUpack(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeUpack(d)) return DataLoss("Upack: no Upack stub at the entry point");
  const PeImage pe = *ParsePe(d);
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(d, pe, options, "Upack"));
  const uint64_t size = image.size(), base = pe.image_base;
  auto other = [](const std::string& what) {
    return Unimplemented("Upack: a stub other than Upack 0.39's (" + what + ")");
  };
  auto at = [&](uint64_t rva, uint64_t n) -> std::optional<ByteView> {
    if (rva > size || n > size - rva) return std::nullopt;
    return ByteView(image).substr(static_cast<size_t>(rva), static_cast<size_t>(n));
  };
  auto rva_of = [&](uint64_t va) -> std::optional<uint64_t> {
    if (va < base || va - base >= size) return std::nullopt;
    return va - base;
  };
  auto jump = [](uint64_t next, int64_t rel) {
    return static_cast<uint64_t>(static_cast<int64_t>(next) + rel);
  };
  // The pieces, followed through their jumps.
  const uint64_t entry = pe.entry_rva;
  std::optional<ByteView> first = at(entry, std::size(kEntry));
  if (!first || !MatchesCode(*first, kEntry)) return other("its first instructions");
  const std::optional<uint64_t> p0 = rva_of(Le32(*first, 1));
  const uint64_t second_at = jump(entry + std::size(kEntry), static_cast<int8_t>((*first)[11]));
  std::optional<ByteView> second = at(second_at, std::size(kSecond));
  if (!second || !MatchesCode(*second, kSecond)) return other("its second piece");
  const std::optional<uint64_t> src = rva_of(Le32(*second, kSrcAt));
  if (static_cast<uint8_t>((*second)[kCountAt]) != kTailDwords) return other("its tail's length");
  const uint64_t third_at =
      jump(second_at + std::size(kSecond), static_cast<int8_t>((*second)[std::size(kSecond) - 1]));
  std::optional<ByteView> third = at(third_at, std::size(kThird));
  if (!third || !MatchesCode(*third, kThird)) return other("its third piece");
  const uint64_t count = static_cast<uint8_t>((*third)[kProbabilitiesAt]);
  const uint64_t dec = jump(third_at + std::size(kThird), static_cast<int32_t>(Le32(*third, kDecoderJumpAt)));
  std::optional<ByteView> decoder = dec >= kBefore ? at(dec - kBefore, kBefore + kAfter) : std::nullopt;
  if (!decoder) return other("its decoder outside the image");
  Bytes masked(*decoder);
  std::fill_n(masked.begin() + kBefore + kTailJumpAt, 4, '\0');
  masked[kBefore + kShiftAt] = '\0';
  if (!HasSha256(masked, kDecoderSha256)) return other("its decoder");
  const unsigned shift = static_cast<uint8_t>((*decoder)[kBefore + kShiftAt]);
  const uint64_t dst = dec + kAfter;  // the tail goes right after the decoder
  if (!p0 || !at(*p0 + 8, 4) || rva_of(Le32(image, static_cast<size_t>(*p0 + 8))) != dst)
    return other("its tail's destination");
  if (jump(dec + kTailJumpAt + 4, static_cast<int32_t>(Le32(*decoder, kBefore + kTailJumpAt))) !=
      dst + kTailEntry)
    return other("its decoder's jump into the tail");
  std::optional<ByteView> tail = src ? at(*src, kTail + kParams) : std::nullopt;
  if (!tail) return other("its tail outside the image");
  Bytes tail_masked(tail->substr(0, kTail));
  std::fill_n(tail_masked.begin() + kLoopJumpAt, 4, '\0');
  tail_masked[kMarkerAt] = '\0';
  std::fill(tail_masked.begin() + kTailDataAt, tail_masked.end(), '\0');
  if (!HasSha256(tail_masked, kTailSha256) ||
      jump(dst + kLoopJumpAt + 4, static_cast<int32_t>(Le32(*tail, kLoopJumpAt))) != dec)
    return other("its tail");
  const uint8_t marker = static_cast<uint8_t>((*tail)[kMarkerAt]);
  // The parameters after the tail's source, the routines where the decoder has them.
  const ByteView params = tail->substr(kTail);
  for (auto [off, routine] :
       {std::pair{0, kBitDecoder}, {0x10, kNormalise}, {0x4c, kTree}, {0x50, kTreeAt1}, {0x54, kLength}}) {
    if (rva_of(Le32(params, off)) != jump(dec, routine)) return other("its routines' addresses");
  }
  if (shift < 2 || shift > 8) return other("a literal context shift of " + std::to_string(shift));
  const unsigned lc = 8 - shift;
  if (lc > 4)
    return Unimplemented("Upack: literal contexts of " + std::to_string(lc) +
                         " bits, which liblzma does not take");
  const uint64_t state = dst + kTail, state_end = state + kStateHead + count * 0x400;
  if (kLiterals + (kLiteralCoder << lc) > kStateHead + count * 0x400)
    return other("its coder's state too small for its literal coders");
  // The parameters are read before the copy, as they are after it: the copy may not reach them.
  if (Overlap(dst, dst + kTail, *src, *src + kTail + kParams))
    return other("its tail copied over its parameters");

  // The stub runs: the tail is copied (rep movsd, forward), then the stream is decoded.
  const std::string where = "Upack: ";
  const uint32_t fixups = Le32(params, 4), k = Le32(params, 0x38);
  const std::optional<uint64_t> start = rva_of(Le32(params, 0xc));
  const uint64_t end_va = Le32(params, 0x34);
  auto yield = [&](Status status) {
    // Declined or not, the answer is the problem met before the member.
    sink(ReaderMember{"Upack", image.size() > options.max_member_bytes
                                   ? image.substr(0, static_cast<size_t>(options.max_member_bytes))
                                   : std::move(image)});
    return status;
  };
  if (dst + kTail > size || state_end > size)
    return yield(DataLoss(where + "its tail or its coder's state lies outside the image"));
  for (uint64_t i = 0; i < kTail; i += 4) {
    char word[4];
    image.copy(word, 4, static_cast<size_t>(*src + i));
    image.replace(static_cast<size_t>(dst + i), 4, word, 4);
  }
  if (!start || end_va <= base + *start || end_va - base > size)
    return yield(DataLoss(where + "its output (" + HexNumber(Le32(params, 0xc)) + " to " +
                          HexNumber(Le32(params, 0x34)) + ") lies outside the image"));
  const std::optional<uint64_t> packed = rva_of(Le32(image, static_cast<size_t>(state - 4)));
  if (!packed) return yield(DataLoss(where + "its packed data lies outside the image"));
  // What runs while the stream is decoded (the decoder, the tail, the parameters) and the coder's
  // state (which the stub changes as it decodes, its input pointer in the tail's last dword) must
  // stay apart from the output, a last match past its end included (the stub would overwrite
  // itself), and the state may not lie before the output (its first literal and matches read the
  // image there, which the stub's state would have changed).
  const uint64_t out_begin = *start, out_end = end_va - base;
  if (Overlap(out_begin, out_end + kMaxOverrun, dec - kBefore, dst + kTail) ||
      Overlap(out_begin, out_end + kMaxOverrun, state, state_end) ||
      Overlap(out_begin, out_end + kMaxOverrun, *src + kTail, *src + kTail + kParams) ||
      Overlap(state, state_end, *src, *src + kTail + kParams) || state < out_begin)
    return yield(DataLoss(where + "its output or coder's state lies over the stub"));
  // The image, and liblzma's dictionary, which reaches back to the image's start.
  if (size + DictionarySize(out_end) > options.max_total_bytes)
    return yield(ResourceExhausted(where +
                                   "the image and its output, more than the container may still produce (" +
                                   std::to_string(options.max_total_bytes) + " bytes)"));
  // The packed data must lie apart from the output and the coder's state (with its input pointer,
  // the tail's last dword), which the stub writes as it reads: it is read up to the first of them.
  const uint64_t pointer = dst + kTail - 4;
  if ((*packed >= out_begin && *packed < out_end) || (*packed >= pointer && *packed < state_end))
    return yield(DataLoss(where + "its packed data lies under its output or coder's state"));
  uint64_t limit = size;
  if (out_begin > *packed) limit = std::min(limit, out_begin);
  if (pointer > *packed) limit = std::min(limit, pointer);
  uint64_t consumed = 0, produced = 0;
  Status status = DecodeLzma(image, *packed, limit, out_begin, out_end, lc, &consumed, &produced);
  if (!status.ok()) return yield(status.WithContext("Upack"));
  // The fix-ups, from the output's start, as many as the stub counts, within the output (past it
  // the stub would walk over its own state and code).
  uint64_t i = out_begin;
  for (uint32_t left = fixups; left > 0; ++i) {
    if (i + 5 > out_end) return yield(DataLoss(where + "its fix-ups run past its output"));
    const uint8_t op = static_cast<uint8_t>(image[i]);
    if ((op != 0xe8 && op != 0xe9) || static_cast<uint8_t>(image[i + 1]) != marker) continue;
    const uint32_t operand = Le32(image, static_cast<size_t>(i + 1));
    const uint32_t target = (operand >> 24) | ((operand >> 8) & 0xff00) | ((operand << 8) & 0xff0000);
    const uint32_t v = target + k - static_cast<uint32_t>(base + i + 1);
    for (int j = 0; j < 4; ++j) image[i + 1 + j] = static_cast<char>((v >> (8 * j)) & 0xff);
    i += 4;
    --left;
  }
  // The stub's first instructions are cleared wherever the image still holds them: at every place
  // that maps their bytes in the file (the headers and each section over them; Upack maps its
  // headers more than once), so neither the image nor a program carved from it is taken for a
  // packed program again.
  if (std::optional<size_t> off = PeOffsetOf(pe, entry, d.size())) {
    std::vector<uint64_t> places = {entry};
    if (*off < PeHeaderSize(d, pe)) places.push_back(*off);
    for (const PeSection& sec : pe.sections) {
      if (*off >= sec.mapped_offset && *off - sec.mapped_offset < sec.mapped_size)
        places.push_back(uint64_t{sec.rva} + (*off - sec.mapped_offset));
    }
    for (uint64_t place : places) {
      if (place < out_end && place + std::size(kEntry) > out_begin) continue;  // the program's own bytes now
      std::optional<ByteView> still = at(place, std::size(kEntry));
      if (still && MatchesCode(*still, kEntry))
        std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(place), std::size(kEntry), '\0');
    }
  }
  return yield(Status::Ok());
}

}  // namespace accord::scan
