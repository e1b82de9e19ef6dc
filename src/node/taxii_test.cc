#include "node/taxii.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/bytes.h"
#include "crypto/sha256.h"
#include "node/node.h"
#include "node/sqlite_store.h"
#include "node/stix.h"
#include "node/test_util.h"

namespace accord::node::taxii {
namespace {

using json::Json;
using statement::Kind;

using testing::Key;
using testing::KeyB64;

// store.h in memory, counting what requests read.
class MemoryStore : public Store {
 public:
  Result<uint64_t> Size() override { return uint64_t(records.size()); }
  Status Add(const std::vector<Record>& rs) override {
    for (const Record& r : rs) records.push_back(r);
    return Status::Ok();
  }
  Result<std::optional<Record>> Get(uint64_t index) override {
    ++gets;
    if (index < records.size()) return std::optional<Record>(records[index]);
    return std::optional<Record>();
  }
  Result<std::optional<uint64_t>> FindId(std::string_view id_hex) override {
    for (const Record& r : records) {
      if (r.id == id_hex) return std::optional<uint64_t>(r.index);
    }
    return std::optional<uint64_t>();
  }
  Result<std::vector<Record>> List(const ListQuery& q) override {
    std::vector<Record> out;
    for (uint64_t i = q.from_index; i < records.size() && out.size() < q.limit; ++i) {
      const Record& r = records[i];
      if ((q.author && r.author != *q.author) || (q.kind && r.kind != *q.kind) ||
          r.added_us <= q.added_after_us) {
        continue;
      }
      out.push_back(r);
    }
    listed += out.size();
    return out;
  }
  Result<std::vector<Record>> FindDigest(std::string_view, size_t) override { return std::vector<Record>{}; }
  Result<std::vector<Participant>> Participants() override {
    std::vector<Participant> out;
    for (const Record& r : records) {
      if (r.kind != Kind::kRegistration) continue;
      Json body = Json::parse(r.leaf)["statement"]["body"];
      out.push_back(Participant{r.author, body["name"], body["country"], body["contact"], r.index, r.added_us,
                                r.retracted});
    }
    return out;
  }
  Result<std::optional<Participant>> GetParticipant(const crypto::Ed25519PublicKey& key) override {
    ASSIGN_OR_RETURN(std::vector<Participant> all, Participants());
    for (const Participant& p : all) {
      if (p.key == key) return std::optional<Participant>(p);
    }
    return std::optional<Participant>();
  }

  void Append(Kind kind, const crypto::Ed25519KeyPair& key, Json body,
              std::string created = "2026-11-28T10:00:00Z") {
    std::string leaf = testing::Signed(kind, key, body, created);
    ASSERT_TRUE(!leaf.empty());
    Result<Record> rec = RecordFromLeaf(records.size(), leaf, kAdded0 + int64_t(records.size()) * 1000000);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    Record r = std::move(rec).value();
    if (kind == Kind::kRetraction) records[body["index"].get<uint64_t>()].retracted = true;
    records.push_back(r);
  }

  static constexpr int64_t kAdded0 = 1795860000000000;  // 2026-11-28T10:00:00.000000Z (µs)
  std::vector<Record> records;
  std::atomic<size_t> gets{0}, listed{0};  // requests run on many threads
};

Json Registration(const crypto::Ed25519KeyPair& k, const std::string& name, const std::string& country) {
  return {
      {"name", name}, {"country", country}, {"contact", "cert@example.org"}, {"key", KeyB64(k.public_key)}};
}

Json HashSet(int i) {
  std::string digest = HexEncode(crypto::AsView(crypto::Sha256(std::to_string(i))));
  return {
      {"entries",
       {{{"hash", "sha256"}, {"digest", digest}, {"size", i}, {"name", "Test.Sig" + std::to_string(i)}}}}};
}

// 0 alice registers, 1 bob registers, 2 alice yara, 3 alice hash set, 4..23 bob hash sets,
// 24 alice retracts 3, 25 bob's audit finding about 2, 26 alice release.
class TaxiiTest : public ::testing::Test {
 public:
  void SetUp() override {
    store.Append(Kind::kRegistration, alice, Registration(alice, "Alice CERT", "DE"));
    store.Append(Kind::kRegistration, bob, Registration(bob, "Bob CSIRT", "FR"));
    store.Append(Kind::kYaraRule, alice,
                 {{"source", "rule Example_Dropper { strings: $a = \"evil\" condition: $a }\n"},
                  {"rules", {"Example_Dropper"}}});
    store.Append(Kind::kHashSet, alice, HashSet(1000));
    for (int i = 0; i < 20; ++i) store.Append(Kind::kHashSet, bob, HashSet(i));
    store.Append(Kind::kRetraction, alice, {{"index", 3}, {"reason", "superseded"}}, "2026-11-28T11:00:00Z");
    store.Append(Kind::kAuditFinding, bob, {{"about", 2}, {"verdict", "confirmed"}, {"text", "reproduced"}});
    store.Append(Kind::kRelease, alice,
                 {{"name", "accord"},
                  {"version", "0.1.0"},
                  {"files", {{{"path", "accord"}, {"sha256", std::string(64, 'a')}}}}});
    config.public_url = "https://node.example";
    config.log_origin = "node.example/log";
    config.checkpoint = [] { return std::string("node.example/log\n20\nAAAA\n\n— node.example/log sig\n"); };
    api = std::make_unique<TaxiiApi>(store, config);
  }

