// zlib/deflate decompression with an output cap, for the readers whose formats embed deflate
// streams (PDF /FlateDecode, PowerPoint's compressed embedded objects).
// Thread-safety: pure function.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan {

// Inflates `in` (a zlib stream; a raw deflate stream if it has no zlib header) into `out`, at most
// `cap` bytes. OK if the stream ended within the cap or the cap was reached (`out` is then exactly
// `cap` bytes); DataLoss if the stream is damaged or truncated, with what came before in `out`
// (PDF writers often leave a stream's end out, and what was decoded is still worth scanning).
Status InflateCapped(ByteView in, uint64_t cap, Bytes& out);

// The same for a raw deflate stream (no zlib header is looked for), appending to `out`: at most
// `cap` bytes in `out` in all.
Status InflateRawAppend(ByteView in, uint64_t cap, Bytes& out);

// The same for many raw deflate streams in a row (InstallShield's chunks), one zlib state reset
// between them rather than made anew. Not thread-safe; one per reader call.
class RawInflater {
 public:
  RawInflater();
  ~RawInflater();
  RawInflater(const RawInflater&) = delete;
  RawInflater& operator=(const RawInflater&) = delete;
  Status Append(ByteView in, uint64_t cap, Bytes& out);

 private:
  struct State;
  State* state_;
};

}  // namespace accord::scan
