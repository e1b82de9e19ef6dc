#include "update/mirror.h"

#include <ctime>
#include <map>

#include "core/fs.h"
#include "core/limits.h"
#include "tlog/log.h"
#include "tlog/merkle.h"

namespace accord::update {
namespace {

std::string Hex(const tlog::Hash& h) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(h.data()), h.size()));
}

// Full tiles DIR holds are read from DIR (they were checked when they were stored, and are checked
// again against the new root); everything else comes from the source and is kept in memory until
// the whole tree checked.
class Overlay : public tlog::TileReader {
 public:
  Overlay(const std::string& dir, LogSource& from) : local_(dir), from_(from) {}
  Result<Bytes> ReadTile(const tlog::TileCoord& t) override {
    std::string path = tlog::TilePath(t);
    if (auto it = fetched_.find(path); it != fetched_.end()) return it->second;
    if (t.full()) {
      Result<Bytes> local = local_.ReadTile(t);
      if (local.ok()) return local;
    }
    ASSIGN_OR_RETURN(Bytes data, from_.ReadTile(t));
    ++(t.level == tlog::kEntriesLevel ? bundles : tiles);
    bytes += data.size();
    fetched_[path] = data;
    return data;
  }
  const std::map<std::string, Bytes>& fetched() const { return fetched_; }
  uint64_t tiles = 0, bundles = 0, bytes = 0;

 private:
  tlog::DirTileReader local_;
  LogSource& from_;
  std::map<std::string, Bytes> fetched_;
};

Status KeepConflict(const std::string& dir, const tlog::VerifiedCheckpoint& a,
                    const tlog::VerifiedCheckpoint& b, const std::string& why) {
  std::string cdir = fs::JoinPath(dir, ".accord/conflicts");
  std::string stamp = std::to_string(std::time(nullptr));
  Status st = fs::MakeDirs(cdir);
  if (st.ok())
    st = fs::WriteFileAtomic(fs::JoinPath(cdir, stamp + "-trusted-" + std::to_string(a.checkpoint.size)),
                             a.raw);
  if (st.ok())
    st = fs::WriteFileAtomic(fs::JoinPath(cdir, stamp + "-served-" + std::to_string(b.checkpoint.size)),
                             b.raw);
  std::string kept = st.ok() ? "; both signed checkpoints are kept in " + cdir + " as evidence"
                             : "; keeping them as evidence failed: " + st.ToString();
  return FailedPrecondition("split view: " + why + kept);
}

}  // namespace

Result<tlog::VerifiedCheckpoint> ReadMirrorCheckpoint(const std::string& dir, const note::Verifier& log_key) {
  return tlog::ReadCheckpoint(dir, log_key);
}

Result<MirrorReport> SyncMirror(LogSource& from, const std::string& dir, const MirrorOptions& options) {
  RETURN_IF_ERROR(fs::MakeDirs(fs::JoinPath(dir, ".accord/tmp")));
  ASSIGN_OR_RETURN(fs::FileLock lock,
                   fs::FileLock::Acquire(fs::JoinPath(dir, ".accord/lock"), "mirror " + dir));
  MirrorReport report;
  ASSIGN_OR_RETURN(Bytes raw, from.ReadCheckpoint());
  Result<tlog::VerifiedCheckpoint> served = options.accept(raw);
  if (!served.ok()) return served.status().WithContext(from.where() + "/checkpoint");
  const tlog::Checkpoint& cp = served->checkpoint;

  std::optional<tlog::VerifiedCheckpoint> old;
  if (fs::Exists(fs::JoinPath(dir, "checkpoint"))) {
    ASSIGN_OR_RETURN(old, ReadMirrorCheckpoint(dir, options.log_key));
    if (old->checkpoint.origin != cp.origin)
      return FailedPrecondition(from.where() + " serves log \"" + cp.origin + "\", " + dir + " mirrors \"" +
                                old->checkpoint.origin + "\"");
    report.old_size = old->checkpoint.size;
    report.old_root = old->checkpoint.root;
    if (cp.size < old->checkpoint.size)
      return FailedPrecondition("rollback: " + from.where() + " serves a checkpoint of " +
                                std::to_string(cp.size) + " entries, older than the " +
                                std::to_string(old->checkpoint.size) + " already trusted in " + dir +
                                " (a replayed or rolled-back checkpoint)");
    if (cp.size == old->checkpoint.size && cp.root != old->checkpoint.root)
      return KeepConflict(dir, *old, *served,
                          "two checkpoints of " + std::to_string(cp.size) +
                              " entries with different roots (" + Hex(old->checkpoint.root) + " trusted, " +
                              Hex(cp.root) + " served)");
  }

  Overlay overlay(dir, from);
  tlog::TreeCheckOptions check;
  check.entries_from = report.old_size;
  if (options.on_entry) {
    check.on_bundle = [&](const tlog::TileCoord& t, ByteView,
                          const std::vector<ByteView>& entries) -> Status {
      for (size_t i = 0; i < entries.size(); ++i) {
        uint64_t index = t.index * 256 + i;
        if (index >= report.old_size) RETURN_IF_ERROR(options.on_entry(index, entries[i]));
      }
      return Status::Ok();
    };
  }
  Result<tlog::TreeReport> tree = tlog::VerifyTree(overlay, cp, check);
  if (!tree.ok()) return tree.status().WithContext(from.where());
  if (old && old->checkpoint.size > 0 && old->checkpoint.size < cp.size) {
    tlog::TileHashSource hashes(overlay, cp.size);
    ASSIGN_OR_RETURN(tlog::Hash prefix, tlog::RangeRoot(hashes, 0, old->checkpoint.size));
    if (prefix != old->checkpoint.root)
      return KeepConflict(
          dir, *old, *served,
          "the tree of " + std::to_string(cp.size) + " entries does not extend the trusted one of " +
              std::to_string(old->checkpoint.size) + " (its first " + std::to_string(old->checkpoint.size) +
              " entries hash to " + Hex(prefix) + ", not " + Hex(old->checkpoint.root) + ")");
  }

  // Everything checked: write the fetched files, then the checkpoint.
  std::vector<std::pair<std::string, std::string>> renames;
  for (const auto& [path, data] : overlay.fetched()) {
    ASSIGN_OR_RETURN(std::string tmp, fs::WriteTemp(fs::JoinPath(dir, ".accord/tmp/t"), data));
    renames.emplace_back(tmp, fs::JoinPath(dir, path));
  }
  RETURN_IF_ERROR(fs::SyncFilesystem(dir));
  for (const auto& [tmp, path] : renames) {
    RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(path)));
    RETURN_IF_ERROR(fs::Rename(tmp, path));
  }
  RETURN_IF_ERROR(fs::SyncFilesystem(dir));
  if (!old || old->raw != served->raw)
    RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(dir, "checkpoint"), served->raw));
  report.checkpoint = std::move(served).value();
  report.tiles_fetched = overlay.tiles;
  report.bundles_fetched = overlay.bundles;
  report.bytes_fetched = overlay.bytes;
  return report;
}

}  // namespace accord::update