  TaxiiResponse Get(const std::string& path, const std::string& query = "",
                    const std::string& accept = "application/taxii+json;version=2.1") {
    return api->Handle(TaxiiRequest{"GET", path, query, accept, "", "", ""});
  }
  Json GetJson(const std::string& path, const std::string& query = "", int want_status = 200) {
    TaxiiResponse r = Get(path, query);
    EXPECT_EQ(r.status, want_status) << path << "?" << query << ": " << r.body;
    EXPECT_EQ(r.content_type, kMediaType);
    return Json::parse(r.body);
  }
  static std::string Header(const TaxiiResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  std::string AllObjects() {
    return std::string(kApiRootPath) + "collections/" + AllCollectionId() + "/objects/";
  }
  std::string Stix(uint64_t index, size_t k = 0) {
    stix::RecordLookup lookup = [this](uint64_t i) { return store.Get(i); };
    std::vector<Json> o = *stix::StixObjects(store.records[index], lookup, {});
    return o[k]["id"];
  }

  crypto::Ed25519KeyPair alice = Key(1), bob = Key(2);
  MemoryStore store;
  TaxiiConfig config;
  std::unique_ptr<TaxiiApi> api;
};

// An indicator a participant may post: TLP:CLEAR, a STIX pattern, every property STIX requires.
Json PostableIndicator() {
  return {{"type", "indicator"},
          {"spec_version", "2.1"},
          {"id", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
          {"created", "2026-11-28T10:00:00.000Z"},
          {"modified", "2026-11-28T10:00:00.000Z"},
          {"valid_from", "2026-11-28T10:00:00Z"},
          {"object_marking_refs", {stix::kTlpClearId}},
          {"pattern_type", "stix"},
          {"pattern", "[file:name = 'a.exe']"}};
}

TEST_F(TaxiiTest, DiscoveryAndApiRoot) {
  Json d = GetJson("/taxii2/");
  EXPECT_EQ(d["title"], "accord");
  EXPECT_EQ(d["api_roots"], Json::array({"https://node.example/taxii2/api/"}));
  EXPECT_EQ(d["default"], "https://node.example/taxii2/api/");
  Json root = GetJson("/taxii2/api/");
  EXPECT_EQ(root["versions"], Json::array({"application/taxii+json;version=2.1"}));
  EXPECT_TRUE(root["max_content_length"].is_number());
  EXPECT_EQ(GetJson("/taxii2").dump(), d.dump());  // the trailing slash is optional
}

TEST_F(TaxiiTest, CollectionsAllAndOnePerParticipant) {
  Json c = GetJson("/taxii2/api/collections/");
  ASSERT_EQ(c["collections"].size(), 3u);
  EXPECT_EQ(c["collections"][0]["id"], AllCollectionId());
  EXPECT_EQ(c["collections"][0]["alias"], "all");
  EXPECT_EQ(c["collections"][1]["id"], ParticipantCollectionId(alice.public_key));
  EXPECT_EQ(c["collections"][1]["title"], "Alice CERT");
  EXPECT_EQ(c["collections"][2]["title"], "Bob CSIRT");
  for (const Json& x : c["collections"]) {
    EXPECT_EQ(x["can_read"], true);
    EXPECT_EQ(x["can_write"], false);
    EXPECT_EQ(x["media_types"], Json::array({"application/stix+json;version=2.1"}));
  }
  EXPECT_EQ(AllCollectionId(), stix::Uuid5(stix::kNamespace, "collection:all"));
  Json one = GetJson("/taxii2/api/collections/" + ParticipantCollectionId(bob.public_key) + "/");
  EXPECT_EQ(one["title"], "Bob CSIRT");
  EXPECT_EQ(GetJson("/taxii2/api/collections/all/")["id"], AllCollectionId());
}

// Every (id, version) of the collection, following `next` with pages of `limit`.
std::vector<std::pair<std::string, std::string>> Drain(TaxiiTest* t, const std::string& path,
                                                       const std::string& q, int limit, int* pages) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string next;
  *pages = 0;
  while (true) {
    std::string query =
        q + (q.empty() ? "" : "&") + "limit=" + std::to_string(limit) + (next.empty() ? "" : "&next=" + next);
    Json page = t->GetJson(path, query);
    ++*pages;
    EXPECT_LE(page["objects"].size(), size_t(limit));
    for (const Json& o : page["objects"]) out.emplace_back(o["id"], stix::ObjectVersion(o));
    if (!page["more"].get<bool>()) {
      EXPECT_FALSE(page.contains("next"));
      return out;
    }
    next = page["next"];
    if (*pages > 100) {
      ADD_FAILURE() << "paging does not end";
      return out;
    }
  }
}

// TAXII POST as the API answers it, with a token store and a submit of the test's own: who may
// post where, what a token store that cannot answer gives (503, not 401), can_write.
TEST_F(TaxiiTest, PostAuthentication) {
  bool store_down = false;
  std::vector<statement::Statement> submitted;
  TaxiiConfig c = config;
  c.authenticate = [&](std::string_view h) -> Result<std::optional<crypto::Ed25519PublicKey>> {
    if (store_down) return Unavailable("PostgreSQL: connection refused");
    if (h == "Bearer alice-token") return std::optional<crypto::Ed25519PublicKey>(alice.public_key);
    return std::optional<crypto::Ed25519PublicKey>();
  };
  c.submit = [&](const std::vector<statement::Statement>& st) {
    std::vector<Result<Logged>> out;
    for (const auto& s : st) {
      submitted.push_back(s);
      out.push_back(Logged{100 + submitted.size(), std::string(64, 'a'), false});
    }
    return out;
  };
  TaxiiApi post_api(store, c);
  const std::string mine =
      std::string(kApiRootPath) + "collections/" + ParticipantCollectionId(alice.public_key) + "/objects/";
  const std::string theirs =
      std::string(kApiRootPath) + "collections/" + ParticipantCollectionId(bob.public_key) + "/objects/";
  Json indicator = PostableIndicator();
  const std::string body = Json{{"objects", {indicator}}}.dump();
  auto post = [&](const std::string& path, const std::string& auth) {
    return post_api.Handle(TaxiiRequest{"POST", path, "", "", std::string(kMediaType), body, auth});
  };
  EXPECT_EQ(post(mine, "").status, 401);
  EXPECT_EQ(post(mine, "Bearer wrong").status, 401);
  EXPECT_EQ(post(theirs, "Bearer alice-token").status, 403);
  TaxiiResponse ok = post(mine, "Bearer alice-token");
  ASSERT_EQ(ok.status, 202) << ok.body;
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].author, alice.public_key);
  EXPECT_EQ(submitted[0].created, "2026-11-28T10:00:00Z");  // the object's modified
  Json status = Json::parse(ok.body);
  EXPECT_EQ(status["success_count"], 1);
  EXPECT_EQ(status["successes"][0]["version"], "2026-11-28T10:00:00.000Z");

