#include "scan/sigfile.h"

#include <array>
#include <utility>

namespace accord::scan {

size_t DigestLength(HashKind kind) {
  switch (kind) {
    case HashKind::kMd5:
      return 16;
    case HashKind::kSha1:
      return 20;
    case HashKind::kSha256:
      return 32;
  }
  return 0;
}

std::string_view HashKindName(HashKind kind) {
  switch (kind) {
    case HashKind::kMd5:
      return "MD5";
    case HashKind::kSha1:
      return "SHA-1";
    case HashKind::kSha256:
      return "SHA-256";
  }
  return "?";
}

std::optional<HashKind> HashKindForLength(size_t digest_bytes) {
  switch (digest_bytes) {
    case 16:
      return HashKind::kMd5;
    case 20:
      return HashKind::kSha1;
    case 32:
      return HashKind::kSha256;
  }
  return std::nullopt;
}

std::optional<HashFileRole> HashFileRoleFor(std::string_view file_name) {
  auto ends = [&](std::string_view ext) {
    return file_name.size() > ext.size() && file_name.substr(file_name.size() - ext.size()) == ext;
  };
  if (ends(".hdb") || ends(".hsb")) return HashFileRole::kDetect;
  if (ends(".fp") || ends(".sfp")) return HashFileRole::kAllow;
  return std::nullopt;
}

bool IsValidSignatureName(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxSignatureNameLength) return false;
  if (name.front() == ' ' || name.back() == ' ') return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return IsValidUtf8(name);
}

namespace {

std::string Quote(std::string_view s) {
  return "'" + Printable(s, 72) + "'";
}

Result<uint32_t> ParseLevel(std::string_view field, std::string_view what, std::string_view where) {
  std::optional<uint64_t> v = ParseDecimal(field);
  if (!v || *v > 0xFFFFFFFFull) {
    return InvalidArgument(std::string(where) + ": bad " + std::string(what) + " " + Quote(field) +
                           ", want a decimal functionality level");
  }
  return static_cast<uint32_t>(*v);
}

}  // namespace

namespace {

// `file:line`, formatted only when an error needs it (a large file has millions of good lines).
struct Where {
  std::string_view file;
  uint64_t line = 0;  // 0: `file` is the whole location
  std::string str() const {
    return line == 0 ? std::string(file) : std::string(file) + ":" + std::to_string(line);
  }
};

Result<HashSignature> ParseLine(std::string_view line, const Where& at) {
  auto fail = [&](const std::string& what) { return InvalidArgument(at.str() + ": " + what); };
  if (line.size() > limits::kMaxSignatureLineLength) {
    return ResourceExhausted(at.str() + ": line of " + std::to_string(line.size()) +
                             " bytes, limit kMaxSignatureLineLength " +
                             std::to_string(limits::kMaxSignatureLineLength));
  }
  std::array<std::string_view, 5> field;
  size_t fields = 0;
  size_t start = 0;
  while (true) {
    size_t colon = line.find(':', start);
    if (fields == field.size()) return fail("more than 5 fields, want HASH:SIZE:NAME[:FLEVEL[:MAXFLEVEL]]");
    field[fields++] = line.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (fields < 3) {
    return fail(std::to_string(fields) + " field" + (fields == 1 ? "" : "s") +
                ", want HASH:SIZE:NAME[:FLEVEL[:MAXFLEVEL]]");
  }

  HashSignature sig;
  std::string_view hex = field[0];
  std::optional<HashKind> kind = HashKindForLength(hex.size() / 2);
  if (hex.size() % 2 != 0 || !kind) {
    return fail("HASH of " + std::to_string(hex.size()) +
                " hex digits, want 32 (MD5), 40 (SHA-1) or 64 (SHA-256)");
  }
  std::optional<Bytes> digest = HexDecode(hex);
  if (!digest) return fail("HASH " + Quote(hex) + " is not hex");
  sig.kind = *kind;
  sig.digest = std::move(*digest);

  if (field[1] != "*") {
    std::optional<uint64_t> size = ParseDecimal(field[1]);
    if (!size) return fail("bad SIZE " + Quote(field[1]) + ", want a decimal without leading zeroes or '*'");
    if (*size > limits::kMaxSignedFileSize) {
      return fail("SIZE " + std::to_string(*size) + " above kMaxSignedFileSize " +
                  std::to_string(limits::kMaxSignedFileSize));
    }
    sig.size = *size;
  }

  if (field[2].empty()) return fail("empty NAME");
  if (field[2].size() > limits::kMaxSignatureNameLength) {
    return ResourceExhausted(at.str() + ": NAME of " + std::to_string(field[2].size()) +
                             " bytes, limit kMaxSignatureNameLength " +
                             std::to_string(limits::kMaxSignatureNameLength));
  }
  if (!IsValidSignatureName(field[2])) {
    return fail("NAME " + Quote(field[2]) +
                " has a control character, invalid UTF-8 or leading or trailing space");
  }
  sig.name = std::string(field[2]);

  if (fields >= 4) {
    ASSIGN_OR_RETURN(sig.min_flevel, ParseLevel(field[3], "FLEVEL", at.str()));
  }
  if (fields == 5) {
    ASSIGN_OR_RETURN(sig.max_flevel, ParseLevel(field[4], "MAXFLEVEL", at.str()));
    if (*sig.max_flevel < *sig.min_flevel) {
      return fail("MAXFLEVEL " + std::to_string(*sig.max_flevel) + " below FLEVEL " +
                  std::to_string(*sig.min_flevel));
    }
  }
  return sig;
}

}  // namespace

Result<HashSignature> ParseHashSignatureLine(std::string_view line, std::string_view where) {
  return ParseLine(line, Where{where, 0});
}

Status ForEachSignatureLine(ByteView text, std::string_view source_name,
                            const std::function<Status(std::string_view, uint64_t)>& fn) {
  if (text.size() > limits::kMaxSignatureFileSize) {
    return ResourceExhausted(std::string(source_name) + ": " + std::to_string(text.size()) +
                             " bytes, limit kMaxSignatureFileSize " +
                             std::to_string(limits::kMaxSignatureFileSize));
  }
  size_t pos = 0;
  uint64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    size_t end = nl == ByteView::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = nl == ByteView::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits::kMaxSignatureLineLength) {  // comments too: a cap is a cap
      return ResourceExhausted(std::string(source_name) + ":" + std::to_string(line_no) + ": line of " +
                               std::to_string(line.size()) + " bytes, limit kMaxSignatureLineLength " +
                               std::to_string(limits::kMaxSignatureLineLength));
    }
    if (line.empty() || line.front() == '#') continue;
    RETURN_IF_ERROR(fn(line, line_no));
  }
  return Status::Ok();
}

Status ForEachHashSignature(ByteView text, std::string_view source_name,
                            const std::function<Status(HashSignature&&)>& sink) {
  return ForEachSignatureLine(text, source_name, [&](std::string_view line, uint64_t line_no) -> Status {
    Where at{source_name, line_no};
    ASSIGN_OR_RETURN(HashSignature sig, ParseLine(line, at));
    Status s = sink(std::move(sig));
    if (!s.ok()) return s.WithContext(at.str());
    return Status::Ok();
  });
}

Result<std::vector<HashSignature>> ParseHashSignatures(ByteView text, std::string_view source_name) {
  std::vector<HashSignature> out;
  RETURN_IF_ERROR(ForEachHashSignature(text, source_name, [&](HashSignature&& sig) {
    out.push_back(std::move(sig));
    return Status::Ok();
  }));
  return out;
}

}  // namespace accord::scan
