// scan::ReadUpx (UPX-packed programs: pack header, libucl NRV2B/D/E, embedded programs carved from
// the image), scan::FindEmbeddedPes and scan::ReadEmbeddedPes on arbitrary bytes.
//
// Properties: reader_fuzz.h's; carved programs lie inside the input and parse as PEs.
#include "reader_fuzz.h"
#include "scan/pe.h"
#include "scan/upx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)fuzz::CheckReader(in, scan::ReadUpx, 1 << 16);
  (void)fuzz::CheckReader(in, scan::ReadEmbeddedPes, 1 << 16);
  for (const scan::EmbeddedPe& e : scan::FindEmbeddedPes(in, 4)) {
    FUZZ_CHECK(e.offset > 0 && e.offset < size && e.size <= size - e.offset);
    FUZZ_CHECK(scan::ParsePe(in.substr(e.offset)).has_value());
  }
  return 0;
}
