// scan::ParseTlshSignatures (.tlsh text), the TLSH table of scan::Database::OpenBytes (.accdb images)
// and scan::TlshHasher, on the same arbitrary bytes.
//
// Properties: every parsed signature is well-formed (name valid, threshold within the cap) and
// formats back to a line that parses to the same signature; a database built from the parsed
// signatures opens, verifies, and finds each of them at distance 0 under its name and source (or
// says how many nearer-or-equal matches it dropped); the lookup equals a brute-force scan. An image
// that opens never makes a TLSH lookup crash or read out of bounds (sanitizers), returns only valid
// names and sources within their thresholds; and once Verify() passes, no lookup reports DataLoss.
// The input's own TLSH, if it has one, spells back to itself, and distances are symmetric and
// bounded below by their header part.
#include <algorithm>
#include <string>

#include "fuzz_common.h"
#include "scan/database.h"
#include "scan/tlsh.h"

namespace {

using namespace accord;

void CheckParsed(ByteView in) {
  Result<std::vector<scan::TlshSignature>> sigs = scan::ParseTlshSignatures(in, "fuzz.tlsh");
  if (!sigs.ok()) {
    FUZZ_CHECK(sigs.status().message().rfind("fuzz.tlsh:", 0) == 0);
    return;
  }
  scan::DatabaseBuilder b;
  Result<uint32_t> src = b.AddSource(scan::SignatureFileSource("fuzz.tlsh", in));
  FUZZ_CHECK(src.ok());
  constexpr size_t kMaxChecked = 500;  // keeps one run fast on large inputs
  size_t n = std::min(sigs->size(), kMaxChecked);
  for (size_t i = 0; i < n; ++i) {
    const scan::TlshSignature& s = (*sigs)[i];
    FUZZ_CHECK(scan::IsValidSignatureName(s.name));
    FUZZ_CHECK(s.threshold <= scan::limits::kMaxTlshThreshold);
    Result<scan::TlshSignature> again =
        scan::ParseTlshSignatureLine(scan::FormatTlshSignatureLine(s), "again");
    FUZZ_CHECK(again.ok() && *again == s);
    FUZZ_CHECK(scan::ParseTlsh(s.digest.ToString()) == s.digest);
    FUZZ_CHECK(b.AddTlsh(*src, s).ok());
  }
  Result<Bytes> image = b.Build();
  FUZZ_CHECK(image.ok());
  Result<std::shared_ptr<const scan::Database>> db = scan::Database::OpenBytes(*image, "built.accdb");
  FUZZ_CHECK(db.ok());
  FUZZ_CHECK((*db)->Verify().ok());
  for (size_t i = 0; i < n && i < 50; ++i) {
    const scan::TlshSignature& s = (*sigs)[i];
    Result<scan::TlshLookup> m = (*db)->LookupTlsh(s.digest);
    FUZZ_CHECK(m.ok());
    bool found = false;
    size_t want = 0;
    for (size_t j = 0; j < n; ++j) {
      const scan::TlshSignature& t = (*sigs)[j];
      if (scan::TlshDistance(s.digest, t.digest) <= t.threshold) ++want;
    }
    for (const scan::TlshMatch& x : m->matches) {
      found |= x.name == s.name && x.distance == 0 && x.threshold == s.threshold && x.source == *src;
      FUZZ_CHECK(x.distance <= x.threshold);
    }
    // Exact duplicates collapse, so the database may hold fewer than the file's lines.
    FUZZ_CHECK(m->matches.size() + m->more <= want);
    FUZZ_CHECK(found || m->more > 0);
  }
}

void CheckOpened(ByteView in) {
  Result<std::shared_ptr<const scan::Database>> db = scan::Database::OpenBytes(Bytes(in), "fuzz.accdb");
  if (!db.ok()) return;
  const scan::Database& d = **db;
  bool verified = d.Verify().ok();
  auto probe = [&](ByteView bytes) {
    std::optional<scan::TlshDigest> digest = scan::TlshDigestFromBytes(bytes);
    if (!digest) return;
    Result<scan::TlshLookup> m = d.LookupTlsh(*digest);
    if (!m.ok()) {
      FUZZ_CHECK(!verified && m.status().code() == Code::kDataLoss);
      return;
    }
    FUZZ_CHECK(m->matches.size() <= scan::limits::kMaxTlshMatches);
    for (const scan::TlshMatch& x : m->matches) {
      FUZZ_CHECK(scan::IsValidSignatureName(x.name));
      FUZZ_CHECK(x.source < d.sources().size());
      FUZZ_CHECK(x.distance <= x.threshold && x.threshold <= scan::limits::kMaxTlshThreshold);
    }
  };
  probe(Bytes(scan::kTlshDigestSize, '\0'));
  // Windows of the input itself: in a mutated real image they land on stored digests.
  for (size_t i = 0; i + scan::kTlshDigestSize <= in.size() && i < 256; ++i) {
    probe(in.substr(i, scan::kTlshDigestSize));
  }
}

void CheckHashed(ByteView in) {
  scan::TlshHasher hasher;
  std::optional<scan::TlshDigest> digest = hasher.Hash(in);
  if (!digest) return;
  FUZZ_CHECK(in.size() >= scan::kTlshMinInput);
  FUZZ_CHECK(scan::ParseTlsh(digest->ToString()) == digest);
  FUZZ_CHECK(scan::ParseTlsh("T1" + digest->ToString()) == digest);
  FUZZ_CHECK(scan::TlshDistance(*digest, *digest) == 0);
  if (in.size() >= 2 * scan::kTlshDigestSize) {
    scan::TlshDigest other = *scan::TlshDigestFromBytes(in.substr(in.size() - scan::kTlshDigestSize));
    uint32_t d = scan::TlshDistance(*digest, other);
    FUZZ_CHECK(d == scan::TlshDistance(other, *digest));
    FUZZ_CHECK(scan::TlshHeaderDistance(*digest, other) <= d && d <= scan::kTlshMaxDistance);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = accord::fuzz::AsBytes(data, size);
  CheckParsed(in);
  CheckOpened(in);
  CheckHashed(in);
  return 0;
}
