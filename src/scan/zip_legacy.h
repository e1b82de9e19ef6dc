// Zip members in the two methods libarchive 3.6 does not decode, which the walker
// (scan/container.h) hands here when libarchive reports a member "unsupported":
//   6  imploding (PKZIP 1.x): LZ77 over a 4 or 8 KiB window, Shannon-Fano coded, with two or three
//      trees stored before the data (general purpose flag bit 1: 8 KiB window; bit 2: a literal tree)
//   9  deflate64 ("enhanced deflating", what Windows' zip folders write for large files): deflate
//      with a 64 KiB window, length code 285 = 3 + 16 extra bits, distance codes 30 and 31
//      (32,769 and 49,153 + 14 extra bits)
// SPEC: PKWARE APPNOTE.TXT 6.3.10, §4.3.7-4.3.16 (headers), §4.4.4 (flags), §5.3 (imploding);
// RFC 1951 (deflate) for deflate64's base.
//
// Every decoder: at most `cap` bytes out; OK when the stream ended or the cap was reached (`out` is
// then exactly `cap` bytes); DataLoss when the stream is damaged or ends early, with what came
// before in `out`. Time is linear in input plus output.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan {

// Imploded data of `size` bytes (the entry's uncompressed size) with general purpose `flags`.
// Bytes before the start of the output read as zeros, as PKZIP's and Info-ZIP's explode have them.
Status Explode(ByteView in, uint16_t flags, uint64_t size, uint64_t cap, Bytes& out);

// A raw deflate64 stream (also plain deflate, of which it is a superset in all but code 285).
Status Inflate64(ByteView in, uint64_t cap, Bytes& out);

// An entry of method 6 or 9 found in a zip's central directory.
struct LegacyZipEntry {
  std::string raw_name;  // as stored
  uint16_t method = 0;
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0, size = 0;
  uint64_t local_header = 0;  // offset in the buffer given to ListLegacyZipEntries
};

// The method 6 and 9 entries of the zip `zip`, in the order of their local headers (the order
// libarchive reads members in). An archive with data before it (a self-extractor, or a zip whose
// offsets count from elsewhere) is placed by its end-of-central-directory record. DataLoss when the
// central directory cannot be read; the walk is bounded by the directory's size (46 bytes at
// least per entry).
Result<std::vector<LegacyZipEntry>> ListLegacyZipEntries(ByteView zip);

// Decodes one entry of ListLegacyZipEntries(zip), as the decoders above (CRC-32 checked when the
// whole entry was decoded; a mismatch is DataLoss). PermissionDenied: the entry is encrypted.
Status DecodeLegacyZipEntry(ByteView zip, const LegacyZipEntry& entry, uint64_t cap, Bytes& out);

}  // namespace accord::scan
