#include "scan/ole1.h"

#include <algorithm>
#include <optional>

namespace accord::scan {
namespace {

// Names in a package are Windows paths; longer ones are not a Packager's.
constexpr size_t kMaxPackageName = 1024;
// An OLE1 class, topic or item name.
constexpr size_t kMaxOle1Name = 4096;

// A NUL-terminated string at `pos` of at most `max` bytes (NUL excluded); moves `pos` past the NUL.
std::optional<ByteView> CString(ByteView d, size_t& pos, size_t max) {
  if (pos > d.size()) return std::nullopt;
  size_t limit = std::min(d.size(), pos + max + 1);
  for (size_t i = pos; i < limit; ++i) {
    if (d[i] == '\0') {
      ByteView s = d.substr(pos, i - pos);
      pos = i + 1;
      return s;
    }
  }
  return std::nullopt;
}

bool Printable(ByteView s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

struct Package {
  ByteView label, source, data;
  bool truncated = false;
};

// The layout in ole1.h; nullopt if it does not parse.
std::optional<Package> ParsePackage(ByteView d) {
  if (d.size() < 6) return std::nullopt;
  uint64_t total = Le32(d, 0);
  if (Le16(d, 4) != 2) return std::nullopt;
  size_t pos = 6;
  Package p;
  auto label = CString(d, pos, kMaxPackageName);
  auto source = label ? CString(d, pos, kMaxPackageName) : std::nullopt;
  if (!source || pos + 8 > d.size()) return std::nullopt;
  uint32_t temp_len = Le32(d, pos + 4);
  pos += 8;
  if (temp_len > kMaxPackageName + 1 || pos + temp_len > d.size()) return std::nullopt;
  pos += temp_len;
  if (pos + 4 > d.size()) return std::nullopt;
  uint64_t size = Le32(d, pos);
  pos += 4;
  p.label = *label;
  p.source = *source;
  p.truncated = size > d.size() - pos;
  p.data = d.substr(pos, static_cast<size_t>(std::min<uint64_t>(size, d.size() - pos)));
  // The size prefix covers at least up to the data (writers add UTF-16 names after it).
  if (total + 4 < pos) return std::nullopt;
  return p;
}

}  // namespace

bool LooksLikeOle10Native(ByteView d) {
  std::optional<Package> p = ParsePackage(d);
  if (!p || p->truncated) return false;
  if (Le32(d, 0) + uint64_t{4} > d.size()) return false;
  return (!p->label.empty() || !p->source.empty()) && Printable(p->label) && Printable(p->source);
}

Status ReadOle10Native(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Package> p = ParsePackage(data);
  if (!p) return DataLoss("OLE1 package header malformed");
  std::string_view name = p->source;
  if (size_t sep = name.find_last_of("\\/:"); sep != std::string_view::npos) name.remove_prefix(sep + 1);
  if (name.empty()) name = p->label;
  ReaderMember m;
  m.name = CleanReaderName(name, "package");
  m.data = Bytes(
      p->data.substr(0, static_cast<size_t>(std::min<uint64_t>(p->data.size(), options.max_member_bytes))));
  sink(std::move(m));
  if (p->truncated) return DataLoss("OLE1 package data cut: the size field says more than the stream holds");
  return Status::Ok();
}

Result<Ole1Object> ParseOle1Object(ByteView d) {
  if (d.size() < 12) return DataLoss("OLE1 object header truncated");
  uint32_t format = Le32(d, 4);
  if (format != 2) return Unimplemented("OLE1 object format " + std::to_string(format) + " (not embedded)");
  size_t pos = 8;
  Ole1Object o;
  for (int i = 0; i < 3; ++i) {  // ClassName, TopicName, ItemName
    if (pos + 4 > d.size()) return DataLoss("OLE1 object header truncated");
    uint32_t len = Le32(d, pos);
    pos += 4;
    if (len > kMaxOle1Name || len > d.size() - pos)
      return DataLoss("OLE1 object name length " + std::to_string(len));
    if (i == 0) {
      ByteView name = d.substr(pos, len);
      if (size_t nul = name.find('\0'); nul != ByteView::npos) name = name.substr(0, nul);
      o.class_name = CleanReaderName(name, "");
    }
    pos += len;
  }
  if (pos + 4 > d.size()) return DataLoss("OLE1 object native data size missing");
  uint64_t size = Le32(d, pos);
  uint64_t avail = d.size() - pos - 4;
  o.truncated = size > avail;
  size_t n = static_cast<size_t>(std::min(size, avail));
  o.sized_native = d.substr(pos, 4 + n);
  o.native = d.substr(pos + 4, n);
  return o;
}

}  // namespace accord::scan
