// scan::Explode, scan::Inflate64 and scan::ListLegacyZipEntries/DecodeLegacyZipEntry (zip methods 6
// and 9, scan/zip_legacy.h) on arbitrary bytes. Byte 0 picks: 0 = implode data (byte 1: the
// general purpose flags, bytes 2-3: the size in units of 16 bytes), 1 = a deflate64 stream,
// else a zip archive.
//
// Properties: output never longer than the cap (and implode's never longer than its size); OK or
// DataLoss only (PermissionDenied for an encrypted entry), each error with a message; OK from
// Explode means exactly min(size, cap) bytes; listed entries have method 6 or 9 and local headers
// inside the input.
#include "fuzz_common.h"
#include "scan/reader.h"
#include "scan/zip_legacy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  if (size < 1) return 0;
  ByteView in = fuzz::AsBytes(data, size);
  constexpr uint64_t kCap = 1 << 16;
  Bytes out;
  auto check = [&](const Status& s, uint64_t cap) {
    FUZZ_CHECK(out.size() <= cap);
    FUZZ_CHECK(s.ok() || s.code() == Code::kDataLoss || s.code() == Code::kPermissionDenied);
    FUZZ_CHECK(s.ok() || !s.message().empty());
  };
  if (data[0] == 0) {
    if (size < 4) return 0;
    uint16_t flags = static_cast<uint8_t>(in[1]);
    uint64_t out_size = uint64_t{scan::Le16(in, 2)} * 16;
    Status s = scan::Explode(in.substr(4), flags, out_size, kCap, out);
    check(s, std::min(out_size, kCap));
    if (s.ok()) FUZZ_CHECK(out.size() == std::min(out_size, kCap));
  } else if (data[0] == 1) {
    check(scan::Inflate64(in.substr(1), kCap, out), kCap);
  } else {
    ByteView zip = in.substr(1);
    Result<std::vector<scan::LegacyZipEntry>> entries = scan::ListLegacyZipEntries(zip);
    if (!entries.ok()) {
      FUZZ_CHECK(entries.status().code() == Code::kDataLoss && !entries.status().message().empty());
      return 0;
    }
    for (const scan::LegacyZipEntry& e : *entries) {
      FUZZ_CHECK(e.method == 6 || e.method == 9);
      FUZZ_CHECK(e.local_header <= zip.size());
      check(scan::DecodeLegacyZipEntry(zip, e, kCap, out), kCap);
    }
  }
  return 0;
}
