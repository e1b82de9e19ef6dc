// The index's behaviour (store.h), held to one typed suite for both implementations: the
// embedded SqliteStore and PgStore on a real PostgreSQL server (pg_test_util.h). Then what only
// PgStore has: schema names and versions, several processes on one index, a bounded pool, and
// errors that carry PostgreSQL's message.
#include "node/pg_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/bytes.h"
#include "crypto/sha256.h"
#include "node/node.h"
#include "node/pg_test_util.h"
#include "node/sqlite_store.h"
#include "node/taxii.h"
#include "node/test_util.h"

namespace accord::node {
namespace {

using json::Json;
using statement::Kind;
using testing::Key;
using testing::KeyB64;

constexpr int64_t kAdded0 = 1795860000000000;  // 2026-11-28T10:00:00.000000Z (µs)
constexpr int64_t kSecond = 1000000;

std::string Sha256Hex(const std::string& s) {
  return HexEncode(crypto::AsView(crypto::Sha256(s)));
}
const std::string kMd5 = "44d88612fea8a8f36de82e1278abb02f";
const std::string kSha1 = "3395856ce81f2b7382dee72602f798b642f14140";
const std::string kShared = Sha256Hex("listed by alice and bob");

Json Registration(const crypto::Ed25519KeyPair& k, const std::string& name,
                  const std::string& country = "DE") {
  return {
      {"name", name}, {"country", country}, {"contact", "cert@example.org"}, {"key", KeyB64(k.public_key)}};
}
Json HashSet(const std::vector<std::pair<std::string, std::string>>& digests) {
  Json entries = Json::array();
  for (const auto& [hash, digest] : digests)
    entries.push_back({{"hash", hash}, {"digest", digest}, {"size", 68}, {"name", "Test.Sig"}});
  return {{"entries", entries}};
}

// A ListQuery, spelled out.
struct Q : ListQuery {
  Q& Author(const crypto::Ed25519PublicKey& k) {
    author = k;
    return *this;
  }
  Q& OfKind(Kind k) {
    kind = k;
    return *this;
  }
  Q& From(uint64_t i) {
    from_index = i;
    return *this;
  }
  Q& AddedAfter(int64_t us) {
    added_after_us = us;
    return *this;
  }
  Q& Limit(size_t n) {
    limit = n;
    return *this;
  }
};

PgStoreOptions Options(const std::string& conninfo, const std::string& schema, size_t max_connections = 8) {
  PgStoreOptions o;
  o.conninfo = conninfo;
  o.schema = schema;
  o.max_connections = max_connections;
  return o;
}

std::vector<uint64_t> Indices(const Result<std::vector<Record>>& rs) {
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  std::vector<uint64_t> out;
  if (rs.ok())
    for (const Record& r : *rs) out.push_back(r.index);
  return out;
}

class SqliteBackend {
 public:
  static constexpr bool kNeedsPostgres = false;
  void SetUp() {
    path_ =
        std::filesystem::temp_directory_path() / ("accord-store-test-" + testing::FreshSchema() + ".sqlite");
  }
  Result<std::unique_ptr<Store>> Open() {
    ASSIGN_OR_RETURN(auto s, SqliteStore::Open(path_.string()));
    return std::unique_ptr<Store>(std::move(s));
  }
  void TearDown() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }

 private:
  std::filesystem::path path_;
};

class PgBackend {
 public:
  static constexpr bool kNeedsPostgres = true;
  void SetUp() { schema_ = testing::FreshSchema(); }
  Result<std::unique_ptr<Store>> Open() {
    ASSIGN_OR_RETURN(auto s, PgStore::Open(Options(testing::TestConninfo(), schema_)));
    return std::unique_ptr<Store>(std::move(s));
  }
  void TearDown() {
    if (!schema_.empty()) testing::DropSchema(schema_);
  }

 private:
  std::string schema_;
};

template <typename Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (Backend::kNeedsPostgres) ACCORD_NEEDS_TEST_PG();
    backend_.SetUp();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    backend_.TearDown();
  }
  void Reopen() {
    store_.reset();
    auto s = backend_.Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // The record of a statement signed by `key`, as the log's next entry would be at `index`.
  static Record Make(uint64_t index, Kind kind, const crypto::Ed25519KeyPair& key, Json body) {
    std::string leaf = testing::Signed(kind, key, std::move(body));
    Result<Record> r = RecordFromLeaf(index, leaf, kAdded0 + int64_t(index) * kSecond);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Record{};
  }
  // Signs and indexes the next statement.
  Record Append(Kind kind, const crypto::Ed25519KeyPair& key, Json body) {
    Record r = Make(*store_->Size(), kind, key, std::move(body));
    Status s = store_->Add({r});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }
  // 0 alice registers, 1 bob registers, 2 alice's YARA rule, 3 alice's hash set (SHA-256 and
  // MD5), 4 bob's hash set (the same SHA-256 and a SHA-1), 5 alice's release,
  // 6 alice retracts 3, 7 bob retracts his registration.
  void Fill() {
    Append(Kind::kRegistration, alice_, Registration(alice_, "Alice CERT"));
    Append(Kind::kRegistration, bob_, Registration(bob_, "Bob CSIRT", "FR"));
    Append(Kind::kYaraRule, alice_,
           {{"source", "rule Example { strings: $a = \"evil\" condition: $a }"}, {"rules", {"Example"}}});
    Append(Kind::kHashSet, alice_, HashSet({{"sha256", kShared}, {"md5", kMd5}}));
    Append(Kind::kHashSet, bob_, HashSet({{"sha256", kShared}, {"sha1", kSha1}}));
    Append(Kind::kRelease, alice_,
           {{"name", "accord"},
            {"version", "0.1.0"},
            {"files", {{{"path", "accord"}, {"sha256", Sha256Hex("bin")}}}}});
    Append(Kind::kRetraction, alice_, {{"index", 3}, {"reason", "superseded"}});
    Append(Kind::kRetraction, bob_, {{"index", 1}, {"reason", "key compromised"}});
  }

  Backend backend_;
  std::unique_ptr<Store> store_;
  crypto::Ed25519KeyPair alice_ = Key(1), bob_ = Key(2);
};

