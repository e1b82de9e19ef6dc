#include "scan/pdf.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "scan/inflate.h"

namespace accord::scan {
namespace {

// ISO 32000-1 7.2.2: white-space characters.
bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
// 7.2.2: delimiters end a name.
bool IsDelimiter(char c) {
  return IsSpace(c) || c == '/' || c == '[' || c == ']' || c == '<' || c == '>' || c == '(' || c == ')' ||
         c == '{' || c == '}' || c == '%';
}

// A run of at most 18 digits (no overflow) at `pos`.
std::optional<uint64_t> Number(ByteView d, size_t& pos) {
  size_t start = pos;
  uint64_t v = 0;
  while (pos < d.size() && IsDigit(d[pos]) && pos - start < 18)
    v = v * 10 + static_cast<uint64_t>(d[pos++] - '0');
  if (pos == start) return std::nullopt;
  return v;
}

void SkipSpace(ByteView d, size_t& pos) {
  while (pos < d.size() && IsSpace(d[pos])) ++pos;
}

// The object number of the `N G obj` header that ends at `obj` (the offset of "obj").
std::optional<uint64_t> ObjectNumberBefore(ByteView d, size_t obj) {
  size_t p = obj;
  auto back_space = [&]() {
    size_t n = 0;
    while (p > 0 && IsSpace(d[p - 1])) --p, ++n;
    return n;
  };
  auto back_digits = [&]() {
    size_t end = p;
    while (p > 0 && IsDigit(d[p - 1]) && end - p < 18) --p;
    return end - p;
  };
  if (back_space() == 0 || back_digits() == 0 || back_space() == 0) return std::nullopt;
  size_t end = p;
  if (back_digits() == 0) return std::nullopt;
  size_t start = p;
  return Number(d.substr(0, end), start);
}

// The value of `/Key` in a dictionary's text: the offset just after the key, or npos.
size_t FindKey(ByteView dict, ByteView key) {
  for (size_t at = dict.find(key); at != ByteView::npos; at = dict.find(key, at + 1)) {
    size_t after = at + key.size();
    if (after >= dict.size() || IsDelimiter(dict[after])) return after;
  }
  return ByteView::npos;
}

// The names of /Filter: one name or an array of names.
std::vector<std::string> Filters(ByteView dict) {
  std::vector<std::string> out;
  size_t pos = FindKey(dict, "/Filter");
  if (pos == ByteView::npos) return out;
  SkipSpace(dict, pos);
  bool array = pos < dict.size() && dict[pos] == '[';
  if (array) ++pos;
  while (pos < dict.size() && out.size() < 16) {
    SkipSpace(dict, pos);
    if (pos >= dict.size() || dict[pos] != '/') break;
    size_t start = ++pos;
    while (pos < dict.size() && !IsDelimiter(dict[pos])) ++pos;
    out.emplace_back(dict.substr(start, pos - start));
    if (!array) break;
  }
  return out;
}

enum class FilterKind { kFlate, kAsciiHex, kAscii85, kImage, kOther };
FilterKind KindOf(std::string_view f) {
  if (f == "FlateDecode" || f == "Fl") return FilterKind::kFlate;
  if (f == "ASCIIHexDecode" || f == "AHx") return FilterKind::kAsciiHex;
  if (f == "ASCII85Decode" || f == "A85") return FilterKind::kAscii85;
  if (f == "DCTDecode" || f == "DCT" || f == "JPXDecode" || f == "JBIG2Decode" || f == "CCITTFaxDecode" ||
      f == "CCF") {
    return FilterKind::kImage;
  }
  return FilterKind::kOther;
}

}  // namespace

bool LooksLikePdf(ByteView d) {
  return d.substr(0, 1024).find("%PDF-") != ByteView::npos;
}

Bytes PdfAsciiHexDecode(ByteView in, uint64_t cap) {
  Bytes out;
  int high = -1;
  for (char c : in) {
    if (out.size() >= cap || c == '>') break;
    int v = HexDigitValue(c);
    if (v < 0) continue;  // white space, and junk a viewer would skip too
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0 && out.size() < cap)
    out.push_back(static_cast<char>(high << 4));  // 7.4.2: a lone digit is followed by 0
  return out;
}

Bytes PdfAscii85Decode(ByteView in, uint64_t cap) {
  Bytes out;
  uint32_t group[5];
  int n = 0;
  auto emit = [&](int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = v * 85 + group[i];
    for (int i = 0; i < bytes && out.size() < cap; ++i)
      out.push_back(static_cast<char>((v >> (24 - 8 * i)) & 0xff));
  };
  for (size_t i = 0; i < in.size() && out.size() < cap; ++i) {
    char c = in[i];
    if (c == '~') break;  // "~>" ends the data
    if (c == 'z' && n == 0) {
      for (int k = 0; k < 4 && out.size() < cap; ++k) out.push_back('\0');
      continue;
    }
    if (c < '!' || c > 'u') continue;
    group[n++] = static_cast<uint32_t>(c - '!');
    if (n == 5) {
      emit(4);
      n = 0;
    }
  }
  if (n > 1) {  // 7.4.3: a final partial group of n characters gives n - 1 bytes
    for (int i = n; i < 5; ++i) group[i] = 84;
    emit(n - 1);
  }
  return out;
}

Status ReadPdf(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  static constexpr ByteView kStream = "stream";
  static constexpr ByteView kEndstream = "endstream";
  Status damage, unsupported;
  auto note = [](Status& s, Status next) {
    if (s.ok()) s = std::move(next);
  };
  uint64_t streams = 0;
  size_t prev_end = 0;
  size_t pos = 0;
  while ((pos = d.find(kStream, pos)) != ByteView::npos) {
    size_t keyword = pos;
    pos += kStream.size();
    if (keyword >= 3 && d.compare(keyword - 3, 3, "end") == 0) continue;
    if (keyword < prev_end) continue;
    // 7.3.8.1: the keyword is followed by CRLF or LF (a lone CR is tolerated).
    size_t start = pos;
    if (start < d.size() && d[start] == '\r') ++start;
    if (start < d.size() && d[start] == '\n') ++start;
    if (start == pos) continue;  // "streams", "/XRefStream", ... not a stream keyword

    // The dictionary: back to this object's `obj` (not past the previous stream).
    ++streams;
    size_t obj = d.substr(prev_end, keyword - prev_end).rfind("obj");
    if (obj != ByteView::npos) obj += prev_end;
    std::string name;
    ByteView dict;
    if (obj != ByteView::npos && !(obj >= 3 && d.compare(obj - 3, 3, "end") == 0)) {
      dict = d.substr(obj + 3, keyword - obj - 3);
      if (std::optional<uint64_t> num = ObjectNumberBefore(d, obj)) name = "obj" + std::to_string(*num);
    } else {
      dict = d.substr(prev_end, keyword - prev_end);
    }
    if (name.empty()) name = "stream" + std::to_string(streams);

    // Where the data ends: /Length if it is a direct integer landing on endstream, else search.
    size_t end = ByteView::npos;
    size_t next = ByteView::npos;
    if (size_t at = FindKey(dict, "/Length"); at != ByteView::npos) {
      SkipSpace(dict, at);
      size_t after = at;
      std::optional<uint64_t> length = Number(dict, after);
      size_t probe = after;
      SkipSpace(dict, probe);
      bool indirect = probe < dict.size() && IsDigit(dict[probe]);  // "13 0 R"
      if (length && !indirect) {
        size_t k = *length <= d.size() - start ? start + static_cast<size_t>(*length) : d.size();
        size_t e = k;
        SkipSpace(d, k);
        if (*length <= d.size() - start && d.compare(k, kEndstream.size(), kEndstream) == 0) {
          end = e;
          next = k + kEndstream.size();
        } else {
          note(damage,
               DataLoss(name + ": /Length " + std::to_string(*length) + " does not end at endstream"));
        }
      }
    }
    std::vector<std::string> filters = Filters(dict);
    if (end == ByteView::npos) {
      size_t k = d.find(kEndstream, start);
      if (k == ByteView::npos) {
        note(damage, DataLoss(name + ": stream without endstream"));
        end = next = d.size();
      } else {
        end = k;
        next = k + kEndstream.size();
        // 7.3.8.1: an end-of-line marker before endstream is not part of the data. Whether a CR
        // before the LF is the marker's or the data's last byte cannot be told from here, so
        // filtered data keeps both: every decoder stops at its own end (deflate's final block,
        // '>' and '~>'), and cutting a CR off a deflate stream would truncate it.
        if (filters.empty()) {
          if (end > start && d[end - 1] == '\n') --end;
          if (end > start && d[end - 1] == '\r') --end;
        }
      }
    }
    prev_end = pos = next;

    uint64_t cap = options.max_member_bytes;
    Bytes data(d.substr(start, static_cast<size_t>(std::min<uint64_t>(end - start, cap))));
    for (const std::string& filter : filters) {
      FilterKind kind = KindOf(filter);
      if (kind == FilterKind::kFlate) {
        Bytes out;
        Status s = InflateCapped(data, cap, out);
        if (!s.ok()) note(damage, DataLoss(name + " /FlateDecode: " + s.message()));
        data = std::move(out);
      } else if (kind == FilterKind::kAsciiHex) {
        data = PdfAsciiHexDecode(data, cap);
      } else if (kind == FilterKind::kAscii85) {
        data = PdfAscii85Decode(data, cap);
      } else {
        if (kind == FilterKind::kOther) {
          note(unsupported,
               Unimplemented(name + ": filter /" + CleanReaderName(filter, "") + " not decoded"));
        }
        break;
      }
    }
    if (data.empty()) continue;
    if (!sink(ReaderMember{name, std::move(data)})) return Status::Ok();
  }
  if (FindKey(d, "/Encrypt") != ByteView::npos) {
    return PermissionDenied("encrypted PDF: its streams are scanned as stored, not decrypted");
  }
  if (!damage.ok()) return damage;
  return unsupported;
}

}  // namespace accord::scan
