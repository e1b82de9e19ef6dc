// The bit reader of several packers' x86 unpacking stubs (Petite; MEW and FSG, whose decoder is
// aPLib's): bits come from bytes, most significant first, the next byte loaded when the last
// one's 8 are used up (`add dl, dl; jnz; mov dl, [esi]; inc esi; adc dl, dl`, the 1 shifted in
// marking the end), whole bytes read in between from the same position. The stubs read the
// program's memory image in place, so this reads `image` as it is at each read (output written
// ahead of the position is read back, as in memory), from `pos` up to `end`; reading past `end`
// sets `bad` and gives zeros.
// Thread-safety: a value used by one thread.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace accord::scan {

struct StubBits {
  const Bytes& image;
  size_t pos, end;
  unsigned bits = 0;  // the bits left of the current byte, with a 1 below them (0: load a byte)
  bool bad = false;

  uint8_t Byte() {
    if (pos >= end) {
      bad = true;
      return 0;
    }
    return static_cast<uint8_t>(image[pos++]);
  }
  uint32_t Bit() {
    bits = (bits << 1) & 0x1ff;
    if ((bits & 0xff) == 0) bits = (unsigned{Byte()} << 1 | 1);
    uint32_t b = bits >> 8;
    bits &= 0xff;
    return b;
  }
  // Elias gamma as the stubs read it: 1, then (v << 1) | bit while the bit after it is 1; 32-bit
  // (it wraps as the registers do). 0 once `bad`.
  uint32_t Gamma() {
    uint32_t v = 1;
    do {
      v = v * 2 + Bit();
      if (bad) return 0;
    } while (Bit() != 0);
    return bad ? 0 : v;
  }
};

}  // namespace accord::scan