  // Every status detail names its object: an envelope listing a non-object or an object without
  // an id is refused whole, nothing submitted; an object without modified or created is dated now.
  for (const Json& bad : {Json(5), Json{{"type", "indicator"}}, Json{{"id", ""}}, Json{{"id", 7}}}) {
    TaxiiResponse r =
        post_api.Handle(TaxiiRequest{"POST", mine, "", "", std::string(kMediaType),
                                     Json{{"objects", {indicator, bad}}}.dump(), "Bearer alice-token"});
    EXPECT_EQ(r.status, 400) << bad.dump();
    EXPECT_NE(r.body.find("objects[1] is not a STIX object with an \\\"id\\\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(submitted.size(), 1u);
  Json undated = {{"type", "file"}, {"id", "file--4b1f0d7c-0b6a-5bfb-8e3c-4e8b1e2f3a4d"}, {"name", "a.exe"}};
  TaxiiResponse mixed =
      post_api.Handle(TaxiiRequest{"POST", mine, "", "", std::string(kMediaType),
                                   Json{{"objects", {undated}}}.dump(), "Bearer alice-token"});
  ASSERT_EQ(mixed.status, 202) << mixed.body;
  Json failed = Json::parse(mixed.body);
  ASSERT_EQ(failed["failure_count"], 1);
  EXPECT_EQ(failed["failures"][0]["id"], undated["id"]);
  EXPECT_EQ(failed["failures"][0]["version"], failed["request_timestamp"]);
  // A modified that is no timestamp: the request's time too, never the junk.
  Json junk = indicator;
  junk["modified"] = "junk";
  TaxiiResponse junked = post_api.Handle(TaxiiRequest{
      "POST", mine, "", "", std::string(kMediaType), Json{{"objects", {junk}}}.dump(), "Bearer alice-token"});
  ASSERT_EQ(junked.status, 202) << junked.body;
  Json refused = Json::parse(junked.body);
  ASSERT_EQ(refused["failure_count"], 1) << junked.body;
  EXPECT_EQ(refused["failures"][0]["version"], refused["request_timestamp"]);

  store_down = true;
  TaxiiResponse down = post(mine, "Bearer alice-token");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find("cannot be checked now"), std::string::npos);
  bool retry_after = false;
  for (const auto& [k, v] : down.headers) retry_after = retry_after || k == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(submitted.size(), 1u);  // nothing more submitted
  // Reading needs no token: a store that is down only leaves can_write false.
  TaxiiResponse colls = post_api.Handle(
      TaxiiRequest{"GET", std::string(kApiRootPath) + "collections/", "", "", "", "", "Bearer alice-token"});
  EXPECT_EQ(colls.status, 200);
  EXPECT_EQ(colls.body.find("\"can_write\":true"), std::string::npos);
  store_down = false;
  colls = post_api.Handle(
      TaxiiRequest{"GET", std::string(kApiRootPath) + "collections/", "", "", "", "", "Bearer alice-token"});
  EXPECT_NE(colls.body.find("\"can_write\":true"), std::string::npos);
}

TEST_F(TaxiiTest, PagingReturnsEveryObjectExactlyOnce) {
  int pages = 0;
  // All versions: 3 fixed, 3 + 3 for the registrations, 22 statements, the revoked version, the opinion.
  auto all = Drain(this, AllObjects(), "match[version]=all", 1000, &pages);
  EXPECT_EQ(pages, 1);
  EXPECT_EQ(all.size(), 3u + 6u + 1u + 1u + 20u + 1u + 1u + 1u);
  std::set<std::pair<std::string, std::string>> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), all.size());
  for (int limit : {1, 3, 7}) {
    auto paged = Drain(this, AllObjects(), "match[version]=all", limit, &pages);
    EXPECT_EQ(paged, all) << limit;
    EXPECT_EQ(pages, int((all.size() + limit - 1) / limit)) << limit;
  }
  // The default is the last version: the retracted hash set appears once, revoked.
  auto last = Drain(this, AllObjects(), "", 5, &pages);
  EXPECT_EQ(last.size(), all.size() - 1);
  Json page = GetJson(AllObjects(), "match[id]=" + Stix(3));
  ASSERT_EQ(page["objects"].size(), 1u);
  EXPECT_EQ(page["objects"][0]["revoked"], true);
}

TEST_F(TaxiiTest, PagingReadsOnlyWhatItReturns) {
  ASSERT_EQ(GetJson(AllObjects(), "limit=1")["objects"].size(), 1u);  // catches the index up
  store.listed = 0;
  Json page = GetJson(AllObjects(), "limit=5&next=10.0");
  EXPECT_EQ(page["objects"].size(), 5u);
  EXPECT_LE(store.listed, 6u);
}

TEST_F(TaxiiTest, HeadersAndAddedAfter) {
  TaxiiResponse r = Get(AllObjects(), "limit=2");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-First"), "2026-11-28T10:00:00.000000Z");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-Last"),
            "2026-11-28T10:00:00.000000Z");  // fixed objects ride on record 0
  // After record 24's date: the audit finding (25) and the release (26).
  Json page = GetJson(AllObjects(), "added_after=2026-11-28T10:00:24.000Z");
  ASSERT_EQ(page["objects"].size(), 2u);
  EXPECT_EQ(page["objects"][0]["type"], "opinion");
  EXPECT_EQ(page["objects"][1]["indicator_types"], Json::array({"benign"}));
  r = Get(AllObjects(), "added_after=2026-11-28T10:00:24.000Z");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-First"), "2026-11-28T10:00:25.000000Z");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-Last"), "2026-11-28T10:00:26.000000Z");
  r = Get(AllObjects(), "added_after=2030-01-01T00:00:00Z");
  EXPECT_EQ(Json::parse(r.body)["objects"].size(), 0u);
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-First"), "");
}