using Backends = ::testing::Types<SqliteBackend, PgBackend>;
class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};
TYPED_TEST_SUITE(StoreTest, Backends, BackendNames);

void ExpectSameRecord(const Record& got, const Record& want) {
  EXPECT_EQ(got.index, want.index);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.added_us, want.added_us);
  EXPECT_EQ(got.leaf, want.leaf);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.author, want.author);
  EXPECT_EQ(got.created, want.created);
}

// TAXII status resources: read again by their poster only, after a reopen too; the limits drop
// the oldest (a poster's own first), by count and by bytes.
TYPED_TEST(StoreTest, TaxiiStatusesOutliveAReopenWithinTheirLimits) {
  auto& store = this->store_;
  const auto& alice = this->alice_.public_key;
  const auto& bob = this->bob_.public_key;
  const StatusLimits limits{5, 3, 1000};
  auto find = [&](const std::string& id, const crypto::Ed25519PublicKey& who) -> std::string {
    Result<std::optional<std::string>> f = store->FindStatus(id, who);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() && *f ? **f : "<none>";
  };
  ASSERT_TRUE(store->KeepStatus("a1", alice, "{\"id\":\"a1\"}", limits).ok());
  ASSERT_TRUE(store->KeepStatus("b1", bob, std::string("\0binary\xff", 9), limits).ok());
  this->Reopen();
  EXPECT_EQ(find("a1", alice), "{\"id\":\"a1\"}");
  EXPECT_EQ(find("b1", bob), std::string("\0binary\xff", 9));
  EXPECT_EQ(find("a1", bob), "<none>");  // another participant's
  EXPECT_EQ(find("zz", alice), "<none>");
  // Alice posts 3 more: her oldest (a1) goes, bob's stays.
  for (const char* id : {"a2", "a3", "a4"}) ASSERT_TRUE(store->KeepStatus(id, alice, "x", limits).ok());
  EXPECT_EQ(find("a1", alice), "<none>");
  EXPECT_EQ(find("a2", alice), "x");
  EXPECT_EQ(find("b1", bob), std::string("\0binary\xff", 9));
  // Bob posts 2 more: 6 in all, the oldest of all (b1) goes.
  for (const char* id : {"b2", "b3"}) ASSERT_TRUE(store->KeepStatus(id, bob, "y", limits).ok());
  EXPECT_EQ(find("b1", bob), "<none>");
  EXPECT_EQ(find("a2", alice), "x");
  // A 997-byte body: a2 goes by count (5 kept), a3 by bytes (997 + 1 + 1 + 1 = 1000 is the most).
  ASSERT_TRUE(store->KeepStatus("big", bob, std::string(997, 'z'), limits).ok());
  EXPECT_EQ(find("big", bob), std::string(997, 'z'));
  EXPECT_EQ(find("a2", alice), "<none>");
  EXPECT_EQ(find("a3", alice), "<none>");
  EXPECT_EQ(find("a4", alice), "x");
  EXPECT_EQ(find("b2", bob), "y");
  EXPECT_EQ(find("b3", bob), "y");
  // An id kept once is not kept twice.
  EXPECT_FALSE(store->KeepStatus("big", bob, "again", limits).ok());
  EXPECT_EQ(find("big", bob), std::string(997, 'z'));
}

// A TAXII status id that is no UUID (here not UTF-8, which PostgreSQL refuses as a parameter) is
// no status: 404, not the index's error.
TYPED_TEST(StoreTest, TaxiiStatusOfAnIdThatIsNoUuidIsNotFound) {
  const crypto::Ed25519PublicKey alice = this->alice_.public_key;
  taxii::TaxiiConfig c;
  c.authenticate = [alice](std::string_view) -> Result<std::optional<crypto::Ed25519PublicKey>> {
    return std::optional<crypto::Ed25519PublicKey>(alice);
  };
  c.submit = [](const std::vector<statement::Statement>&) { return std::vector<Result<taxii::Logged>>{}; };
  taxii::TaxiiApi api(*this->store_, c);
  for (const std::string id :
       {"%FF", "\xff", "\xc3\x28-not-a-uuid", "3a5f0f6c-1e8a-4a4f-9b34-0d9b9b9b9b9b"}) {
    taxii::TaxiiResponse r =
        api.Handle(taxii::TaxiiRequest{"GET", "/taxii2/api/status/" + id + "/", "", "", "", "", "Bearer x"});
    EXPECT_EQ(r.status, 404) << r.body;
  }
}

