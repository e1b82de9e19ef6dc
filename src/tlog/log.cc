#include "tlog/log.h"

#include <algorithm>
#include <cstring>

#include "core/limits.h"
#include "core/thread_name.h"
#include "tlog/journal.h"

namespace accord::tlog {

namespace {
constexpr int kLevels = 8;  // 256^8 = 2^64 leaves
constexpr uint64_t kMaxRoundEntries = 1 << 20;
constexpr int kMaxRoundsPerCheckpoint = 16;
constexpr std::string_view kStateDir = ".accord";

std::string StatePath(const std::string& dir, std::string_view name) {
  return fs::JoinPath(fs::JoinPath(dir, std::string(kStateDir)), std::string(name));
}

Bytes HashesBytes(const std::vector<Hash>& hashes) {
  Bytes out;
  out.resize(hashes.size() * 32);
  for (size_t i = 0; i < hashes.size(); ++i) std::memcpy(out.data() + 32 * i, hashes[i].data(), 32);
  return out;
}

bool ValidOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > 1024 || !IsValidUtf8(origin)) return false;
  return std::none_of(origin.begin(), origin.end(), [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; });
}

Result<note::Signer> ReadSigner(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxKeyFileSize));
  Result<note::Signer> s = note::ParseSignerKey(text);
  if (!s.ok()) return s.status().WithContext(path);
  if (s->type != note::KeyType::kEd25519)
    return InvalidArgument(path + ": a log key must be an Ed25519 (type 1) key");
  return s;
}

// Hashes of the compact range of a tree, from its right-edge tiles (edge[L] = partial tile L).
std::vector<Hash> CompactFromEdge(const std::vector<std::vector<Hash>>& edge) {
  std::vector<Hash> out;
  for (size_t l = edge.size(); l-- > 0;) {
    const auto& tile = edge[l];
    size_t w = tile.size(), pos = 0;
    for (int b = 7; b >= 0; --b) {
      if (w & (size_t(1) << b)) {
        out.push_back(SubtreeRoot(tile.data() + pos, size_t(1) << b));
        pos += size_t(1) << b;
      }
    }
  }
  return out;
}

// Offset in a bundle where entry `count` starts (bundle already parsed as valid).
size_t BundlePrefixBytes(const std::vector<ByteView>& entries, size_t count) {
  size_t n = 0;
  for (size_t i = 0; i < count; ++i) n += 2 + entries[i].size();
  return n;
}
}  // namespace

Status EntryBatch::Add(ByteView entry) {
  if (entry.size() > limits::kMaxEntrySize)
    return InvalidArgument("entry of " + std::to_string(entry.size()) + " bytes is over the limit of " +
                           std::to_string(limits::kMaxEntrySize) +
                           " bytes (64 KiB - 1, the tiles' uint16 length)");
  data_.append(entry);
  ends_.push_back(data_.size());
  return Status::Ok();
}

Status InitLog(const std::string& dir_in, const std::string& origin, const std::string& key_path) {
  if (!ValidOrigin(origin))
    return InvalidArgument("origin \"" + Printable(origin) +
                           "\": must be non-empty text without control characters");
  ASSIGN_OR_RETURN(std::string dir, fs::Absolute(dir_in));
  ASSIGN_OR_RETURN(note::Signer signer, ReadSigner(key_path));
  RETURN_IF_ERROR(fs::MakeDirs(dir));
  ASSIGN_OR_RETURN(std::string real_dir, fs::RealPath(dir));
  ASSIGN_OR_RETURN(std::string real_key, fs::RealPath(key_path));
  if (real_key.rfind(real_dir + "/", 0) == 0)
    return InvalidArgument(key_path +
                           ": the private key must not be inside the log directory, which is served");
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir));
  if (!names.empty()) return AlreadyExists(dir + ": not empty; a new log needs an empty directory");
  RETURN_IF_ERROR(fs::MakeDirs(StatePath(dir, "tmp")));
  ASSIGN_OR_RETURN(fs::FileLock lock, fs::FileLock::Acquire(StatePath(dir, "lock"), "log " + dir));
  RETURN_IF_ERROR(
      fs::WriteFileAtomic(StatePath(dir, "config"), FormatLogConfig(LogConfig{origin, real_key})));
  Checkpoint cp{origin, 0, EmptyRoot(), {}};
  ASSIGN_OR_RETURN(std::string raw, SignCheckpoint(cp, signer));
  return fs::WriteFileAtomic(fs::JoinPath(dir, "checkpoint"), raw);
}

std::string FormatLogConfig(const LogConfig& c) {
  return "origin " + c.origin + "\nkey " + c.key_path + "\njournal 1\n";
}