// added_after takes any RFC 3339 year: before 1970 (before anything was logged) is everything.
TEST_F(TaxiiTest, AddedAfterBefore1970IsEverything) {
  int pages = 0;
  const size_t all = Drain(this, AllObjects(), "", 1000, &pages).size();
  for (const char* early :
       {"1969-12-31T23:59:59.999Z", "1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z"}) {
    TaxiiResponse r = Get(AllObjects(), std::string("limit=1000&added_after=") + early);
    ASSERT_EQ(r.status, 200) << early << ": " << r.body;
    EXPECT_EQ(Json::parse(r.body)["objects"].size(), all) << early;
    EXPECT_EQ(Header(r, "X-TAXII-Date-Added-First"), "2026-11-28T10:00:00.000000Z") << early;
  }
}

// A POSTing client for the tests below: alice's token, statements logged from index 100.
struct PostingApi {
  PostingApi(Store& store, TaxiiConfig c, const crypto::Ed25519PublicKey& alice) {
    c.authenticate = [alice](std::string_view h) -> Result<std::optional<crypto::Ed25519PublicKey>> {
      if (h == "Bearer alice-token") return std::optional<crypto::Ed25519PublicKey>(alice);
      return std::optional<crypto::Ed25519PublicKey>();
    };
    c.submit = [this](const std::vector<statement::Statement>& st) {
      std::vector<Result<Logged>> out;
      for (const auto& x : st) {
        submitted.push_back(x);
        out.push_back(Logged{100 + submitted.size(), std::string(64, 'a'), false});
      }
      return out;
    };
    api = std::make_unique<TaxiiApi>(store, c);
  }
  TaxiiResponse Post(const std::string& path, const Json& objects) {
    return api->Handle(TaxiiRequest{"POST", path, "", "", std::string(kMediaType),
                                    Json{{"objects", objects}}.dump(), "Bearer alice-token"});
  }
  std::vector<statement::Statement> submitted;
  std::unique_ptr<TaxiiApi> api;
};

// A posted indicator that is revoked, or that expires, is not logged as a live indicator without
// an end: each is a failure of its own in the status, saying how a statement is revoked.
TEST_F(TaxiiTest, PostedRevokedOrExpiringIndicatorIsRefusedNotPublishedLive) {
  PostingApi poster(store, config, alice.public_key);
  const std::string mine =
      std::string(kApiRootPath) + "collections/" + ParticipantCollectionId(alice.public_key) + "/objects/";
  Json live = PostableIndicator();
  Json revoked = live;
  revoked["modified"] = "2026-11-28T11:00:00.000Z";
  revoked["revoked"] = true;
  Json expiring = live;
  expiring["id"] = "indicator--0b2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
  expiring["valid_until"] = "2027-01-01T00:00:00Z";
  TaxiiResponse r = poster.Post(mine, {live, revoked, expiring});
  ASSERT_EQ(r.status, 202) << r.body;
  Json status = Json::parse(r.body);
  EXPECT_EQ(status["success_count"], 1);
  ASSERT_EQ(status["failure_count"], 2) << r.body;
  EXPECT_EQ(status["failures"][0]["id"], revoked["id"]);
  EXPECT_EQ(status["failures"][0]["version"], "2026-11-28T11:00:00.000Z");
  const std::string why = status["failures"][0]["message"];
  EXPECT_NE(why.find("not logged: revoked"), std::string::npos) << why;
  EXPECT_NE(why.find("accord submit --retract"), std::string::npos) << why;
  EXPECT_EQ(status["failures"][1]["id"], expiring["id"]);
  EXPECT_NE(status["failures"][1]["message"].get<std::string>().find("valid_until"), std::string::npos);
  ASSERT_EQ(poster.submitted.size(), 1u);  // the live one only
  EXPECT_EQ(poster.submitted[0].body["pattern"], live["pattern"]);
}

