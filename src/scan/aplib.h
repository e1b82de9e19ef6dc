// aPLib's LZ format (Jørgen Ibsen's), as the depacker that FSG, MEW and PESpin copy into their
// stubs decodes it: bits read as scan/stub_bits.h says (from bytes, most significant first, whole
// bytes read in between), all 32-bit as the registers are.
//   stream  = byte (the first output byte) { item } end
//   item    = 0 byte                       a literal
//           | 1 1 1 bits(4)                one byte at distance 1-15, or a 0 byte if the bits are 0
//           | 1 1 0 byte                   byte >> 1 = distance (it becomes the last distance),
//                                          length 2 + (byte & 1)
//           | 1 0 gamma=2 gamma            after a literal or a 1 1 1 item: a match of gamma bytes
//                                          at the last distance
//           | 1 0 gamma=G byte gamma=L     a match at distance (G - 3) << 8 | byte after a literal
//                                          or a 1 1 1 item, (G - 2) << 8 | byte after a match, of
//                                          L bytes, + 1 from distance 0x500, + 1 more from 0x7d00,
//                                          + 2 under 0x80; it becomes the last distance
//   end     = 1 1 0 byte 0 or 1
//   gamma   = 1, then (v << 1) | bit while the bit after it is 1
// SPEC: aPLib's depacker sources are its description (not packaged in Debian); this decoder was
// written from the stub of ClamAV's test file clam-mew.exe and is checked by hand-made streams
// (mew_test.cc) whose expected bytes are built from what each code means.
// Thread-safety: a pure function.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan {

// Unpacks one stream from packed[*pos] to image[to] (to <= image.size()) as the stubs do; `packed` and
// `image` may be the same buffer (the stubs that unpack in place read what they wrote). *pos is left after
// the stream's last byte. `last` is the last distance (MEW keeps it from block to block). The stream may read
// and write `budget` bytes each; what it read and wrote is added to `*work`. What was unpacked stays in
// `image` on failure. DataLoss: a match reaching before image[0], output past the image's end, packed data
// past `packed`'s end. ResourceExhausted: more than `budget` read or written.
Status AplibUnpack(const Bytes& packed, size_t* pos, Bytes& image, size_t to, uint32_t* last, uint64_t budget,
                   uint64_t* work);

}  // namespace accord::scan
