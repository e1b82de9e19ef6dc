// scan::ReadSis (Symbian installers) on arbitrary bytes.
//
// Properties: reader_fuzz.h's, with a member cap below what zlib data can expand to.
#include "reader_fuzz.h"
#include "scan/sis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  (void)fuzz::CheckReader(fuzz::AsBytes(data, size), scan::ReadSis, 1 << 16);
  return 0;
}
