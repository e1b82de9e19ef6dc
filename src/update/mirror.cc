#include "update/mirror.h"

#include <ctime>
#include <unordered_map>

#include "core/fs.h"
#include "core/limits.h"
#include "tlog/log.h"
#include "tlog/merkle.h"

namespace accord::update {
namespace {

std::string Hex(const tlog::Hash& h) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(h.data()), h.size()));
}

// Hash tiles and bundles for the check: full tiles DIR holds are read from DIR (unless `use_local`
// is off: a retry after a local tile failed the check), everything else from the source. A hash
// tile fetched is written at once to a temporary file in `tmp_dir` (the check reads it again, and
// keeps it from there if it passes); memory holds only its name, whatever the tree's size. Bundles
// are not kept here.
class Overlay : public tlog::TileReader {
 public:
  Overlay(const std::string& dir, const std::string& tmp_dir, LogSource& from, bool use_local)
      : local_(dir), tmp_dir_(tmp_dir), from_(from), use_local_(use_local) {}
  Result<Bytes> ReadTile(const tlog::TileCoord& t) override {
    const bool bundle = t.level == tlog::kEntriesLevel;
    std::string path = tlog::TilePath(t);
    if (auto it = fetched_.find(path); it != fetched_.end())
      return fs::ReadFile(it->second, limits::kFullTileSize);
    Result<Bytes> data = NotFound("");
    if (use_local_ && t.full()) data = local_.ReadTile(t);
    if (!data.ok()) {
      data = from_.ReadTile(t);
      if (!data.ok()) return data;
      ++(bundle ? bundles : tiles);
      bytes += data->size();
      if (!bundle) {
        ASSIGN_OR_RETURN(std::string tmp, fs::WriteTemp(fs::JoinPath(tmp_dir_, "h"), *data));
        fetched_.emplace(std::move(path), std::move(tmp));
      }
    }
    return data;
  }
  // The temporary file holding hash tile `t` as fetched, or nullptr if it was not fetched.
  const std::string* Fetched(const tlog::TileCoord& t) const {
    auto it = fetched_.find(tlog::TilePath(t));
    return it == fetched_.end() ? nullptr : &it->second;
  }
  uint64_t tiles = 0, bundles = 0, bytes = 0;

