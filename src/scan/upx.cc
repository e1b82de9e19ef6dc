#include "scan/upx.h"

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
};

std::optional<PackHeader> PackHeaderAt(ByteView d, size_t at) {
  if (d.size() - at < 28) return std::nullopt;
  PackHeader h{static_cast<uint8_t>(d[at + 4]),
               static_cast<uint8_t>(d[at + 5]),
               static_cast<uint8_t>(d[at + 6]),
               Le32(d, at + 8),
               Le32(d, at + 12),
               Le32(d, at + 16),
               Le32(d, at + 20)};
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

// Where the packed data starts: the stub's `60 BE imm32` (pusha; mov esi, VA), or the start of
// one of the first three sections; the first whose Adler-32 is the header's.
std::optional<size_t> FindPacked(ByteView d, const PeImage& pe, const PackHeader& h) {
  std::vector<size_t> candidates;
  if (std::optional<size_t> ep = PeOffsetOf(pe, pe.entry_rva, d.size());
      ep && d.size() - *ep >= 6 && d[*ep] == '\x60' && d[*ep + 1] == '\xbe') {
    uint64_t va = Le32(d, *ep + 2);
    if (va >= pe.image_base) {
      if (std::optional<size_t> at = PeOffsetOf(pe, va - pe.image_base, d.size())) candidates.push_back(*at);
    }
  }
  for (size_t i = 0; i < pe.sections.size() && i < 3; ++i) candidates.push_back(pe.sections[i].raw_offset);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (size_t at : candidates) {
    if (at <= d.size() && d.size() - at >= h.c_len && Adler32(d.substr(at, h.c_len)) == h.c_adler) return at;
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
// Adler-32) is taken: a decoy header does not hide a real one. At most twice the file is summed.
std::optional<Packed> FindUpx(ByteView d, const PeImage& pe) {
  uint64_t summed = 0;
  for (const PackHeader& h : PackHeaders(d)) {
    if (summed > 2 * uint64_t{d.size()}) break;
    summed += h.c_len;
    if (std::optional<size_t> packed = FindPacked(d, pe, h)) return Packed{h, pe, *packed};
  }
  return std::nullopt;
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
  if (h->method != 2 && h->method != 5 && h->method != 8) {
    return Unimplemented("UPX method " + std::to_string(h->method) + (h->method == 14 ? " (LZMA)" : ""));
  }
  if (!UclReady()) return Internal("UPX: libucl failed to initialise");
  ByteView packed = d.substr(found->at, h->c_len);
  if (uint64_t{h->u_len} > uint64_t{h->c_len} * kMaxRatio) {
    return DataLoss("UPX: the pack header claims " + std::to_string(h->u_len) + " bytes from " +
                    std::to_string(h->c_len) + " (more than " + std::to_string(kMaxRatio) + " times)");
  }
  // libucl stops before a match that does not fit: an image within what the container may still
  // produce is unpacked whole and cut to the member cap; a larger one is unpacked as far as that
  // and reported (a padded image's start is still scanned).
  const uint64_t room = std::min<uint64_t>(h->u_len, options.max_total_bytes);
  std::unique_ptr<char[]> buffer(new char[room]);  // not zero-filled: only written pages are touched
  ucl_uint out_len = static_cast<ucl_uint>(room);
  auto src = reinterpret_cast<const ucl_bytep>(packed.data());
  auto dst = reinterpret_cast<ucl_bytep>(buffer.get());
  int r = h->method == 2   ? ucl_nrv2b_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr)
          : h->method == 5 ? ucl_nrv2d_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr)
                           : ucl_nrv2e_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr);
  ByteView image(buffer.get(), static_cast<size_t>(std::min<uint64_t>(out_len, room)));
  Status status;
  if (room < h->u_len) {
    status = ResourceExhausted("UPX: an unpacked image of " + std::to_string(h->u_len) +
                               " bytes, more than the container may still produce (" +
                               std::to_string(options.max_total_bytes) + "); " +
                               std::to_string(image.size()) + " bytes of it unpacked");
  } else if (r != UCL_E_OK && r != UCL_E_INPUT_NOT_CONSUMED) {
    status = DataLoss("UPX: the packed data does not unpack (libucl error " + std::to_string(r) + ")");
  } else if (image.size() != h->u_len || Adler32(image) != h->u_adler) {
    status = DataLoss("UPX: unpacked " + std::to_string(image.size()) +
                      " bytes that fail the header's length or checksum");
  }
  // The image, then the programs embedded in it, each copied only when it is handed over; no cap
  // of the reader's own (the walker's MaxFiles is reported when it stops them). Declined or not,
  // the answer is the problem met before.
  const size_t n = static_cast<size_t>(std::min<uint64_t>(image.size(), options.max_member_bytes));
  if (sink(ReaderMember{"UPX", Bytes(ByteView(image).substr(0, n))}))
    SinkEmbeddedPes(image, "UPX", options.max_member_bytes, sink);
  return status;
}

}  // namespace accord::scan
