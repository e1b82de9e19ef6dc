// The log writer and the auditor's check, on real directories: appends, reopening, recovery
// of entries acknowledged before their checkpoint, one writer at a time, and corruption named.
#include "tlog/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/descriptors_test_util.h"
#include "core/limits.h"
#include "crypto/sha256.h"
#include "tlog/journal.h"
#include "tlog/merkle.h"

namespace accord::tlog {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-log-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    dir_ = root_ + "/log";
    key_ = root_ + "/log.key";
    auto signer = note::GenerateSigner("test.example/log");
    ASSERT_TRUE(signer.ok());
    verifier_ = signer->verifier();
    ASSERT_TRUE(fs::WriteFileAtomic(key_, note::FormatSignerKey(*signer) + "\n", 0600).ok());
    ASSERT_TRUE(InitLog(dir_, "test.example/log", key_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static std::string Entry(uint64_t i) { return "entry number " + std::to_string(i); }

  // Appends entries [from, to) in batches of `batch` and returns the checkpoint after them.
  VerifiedCheckpoint AppendRange(LogWriter& w, uint64_t from, uint64_t to, size_t batch = 1000) {
    std::vector<std::future<Result<uint64_t>>> futures;
    std::vector<uint64_t> firsts;
    for (uint64_t i = from; i < to; i += batch) {
      EntryBatch b;
      for (uint64_t j = i; j < std::min<uint64_t>(to, i + batch); ++j) EXPECT_TRUE(b.Add(Entry(j)).ok());
      firsts.push_back(i);
      futures.push_back(w.Submit(std::move(b)));
    }
    for (size_t k = 0; k < futures.size(); ++k) {
      auto r = futures[k].get();
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) {
        EXPECT_EQ(*r, firsts[k]);
      }
    }
    auto cp = w.Sync();
    EXPECT_TRUE(cp.ok()) << cp.status().ToString();
    return *cp;
  }

  std::string ReadAll(const std::string& rel) {
    std::ifstream f(dir_ + "/" + rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void WriteAll(const std::string& rel, const std::string& data) {
    std::ofstream f(dir_ + "/" + rel, std::ios::binary | std::ios::trunc);
    f << data;
  }

  std::string root_, dir_, key_;
  note::Verifier verifier_;
};

TEST_F(LogTest, NewLogHasAVerifiedEmptyCheckpoint) {
  auto cp = ReadCheckpoint(dir_, verifier_);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->checkpoint.size, 0u);
  EXPECT_EQ(cp->checkpoint.origin, "test.example/log");
  EXPECT_EQ(cp->checkpoint.root, EmptyRoot());
  EXPECT_TRUE(VerifyLog(dir_, verifier_).ok());
}

TEST_F(LogTest, InitRefusesANonEmptyDirectoryAndAKeyInsideTheLog) {
  EXPECT_EQ(InitLog(dir_, "test.example/log", key_).code(), Code::kAlreadyExists);
  std::string other = root_ + "/other";
  ASSERT_TRUE(fs::MakeDirs(other).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(other + "/k.key", ReadAll("../log.key"), 0600).ok());
  Status s = InitLog(other, "x", other + "/k.key");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("must not be inside the log directory"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::Exists(other + "/checkpoint"));
  std::string fresh = root_ + "/fresh";
  EXPECT_EQ(InitLog(fresh, "bad\norigin", key_).code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::Exists(fresh + "/checkpoint"));
}

TEST_F(LogTest, AppendedEntriesAreProvableFromTheTilesAlone) {
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  VerifiedCheckpoint cp = AppendRange(**w, 0, 1300, 97);
  EXPECT_EQ(cp.checkpoint.size, 1300u);
  w->reset();

  auto report = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->checkpoint.checkpoint.size, 1300u);

  DirTileReader reader(dir_);
  TileHashSource source(reader, 1300);
  auto root = source.Root();
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, cp.checkpoint.root);
  for (uint64_t i : {0ull, 1ull, 255ull, 256ull, 257ull, 1023ull, 1299ull}) {
    auto entry = ReadEntry(reader, i, 1300);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(*entry, Entry(i));
    auto proof = ProveInclusion(source, i, 1300);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(
        VerifyInclusion(i, 1300, HashLeaf(Entry(i)), *proof, crypto::AsView(cp.checkpoint.root)).ok());
  }
  // Consistency from every older size that had a checkpoint-worthy shape.
  for (uint64_t m : {1ull, 2ull, 97ull, 256ull, 1000ull, 1299ull}) {
    auto old_root = RangeRoot(source, 0, m);  // an older tree's root, from today's tiles
    ASSERT_TRUE(old_root.ok());
    auto proof = ProveConsistency(source, m, 1300);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(
        VerifyConsistency(m, 1300, crypto::AsView(*old_root), crypto::AsView(cp.checkpoint.root), *proof)
            .ok())
        << m;
  }
}

