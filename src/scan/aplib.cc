#include "scan/aplib.h"

#include <algorithm>

#include "scan/stub_bits.h"

namespace accord::scan {

Status AplibUnpack(const Bytes& packed, size_t* pos, Bytes& image, size_t to, uint32_t* last, uint64_t budget,
                   uint64_t* work) {
  StubBits in{packed, *pos, static_cast<size_t>(std::min<uint64_t>(packed.size(), *pos + budget))};
  size_t out = to;
  const uint64_t room = std::min<uint64_t>(image.size() - to, budget);
  Status status = [&]() -> Status {
    auto full = [&]() -> Status {
      return out - to >= budget ? ResourceExhausted("it unpacks more than the container may still produce")
                                : DataLoss("it unpacks past the image");
    };
    auto copy = [&](uint64_t distance, uint64_t count) -> Status {  // may overlap, as in memory
      if (distance > out) return DataLoss("a match reaches before the image");
      const uint64_t fits = std::min<uint64_t>(count, room - (out - to));
      for (uint64_t i = 0; i < fits; ++i, ++out) image[out] = image[out - distance];
      return fits < count ? full() : Status::Ok();
    };
    auto put = [&](char b) -> Status {
      if (out - to >= room) return full();
      image[out++] = b;
      return Status::Ok();
    };
    uint8_t first = in.Byte();
    if (in.bad) return Status::Ok();  // reported below
    RETURN_IF_ERROR(put(static_cast<char>(first)));
    bool after_literal = true;  // the stub's dh: after a literal or a 1 1 1 item
    while (!in.bad) {
      if (in.Bit() == 0) {
        uint8_t b = in.Byte();
        if (in.bad) break;
        RETURN_IF_ERROR(put(static_cast<char>(b)));
        after_literal = true;
        continue;
      }
      if (in.Bit() == 0) {  // 1 0: gamma codes (`add dh, dh; sbb ecx, 1`)
        const uint32_t g = in.Gamma() - 1 - (after_literal ? 1 : 0);
        uint32_t length = 0;
        if (g == 0) {
          length = in.Gamma();
        } else {
          const uint32_t distance = (g - 1) << 8 | in.Byte();
          length = in.Gamma();
          if (distance >= 0x7d00) {
            length += 2;
          } else if (distance >= 0x500) {
            length += 1;
          } else if (distance <= 0x7f) {
            length += 2;
          }
          *last = distance;
        }
        if (in.bad) break;
        RETURN_IF_ERROR(copy(*last, length));
        after_literal = false;
        continue;
      }
      if (in.Bit() == 0) {  // 1 1 0: a short match, or the end
        const uint32_t b = in.Byte();
        if (in.bad) break;
        if (b >> 1 == 0) return Status::Ok();
        *last = b >> 1;
        RETURN_IF_ERROR(copy(*last, 2 + (b & 1)));
        after_literal = false;
        continue;
      }
      uint32_t distance = 0;  // 1 1 1: one byte near, or a 0 (the last distance is kept)
      for (int i = 0; i < 4; ++i) distance = distance * 2 + in.Bit();
      if (in.bad) break;
      RETURN_IF_ERROR(distance != 0 ? copy(distance, 1) : put('\0'));
      after_literal = true;
    }
    return Status::Ok();
  }();
  *work += (in.pos - *pos) + (out - to);
  if (status.ok() && in.bad) {
    return in.end < packed.size() ? ResourceExhausted("it reads more than the container may still produce")
                                  : DataLoss("its packed data runs past the image");
  }
  *pos = in.pos;
  return status;
}

}  // namespace accord::scan
