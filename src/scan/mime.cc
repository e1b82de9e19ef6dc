#include "scan/mime.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace accord::scan::mime {
namespace {

// How much of a buffer the Looks*/Has* checks read for a mail's header block.
constexpr size_t kHeadBytes = 16 * 1024;
// Longest file name kept from a header; longer names are cut (they only label a path).
constexpr size_t kMaxNameBytes = 255;

// One line of `text` starting at `pos`: [begin, end) without its line break, and where the next
// line starts. LF and CRLF both end a line.
struct Line {
  size_t begin = 0;
  size_t end = 0;
  size_t next = 0;
};
Line LineAt(ByteView text, size_t pos) {
  Line l;
  l.begin = pos;
  size_t nl = text.find('\n', pos);
  if (nl == ByteView::npos) {
    l.end = l.next = text.size();
  } else {
    l.end = nl;
    l.next = nl + 1;
  }
  if (l.end > l.begin && text[l.end - 1] == '\r') --l.end;
  return l;
}
ByteView LineText(ByteView text, const Line& l) {
  return text.substr(l.begin, l.end - l.begin);
}

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A file name for a display path: control characters become '_', and it is cut at kMaxNameBytes.
std::string CleanName(std::string_view name) {
  std::string out(name.substr(0, std::min(name.size(), kMaxNameBytes)));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out;
}

// ---- Headers (RFC 5322 section 2.2, folding in 2.2.3).

bool IsHeaderNameChar(char c) {
  return c > 32 && c < 127 && c != ':';
}

// "Name:" at the start of a line; returns the name's length, or 0.
size_t HeaderNameLength(ByteView line) {
  size_t i = 0;
  while (i < line.size() && IsHeaderNameChar(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != ':') return 0;
  return i;
}

struct Headers {
  std::string content_type;  // unfolded values
  std::string transfer_encoding;
  std::string disposition;
  size_t body_start = 0;  // offset of the body in the entity
};

// Reads the header block of an entity. A line that is neither a header nor a continuation ends it
// (the body starts there), as does the empty line RFC 5322 puts between them.
Headers ParseHeaders(ByteView entity) {
  Headers h;
  std::string* current = nullptr;
  bool any_header = false;
  size_t pos = 0;
  while (pos < entity.size()) {
    Line l = LineAt(entity, pos);
    ByteView line = LineText(entity, l);
    if (line.empty()) {
      h.body_start = l.next;
      return h;
    }
    if ((line[0] == ' ' || line[0] == '\t') && any_header) {
      if (current != nullptr) {
        current->push_back(' ');
        current->append(Trim(line));
      }
      pos = l.next;
      continue;
    }
    size_t n = HeaderNameLength(line);
    if (n == 0) {
      h.body_start = pos;
      return h;
    }
    any_header = true;
    std::string name = LowerCopy(line.substr(0, n));
    std::string_view value = Trim(line.substr(n + 1));
    current = nullptr;
    if (name == "content-type") {
      current = &h.content_type;
    } else if (name == "content-transfer-encoding") {
      current = &h.transfer_encoding;
    } else if (name == "content-disposition") {
      current = &h.disposition;
    }
    if (current != nullptr) {
      current->assign(value);
    }
    pos = l.next;
  }
  h.body_start = entity.size();
  return h;
}

// The value before the first ';', lower case: "multipart/mixed".
std::string MainValue(std::string_view value) {
  return LowerCopy(Trim(value.substr(0, std::min(value.find(';'), value.size()))));
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexDigitValue(s[i + 1]), lo = HexDigitValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Parameter `key` of a structured header value (RFC 2045 section 5.1), unquoted. Also accepts the
// RFC 2231 form key*=charset'lang'percent-encoded (the charset is not converted).
std::optional<std::string> Param(std::string_view value, std::string_view key) {
  size_t i = value.find(';');
  std::optional<std::string> extended;
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    size_t key_start = i;
    while (i < value.size() && value[i] != '=' && value[i] != ';') ++i;
    std::string k = LowerCopy(Trim(value.substr(key_start, i - key_start)));
    if (i >= value.size() || value[i] == ';') continue;
    ++i;  // past '='
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string v;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        v.push_back(value[i++]);
      }
      if (i < value.size()) ++i;  // closing quote
      i = value.find(';', i);
    } else {
      size_t end = std::min(value.find(';', i), value.size());
      v = std::string(Trim(value.substr(i, end - i)));
      i = end;
    }
    if (k == key) return v;
    if (!extended && k.size() == key.size() + 1 && k.back() == '*' && k.compare(0, key.size(), key) == 0) {
      size_t q = v.find('\'');
      size_t q2 = q == std::string::npos ? q : v.find('\'', q + 1);
      extended =
          PercentDecode(q2 == std::string::npos ? std::string_view(v) : std::string_view(v).substr(q2 + 1));
    }
  }
  return extended;
}

