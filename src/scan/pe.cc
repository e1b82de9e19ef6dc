#include "scan/pe.h"

#include <algorithm>
#include <string>

#include "scan/reader.h"

namespace accord::scan {

std::optional<PeImage> ParsePe(ByteView d) {
  if (d.size() < 0x40 || !d.starts_with("MZ")) return std::nullopt;
  size_t pe = Le32(d, 0x3c);
  if (pe > d.size() || d.size() - pe < 24 + 2 || d.compare(pe, 4, std::string_view("PE\0\0", 4)) != 0) {
    return std::nullopt;
  }
  size_t count = Le16(d, pe + 6), optional_size = Le16(d, pe + 20), opt = pe + 24;
  size_t table = opt + optional_size;
  if (count == 0 || count > 96 || table > d.size() || (d.size() - table) / 40 < count) return std::nullopt;
  PeImage img;
  uint16_t magic = Le16(d, opt);
  const uint32_t file_alignment = optional_size >= 40 ? Le32(d, opt + 36) : 0;
  img.section_alignment = optional_size >= 40 ? Le32(d, opt + 32) : 0;
  img.file_alignment = file_alignment;
  size_t directories = 0;
  if (magic == 0x10b && optional_size >= 96) {  // PE32
    img.entry_rva = Le32(d, opt + 16);
    img.image_base = Le32(d, opt + 28);
    directories = opt + 96;
  } else if (magic == 0x20b && optional_size >= 112) {  // PE32+
    img.entry_rva = Le32(d, opt + 16);
    img.image_base = Le64(d, opt + 24);
    directories = opt + 112;
  } else {
    return std::nullopt;
  }
  // The certificate table is data directory 4, if the header has that many and room for it.
  uint32_t count_directories = Le32(d, directories - 4);
  if (count_directories > 4 && directories + 5 * 8 <= table) {
    img.certificate_offset = Le32(d, directories + 32);
    img.certificate_size = Le32(d, directories + 36);
  }
  for (size_t i = 0; i < count; ++i) {
    size_t s = table + 40 * i;
    PeSection sec{Le32(d, s + 8), Le32(d, s + 12), Le32(d, s + 16), Le32(d, s + 20),
                  std::string(d.substr(s, 8))};
    sec.mapped_offset = file_alignment >= 0x200 ? sec.raw_offset & ~uint32_t{0x1ff} : sec.raw_offset;
    sec.mapped_size = sec.raw_size == 0 ? 0 : uint64_t{sec.raw_size} + (sec.raw_offset - sec.mapped_offset);
    img.raw_end = std::max<uint64_t>(img.raw_end, uint64_t{sec.raw_offset} + sec.raw_size);
    img.sections.push_back(sec);
  }
  img.raw_end = std::max<uint64_t>(img.raw_end, table + 40 * count);
  return img;
}

size_t PeHeaderSize(ByteView d, const PeImage& pe) {
  size_t headers = static_cast<size_t>(std::min<uint64_t>(d.size(), 0x1000));
  for (const PeSection& s : pe.sections) {
    headers = std::min<size_t>(headers, s.rva);
    if (s.mapped_size > 0 && s.mapped_offset > 0) headers = std::min<size_t>(headers, s.mapped_offset);
  }
  return headers;
}

std::optional<ByteView> PeBytesAt(ByteView d, const PeImage& pe, uint64_t rva, size_t n) {
  if (n == 0) return ByteView();
  const size_t headers = PeHeaderSize(d, pe);
  if (rva < headers && n <= headers - rva) return d.substr(static_cast<size_t>(rva), n);
  for (const PeSection& s : pe.sections) {  // within one section's raw data, as it is mapped
    if (rva < s.rva || rva - s.rva >= s.mapped_size || n > s.mapped_size - (rva - s.rva)) continue;
    const uint64_t at = uint64_t{s.mapped_offset} + (rva - s.rva);
    if (at > d.size() || n > d.size() - at) return std::nullopt;
    return d.substr(static_cast<size_t>(at), n);
  }
  return std::nullopt;
}

Result<Bytes> PeMemoryImage(ByteView d, const PeImage& pe, const ReaderOptions& options,
                            std::string_view who) {
  uint64_t size = std::min<uint64_t>(d.size(), 0x1000);
  for (const PeSection& s : pe.sections)
    size = std::max<uint64_t>(size, uint64_t{s.rva} + std::max<uint64_t>(s.virtual_size, s.mapped_size));
  if (size > options.max_total_bytes)
    return ResourceExhausted(std::string(who) + ": an image of " + std::to_string(size) +
                             " bytes, more than the container may still produce (" +
                             std::to_string(options.max_total_bytes) + ")");
  if (size > kMaxPeImageBytes)
    return DataLoss(std::string(who) + ": an image of " + std::to_string(size) +
                    " bytes (sections over 256 MiB)");
  Bytes image(static_cast<size_t>(size), '\0');
  const size_t headers = PeHeaderSize(d, pe);
  image.replace(0, headers, d.substr(0, headers));
  for (const PeSection& s : pe.sections) {
    if (s.mapped_offset >= d.size()) continue;
    uint64_t n = std::min<uint64_t>({s.mapped_size, d.size() - s.mapped_offset, size - s.rva});
    image.replace(s.rva, static_cast<size_t>(n), d.substr(s.mapped_offset, static_cast<size_t>(n)));
  }
  return image;
}

std::optional<size_t> PeOffsetOf(const PeImage& pe, uint64_t rva, size_t file_size) {
  for (const PeSection& s : pe.sections) {
    if (rva >= s.rva && rva - s.rva < s.mapped_size) {
      uint64_t off = uint64_t{s.mapped_offset} + (rva - s.rva);
      if (off < file_size) return static_cast<size_t>(off);
    }
  }
  return std::nullopt;
}

std::optional<EmbeddedPe> NextEmbeddedPe(ByteView d, size_t from) {
  for (size_t at = d.find("MZ", std::max<size_t>(from, 1)); at != ByteView::npos; at = d.find("MZ", at + 1)) {
    std::optional<PeImage> pe = ParsePe(d.substr(at));
    uint64_t size = pe ? std::min<uint64_t>(pe->raw_end, d.size() - at) : 0;
    if (size >= 64) return EmbeddedPe{at, static_cast<size_t>(size)};
  }
  return std::nullopt;
}

std::vector<EmbeddedPe> FindEmbeddedPes(ByteView d, size_t max) {
  std::vector<EmbeddedPe> out;
  for (auto e = NextEmbeddedPe(d, 1); e && out.size() < max; e = NextEmbeddedPe(d, e->offset + e->size))
    out.push_back(*e);  // the next one after it: none overlap
  return out;
}

bool SinkEmbeddedPes(ByteView d, std::string_view prefix, uint64_t max_member_bytes, const MemberSink& sink) {
  for (auto e = NextEmbeddedPe(d, 1); e; e = NextEmbeddedPe(d, e->offset + e->size)) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(e->size, max_member_bytes));
    if (!sink(ReaderMember{std::string(prefix) + "@" + std::to_string(e->offset),
                           Bytes(d.substr(e->offset, n))}))
      return false;
  }
  return true;
}

bool HasEmbeddedPe(ByteView d) {
  return d.starts_with("MZ") && ParsePe(d) && NextEmbeddedPe(d, 1).has_value();
}

Status ReadEmbeddedPes(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  if (!d.starts_with("MZ") || !ParsePe(d)) return DataLoss("not a PE");
  SinkEmbeddedPes(d, "PE", options.max_member_bytes, sink);
  return Status::Ok();
}

}  // namespace accord::scan
