// scand::ParseCommand (clamd's z/n/old-style commands) and scand::StreamDecoder (INSTREAM's chunks)
// on arbitrary bytes: what a hostile client of `accord scand` can send.
//
// Byte 0 chooses end_of_read (bit 0) and a command length cap (bits 1-3: 8 << n bytes); byte 1 the
// piece size for the stream decoder (1-256). The rest is the client's bytes.
// Properties: the parser never claims more bytes than it has, makes progress on every command, and
// gives the same command for a prefix that ends with it; a prefixed command formats back to bytes
// that parse to the same command and argument; path commands carry a path, others none. The decoder
// gives the same bytes and state whether fed whole or in pieces, never passes its limit, and stops
// exactly after the empty chunk.
#include <string>

#include "fuzz_common.h"
#include "scand/protocol.h"

namespace {

using namespace accord;
using scand::Command;
using scand::Parsed;

void CheckCommands(ByteView in, bool end_of_read, size_t max) {
  ByteView rest = in;
  for (int n = 0; n < 10000 && !rest.empty(); ++n) {
    Parsed p = scand::ParseCommand(rest, end_of_read, max);
    FUZZ_CHECK(p.consumed <= rest.size());
    if (p.kind != Parsed::kCommand) {
      FUZZ_CHECK(p.consumed == 0);
      if (p.kind == Parsed::kTooLong) FUZZ_CHECK(rest.size() > max);
      return;
    }
    FUZZ_CHECK(p.consumed > 0);
    const scand::Request& r = p.request;
    FUZZ_CHECK(r.term == '\0' || r.term == '\n');
    FUZZ_CHECK(scand::TakesPath(r.command) == !r.argument.empty());
    FUZZ_CHECK(r.text.size() <= max);
    if (r.prefixed) {
      // The same command, cut right after it, parses the same way.
      Parsed again = scand::ParseCommand(rest.substr(0, p.consumed), false, max);
      FUZZ_CHECK(again.kind == Parsed::kCommand && again.consumed == p.consumed);
      FUZZ_CHECK(again.request.command == r.command && again.request.argument == r.argument);
      if (r.command != Command::kUnknown) {
        char prefix = r.term == '\0' ? 'z' : 'n';
        std::string bytes = scand::FormatCommand(r.command, prefix, r.argument);
        if (r.command == Command::kFildes) bytes.push_back('\0');
        Parsed round = scand::ParseCommand(bytes, false, bytes.size() + 8);
        FUZZ_CHECK(round.kind == Parsed::kCommand && round.consumed == bytes.size());
        FUZZ_CHECK(round.request.command == r.command && round.request.argument == r.argument);
      }
    }
    rest.remove_prefix(p.consumed);
  }
}

void CheckStream(ByteView in, size_t piece, uint64_t max) {
  scand::StreamDecoder whole(max);
  std::string out_whole;
  size_t used_whole = 0;
  auto st_whole = whole.Feed(in, &used_whole, &out_whole);
  FUZZ_CHECK(used_whole <= in.size());
  FUZZ_CHECK(out_whole.size() <= max && whole.received() == out_whole.size());
  if (st_whole == scand::StreamDecoder::State::kDone) FUZZ_CHECK(used_whole >= 4);

  scand::StreamDecoder pieces(max);
  std::string out_pieces;
  size_t used_total = 0;
  auto st = scand::StreamDecoder::State::kMore;
  while (st == scand::StreamDecoder::State::kMore && used_total < in.size()) {
    size_t used = 0;
    st = pieces.Feed(in.substr(used_total, piece), &used, &out_pieces);
    used_total += used;
    if (used == 0) break;
  }
  FUZZ_CHECK(st == st_whole);
  FUZZ_CHECK(out_pieces == out_whole);
  if (st == scand::StreamDecoder::State::kDone) FUZZ_CHECK(used_total == used_whole);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  accord::fuzz::FuzzInput input(accord::fuzz::AsBytes(data, size));
  uint8_t flags = input.Byte();
  size_t piece = size_t(input.Byte()) + 1;
  ByteView rest = input.Rest();
  size_t max = size_t{8} << ((flags >> 1) & 7);
  CheckCommands(rest, flags & 1, max);
  CheckStream(rest, piece, max * 16);
  return 0;
}