// Status ids are UUIDs: another id (here not even UTF-8, which PostgreSQL refuses as a parameter)
// is 404 without asking the index, never 500.
TEST_F(TaxiiTest, StatusIdThatIsNoUuidIsNotFound) {
  struct StatusStore : MemoryStore {
    Result<std::optional<std::string>> FindStatus(std::string_view id,
                                                  const crypto::Ed25519PublicKey&) override {
      ++finds;
      for (char c : id)
        if (static_cast<unsigned char>(c) >= 0x80)
          return Internal("ERROR: invalid byte sequence for encoding \"UTF8\": 0xff");
      return std::optional<std::string>();
    }
    int finds = 0;
  } status_store;
  status_store.records = store.records;
  PostingApi poster(status_store, config, alice.public_key);
  for (const std::string id : {"\xff", "not-a-uuid", "3a5f0f6c-1e8a-4a4f-9b34-0d9b9b9b9b9"}) {
    TaxiiResponse r = poster.api->Handle(TaxiiRequest{"GET", std::string(kApiRootPath) + "status/" + id + "/",
                                                      "", "", "", "", "Bearer alice-token"});
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(Json::parse(r.body)["http_status"], "404");
  }
  EXPECT_EQ(status_store.finds, 0);
  TaxiiResponse uuid = poster.api->Handle(
      TaxiiRequest{"GET", std::string(kApiRootPath) + "status/3a5f0f6c-1e8a-4a4f-9b34-0d9b9b9b9b9b/", "", "",
                   "", "", "Bearer alice-token"});
  EXPECT_EQ(uuid.status, 404) << uuid.body;
  EXPECT_EQ(status_store.finds, 1);
}

TEST_F(TaxiiTest, MatchFilters) {
  Json page = GetJson(AllObjects(), "match[type]=identity");
  ASSERT_EQ(page["objects"].size(), 3u);  // accord, alice, bob
  page = GetJson(AllObjects(), "match%5Btype%5D=opinion,marking-definition");
  ASSERT_EQ(page["objects"].size(), 2u);
  EXPECT_EQ(page["objects"][0]["id"], stix::kTlpClearId);
  EXPECT_EQ(page["objects"][1]["type"], "opinion");
  page = GetJson(AllObjects(), "match[id]=" + Stix(2) + "&match[id]=" + Stix(5));
  ASSERT_EQ(page["objects"].size(), 2u);
  EXPECT_EQ(page["objects"][0]["id"], Stix(2));
  page = GetJson(AllObjects(), "match[spec_version]=2.0");
  EXPECT_EQ(page["objects"].size(), 0u);
  page = GetJson(AllObjects(), "match[id]=" + Stix(3) + "&match[version]=first");
  ASSERT_EQ(page["objects"].size(), 1u);
  EXPECT_FALSE(page["objects"][0].contains("revoked"));
  page = GetJson(AllObjects(), "match[id]=" + Stix(3) + "&match[version]=2026-11-28T11:00:00.000Z");
  ASSERT_EQ(page["objects"].size(), 1u);
  EXPECT_EQ(page["objects"][0]["revoked"], true);
}

TEST_F(TaxiiTest, ParticipantCollectionHasOnlyItsStatements) {
  std::string path =
      std::string(kApiRootPath) + "collections/" + ParticipantCollectionId(alice.public_key) + "/objects/";
  int pages = 0;
  auto objects = Drain(this, path, "match[version]=all", 4, &pages);
  // 3 fixed, 3 from the registration, yara, hash set, its revoked version, release.
  EXPECT_EQ(objects.size(), 3u + 3u + 4u);
  Json page = GetJson(path, "match[type]=opinion");
  EXPECT_EQ(page["objects"].size(), 0u);  // the audit finding is bob's
  Json bobs = GetJson(std::string(kApiRootPath) + "collections/" + ParticipantCollectionId(bob.public_key) +
                          "/objects/" + Stix(2) + "/",
                      "", 404);
  EXPECT_EQ(bobs["http_status"], "404");
}

TEST_F(TaxiiTest, ObjectAndVersionsOfARevokedIndicator) {
  std::string base = std::string(kApiRootPath) + "collections/all/objects/" + Stix(3) + "/";
  Json last = GetJson(base);
  ASSERT_EQ(last["objects"].size(), 1u);
  EXPECT_EQ(last["objects"][0]["revoked"], true);
  Json all = GetJson(base, "match[version]=all");
  ASSERT_EQ(all["objects"].size(), 2u);
  Json v = GetJson(base + "versions/");
  EXPECT_EQ(v["versions"], Json::array({"2026-11-28T10:00:00.000Z", "2026-11-28T11:00:00.000Z"}));
  EXPECT_EQ(v["more"], false);
  TaxiiResponse r = Get(base + "versions/");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-First"), "2026-11-28T10:00:03.000000Z");
  EXPECT_EQ(Header(r, "X-TAXII-Date-Added-Last"), "2026-11-28T10:00:24.000000Z");
  // A fixed object is in every collection.
  Json tlp =
      GetJson(std::string(kApiRootPath) + "collections/all/objects/" + std::string(stix::kTlpClearId) + "/");
  EXPECT_EQ(tlp["objects"][0]["name"], "TLP:CLEAR");
  // Known object, filtered out: an empty envelope, not 404.
  Json none = GetJson(base, "added_after=2030-01-01T00:00:00Z");
  EXPECT_EQ(none["objects"].size(), 0u);
  GetJson(
      std::string(kApiRootPath) + "collections/all/objects/indicator--00000000-0000-5000-8000-000000000000/",
      "", 404);
  GetJson(base, "match[type]=indicator", 400);
  GetJson(base + "versions/", "match[version]=all", 400);
}

TEST_F(TaxiiTest, Manifest) {
  Json m = GetJson(std::string(kApiRootPath) + "collections/all/manifest/", "limit=4");
  ASSERT_EQ(m["objects"].size(), 4u);
  EXPECT_EQ(m["more"], true);
  EXPECT_EQ(m["objects"][0], Json({{"id", stix::kTlpClearId},
                                   {"date_added", "2026-11-28T10:00:00.000000Z"},
                                   {"version", "2022-10-01T00:00:00.000Z"},
                                   {"media_type", "application/stix+json;version=2.1"}}));
  EXPECT_EQ(m["objects"][3]["id"], stix::IdentityId(alice.public_key));
  EXPECT_EQ(m["objects"][3]["version"], "2026-11-28T10:00:00.000Z");
}

