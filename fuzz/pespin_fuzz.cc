// scan::ReadPespin (PESpin 1.1: the stub's layers, the sections decrypted and unpacked into the
// memory image) and scan::LooksLikePespin on arbitrary bytes.
//
// Properties: reader_fuzz.h's.
#include "reader_fuzz.h"
#include "scan/pespin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikePespin(in);
  // The byte programs: the first 0x25 bytes as one, run over the rest.
  if (in.size() >= 0x25) (void)scan::RunPespinProgram(in.substr(0, 0x25), in.substr(0x25, 4096));
  (void)fuzz::CheckReader(in, scan::ReadPespin, 1 << 20);
  return 0;
}
