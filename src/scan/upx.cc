#include "scan/upx.h"

#include <lzma.h>
#include <ucl/ucl.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr size_t kSearch = 64 * 1024;
// Bounds what a pack header can make accord allocate before anything is unpacked; real programs
// pack 2-10 times, and a megabyte of zeros about 1,000 times.
constexpr uint64_t kMaxRatio = 10000;

struct PackHeader {
  uint8_t version = 0, format = 0, method = 0;
  uint32_t u_adler = 0, c_adler = 0, u_len = 0, c_len = 0;
  size_t end = 0;  // where the header ends (32 bytes for versions 10 to 14)
  uint8_t filter = 0, cto = 0;
};

std::optional<PackHeader> PackHeaderAt(ByteView d, size_t at) {
  if (d.size() - at < 32) return std::nullopt;  // versions 10-14: 32 bytes
  PackHeader h{static_cast<uint8_t>(d[at + 4]),
               static_cast<uint8_t>(d[at + 5]),
               static_cast<uint8_t>(d[at + 6]),
               Le32(d, at + 8),
               Le32(d, at + 12),
               Le32(d, at + 16),
               Le32(d, at + 20),
               at + 32,
               static_cast<uint8_t>(d[at + 28]),
               static_cast<uint8_t>(d[at + 29])};
  if (h.version < 10 || h.version > 14 || (h.format != 9 && h.format != 36)) return std::nullopt;
  if (h.u_len == 0 || h.c_len == 0 || h.c_len > d.size() || h.c_len > h.u_len) return std::nullopt;
  return h;
}