TEST_F(TaxiiTest, ErrorsAreTaxiiErrorMessages) {
  struct Case {
    std::string method, path, query, accept;
    int status;
  };
  std::string objects = AllObjects();
  for (const Case& c : std::vector<Case>{
           {"GET", "/nope/", "", "", 404},
           {"GET", "/taxii2/api/collections/00000000-0000-0000-0000-000000000000/", "", "", 404},
           {"GET", "/taxii2/api/collections/all/objects/", "", "application/json", 406},
           {"GET", "/taxii2/api/collections/all/objects/", "", "application/taxii+json;version=2.0", 406},
           {"GET", "/taxii2/api/collections/all/objects/", "", "application/taxii+json;q=0", 406},
           {"GET", objects, "next=zzz", "", 400},
           {"GET", objects, "next=1.2.3", "", 400},
           {"GET", objects, "limit=0", "", 400},
           {"GET", objects, "limit=-1", "", 400},
           {"GET", objects, "added_after=yesterday", "", 400},
           {"GET", objects, "match[colour]=red", "", 400},
           {"GET", objects, "sort=asc", "", 400},
           {"GET", objects, "match[id]=indicator", "", 400},
           {"GET", "/taxii2/api/status/3a5f0f6c-1e8a-4a4f-9b34-0d9b9b9b9b9b/", "", "", 404},
           {"GET", "/taxii2/api/collections/all/objects//", "", "", 404},
           {"POST", objects, "", "", 405},
           {"DELETE", objects + stix::IdentityId(alice.public_key) + "/", "", "", 405},
       }) {
    TaxiiResponse r = api->Handle(TaxiiRequest{c.method, c.path, c.query, c.accept, "", "", ""});
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << "?" << c.query << " " << c.accept << ": "
                                  << r.body;
    EXPECT_EQ(r.content_type, kMediaType);
    Json e = Json::parse(r.body);
    EXPECT_EQ(e["http_status"], std::to_string(c.status));
    EXPECT_TRUE(e["title"].is_string());
    EXPECT_TRUE(e["description"].is_string());
    if (c.status == 405) {
      EXPECT_EQ(Header(r, "Allow"), "GET");
    }
  }
}

TEST_F(TaxiiTest, AcceptNegotiation) {
  for (const char* ok : {"", "application/taxii+json;version=2.1", "application/taxii+json", "*/*",
                         "application/json, application/taxii+json; version=\"2.1\"",
                         "APPLICATION/TAXII+JSON", "text/html;q=0.9, application/*;q=0.1"}) {
    EXPECT_EQ(Get("/taxii2/", "", ok).status, 200) << ok;
  }
}

TEST_F(TaxiiTest, ScanBudgetAnswersMoreInsteadOfReadingEverything) {
  config.scan_budget = 4;
  TaxiiApi small(store, config);
  std::string next, ids;
  int requests = 0;
  size_t found = 0;
  while (requests < 100) {
    TaxiiResponse r = small.Handle(TaxiiRequest{
        "GET", AllObjects(), "match[type]=opinion" + (next.empty() ? "" : "&next=" + next), "", "", "", ""});
    ASSERT_EQ(r.status, 200) << r.body;
    Json page = Json::parse(r.body);
    ++requests;
    found += page["objects"].size();
    if (!page["more"].get<bool>()) break;
    next = page["next"];
  }
  EXPECT_EQ(found, 1u);
  EXPECT_EQ(requests, 7);  // 27 statements, 4 a request
}

TEST_F(TaxiiTest, NewStatementsAppearWithoutRestart) {
  int pages = 0;
  size_t before = Drain(this, AllObjects(), "", 100, &pages).size();
  store.Append(Kind::kRetraction, alice, {{"index", 2}}, "2026-11-28T12:00:00Z");
  auto after = Drain(this, AllObjects(), "", 100, &pages);
  EXPECT_EQ(after.size(), before);  // the yara indicator is now last in its revoked version
  EXPECT_EQ(after.back(), std::make_pair(Stix(2), std::string("2026-11-28T12:00:00.000Z")));
}

TEST_F(TaxiiTest, CheckpointIsTheCurrentOneWhereItCovers) {
  std::string ext(stix::kExtensionId);
  Json page = GetJson(AllObjects(), "match[id]=" + Stix(2) + "," + Stix(25));
  ASSERT_EQ(page["objects"].size(), 2u);
  EXPECT_EQ(page["objects"][0]["extensions"][ext]["checkpoint"], config.checkpoint());  // index 2 < size 20
  EXPECT_FALSE(page["objects"][1]["extensions"][ext].contains("checkpoint"));           // index 25
  EXPECT_EQ(page["objects"][1]["extensions"][ext]["log_origin"], "node.example/log");
  // The cached rendering takes the newer checkpoint.
  std::string newer = "node.example/log\n30\nBBBB\n\n— node.example/log sig2\n";
  config.checkpoint = [newer] { return newer; };
  TaxiiApi fresh(store, config);
  Json again = Json::parse(
      fresh.Handle({"GET", AllObjects(), "match[id]=" + Stix(2) + "," + Stix(25), "", "", "", ""}).body);
  EXPECT_EQ(again["objects"][0]["extensions"][ext]["checkpoint"], newer);
  EXPECT_EQ(again["objects"][1]["extensions"][ext]["checkpoint"], newer);
}

