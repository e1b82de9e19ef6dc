// scan::ParseHashSignatures (.hdb/.hsb/.fp/.sfp text) and scan::Database::OpenBytes (.accdb images)
// on the same arbitrary bytes.
//
// Properties: every parsed signature is well-formed (digest length matches its kind, name valid,
// size within the cap) and formats back to a line that parses to the same signature; a database
// built from the parsed signatures opens, verifies, and finds each of them by digest and size under
// its name. An image that opens never makes a lookup crash or read out of bounds (sanitizers), lookups
// return only valid names and sources; and once Verify() passes, no lookup reports DataLoss.
#include <string>

#include "fuzz_common.h"
#include "scan/database.h"
#include "scan/sigfile.h"

namespace {

using namespace accord;

std::string FormatLine(const scan::HashSignature& s) {
  std::string line = HexEncode(s.digest) + ":" + (s.size ? std::to_string(*s.size) : "*") + ":" + s.name;
  if (s.min_flevel) line += ":" + std::to_string(*s.min_flevel);
  if (s.max_flevel) line += ":" + std::to_string(*s.max_flevel);
  return line;
}

void CheckParsed(ByteView in) {
  Result<std::vector<scan::HashSignature>> sigs = scan::ParseHashSignatures(in, "fuzz.hsb");
  if (!sigs.ok()) {
    FUZZ_CHECK(sigs.status().message().rfind("fuzz.hsb:", 0) == 0);
    return;
  }
  scan::DatabaseBuilder b;
  Result<uint32_t> src = b.AddSource(scan::SignatureFileSource("fuzz.hsb", in));
  FUZZ_CHECK(src.ok());
  constexpr size_t kMaxChecked = 2000;  // keeps one run fast on large inputs
  for (size_t i = 0; i < sigs->size() && i < kMaxChecked; ++i) {
    const scan::HashSignature& s = (*sigs)[i];
    FUZZ_CHECK(s.digest.size() == scan::DigestLength(s.kind));
    FUZZ_CHECK(scan::IsValidSignatureName(s.name));
    FUZZ_CHECK(!s.size || *s.size <= scan::limits::kMaxSignedFileSize);
    Result<scan::HashSignature> again = scan::ParseHashSignatureLine(FormatLine(s), "again");
    FUZZ_CHECK(again.ok() && *again == s);
    FUZZ_CHECK(b.AddHash(*src, s).ok());
  }
  Result<Bytes> image = b.Build();
  if (!image.ok()) {  // only a digest with too many names may be refused
    FUZZ_CHECK(image.status().code() == Code::kResourceExhausted);
    return;
  }
  Result<std::shared_ptr<const scan::Database>> db = scan::Database::OpenBytes(*image, "built.accdb");
  FUZZ_CHECK(db.ok());
  FUZZ_CHECK((*db)->Verify().ok());
  for (size_t i = 0; i < sigs->size() && i < kMaxChecked; ++i) {
    const scan::HashSignature& s = (*sigs)[i];
    Result<std::vector<scan::Match>> m = (*db)->LookupHash(s.kind, s.digest, s.size.value_or(12345));
    FUZZ_CHECK(m.ok());
    bool found = false;
    for (const scan::Match& x : *m) found |= x.name == s.name && x.size == s.size && x.source == *src;
    FUZZ_CHECK(found);
  }
}

void CheckOpened(ByteView in) {
  Result<std::shared_ptr<const scan::Database>> db = scan::Database::OpenBytes(Bytes(in), "fuzz.accdb");
  if (!db.ok()) return;
  const scan::Database& d = **db;
  bool verified = d.Verify().ok();
  // Probe with windows of the input itself: in a mutated real image they land on stored digests.
  auto probe = [&](scan::HashKind kind, ByteView digest) {
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{0xFFFFFFFE}, ~uint64_t{0}}) {
      Result<std::vector<scan::Match>> m = d.LookupHash(kind, digest, size);
      if (!m.ok()) {
        FUZZ_CHECK(!verified && m.status().code() == Code::kDataLoss);
        continue;
      }
      for (const scan::Match& x : *m) {
        FUZZ_CHECK(scan::IsValidSignatureName(x.name));
        FUZZ_CHECK(x.source < d.sources().size());
        FUZZ_CHECK(!x.size || *x.size == size);
      }
      (void)d.IsAllowed(kind, digest, size);
    }
  };
  for (scan::HashKind kind : {scan::HashKind::kMd5, scan::HashKind::kSha1, scan::HashKind::kSha256}) {
    size_t n = scan::DigestLength(kind);
    FUZZ_CHECK(d.HasKind(kind) == (d.SignatureCount(kind) + d.AllowedCount(kind) > 0));
    probe(kind, Bytes(n, '\0'));
    probe(kind, Bytes(n, '\xff'));
    for (size_t i = 0; i + n <= in.size() && i < 512; ++i) probe(kind, in.substr(i, n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = accord::fuzz::AsBytes(data, size);
  CheckParsed(in);
  CheckOpened(in);
  return 0;
}
