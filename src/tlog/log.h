// A transparency log in a directory: C2SP tiles as served, a sequencer that makes appends
// durable, and the checks an auditor runs on a copy.
//
// Layout (docs/log-format.md):
//   DIR/checkpoint                    the latest signed checkpoint     } served as is by any
//   DIR/tile/<L>/<N>[.p/<W>]          hash tiles                       } static web server:
//   DIR/tile/entries/<N>[.p/<W>]      entry bundles                    } the log's read path
//   DIR/.accord/                      the writer's own state, never served: `config` (origin and
//                                     the path of the signing key, which lives outside DIR),
//                                     `lock`, and `tmp/` for files being written.
//
// Durability: a round of the sequencer appends its entries to a journal (.accord/journal) and
// acknowledges them once fdatasync returns. Tiles and bundles follow in larger steps: when no
// round is waiting, or every 16 rounds, or once the journal passes limits::kMaxJournalBytes, the
// full tiles of those rounds and the partial tiles of the last are written to .accord/tmp, the
// file system is synced, they are renamed into place, it is synced again, a signed checkpoint
// is written, and the journal is emptied. On open, entries found in bundles beyond the checkpoint
// (a crash before the checkpoint) and then in the journal (a crash before the tiles) are
// integrated; tiles beyond them (never acknowledged) are removed; a torn record at the journal's
// end (never acknowledged) is dropped. Partial tiles of every checkpointed size are kept until
// the full tile exists (c2sp.org/tlog-tiles), then removed. Grammar: docs/log-format.md.
//
// Thread-safety: LogWriter is safe to use from many threads; it holds an exclusive lock on the
// directory, so a second writer (thread or process) gets FailedPrecondition. The free functions
// only read and may run concurrently with a writer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/bytes.h"
#include "core/fs.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"
#include "tlog/tile.h"

namespace accord::tlog {

// Many entries in one allocation: what callers hand to the sequencer.
class EntryBatch {
 public:
  // Fails (InvalidArgument) for an entry over limits::kMaxEntrySize; the batch is unchanged.
  Status Add(ByteView entry);
  size_t size() const { return ends_.size(); }
  size_t bytes() const { return data_.size(); }
  Bytes& mutable_data() { return data_; }  // for the writer, to free entries once written
  ByteView at(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return ByteView(data_).substr(begin, ends_[i] - begin);
  }

 private:
  Bytes data_;
  std::vector<size_t> ends_;
};

struct LogConfig {
  std::string origin;
  std::string key_path;  // absolute; outside the log directory
  // "journal 1": the log keeps .accord/journal. Versions that do not know the setting refuse the
  // log rather than open it without reading the journal.
  bool journal = true;
};
std::string FormatLogConfig(const LogConfig& c);

// Creates a new, empty log in `dir` (absent or empty) signed with the key at `key_path`, and
// publishes its first checkpoint (size 0). The key file must not lie inside `dir`.
Status InitLog(const std::string& dir, const std::string& origin, const std::string& key_path);
Result<LogConfig> ReadLogConfig(const std::string& dir);

struct LogOptions {
  // Witnessed: the writer keeps its signed checkpoint in DIR/.accord/checkpoint, and someone else
  // (node/cosigner.h) publishes DIR/checkpoint once witnesses cosigned it. On open the larger of
  // the two is the log's state.
  bool witnessed = false;
  // Under load, tiles and a checkpoint follow the journal at most this long after a round (sooner
  // when someone waits for a checkpoint, and always before the writer stops).
  std::chrono::milliseconds publish_interval{20};
};

class LogWriter {
 public:
  // Takes the directory's lock, recovers from any crash, and starts the sequencer.
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& dir, const LogOptions& options = {});
  ~LogWriter();  // finishes every submitted entry, publishes, then stops

  // Queues a batch; the future yields the index of its first entry once every entry of the
  // batch is durable (entries get consecutive indices in submission order). Blocks while more
  // than limits::kMaxQueuedBytes are waiting (back-pressure). An empty batch, or one submitted
  // after a failure, yields an error.
  std::future<Result<uint64_t>> Submit(EntryBatch batch);
  Result<uint64_t> Append(ByteView entry);  // one entry, blocking until durable

  // Waits until everything submitted so far is in a published checkpoint, and returns it.
  Result<VerifiedCheckpoint> Sync();
  // Waits until a published checkpoint covers `size` entries (or the writer failed).
  Result<VerifiedCheckpoint> WaitForCheckpoint(uint64_t size);
  // Waits at most `timeout` for a checkpoint of more than `size` entries; returns the latest
  // (which may still be of `size`, or smaller) or the writer's failure.
  Result<VerifiedCheckpoint> WaitForGrowth(uint64_t size, std::chrono::milliseconds timeout);
  VerifiedCheckpoint checkpoint() const;  // the latest published (signed by the log)
  const std::string& dir() const { return dir_; }
  const note::Verifier& verifier() const { return verifier_; }

 private:
  struct Pending {
    EntryBatch batch;
    std::promise<Result<uint64_t>> done;
  };
  struct File {
    std::string path;  // relative to the log root
    Bytes data;
    std::string tmp;  // where it was written before its rename into place
  };
  // One sequencer round: batches integrated together and made durable with one journal record.
  struct Round {
    uint64_t serial = 0;
    std::vector<Pending> pending;
    std::vector<uint64_t> first;    // index of each pending batch's first entry
    Bytes journal;                  // the round's journal record
    std::vector<File> files;        // full tiles and bundles completed, written to .accord/tmp
    std::vector<File> partials;     // the right edge's partial tiles after this round, in memory
    std::vector<TileCoord> filled;  // tiles completed this round that had retained partials
    Checkpoint checkpoint;          // the tree after this round
  };

