// TLSH fuzzy hashes (Trend Micro's locality-sensitive hash) and accord's TLSH signature files (.tlsh),
// for detecting variants of known files: a signature matches an item whose TLSH is within the
// signature's distance threshold of the signature's TLSH.
//
// SPEC: docs/scan-database.md, "TLSH signature files" (the grammar) and "tlsh" (the database section).
// TLSH: J. Oliver, C. Cheng, Y. Chen, "TLSH - A Locality Sensitive Hash" (2013), as libtlsh 3.4.4
// (Debian's libtlsh0) computes it: 128 buckets, a 1-byte checksum, a 35-byte digest.
//
// Digests are written as libtlsh 3.4.4 prints them (`tlsh -f FILE`): 70 hex digits. Newer tlsh
// releases print digests with a version prefix, "T1" + the same 70 digits; ParseTlsh accepts both,
// and either case, and ToString gives the 70 upper-case digits, so one digest has one spelling here.
//
// Hashing: libtlsh gives no digest for fewer than kTlshMinInput bytes (256 in 3.4.4; newer releases
// take 50) or for data with too little variety (half of the 128 buckets or more empty: a run of one
// byte, a short text in a few letters). That is not an error: such an item simply has no TLSH and
// no TLSH signature can match it. libtlsh counts the length in 32 bits, so items of 4 GiB or more
// have no TLSH either (limits::kMaxTlshInputSize).
//
// Distance: TlshDistance is libtlsh's Tlsh::totalDiff with the length term (len_diff = true),
// reimplemented over the stored bytes so that a lookup needs no libtlsh object per signature; the
// tests check it against libtlsh and against the `tlsh` tool. 0 means the same digest; the
// largest possible distance is 2473. TLSH's authors suggest thresholds of about 30-50 for "almost
// the same file" and up to 100-200 for "related, with false positives"; the threshold is per
// signature, at most limits::kMaxTlshThreshold.
//
// Errors from the parser are InvalidArgument naming the file and the 1-based line, as in sigfile.h
// ("local.tlsh:3: bad THRESHOLD '1x'"); caps are ResourceExhausted and name the cap.
// Thread-safety: the free functions are pure; a TlshHasher belongs to one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

class Tlsh;  // libtlsh's, in the global namespace

namespace accord::scan {

namespace limits {
// TODO(scan): these belong in core/limits.h beside the log's caps.
inline constexpr uint32_t kMaxTlshThreshold = 1000;  // a signature's THRESHOLD (max distance 2473)
// Matches one lookup reports for one item and one database: the nearest; a limit finding says
// how many more there were (a database of near-identical signatures must not flood a report).
inline constexpr size_t kMaxTlshMatches = 256;
inline constexpr uint64_t kMaxTlshInputSize = 0xFFFFFFFFull;  // libtlsh's length is 32 bits
}  // namespace limits

inline constexpr size_t kTlshMinInput = 256;   // libtlsh 3.4.4's MIN_DATA_LENGTH
inline constexpr size_t kTlshDigestSize = 35;  // checksum, length, quartile ratios, 32 code bytes
inline constexpr size_t kTlshHexLength = 70;   // libtlsh 3.4.4's spelling
inline constexpr uint32_t kTlshMaxDistance = 2473;

// A digest as its 70-digit hex spelling decodes: byte 0 the checksum, byte 1 the length code and
// byte 2 the two quartile ratios (both with their nibbles swapped, as libtlsh writes them), then
// the 32 code bytes.
struct TlshDigest {
  std::array<uint8_t, kTlshDigestSize> bytes{};

  uint8_t length_code() const { return static_cast<uint8_t>(bytes[1] << 4 | bytes[1] >> 4); }  // "L"
  uint8_t q1_ratio() const { return bytes[2] >> 4; }
  uint8_t q2_ratio() const { return bytes[2] & 0x0f; }
  std::string ToString() const;  // 70 upper-case hex digits, as `tlsh -f` prints
  ByteView view() const { return ByteView(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }

  bool operator==(const TlshDigest&) const = default;
};

// 70 hex digits, or "T1" and 70 hex digits; either case. Anything else: nullopt.
std::optional<TlshDigest> ParseTlsh(std::string_view text);
// The same from the 35 stored bytes (database records); nullopt if not 35 bytes.
std::optional<TlshDigest> TlshDigestFromBytes(ByteView bytes);

// libtlsh's distance (totalDiff, length included). Symmetric; 0 for equal digests.
uint32_t TlshDistance(const TlshDigest& a, const TlshDigest& b);
// The part of the distance that the length code and the quartile ratios alone contribute: a lower
// bound on TlshDistance that costs three subtractions (the lookup's prefilter).
uint32_t TlshHeaderDistance(const TlshDigest& a, const TlshDigest& b);
// The distance that a difference of `d` (0..128) in length codes alone contributes.
uint32_t TlshLengthDistance(uint32_t d);

// Computes digests with libtlsh, reusing its state from one item to the next.
class TlshHasher {
 public:
  TlshHasher();
  ~TlshHasher();
  TlshHasher(const TlshHasher&) = delete;
  TlshHasher& operator=(const TlshHasher&) = delete;

  // The digest of `data`, or nullopt when libtlsh gives none (see above).
  std::optional<TlshDigest> Hash(ByteView data);

 private:
  std::unique_ptr<Tlsh> tlsh_;
};

// One call, one hasher: for tools and tests.
std::optional<TlshDigest> ComputeTlsh(ByteView data);
// libtlsh's version string ("3.4.4 compact hash 1 byte checksum").
std::string TlshLibraryVersion();

struct TlshSignature {
  TlshDigest digest;
  uint32_t threshold = 0;  // matches items at distance <= threshold
  std::string name;

  bool operator==(const TlshSignature&) const = default;
};

// True for a TLSH signature file's name (`*.tlsh`).
bool IsTlshSignatureFile(std::string_view file_name);

// Parses `text` line by line (`TLSH:THRESHOLD:NAME`, see docs), calling `sink` for each signature in
// order; stops at the first bad line or the first error `sink` returns. `source_name` is the file
// name used in errors. Memory stays bounded by one line.
[[nodiscard]] Status ForEachTlshSignature(ByteView text, std::string_view source_name,
                                          const std::function<Status(TlshSignature&&)>& sink);
// The same, collecting every signature.
[[nodiscard]] Result<std::vector<TlshSignature>> ParseTlshSignatures(ByteView text,
                                                                     std::string_view source_name);
// One line without its line end (tests, the fuzz target). `where` prefixes errors.
[[nodiscard]] Result<TlshSignature> ParseTlshSignatureLine(std::string_view line, std::string_view where);
// The line that ParseTlshSignatureLine reads back as `sig`.
std::string FormatTlshSignatureLine(const TlshSignature& sig);

}  // namespace accord::scan
