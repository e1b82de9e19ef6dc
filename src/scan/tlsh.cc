#include "scan/tlsh.h"

#include <tlsh.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "scan/sigfile.h"

namespace accord::scan {

namespace {

constexpr int kLengthMult = 12;  // libtlsh's length_mult
constexpr int kQRatioMult = 12;  // libtlsh's qratio_mult

// |x - y| on a ring of `range` values, the shorter way round (libtlsh's mod_diff).
uint32_t ModDiff(uint32_t x, uint32_t y, uint32_t range) {
  uint32_t d = x > y ? x - y : y - x;
  return std::min(d, range - d);
}

uint32_t QRatioDistance(uint32_t d) {
  return d <= 1 ? d : (d - 1) * kQRatioMult;
}

// For two code bytes: the sum over their four 2-bit bucket levels of |a - b|, a difference of 3
// counting 6 (libtlsh's bit_pairs_diff_table). Built at load time: as a constexpr it takes more
// steps than clang allows a constant expression.
const std::array<std::array<uint8_t, 256>, 256> kCodeByteDistance = [] {
  std::array<std::array<uint8_t, 256>, 256> t{};
  for (int x = 0; x < 256; ++x) {
    for (int y = 0; y < 256; ++y) {
      int sum = 0;
      for (int j = 0; j < 4; ++j) {
        int a = (x >> (2 * j)) & 3, b = (y >> (2 * j)) & 3;
        int d = a > b ? a - b : b - a;
        sum += d == 3 ? 6 : d;
      }
      t[x][y] = static_cast<uint8_t>(sum);
    }
  }
  return t;
}();

std::string Quote(std::string_view s) {
  return "'" + Printable(s, 80) + "'";
}

}  // namespace

std::string TlshDigest::ToString() const {
  std::string hex = HexEncode(view());
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

std::optional<TlshDigest> ParseTlsh(std::string_view text) {
  if (text.size() == 2 + kTlshHexLength && text.substr(0, 2) == "T1") text.remove_prefix(2);
  if (text.size() != kTlshHexLength) return std::nullopt;
  std::optional<Bytes> raw = HexDecode(text);
  if (!raw) return std::nullopt;
  return TlshDigestFromBytes(*raw);
}

std::optional<TlshDigest> TlshDigestFromBytes(ByteView bytes) {
  if (bytes.size() != kTlshDigestSize) return std::nullopt;
  TlshDigest d;
  std::memcpy(d.bytes.data(), bytes.data(), kTlshDigestSize);
  return d;
}

uint32_t TlshLengthDistance(uint32_t d) {
  return d <= 1 ? d : d * kLengthMult;
}

uint32_t TlshHeaderDistance(const TlshDigest& a, const TlshDigest& b) {
  return TlshLengthDistance(ModDiff(a.length_code(), b.length_code(), 256)) +
         QRatioDistance(ModDiff(a.q1_ratio(), b.q1_ratio(), 16)) +
         QRatioDistance(ModDiff(a.q2_ratio(), b.q2_ratio(), 16));
}

uint32_t TlshDistance(const TlshDigest& a, const TlshDigest& b) {
  uint32_t diff = TlshHeaderDistance(a, b);
  if (a.bytes[0] != b.bytes[0]) ++diff;  // the checksum
  for (size_t i = 3; i < kTlshDigestSize; ++i) diff += kCodeByteDistance[a.bytes[i]][b.bytes[i]];
  return diff;
}

TlshHasher::TlshHasher() : tlsh_(std::make_unique<Tlsh>()) {}
TlshHasher::~TlshHasher() = default;

std::optional<TlshDigest> TlshHasher::Hash(ByteView data) {
  if (data.size() < kTlshMinInput || data.size() > limits::kMaxTlshInputSize) return std::nullopt;
  tlsh_->reset();
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t pos = 0; pos < data.size(); pos += kChunk) {
    size_t n = std::min(kChunk, data.size() - pos);
    tlsh_->update(reinterpret_cast<const unsigned char*>(data.data() + pos), static_cast<unsigned int>(n));
  }
  tlsh_->final();
  char buf[256] = {};
  const char* hex = tlsh_->getHash(buf, sizeof buf);
  // Empty when libtlsh declined; a different length would be a libtlsh built with other options.
  if (hex == nullptr || std::strlen(hex) != kTlshHexLength) return std::nullopt;
  return ParseTlsh(hex);
}

std::optional<TlshDigest> ComputeTlsh(ByteView data) {
  TlshHasher h;
  return h.Hash(data);
}

std::string TlshLibraryVersion() {
  const char* v = Tlsh::version();
  return v == nullptr ? std::string() : std::string(v);
}

bool IsTlshSignatureFile(std::string_view file_name) {
  constexpr std::string_view kExt = ".tlsh";
  return file_name.size() > kExt.size() && file_name.substr(file_name.size() - kExt.size()) == kExt;
}

namespace {

Result<TlshSignature> ParseLine(std::string_view line, const std::function<std::string()>& where) {
  auto fail = [&](const std::string& what) { return InvalidArgument(where() + ": " + what); };
  if (line.size() > limits::kMaxSignatureLineLength) {
    return ResourceExhausted(where() + ": line of " + std::to_string(line.size()) +
                             " bytes, limit kMaxSignatureLineLength " +
                             std::to_string(limits::kMaxSignatureLineLength));
  }
  size_t c1 = line.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    return fail(std::string(c1 == std::string_view::npos ? "1 field" : "2 fields") +
                ", want TLSH:THRESHOLD:NAME");
  }
  if (line.find(':', c2 + 1) != std::string_view::npos) {
    return fail("more than 3 fields (a NAME has no ':'), want TLSH:THRESHOLD:NAME");
  }
  std::string_view hex = line.substr(0, c1), threshold = line.substr(c1 + 1, c2 - c1 - 1),
                   name = line.substr(c2 + 1);