// ---- The mail walk.

struct MailContext {
  MailContext(const DecodeOptions& o, const PartSink& s) : options(o), sink(s) {}
  const DecodeOptions& options;
  const PartSink& sink;
  int part_number = 0;
  int nesting = 0;  // of the entity being read (Part::nesting)
  bool stopped = false;
  Status first_error;

  void Note(Status s) {
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  }
  void Emit(std::string name, Bytes data) {
    if (stopped) return;
    if (!sink(Part{std::move(name), std::move(data), nesting})) stopped = true;
  }
};

void DecodeUuBlocks(ByteView text, MailContext& ctx, bool* found);
void ParseEntity(ByteView entity, int nesting, MailContext& ctx);

// RFC 2046 section 5.1.1: a boundary line is "--" boundary, optionally "--" (the last one), then
// optional white space. The line break before a boundary line belongs to it, not to the part.
void ParseMultipart(ByteView body, std::string_view boundary, int nesting, MailContext& ctx) {
  const std::string delimiter = "--" + std::string(boundary);
  bool in_part = false;
  size_t part_start = 0;
  size_t pos = 0;
  while (pos < body.size() && !ctx.stopped) {
    Line l = LineAt(body, pos);
    ByteView line = LineText(body, l);
    if (line.size() >= delimiter.size() && line.compare(0, delimiter.size(), delimiter) == 0) {
      ByteView rest = line.substr(delimiter.size());
      bool last = rest.size() >= 2 && rest[0] == '-' && rest[1] == '-';
      if (last) rest.remove_prefix(2);
      if (Trim(rest).empty()) {
        if (in_part) {
          size_t end = l.begin;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          ParseEntity(body.substr(part_start, end - part_start), nesting + 1, ctx);
        }
        if (last) return;
        in_part = true;
        part_start = l.next;
      }
    }
    pos = l.next;
  }
  if (ctx.stopped) return;
  if (in_part) {
    ParseEntity(body.substr(part_start), nesting + 1, ctx);
    ctx.Note(
        DataLoss("multipart boundary \"" + Printable(boundary, 70) + "\": no closing boundary (truncated)"));
  } else {
    ctx.Note(DataLoss("multipart boundary \"" + Printable(boundary, 70) + "\": no part found"));
  }
}

