#include "scan/upx.h"

#include <ucl/ucl.h>
#include <zlib.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr size_t kSearch = 64 * 1024;
constexpr size_t kMaxEmbedded = 16;
// Bounds what a pack header can make accord allocate before anything is unpacked; real programs
// pack 2-10 times, and a megabyte of zeros about 1,000 times.
constexpr uint64_t kMaxRatio = 10000;
constexpr uint64_t kMaxImage = uint64_t{256} << 20;

struct PackHeader {
  uint8_t version = 0, format = 0, method = 0;
  uint32_t u_adler = 0, c_adler = 0, u_len = 0, c_len = 0;
};

std::optional<PackHeader> FindPackHeader(ByteView d) {
  ByteView head = d.substr(0, std::min(d.size(), kSearch));
  for (size_t at = head.find("UPX!"); at != ByteView::npos; at = head.find("UPX!", at + 1)) {
    if (d.size() - at < 28) break;
    PackHeader h{static_cast<uint8_t>(d[at + 4]),
                 static_cast<uint8_t>(d[at + 5]),
                 static_cast<uint8_t>(d[at + 6]),
                 Le32(d, at + 8),
                 Le32(d, at + 12),
                 Le32(d, at + 16),
                 Le32(d, at + 20)};
    if (h.version < 10 || h.version > 14 || (h.format != 9 && h.format != 36)) continue;
    if (h.u_len == 0 || h.c_len == 0 || h.c_len > d.size() || h.c_len > h.u_len) continue;
    return h;
  }
  return std::nullopt;
}

uint32_t Adler32(ByteView d) {
  uLong a = adler32(0, nullptr, 0);
  for (size_t off = 0; off < d.size(); off += 1u << 30) {
    size_t n = std::min<size_t>(d.size() - off, 1u << 30);
    a = adler32(a, reinterpret_cast<const Bytef*>(d.data() + off), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(a);
}

// Where the packed data starts: the stub's `60 BE imm32` (pusha; mov esi, VA), or a section's
// raw start; the first whose Adler-32 is the header's.
std::optional<size_t> FindPacked(ByteView d, const PeImage& pe, const PackHeader& h) {
  std::vector<size_t> candidates;
  if (std::optional<size_t> ep = PeOffsetOf(pe, pe.entry_rva, d.size());
      ep && d.size() - *ep >= 6 && d[*ep] == '\x60' && d[*ep + 1] == '\xbe') {
    uint64_t va = Le32(d, *ep + 2);
    if (va >= pe.image_base) {
      if (std::optional<size_t> at = PeOffsetOf(pe, va - pe.image_base, d.size())) candidates.push_back(*at);
    }
  }
  for (const PeSection& s : pe.sections) candidates.push_back(s.raw_offset);
  for (size_t at : candidates) {
    if (at <= d.size() && d.size() - at >= h.c_len && Adler32(d.substr(at, h.c_len)) == h.c_adler) return at;
  }
  return std::nullopt;
}

bool UclReady() {
  static const bool ready = ucl_init() == UCL_E_OK;
  return ready;
}

}  // namespace

bool LooksLikeUpx(ByteView d) {
  return d.starts_with("MZ") && FindPackHeader(d) && ParsePe(d);
}

Status ReadUpx(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<PackHeader> h = FindPackHeader(d);
  std::optional<PeImage> pe = ParsePe(d);
  if (!h || !pe) return DataLoss("UPX: no pack header in a PE");
  if (h->method != 2 && h->method != 5 && h->method != 8) {
    return Unimplemented("UPX method " + std::to_string(h->method) + (h->method == 14 ? " (LZMA)" : ""));
  }
  std::optional<size_t> at = FindPacked(d, *pe, *h);
  if (!at) return DataLoss("UPX: the packed data is not where the pack header and stub say (checksum)");
  if (!UclReady()) return Internal("UPX: libucl failed to initialise");
  ByteView packed = d.substr(*at, h->c_len);
  if (uint64_t{h->u_len} > uint64_t{h->c_len} * kMaxRatio) {
    return DataLoss("UPX: the pack header claims " + std::to_string(h->u_len) + " bytes from " +
                    std::to_string(h->c_len) + " (more than " + std::to_string(kMaxRatio) + " times)");
  }
  // libucl stops before a match that does not fit, so an image is unpacked whole and then cut to
  // the cap; past kMaxImage it is not unpacked at all.
  if (h->u_len > options.max_member_bytes && h->u_len > kMaxImage) {
    return ResourceExhausted("UPX: an unpacked image of " + std::to_string(h->u_len) +
                             " bytes is more than " + std::to_string(kMaxImage) +
                             " (and than the member cap)");
  }
  Bytes image(h->u_len, '\0');
  ucl_uint out_len = static_cast<ucl_uint>(image.size());
  auto src = reinterpret_cast<const ucl_bytep>(packed.data());
  auto dst = reinterpret_cast<ucl_bytep>(image.data());
  int r = h->method == 2   ? ucl_nrv2b_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr)
          : h->method == 5 ? ucl_nrv2d_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr)
                           : ucl_nrv2e_decompress_safe_le32(src, packed.size(), dst, &out_len, nullptr);
  image.resize(std::min<size_t>(out_len, image.size()));
  Status status;
  if (r != UCL_E_OK && r != UCL_E_INPUT_NOT_CONSUMED) {
    status = DataLoss("UPX: the packed data does not unpack (libucl error " + std::to_string(r) + ")");
  } else if (image.size() != h->u_len || Adler32(image) != h->u_adler) {
    status = DataLoss("UPX: unpacked " + std::to_string(image.size()) +
                      " bytes that fail the header's length or checksum");
  }
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  std::vector<EmbeddedPe> embedded = FindEmbeddedPes(image, kMaxEmbedded);
  std::vector<ReaderMember> members;
  for (const EmbeddedPe& e : embedded) {
    members.push_back({"UPX@" + std::to_string(e.offset), Bytes(ByteView(image).substr(e.offset, e.size))});
  }
  if (!sink(ReaderMember{"UPX", std::move(image)})) return Status::Ok();
  for (ReaderMember& m : members) {
    if (!sink(std::move(m))) return Status::Ok();
  }
  return status;
}

}  // namespace accord::scan