Result<LogConfig> ReadLogConfig(const std::string& dir) {
  std::string path = StatePath(dir, "config");
  Result<Bytes> text = fs::ReadFile(path, 8192);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound)
      return NotFound(dir + ": not a log directory (no " + std::string(kStateDir) +
                      "/config); create one with accord log init");
    return text.status();
  }
  LogConfig c;
  c.journal = false;  // until the setting says so
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return DataLoss(path + ": last line has no newline");
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    size_t sp = line.find(' ');
    std::string_view k = line.substr(0, sp), v = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    if (k == "origin")
      c.origin = std::string(v);
    else if (k == "key")
      c.key_path = std::string(v);
    else if (k == "journal" && v == "1")
      c.journal = true;
    else if (k == "journal")
      return DataLoss(path + ": journal format \"" + Printable(v) + "\" is not one this version reads");
    else
      return DataLoss(path + ": unknown setting \"" + Printable(k) + "\"");
  }
  if (c.origin.empty() || c.key_path.empty()) return DataLoss(path + ": needs origin and key");
  return c;
}

Result<VerifiedCheckpoint> ReadCheckpoint(const std::string& dir, const note::Verifier& log_key) {
  std::string path = fs::JoinPath(dir, "checkpoint");
  ASSIGN_OR_RETURN(Bytes raw, fs::ReadFile(path, limits::kMaxNoteSize));
  Result<VerifiedCheckpoint> cp = OpenCheckpoint(raw, log_key);
  if (!cp.ok()) return cp.status().WithContext(path);
  return cp;
}

Result<Bytes> ReadEntry(TileReader& reader, uint64_t index, uint64_t size) {
  if (index >= size)
    return NotFound("entry " + std::to_string(index) + " is beyond the tree size " + std::to_string(size));
  TileCoord t = TileFor(kEntriesLevel, index, size);
  ASSIGN_OR_RETURN(Bytes data, ReadTileOrFull(reader, t));
  Result<std::vector<ByteView>> entries = ParseEntryBundle(data, t.width);
  if (!entries.ok()) return entries.status().WithContext(TilePath(t));
  return Bytes((*entries)[index % 256]);
}

// ---------------------------------------------------------------------------------------------
// LogWriter

LogWriter::LogWriter(std::string dir, LogConfig config, note::Signer signer, fs::FileLock lock,
                     fs::AppendFile journal, LogOptions options)
    : dir_(std::move(dir)),
      config_(std::move(config)),
      options_(options),
      checkpoint_path_(options.witnessed ? StatePath(dir_, "checkpoint") : fs::JoinPath(dir_, "checkpoint")),
      signer_(std::move(signer)),
      verifier_(signer_.verifier()),
      lock_(std::move(lock)),
      journal_(std::move(journal)),
      edge_(kLevels) {}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& dir_in, const LogOptions& options) {
  ASSIGN_OR_RETURN(std::string dir, fs::Absolute(dir_in));
  ASSIGN_OR_RETURN(LogConfig config, ReadLogConfig(dir));
  ASSIGN_OR_RETURN(fs::FileLock lock, fs::FileLock::Acquire(StatePath(dir, "lock"), "log " + dir));
  ASSIGN_OR_RETURN(note::Signer signer, ReadSigner(config.key_path));
  // A log written by a version without the journal gets the setting before its first record, so
  // such a version, which would not read the journal, refuses the log from then on.
  if (!config.journal) {
    config.journal = true;
    RETURN_IF_ERROR(fs::WriteFileAtomic(StatePath(dir, "config"), FormatLogConfig(config)));
  }
  ASSIGN_OR_RETURN(fs::AppendFile journal, fs::AppendFile::Open(StatePath(dir, "journal")));
  std::unique_ptr<LogWriter> w(
      new LogWriter(dir, std::move(config), std::move(signer), std::move(lock), std::move(journal), options));
  RETURN_IF_ERROR(w->Recover());
  w->thread_ = std::thread([p = w.get()] {
    NameThisThread("log-integrate");
    p->Run();
  });
  w->commit_thread_ = std::thread([p = w.get()] {
    NameThisThread("log-journal");
    p->CommitLoop();
  });
  return w;
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (commit_thread_.joinable()) commit_thread_.join();
}

Status LogWriter::LoadRightEdge(const VerifiedCheckpoint& cp) {
  const uint64_t n = cp.checkpoint.size;
  DirTileReader reader(dir_);
  for (int l = 0; l < kLevels; ++l) {
    uint32_t w = PartialWidth(l, n);
    edge_[l].clear();
    if (w == 0) continue;
    TileCoord t{l, (n >> (8 * l)) / 256, w};
    Result<Bytes> data = ReadTileOrFull(reader, t);
    if (!data.ok()) return data.status().WithContext("recovering the log's right edge");
    Result<std::vector<Hash>> hashes = ParseHashTile(*data, w);
    if (!hashes.ok()) return hashes.status().WithContext(TilePath(t));
    edge_[l] = std::move(hashes).value();
  }
  ASSIGN_OR_RETURN(range_, CompactRange::FromHashes(n, CompactFromEdge(edge_)));
  if (range_.Root() != cp.checkpoint.root)
    return DataLoss(dir_ + ": the right-edge tiles of size " + std::to_string(n) +
                    " do not hash to the checkpoint's root");
  edge_bundle_.clear();
  edge_bundle_count_ = PartialWidth(0, n);
  if (edge_bundle_count_ > 0) {
    TileCoord t{kEntriesLevel, n / 256, edge_bundle_count_};
    ASSIGN_OR_RETURN(edge_bundle_, ReadTileOrFull(reader, t));
    Result<std::vector<ByteView>> entries = ParseEntryBundle(edge_bundle_, edge_bundle_count_);
    if (!entries.ok()) return entries.status().WithContext(TilePath(t));
    for (size_t i = 0; i < entries->size(); ++i)
      if (HashLeaf((*entries)[i]) != edge_[0][i])
        return DataLoss(TilePath(t) + ": entry " + std::to_string(i) + " does not match its leaf hash");
  }
  size_ = n;
  return Status::Ok();
}

