// scan::ParseScanCache (the scan cache file of `accord scan`, docs/scan-cache.md) on arbitrary bytes,
// as they are and with the trailing checksum made to fit, so that mutations reach the record and
// findings checks behind it.
//
// Properties: a file parses only under its own fingerprint; what parses is canonical (it is exactly
// what SerializeScanCache writes for the records: sorted, unique, the counts, sizes and findings
// offsets agreeing) and within the record limits; everything else is DataLoss, or
// FailedPrecondition for a sound file of another fingerprint or format version. A file that parses
// answers a lookup for each of its records with that record's report (ScanCache::Lookup searches
// the file in place, not the parsed records). Nothing crashes or reads out of bounds (sanitizers).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/limits.h"
#include "crypto/sha256.h"
#include "fuzz_common.h"
#include "scan/cache.h"

namespace {

using namespace accord;

crypto::Hash FingerprintIn(ByteView in) {
  crypto::Hash fp{};
  if (in.size() >= 48) std::copy_n(in.data() + 16, 32, fp.begin());
  return fp;
}

// The version field, if there is one; a sound file of another version is foreign, not damaged.
bool OtherVersion(ByteView in) {
  return in.size() >= 12 && in.substr(8, 4) != ByteView("\x03\0\0\0", 4);
}

void Check(ByteView in) {
  crypto::Hash fp = FingerprintIn(in);
  Result<std::vector<scan::CacheRecord>> records = scan::ParseScanCache(in, fp);
  if (!records.ok()) {
    FUZZ_CHECK(records.status().code() == Code::kDataLoss ||
               (records.status().code() == Code::kFailedPrecondition && OtherVersion(in)));
    return;
  }
  FUZZ_CHECK(records->size() <= accord::limits::kMaxScanCacheRecords);
  for (size_t i = 1; i < records->size(); ++i) FUZZ_CHECK(scan::KeyLess((*records)[i - 1], (*records)[i]));
  for (const auto& r : *records)
    for (const auto& f : r.findings) FUZZ_CHECK(f.path.empty() || f.path[0] == '!');
  FUZZ_CHECK(scan::SerializeScanCache(fp, *records) == in);
  // The same file under any other fingerprint is foreign, not damaged.
  crypto::Hash other = fp;
  other[0] ^= 1;
  FUZZ_CHECK(scan::ParseScanCache(in, other).status().code() == Code::kFailedPrecondition);
}

// The in-place lookup of a cache file that parses agrees with its parsed records.
void CheckLookups(ByteView in) {
  crypto::Hash fp = FingerprintIn(in);
  auto records = scan::ParseScanCache(in, fp);
  static const std::array<uint8_t, 16> kHash = scan::PathHash("p", "o");
  if (!records.ok() || records->size() > 64) return;
  // The seeds' records are for the path "p" owned by "o"; the other paths are not known.
  if (std::none_of(records->begin(), records->end(), [](const auto& r) { return r.path_hash == kHash; }))
    return;
  // A private file for ScanCache::Open, removed at exit.
  static const struct TempCache {
    TempCache() {
      char tmpl[] = "/tmp/accord-fuzz-scan-cache-XXXXXX";
      if (::mkdtemp(tmpl)) dir = tmpl;
      path = dir + "/scan.cache";
    }
    ~TempCache() {
      ::unlink(path.c_str());
      ::rmdir(dir.c_str());
    }
    std::string dir, path;
  } temp;
  {
    std::ofstream out(temp.path, std::ios::binary | std::ios::trunc);  // no fsync: thousands of inputs
    out << in;
    if (!out.flush()) return;
  }
  if (::chmod(temp.path.c_str(), 0600) != 0) return;
  std::string warning;
  auto cache = scan::ScanCache::Open(temp.path, fp, 0, &warning);
  FUZZ_CHECK(warning.empty() && cache->loaded() == records->size());
  for (const auto& r : *records) {
    if (r.path_hash != kHash) continue;
    scan::FileReport report;
    FUZZ_CHECK(cache->Lookup(r.stamp, "p", "o", &report));
    FUZZ_CHECK(report.findings.size() == r.findings.size());
    for (size_t i = 0; i < r.findings.size(); ++i)
      FUZZ_CHECK(report.findings[i].path == "p" + r.findings[i].path);
    FUZZ_CHECK(report.bytes_scanned == r.scanned_bytes && report.size == r.stamp.size);
    FUZZ_CHECK(report.sha256.empty() == !r.has_sha256);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = accord::fuzz::AsBytes(data, size);
  Check(in);
  if (in.size() >= scan::kCacheTrailerSize) {
    Bytes fixed(in.substr(0, in.size() - scan::kCacheTrailerSize));
    fixed.append(crypto::AsView(crypto::Sha256(fixed)));
    Check(fixed);
    CheckLookups(fixed);
  }
  return 0;
}