  LogWriter(std::string dir, LogConfig config, note::Signer signer, fs::FileLock lock, fs::AppendFile journal,
            LogOptions options);
  Status Recover();
  Status LoadRightEdge(const VerifiedCheckpoint& cp);
  Status RemoveBeyond(uint64_t size);
  void RemoveStalePartials();
  void Run();         // stage 1: integrate, prepare the journal record, write full tiles
  void CommitLoop();  // stage 2: journal, acknowledge, now and then publish tiles and checkpoint
  // commit_thread_ only: what the rounds journaled since the last checkpoint leave to publish.
  int unpublished_rounds_ = 0;
  size_t journal_bytes_ = 0;
  std::vector<File> unpublished_files_;     // full tiles, in .accord/tmp
  std::vector<File> unpublished_partials_;  // the last round's partial tiles
  std::vector<TileCoord> unpublished_filled_;
  // Integrates entries into the in-memory right edge and lists the files that change.
  void Integrate(const std::vector<ByteView>& entries, Round& round);
  Status WriteTemps(std::vector<File>& files, uint64_t serial, std::string_view tag);
  Status Commit(const std::vector<File>& files);
  Status Publish(const Checkpoint& cp, const std::vector<TileCoord>& filled);
  // Makes the journaled rounds' tiles durable, publishes `cp`, and empties the journal.
  Status PublishRounds(const Checkpoint& cp);
  void Fail(const Status& st);
  Status FailedStatus();

  const std::string dir_;
  const LogConfig config_;
  const LogOptions options_;
  const std::string checkpoint_path_;  // where Publish writes (LogOptions::witnessed)
  const note::Signer signer_;
  const note::Verifier verifier_;
  fs::FileLock lock_;
  fs::AppendFile journal_;  // .accord/journal; commit_thread_ (and Recover) only

  // Sequencer-thread state: the right edge of the tree.
  uint64_t size_ = 0;
  CompactRange range_;
  std::vector<std::vector<Hash>> edge_;  // edge_[L]: hashes of the partial tile at level L
  Bytes edge_bundle_;                    // the partial entry bundle
  uint32_t edge_bundle_count_ = 0;
  uint64_t next_serial_ = 0;
  std::unordered_set<std::string> made_dirs_;  // commit thread only

  mutable std::mutex mu_;
  std::condition_variable queue_cv_;      // sequencer waits for work; submitters for room
  std::condition_variable published_cv_;  // Sync waits for the checkpoint
  std::deque<Pending> queue_;
  size_t queued_bytes_ = 0;
  uint64_t submitted_ = 0;  // entries accepted into the queue (indices assigned up to here)
  VerifiedCheckpoint published_;
  Status failed_;  // first error of the sequencer; the writer accepts nothing after it
  bool stopping_ = false;
  std::condition_variable commit_cv_;
  int checkpoint_waiters_ = 0;  // callers in WaitForCheckpoint: publish as soon as no round waits
  std::deque<std::unique_ptr<Round>> commits_;  // integrated, waiting for stage 2
  bool integrator_done_ = false;
  std::thread thread_;
  std::thread commit_thread_;
};

// Checking a tree from its tiles, wherever they come from (a directory, a web server, a mirror
// being fetched): what VerifyLog runs on a directory and what `accord mirror`/`update` run on a
// remote log before they keep anything.
struct TreeReport {
  uint64_t tiles = 0;    // hash tiles read and checked
  uint64_t bundles = 0;  // entry bundles read and checked
};
struct TreeCheckOptions {
  // Entry bundles are read and checked only for the entries from this index on (the bundle that
  // holds it and all after). Bundles before it are trusted to be checked already (a mirror's own).
  uint64_t entries_from = 0;
  bool bundles = true;  // false: hash tiles only
  // Called for every hash tile once it is trusted (its parent hash or the root checked), with its
  // content (the right edge's partial tiles included), in top-down order.
  std::function<Status(const TileCoord&, ByteView content)> on_hash_tile;
  // Called for every entry bundle once each of its entries hashes to its trusted leaf, in order.
  std::function<Status(const TileCoord&, ByteView content, const std::vector<ByteView>& entries)> on_bundle;
};
// Checks the right edge of `cp`'s tree against its root, then every full hash tile top down
// against its parent hash, then the entry bundles asked for against their leaves. Callbacks may
// stop the check by returning an error, which is returned. DataLoss names the first bad tile.
// Nothing here checks the checkpoint's signature: callers pass one they verified.
Result<TreeReport> VerifyTree(TileReader& reader, const Checkpoint& cp, const TreeCheckOptions& options = {});

// What an auditor checks on a log directory (or a mirror of one).
struct VerifyReport {
  VerifiedCheckpoint checkpoint;
  uint64_t tiles = 0;    // hash tiles checked, full and partial
  uint64_t bundles = 0;  // entry bundles checked, full and partial
};

// Checks the checkpoint's signature by `log_key`, every hash tile against the checkpoint's root
// (top down, as a client trusts them), every entry bundle against its level-0 tile, and every
// retained partial tile and bundle against the full content. The error names the first bad file.
Result<VerifyReport> VerifyLog(const std::string& dir, const note::Verifier& log_key);

// Reads and verifies the checkpoint of a log directory.
Result<VerifiedCheckpoint> ReadCheckpoint(const std::string& dir, const note::Verifier& log_key);

// Reads entry `index` of a tree of `size` entries from its bundle.
Result<Bytes> ReadEntry(TileReader& reader, uint64_t index, uint64_t size);

}  // namespace accord::tlog
