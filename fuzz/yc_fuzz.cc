// scan::ReadYc (programs encrypted with yoda's Crypter: the stub's prologue, its two decryption
// loops read as cipher steps, the sections decrypted) and scan::LooksLikeYc on arbitrary bytes.
//
// Properties: reader_fuzz.h's; a member is never longer than the input (decryption keeps the file's
// layout), and a program the reader decrypted is not taken for another.
#include "reader_fuzz.h"
#include "scan/yc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)scan::LooksLikeYc(in);
  (void)fuzz::CheckReader(in, scan::ReadYc, 1 << 16);
  (void)scan::ReadYc(in, {}, [&](scan::ReaderMember&& m) {
    FUZZ_CHECK(m.data.size() <= size);
    FUZZ_CHECK(!scan::LooksLikeYc(m.data));
    return true;
  });
  return 0;
}