TYPED_TEST(StoreTest, EmptyIndexAnswersNothing) {
  EXPECT_EQ(*this->store_->Size(), 0u);
  EXPECT_FALSE(this->store_->Get(0)->has_value());
  EXPECT_TRUE(this->store_->List(Q())->empty());
  EXPECT_TRUE(this->store_->Participants()->empty());
  EXPECT_TRUE(this->store_->FindDigest(kMd5, 10)->empty());
  EXPECT_FALSE(this->store_->FindId(std::string(64, '0'))->has_value());
  EXPECT_FALSE(this->store_->GetParticipant(this->alice_.public_key)->has_value());
}

TYPED_TEST(StoreTest, RecordsComeBackAsAdded) {
  Record reg = this->Append(Kind::kRegistration, this->alice_, Registration(this->alice_, "Alice CERT"));
  Record hs = this->Append(Kind::kHashSet, this->alice_, HashSet({{"md5", kMd5}}));
  EXPECT_EQ(*this->store_->Size(), 2u);
  for (const Record& want : {reg, hs}) {
    auto got = this->store_->Get(want.index);
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
    ExpectSameRecord(**got, want);
    EXPECT_FALSE((*got)->retracted);
  }
  EXPECT_FALSE(this->store_->Get(2)->has_value());
  EXPECT_FALSE(this->store_->Get(UINT64_MAX)->has_value());
}

// A clock that steps back between rounds (or a sequencer whose clock is behind the last one's),
// and statements of one round (one time for all): each time kept is later than the one before, so
// a TAXII client polling with added_after = the newest date added it saw gets every later record.
// The participant's time is its statement's.
TYPED_TEST(StoreTest, AddedTimesStrictlyIncreaseWithTheIndex) {
  Record first = this->Make(0, Kind::kRegistration, this->alice_, Registration(this->alice_, "Alice CERT"));
  Record second = this->Make(1, Kind::kRegistration, this->bob_, Registration(this->bob_, "Bob CSIRT", "FR"));
  first.added_us = kAdded0 + 5 * kSecond;
  second.added_us = kAdded0 + 3 * kSecond;  // the clock went back 2 s
  ASSERT_TRUE(this->store_->Add({first}).ok());
  ASSERT_TRUE(this->store_->Add({second}).ok());
  EXPECT_EQ((*this->store_->Get(1))->added_us, kAdded0 + 5 * kSecond + 1);
  EXPECT_EQ(Indices(this->store_->List(Q().AddedAfter(kAdded0 + 5 * kSecond))), std::vector<uint64_t>{1});
  auto participants = this->store_->Participants();
  ASSERT_TRUE(participants.ok());
  ASSERT_EQ(participants->size(), 2u);
  for (const Participant& p : *participants)
    EXPECT_EQ(p.added_us, p.index == 0 ? kAdded0 + 5 * kSecond : kAdded0 + 5 * kSecond + 1) << p.name;
  // One round, one time: 2, 3 and 4 at 5 s + 2, 3, 4 µs (the 1 µs each runs ahead of the clock).
  std::vector<Record> round;
  for (uint64_t i = 2; i <= 4; ++i) {
    round.push_back(
        this->Make(i, Kind::kHashSet, this->alice_, HashSet({{"sha256", Sha256Hex(std::to_string(i))}})));
    round.back().added_us = kAdded0 + 5 * kSecond + 1;
  }
  ASSERT_TRUE(this->store_->Add(round).ok());
  for (uint64_t i = 2; i <= 4; ++i)
    EXPECT_EQ((*this->store_->Get(i))->added_us, kAdded0 + 5 * kSecond + int64_t(i));
  EXPECT_EQ(Indices(this->store_->List(Q().AddedAfter(kAdded0 + 5 * kSecond + 2))),
            (std::vector<uint64_t>{3, 4}));
  Record later = this->Make(5, Kind::kYaraRule, this->alice_,
                            {{"source", "rule A { condition: true }"}, {"rules", {"A"}}});
  later.added_us = kAdded0 + 9 * kSecond;  // later again: kept as it is
  ASSERT_TRUE(this->store_->Add({later}).ok());
  EXPECT_EQ((*this->store_->Get(5))->added_us, kAdded0 + 9 * kSecond);
}

