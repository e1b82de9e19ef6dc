// scan::ReadMew (MEW 11 SE: the stub and its readers found through the headers, the aPLib blocks into the
// memory image) and scan::LooksLikeMew on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/mew.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikeMew(in);
  (void)fuzz::CheckReader(in, scan::ReadMew, 1 << 20);
  return 0;
}
