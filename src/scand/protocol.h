// clamd's protocol, as `accord scand` speaks it: the command parser, the INSTREAM chunk decoder and
// the replies, all pure functions over bytes so that they can be tested and fuzzed without sockets.
//
// SPEC: docs/scand.md (the subset as a grammar, and where accord differs from clamd); clamd(8).
// A command is `z` NAME [SP ARG] NUL, `n` NAME [SP ARG] LF, or, for the old commands only, NAME
// [SP ARG] [LF] with one command per read (the "old style"). Replies end with the command's
// delimiter (NUL for z, LF otherwise) and, inside an IDSESSION, start with the request's number
// ("3: stream: OK").
// Thread-safety: pure functions; a StreamDecoder is owned by one connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scan/engine.h"

namespace accord::scand {

enum class Command : uint8_t {
  kUnknown,
  kPing,
  kVersion,
  kVersionCommands,
  kReload,
  kShutdown,  // SHUTDOWN, or its old name QUIT
  kScan,
  kContScan,
  kMultiScan,
  kAllMatchScan,
  kInstream,
  kFildes,
  kStats,
  kIdSession,
  kEnd,
};

std::string_view CommandName(Command c);
// Commands that take a path argument: SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN.
bool TakesPath(Command c);
// Commands clamd accepts inside an IDSESSION (clamd(8)): SCAN, INSTREAM, FILDES, VERSION,
// VERSIONCOMMANDS, PING, STATS and END.
bool AllowedInSession(Command c);

struct Request {
  Command command = Command::kUnknown;
  char term = '\n';       // the reply delimiter: '\0' after a z command, '\n' otherwise
  bool prefixed = false;  // sent as zCMD or nCMD
  std::string argument;   // the path of SCAN and the like; empty otherwise
  std::string text;       // the command as received, without prefix and delimiter (for logs)
};

struct Parsed {
  enum Kind {
    kNeedMore,  // no complete command yet: read more
    kCommand,   // `request` holds it (kUnknown for anything not understood); drop `consumed` bytes
    kTooLong,   // no delimiter within max_length bytes
  };
  Kind kind = kNeedMore;
  size_t consumed = 0;
  Request request;
};

// Finds the command at the start of `in`. `end_of_read` says that `in` ends where the last read
// from the socket ended: an old-style command without LF ends there (clamd's "one packet, one
// command"). FILDES also consumes the one byte that carries the passed descriptor after it.
Parsed ParseCommand(std::string_view in, bool end_of_read, size_t max_length);

// The bytes of a prefixed command, as a client sends it (tests, the fuzz target, the benchmark).
std::string FormatCommand(Command c, char prefix, std::string_view argument = {});

// INSTREAM's body: chunks of a 4-byte big-endian length and that many bytes, until a zero length.
class StreamDecoder {
 public:
  enum class State { kMore, kDone, kTooLarge };
  explicit StreamDecoder(uint64_t max_bytes = 0) : remaining_(max_bytes) {}
  // Appends the chunk bytes found in `in` to *out and sets *consumed to the bytes used. kDone: the
  // zero-length chunk was read (bytes after it are not consumed). kTooLarge: a chunk's length would
  // take the stream past max_bytes (clamd checks the length before the chunk's bytes arrive).
  State Feed(std::string_view in, size_t* consumed, std::string* out);
  uint64_t received() const { return received_; }
  // Bytes of the current chunk still to come (0 between chunks). A caller may read up to this many
  // bytes from the socket straight into its buffer and report them with TookChunkBytes: one copy
  // less for the bulk of a stream.
  uint32_t chunk_left() const { return chunk_left_; }
  void TookChunkBytes(uint32_t n) {
    chunk_left_ -= n;
    received_ += n;
  }

 private:
  uint64_t remaining_;
  uint64_t received_ = 0;
  uint32_t chunk_left_ = 0;
  std::string header_;  // a partial length prefix
  bool done_ = false, too_large_ = false;
};

// One reply: "ID: " (inside a session, id > 0) + text + term.
std::string Reply(uint32_t id, std::string_view text, char term);

// The lines that report one scanned item as clamd does, without id or delimiter: "NAME: VIRUS
// FOUND" for the first detection (every detection with all_matches), "NAME: MESSAGE ERROR" when it
// could not be scanned, and "NAME: OK" when ok_line and nothing was found. Heuristic notes about
// limits are not detections (clamd's AlertExceedsMax is off by default). `name` is escaped like
// accord scan's output, so that a path with a newline stays one line.
std::vector<std::string> ReportLines(const scan::FileReport& r, std::string_view name, bool all_matches,
                                     bool ok_line);

// What VERSION answers: "accord 0.1.0/DBVERSION/DBDATE" ("ClamAV 1.4.6/27000/Sat Nov 28 ..." from
// clamd); DBVERSION is the number of signatures loaded, DBDATE the newest database file's mtime.
std::string VersionText(std::string_view db_version);
// VERSIONCOMMANDS: the version, "| COMMANDS:" and the commands understood.
std::string VersionCommandsText(std::string_view db_version);

struct StatsInfo {
  size_t threads = 0, busy = 0, queued = 0, connections = 0;
  uint64_t requests = 0, stream_bytes = 0, reloads = 0;
  double rss_mb = 0;
};
// STATS, in clamd's layout (POOLS/STATE/THREADS/QUEUE/MEMSTATS/END), which monitoring scripts parse.
std::string StatsText(const StatsInfo& s);

}  // namespace accord::scand