TYPED_TEST(StoreTest, AddMustContinueTheIndex) {
  this->Fill();
  Record next = this->Make(8, Kind::kHashSet, this->alice_, HashSet({{"md5", std::string(32, 'b')}}));
  Record gap = this->Make(9, Kind::kHashSet, this->alice_, HashSet({{"md5", std::string(32, 'c')}}));
  Record again = this->Make(3, Kind::kHashSet, this->alice_, HashSet({{"md5", std::string(32, 'd')}}));
  EXPECT_EQ(this->store_->Add({gap}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(this->store_->Add({again}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(this->store_->Add({next, again}).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(this->store_->Add({}).ok());
  EXPECT_EQ(*this->store_->Size(), 8u);
  EXPECT_TRUE(this->store_->Add({next, gap}).ok());
  EXPECT_EQ(*this->store_->Size(), 10u);
}

TYPED_TEST(StoreTest, BatchIsAllOrNothing) {
  Record reg = this->Make(0, Kind::kRegistration, this->alice_, Registration(this->alice_, "Alice CERT"));
  Record hs = this->Make(1, Kind::kHashSet, this->alice_, HashSet({{"md5", kMd5}}));
  Record same_id = hs;  // the same statement twice: its id is unique in the index
  same_id.index = 2;
  Status s = this->store_->Add({reg, hs, same_id});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(*this->store_->Size(), 0u);
  EXPECT_FALSE(this->store_->Get(0)->has_value());
  EXPECT_TRUE(this->store_->Participants()->empty());
  EXPECT_TRUE(this->store_->FindDigest(kMd5, 10)->empty());

  Record bad_id = hs;
  bad_id.id = "not hex";
  EXPECT_EQ(this->store_->Add({reg, bad_id}).code(), Code::kInvalidArgument);
  EXPECT_EQ(*this->store_->Size(), 0u);

  ASSERT_TRUE(this->store_->Add({reg, hs}).ok());
  EXPECT_EQ(*this->store_->Size(), 2u);
}

// Larger than one pipeline of PgStore (256 statements), with the failure in the last one.
TYPED_TEST(StoreTest, LargeBatchIsAllOrNothing) {
  std::vector<Record> batch;
  for (uint64_t i = 0; i < 600; ++i)
    batch.push_back(
        this->Make(i, Kind::kHashSet, this->alice_, HashSet({{"sha256", Sha256Hex(std::to_string(i))}})));
  Record repeated = batch[0];
  repeated.index = 600;
  batch.push_back(repeated);
  EXPECT_FALSE(this->store_->Add(batch).ok());
  EXPECT_EQ(*this->store_->Size(), 0u);
  EXPECT_TRUE(this->store_->FindDigest(Sha256Hex("0"), 10)->empty());
  batch.pop_back();
  ASSERT_TRUE(this->store_->Add(batch).ok());
  EXPECT_EQ(*this->store_->Size(), 600u);
  EXPECT_EQ(Indices(this->store_->FindDigest(Sha256Hex("599"), 10)), std::vector<uint64_t>{599});
}

TYPED_TEST(StoreTest, FindIdInEitherCase) {
  this->Fill();
  Record r = **this->store_->Get(4);
  EXPECT_EQ(**this->store_->FindId(r.id), 4u);
  std::string upper = r.id;
  for (char& c : upper) c = char(std::toupper(uint8_t(c)));
  EXPECT_EQ(**this->store_->FindId(upper), 4u);
  EXPECT_FALSE(this->store_->FindId(Sha256Hex("nothing"))->has_value());
  EXPECT_EQ(this->store_->FindId("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->store_->FindId(std::string(64, 'x')).status().code(), Code::kInvalidArgument);
}

TYPED_TEST(StoreTest, ListFiltersInIndexOrder) {
  this->Fill();
  using V = std::vector<uint64_t>;
  EXPECT_EQ(Indices(this->store_->List(Q())), (V{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(Indices(this->store_->List(Q().Author(this->alice_.public_key))), (V{0, 2, 3, 5, 6}));
  EXPECT_EQ(Indices(this->store_->List(Q().OfKind(Kind::kHashSet))), (V{3, 4}));
  EXPECT_EQ(Indices(this->store_->List(Q().Author(this->bob_.public_key).OfKind(Kind::kHashSet))), (V{4}));
  EXPECT_EQ(Indices(this->store_->List(Q().From(5))), (V{5, 6, 7}));
  EXPECT_EQ(Indices(this->store_->List(Q().AddedAfter(kAdded0 + 5 * kSecond))), (V{6, 7}));
  EXPECT_EQ(Indices(this->store_->List(Q().From(1).Limit(3))), (V{1, 2, 3}));
  EXPECT_EQ(Indices(this->store_->List(Q().Limit(0))), V{});
  EXPECT_EQ(Indices(this->store_->List(Q().From(UINT64_MAX))), V{});
  EXPECT_EQ(Indices(this->store_->List(Q().OfKind(Kind::kTlshSet))), V{});
  ExpectSameRecord((*this->store_->List(Q().From(2).Limit(1)))[0], **this->store_->Get(2));
}

TYPED_TEST(StoreTest, FindDigestFindsHashSetsAndReleases) {
  this->Fill();
  using V = std::vector<uint64_t>;
  EXPECT_EQ(Indices(this->store_->FindDigest(kShared, 10)), (V{3, 4}));
  EXPECT_EQ(Indices(this->store_->FindDigest(kShared, 1)), (V{3}));
  EXPECT_EQ(Indices(this->store_->FindDigest(kMd5, 10)), (V{3}));
  EXPECT_EQ(Indices(this->store_->FindDigest(kSha1, 10)), (V{4}));
  EXPECT_EQ(Indices(this->store_->FindDigest(Sha256Hex("bin"), 10)), (V{5}));
  EXPECT_EQ(Indices(this->store_->FindDigest(Sha256Hex("unlisted"), 10)), V{});
  EXPECT_EQ(this->store_->FindDigest("abcd", 10).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->store_->FindDigest(std::string(64, 'g'), 10).status().code(), Code::kInvalidArgument);
}

TYPED_TEST(StoreTest, RetractionsMarkStatementsAndParticipants) {
  this->Fill();
  EXPECT_TRUE((**this->store_->Get(3)).retracted);
  EXPECT_FALSE((**this->store_->Get(4)).retracted);
  EXPECT_TRUE((*this->store_->List(Q().OfKind(Kind::kHashSet)))[0].retracted);
  auto all = this->store_->Participants();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  const Participant& a = (*all)[0];
  EXPECT_EQ(a.key, this->alice_.public_key);
  EXPECT_EQ(a.name, "Alice CERT");
  EXPECT_EQ(a.country, "DE");
  EXPECT_EQ(a.contact, "cert@example.org");
  EXPECT_EQ(a.index, 0u);
  EXPECT_EQ(a.added_us, kAdded0);
  EXPECT_FALSE(a.retracted);
  EXPECT_EQ((*all)[1].name, "Bob CSIRT");
  EXPECT_TRUE((*all)[1].retracted);
  auto bob = this->store_->GetParticipant(this->bob_.public_key);
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->country, "FR");
  EXPECT_TRUE((*bob)->retracted);
  EXPECT_FALSE(this->store_->GetParticipant(Key(3).public_key)->has_value());
}

TYPED_TEST(StoreTest, TextKeepsEveryByte) {
  std::string name = std::string("Zo\xc3\xab \0 Lab", 9);
  Record r = this->Append(Kind::kRegistration, this->alice_, Registration(this->alice_, name));
  auto p = this->store_->GetParticipant(this->alice_.public_key);
  ASSERT_TRUE(p.ok() && p->has_value()) << p.status().ToString();
  EXPECT_EQ((*p)->name, name);
  EXPECT_EQ((**this->store_->Get(0)).leaf, r.leaf);
}

TYPED_TEST(StoreTest, ReopenKeepsEverything) {
  this->Fill();
  this->Reopen();
  EXPECT_EQ(*this->store_->Size(), 8u);
  EXPECT_EQ(Indices(this->store_->FindDigest(kShared, 10)), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(this->store_->Participants()->size(), 2u);
  this->Append(Kind::kHashSet, this->alice_, HashSet({{"md5", std::string(32, 'e')}}));
  EXPECT_EQ(*this->store_->Size(), 9u);
}

TYPED_TEST(StoreTest, ReadersSeeWholeBatchesWhileOneThreadAdds) {
  this->Append(Kind::kRegistration, this->alice_, Registration(this->alice_, "Alice CERT"));
  constexpr int kBatches = 40, kEach = 5;
  std::vector<std::vector<Record>> batches(kBatches);
  for (int b = 0; b < kBatches; ++b)
    for (int i = 0; i < kEach; ++i) {
      uint64_t index = 1 + uint64_t(b * kEach + i);
      batches[b].push_back(this->Make(index, Kind::kHashSet, this->alice_,
                                      HashSet({{"sha256", Sha256Hex(std::to_string(index))}})));
    }
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!done) {
        auto n = this->store_->Size();
        if (!n.ok()) {
          errors++;
          continue;
        }
        if ((*n - 1) % kEach != 0) errors++;  // never half a batch
        auto last = this->store_->Get(*n - 1);
        if (!last.ok() || !last->has_value()) errors++;
        auto listed = this->store_->List(Q().Limit(1000));
        if (!listed.ok() || listed->size() < *n) errors++;
      }
    });
  for (const auto& b : batches) EXPECT_TRUE(this->store_->Add(b).ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(*this->store_->Size(), uint64_t(1 + kBatches * kEach));
}

// ---- Upgrades of the time added (both stores)

// Before schema version 5 the time added was in milliseconds, in columns named added_ms: the
// tables of an older version, times of index i at kAdded0's millisecond + i.
constexpr const char* kAddedTimesInMilliseconds =
    "ALTER TABLE statements RENAME COLUMN added_us TO added_ms; "
    "UPDATE statements SET added_ms = 1795860000000 + idx; "
    "ALTER TABLE participants RENAME COLUMN added_us TO added_ms; "
    "UPDATE participants SET added_ms = 1795860000000 + idx; ";

// What an upgraded index holds of kAddedTimesInMilliseconds' two registrations (0 and 1): their
// times made microseconds, the statements' and the participants'.
void ExpectTimesInMicroseconds(Store& s) {
  EXPECT_EQ((*s.Get(0))->added_us, kAdded0);
  EXPECT_EQ((*s.Get(1))->added_us, kAdded0 + 1000);
  auto participants = s.Participants();
  ASSERT_TRUE(participants.ok());
  ASSERT_EQ(participants->size(), 2u);
  for (const Participant& p : *participants)
    EXPECT_EQ(p.added_us, kAdded0 + int64_t(p.index) * 1000) << p.name;
}

// ---- SqliteStore only

// An index written when the time added was kept in milliseconds (columns named added_ms) is
// upgraded when opened: its times made microseconds, nothing else changed, once.
TEST(SqliteStore, AnIndexInMillisecondsIsUpgradedToMicroseconds) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("accord-store-test-" + testing::FreshSchema() + ".sqlite");
  auto alice = Key(1), bob = Key(2);
  {
    auto s = SqliteStore::Open(path.string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(
        (*s)->Add({*RecordFromLeaf(0, testing::Signed(Kind::kRegistration, alice, Registration(alice, "A")),
                                   kAdded0),
                   *RecordFromLeaf(1, testing::Signed(Kind::kRegistration, bob, Registration(bob, "B")),
                                   kAdded0)})
            .ok());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, kAddedTimesInMilliseconds, nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  for (int open = 0; open < 2; ++open) {  // the second opening finds nothing to upgrade
    auto s = SqliteStore::Open(path.string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ExpectTimesInMicroseconds(**s);
    const std::vector<uint64_t> after = open == 0 ? std::vector<uint64_t>{1} : std::vector<uint64_t>{1, 2};
    EXPECT_EQ(Indices((*s)->List(Q().AddedAfter(kAdded0 + 999))), after);
    Record r = *RecordFromLeaf(
        2, testing::Signed(Kind::kHashSet, alice, HashSet({{"md5", std::string(32, 'a')}})), kAdded0);
    if (open == 0) {
      ASSERT_TRUE((*s)->Add({r}).ok());
    }
    EXPECT_EQ((*(*s)->Get(2))->added_us, kAdded0 + 1001) << "after the upgraded times";
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

// ---- PgStore only

class PgStoreTest : public testing::PgTest {
 protected:
  Result<std::unique_ptr<PgStore>> Open(size_t max_connections = 8) {
    return PgStore::Open(Options(testing::TestConninfo(), schema_, max_connections));
  }
  static Record Registered(uint64_t index, const crypto::Ed25519KeyPair& k, const std::string& name) {
    return *RecordFromLeaf(index, testing::Signed(Kind::kRegistration, k, Registration(k, name)), kAdded0);
  }
};

TEST(PgStore, RefusesASchemaNameThatWouldNeedQuoting) {
  for (std::string bad :
       std::vector<std::string>{"", "Accord", "1st", "a-b", "a\"; DROP TABLE x; --", std::string(64, 'a')}) {
    auto s = PgStore::Open(Options("host=/nonexistent", bad));
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(PgStore, UnreachableServerIsUnavailableWithTheReason) {
  auto s = PgStore::Open(Options("host=/nonexistent-accord-test port=1 connect_timeout=2", "accord"));
  ASSERT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find("cannot connect"), std::string::npos) << s.status().ToString();
  EXPECT_NE(s.status().message().find("/nonexistent-accord-test"), std::string::npos)
      << s.status().ToString();
}

TEST_F(PgStoreTest, UnknownDatabaseCarriesPostgresMessage) {
  auto s = PgStore::Open(Options(testing::TestConninfo() + " dbname=accord_no_such_db", schema_));
  ASSERT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find("\"accord_no_such_db\" does not exist"), std::string::npos)
      << s.status().ToString();
}

// What a session runs under is accord's, whatever the server's, database's or role's defaults (here
// set for the connection, as ALTER DATABASE or ALTER ROLE would): read committed always, and the
// lock timeout only where asked.
TEST_F(PgStoreTest, SessionsRunUnderAccordsSettingsWhateverTheDefaults) {
  const std::string conninfo =
      testing::TestConninfo() + " options='-c default_transaction_isolation=serializable -c lock_timeout=7s'";
  auto show = [](pg::Conn& c, const char* setting) -> std::string {
    std::string v;
    Status s = c.Transaction("test", [&]() -> Status {
      ASSIGN_OR_RETURN(pg::Rows r, c.Exec("show", std::string("SHOW ") + setting));
      v = r.Bytes(0, 0);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  };
  auto plain = pg::Conn::Connect(conninfo, schema_);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(show(**plain, "transaction_isolation"), "read committed");
  EXPECT_EQ(show(**plain, "lock_timeout"), "7s");
  EXPECT_EQ(show(**plain, "search_path"), "\"" + schema_ + "\"");
  auto bounded = pg::Conn::Connect(conninfo, schema_, 1500);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  EXPECT_EQ(show(**bounded, "transaction_isolation"), "read committed");
  EXPECT_EQ(show(**bounded, "lock_timeout"), "1500ms");
}

TEST_F(PgStoreTest, SchemaFromANewerAccordIsRefused) {
  ASSERT_TRUE(Open().ok());
  {
    auto c = pg::Conn::Connect(testing::TestConninfo(), schema_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Run("test", "UPDATE schema_version SET version = 99").ok());
  }
  auto s = Open();
  ASSERT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("version 99"), std::string::npos) << s.status().ToString();
}

TEST_F(PgStoreTest, SchemasKeepLogsApart) {
  auto a = Open();
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->Add({Registered(0, Key(1), "Alice")}).ok());
  std::string other = testing::FreshSchema();
  auto b = PgStore::Open(Options(testing::TestConninfo(), other));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*(*b)->Size(), 0u);
  EXPECT_EQ(*(*a)->Size(), 1u);
  b->reset();
  testing::DropSchema(other);
}

// TAXII tokens in PostgreSQL (tokens.h): hashes only, one row per token, revoked per author.
TEST_F(PgStoreTest, TaxiiTokens) {
  auto s = Open();
  ASSERT_TRUE(s.ok());
  const std::string a = TokenHash("accord_a"), b = TokenHash("accord_b");
  EXPECT_FALSE((*s)->FindToken(a)->has_value());
  ASSERT_TRUE((*s)->AddToken({a, Key(1).public_key, "alice"}).ok());
  ASSERT_TRUE((*s)->AddToken({b, Key(2).public_key, "bob"}).ok());
  EXPECT_EQ((*s)->AddToken({a, Key(2).public_key, "again"}).code(), Code::kAlreadyExists);
  EXPECT_EQ(**(*s)->FindToken(a), Key(1).public_key);  // the first holder kept
  Result<std::vector<TokenEntry>> all = (*s)->Tokens();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].label, "alice");
  EXPECT_EQ((*all)[1].sha256_hex, b);
  EXPECT_EQ(*(*s)->RevokeTokens(Key(1).public_key), 1u);
  EXPECT_FALSE((*s)->FindToken(a)->has_value());
  EXPECT_EQ(**(*s)->FindToken(b), Key(2).public_key);
  EXPECT_EQ(*(*s)->RevokeTokens(Key(1).public_key), 0u);
}

// Schema version 3: the database itself refuses token rows tokens.h would not write, and a
// version 2 schema is upgraded in place, its good rows kept.
TEST_F(PgStoreTest, TaxiiTokenRowsAreCheckedByTheDatabase) {
  const std::string good = TokenHash("accord_good");
  {
    auto s = Open();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->AddToken({good, Key(1).public_key, "alice"}).ok());
  }
  auto c = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(c.ok());
  auto insert = [&](const std::string& sha256, const std::string& author_hex, const std::string& label) {
    return (*c)->Run("test", ("INSERT INTO taxii_tokens(sha256, author, label) VALUES ('" + sha256 +
                              "', '\\x" + author_hex + "', '" + label + "')")
                                 .c_str());
  };
  const std::string key_hex(64, 'a'), other = TokenHash("accord_other");
  EXPECT_TRUE(insert(other, key_hex, "bob").ok());
  EXPECT_FALSE(insert(std::string(64, 'G'), key_hex, "x").ok()) << "not hex";
  EXPECT_FALSE(insert(good.substr(1) + "0", key_hex.substr(2), "x").ok()) << "a 31-byte key";
  Status bad_label = insert(TokenHash("accord_3"), key_hex, "two words");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.message().find("taxii_tokens_label"), std::string::npos) << bad_label.ToString();

  // Back to version 2 (no checks), with a bad row: the upgrade refuses and changes nothing.
  ASSERT_TRUE((*c)->Run("test", (std::string("ALTER TABLE taxii_tokens DROP CONSTRAINT taxii_tokens_sha256, "
                                             "DROP CONSTRAINT taxii_tokens_author, DROP CONSTRAINT "
                                             "taxii_tokens_label; UPDATE schema_version SET version = 2; ") +
                                 kAddedTimesInMilliseconds)
                                    .c_str())
                  .ok());
  ASSERT_TRUE(insert("not-a-hash", key_hex, "mallory").ok());
  auto refused = Open();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("taxii_tokens_sha256"), std::string::npos)
      << refused.status().ToString();
  Status old_times = (*c)->Run("test", "SELECT s.added_ms, p.added_ms FROM statements s, participants p");
  EXPECT_TRUE(old_times.ok()) << "times not touched: " << old_times.ToString();
  // Without it, the upgrade goes through and keeps the good rows.
  ASSERT_TRUE((*c)->Run("test", "DELETE FROM taxii_tokens WHERE sha256 = 'not-a-hash'").ok());
  auto upgraded = Open();
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(**(*upgraded)->FindToken(good), Key(1).public_key);
  EXPECT_FALSE(insert(std::string(64, 'G'), key_hex, "x").ok()) << "checked again after the upgrade";
}

// A version 1 schema (the first PostgreSQL release: statements, digests, participants, leases,
// as they still are) is upgraded straight to the current version: its rows are kept, the tables of
// versions 2 and 4 exist, and taxii_tokens has version 3's checks.
TEST_F(PgStoreTest, VersionOneIsUpgradedToTheCurrentVersion) {
  {
    auto s = Open();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Add({Registered(0, Key(1), "Alice"), Registered(1, Key(2), "Bob")}).ok());
  }
  auto c = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Run("test", (std::string("DROP TABLE log_meta, submissions, taxii_tokens, taxii_status, "
                                             "tree_heads; UPDATE schema_version SET version = 1; ") +
                                 kAddedTimesInMilliseconds)
                                    .c_str())
                  .ok());
  auto upgraded = Open();
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(*(*upgraded)->Size(), 2u);
  auto participants = (*upgraded)->Participants();
  ASSERT_TRUE(participants.ok());
  ASSERT_EQ(participants->size(), 2u);
  EXPECT_EQ((*participants)[1].name, "Bob");
  auto version = (*c)->Exec("test", "SELECT version FROM schema_version");
  ASSERT_TRUE(version.ok());
  ASSERT_EQ(version->size(), 1);
  EXPECT_EQ(version->Int(0, 0), pg::kSchemaVersion);
  EXPECT_EQ((*(*upgraded)->Get(1))->added_us, kAdded0 + 1000) << "milliseconds made microseconds";
  for (const char* table : {"log_meta", "submissions", "taxii_status", "tree_heads"})
    EXPECT_TRUE((*c)->Run("test", (std::string("SELECT count(*) FROM ") + table).c_str()).ok()) << table;
  const std::string good = TokenHash("accord_after_upgrade");
  ASSERT_TRUE((*upgraded)->AddToken({good, Key(1).public_key, "alice"}).ok());
  EXPECT_EQ(**(*upgraded)->FindToken(good), Key(1).public_key);
  Status bad = (*c)->Run("test", ("INSERT INTO taxii_tokens(sha256, author, label) VALUES ('" +
                                  std::string(64, 'G') + "', '\\x" + std::string(64, 'a') + "', 'x')")
                                     .c_str());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("taxii_tokens_sha256"), std::string::npos) << bad.ToString();
}

// A version 3 schema (no tree_heads) is upgraded with its rows, and its token checks are not
// added twice.
TEST_F(PgStoreTest, VersionThreeIsUpgradedToTheCurrentVersion) {
  {
    auto s = Open();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Add({Registered(0, Key(1), "Alice")}).ok());
  }
  auto c = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Run("test", ("DROP TABLE tree_heads; UPDATE schema_version SET version = 3; " +
                                 std::string(kAddedTimesInMilliseconds))
                                    .c_str())
                  .ok());
  auto upgraded = Open();
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(*(*upgraded)->Size(), 1u);
  auto version = (*c)->Exec("test", "SELECT version FROM schema_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->Int(0, 0), pg::kSchemaVersion);
  EXPECT_TRUE((*c)->Run("test", "SELECT count(*) FROM tree_heads").ok());
  EXPECT_FALSE((*c)->Run("test", "INSERT INTO tree_heads(size, root) VALUES (1, '\\x00')").ok()) << "checked";
}

// A version 4 schema (the time added in milliseconds, added_ms) is upgraded with its times made
// microseconds, the statements' and the participants'; later records follow them.
TEST_F(PgStoreTest, VersionFourIsUpgradedToMicroseconds) {
  {
    auto s = Open();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Add({Registered(0, Key(1), "Alice"), Registered(1, Key(2), "Bob")}).ok());
  }
  auto c = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      (*c)->Run("test",
                (std::string("UPDATE schema_version SET version = 4; ") + kAddedTimesInMilliseconds).c_str())
          .ok());
  for (int open = 0; open < 2; ++open) {  // the second opening finds nothing to upgrade
    auto upgraded = Open();
    ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
    ExpectTimesInMicroseconds(**upgraded);
    auto version = (*c)->Exec("test", "SELECT version FROM schema_version");
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(version->Int(0, 0), pg::kSchemaVersion);
  }
  auto s = Open();
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Add({Registered(2, Key(3), "Carol")}).ok());  // logged "at" kAdded0: raised
  EXPECT_EQ((*(*s)->Get(2))->added_us, kAdded0 + 1001);
}