TEST_F(LogTest, ReopenContinuesAcrossTileBoundaries) {
  uint64_t n = 0;
  for (uint64_t next : {1ull, 255ull, 256ull, 257ull, 511ull, 65536ull, 65537ull, 66000ull}) {
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->checkpoint().checkpoint.size, n);
    AppendRange(**w, n, next, 4096);
    n = next;
  }
  auto report = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->checkpoint.checkpoint.size, n);
  // Full tiles replaced their retained partials; the right edge keeps those of its sizes.
  EXPECT_FALSE(fs::Exists(dir_ + "/tile/0/000.p"));
  EXPECT_FALSE(fs::Exists(dir_ + "/tile/entries/000.p"));
  EXPECT_FALSE(fs::Exists(dir_ + "/tile/1/000.p"));
  EXPECT_TRUE(fs::Exists(dir_ + "/tile/2/000.p/1"));
}

TEST_F(LogTest, EntriesAcknowledgedBeforeTheirCheckpointAreRecovered) {
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok());
  AppendRange(**w, 0, 1000);
  std::string old_checkpoint = ReadAll("checkpoint");
  VerifiedCheckpoint later = AppendRange(**w, 1000, 1700);
  w->reset();
  // A crash between the durable rename of bundles and the checkpoint leaves exactly this.
  WriteAll("checkpoint", old_checkpoint);
  ASSERT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1000u);
  ASSERT_TRUE(VerifyLog(dir_, verifier_).ok());  // the served state is consistent meanwhile

  auto reopened = LogWriter::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->checkpoint().checkpoint.size, 1700u);
  EXPECT_EQ((*reopened)->checkpoint().checkpoint.root, later.checkpoint.root);
  auto next = (*reopened)->Append("after recovery");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 1700u);
  reopened->reset();
  EXPECT_TRUE(VerifyLog(dir_, verifier_).ok());
}

TEST_F(LogTest, FilesBeyondTheAcknowledgedPrefixAreRemovedOnRecovery) {
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok());
  AppendRange(**w, 0, 600);
  w->reset();
  // Left by a round whose renames were not all durable: a full bundle after a gap.
  WriteAll("tile/entries/005", "stale");
  auto reopened = LogWriter::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE(fs::Exists(dir_ + "/tile/entries/005"));
  EXPECT_EQ((*reopened)->checkpoint().checkpoint.size, 600u);
}

TEST_F(LogTest, OneWriterAtATime) {
  auto first = LogWriter::Open(dir_);
  ASSERT_TRUE(first.ok());
  auto second = LogWriter::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("locked by another writer"), std::string::npos);
  first->reset();
  EXPECT_TRUE(LogWriter::Open(dir_).ok());
}

TEST_F(LogTest, AnEntryOver64KiBIsRefusedAndChangesNothing) {
  EntryBatch b;
  EXPECT_TRUE(b.Add(std::string(limits::kMaxEntrySize, 'a')).ok());
  Status s = b.Add(std::string(limits::kMaxEntrySize + 1, 'a'));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("65536 bytes is over the limit"), std::string::npos) << s.message();
  EXPECT_EQ(b.size(), 1u);
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok());
  auto r = (*w)->Submit(std::move(b)).get();
  ASSERT_TRUE(r.ok());
  w->reset();
  DirTileReader reader(dir_);
  EXPECT_EQ(ReadEntry(reader, 0, 1)->size(), limits::kMaxEntrySize);
  EXPECT_TRUE(VerifyLog(dir_, verifier_).ok());
}

