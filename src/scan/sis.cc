#include "scan/sis.h"

#include <algorithm>
#include <optional>
#include <string>

#include "scan/inflate.h"

namespace accord::scan {
namespace {

constexpr uint32_t kUid2Release3 = 0x1000006D;
constexpr uint32_t kUid2Release6 = 0x10003A12;
constexpr uint32_t kUid3 = 0x10000419;
constexpr uint16_t kOptionUnicode = 0x1;
constexpr uint16_t kOptionNoCompress = 0x8;
constexpr size_t kHeaderSize = 68;
// A header declaring more languages than this is not an installer's (there are about a hundred).
constexpr uint32_t kMaxLanguages = 256;

// A slice [ptr, ptr + len) of the input, if it lies inside.
std::optional<ByteView> Slice(ByteView d, uint32_t ptr, uint32_t len) {
  if (ptr > d.size() || len > d.size() - ptr) return std::nullopt;
  return d.substr(ptr, len);
}

// The last component of a destination path, UTF-16LE (ASCII kept, the rest '_') or 8-bit.
std::string FileName(ByteView path, bool unicode) {
  std::string out;
  if (unicode) {
    for (size_t i = 0; i + 1 < path.size(); i += 2) {
      uint16_t u = Le16(path, i);
      out.push_back(u < 0x80 ? static_cast<char>(u) : '_');
    }
  } else {
    out = std::string(path);
  }
  if (size_t sep = out.find_last_of("\\/:"); sep != std::string::npos) out.erase(0, sep + 1);
  return out;
}

}  // namespace

bool LooksLikeSis(ByteView d) {
  return d.size() >= 12 && (Le32(d, 4) == kUid2Release3 || Le32(d, 4) == kUid2Release6) &&
         Le32(d, 8) == kUid3;
}

Status ReadSis(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeSis(d)) return DataLoss("not a SIS file");
  if (d.size() < kHeaderSize) return DataLoss("SIS header truncated");
  const bool release6 = Le32(d, 4) == kUid2Release6;
  const uint32_t languages = Le16(d, 18);
  const uint32_t records = Le16(d, 20);
  const uint16_t flags = Le16(d, 36);
  if (languages == 0 || languages > kMaxLanguages) {
    return DataLoss("SIS header declares " + std::to_string(languages) + " languages");
  }
  uint64_t files = 0;
  Status status;  // damage that does not stop the reading
  size_t pos = Le32(d, 52);
  auto u32 = [&](uint32_t& v) {
    if (pos > d.size() || d.size() - pos < 4) return false;
    v = Le32(d, pos);
    pos += 4;
    return true;
  };
  for (uint32_t r = 0; r < records; ++r) {
    const std::string where = "SIS record " + std::to_string(r + 1) + " at " + std::to_string(pos);
    uint32_t type = 0;
    if (!u32(type)) return DataLoss(where + ": past the end of the file");
    if (type == 5 || type == 6) continue;  // else, end-if
    if (type == 3 || type == 4) {          // if, else-if: a condition expression
      uint32_t size = 0;
      if (!u32(size) || size > d.size() - pos)
        return DataLoss(where + ": condition past the end of the file");
      pos += size;
      continue;
    }
    if (type == 2) {  // options: names per language, then 16 bytes of selection flags
      uint32_t count = 0;
      if (!u32(count) || count > (d.size() - pos) / 8 / languages) {
        return DataLoss(where + ": options past the end of the file");
      }
      pos += size_t{count} * languages * 8;
      if (d.size() - pos < 16) return DataLoss(where + ": options past the end of the file");
      pos += 16;
      continue;
    }
    if (type != 0 && type != 1) return DataLoss(where + ": unknown record type " + std::to_string(type));
    const uint32_t copies = type == 0 ? 1 : languages;
    uint32_t file_type = 0, details = 0, src_len = 0, src_ptr = 0, dst_len = 0, dst_ptr = 0;
    if (!u32(file_type) || !u32(details) || !u32(src_len) || !u32(src_ptr) || !u32(dst_len) ||
        !u32(dst_ptr)) {
      return DataLoss(where + ": file record past the end of the file");
    }
    if (d.size() - std::min(pos, d.size()) < size_t{copies} * 8) {
      return DataLoss(where + ": file record past the end of the file");
    }
    const size_t lengths = pos, pointers = pos + 4 * size_t{copies};
    pos += 8 * size_t{copies};
    if (release6) {  // original lengths, then the MIME type's length and pointer
      if (d.size() - pos < 4 * size_t{copies} + 8)
        return DataLoss(where + ": file record past the end of the file");
      pos += 4 * size_t{copies} + 8;
    }
    std::optional<ByteView> dst = Slice(d, dst_ptr, dst_len);
    std::string base = dst ? FileName(*dst, (flags & kOptionUnicode) != 0) : "";
    if (!dst && status.ok()) status = DataLoss(where + ": file name past the end of the file");
    for (uint32_t c = 0; c < copies; ++c) {
      uint32_t len = Le32(d, lengths + 4 * c), ptr = Le32(d, pointers + 4 * c);
      if (len == 0) continue;  // a file the installer creates, not carries
      ++files;
      std::optional<ByteView> stored = Slice(d, ptr, len);
      if (!stored) return DataLoss(where + ": file data past the end of the file");
      ReaderMember m;
      m.name = CleanReaderName(base, "file" + std::to_string(files));
      Status damage;
      if ((flags & kOptionNoCompress) != 0) {
        m.data = Bytes(stored->substr(0, std::min<uint64_t>(stored->size(), options.max_member_bytes)));
      } else {
        damage = InflateCapped(*stored, options.max_member_bytes, m.data);
      }
      if (!m.data.empty() && !sink(std::move(m))) return Status::Ok();
      if (!damage.ok()) return DataLoss(where + ": " + damage.message());
    }
  }
  return status;
}

}  // namespace accord::scan
