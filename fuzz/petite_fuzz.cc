// scan::ReadPetite (Petite 2.x: the stub's records, moves and LZ blocks in the memory image) and
// scan::LooksLikePetite on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/petite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikePetite(in);
  (void)fuzz::CheckReader(in, scan::ReadPetite, 1 << 20);
  return 0;
}
