// Where a log is read from: its read path over HTTP(S) (c2sp.org/tlog-tiles) or a directory that
// holds the same files (a mirror, a USB stick, the node's own log directory).
//
// Nothing read here is trusted: a LogSource only fetches bytes, with size caps; callers check
// them (tlog::VerifyTree, the policy). Partial tiles that are gone read as NotFound, so
// tlog::ReadTileOrFull falls back to the full tile as clients must.
// Thread-safety: a LogSource is owned by one thread.
#pragma once

#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/status.h"
#include "tlog/tile.h"

namespace accord::update {

class LogSource : public tlog::TileReader {
 public:
  // The latest checkpoint, as served (a signed note, at most limits::kMaxNoteSize bytes).
  virtual Result<Bytes> ReadCheckpoint() = 0;
  // "https://host/prefix" or the directory, for messages.
  virtual const std::string& where() const = 0;
};

struct SourceOptions {
  std::string ca_cert;       // HTTPS: a CA file to trust instead of the system's
  int timeout_seconds = 30;  // HTTP: connect and read timeouts, and the most each request may take
};

// `from` is "http://HOST[:PORT][/PREFIX]", "https://..." or a directory. InvalidArgument for a
// URL that cannot be used; NotFound for a directory that does not exist.
Result<std::unique_ptr<LogSource>> OpenLogSource(const std::string& from, const SourceOptions& options = {});

}  // namespace accord::update