void ParseEntity(ByteView entity, int nesting, MailContext& ctx) {
  if (ctx.stopped) return;
  if (nesting > ctx.options.max_nesting) {
    ctx.Note(ResourceExhausted("MIME parts nested deeper than " + std::to_string(ctx.options.max_nesting)));
    return;
  }
  ctx.nesting = nesting;
  Headers h = ParseHeaders(entity);
  ByteView body = entity.substr(h.body_start);
  std::string type = MainValue(h.content_type);
  std::string encoding = MainValue(h.transfer_encoding);

  if (type.starts_with("multipart/")) {
    std::optional<std::string> boundary = Param(h.content_type, "boundary");
    if (boundary && !boundary->empty()) {
      ParseMultipart(body, *boundary, nesting, ctx);
      return;
    }
  }

  Bytes data;
  bool uu_done = false;
  if (encoding == "base64") {
    data = DecodeBase64Lenient(body);
  } else if (encoding == "quoted-printable") {
    data = DecodeQuotedPrintable(body);
  } else if (encoding == "x-uuencode" || encoding == "uuencode" || encoding == "x-uue") {
    DecodeUuBlocks(body, ctx, &uu_done);
    if (uu_done) return;
    data = Bytes(body);
  } else {
    data = Bytes(body);
  }

  if (type == "message/rfc822" || type == "message/global") {
    ParseEntity(data, nesting + 1, ctx);
    return;
  }
  if (data.empty()) return;
  std::optional<std::string> name = Param(h.disposition, "filename");
  if (!name || name->empty()) name = Param(h.content_type, "name");
  ++ctx.part_number;
  ctx.Emit(name && !name->empty() ? CleanName(*name) : "part" + std::to_string(ctx.part_number),
           std::move(data));
}

// ---- uuencode.

bool IsOctal(char c) {
  return c >= '0' && c <= '7';
}

// "begin 644 name" or "begin-base64 644 name": returns the name, or nullopt.
std::optional<std::string_view> UuBeginLine(ByteView line, bool* base64) {
  ByteView rest;
  if (line.starts_with("begin-base64 ")) {
    *base64 = true;
    rest = line.substr(13);
  } else if (line.starts_with("begin ")) {
    *base64 = false;
    rest = line.substr(6);
  } else {
    return std::nullopt;
  }
  size_t i = 0;
  while (i < rest.size() && IsOctal(rest[i])) ++i;
  if (i == 0 || i > 4 || i >= rest.size() || rest[i] != ' ') return std::nullopt;
  std::string_view name = Trim(rest.substr(i + 1));
  if (name.empty()) return std::nullopt;
  return name;
}

// Decodes one historical uuencoded line into `out`. False if the line is not uuencode at all.
bool DecodeUuLine(ByteView line, Bytes& out) {
  if (line.empty()) return true;
  for (size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c < 32 || c > 96) return false;  // lower case letters: text, not uuencode
  }
  // The length character may promise more than the line carries (trailing spaces stripped); only
  // the last group of four is completed, so decoding never expands the text.
  size_t carried = (line.size() - 1 + 3) / 4 * 3;
  int n = static_cast<int>(std::min<size_t>((static_cast<unsigned char>(line[0]) - 32) & 63, carried));
  int produced = 0;
  for (size_t i = 1; produced < n; i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      // Encoders that strip trailing spaces leave short lines; a missing character is a zero.
      unsigned char c = i + k < line.size() ? static_cast<unsigned char>(line[i + k]) : ' ';
      v = v << 6 | ((c - 32) & 63);
    }
    for (int k = 2; k >= 0 && produced < n; --k, ++produced) {
      out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    }
  }
  return true;
}

void DecodeUuBlocks(ByteView text, MailContext& ctx, bool* found) {
  size_t pos = 0;
  while (pos < text.size() && !ctx.stopped) {
    size_t hit = text.find("begin", pos);
    if (hit == ByteView::npos) return;
    if (hit > 0 && text[hit - 1] != '\n') {
      pos = hit + 5;
      continue;
    }
    Line l = LineAt(text, hit);
    bool base64 = false;
    std::optional<std::string_view> name = UuBeginLine(LineText(text, l), &base64);
    pos = l.next;
    if (!name) continue;
    *found = true;
    Bytes data;
    bool ended = false;
    size_t b64_start = pos;
    while (pos < text.size()) {
      Line body = LineAt(text, pos);
      ByteView line = LineText(text, body);
      if (base64) {
        if (line == "====") {
          data = DecodeBase64Lenient(text.substr(b64_start, body.begin - b64_start));
          ended = true;
          pos = body.next;
          break;
        }
      } else {
        if (Trim(line) == "end") {
          ended = true;
          pos = body.next;
          break;
        }
        if (!DecodeUuLine(line, data)) break;  // text resumed without "end": truncated block
      }
      pos = body.next;
    }
    if (base64 && !ended) data = DecodeBase64Lenient(text.substr(b64_start, pos - b64_start));
    std::string clean = CleanName(*name);
    if (!ended) ctx.Note(DataLoss("uuencoded \"" + clean + "\": no end line (truncated)"));
    if (!data.empty()) ctx.Emit(clean, std::move(data));
  }
}

