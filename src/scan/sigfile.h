// ClamAV hash signature files: .hdb, .hsb (detections) and .fp, .sfp (allow-lists).
//
// SPEC: https://docs.clamav.net/manual/Signatures/HashSignatures.html
//
// Every line is `HASH:SIZE:NAME[:FLEVEL[:MAXFLEVEL]]`:
//   HASH   hex, either case: 32 digits MD5, 40 SHA-1, 64 SHA-256, in any of the four file types
//          (ClamAV decides by length too). Stored as raw bytes.
//   SIZE   the file size in bytes, decimal without sign or leading zeroes, at most kMaxSignedFileSize;
//          or `*` for any size.
//   NAME   non-empty UTF-8 without control characters, without leading or trailing space, at most
//          kMaxSignatureNameLength bytes. ClamAV reports it with ".UNOFFICIAL" appended; we do not.
//   FLEVEL, MAXFLEVEL  ClamAV engine functionality levels, decimal. They are checked (FLEVEL <=
//          MAXFLEVEL) and returned, but accord has no functionality levels and does not act on them:
//          a signature that ClamAV would skip for its level is still a signature here.
// Lines end with LF or CRLF; the last line may lack one. A line starting with '#' is a comment (as in
// ClamAV). An empty line is skipped (ClamAV 1.4 refuses a file with one; we accept it). Nothing else
// is lenient: no surrounding whitespace, no empty fields, no extra fields. ClamAV wants `*` sizes to
// carry FLEVEL >= 73; accord does not require it.
//
// Errors are InvalidArgument and name the file and the 1-based line: "main.hsb:17: bad SIZE '12x'".
// Caps (scan::limits below) are ResourceExhausted and name the cap.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan {

namespace limits {
// TODO(scan): these belong in core/limits.h beside the log's caps.
inline constexpr size_t kMaxSignatureFileSize = size_t{2} << 30;  // one .hdb/.hsb/.fp/.sfp file
inline constexpr size_t kMaxSignatureLineLength = 4096;           // bytes, without the line end
inline constexpr size_t kMaxSignatureNameLength = 1024;
// A signature's SIZE is stored in 32 bits, with all ones meaning "any size" (database.h).
inline constexpr uint64_t kMaxSignedFileSize = 0xFFFFFFFEull;
}  // namespace limits

enum class HashKind : uint8_t { kMd5 = 0, kSha1 = 1, kSha256 = 2 };
inline constexpr int kHashKindCount = 3;

size_t DigestLength(HashKind kind);            // 16, 20, 32
std::string_view HashKindName(HashKind kind);  // "MD5", "SHA-1", "SHA-256"
std::optional<HashKind> HashKindForLength(size_t digest_bytes);

struct HashSignature {
  HashKind kind = HashKind::kSha256;
  Bytes digest;                  // DigestLength(kind) raw bytes
  std::optional<uint64_t> size;  // nullopt: any size (`*`)
  std::string name;
  std::optional<uint32_t> min_flevel, max_flevel;  // parsed, not acted on (see above)

  bool operator==(const HashSignature&) const = default;
};

// What a hash file is for, from its extension: .hdb/.hsb detect, .fp/.sfp allow. Other names: nullopt.
enum class HashFileRole { kDetect, kAllow };
std::optional<HashFileRole> HashFileRoleFor(std::string_view file_name);

// Parses `text` line by line, calling `sink` for each signature in order; stops at the first bad line
// or the first error `sink` returns, and returns it. `source_name` is the file name used in errors.
// Memory stays bounded by one line, so a caller can stream a large file into a database builder.
// The signature lines of a text signature file (.hdb/.hsb/.fp/.sfp, .tlsh): LF or CRLF ends a line,
// blank lines and '#' comments are skipped, `fn` gets every other line with its number. The file
// is refused over kMaxSignatureFileSize and any line over kMaxSignatureLineLength ("file:line: ...").
[[nodiscard]] Status ForEachSignatureLine(ByteView text, std::string_view source_name,
                                          const std::function<Status(std::string_view, uint64_t)>& fn);
[[nodiscard]] Status ForEachHashSignature(ByteView text, std::string_view source_name,
                                          const std::function<Status(HashSignature&&)>& sink);

// The same, collecting every signature.
[[nodiscard]] Result<std::vector<HashSignature>> ParseHashSignatures(ByteView text,
                                                                     std::string_view source_name);

// One line without its line end (exposed for tests and the fuzz target). `where` prefixes errors.
[[nodiscard]] Result<HashSignature> ParseHashSignatureLine(std::string_view line, std::string_view where);

// True if `name` is acceptable as a signature name (the NAME rules above).
bool IsValidSignatureName(std::string_view name);

}  // namespace accord::scan