// A round is one journal record, which must read back whole (journal.h): a batch whose record
// would pass kMaxJournalPayload is refused at Submit, and the log goes on as if it never came.
TEST_F(LogTest, ABatchOverTheJournalsLimitIsRefusedAndChangesNothing) {
  const std::string entry(limits::kMaxEntrySize, 'b');
  EntryBatch big;
  while (big.bytes() + 2 * big.size() <= kMaxJournalPayload) ASSERT_TRUE(big.Add(entry).ok());
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok());
  auto refused = (*w)->Submit(std::move(big)).get();
  ASSERT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("over the journal's limit"), std::string::npos)
      << refused.status().ToString();
  auto next = (*w)->Append("after");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, 0u);
  w->reset();
  DirTileReader reader(dir_);
  EXPECT_EQ(*ReadEntry(reader, 0, 1), "after");
  auto cp = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->checkpoint.checkpoint.size, 1u);
}

// The process runs out of descriptors while the writer publishes (a node's clients holding them
// all for a moment): the writer waits instead of stopping for good, and every entry lands.
TEST_F(LogTest, AMomentWithoutDescriptorsDelaysTheWriterAndDoesNotStopIt) {
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok());
  AppendRange(**w, 0, 300, 100);
  {
    testing::DescriptorsExhausted none(std::chrono::milliseconds(300));
    ASSERT_TRUE(none.exhausted());
    // Journaled with no new descriptor; its tiles (a new one: entries 256 to 599) wait to be written.
    auto r = (*w)->Submit([] {
                   EntryBatch b;
                   for (uint64_t i = 300; i < 600; ++i) EXPECT_TRUE(b.Add(Entry(i)).ok());
                   return b;
                 }())
                 .get();
    auto cp = (*w)->Sync();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, 300u);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    EXPECT_EQ(cp->checkpoint.size, 600u);
  }
  auto next = (*w)->Append(Entry(600));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  w->reset();
  auto cp = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->checkpoint.checkpoint.size, 601u);
  DirTileReader reader(dir_);
  EXPECT_EQ(*ReadEntry(reader, 599, 601), Entry(599));
}

class CorruptLogTest : public LogTest {
 protected:
  void SetUp() override {
    LogTest::SetUp();
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok());
    // Checkpoints at 300, 600 and 700 retain tile/1/000.p/1 and tile/1/000.p/2.
    AppendRange(**w, 0, 300, 100);
    AppendRange(**w, 300, 600, 100);
    AppendRange(**w, 600, 700, 100);
  }
  void ExpectBad(const std::string& names) {
    auto r = VerifyLog(dir_, verifier_);
    ASSERT_FALSE(r.ok()) << "corruption not detected, want " << names;
    EXPECT_NE(r.status().message().find(names), std::string::npos) << r.status().ToString();
  }
  void FlipByte(const std::string& rel, size_t at) {
    std::string d = ReadAll(rel);
    ASSERT_LT(at, d.size());
    d[at] ^= 1;
    WriteAll(rel, d);
  }
};