// ---- BinHex 4.0.

constexpr std::string_view kBinhexMarker = "(This file must be converted with BinHex";
constexpr std::string_view kBinhexAlphabet =
    "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

uint16_t Crc16Xmodem(ByteView data) {
  uint16_t crc = 0;
  for (unsigned char b : data) {
    crc ^= static_cast<uint16_t>(b) << 8;
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>(crc << 1 ^ 0x1021) : crc << 1;
  }
  return crc;
}

uint32_t BigEndian(ByteView b, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(b[i]);
  return v;
}

}  // namespace

bool LooksLikeMail(ByteView text) {
  ByteView head = text.substr(0, std::min(text.size(), kHeadBytes));
  size_t pos = 0;
  if (head.starts_with("From ")) pos = LineAt(head, 0).next;
  bool mime = false, from = false, other = false;
  int headers = 0;
  while (pos < head.size()) {
    Line l = LineAt(head, pos);
    ByteView line = LineText(head, l);
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (headers == 0) return false;
    } else {
      size_t n = HeaderNameLength(line);
      if (n == 0) return false;
      ++headers;
      std::string name = LowerCopy(line.substr(0, n));
      if (name == "mime-version" || name == "content-type") mime = true;
      if (name == "from") from = true;
      if (name == "to" || name == "subject" || name == "date") other = true;
    }
    pos = l.next;
  }
  return mime || (from && other);
}

bool HasUuencode(ByteView text) {
  size_t pos = 0;
  while ((pos = text.find("begin", pos)) != ByteView::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      bool base64 = false;
      if (UuBeginLine(LineText(text, LineAt(text, pos)), &base64)) return true;
    }
    pos += 5;
  }
  return false;
}

// Where BinHex data begins: the ':' after a marker line "(This file must be converted with BinHex
// 4.0)" with nothing but white space between. npos if no marker is followed so (a program that
// merely holds the marker text, as ClamAV's own library does, is not BinHex).
size_t FindBinhexStart(ByteView text) {
  for (size_t marker = text.find(kBinhexMarker); marker != ByteView::npos;
       marker = text.find(kBinhexMarker, marker + 1)) {
    size_t close = text.find_first_of(")\n", marker + kBinhexMarker.size());
    if (close == ByteView::npos || text[close] != ')') continue;
    size_t data = text.find_first_not_of(" \t\r\n", close + 1);
    if (data != ByteView::npos && text[data] == ':' && data > close + 1) return data;
  }
  return ByteView::npos;
}

bool HasBinhex(ByteView text) {
  return FindBinhexStart(text) != ByteView::npos;
}

bool HasDataUri(ByteView text) {
  size_t pos = 0;
  while ((pos = text.find("data:", pos)) != ByteView::npos) {
    size_t comma = text.find(',', pos);
    if (comma != ByteView::npos && comma - pos < 128) {
      ByteView header = text.substr(pos, comma - pos);
      if (header.ends_with(";base64")) return true;
    }
    pos += 5;
  }
  return false;
}

