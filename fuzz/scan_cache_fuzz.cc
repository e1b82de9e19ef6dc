// scan::ParseScanCache (the clean-file cache file of `accord scan`, docs/scan-cache.md) on arbitrary
// bytes, as they are and with the trailing checksum made to fit, so that mutations reach the record
// checks behind it.
//
// Properties: a file parses only under its own fingerprint; what parses is canonical (it is exactly
// what SerializeScanCache writes for the records: sorted, unique, the count and size agreeing) and
// within the record limit; everything else is DataLoss, or FailedPrecondition for a sound file of
// another fingerprint. Nothing crashes or reads out of bounds (sanitizers).
#include <algorithm>

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

void Check(ByteView in) {
  crypto::Hash fp = FingerprintIn(in);
  Result<std::vector<scan::CacheRecord>> records = scan::ParseScanCache(in, fp);
  if (!records.ok()) {
    FUZZ_CHECK(records.status().code() == Code::kDataLoss);
    return;
  }
  FUZZ_CHECK(records->size() <= accord::limits::kMaxScanCacheRecords);
  for (size_t i = 1; i < records->size(); ++i) FUZZ_CHECK(scan::KeyLess((*records)[i - 1], (*records)[i]));
  FUZZ_CHECK(scan::SerializeScanCache(fp, *records) == in);
  // The same file under any other fingerprint is foreign, not damaged.
  crypto::Hash other = fp;
  other[0] ^= 1;
  FUZZ_CHECK(scan::ParseScanCache(in, other).status().code() == Code::kFailedPrecondition);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = accord::fuzz::AsBytes(data, size);
  Check(in);
  if (in.size() >= scan::kCacheTrailerSize) {
    Bytes fixed(in.substr(0, in.size() - scan::kCacheTrailerSize));
    fixed.append(crypto::AsView(crypto::Sha256(fixed)));
    Check(fixed);
  }
  return 0;
}