TEST_F(CorruptLogTest, AlteredLevel0TileIsNamed) {
  FlipByte("tile/0/000", 100);
  ExpectBad("tile/0/000:");
}
TEST_F(CorruptLogTest, AlteredRightEdgeTileIsNamed) {
  FlipByte("tile/1/000.p/2", 5);
  ExpectBad("tile/1/000.p/2");
}
TEST_F(CorruptLogTest, AlteredEntryIsNamed) {
  FlipByte("tile/entries/001", 40);
  ExpectBad("tile/entries/001: entry 258 does not hash to its leaf in tile/0/001");
}
TEST_F(CorruptLogTest, TruncatedBundleIsNamed) {
  std::string d = ReadAll("tile/entries/000");
  WriteAll("tile/entries/000", d.substr(0, d.size() - 3));
  ExpectBad("tile/entries/000");
}
TEST_F(CorruptLogTest, TruncatedTileIsNamed) {
  WriteAll("tile/0/001", ReadAll("tile/0/001").substr(0, 8000));
  ExpectBad("tile/0/001: size 8000, want 8192");
}
TEST_F(CorruptLogTest, MissingTileIsNamed) {
  std::filesystem::remove(dir_ + "/tile/0/000");
  ExpectBad("tile/0/000");
}
TEST_F(CorruptLogTest, AlteredRetainedPartialIsNamed) {
  FlipByte("tile/1/000.p/1", 3);
  ExpectBad("tile/1/000.p/1");
}
TEST_F(CorruptLogTest, AlteredCheckpointFailsItsSignature) {
  std::string cp = ReadAll("checkpoint");
  size_t nl = cp.find('\n');
  cp[nl + 1] = cp[nl + 1] == '7' ? '8' : '7';  // the tree size
  WriteAll("checkpoint", cp);
  ExpectBad("does not verify");
}
TEST_F(CorruptLogTest, CheckpointByAnotherKeyIsRejected) {
  auto other = note::GenerateSigner("test.example/log");
  ASSERT_TRUE(other.ok());
  auto cp = ReadCheckpoint(dir_, verifier_);
  ASSERT_TRUE(cp.ok());
  WriteAll("checkpoint", *SignCheckpoint(cp->checkpoint, *other));
  ExpectBad("no signature by a known key");
}
TEST_F(CorruptLogTest, AWriterRefusesToOpenACorruptRightEdge) {
  FlipByte("tile/0/002.p/188", 0);
  auto w = LogWriter::Open(dir_);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace accord::tlog

namespace accord::tlog {
namespace {

// A witnessed writer keeps its own checkpoint beside the published one (which the node's cosigner
// writes); reopened, with or without witnesses, the log continues from the larger of the two.
TEST_F(LogTest, WitnessedWriterKeepsItsCheckpointApartAndRecoversFromIt) {
  {
    auto w = LogWriter::Open(dir_, LogOptions{true});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    VerifiedCheckpoint cp = AppendRange(**w, 0, 300);
    EXPECT_EQ(cp.checkpoint.size, 300u);
    auto grown = (*w)->WaitForGrowth(299, std::chrono::milliseconds(10));
    ASSERT_TRUE(grown.ok());
    EXPECT_EQ(grown->checkpoint.size, 300u);
  }
  auto published = ReadCheckpoint(dir_, verifier_);
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->checkpoint.size, 0u) << "nobody cosigned and published it yet";
  {
    auto w = LogWriter::Open(dir_, LogOptions{true});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->checkpoint().checkpoint.size, 300u);
  }
  {
    auto w = LogWriter::Open(dir_);  // without witnesses: publishes DIR/checkpoint itself again
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->checkpoint().checkpoint.size, 300u);
    auto now = ReadCheckpoint(dir_, verifier_);
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->checkpoint.size, 300u) << "published at once on open";
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/.accord/checkpoint"));
    AppendRange(**w, 300, 310);
  }
  auto report = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->checkpoint.checkpoint.size, 310u);
}

}  // namespace
}  // namespace accord::tlog