Status DecodeMail(ByteView text, const DecodeOptions& options, const PartSink& sink) {
  MailContext ctx{options, sink};
  if (text.starts_with("From ")) {
    // RFC 4155: each message starts with a "From " line; one follows an empty line.
    std::vector<size_t> starts = {0};
    size_t pos = 0;
    while ((pos = text.find("\nFrom ", pos)) != ByteView::npos) {
      bool after_blank =
          (pos >= 1 && text[pos - 1] == '\n') || (pos >= 2 && text[pos - 1] == '\r' && text[pos - 2] == '\n');
      if (after_blank) starts.push_back(pos + 1);
      pos += 6;
    }
    if (starts.size() > 1) {
      starts.push_back(text.size());
      for (size_t i = 0; i + 1 < starts.size() && !ctx.stopped; ++i) {
        ctx.Emit("message" + std::to_string(i + 1) + ".eml",
                 Bytes(text.substr(starts[i], starts[i + 1] - starts[i])));
      }
      return ctx.first_error;
    }
    text = text.substr(LineAt(text, 0).next);
  }
  ParseEntity(text, 0, ctx);
  return ctx.first_error;
}

Status DecodeUuencode(ByteView text, const DecodeOptions& options, const PartSink& sink) {
  MailContext ctx{options, sink};
  bool found = false;
  DecodeUuBlocks(text, ctx, &found);
  return ctx.first_error;
}

Status DecodeBinhex(ByteView text, const DecodeOptions& options, const PartSink& sink) {
  size_t start = FindBinhexStart(text);
  if (start == ByteView::npos) return Status::Ok();
  --start;  // the decoder below starts at the line break before the ':'

  std::array<int, 256> value;
  value.fill(-1);
  for (size_t i = 0; i < kBinhexAlphabet.size(); ++i)
    value[static_cast<unsigned char>(kBinhexAlphabet[i])] = int(i);

  // 6-bit characters to bytes, then the 0x90 run-length coding, capped at max_output.
  Bytes out;
  Status status;
  uint32_t bits = 0;
  int nbits = 0;
  bool marker_pending = false;
  int last = -1;
  bool closed = false;
  for (size_t i = start + 2; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (c == ':') {
      closed = true;
      break;
    }
    int v = value[static_cast<unsigned char>(c)];
    if (v < 0) {
      status = DataLoss("BinHex: character " + Printable(ByteView(&text[i], 1)) + " at offset " +
                        std::to_string(i) + " is not in the alphabet");
      break;
    }
    bits = bits << 6 | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits < 8) continue;
    nbits -= 8;
    unsigned char byte = static_cast<unsigned char>(bits >> nbits);
    bits &= (1u << nbits) - 1;
    if (marker_pending) {
      marker_pending = false;
      if (byte == 0) {
        out.push_back(static_cast<char>(0x90));
        last = 0x90;
      } else if (last >= 0) {
        size_t repeat = byte - 1u;
        if (out.size() + repeat > options.max_output) {
          status = ResourceExhausted("BinHex: expands to more than " + std::to_string(options.max_output) +
                                     " bytes");
          break;
        }
        out.append(repeat, static_cast<char>(last));
      }
    } else if (byte == 0x90) {
      marker_pending = true;
    } else {
      out.push_back(static_cast<char>(byte));
      last = byte;
    }
    if (out.size() > options.max_output) {
      status =
          ResourceExhausted("BinHex: expands to more than " + std::to_string(options.max_output) + " bytes");
      break;
    }
  }
  if (status.ok() && !closed) status = DataLoss("BinHex: no closing ':' (truncated)");

  ByteView b = out;
  if (b.empty()) return status.ok() ? DataLoss("BinHex: no data") : status;
  size_t name_len = static_cast<unsigned char>(b[0]);
  size_t header_len = 1 + name_len + 1 + 4 + 4 + 2 + 4 + 4;
  if (b.size() < header_len + 2) return status.ok() ? DataLoss("BinHex: header truncated") : status;
  std::string name = CleanName(b.substr(1, name_len));
  if (name.empty()) name = "binhex";
  if (Crc16Xmodem(b.substr(0, header_len)) != BigEndian(b.substr(header_len), 2)) {
    return DataLoss("BinHex \"" + name + "\": header CRC mismatch");
  }
  uint32_t data_len = BigEndian(b.substr(header_len - 8), 4);
  uint32_t rsrc_len = BigEndian(b.substr(header_len - 4), 4);
  size_t data_at = header_len + 2;
  ByteView data = b.substr(data_at, std::min<size_t>(data_len, b.size() - data_at));
  if (data.size() < data_len) {
    if (status.ok()) status = DataLoss("BinHex \"" + name + "\": data fork truncated");
  } else if (b.size() >= data_at + data_len + 2 &&
             Crc16Xmodem(data) != BigEndian(b.substr(data_at + data_len), 2)) {
    if (status.ok()) status = DataLoss("BinHex \"" + name + "\": data fork CRC mismatch");
  }
  if (!data.empty() && !sink(Part{name, Bytes(data)})) return Status::Ok();
  size_t rsrc_at = data_at + data_len + 2;
  if (rsrc_len > 0 && b.size() > rsrc_at) {
    ByteView rsrc = b.substr(rsrc_at, std::min<size_t>(rsrc_len, b.size() - rsrc_at));
    if (rsrc.size() < rsrc_len && status.ok())
      status = DataLoss("BinHex \"" + name + "\": resource fork truncated");
    if (!sink(Part{name + ".rsrc", Bytes(rsrc)})) return Status::Ok();
  }
  return status;
}