TEST_F(TaxiiTest, RenderCacheDoesNotChangeAnswers) {
  TaxiiConfig uncached = config;
  uncached.render_cache_bytes = 0;
  TaxiiApi plain(store, uncached);
  for (const std::string& q : {std::string("limit=7&match[version]=all"), std::string("next=3.0&limit=3"),
                               std::string("match[type]=indicator,identity")}) {
    for (const std::string& path : {AllObjects(), std::string(kApiRootPath) + "collections/all/manifest/"}) {
      TaxiiRequest req{"GET", path, q, "", "", "", ""};
      TaxiiResponse a = api->Handle(req), b = plain.Handle(req);
      EXPECT_EQ(a.status, 200) << a.body;
      EXPECT_EQ(a.body, b.body) << path << "?" << q;
      EXPECT_EQ(a.body, api->Handle(req).body);       // served again from the cache
      EXPECT_EQ(Json::parse(a.body).dump(), a.body);  // written as nlohmann writes it
    }
  }
}

TEST_F(TaxiiTest, RenderCacheKeepsWhatWasServedLast) {
  // Pollers read the newest statements again and again: those must stay in a cache too small for
  // the whole log, and a statement read once must push out the least recently served one.
  ASSERT_TRUE(api->CatchUp().ok());
  RenderCacheStats all = api->render_cache();
  ASSERT_EQ(all.statements, store.records.size());
  TaxiiConfig small = config;
  small.render_cache_bytes = all.bytes / 3;
  TaxiiApi api2(store, small);
  ASSERT_TRUE(api2.CatchUp().ok());  // renders every statement, oldest first
  RenderCacheStats caught = api2.render_cache();
  EXPECT_EQ(caught.misses, store.records.size());
  EXPECT_LE(caught.bytes, small.render_cache_bytes);
  ASSERT_GT(caught.statements, 3u);
  ASSERT_LT(caught.statements, store.records.size() - 3);
  const uint64_t newest = store.records.size() - 3;
  auto read_newest = [&] {
    TaxiiResponse r =
        api2.Handle({"GET", AllObjects(), "next=" + std::to_string(newest) + ".0", "", "", "", ""});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  };
  std::string body = read_newest();
  RenderCacheStats after = api2.render_cache();
  EXPECT_EQ(after.misses, caught.misses) << "the newest statements were dropped from the cache";
  EXPECT_EQ(after.hits, caught.hits + 3);
  // The cache holds the newest statements, `oldest` the first of them. Served again, it becomes
  // the most recently served: an old statement read once then pushes out others, not it (the
  // first in would go first without the reordering).
  ASSERT_GT(caught.statements, 5u);
  const uint64_t oldest = store.records.size() - caught.statements;
  auto read_oldest = [&] {
    TaxiiResponse r =
        api2.Handle({"GET", AllObjects(), "next=" + std::to_string(oldest) + ".0&limit=1", "", "", "", ""});
    EXPECT_EQ(r.status, 200) << r.body;
  };
  read_oldest();
  EXPECT_EQ(api2.render_cache().misses, caught.misses) << "the first statement the cache holds";
  TaxiiResponse old = api2.Handle({"GET", AllObjects(), "next=5.0&limit=1", "", "", "", ""});
  ASSERT_EQ(old.status, 200) << old.body;
  const uint64_t misses = api2.render_cache().misses;
  EXPECT_GT(misses, caught.misses);  // statement 5 (and the next, to tell whether there is more)
  read_oldest();
  EXPECT_EQ(api2.render_cache().misses, misses) << "the most recently served was pushed out";
  EXPECT_EQ(read_newest(), body);
  EXPECT_EQ(api2.render_cache().misses, misses);
  EXPECT_LE(api2.render_cache().bytes, small.render_cache_bytes);
}

