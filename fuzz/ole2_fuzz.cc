// scan::ReadOle2 (compound files), and the OLE1 parsers of scan/ole1.h, on arbitrary bytes.
//
// Properties: reader_fuzz.h's; an input LooksLikeOle10Native accepts reads without DataLoss and
// yields exactly one member no longer than the input; an OLE1 object's native data lies inside
// the input.
#include "reader_fuzz.h"
#include "scan/ole1.h"
#include "scan/ole2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  (void)fuzz::CheckReader(in, scan::ReadOle2, 1 << 16);
  fuzz::ReaderRun package = fuzz::CheckReader(in, scan::ReadOle10Native);
  if (scan::LooksLikeOle10Native(in)) {
    FUZZ_CHECK(package.status.ok());
    FUZZ_CHECK(package.members == 1 && package.bytes <= in.size());
  }
  Result<scan::Ole1Object> object = scan::ParseOle1Object(in);
  if (object.ok()) {
    FUZZ_CHECK(object->sized_native.size() == object->native.size() + 4);
    FUZZ_CHECK(object->sized_native.data() >= in.data() &&
               object->sized_native.data() + object->sized_native.size() <= in.data() + in.size());
  }
  return 0;
}