TEST_F(PgStoreTest, ErrorsCarryPostgresMessageAndChangeNothing) {
  auto s = Open();
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Add({Registered(0, Key(1), "Alice")}).ok());
  // A second registration of one key (the node refuses it before; the index must not take it).
  Status st = (*s)->Add({Registered(1, Key(2), "Bob"), Registered(2, Key(1), "Alice again")});
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find("insert participant 2"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("duplicate key"), std::string::npos) << st.ToString();
  EXPECT_EQ(*(*s)->Size(), 1u);
  EXPECT_EQ((*s)->Participants()->size(), 1u);
  EXPECT_TRUE((*s)->Add({Registered(1, Key(2), "Bob")}).ok());  // the connection is fit for more
}

TEST_F(PgStoreTest, TwoProcessesWritingOneIndexNeverInterleave) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Add({Registered(0, Key(1), "Alice")}).ok());
  EXPECT_EQ(*(*b)->Size(), 1u);
  EXPECT_EQ((**(*b)->GetParticipant(Key(1).public_key)).name, "Alice");
  // Both offer index 1..: exactly one batch is taken, whole.
  for (int round = 0; round < 10; ++round) {
    uint64_t at = *(*a)->Size();
    std::vector<Record> from_a, from_b;
    for (uint64_t i = 0; i < 3; ++i) {
      from_a.push_back(Registered(at + i, Key(uint8_t(10 + round * 6 + i)), "a"));
      from_b.push_back(Registered(at + i, Key(uint8_t(13 + round * 6 + i)), "b"));
    }
    Status sa, sb;
    std::thread ta([&] { sa = (*a)->Add(from_a); });
    std::thread tb([&] { sb = (*b)->Add(from_b); });
    ta.join();
    tb.join();
    ASSERT_NE(sa.ok(), sb.ok()) << sa.ToString() << " / " << sb.ToString();
    EXPECT_EQ((sa.ok() ? sb : sa).code(), Code::kFailedPrecondition);
    auto names = (*b)->List(Q().From(at));
    ASSERT_EQ(names->size(), 3u);
    for (const Record& r : *names) EXPECT_EQ(r.author, (sa.ok() ? from_a : from_b)[r.index - at].author);
  }
}