 private:
  tlog::DirTileReader local_;
  const std::string tmp_dir_;
  LogSource& from_;
  const bool use_local_;
  std::unordered_map<std::string, std::string> fetched_;  // tile path -> temporary file
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
    if (cp.size < old->checkpoint.size) {
      // An older checkpoint: either a replay of one we saw (or a lagging mirror), or, if it is not
      // a prefix of our tree, proof of a fork.
      if (cp.size > 0) {
        tlog::DirTileReader ours(dir);
        tlog::TileHashSource hashes(ours, old->checkpoint.size);
        Result<tlog::Hash> prefix = tlog::RangeRoot(hashes, 0, cp.size);
        if (prefix.ok() && *prefix != cp.root)
          return KeepConflict(dir, *old, *served,
                              "the served checkpoint of " + std::to_string(cp.size) +
                                  " entries is not a prefix of the trusted tree of " +
                                  std::to_string(old->checkpoint.size));
      }
      return FailedPrecondition("rollback: " + from.where() + " serves a checkpoint of " +
                                std::to_string(cp.size) + " entries, older than the " +
                                std::to_string(old->checkpoint.size) + " already trusted in " + dir +
                                " (a replayed or rolled-back checkpoint)");
    }
    if (cp.size == old->checkpoint.size && cp.root != old->checkpoint.root)
      return KeepConflict(dir, *old, *served,
                          "two checkpoints of " + std::to_string(cp.size) +
                              " entries with different roots (" + Hex(old->checkpoint.root) + " trusted, " +
                              Hex(cp.root) + " served)");
  }

  // Checked files go to .accord/tmp as they are checked (bundles are not kept in memory) and are
  // renamed into place only once everything is checked. A local tile that fails the check is not
  // the source's fault: then everything is fetched again.
  // Whatever ends the sync, nothing fetched stays behind in .accord/tmp (what was checked was
  // renamed out of it first).
  std::string tmp_dir = fs::JoinPath(dir, ".accord/tmp");
  struct RemoveOnExit {
    const std::string& dir;
    ~RemoveOnExit() { (void)fs::RemoveTree(dir); }
  } remove_tmp{tmp_dir};
  std::vector<std::pair<std::string, std::string>> renames;  // temporary file, final path
  Status checked;
  std::unique_ptr<Overlay> overlay;
  for (bool use_local : {true, false}) {
    renames.clear();
    overlay.reset();
    RETURN_IF_ERROR(fs::RemoveTree(tmp_dir));  // a first pass's files, if it failed on a local tile
    RETURN_IF_ERROR(fs::MakeDirs(tmp_dir));
    overlay = std::make_unique<Overlay>(dir, tmp_dir, from, use_local);
    auto keep = [&](const tlog::TileCoord& t, ByteView content) -> Status {
      std::string final_path = fs::JoinPath(dir, tlog::TilePath(t));
      if (const std::string* fetched = overlay->Fetched(t)) {  // a hash tile, already in tmp_dir
        renames.emplace_back(*fetched, std::move(final_path));
        return Status::Ok();
      }
      if (use_local && t.full() && fs::Exists(final_path)) return Status::Ok();  // read from DIR, checked
      ASSIGN_OR_RETURN(std::string tmp, fs::WriteTemp(fs::JoinPath(tmp_dir, "t"), content));
      renames.emplace_back(std::move(tmp), std::move(final_path));
      return Status::Ok();
    };
    // 1. Every hash tile against the new root, then the new tree's first OLD-SIZE leaves against
    //    the old root, before any entry is looked at.
    tlog::TreeCheckOptions tiles_only;
    tiles_only.bundles = false;
    tiles_only.on_hash_tile = keep;
    checked = tlog::VerifyTree(*overlay, cp, tiles_only).status();
    if (checked.ok() && old && old->checkpoint.size > 0 && old->checkpoint.size < cp.size) {
      tlog::TileHashSource hashes(*overlay, cp.size);
      ASSIGN_OR_RETURN(tlog::Hash prefix, tlog::RangeRoot(hashes, 0, old->checkpoint.size));
      if (prefix != old->checkpoint.root) {
        if (use_local) continue;  // perhaps a damaged local tile: check again from the source alone
        return KeepConflict(
            dir, *old, *served,
            "the tree of " + std::to_string(cp.size) + " entries does not extend the trusted one of " +
                std::to_string(old->checkpoint.size) + " (its first " + std::to_string(old->checkpoint.size) +
                " entries hash to " + Hex(prefix) + ", not " + Hex(old->checkpoint.root) + ")");
      }
    }
    // 2. The entries: every new one against its leaf.
    if (checked.ok()) {
      tlog::TreeCheckOptions entries;
      entries.entries_from = report.old_size;
      entries.on_bundle = [&](const tlog::TileCoord& t, ByteView content,
                              const std::vector<ByteView>& list) -> Status {
        if (options.on_entry) {
          for (size_t i = 0; i < list.size(); ++i) {
            uint64_t index = t.index * 256 + i;
            if (index >= report.old_size) RETURN_IF_ERROR(options.on_entry(index, list[i]));
          }
        }
        return keep(t, content);
      };
      checked = tlog::VerifyTree(*overlay, cp, entries).status();
    }
    if (checked.ok() || checked.code() != Code::kDataLoss || !use_local) break;
  }
  if (!checked.ok()) return checked.WithContext(from.where());

  // Everything checked: move the files into place, then the checkpoint.
  RETURN_IF_ERROR(fs::SyncFilesystem(dir));
  for (const auto& [tmp, path] : renames) {
    RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(path)));
    RETURN_IF_ERROR(fs::Rename(tmp, path));
  }
  RETURN_IF_ERROR(fs::SyncFilesystem(dir));
  if (!old || old->raw != served->raw)
    RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(dir, "checkpoint"), served->raw));
  report.tiles_fetched = overlay->tiles;
  report.bundles_fetched = overlay->bundles;
  report.bytes_fetched = overlay->bytes;
  report.checkpoint = std::move(served).value();
  return report;
}

}  // namespace accord::update
