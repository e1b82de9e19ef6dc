// scan::ReadSzdd, ReadKwaj and ReadChm (libmspack over memory) on the same arbitrary bytes, with a
// member cap smaller than what the inputs may declare.
//
// Properties: reader_fuzz.h's; SZDD and KWAJ yield at most one member.
#include "reader_fuzz.h"
#include "scan/mspack_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  FUZZ_CHECK(fuzz::CheckReader(in, scan::ReadSzdd, 1 << 16).members <= 1);
  FUZZ_CHECK(fuzz::CheckReader(in, scan::ReadKwaj, 1 << 16).members <= 1);
  (void)fuzz::CheckReader(in, scan::ReadChm, 1 << 16);
  return 0;
}