Status DecodeDataUris(ByteView text, const DecodeOptions& options, const PartSink& sink) {
  size_t pos = 0;
  int n = 0;
  while ((pos = text.find("data:", pos)) != ByteView::npos) {
    size_t comma = text.find(',', pos);
    if (comma == ByteView::npos) break;
    if (comma - pos >= 128 || !text.substr(pos, comma - pos).ends_with(";base64")) {
      pos += 5;
      continue;
    }
    size_t end = comma + 1;
    while (end < text.size() &&
           (Base64DigitValue(text[end]) >= 0 || text[end] == '=' || text[end] == '\r' || text[end] == '\n')) {
      ++end;
    }
    Bytes data = DecodeBase64Lenient(text.substr(comma + 1, end - comma - 1));
    pos = end;
    if (data.empty()) continue;
    if (!sink(Part{"data-uri" + std::to_string(++n), std::move(data)})) break;
  }
  return Status::Ok();
}

Bytes DecodeBase64Lenient(ByteView text) {
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int n = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = Base64DigitValue(c);
    if (v < 0) continue;
    acc = acc << 6 | static_cast<uint32_t>(v);
    if (++n == 4) {
      out.push_back(static_cast<char>(acc >> 16));
      out.push_back(static_cast<char>(acc >> 8 & 0xff));
      out.push_back(static_cast<char>(acc & 0xff));
      acc = 0;
      n = 0;
    }
  }
  // A final quantum of 2 or 3 characters carries 1 or 2 bytes; a single character carries none.
  if (n == 2) out.push_back(static_cast<char>(acc >> 4));
  if (n == 3) {
    out.push_back(static_cast<char>(acc >> 10));
    out.push_back(static_cast<char>(acc >> 2 & 0xff));
  }
  return out;
}

Bytes DecodeQuotedPrintable(ByteView text) {
  Bytes out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 2 < text.size() && HexDigitValue(text[i + 1]) >= 0 && HexDigitValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigitValue(text[i + 1]) << 4 | HexDigitValue(text[i + 2])));
      i += 2;
      continue;
    }
    // A soft line break: '=', optional trailing white space, then the line break.
    size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j < text.size() && text[j] == '\r') ++j;
    if (j < text.size() && text[j] == '\n') {
      i = j;
      continue;
    }
    if (j == text.size()) break;  // '=' at the very end: a soft break before EOF
    out.push_back(c);
  }
  return out;
}

}  // namespace accord::scan::mime