Status LogWriter::Recover() {
  std::string tmp = StatePath(dir_, "tmp");
  RETURN_IF_ERROR(fs::RemoveTree(tmp));
  RETURN_IF_ERROR(fs::MakeDirs(tmp));
  Result<VerifiedCheckpoint> cp = ReadCheckpoint(dir_, verifier_);
  if (!cp.ok()) return cp.status();
  // A witnessed writer's own checkpoint may be ahead of the published one (not cosigned yet).
  std::string own = StatePath(dir_, "checkpoint");
  if (fs::Exists(own)) {
    ASSIGN_OR_RETURN(Bytes raw, fs::ReadFile(own, limits::kMaxNoteSize));
    Result<VerifiedCheckpoint> signed_cp = OpenCheckpoint(raw, verifier_);
    if (!signed_cp.ok()) return signed_cp.status().WithContext(own);
    if (signed_cp->checkpoint.size == cp->checkpoint.size &&
        signed_cp->checkpoint.root != cp->checkpoint.root)
      return DataLoss(own + " and " + dir_ + "/checkpoint: two roots for one size");
    // Witnessed, the writer's checkpoint is its own note (the log's signature alone), also when
    // the published one is as large: the cosigner adds cosignatures to it, not to old ones.
    if (signed_cp->checkpoint.size > cp->checkpoint.size ||
        (signed_cp->checkpoint.size == cp->checkpoint.size && checkpoint_path_ == own))
      cp = std::move(signed_cp);
    if (checkpoint_path_ != own) {  // no longer witnessed: publish what the log signed, drop the rest
      RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(dir_, "checkpoint"), cp->raw));
      RETURN_IF_ERROR(fs::RemoveFile(own));
    }
  }
  if (cp->checkpoint.origin != config_.origin)
    return DataLoss(dir_ + "/checkpoint: origin \"" + Printable(cp->checkpoint.origin) +
                    "\" is not the log's origin \"" + config_.origin + "\"");
  RETURN_IF_ERROR(LoadRightEdge(*cp));
  published_ = *cp;
  submitted_ = size_;

  // Entries acknowledged after the last checkpoint live in bundles beyond it.
  DirTileReader reader(dir_);
  std::deque<Bytes> bundles;  // stable addresses: `recovered` points into them
  std::vector<ByteView> recovered;
  uint64_t b = size_ / 256;
  Bytes prefix = edge_bundle_;
  uint32_t have = edge_bundle_count_;
  while (true) {
    TileCoord full{kEntriesLevel, b, 256};
    Result<Bytes> data = reader.ReadTile(full);
    uint32_t width = 256;
    if (!data.ok() && data.status().code() == Code::kNotFound) {
      std::string pdir = fs::JoinPath(dir_, TilePath(full) + ".p");
      width = 0;
      if (fs::IsDir(pdir)) {
        ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(pdir));
        for (const auto& name : names) {
          auto w = ParseDecimal(name);
          if (w && *w > have && *w < 256 && *w > width) width = uint32_t(*w);
        }
      }
      if (width == 0) break;
      data = reader.ReadTile(TileCoord{kEntriesLevel, b, width});
    }
    if (!data.ok()) return data.status();
    TileCoord t{kEntriesLevel, b, width};
    Result<std::vector<ByteView>> entries = ParseEntryBundle(*data, width);
    if (!entries.ok()) return entries.status().WithContext(TilePath(t) + " (beyond the checkpoint)");
    if (ByteView(*data).substr(0, prefix.size()) != prefix)
      return DataLoss(TilePath(t) + ": its first " + std::to_string(have) +
                      " entries differ from the checkpointed ones");
    bundles.push_back(std::move(data).value());
    entries = ParseEntryBundle(bundles.back(), width);  // views into the stored copy
    recovered.insert(recovered.end(), entries->begin() + have, entries->end());
    if (width != 256) break;
    ++b;
    have = 0;
    prefix.clear();
  }
  // Then entries acknowledged after the last tiles, from the journal. Its records follow each
  // other; those the tiles already hold must hold the same entries.
  std::string journal_path = StatePath(dir_, "journal");
  ASSIGN_OR_RETURN(Bytes journal, fs::ReadFile(journal_path, limits::kMaxJournalFileSize));
  Result<ParsedJournal> parsed = ParseJournal(journal);
  if (!parsed.ok()) return parsed.status().WithContext(journal_path);
  const std::vector<JournalRecord>& records = parsed->records;
  uint64_t known = size_ + recovered.size(), expect = records.empty() ? 0 : records.front().first;
  for (const JournalRecord& r : records) {
    if (r.first != expect || r.first > known)
      return DataLoss(journal_path + ": a record starts at entry " + std::to_string(r.first) + ", expected " +
                      std::to_string(std::min(expect, known)) + " (entries are missing)");
    for (size_t i = 0; i < r.entries.size(); ++i) {
      uint64_t index = r.first + i;
      if (index >= known) {
        recovered.push_back(r.entries[i]);
        ++known;
      } else if (index >= size_ && recovered[index - size_] != r.entries[i]) {
        return DataLoss(journal_path + ": entry " + std::to_string(index) +
                        " differs from the one in the tiles beyond the checkpoint");
      }
    }
    expect = r.first + r.entries.size();
  }
  RETURN_IF_ERROR(RemoveBeyond(size_ + recovered.size()));
  if (!recovered.empty()) {
    Round round;
    Integrate(recovered, round);
    round.files.insert(round.files.end(), std::make_move_iterator(round.partials.begin()),
                       std::make_move_iterator(round.partials.end()));
    RETURN_IF_ERROR(WriteTemps(round.files, round.serial, "r"));
    RETURN_IF_ERROR(Commit(round.files));
    submitted_ = size_;
    RETURN_IF_ERROR(Publish(round.checkpoint, round.filled));
  }
  // Everything in the journal is in tiles under a checkpoint now (a torn last record was never
  // acknowledged).
  if (!journal.empty()) {
    RETURN_IF_ERROR(journal_.Truncate());
    RETURN_IF_ERROR(journal_.Sync());
  }
  RemoveStalePartials();
  return Status::Ok();
}

