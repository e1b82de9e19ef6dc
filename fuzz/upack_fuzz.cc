// scan::ReadUpack (Upack 0.39: the stub pieces followed through their jumps, its LZMA stream (liblzma) and
// fix-ups into the memory image) and scan::LooksLikeUpack on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/upack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikeUpack(in);
  (void)fuzz::CheckReader(in, scan::ReadUpack, 1 << 20);
  return 0;
}