// The journal (docs/log-format.md): a round's entries are acknowledged once its record is
// durable, before their tiles exist. These tests write records by the documented grammar (not
// through the writer) and check what a writer opening the log makes of them.
namespace accord::tlog {
namespace {

void PutBE(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(char(uint8_t(v >> (8 * i))));
}

// record = "ACJ1" first(8) count(4) length(4) payload SHA-256(everything before it)
std::string Record(uint64_t first, const std::vector<std::string>& entries) {
  std::string payload;
  for (const auto& e : entries) {
    PutBE(payload, e.size(), 2);
    payload += e;
  }
  std::string r = "ACJ1";
  PutBE(r, first, 8);
  PutBE(r, entries.size(), 4);
  PutBE(r, payload.size(), 4);
  r += payload;
  crypto::Hash d = crypto::Sha256(r);
  return r + std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// RFC 9162 section 2.1.1, straight from its definition.
Hash Mth(const std::vector<std::string>& d, size_t from, size_t to) {
  if (to - from == 1) return HashLeaf(d[from]);
  size_t k = 1;
  while (k * 2 < to - from) k *= 2;
  return HashChildren(Mth(d, from, from + k), Mth(d, from + k, to));
}

// A tree of 2^40 equal entries, served tile by tile as a reader asks, at most `budget` reads.
class HugeTreeReader : public TileReader {
 public:
  explicit HugeTreeReader(int budget) : budget_(budget) {
    level_hash_[0] = HashLeaf("x");
    for (int h = 1; h <= 40; ++h) level_hash_[h] = HashChildren(level_hash_[h - 1], level_hash_[h - 1]);
  }
  Result<Bytes> ReadTile(const TileCoord& t) override {
    if (budget_-- <= 0) return ResourceExhausted("the test's read budget is spent");
    ++reads;
    Bytes out;
    for (uint32_t i = 0; i < t.width; ++i) {
      if (t.level == kEntriesLevel) {
        out += std::string("\0\1x", 3);
      } else {
        Hash h = level_hash_[8 * t.level];
        if (t.level == 0 && t.index == damaged_level0_tile && i == 7) h[0] ^= 1;
        out.append(reinterpret_cast<const char*>(h.data()), h.size());
      }
    }
    return out;
  }
  Hash root() const { return level_hash_[40]; }
  int reads = 0;
  uint64_t damaged_level0_tile = ~uint64_t{0};

 private:
  int budget_;
  Hash level_hash_[41];
};

// The check goes depth first: the first entry bundle is checked after one hash tile per level,
// not after every hash tile of the tree (which, held level by level, would need memory in
// proportion to the tree: 128 GiB of hashes here, for a checkpoint anyone with the log's key
// can sign).
TEST(VerifyTreeTest, AHugeTreeIsCheckedDepthFirstInBoundedMemory) {
  HugeTreeReader reader(1000);
  Checkpoint cp{"test.example/log", uint64_t{1} << 40, reader.root(), {}};
  TreeCheckOptions options;
  int bundles = 0;
  options.on_bundle = [&](const TileCoord& t, ByteView, const std::vector<ByteView>& entries) -> Status {
    EXPECT_EQ(t.index, uint64_t(bundles));
    EXPECT_EQ(entries.size(), 256u);
    return ++bundles == 3 ? FailedPrecondition("three bundles are enough") : Status::Ok();
  };
  Result<TreeReport> r = VerifyTree(reader, cp, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(), Status(FailedPrecondition("three bundles are enough")).ToString());
  EXPECT_EQ(bundles, 3);
  EXPECT_EQ(reader.reads, 11);  // the edge, a full tile on each level below, 3 level-0 tiles, 3 bundles

  // A level-0 tile that does not hash to its parent, deep in the tree, is named.
  HugeTreeReader again(1000);
  again.damaged_level0_tile = 1;
  bundles = 0;
  Result<TreeReport> bad = VerifyTree(again, cp, options);
  EXPECT_EQ(bad.status().code(), Code::kDataLoss) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("tile/0/001: does not hash to hash 1 of tile/1/000"),
            std::string::npos)
      << bad.status().ToString();
  EXPECT_EQ(bundles, 1);
}

class JournalTest : public LogTest {
 protected:
  void SetUp() override {
    LogTest::SetUp();
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok());
    AppendRange(**w, 0, 1000, 100);
  }
  std::vector<std::string> Entries(uint64_t from, uint64_t to) {
    std::vector<std::string> out;
    for (uint64_t i = from; i < to; ++i) out.push_back(Entry(i));
    return out;
  }
  void WriteJournal(const std::string& data) { WriteAll(".accord/journal", data); }
  std::string Journal() { return ReadAll(".accord/journal"); }
};

TEST(JournalFormatTest, RecordsAreWhatTheGrammarSays) {
  std::vector<std::string> entries = {"entry number 7", "", std::string(300, 'x')};
  std::vector<ByteView> views(entries.begin(), entries.end());
  Bytes record = EncodeJournalRecord(7, views);
  EXPECT_EQ(std::string(record), Record(7, entries));
  const Bytes journal = record + record.substr(0, 10);  // the parse gives views into it
  auto parsed = ParseJournal(journal);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->records.size(), 1u);
  EXPECT_EQ(parsed->records[0].first, 7u);
  EXPECT_EQ(std::vector<std::string>(parsed->records[0].entries.begin(), parsed->records[0].entries.end()),
            entries);
  EXPECT_EQ(parsed->valid_bytes, record.size()) << "the torn tail is not part of it";
}