Status LogWriter::RemoveBeyond(uint64_t size) {
  // A round writes at most kMaxRoundEntries entries, so stale files lie within that distance.
  for (int l = kEntriesLevel; l < kLevels; ++l) {
    int shift = 8 * std::max(l, 0);
    uint64_t level_size = size >> shift;
    uint64_t t = level_size / 256;
    uint32_t w = PartialWidth(std::max(l, 0), size);
    uint64_t probe = (kMaxRoundEntries >> shift) / 256 + 2;
    for (uint64_t i = t; i <= t + probe; ++i) {
      std::string full = fs::JoinPath(dir_, TilePath(TileCoord{l, i, 256}));
      RETURN_IF_ERROR(fs::RemoveFile(full));
      std::string pdir = full + ".p";
      if (!fs::IsDir(pdir)) continue;
      if (i > t) {
        RETURN_IF_ERROR(fs::RemoveTree(pdir));
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(pdir));
      for (const auto& name : names) {
        auto pw = ParseDecimal(name);
        if (!pw || *pw > w) RETURN_IF_ERROR(fs::RemoveTree(fs::JoinPath(pdir, name)));
      }
    }
    if (level_size == 0 && l >= 0) break;
  }
  return fs::SyncFilesystem(dir_);
}

void LogWriter::RemoveStalePartials() {
  // Partial tiles of tiles that are now full may survive a crash between publishing a
  // checkpoint and removing them; they are harmless, but c2sp.org/tlog-tiles lets us drop them.
  for (int l = kEntriesLevel; l < kLevels; ++l) {
    uint64_t t = (size_ >> (8 * std::max(l, 0))) / 256;
    if (t == 0) {
      if (l >= 0) break;
      continue;
    }
    std::string dirs[2] = {fs::Dirname(TilePath(TileCoord{l, t, 256})),
                           fs::Dirname(TilePath(TileCoord{l, t - 1, 256}))};
    for (int d = 0; d < 2; ++d) {
      if (d == 1 && dirs[1] == dirs[0]) break;
      auto names = fs::ListDir(fs::JoinPath(dir_, dirs[d]));
      if (!names.ok()) continue;
      for (const auto& name : *names) {
        if (name.size() < 3 || name.substr(name.size() - 2) != ".p") continue;
        auto c = ParseTilePath(dirs[d] + "/" + name.substr(0, name.size() - 2));
        if (c.ok() && c->index < t) (void)fs::RemoveTree(fs::JoinPath(dir_, dirs[d] + "/" + name));
      }
    }
  }
}

