// scan::ReadPdf, and its ASCIIHex and ASCII85 decoders, on arbitrary bytes.
//
// Properties: reader_fuzz.h's (with a member cap below what a deflate stream can expand to); the
// decoders respect their cap, ASCIIHex gives at most one byte per two input bytes (rounded up) and
// ASCII85 at most four per input byte.
#include "reader_fuzz.h"
#include "scan/pdf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)fuzz::CheckReader(in, scan::ReadPdf, 1 << 16);
  FUZZ_CHECK(scan::PdfAsciiHexDecode(in, 1 << 20).size() <= (in.size() + 1) / 2);
  FUZZ_CHECK(scan::PdfAsciiHexDecode(in, 7).size() <= 7);
  FUZZ_CHECK(scan::PdfAscii85Decode(in, 1 << 22).size() <= 4 * in.size());
  FUZZ_CHECK(scan::PdfAscii85Decode(in, 5).size() <= 5);
  return 0;
}