  TlshSignature sig;
  std::string_view digits =
      hex.size() == 2 + kTlshHexLength && hex.substr(0, 2) == "T1" ? hex.substr(2) : hex;
  if (digits.size() != kTlshHexLength) {
    return fail("TLSH of " + std::to_string(hex.size()) + " characters, want " +
                std::to_string(kTlshHexLength) + " hex digits, or T1 and " + std::to_string(kTlshHexLength));
  }
  std::optional<TlshDigest> digest = ParseTlsh(hex);
  if (!digest) return fail("TLSH " + Quote(hex) + " is not hex");
  sig.digest = *digest;

  std::optional<uint64_t> t = ParseDecimal(threshold);
  if (!t) return fail("bad THRESHOLD " + Quote(threshold) + ", want a decimal without leading zeroes");
  if (*t > limits::kMaxTlshThreshold) {
    return fail("THRESHOLD " + std::to_string(*t) + " above kMaxTlshThreshold " +
                std::to_string(limits::kMaxTlshThreshold));
  }
  sig.threshold = static_cast<uint32_t>(*t);

  if (name.empty()) return fail("empty NAME");
  if (name.size() > limits::kMaxSignatureNameLength) {
    return ResourceExhausted(where() + ": NAME of " + std::to_string(name.size()) +
                             " bytes, limit kMaxSignatureNameLength " +
                             std::to_string(limits::kMaxSignatureNameLength));
  }
  if (!IsValidSignatureName(name)) {
    return fail("NAME " + Quote(name) +
                " has a control character, invalid UTF-8 or leading or trailing space");
  }
  sig.name = std::string(name);
  return sig;
}

}  // namespace

Result<TlshSignature> ParseTlshSignatureLine(std::string_view line, std::string_view where) {
  return ParseLine(line, [&] { return std::string(where); });
}

std::string FormatTlshSignatureLine(const TlshSignature& sig) {
  return sig.digest.ToString() + ":" + std::to_string(sig.threshold) + ":" + sig.name;
}

Status ForEachTlshSignature(ByteView text, std::string_view source_name,
                            const std::function<Status(TlshSignature&&)>& sink) {
  return ForEachSignatureLine(text, source_name, [&](std::string_view line, uint64_t line_no) -> Status {
    // `file:line`, formatted only when an error needs it.
    auto where = [&] { return std::string(source_name) + ":" + std::to_string(line_no); };
    ASSIGN_OR_RETURN(TlshSignature sig, ParseLine(line, where));
    Status s = sink(std::move(sig));
    if (!s.ok()) return s.WithContext(where());
    return Status::Ok();
  });
}

Result<std::vector<TlshSignature>> ParseTlshSignatures(ByteView text, std::string_view source_name) {
  std::vector<TlshSignature> out;
  RETURN_IF_ERROR(ForEachTlshSignature(text, source_name, [&](TlshSignature&& sig) {
    out.push_back(std::move(sig));
    return Status::Ok();
  }));
  return out;
}

}  // namespace accord::scan