TEST_F(TaxiiTest, ServedObjectsAreTheStixObjects) {
  // What the API writes from its cache, checkpoint spliced in, is what stix::StixObjects gives.
  stix::Context ctx = stix::MakeContext(config.log_origin, config.checkpoint());
  stix::RecordLookup lookup = [this](uint64_t i) { return store.Get(i); };
  std::vector<Json> want = stix::FixedObjects();
  for (const Record& r : store.records) {
    Result<std::vector<Json>> objects = stix::StixObjects(r, lookup, ctx);
    ASSERT_TRUE(objects.ok()) << objects.status().ToString();
    want.insert(want.end(), objects->begin(), objects->end());
  }
  Json page = GetJson(AllObjects(), "match[version]=all&limit=1000");
  ASSERT_EQ(page["objects"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(page["objects"][i], want[i]) << i;
}

TEST_F(TaxiiTest, ConcurrentRequestsAgree) {
  const std::string want = Get(AllObjects(), "limit=10&next=5.0").body;
  TaxiiApi fresh(store, config);  // threads race to catch it up and fill its cache
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (fresh.Handle({"GET", AllObjects(), "limit=10&next=5.0", "", "", "", ""}).body != want) ++bad;
        fresh.Handle({"GET", AllObjects(), "match[type]=identity", "", "", "", ""});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// A poller passes the newest date added it has seen as added_after. A statement the node logs at
// the same time, or after its clock stepped back, must still come: the index dates each record
// 1 µs after the one before at least.
TEST(TaxiiPolling, AStatementLoggedAtTheSameTimeIsNotMissed) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("accord-taxii-poll-" + std::to_string(::getpid()) + ".sqlite");
  auto remove = [&] {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  };
  remove();
  {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto alice = Key(1);
    const int64_t t0 = MemoryStore::kAdded0;
    auto add = [&](uint64_t index, Kind kind, const Json& body, int64_t added_us) {
      Result<Record> r = RecordFromLeaf(index, testing::Signed(kind, alice, body), added_us);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      Status s = (*store)->Add({*r});
      ASSERT_TRUE(s.ok()) << s.ToString();
    };
    add(0, Kind::kRegistration, Registration(alice, "Alice CERT", "DE"), t0);
    TaxiiApi api(**store, TaxiiConfig{});
    const std::string objects = std::string(kApiRootPath) + "collections/all/objects/";
    TaxiiResponse first = api.Handle(TaxiiRequest{"GET", objects, "", "", "", "", ""});
    ASSERT_EQ(first.status, 200) << first.body;
    std::string last;
    for (const auto& [k, v] : first.headers)
      if (k == "X-TAXII-Date-Added-Last") last = v;
    ASSERT_EQ(last, "2026-11-28T10:00:00.000000Z");
    add(1, Kind::kHashSet, HashSet(1), t0);        // the same microsecond
    add(2, Kind::kHashSet, HashSet(2), t0 - 100);  // the clock stepped back
    TaxiiResponse next = api.Handle(TaxiiRequest{"GET", objects, "added_after=" + last, "", "", "", ""});
    ASSERT_EQ(next.status, 200) << next.body;
    Json page = Json::parse(next.body);
    ASSERT_EQ(page["objects"].size(), 2u) << next.body;
    EXPECT_EQ(page["objects"][0]["extensions"][std::string(stix::kExtensionId)]["log_index"], 1);
    EXPECT_EQ(page["objects"][1]["extensions"][std::string(stix::kExtensionId)]["log_index"], 2);
    Json manifest =
        Json::parse(api.Handle(TaxiiRequest{"GET", std::string(kApiRootPath) + "collections/all/manifest/",
                                            "added_after=" + last, "", "", "", ""})
                        .body);
    ASSERT_EQ(manifest["objects"].size(), 2u);
    EXPECT_EQ(manifest["objects"][0]["date_added"], "2026-11-28T10:00:00.000001Z");
    EXPECT_EQ(manifest["objects"][1]["date_added"], "2026-11-28T10:00:00.000002Z");
    // A client that saw the first of the two asks for what came after it, to the microsecond.
    Json rest = Json::parse(
        api.Handle(TaxiiRequest{"GET", objects, "added_after=2026-11-28T10:00:00.000001Z", "", "", "", ""})
            .body);
    ASSERT_EQ(rest["objects"].size(), 1u) << rest.dump();
    EXPECT_EQ(rest["objects"][0]["extensions"][std::string(stix::kExtensionId)]["log_index"], 2);
  }
  remove();
}

TEST(TaxiiQuery, ParsesDecodesAndRoundTrips) {
  Result<ObjectsQuery> q = ParseObjectsQuery(
      "added_after=2026-11-28T10%3A00%3A00.5Z&limit=20&next=7.1&match%5Btype%5D=indicator,identity"
      "&match[type]=note&match[id]=indicator--2ed6657d-e927-568b-95e1-2665a8aea6a2&match[version]=first,"
      "2026-11-28T10:00:00Z&match[spec_version]=2.1&&");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->added_after_us, 1795860000500000);
  EXPECT_EQ(q->limit, 20u);
  EXPECT_EQ(q->next, (Cursor{7, 1}));
  EXPECT_EQ(q->types, (std::vector<std::string>{"indicator", "identity", "note"}));
  EXPECT_EQ(q->ids.size(), 1u);
  EXPECT_TRUE(q->version_first);
  EXPECT_EQ(q->version_at_ms, std::vector<int64_t>{1795860000000});
  EXPECT_EQ(q->spec_versions, std::vector<std::string>{"2.1"});
  Result<ObjectsQuery> again = ParseObjectsQuery(FormatObjectsQuery(*q));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *q);
  EXPECT_TRUE(ParseObjectsQuery("").ok());
  EXPECT_EQ(ParseObjectsQuery("limit=99999999999999999999999")->limit, 999999999999999999u);
  EXPECT_EQ(ParseObjectsQuery("limit=007")->limit, 7u);
  Result<ObjectsQuery> early = ParseObjectsQuery("added_after=0001-01-01T00:00:00Z");
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->added_after_us, -62135596800000000);
  EXPECT_EQ(*ParseObjectsQuery(FormatObjectsQuery(*early)), *early);
}

TEST(TaxiiQuery, RefusesWithTheParameterNamed) {
  struct Case {
    std::string query, want;
  };
  for (const Case& c : std::vector<Case>{
           {"limit=0", "limit"},
           {"limit=1&limit=2", "given twice"},
           {"limit=1x", "positive integer"},
           {"next=", "empty value"},
           {"next=01.0", "next token"},
           {"next=1.", "next token"},
           {"added_after=2026-11-28", "timestamp"},
           {"added_after", "no value"},
           {"match[id]=indicator--xyz", "STIX id"},
           {"match[type]=Indicator", "STIX type"},
           {"match[type]=a,,b", "STIX type"},
           {"match[version]=newest", "first, last, all"},
           {"match[spec_version]=two", "spec version"},
           {"match[labels]=x", "unknown filter"},
           {"match[]=x", "unknown parameter"},
           {"color=red", "unknown parameter"},
           {"limit=%zz", "percent escape"},
           {"limit=%4", "percent escape"},
       }) {
    Result<ObjectsQuery> q = ParseObjectsQuery(c.query);
    ASSERT_FALSE(q.ok()) << c.query;
    EXPECT_EQ(q.status().code(), Code::kInvalidArgument) << c.query;
    EXPECT_NE(q.status().message().find(c.want), std::string::npos)
        << c.query << ": " << q.status().ToString();
  }
  std::string many = "match[type]=";
  for (int i = 0; i < 101; ++i) many += (i ? ",t" : "t") + std::to_string(100 + i);
  EXPECT_EQ(ParseObjectsQuery(many).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(ParseObjectsQuery(std::string(limits::kMaxQueryLength + 1, 'a')).status().code(),
            Code::kResourceExhausted);
}

}  // namespace
}  // namespace accord::node::taxii