void LogWriter::Integrate(const std::vector<ByteView>& entries, Round& round) {
  std::vector<File>& files = round.files;
  std::vector<TileCoord>& filled = round.filled;
  // The tiles that are partial now are the only ones with retained partials to remove later.
  uint64_t start_tile[kLevels + 1];
  for (int l = 0; l < kLevels; ++l) start_tile[l] = (size_ >> (8 * l)) / 256;
  auto tile_done = [&](int level, uint64_t index, Bytes data) {
    if (index == start_tile[std::max(level, 0)]) filled.push_back(TileCoord{level, index, 256});
    files.push_back(File{TilePath(TileCoord{level, index, 256}), std::move(data), {}});
  };
  const uint64_t start_size = size_;
  for (ByteView e : entries) {
    Hash leaf = HashLeaf(e);
    AppendBundleEntry(edge_bundle_, e);
    if (++edge_bundle_count_ == 256) {
      tile_done(kEntriesLevel, size_ / 256, std::move(edge_bundle_));
      edge_bundle_.clear();
      edge_bundle_count_ = 0;
    }
    edge_[0].push_back(leaf);
    if (edge_[0].size() == 256) {
      tile_done(0, size_ / 256, HashesBytes(edge_[0]));
      edge_[0].clear();
    }
    range_.Append(leaf, [&](int level, uint64_t index, const Hash& h) {
      edge_[level].push_back(h);
      if (edge_[level].size() == 256) {
        tile_done(level, index / 256, HashesBytes(edge_[level]));
        edge_[level].clear();
      }
    });
    ++size_;
  }
  // Only tiles that were partial at the previous checkpoint can have retained partials.
  std::erase_if(filled, [&](const TileCoord& t) {
    int l = std::max(t.level, 0);
    return PartialWidth(l, start_size) == 0;
  });
  for (int l = 0; l < kLevels; ++l) {
    if (edge_[l].empty()) continue;
    TileCoord t{l, (size_ >> (8 * l)) / 256, uint32_t(edge_[l].size())};
    round.partials.push_back(File{TilePath(t), HashesBytes(edge_[l]), {}});
  }
  if (edge_bundle_count_ > 0)
    round.partials.push_back(
        File{TilePath(TileCoord{kEntriesLevel, size_ / 256, edge_bundle_count_}), edge_bundle_, {}});
  round.serial = next_serial_++;
  round.checkpoint = Checkpoint{config_.origin, size_, range_.Root(), {}};
}

Status LogWriter::WriteTemps(std::vector<File>& files, uint64_t serial, std::string_view tag) {
  std::string tmp_dir = StatePath(dir_, "tmp");
  const std::string prefix = tmp_dir + "/" + std::to_string(serial) + std::string(tag) + "-";
  for (size_t i = 0; i < files.size(); ++i) {
    files[i].tmp = prefix + std::to_string(i);
    RETURN_IF_ERROR(fs::WriteNew(files[i].tmp, files[i].data));
    Bytes().swap(files[i].data);  // in the page cache now; free the memory early
  }
  return Status::Ok();
}

Status LogWriter::Commit(const std::vector<File>& files) {
  RETURN_IF_ERROR(fs::SyncFilesystem(dir_));
  for (const File& f : files) {
    std::string final_path = fs::JoinPath(dir_, f.path);
    std::string parent = fs::Dirname(final_path);
    if (!made_dirs_.count(parent)) {
      RETURN_IF_ERROR(fs::MakeDirs(parent));
      made_dirs_.insert(parent);
    }
    RETURN_IF_ERROR(fs::Rename(f.tmp, final_path));
  }
  return fs::SyncFilesystem(dir_);
}

Status LogWriter::Publish(const Checkpoint& cp, const std::vector<TileCoord>& filled) {
  ASSIGN_OR_RETURN(std::string raw, SignCheckpoint(cp, signer_));
  RETURN_IF_ERROR(fs::WriteFileAtomic(checkpoint_path_, raw));
  for (const TileCoord& t : filled) RETURN_IF_ERROR(fs::RemoveTree(fs::JoinPath(dir_, TilePath(t) + ".p")));
  {
    std::lock_guard<std::mutex> l(mu_);
    published_.checkpoint = cp;
    published_.raw = std::move(raw);
    published_.cosignatures.clear();
  }
  published_cv_.notify_all();
  return Status::Ok();
}

Status LogWriter::PublishRounds(const Checkpoint& cp) {
  std::vector<File> files = std::move(unpublished_files_);
  std::vector<File> partials = std::move(unpublished_partials_);
  std::vector<TileCoord> filled = std::move(unpublished_filled_);
  unpublished_files_.clear();
  unpublished_partials_.clear();
  unpublished_filled_.clear();
  unpublished_rounds_ = 0;
  journal_bytes_ = 0;
  RETURN_IF_ERROR(WriteTemps(partials, cp.size, "p"));
  files.insert(files.end(), std::make_move_iterator(partials.begin()),
               std::make_move_iterator(partials.end()));
  RETURN_IF_ERROR(Commit(files));
  RETURN_IF_ERROR(Publish(cp, filled));
  // The checkpoint is durable (WriteFileAtomic) and covers every journaled entry: the records
  // are not needed any more. Emptying the file is made durable by the next record's Sync; a
  // crash before that leaves records the checkpoint covers, which recovery skips.
  return journal_.Truncate();
}