uint32_t Adler32(ByteView d) {
  uLong a = adler32(0, nullptr, 0);
  for (size_t off = 0; off < d.size(); off += 1u << 30) {
    size_t n = std::min<size_t>(d.size() - off, 1u << 30);
    a = adler32(a, reinterpret_cast<const Bytef*>(d.data() + off), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(a);
}

// Where the packed data starts, as candidates checked by the header's Adler-32: right after the
// pack header (UPX 3 writes it there, across the start of UPX1's raw data); where the stub's
// first instructions point: `pusha; mov esi, VA` (60 BE imm32: 32-bit programs, after a
// `cmp byte [esp+8], 1; jnz` in DLLs) or `lea rsi, [rip + rel32]` (48 8D 35 rel32: 64-bit, after
// four pushes, and after the register saves of DLLs), the first two found in the stub's first 64
// bytes; and the start of one of the first three sections: at most six, tried in that order, each
// summed once and charged to `budget` (bytes that may still be summed; none is tried past it).
std::optional<size_t> FindPacked(ByteView d, const PeImage& pe, const PackHeader& h, uint64_t& budget) {
  std::vector<size_t> candidates{h.end};
  if (std::optional<size_t> ep = PeOffsetOf(pe, pe.entry_rva, d.size())) {
    ByteView stub = d.substr(*ep, std::min<size_t>(64, d.size() - *ep));
    for (size_t i = 0, found = 0; i + 6 <= stub.size() && found < 2; ++i) {
      std::optional<uint64_t> rva;
      if (stub[i] == '\x60' && stub[i + 1] == '\xbe') {
        uint64_t va = Le32(stub, i + 2);
        if (va >= pe.image_base) rva = va - pe.image_base;
      } else if (i + 7 <= stub.size() && stub.compare(i, 3, "\x48\x8d\x35") == 0) {
        const auto rel = static_cast<int32_t>(Le32(stub, i + 3));
        rva = uint64_t{pe.entry_rva} + i + 7 + static_cast<int64_t>(rel);
      }
      if (!rva || *rva > UINT32_MAX) continue;
      if (std::optional<size_t> at = PeOffsetOf(pe, *rva, d.size())) {
        candidates.push_back(*at);
        ++found;
      }
    }
  }
  for (size_t i = 0; i < pe.sections.size() && i < 3; ++i) candidates.push_back(pe.sections[i].raw_offset);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const size_t at = candidates[i];
    if (std::find(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(i), at) !=
            candidates.begin() + static_cast<std::ptrdiff_t>(i) ||
        at > d.size() || d.size() - at < h.c_len)
      continue;
    if (budget < h.c_len) return std::nullopt;
    budget -= h.c_len;
    if (Adler32(d.substr(at, h.c_len)) == h.c_adler) return at;
  }
  return std::nullopt;
}

struct Packed {
  PackHeader header;
  PeImage pe;
  size_t at = 0;
};

// The plausible pack headers ("UPX!" in the first 64 KiB, at most 8) of a PE.
std::vector<PackHeader> PackHeaders(ByteView d) {
  std::vector<PackHeader> out;
  ByteView head = d.substr(0, std::min(d.size(), kSearch));
  for (size_t at = head.find("UPX!"); at != ByteView::npos && out.size() < 8;
       at = head.find("UPX!", at + 1)) {
    if (std::optional<PackHeader> h = PackHeaderAt(d, at)) out.push_back(*h);
  }
  return out;
}

// Every plausible header is tried, and the first whose packed data is where it says (by its
// Adler-32) is taken: a decoy header does not hide a real one. At most four times the file is
// summed, over all headers and candidates.
std::optional<Packed> FindUpx(ByteView d, const PeImage& pe) {
  uint64_t budget = 4 * uint64_t{d.size()};
  for (const PackHeader& h : PackHeaders(d)) {
    if (std::optional<size_t> packed = FindPacked(d, pe, h, budget)) return Packed{h, pe, *packed};
  }
  return std::nullopt;
}

// UPX's LZMA (method 14): two bytes of properties, ((lc + lp) << 3) | pb and (lp << 4) | lc, then
// LZMA's range-coded stream (LZMA SDK's coder, no end mark) of the image, decoded with liblzma
// into out[0, room); `*produced` is the bytes written. OK once `room` bytes are out.
Status UnpackLzma(ByteView packed, char* out, uint64_t room, uint64_t* produced) {
  *produced = 0;
  if (packed.size() < 3) return DataLoss("UPX: LZMA data of " + std::to_string(packed.size()) + " bytes");
  const auto b0 = static_cast<uint8_t>(packed[0]), b1 = static_cast<uint8_t>(packed[1]);
  const unsigned pb = b0 & 7u, lp = b1 >> 4, lc = b1 & 15u;
  if ((b0 >> 3) != lc + lp || pb > 4 || lp > 4 || lc > 8)
    return DataLoss("UPX: LZMA properties that do not agree (" + std::to_string(b0) + ", " +
                    std::to_string(b1) + ")");
  lzma_options_lzma options{};
  if (lzma_lzma_preset(&options, 0)) return Internal("liblzma: no preset 0");
  options.lc = lc;
  options.lp = lp;
  options.pb = pb;
  // Nothing reaches back further than what is kept.
  options.dict_size =
      static_cast<uint32_t>(std::clamp<uint64_t>(room, LZMA_DICT_SIZE_MIN, uint64_t{3} << 29));
  const lzma_filter filters[] = {{LZMA_FILTER_LZMA1, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_ret init = lzma_raw_decoder(&s, filters); init != LZMA_OK) {
    return init == LZMA_MEM_ERROR ? ResourceExhausted("UPX: liblzma out of memory for a dictionary of " +
                                                      std::to_string(options.dict_size) + " bytes")
                                  : Unimplemented("UPX: LZMA with lc " + std::to_string(lc) + " and lp " +
                                                  std::to_string(lp) + " (liblzma takes lc + lp up to 4)");
  }
  s.next_in = reinterpret_cast<const uint8_t*>(packed.data()) + 2;
  s.avail_in = packed.size() - 2;
  s.next_out = reinterpret_cast<uint8_t*>(out);
  s.avail_out = static_cast<size_t>(room);
  lzma_ret r = LZMA_OK;
  while (r == LZMA_OK && s.avail_out > 0 && s.avail_in > 0) r = lzma_code(&s, LZMA_RUN);
  *produced = s.total_out;
  const bool full = s.avail_out == 0;
  lzma_end(&s);
  if (full) return Status::Ok();
  if (r == LZMA_OK || r == LZMA_STREAM_END)
    return DataLoss(r == LZMA_STREAM_END ? "UPX: the LZMA stream ends early" : "UPX: the LZMA data is cut");
  if (r == LZMA_MEM_ERROR) return ResourceExhausted("UPX: liblzma out of memory");
  return DataLoss("UPX: the LZMA stream is corrupt (liblzma error " + std::to_string(static_cast<int>(r)) +
                  ")");
}

// Undoes UPX's call/jump filter on the image as UPX's own unpacker does (UPX's filter/ct.h,
// cto.h, ctok.h; the filters its win32/win64 PE packer uses). The filtered range is the original
// program's code, BaseOfCode - (the first section's RVA) for SizeOfCode bytes, read from the
// original PE header UPX keeps after the image (at the offset its last u32 gives). Returns false,
// leaving the image as it is, for no filter, one it does not know, a header out of range, or a
// cto filter over more than 16 MiB of code (UPX's own limit: its unpacker leaves such code alone).
bool Unfilter(char* image, size_t size, uint32_t first_rva, uint8_t id, uint8_t cto) {
  if (id == 0 || size < 4) return false;
  const uint32_t extra = Le32(ByteView(image, size), size - 4);
  if (extra >= size || size - extra < 0x30) return false;
  const ByteView oh(image + extra, size - extra);  // "PE\0\0", the file header, the optional header
  if (oh.substr(0, 4) != std::string_view("PE\0\0", 4)) return false;
  const uint32_t code_size = Le32(oh, 0x1c), code_base = Le32(oh, 0x2c);
  if (code_base < first_rva || code_base - first_rva > size || code_size > size - (code_base - first_rva) ||
      code_size < 6)
    return false;
  auto* b = reinterpret_cast<uint8_t*>(image) + (code_base - first_rva);
  const uint32_t add = code_base - first_rva, n = code_size;
  const ByteView code(reinterpret_cast<const char*>(b), n);
  auto le32 = [&](uint32_t at) { return Le32(code, at); };
  auto be32 = [&](uint32_t at) { return __builtin_bswap32(Le32(code, at)); };
  auto put_le32 = [&](uint32_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
  };
  const bool e8 = id == 0x11 || id == 0x13 || id == 0x14 || id == 0x16 || id == 0x24 || id == 0x26 ||
                  id == 0x36 || id == 0x46 || id == 0x49;
  const bool e9 = id == 0x12 || id == 0x13 || id == 0x15 || id == 0x16 || id == 0x25 || id == 0x26 ||
                  id == 0x36 || id == 0x46 || id == 0x49;
  if (!e8 && !e9) return false;
  if (id >= 0x11 && id <= 0x16) {  // the "naive" call trick: every E8/E9's operand, relative to it
    const bool swapped = id >= 0x14;
    for (uint32_t i = 0; i + 5 < n; ++i) {
      if (!((e8 && b[i] == 0xe8) || (e9 && b[i] == 0xe9))) continue;
      const uint32_t v = swapped ? be32(i + 1) : le32(i + 1);
      put_le32(i + 1, v - (i + 1) - add);
      i += 4;
    }
    return true;
  }
  if (n > 0x00ffffffu) return false;
  // The cto tricks: an operand that was a call into the code starts with the byte `cto`.
  const bool jcc = id == 0x49;  // ctok with conditional jumps (0F 80-8F) too
  uint32_t last = 0;
  for (uint32_t i = 0; i + 5 < n; ++i) {
    const bool hit = (e8 && b[i] == 0xe8) || (e9 && b[i] == 0xe9) ||
                     (jcc && last != i && i > 0 && b[i - 1] == 0x0f && b[i] >= 0x80 && b[i] <= 0x8f);
    if (!hit || b[i + 1] != cto) continue;
    put_le32(i + 1, be32(i + 1) - (i + 1) - add - (uint32_t{cto} << 24));
    i += 4;
    last = i + 1;
  }
  return true;
}

bool UclReady() {
  static const bool ready = ucl_init() == UCL_E_OK;
  return ready;
}

}  // namespace

bool LooksLikeUpx(ByteView d) {
  return d.starts_with("MZ") && ParsePe(d) && !PackHeaders(d).empty();
}

Status ReadUpx(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe || PackHeaders(d).empty()) return DataLoss("UPX: no pack header in a PE");
  std::optional<Packed> found = FindUpx(d, *pe);
  if (!found)
    return DataLoss("UPX: the packed data is not where the pack header says (its Adler-32 does not match)");
  const PackHeader* h = &found->header;
  if (h->method != 2 && h->method != 5 && h->method != 8 && h->method != 14)
    return Unimplemented("UPX method " + std::to_string(h->method));
  if (h->method != 14 && !UclReady()) return Internal("UPX: libucl failed to initialise");
  ByteView packed = d.substr(found->at, h->c_len);
  if (uint64_t{h->u_len} > uint64_t{h->c_len} * kMaxRatio) {
    return DataLoss("UPX: the pack header claims " + std::to_string(h->u_len) + " bytes from " +
                    std::to_string(h->c_len) + " (more than " + std::to_string(kMaxRatio) + " times)");
  }
  // libucl stops before a match that does not fit: an image within what the container may still
  // produce is unpacked whole and cut to the member cap; a larger one is unpacked as far as that
  // and reported (a padded image's start is still scanned).
  // liblzma keeps a dictionary as large as the image beside it: an LZMA image may take half.
  const uint64_t budget = h->method == 14 ? options.max_total_bytes / 2 : options.max_total_bytes;
  const uint64_t room = std::min<uint64_t>(h->u_len, budget);
  std::unique_ptr<char[]> buffer(new char[room]);  // not zero-filled: only written pages are touched
  uint64_t out_len = 0;
  Status unpacked;
  if (h->method == 14) {
    unpacked = UnpackLzma(packed, buffer.get(), room, &out_len);
  } else {
    ucl_uint ucl_len = static_cast<ucl_uint>(room);
    auto src = reinterpret_cast<const ucl_bytep>(packed.data());
    auto dst = reinterpret_cast<ucl_bytep>(buffer.get());
    int r = h->method == 2   ? ucl_nrv2b_decompress_safe_le32(src, packed.size(), dst, &ucl_len, nullptr)
            : h->method == 5 ? ucl_nrv2d_decompress_safe_le32(src, packed.size(), dst, &ucl_len, nullptr)
                             : ucl_nrv2e_decompress_safe_le32(src, packed.size(), dst, &ucl_len, nullptr);
    out_len = ucl_len;
    if (r != UCL_E_OK && r != UCL_E_INPUT_NOT_CONSUMED)
      unpacked = DataLoss("UPX: the packed data does not unpack (libucl error " + std::to_string(r) + ")");
  }
  if (unpacked.code() == Code::kUnimplemented) return unpacked;
  ByteView image(buffer.get(), static_cast<size_t>(std::min<uint64_t>(out_len, room)));
  Status status;
  if (room < h->u_len) {
    status = ResourceExhausted(
        "UPX: an unpacked image of " + std::to_string(h->u_len) + " bytes, more than " +
        (h->method == 14
             ? "half of what the container may still produce (an LZMA dictionary as large takes the "
               "other half; "
             : "the container may still produce (") +
        std::to_string(options.max_total_bytes) + "); " + std::to_string(image.size()) +
        " bytes of it unpacked");
  } else if (!unpacked.ok()) {
    status = unpacked;
  } else if (image.size() != h->u_len || Adler32(image) != h->u_adler) {
    status = DataLoss("UPX: unpacked " + std::to_string(image.size()) +
                      " bytes that fail the header's length or checksum");
  }
  // A verified image gets its code's call/jump operands back (before, they are UPX's, not the
  // program's); a damaged or cut one is yielded as it came out.
  if (status.ok() && !found->pe.sections.empty())
    (void)Unfilter(buffer.get(), image.size(), found->pe.sections[0].rva, h->filter, h->cto);
  // The image, then the programs embedded in it, each copied only when it is handed over; no cap
  // of the reader's own (the walker's MaxFiles is reported when it stops them). Declined or not,
  // the answer is the problem met before.
  const size_t n = static_cast<size_t>(std::min<uint64_t>(image.size(), options.max_member_bytes));
  if (!image.empty() && sink(ReaderMember{"UPX", Bytes(ByteView(image).substr(0, n))}))
    SinkEmbeddedPes(image, "UPX", options.max_member_bytes, sink);
  return status;
}

}  // namespace accord::scan
