// NSIS's bzip2: bzip2's blocks (Burrows-Wheeler, move-to-front, Huffman, the two run-length
// stages) without bzip2's framing, which no Debian library reads. An NSIS bzip2 stream is
//
//   stream = { block } end
//   block  = 0x31 origPtr:24 mapping selectors tables symbols     (bit-packed, most significant
//   end    = 0x17                                                   bit first, no byte alignment)
//
// where each field after the first byte is bzip2's (bzip2 1.0's decompress.c): no "BZh" stream
// header (the block size is always 9, 900,000 bytes), no 0x314159265359 / 0x177245385090 magic
// (one byte each instead), no block or stream CRC and no randomised bit. Each block's final
// run-length stage starts afresh, as in bzip2.
//
// Damage is DataLoss, never a crash: every count, code length, selector and table index is
// checked against the block it belongs to, so a hostile stream costs at most one block's decode
// (900,000 symbols) per 0x31 byte. Without CRCs, a damaged block that still parses decodes into
// wrong bytes; the scanner sees them as they are.
//
// SPEC: NSIS's Source/bzip2 (decompress.c, the modified framing); bzip2 1.0's decompress.c.
// Thread-safety: one object per stream; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan {

class NsisBzip2Decoder {
 public:
  // `in` must outlive the decoder.
  explicit NsisBzip2Decoder(ByteView in);
  ~NsisBzip2Decoder();
  NsisBzip2Decoder(const NsisBzip2Decoder&) = delete;
  NsisBzip2Decoder& operator=(const NsisBzip2Decoder&) = delete;

  // Up to `n` bytes into `buf`: `got` of them written, `end` once the stream's end mark was read
  // and everything before it returned. DataLoss when the stream is damaged or cut (what was
  // decoded before the damage has been returned by earlier calls or this one).
  Status Read(char* buf, size_t n, size_t& got, bool& end);

 private:
  struct Block;
  Status NextBlock();  // reads a block header or the end mark

  ByteView in_;
  uint64_t bit_ = 0;  // position in `in_`, in bits
  std::unique_ptr<Block> block_;
  bool ended_ = false;
  bool failed_ = false;
  Status failure_;
};

}  // namespace accord::scan