std::future<Result<uint64_t>> LogWriter::Submit(EntryBatch batch) {
  Pending p;
  p.batch = std::move(batch);
  auto future = p.done.get_future();
  std::unique_lock<std::mutex> l(mu_);
  queue_cv_.wait(l, [&] { return queued_bytes_ <= limits::kMaxQueuedBytes || !failed_.ok() || stopping_; });
  if (!failed_.ok()) {
    p.done.set_value(FailedPrecondition("log writer stopped after an error: " + failed_.ToString()));
  } else if (stopping_) {
    p.done.set_value(FailedPrecondition("log writer is closing"));
  } else if (p.batch.size() == 0) {
    p.done.set_value(InvalidArgument("empty batch"));
  } else if (p.batch.bytes() + 2 * p.batch.size() > kMaxJournalPayload) {
    p.done.set_value(InvalidArgument("batch of " + std::to_string(p.batch.bytes()) +
                                     " bytes: over the journal's limit of " +
                                     std::to_string(kMaxJournalPayload) + " bytes for one round"));
  } else {
    queued_bytes_ += p.batch.bytes();
    submitted_ += p.batch.size();
    queue_.push_back(std::move(p));
    l.unlock();
    queue_cv_.notify_all();
  }
  return future;
}

Result<uint64_t> LogWriter::Append(ByteView entry) {
  EntryBatch b;
  RETURN_IF_ERROR(b.Add(entry));
  return Submit(std::move(b)).get();
}

Result<VerifiedCheckpoint> LogWriter::Sync() {
  uint64_t target;
  {
    std::lock_guard<std::mutex> l(mu_);
    target = submitted_;
  }
  return WaitForCheckpoint(target);
}

Result<VerifiedCheckpoint> LogWriter::WaitForCheckpoint(uint64_t target) {
  std::unique_lock<std::mutex> l(mu_);
  if (published_.checkpoint.size < target && failed_.ok()) {
    ++checkpoint_waiters_;  // the commit thread publishes as soon as no round is waiting
    commit_cv_.notify_all();
    published_cv_.wait(l, [&] { return published_.checkpoint.size >= target || !failed_.ok(); });
    --checkpoint_waiters_;
  }
  if (published_.checkpoint.size < target)
    return FailedPrecondition("log writer stopped after an error: " + failed_.ToString());
  return published_;
}

Result<VerifiedCheckpoint> LogWriter::WaitForGrowth(uint64_t size, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  published_cv_.wait_for(l, timeout,
                         [&] { return published_.checkpoint.size > size || !failed_.ok() || stopping_; });
  if (!failed_.ok()) return FailedPrecondition("log writer stopped after an error: " + failed_.ToString());
  return published_;
}

VerifiedCheckpoint LogWriter::checkpoint() const {
  std::lock_guard<std::mutex> l(mu_);
  return published_;
}

void LogWriter::Fail(const Status& st) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (failed_.ok()) failed_ = st;
  }
  published_cv_.notify_all();
  queue_cv_.notify_all();
  commit_cv_.notify_all();
}

Status LogWriter::FailedStatus() {
  std::lock_guard<std::mutex> l(mu_);
  return failed_.ok() ? failed_
                      : FailedPrecondition("log writer stopped after an error: " + failed_.ToString());
}

