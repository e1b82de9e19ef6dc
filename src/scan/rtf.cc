#include "scan/rtf.h"

#include <algorithm>
#include <string>

#include "scan/ole1.h"

namespace accord::scan {
namespace {

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool LooksLikeRtf(ByteView d) {
  return d.starts_with("{\\rt");
}

Bytes DecodeRtfObjdata(ByteView t, size_t& pos) {
  Bytes out;
  int high = -1;  // the first digit of a byte, waiting for its second
  int depth = 0;  // groups opened inside \objdata
  while (pos < t.size()) {
    char c = t[pos];
    if (c == '}') {
      ++pos;
      if (depth-- == 0) break;
      continue;
    }
    if (c == '{') {
      ++depth;
      ++pos;
      continue;
    }
    if (c == '\\') {
      // A control word (letters, an optional signed number, one optional space) or symbol.
      ++pos;
      size_t word = pos;
      while (pos < t.size() && IsAlpha(t[pos])) ++pos;
      if (pos == word) {
        if (pos < t.size()) ++pos;  // a control symbol: \' \* \\ ...
        continue;
      }
      if (pos < t.size() && t[pos] == '-') ++pos;
      while (pos < t.size() && IsDigit(t[pos])) ++pos;
      if (pos < t.size() && t[pos] == ' ') ++pos;
      continue;
    }
    ++pos;
    int v = HexDigitValue(c);
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>((high << 4) | v));
      high = -1;
    }
  }
  return out;
}

Status ReadRtf(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  static constexpr ByteView kObjdata = "\\objdata";
  Status status;
  uint64_t n = 0;
  size_t pos = 0;
  while ((pos = data.find(kObjdata, pos)) != ByteView::npos) {
    pos += kObjdata.size();
    if (pos < data.size() && IsAlpha(data[pos])) continue;  // another control word, "\objdatax"
    Bytes decoded = DecodeRtfObjdata(data, pos);
    if (decoded.empty()) continue;
    ReaderMember m;
    m.name = "object" + std::to_string(++n);
    Result<Ole1Object> object = ParseOle1Object(decoded);
    if (object.ok()) {
      ByteView native = object->class_name == "Package" ? object->sized_native : object->native;
      m.data = Bytes(native);
      if (object->truncated && status.ok()) {
        status = DataLoss(m.name + ": OLE1 native data cut, the object says more than \\objdata holds");
      }
    } else {
      m.data = std::move(decoded);
    }
    if (m.data.size() > options.max_member_bytes) m.data.resize(options.max_member_bytes);
    if (!sink(std::move(m))) return Status::Ok();
  }
  return status;
}

}  // namespace accord::scan
