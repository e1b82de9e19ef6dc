// scan::ReadAspack (ASPack 2.12: the stub at the entry point, its Huffman-coded blocks into the
// memory image) and scan::LooksLikeAspack on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/aspack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikeAspack(in);
  (void)fuzz::CheckReader(in, scan::ReadAspack, 1 << 20);
  return 0;
}