TEST_F(JournalTest, ACheckpointWaiterIsServedWithoutWaitingForTheInterval) {
  LogOptions slow;
  slow.publish_interval = std::chrono::hours(1);
  auto w = LogWriter::Open(dir_, slow);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (uint64_t i = 1000; i < 1005; ++i) {
    ASSERT_TRUE((*w)->Append(Entry(i)).ok());
    auto cp = (*w)->Sync();  // would wait the hour if waiters did not make the writer publish
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    EXPECT_EQ(cp->checkpoint.size, i + 1);
  }
  // Nobody waits: the round stays in the journal, acknowledged, until the writer stops.
  auto index = (*w)->Append(Entry(1005));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 1005u);
  EXPECT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1005u);
  EXPECT_NE(Journal(), "");
  w->reset();
  EXPECT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1006u);
  EXPECT_EQ(Journal(), "");
  EXPECT_TRUE(VerifyLog(dir_, verifier_).ok());
}

TEST_F(JournalTest, ClosedWriterLeavesAnEmptyJournalAndEveryEntryInTiles) {
  EXPECT_EQ(Journal(), "");
  auto cp = ReadCheckpoint(dir_, verifier_);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->checkpoint.size, 1000u);
  EXPECT_EQ(cp->checkpoint.root, Mth(Entries(0, 1000), 0, 1000));
}

TEST_F(JournalTest, JournaledEntriesWithoutTilesAreIntegratedOnOpen) {
  // A crash after two rounds were acknowledged and before their tiles were written.
  WriteJournal(Record(1000, Entries(1000, 1003)) + Record(1003, Entries(1003, 1300)));
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->checkpoint().checkpoint.size, 1300u);
  EXPECT_EQ((*w)->checkpoint().checkpoint.root, Mth(Entries(0, 1300), 0, 1300));
  EXPECT_EQ(Journal(), "") << "integrated, so emptied";
  auto next = (*w)->Append(Entry(1300));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 1300u);
  w->reset();
  auto report = VerifyLog(dir_, verifier_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->checkpoint.checkpoint.size, 1301u);
  DirTileReader reader(dir_);
  for (uint64_t i : {1000ull, 1002ull, 1003ull, 1299ull, 1300ull})
    EXPECT_EQ(*ReadEntry(reader, i, 1301), Entry(i));
}

TEST_F(JournalTest, RecordsTheCheckpointCoversAreSkipped) {
  // A crash after the checkpoint and before the journal was emptied; then one new record.
  WriteJournal(Record(900, Entries(900, 1000)) + Record(1000, Entries(1000, 1010)));
  auto w = LogWriter::Open(dir_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->checkpoint().checkpoint.size, 1010u);
  EXPECT_EQ((*w)->checkpoint().checkpoint.root, Mth(Entries(0, 1010), 0, 1010));
}

TEST_F(JournalTest, ATornLastRecordWasNeverAcknowledgedAndIsDropped) {
  std::string good = Record(1000, Entries(1000, 1050));
  std::string last = Record(1050, Entries(1050, 1100));
  for (int variant = 0; variant < 4; ++variant) {
    std::string torn = last;
    if (variant == 0) torn.resize(torn.size() / 2);           // cut in its payload
    if (variant == 1) torn.resize(7);                         // cut in its header
    if (variant == 2) torn[torn.size() / 2] ^= 0x40;          // a block not written as it was
    if (variant == 3) torn = std::string(torn.size(), '\0');  // size grown, data never written
    WriteJournal(good + torn);
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok()) << variant << ": " << w.status().ToString();
    EXPECT_EQ((*w)->checkpoint().checkpoint.size, 1050u) << variant;
    EXPECT_EQ((*w)->checkpoint().checkpoint.root, Mth(Entries(0, 1050), 0, 1050)) << variant;
    EXPECT_EQ(Journal(), "") << variant;
  }
  EXPECT_TRUE(VerifyLog(dir_, verifier_).ok());
}

