// scan::ReadWwpack (WWPack32 1.12: the stub's records, the LZ77 stream into the memory image) and
// scan::LooksLikeWwpack on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/wwpack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikeWwpack(in);
  (void)fuzz::CheckReader(in, scan::ReadWwpack, 1 << 20);
  return 0;
}