// Stage 1 (CPU): take queued batches, hash them into the right edge, write the round's files to
// .accord/tmp (writeback starts at once), and hand the round to stage 2. While stage 2 waits for
// the disk, stage 1 prepares the next round.
void LogWriter::Run() {
  while (true) {
    auto round = std::make_unique<Round>();
    {
      std::unique_lock<std::mutex> l(mu_);
      queue_cv_.wait(l, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;
      size_t bytes = 0, count = 0;
      while (!queue_.empty() &&
             (round->pending.empty() || (bytes + queue_.front().batch.bytes() <= limits::kMaxBatchBytes &&
                                         count + queue_.front().batch.size() <= kMaxRoundEntries))) {
        bytes += queue_.front().batch.bytes();
        count += queue_.front().batch.size();
        round->pending.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_bytes_ -= bytes;
    }
    queue_cv_.notify_all();
    Status st = FailedStatus();
    if (st.ok()) {
      std::vector<ByteView> entries;
      for (auto& p : round->pending) {
        round->first.push_back(size_ + entries.size());
        for (size_t i = 0; i < p.batch.size(); ++i) entries.push_back(p.batch.at(i));
      }
      round->journal = EncodeJournalRecord(size_, entries);
      Integrate(entries, *round);
      st = WriteTemps(round->files, round->serial, "f");
      if (!st.ok()) Fail(st);
    }
    for (auto& p : round->pending) Bytes().swap(p.batch.mutable_data());  // copied into the record
    std::unique_lock<std::mutex> l(mu_);
    commit_cv_.wait(l, [&] { return commits_.size() < 1; });  // bounds memory and latency
    commits_.push_back(std::move(round));
    l.unlock();
    commit_cv_.notify_all();
  }
  std::lock_guard<std::mutex> l(mu_);
  integrator_done_ = true;
  commit_cv_.notify_all();
}

// Stage 2 (disk): make a round durable in the journal and acknowledge it. The tiles of the rounds
// journaled so far follow with a checkpoint when no round is waiting and either someone waits
// for a checkpoint or LogOptions::publish_interval passed since the last one; and in any case every
// kMaxRoundsPerCheckpoint rounds, once the journal passes limits::kMaxJournalBytes, and before
// the writer stops. Rounds are journaled strictly in order, so the durable entries are always a
// prefix of the log.
void LogWriter::CommitLoop() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_publish = Clock::now();
  Checkpoint unpublished;  // the tree after the last journaled round, while unpublished_rounds_ > 0
  while (true) {
    std::unique_ptr<Round> round;
    bool publish = false;
    {
      std::unique_lock<std::mutex> l(mu_);
      auto ready = [&] { return !commits_.empty() || integrator_done_ || checkpoint_waiters_ > 0; };
      if (unpublished_rounds_ > 0)
        commit_cv_.wait_until(l, last_publish + options_.publish_interval, ready);
      else
        commit_cv_.wait(l, [&] { return !commits_.empty() || integrator_done_; });
      if (!commits_.empty()) {
        round = std::move(commits_.front());
        commits_.pop_front();
      } else if (unpublished_rounds_ == 0) {
        return;  // the integrator is done (what the wait above waited for) and all is published
      } else {
        publish = true;  // idle, waited for, or the interval passed
      }
    }
    commit_cv_.notify_all();
    Status st = FailedStatus();
    if (round) {
      if (st.ok()) st = journal_.Append(round->journal);
      if (st.ok()) st = journal_.Sync();
      if (!st.ok()) {
        Fail(st);
        for (auto& p : round->pending) p.done.set_value(FailedStatus());
        continue;
      }
      for (size_t i = 0; i < round->pending.size(); ++i) round->pending[i].done.set_value(round->first[i]);
      journal_bytes_ += round->journal.size();
      unpublished_files_.insert(unpublished_files_.end(), std::make_move_iterator(round->files.begin()),
                                std::make_move_iterator(round->files.end()));
      unpublished_partials_ = std::move(round->partials);
      unpublished_filled_.insert(unpublished_filled_.end(), round->filled.begin(), round->filled.end());
      unpublished = round->checkpoint;
      ++unpublished_rounds_;
      std::lock_guard<std::mutex> l(mu_);
      publish = unpublished_rounds_ >= kMaxRoundsPerCheckpoint ||
                journal_bytes_ >= limits::kMaxJournalBytes ||
                (commits_.empty() && (checkpoint_waiters_ > 0 || integrator_done_ ||
                                      Clock::now() - last_publish >= options_.publish_interval));
    }
    if (!st.ok()) unpublished_rounds_ = 0;  // the writer failed: nothing more is published
    if (!publish || !st.ok()) continue;
    st = PublishRounds(unpublished);
    last_publish = Clock::now();
    if (!st.ok()) Fail(st);
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

namespace {
// Reads hash tiles through ReadTileOrFull and counts them.
Result<std::vector<Hash>> ReadHashes(TileReader& reader, const TileCoord& t, TreeReport& report) {
  ASSIGN_OR_RETURN(Bytes data, ReadTileOrFull(reader, t));
  Result<std::vector<Hash>> h = ParseHashTile(data, t.width);
  if (!h.ok()) return h.status().WithContext(TilePath(t));
  ++report.tiles;
  return h;
}

ByteView HashBytes(const std::vector<Hash>& hashes) {
  return ByteView(reinterpret_cast<const char*>(hashes.data()), hashes.size() * sizeof(Hash));
}

Status CheckBundle(TileReader& reader, const TileCoord& t, const std::vector<Hash>& leaves,
                   TreeReport& report, const TreeCheckOptions& options) {
  ASSIGN_OR_RETURN(Bytes data, ReadTileOrFull(reader, t));
  Result<std::vector<ByteView>> entries = ParseEntryBundle(data, t.width);
  if (!entries.ok()) return entries.status().WithContext(TilePath(t));
  for (size_t i = 0; i < entries->size(); ++i)
    if (HashLeaf((*entries)[i]) != leaves[i])
      return DataLoss(TilePath(t) + ": entry " + std::to_string(t.index * 256 + i) +
                      " does not hash to its leaf in " + TilePath(TileCoord{0, t.index, t.width}));
  ++report.bundles;
  if (options.on_bundle) RETURN_IF_ERROR(options.on_bundle(t, data, *entries));
  return Status::Ok();
}
}  // namespace

Result<TreeReport> VerifyTree(TileReader& reader, const Checkpoint& cp, const TreeCheckOptions& options) {
  TreeReport report;
  const uint64_t n = cp.size;
  if (n == 0) {
    if (cp.root != EmptyRoot()) return DataLoss("checkpoint: size 0 with a non-empty root");
    return report;
  }
  int top = 0;
  while (top + 1 < kLevels && (n >> (8 * (top + 1))) > 0) ++top;
  // 1. The right edge (partial tiles) must hash to the signed root.
  std::vector<std::vector<Hash>> edge(top + 1);
  std::string edge_names;
  for (int l = top; l >= 0; --l) {
    uint32_t w = PartialWidth(l, n);
    if (w == 0) continue;
    TileCoord t{l, (n >> (8 * l)) / 256, w};
    ASSIGN_OR_RETURN(edge[l], ReadHashes(reader, t, report));
    edge_names += (edge_names.empty() ? "" : ", ") + TilePath(t);
  }
  ASSIGN_OR_RETURN(CompactRange range, CompactRange::FromHashes(n, CompactFromEdge(edge)));
  if (range.Root() != cp.root)
    return DataLoss(edge_names + ": the right edge of the tree does not hash to the checkpoint's root");
  // 2. Top down, depth first (memory: one tile per level, whatever the tree's size): each full
  //    tile must hash to its already trusted parent hash; below a tile, its children from left to
  //    right, so that entry bundles come in order. The full tiles under edge tile l are the ones
  //    level l - 1 holds left of its own edge tile.
  const uint64_t first_bundle = std::min(options.entries_from, n) / 256;
  std::function<Status(int, uint64_t, const Hash&)> visit = [&](int l, uint64_t i,
                                                                const Hash& want) -> Status {
    TileCoord t{l, i, 256};
    ASSIGN_OR_RETURN(std::vector<Hash> hashes, ReadHashes(reader, t, report));
    if (SubtreeRoot(hashes.data(), 256) != want)
      return DataLoss(TilePath(t) + ": does not hash to hash " + std::to_string(i % 256) + " of " +
                      TilePath(TileFor(l + 1, i, n)));
    if (options.on_hash_tile) RETURN_IF_ERROR(options.on_hash_tile(t, HashBytes(hashes)));
    if (l > 0) {
      for (uint64_t j = 0; j < 256; ++j) RETURN_IF_ERROR(visit(l - 1, i * 256 + j, hashes[j]));
    } else if (options.bundles && i >= first_bundle) {
      RETURN_IF_ERROR(CheckBundle(reader, TileCoord{kEntriesLevel, i, 256}, hashes, report, options));
    }
    return Status::Ok();
  };
  for (int l = top; l >= 0; --l) {
    if (edge[l].empty()) continue;
    const uint64_t index = (n >> (8 * l)) / 256;  // the edge tile's; full tiles left of it are below
    TileCoord t{l, index, uint32_t(edge[l].size())};
    if (options.on_hash_tile) RETURN_IF_ERROR(options.on_hash_tile(t, HashBytes(edge[l])));
    if (l > 0) {
      for (uint64_t j = 0; j < edge[l].size(); ++j)
        RETURN_IF_ERROR(visit(l - 1, index * 256 + j, edge[l][j]));
    } else if (options.bundles) {
      RETURN_IF_ERROR(
          CheckBundle(reader, TileCoord{kEntriesLevel, index, t.width}, edge[l], report, options));
    }
  }
  return report;
}

namespace {
// Retained partials of tile `t` (full, or the right edge with t.width) must be prefixes of it.
Status CheckRetainedPartials(const std::string& dir, TileReader& reader, const TileCoord& t, ByteView content,
                             const std::vector<ByteView>* entries, TreeReport& report) {
  std::string pdir = fs::JoinPath(dir, TilePath(TileCoord{t.level, t.index, 256}) + ".p");
  if (!fs::IsDir(pdir)) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(pdir));
  for (const auto& name : names) {
    auto w = ParseDecimal(name);
    TileCoord p{t.level, t.index, w ? uint32_t(*w) : 0};
    if (!w || *w == 0 || *w > 255) return DataLoss(pdir + "/" + name + ": not a partial tile width");
    if (*w >= t.width) continue;  // the right edge itself, or beyond the checkpoint
    ASSIGN_OR_RETURN(Bytes data, ReadTileOrFull(reader, p));
    size_t want = entries ? BundlePrefixBytes(*entries, *w) : size_t(*w) * 32;
    if (data.size() != want || content.substr(0, want) != data)
      return DataLoss(TilePath(p) + ": differs from the first " + name + " " +
                      (entries ? "entries" : "hashes") + " of " +
                      TilePath(TileCoord{t.level, t.index, t.full() ? 256u : t.width}));
    ++(entries ? report.bundles : report.tiles);
  }
  return Status::Ok();
}
}  // namespace

Result<VerifyReport> VerifyLog(const std::string& dir, const note::Verifier& log_key) {
  VerifyReport report;
  ASSIGN_OR_RETURN(report.checkpoint, ReadCheckpoint(dir, log_key));
  DirTileReader reader(dir);
  TreeReport partials;
  TreeCheckOptions options;
  options.on_hash_tile = [&](const TileCoord& t, ByteView content) {
    return CheckRetainedPartials(dir, reader, t, content, nullptr, partials);
  };
  options.on_bundle = [&](const TileCoord& t, ByteView content, const std::vector<ByteView>& entries) {
    return CheckRetainedPartials(dir, reader, t, content, &entries, partials);
  };
  if (report.checkpoint.checkpoint.size == 0 && report.checkpoint.checkpoint.root != EmptyRoot())
    return DataLoss(dir + "/checkpoint: size 0 with a non-empty root");
  ASSIGN_OR_RETURN(TreeReport tree, VerifyTree(reader, report.checkpoint.checkpoint, options));
  report.tiles = tree.tiles + partials.tiles;
  report.bundles = tree.bundles + partials.bundles;
  return report;
}

}  // namespace accord::tlog