TEST_F(PgStoreTest, MoreReadersThanConnectionsWaitTheirTurn) {
  auto s = Open(/*max_connections=*/2);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Add({Registered(0, Key(1), "Alice")}).ok());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        if ((*s)->Participants().ok() && (*s)->Get(0)->has_value()) good++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8 * 20);
}

// The node with its index in PostgreSQL (`accord serve --postgres`): statements go in, survive a
// restart, and an index that was lost is rebuilt from the log.
TEST_F(PgStoreTest, NodeKeepsItsIndexInPostgres) {
  auto dir = std::filesystem::temp_directory_path() / ("accord-pg-node-" + schema_);
  NodeOptions options;
  options.postgres = testing::TestConninfo();
  options.postgres_schema = schema_;
  auto k = Key(1);
  std::string reg = testing::Signed(Kind::kRegistration, k, Registration(k, "Alice CERT"));
  std::string hs = testing::Signed(Kind::kHashSet, k, HashSet({{"md5", kMd5}}));
  {
    auto n = Node::Open(dir.string(), "test.example/log", options);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_TRUE((*n)->Submit(reg).ok());
    auto a = (*n)->Submit(hs);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->index, 1u);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "index.sqlite"));
  auto check = [&](const char* when) {
    auto n = Node::Open(dir.string(), "", options);
    ASSERT_TRUE(n.ok()) << when << ": " << n.status().ToString();
    EXPECT_EQ(*(*n)->store().Size(), 2u) << when;
    EXPECT_EQ(Indices((*n)->store().FindDigest(kMd5, 10)), std::vector<uint64_t>{1}) << when;
    EXPECT_EQ((**(*n)->store().GetParticipant(k.public_key)).name, "Alice CERT") << when;
    auto again = (*n)->Submit(hs);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(again->duplicate) << when;
  };
  check("after a restart");
  testing::DropSchema(schema_);
  check("after the index was lost");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace accord::node