TEST_F(JournalTest, AMissingRecordIsDataLossAndChangesNothing) {
  std::string journal = Record(1000, Entries(1000, 1010)) + Record(1020, Entries(1020, 1030));
  for (const std::string& j : {journal, Record(1010, Entries(1010, 1020))}) {
    WriteJournal(j);
    auto w = LogWriter::Open(dir_);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Code::kDataLoss);
    EXPECT_NE(w.status().message().find("entries are missing"), std::string::npos) << w.status().ToString();
    EXPECT_EQ(Journal(), j) << "kept for the operator to look at";
    EXPECT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1000u);
  }
}

TEST_F(JournalTest, ADamagedRecordWithRecordsAfterItIsDataLossNotATornWrite) {
  // Only the last write can be torn; damage before an acknowledged record must not drop it.
  std::string first = Record(1000, Entries(1000, 1010)), second = Record(1010, Entries(1010, 1020));
  std::string flipped = first;
  flipped[40] ^= 0x01;
  std::string bad_magic = first;
  bad_magic[0] = 'X';
  for (const std::string& j : {flipped + second, bad_magic + second}) {
    WriteJournal(j);
    auto w = LogWriter::Open(dir_);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Code::kDataLoss);
    EXPECT_NE(w.status().message().find("record at byte 0"), std::string::npos) << w.status().ToString();
    EXPECT_NE(w.status().message().find("not a write torn by a crash"), std::string::npos);
    EXPECT_EQ(Journal(), j);
    EXPECT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1000u);
  }
}

TEST_F(JournalTest, ALogFromBeforeTheJournalIsMarkedSoOlderVersionsRefuseIt) {
  std::string config = ReadAll(".accord/config");
  EXPECT_NE(config.find("\njournal 1\n"), std::string::npos) << config;
  std::string old = config.substr(0, config.find("journal 1\n"));
  WriteAll(".accord/config", old);
  ASSERT_FALSE(ReadLogConfig(dir_)->journal);
  {
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  EXPECT_EQ(ReadAll(".accord/config"), config);
  WriteAll(".accord/config", old + "journal 2\n");  // a later format: refused, not misread
  auto w = LogWriter::Open(dir_);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("not one this version reads"), std::string::npos)
      << w.status().ToString();
}

TEST_F(JournalTest, ARecordWhoseEntriesDoNotFillItIsDataLoss) {
  // Its digest matches, so it was written whole: not a torn write, and not the writer's.
  std::string payload;
  PutBE(payload, 3, 2);
  payload += "abc";
  std::string r = "ACJ1";
  PutBE(r, 1000, 8);
  PutBE(r, 2, 4);  // claims two entries, holds one
  PutBE(r, payload.size(), 4);
  r += payload;
  crypto::Hash d = crypto::Sha256(r);
  WriteJournal(r + std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  auto w = LogWriter::Open(dir_);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kDataLoss);
  EXPECT_NE(w.status().message().find("do not fill"), std::string::npos) << w.status().ToString();
  EXPECT_EQ(ReadCheckpoint(dir_, verifier_)->checkpoint.size, 1000u);
}

TEST_F(JournalTest, ARecordThatDisagreesWithTheTilesIsDataLoss) {
  // Tiles beyond the checkpoint (a crash before the checkpoint was written) and a journal that
  // holds other bytes for the same indices: one of them is not what was acknowledged.
  {
    auto w = LogWriter::Open(dir_);
    ASSERT_TRUE(w.ok());
    std::string old_checkpoint = ReadAll("checkpoint");
    AppendRange(**w, 1000, 1100, 100);
    w->reset();
    WriteAll("checkpoint", old_checkpoint);
  }
  std::vector<std::string> other = Entries(1000, 1100);
  other[42] = "not entry 1042";
  WriteJournal(Record(1000, other));
  auto w = LogWriter::Open(dir_);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kDataLoss);
  EXPECT_NE(w.status().message().find("entry 1042 differs"), std::string::npos) << w.status().ToString();
  // With the journal's copy agreeing, the tiles beyond the checkpoint are integrated.
  WriteJournal(Record(1000, Entries(1000, 1100)));
  auto ok = LogWriter::Open(dir_);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->checkpoint().checkpoint.size, 1100u);
}

}  // namespace
}  // namespace accord::tlog
