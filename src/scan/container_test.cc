#include "scan/container.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Member {
  std::string name;
  Bytes data;
};

// An archive written by libarchive itself, in memory: format "zip", "7zip", "ustar", "raw", ...;
// filter "gzip", "bzip2", "xz" or ""; options as for archive_write_set_options.
Bytes WriteArchive(const char* format, const std::vector<Member>& members, const char* filter = "",
                   const char* options = "", const char* passphrase = nullptr) {
  Bytes out;
  struct archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format_by_name(a, format), ARCHIVE_OK) << archive_error_string(a);
  if (*filter != '\0') {
    EXPECT_EQ(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
  }
  if (*options != '\0') {
    EXPECT_EQ(archive_write_set_options(a, options), ARCHIVE_OK) << archive_error_string(a);
  }
  if (passphrase != nullptr) {
    EXPECT_EQ(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
  }
  archive_write_set_bytes_per_block(a, 512);
  archive_write_set_bytes_in_last_block(a, 1);
  auto write = [](struct archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
    static_cast<Bytes*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  EXPECT_EQ(archive_write_open(a, &out, nullptr, write, nullptr), ARCHIVE_OK) << archive_error_string(a);
  for (const Member& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!m.data.empty()) {
      EXPECT_EQ(archive_write_data(a, m.data.data(), m.data.size()), static_cast<la_ssize_t>(m.data.size()));
    }
    archive_entry_free(e);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
  return out;
}

Bytes Zip(const std::vector<Member>& members, const char* options = "") {
  return WriteArchive("zip", members, "", options);
}
Bytes StoredZip(const std::vector<Member>& members) {
  return Zip(members, "zip:compression=store");
}

struct Walked {
  std::vector<std::string> paths;
  std::map<std::string, Bytes> data;
  std::map<std::string, int> depth;
  std::map<std::string, bool> truncated;
  std::vector<Event> events;
  WalkStats stats;

  std::vector<std::string> EventNames() const {
    std::vector<std::string> out;
    for (const Event& e : events) out.push_back(e.name);
    return out;
  }
  bool HasEvent(std::string_view name, std::string_view path = "") const {
    return std::any_of(events.begin(), events.end(),
                       [&](const Event& e) { return e.name == name && (path.empty() || e.path == path); });
  }
};

Walked Walk(ByteView data, std::string_view path, ContainerLimits limits = {}) {
  Walked w;
  Walker walker(limits);
  w.stats = walker.Walk(
      data, path,
      [&](const Item& item) {
        std::string p(item.path);
        w.paths.push_back(p);
        w.data[p] = Bytes(item.data);
        w.depth[p] = item.depth;
        w.truncated[p] = item.truncated;
      },
      [&](const Event& e) { w.events.push_back(e); });
  return w;
}

std::string Mail(std::string_view attachment_name, ByteView attachment) {
  std::string b64 = Base64Encode(attachment);
  std::string wrapped;
  for (size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\r\n";
  return "From: a@example.com\r\nTo: b@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\npreamble\r\n--XyZ\r\n"
         "Content-Type: text/plain\r\n\r\nsee attached\r\n--XyZ\r\n"
         "Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"" +
         std::string(attachment_name) + "\"\r\n\r\n" + wrapped + "--XyZ--\r\n";
}

const Bytes kExe = "MZ\x90\x00 pretend this is a PE file: " + std::string(300, 'x');

TEST(ContainerTest, NestedPathsThroughMailZipAndTarGz) {
  Bytes tgz = WriteArchive("ustar", {{"b/x.exe", kExe}, {"b/readme.txt", "hello"}}, "gzip");
  Bytes zip = Zip({{"a/b.tar.gz", tgz}, {"a/other.txt", "other"}});
  std::string mail = Mail("invoice.zip", zip);
  Walked w = Walk(mail, "mail.eml");
  EXPECT_THAT(w.events, IsEmpty());
  const std::string deep = "mail.eml!invoice.zip!a/b.tar.gz!b/x.exe";
  ASSERT_EQ(w.data.count(deep), 1u) << ::testing::PrintToString(w.paths);
  EXPECT_EQ(w.data[deep], kExe);
  EXPECT_EQ(w.depth[deep], 3);
  EXPECT_EQ(w.data["mail.eml!invoice.zip"], zip);
  EXPECT_EQ(w.data["mail.eml!invoice.zip!a/b.tar.gz!b/readme.txt"], "hello");
  EXPECT_EQ(w.data["mail.eml!invoice.zip!a/other.txt"], "other");
  EXPECT_EQ(w.data["mail.eml!part1"], "see attached");
  // The top level first, then depth first in archive order.
  EXPECT_EQ(w.paths.front(), "mail.eml");
  EXPECT_LT(std::find(w.paths.begin(), w.paths.end(), deep) - w.paths.begin(),
            std::find(w.paths.begin(), w.paths.end(), "mail.eml!invoice.zip!a/other.txt") - w.paths.begin());
}

TEST(ContainerTest, CompressedSingleFileIsNamedWithoutTheSuffix) {
  for (const char* filter : {"gzip", "bzip2", "xz", "zstd", "lzip"}) {
    Bytes gz = WriteArchive("raw", {{"x.exe", kExe}}, filter);
    std::string ext = std::string(".") + (std::string(filter) == "gzip"    ? "gz"
                                          : std::string(filter) == "bzip2" ? "bz2"
                                          : std::string(filter) == "zstd"  ? "zst"
                                          : std::string(filter) == "lzip"  ? "lz"
                                                                           : "xz");
    Walked w = Walk(gz, "dir/x.exe" + ext);
    EXPECT_THAT(w.events, IsEmpty()) << filter;
    EXPECT_EQ(w.data["dir/x.exe" + ext + "!x.exe"], kExe) << filter << ::testing::PrintToString(w.paths);
  }
  Walked tgz = Walk(WriteArchive("raw", {{"t", WriteArchive("ustar", {{"in.txt", "in"}})}}, "gzip"), "t.tgz");
  EXPECT_EQ(tgz.data["t.tgz!in.txt"], "in") << ::testing::PrintToString(tgz.paths);
}

TEST(ContainerTest, OrdinaryFilesAreNotOpened) {
  Bytes noise;
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) noise.push_back(static_cast<char>((x = x * 1103515245 + 12345) >> 24));
  for (const Bytes& data :
       {noise, Bytes("just some text\nwith lines\n"), Bytes(), kExe, Bytes(70000, '\0')}) {
    Walked w = Walk(data, "f");
    EXPECT_EQ(w.paths, std::vector<std::string>{"f"});
    EXPECT_THAT(w.events, IsEmpty());
    EXPECT_EQ(DetectContainer(data), "");
  }
}

TEST(ContainerTest, DetectsByContentNotName) {
  Bytes zip = Zip({{"m", "x"}});
  EXPECT_EQ(DetectContainer(zip), "zip");
  EXPECT_EQ(DetectContainer(WriteArchive("ustar", {{"m", "x"}})), "tar");
  EXPECT_EQ(DetectContainer(WriteArchive("7zip", {{"m", "x"}})), "7zip");
  EXPECT_EQ(DetectContainer(WriteArchive("cpio", {{"m", "x"}})), "cpio");
  EXPECT_EQ(DetectContainer(WriteArchive("ar", {{"m", "x"}})), "ar");
  EXPECT_EQ(DetectContainer(WriteArchive("raw", {{"m", "x"}}, "gzip")), "gzip");
  Walked w = Walk(zip, "photo.jpg");
  EXPECT_EQ(w.data["photo.jpg!m"], "x");
}

TEST(ContainerTest, EveryFormatLibarchiveWritesIsWalked) {
  for (const char* format :
       {"zip", "7zip", "ustar", "pax", "gnutar", "v7tar", "cpio", "newc", "odc", "ar", "iso9660", "xar"}) {
    Bytes a = WriteArchive(format, {{"dir1/x.exe", kExe}, {"y.txt", "why"}});
    Walked w = Walk(a, "a");
    EXPECT_THAT(w.events, IsEmpty()) << format;
    bool found = false;
    for (const auto& [path, data] : w.data) found |= (data == kExe && path.ends_with("x.exe"));
    EXPECT_TRUE(found) << format << " " << ::testing::PrintToString(w.paths);
  }
}

TEST(ContainerTest, DebianPackageIsArOfCompressedTars) {
  Bytes control = WriteArchive("ustar", {{"./control", "Package: x\n"}}, "xz");
  Bytes data = WriteArchive("ustar", {{"./usr/bin/x", kExe}}, "xz");
  Bytes deb =
      WriteArchive("ar", {{"debian-binary", "2.0\n"}, {"control.tar.xz", control}, {"data.tar.xz", data}});
  Walked w = Walk(deb, "x.deb");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_EQ(w.data["x.deb!data.tar.xz!usr/bin/x"], kExe) << ::testing::PrintToString(w.paths);
}

// A static library as binutils' `ar rcD` writes it (Debian's default): a symbol table "/",
// members named "NAME/" whose headers give bare permissions ("644"), no file type. Every member
// is visited, with its bytes.
Bytes ArHeader(const std::string& name, const std::string& mode, size_t size) {
  char h[61];
  std::snprintf(h, sizeof h, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", name.c_str(), "0", "0", "0", mode.c_str(),
                size);
  return Bytes(h, 60);
}
const Bytes kObjectA = "first object " + std::string(kExe), kObjectB = "second object";
TEST(ContainerTest, StaticLibraryMembersWithBarePermissionsAreVisited) {
  const Bytes symbols("\0\0\0\0", 4);
  Bytes lib = "!<arch>\n" + ArHeader("/", "0", symbols.size()) + symbols +
              ArHeader("a.o/", "644", kObjectA.size()) + kObjectA;
  if (kObjectA.size() % 2) lib += "\n";
  lib += ArHeader("b.o/", "644", kObjectB.size()) + kObjectB;
  if (kObjectB.size() % 2) lib += "\n";
  Walked w = Walk(lib, "libx.a");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_EQ(w.data["libx.a!a.o"], kObjectA) << ::testing::PrintToString(w.paths);
  EXPECT_EQ(w.data["libx.a!b.o"], kObjectB) << ::testing::PrintToString(w.paths);
}

// A static library's members are scanned where they lie in the library's bytes, not copied; a
// member over the size cap is scanned up to it and reported; one cut short is reported damaged.
// (libarchive hands out its own copy while its format bidders read ahead past the data's end:
// under ~50 KB.)
TEST(ContainerTest, StaticLibraryMembersAreScannedInPlace) {
  const Bytes big = kObjectA + Bytes(100000, 'o');
  Bytes lib = "!<arch>\n" + ArHeader("a.o/", "644", big.size()) + big;
  lib += ArHeader("b.o/", "644", kObjectB.size()) + kObjectB;
  if (kObjectB.size() % 2) lib += "\n";
  std::map<std::string, ByteView> seen;
  Walker walker(ContainerLimits{});
  walker.Walk(
      lib, "libx.a", [&](const Item& item) { seen[std::string(item.path)] = item.data; },
      [](const Event&) {});
  ASSERT_EQ(seen.size(), 3u);
  for (const char* m : {"libx.a!a.o", "libx.a!b.o"}) {
    const ByteView v = seen[m];
    EXPECT_TRUE(v.data() >= lib.data() && v.data() + v.size() <= lib.data() + lib.size()) << m;
  }
  EXPECT_EQ(seen["libx.a!a.o"], big);
  ContainerLimits small;
  small.max_file_size = 10;
  Walked capped = Walk(lib, "libx.a", small);
  EXPECT_EQ(capped.data["libx.a!a.o"], big.substr(0, 10));
  EXPECT_TRUE(capped.truncated["libx.a!a.o"]);
  ASSERT_FALSE(capped.events.empty());
  EXPECT_EQ(capped.events[0].name, "Heuristics.Limits.Exceeded.MaxFileSize");
  Walked cut = Walk(lib.substr(0, lib.size() - 1 - kObjectB.size() + 3), "libx.a");  // ends "sec"
  ASSERT_EQ(cut.events.size(), 1u) << ::testing::PrintToString(cut.paths);
  EXPECT_EQ(cut.events[0].path, "libx.a!b.o");
  EXPECT_EQ(cut.events[0].name, "Heuristics.Broken.Ar");
  EXPECT_EQ(cut.data["libx.a!b.o"], kObjectB.substr(0, 3));
}

// The same, made by binutils' own ar (an independent writer), when it is installed.
TEST(ContainerTest, StaticLibraryMadeByGnuArIsWalked) {
  const std::string d = ::testing::TempDir() + "accord-ar-" + std::to_string(::getpid());
  std::filesystem::create_directories(d);
  std::ofstream(d + "/a.o", std::ios::binary) << kObjectA;
  std::ofstream(d + "/b.o", std::ios::binary) << kObjectB;
  const std::string cmd = "cd '" + d + "' && ar rcD libx.a a.o b.o";
  if (std::system(cmd.c_str()) != 0) {
    std::filesystem::remove_all(d);
    GTEST_SKIP() << "no GNU ar";
  }
  std::ifstream in(d + "/libx.a", std::ios::binary);
  const Bytes made((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(d);
  Walked w = Walk(made, "libx.a");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_EQ(w.data["libx.a!a.o"], kObjectA) << ::testing::PrintToString(w.paths);
  EXPECT_EQ(w.data["libx.a!b.o"], kObjectB) << ::testing::PrintToString(w.paths);
}

// A tar hard link has no bytes of its own (they are its target's, visited before it): it is not
// an item, and it uses up none of a container's --max-files.
TEST(ContainerTest, TarHardLinksAreNotMembers) {
  for (const char* format : {"gnutar", "ustar", "pax"}) {
    struct archive* a = archive_write_new();
    ASSERT_EQ(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
    std::vector<char> out(1 << 20);
    size_t used = 0;
    ASSERT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
    auto add = [&](const char* name, const std::string& data, const char* link) {
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, name);
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      if (link) {
        archive_entry_set_hardlink(e, link);
        archive_entry_set_size(e, 0);
      } else {
        archive_entry_set_size(e, la_int64_t(data.size()));
      }
      ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
      if (!link) archive_write_data(a, data.data(), data.size());
      archive_entry_free(e);
    };
    add("a", "first", nullptr);
    add("l1", "", "a");
    add("l2", "", "a");
    add("l3", "", "a");
    add("z", kExe, nullptr);
    archive_write_close(a);
    archive_write_free(a);
    ContainerLimits limits;
    limits.max_files = 2;  // a and z; the links count for nothing
    Walked w = Walk(Bytes(out.data(), used), "t.tar", limits);
    EXPECT_THAT(w.events, IsEmpty()) << format;
    EXPECT_EQ(w.paths, (std::vector<std::string>{"t.tar", "t.tar!a", "t.tar!z"})) << format;
    EXPECT_EQ(w.data["t.tar!z"], kExe) << format;
  }
  // A pax hard link that carries bytes (a `size` record): they are data, and scanned.
  auto block = [](const std::string& name, char type, size_t size, const std::string& link) {
    Bytes h(512, '\0');
    std::memcpy(&h[0], name.data(), name.size());
    std::memcpy(&h[100], "0000644", 7);
    std::memcpy(&h[108], "0000000", 7);
    std::memcpy(&h[116], "0000000", 7);
    std::snprintf(&h[124], 12, "%011zo", size);
    std::memcpy(&h[136], "00000000000", 11);
    h[156] = type;
    std::memcpy(&h[157], link.data(), link.size());
    std::memcpy(&h[257],
                "ustar\0"
                "00",
                8);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(&h[148], 8, "%06o", sum);
    return h;
  };
  auto padded = [](Bytes b) {
    b.resize((b.size() + 511) / 512 * 512, '\0');
    return b;
  };
  const std::string record = "11 size=17\n", payload = std::string(kExe).substr(0, 17);
  Bytes tar = block("a", '0', 5, "") + padded("first") + block("PaxHeader/l", 'x', record.size(), "") +
              padded(record) + block("l", '1', 0, "a") + padded(payload) + Bytes(1024, '\0');
  Walked w = Walk(tar, "p.tar");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_EQ(w.data["p.tar!l"], payload) << ::testing::PrintToString(w.paths);
}

TEST(ContainerTest, ZipAppendedToAnExecutableIsOpened) {
  Bytes sfx = "MZ" + std::string(5000, '\x01') + Zip({{"inner.exe", kExe}});
  Walked w = Walk(sfx, "setup.exe");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_EQ(w.data["setup.exe!inner.exe"], kExe);
  // A signature that occurs by chance inside a PE is not a container, and not an error either.
  Walked chance = Walk(
      "MZ" + std::string(100, '\0') + "PK\x03\x04 and not a zip at all" + std::string(100, 'x'), "a.exe");
  EXPECT_EQ(chance.paths.size(), 1u);
  EXPECT_THAT(chance.events, IsEmpty());
}

// ---- Limits: each one hit is a named event, and what came before it is still visited.

TEST(ContainerTest, MaxRecursionStopsADeepNestQuickly) {
  Bytes nest = "the bottom";
  for (int i = 0; i < 1000; ++i) nest = StoredZip({{"level" + std::to_string(i) + ".zip", nest}});
  auto start = std::chrono::steady_clock::now();
  Walked w = Walk(nest, "deep.zip");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  ASSERT_EQ(w.events.size(), 1u) << ::testing::PrintToString(w.EventNames());
  EXPECT_EQ(w.events[0].name, kMaxRecursion);
  EXPECT_EQ(w.events[0].kind, EventKind::kLimitExceeded);
  // Levels as ClamAV counts them: the file itself is level 1, so 17 opens 16 nested zips (the
  // 17th is visited, not opened), as clamscan's default does.
  EXPECT_THAT(w.events[0].message, HasSubstr("zip container at level 17 not opened: max_recursion is 17"));
  EXPECT_EQ(w.stats.max_depth, 16);
  EXPECT_EQ(w.paths.size(), 17u);
  EXPECT_EQ(w.depth[w.events[0].path], 16);

  ContainerLimits two;
  two.max_recursion = 2;
  Walked shallow = Walk(nest, "deep.zip", two);
  EXPECT_EQ(shallow.paths.size(), 2u);
  EXPECT_TRUE(shallow.HasEvent(kMaxRecursion, "deep.zip!level999.zip"));

  // 1 (and 0, taken as 1): the file itself only, no container opened.
  for (int levels : {1, 0}) {
    ContainerLimits none;
    none.max_recursion = levels;
    Walked top = Walk(nest, "deep.zip", none);
    EXPECT_EQ(top.paths.size(), 1u) << levels;
    EXPECT_TRUE(top.HasEvent(kMaxRecursion, "deep.zip")) << levels;
  }
}

// A mail's nested multiparts count against max_recursion with the levels above the mail: a mail
// inside a zip has one level less for them than a mail named itself.
// A mail whose entity is `leaf` inside `levels` nested multiparts (the mail's own the outermost).
std::string MailNesting(std::string leaf, int levels) {
  for (int n = levels; n >= 1; --n) {
    const std::string b = "b" + std::to_string(n);
    leaf = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" + leaf + "\r\n--" +
           b + "--\r\n";
  }
  return "From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + leaf;
}

TEST(ContainerTest, MailNestingCountsAgainstTheLevelsLeft) {
  // The leaf is 3 multiparts down.
  const std::string mail = MailNesting(
      "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"bottom.txt\"\r\n\r\nthe "
      "bottom",
      3);
  ContainerLimits limits;
  limits.max_recursion = 5;  // the mail at level 1: 4 levels left, the leaf needs 3
  Walked named = Walk(mail, "m.eml", limits);
  EXPECT_THAT(named.events, IsEmpty()) << ::testing::PrintToString(named.EventNames());
  EXPECT_EQ(named.data["m.eml!bottom.txt"], "the bottom") << ::testing::PrintToString(named.paths);

  // Inside a zip (level 2), 2 levels are left: the leaf at the third nesting is refused with
  // MaxRecursion (before, the mail's parts could nest max_recursion deep at any level).
  limits.max_recursion = 4;
  Walked in_zip = Walk(StoredZip({{"m.eml", mail}}), "a.zip", limits);
  EXPECT_EQ(in_zip.data.count("a.zip!m.eml!bottom.txt"), 0u) << ::testing::PrintToString(in_zip.paths);
  EXPECT_TRUE(in_zip.HasEvent(kMaxRecursion, "a.zip!m.eml")) << ::testing::PrintToString(in_zip.EventNames());
  limits.max_recursion = 5;
  Walked roomier = Walk(StoredZip({{"m.eml", mail}}), "a.zip", limits);
  EXPECT_EQ(roomier.data["a.zip!m.eml!bottom.txt"], "the bottom") << ::testing::PrintToString(roomier.paths);

  // The levels a part is nested in are levels of its own: a zip 3 multiparts down in a mail at
  // level 1 is at level 4 (before, at level 2 whatever its nesting, so that the mail's multiparts
  // and the containers under them could each go max_recursion deep).
  EXPECT_EQ(named.depth["m.eml!bottom.txt"], 3);
  const std::string zip_mail = MailNesting(
      "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"z.zip\"\r\n\r\n" +
          StoredZip({{"x.exe", kExe}}),
      3);
  limits.max_recursion = 5;  // the zip at level 4, its member at level 5
  Walked opened = Walk(zip_mail, "m.eml", limits);
  EXPECT_EQ(opened.data["m.eml!z.zip!x.exe"], kExe) << ::testing::PrintToString(opened.paths);
  EXPECT_EQ(opened.depth["m.eml!z.zip!x.exe"], 4);
  limits.max_recursion = 4;  // the zip at the last level: not opened, and said so
  Walked shut = Walk(zip_mail, "m.eml", limits);
  EXPECT_EQ(shut.data.count("m.eml!z.zip!x.exe"), 0u) << ::testing::PrintToString(shut.paths);
  EXPECT_TRUE(shut.HasEvent(kMaxRecursion, "m.eml!z.zip")) << ::testing::PrintToString(shut.EventNames());
}

// clamscan's --scan-<kind>=no: a kind turned off is not opened, silently; the others still are.
TEST(ContainerTest, KindsTurnedOffAreNotOpened) {
  const Bytes zip = Zip({{"x.exe", kExe}});
  const std::string mail = Mail("invoice.zip", zip);
  const std::string page = "<a href=\"data:application/octet-stream;base64," + Base64Encode(zip) + "\">x</a>";
  ContainerLimits all;
  EXPECT_EQ(Walk(zip, "a.zip", all).data["a.zip!x.exe"], kExe);
  EXPECT_EQ(Walk(mail, "m.eml", all).data["m.eml!invoice.zip!x.exe"], kExe);

  ContainerLimits no_archive;
  no_archive.kinds.archive = false;
  Walked w = Walk(zip, "a.zip", no_archive);
  EXPECT_EQ(w.paths, std::vector<std::string>{"a.zip"});
  EXPECT_THAT(w.events, IsEmpty());
  Walked m = Walk(mail, "m.eml", no_archive);  // the mail is opened, the zip in it is not
  EXPECT_EQ(m.data["m.eml!invoice.zip"], zip) << ::testing::PrintToString(m.paths);
  EXPECT_EQ(m.data.count("m.eml!invoice.zip!x.exe"), 0u);

  ContainerLimits no_mail;
  no_mail.kinds.mail = false;
  EXPECT_EQ(Walk(mail, "m.eml", no_mail).paths, std::vector<std::string>{"m.eml"});
  ContainerLimits no_html;
  no_html.kinds.html = false;
  EXPECT_EQ(Walk(page, "p.html", no_html).paths, std::vector<std::string>{"p.html"});
  EXPECT_GT(Walk(page, "p.html", all).paths.size(), 2u);

  // A text with a uuencoded block and a data: URI: with mail off, the data: URI (html) still opens.
  const std::string both = "some text\nbegin 644 one.txt\n,:&5L;&\\@=V]R;&0*\n`\nend\n" + page;
  Walked uu_on = Walk(both, "p.html", all);
  EXPECT_EQ(uu_on.data["p.html!one.txt"], "hello world\n") << ::testing::PrintToString(uu_on.paths);
  Walked uu_off = Walk(both, "p.html", no_mail);
  EXPECT_EQ(uu_off.data.count("p.html!one.txt"), 0u) << ::testing::PrintToString(uu_off.paths);
  EXPECT_GT(uu_off.paths.size(), 2u) << ::testing::PrintToString(uu_off.paths);  // the data: URI and its zip

  // A program whose only reader is of a kind turned off, and no archive appended: not a container
  // at all, so no MaxRecursion note at the last level either.
  const Bytes program = MinimalPe(MinimalPe(""));
  ContainerLimits top_only;
  top_only.max_recursion = 1;
  EXPECT_TRUE(Walk(program, "p.exe", top_only).HasEvent(kMaxRecursion, "p.exe"));
  top_only.kinds.pe = false;
  Walked no_pe = Walk(program, "p.exe", top_only);
  EXPECT_THAT(no_pe.events, IsEmpty()) << ::testing::PrintToString(no_pe.EventNames());
  // With an archive appended, archive on: still a container (its zip), so the note stays.
  EXPECT_TRUE(Walk(program + zip, "p.exe", top_only).HasEvent(kMaxRecursion, "p.exe"));
  top_only.kinds.archive = false;
  EXPECT_THAT(Walk(program + zip, "p.exe", top_only).events, IsEmpty());

  // Which formats each kind holds (container.h), and the two a reader of either kind opens.
  ContainerKinds k;
  for (std::string_view f :
       {"zip", "gzip", "7zip", "cab", "szdd", "chm", "sis", "arj", "rtf", "binhex", "nsis", "autoit"}) {
    k = {};
    k.archive = false;
    EXPECT_FALSE(k.Opens(f)) << f;
  }
  for (std::string_view f : {"upx", "aspack", "pe-embedded"}) {
    k = {};
    k.pe = false;
    EXPECT_FALSE(k.Opens(f)) << f;
    k = {};
    k.archive = false;
    EXPECT_TRUE(k.Opens(f)) << f;
  }
  k = {};
  k.ole2 = false;
  EXPECT_FALSE(k.Opens("ole2"));
  EXPECT_TRUE(k.Opens("ole1-package"));
  k.archive = false;
  EXPECT_FALSE(k.Opens("ole1-package"));
  k = {};
  k.pe = false;
  EXPECT_TRUE(k.Opens("installshield"));
  k.archive = false;
  EXPECT_FALSE(k.Opens("installshield"));
  k = {};
  k.pdf = false;
  EXPECT_FALSE(k.Opens("pdf"));
  k = {};
  k.mail = false;
  EXPECT_FALSE(k.Opens("tnef") || k.Opens("uuencode") || k.Opens("mail"));
}

TEST(ContainerTest, DeepGzipOfGzipEndsWithAnEventNotACrash) {
  Bytes nest = "the bottom";
  for (int i = 0; i < 1000; ++i) nest = WriteArchive("raw", {{"x", nest}}, "gzip");
  auto start = std::chrono::steady_clock::now();
  Walked w = Walk(nest, "deep.gz");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // libarchive peels stacked filters itself and refuses a long stack; either way the walk ends
  // with a named event rather than silently.
  EXPECT_THAT(w.events, Not(IsEmpty()));
  EXPECT_LE(w.stats.max_depth, ContainerLimits{}.max_recursion);
}

// `--max-filesize 0 --max-scansize 0` (no limit, as clamscan) with a ratio that saturates: every cap
// is UINT64_MAX, and the readers' "one byte past the cap" must not wrap to 0 (members read empty).
TEST(ContainerTest, NoLimitAtAllStillExtractsEveryMember) {
  ContainerLimits none;
  none.max_file_size = UINT64_MAX;
  none.max_scan_size = UINT64_MAX;
  none.max_files = UINT64_MAX;
  none.max_compression_ratio = UINT64_MAX;
  none.compression_ratio_floor = UINT64_MAX;
  const Bytes inner = "inner " + std::string(5000, 'z');
  for (auto [format, filter] :
       {std::pair{"zip", ""}, std::pair{"ustar", "gzip"}, std::pair{"argnu", ""}, std::pair{"7zip", ""}}) {
    Bytes archive = WriteArchive(format, {{"a.bin", kExe}, {"b.bin", inner}}, filter);
    Walked w = Walk(archive, "x", none);
    EXPECT_EQ(w.data["x!a.bin"], kExe) << format;
    EXPECT_EQ(w.data["x!b.bin"], inner) << format;
    EXPECT_THAT(w.events, IsEmpty()) << format << ": " << ::testing::PrintToString(w.EventNames());
  }
}

TEST(ContainerTest, MaxFilesCapsMembersPerContainer) {
  std::vector<Member> members;
  for (int i = 0; i < 20; ++i) members.push_back({"m" + std::to_string(i), "data" + std::to_string(i)});
  ContainerLimits limits;
  limits.max_files = 5;
  Walked w = Walk(Zip(members), "many.zip", limits);
  EXPECT_EQ(w.paths.size(), 6u);
  EXPECT_EQ(w.data["many.zip!m4"], "data4");
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].name, kMaxFiles);
  EXPECT_EQ(w.events[0].path, "many.zip");
}

TEST(ContainerTest, MaxFileSizeCutsOneMemberAndGoesOn) {
  ContainerLimits limits;
  limits.max_file_size = 1000;
  Walked w = Walk(Zip({{"big", Bytes(100000, 'b')}, {"small", "s"}}), "z.zip", limits);
  EXPECT_EQ(w.data["z.zip!big"], Bytes(1000, 'b'));
  EXPECT_TRUE(w.truncated["z.zip!big"]);
  EXPECT_EQ(w.data["z.zip!small"], "s");
  EXPECT_FALSE(w.truncated["z.zip!small"]);
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].name, kMaxFileSize);
  EXPECT_EQ(w.events[0].path, "z.zip!big");
  // A member of exactly the cap is not cut.
  Walked exact = Walk(Zip({{"m", Bytes(1000, 'e')}}), "e.zip", limits);
  EXPECT_THAT(exact.events, IsEmpty());
  EXPECT_EQ(exact.data["e.zip!m"].size(), 1000u);
}

TEST(ContainerTest, MaxScanSizeStopsTheWholeWalk) {
  ContainerLimits limits;
  limits.max_scan_size = 150000;
  Bytes inner = Zip({{"i1", Bytes(100000, '1')}, {"i2", Bytes(100000, '2')}});
  Walked w = Walk(Zip({{"inner.zip", inner}, {"after", "never"}}), "s.zip", limits);
  // inner.zip itself (a few hundred bytes) and i1 fit; i2 is cut; nothing after is extracted.
  EXPECT_EQ(w.data["s.zip!inner.zip!i1"], Bytes(100000, '1'));
  EXPECT_TRUE(w.truncated["s.zip!inner.zip!i2"]);
  EXPECT_EQ(w.data["s.zip!inner.zip!i2"].size(), 150000 - 100000 - inner.size());
  EXPECT_EQ(w.data.count("s.zip!after"), 0u);
  ASSERT_EQ(w.events.size(), 1u) << ::testing::PrintToString(w.EventNames());
  EXPECT_EQ(w.events[0].name, kMaxScanSize);
  EXPECT_EQ(w.stats.bytes_extracted, 150000u);
}

TEST(ContainerTest, MaxScanTimeStopsTheWalk) {
  ContainerLimits limits;
  limits.max_scan_time = std::chrono::milliseconds(0);
  Walked w = Walk(Zip({{"a", "a"}}), "t.zip", limits);
  EXPECT_EQ(w.paths, std::vector<std::string>{"t.zip"});
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].name, kMaxScanTime);

  // Visitor time counts: a slow visitor uses up the budget part way through.
  limits.max_scan_time = std::chrono::milliseconds(30);
  std::vector<std::string> seen;
  std::vector<Event> events;
  std::vector<Member> members;
  for (int i = 0; i < 10; ++i) members.push_back({"m" + std::to_string(i), "x"});
  Walker(limits).Walk(
      Zip(members), "slow.zip",
      [&](const Item& item) {
        seen.emplace_back(item.path);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      },
      [&](const Event& e) { events.push_back(e); });
  EXPECT_GE(seen.size(), 2u);
  EXPECT_LT(seen.size(), 11u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, kMaxScanTime);
}

TEST(ContainerTest, MaxCompressionRatioCutsAnInflatingContainer) {
  ContainerLimits limits;
  limits.max_compression_ratio = 10;
  limits.compression_ratio_floor = 0;
  Bytes zip = Zip({{"zeros", Bytes(10 << 20, '\0')}, {"after", "x"}});
  Walked w = Walk(zip, "r.zip", limits);
  EXPECT_EQ(w.data["r.zip!zeros"].size(), zip.size() * 10);
  EXPECT_EQ(w.data.count("r.zip!after"), 0u);
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].name, kMaxCompressionRatio);
  EXPECT_EQ(w.events[0].path, "r.zip!zeros");
  // Under the floor, small files that compress well are left alone.
  limits.compression_ratio_floor = 16 << 20;
  EXPECT_THAT(Walk(zip, "r.zip", limits).events, IsEmpty());
}

// ---- Bombs, built at test time.

// A raw deflate stream of `mib` MiB of zeros, in milliseconds: one MiB compressed with a full flush
// (byte-aligned, no back-references across it) repeated, then an empty final block.
Bytes DeflatedZeros(uint32_t mib, uint32_t* crc) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes zeros(1 << 20, '\0'), block(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(zeros.data());
  z.avail_in = static_cast<uInt>(zeros.size());
  z.next_out = reinterpret_cast<Bytef*>(block.data());
  z.avail_out = static_cast<uInt>(block.size());
  EXPECT_EQ(deflate(&z, Z_FULL_FLUSH), Z_OK);
  block.resize(block.size() - z.avail_out);
  deflateEnd(&z);
  uLong one = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(zeros.size()));
  uLong all = crc32(0, nullptr, 0);
  Bytes out;
  for (uint32_t i = 0; i < mib; ++i) {
    out += block;
    all = crc32_combine(all, one, 1 << 20);
  }
  out += std::string("\x03\x00", 2);
  *crc = static_cast<uint32_t>(all);
  return out;
}

void PutLe(Bytes& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

// A zip holding one deflated member of `mib` MiB of zeros (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16).
Bytes ZerosZip(uint32_t mib) {
  uint32_t crc = 0;
  Bytes deflated = DeflatedZeros(mib, &crc);
  const std::string name = "zeros.bin";
  uint64_t size = uint64_t{mib} << 20;
  Bytes z;
  PutLe(z, 0x04034b50, 4);
  for (uint64_t v : {20, 0, 8, 0, 0x21}) PutLe(z, v, 2);
  PutLe(z, crc, 4);
  PutLe(z, deflated.size(), 4);
  PutLe(z, size, 4);
  PutLe(z, name.size(), 2);
  PutLe(z, 0, 2);
  z += name + deflated;
  size_t cd = z.size();
  PutLe(z, 0x02014b50, 4);
  for (uint64_t v : {20, 20, 0, 8, 0, 0x21}) PutLe(z, v, 2);
  PutLe(z, crc, 4);
  PutLe(z, deflated.size(), 4);
  PutLe(z, size, 4);
  for (uint64_t v : {name.size(), size_t{0}, size_t{0}, size_t{0}, size_t{0}}) PutLe(z, v, 2);
  PutLe(z, 0, 4);
  PutLe(z, 0, 4);
  z += name;
  size_t cd_size = z.size() - cd;
  PutLe(z, 0x06054b50, 4);
  for (uint64_t v : {0, 0, 1, 1}) PutLe(z, v, 2);
  PutLe(z, cd_size, 4);
  PutLe(z, cd, 4);
  PutLe(z, 0, 2);
  return z;
}

TEST(ContainerTest, GigabyteOfZerosEndsQuicklyAtALimit) {
  Bytes bomb = ZerosZip(1024);
  ASSERT_LT(bomb.size(), 2u << 20);
  // The bomb is well formed: a small one of the same making extracts exactly.
  Walked small = Walk(ZerosZip(2), "small.zip");
  EXPECT_THAT(small.events, IsEmpty());
  EXPECT_EQ(small.data["small.zip!zeros.bin"], Bytes(2 << 20, '\0'));

  auto start = std::chrono::steady_clock::now();
  uint64_t largest = 0;
  std::vector<Event> events;
  Walker().Walk(
      bomb, "bomb.zip", [&](const Item& item) { largest = std::max<uint64_t>(largest, item.data.size()); },
      [&](const Event& e) { events.push_back(e); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, kMaxFileSize);  // 100 MiB comes before 250 times 1 MiB
  EXPECT_EQ(largest, ContainerLimits{}.max_file_size);

  ContainerLimits no_file_cap;
  no_file_cap.max_file_size = uint64_t{1} << 40;
  Walked ratio = Walk(bomb, "bomb.zip", no_file_cap);
  ASSERT_EQ(ratio.events.size(), 1u);
  EXPECT_EQ(ratio.events[0].name, kMaxCompressionRatio);
  EXPECT_EQ(ratio.data["bomb.zip!zeros.bin"].size(), bomb.size() * 250);
}

TEST(ContainerTest, LayeredBombLike42ZipEndsAtMaxScanSize) {
  // 16 copies of 16 copies of ... of 16 MiB of zeros: 16^4 * 16 MiB = 1 TiB if fully extracted.
  Bytes level = ZerosZip(16);
  for (int depth = 0; depth < 4; ++depth) {
    std::vector<Member> copies;
    for (int i = 0; i < 16; ++i) copies.push_back({"lib" + std::to_string(i) + ".zip", level});
    level = Zip(copies);
  }
  ASSERT_LT(level.size(), 4u << 20);
  auto start = std::chrono::steady_clock::now();
  Walked w;
  uint64_t items = 0;
  std::vector<Event> events;
  WalkStats stats = Walker().Walk(
      level, "42.zip", [&](const Item&) { ++items; }, [&](const Event& e) { events.push_back(e); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, kMaxScanSize);
  EXPECT_EQ(stats.bytes_extracted, ContainerLimits{}.max_scan_size);
}

// ---- Encrypted and damaged input.

TEST(ContainerTest, EncryptedZipMemberIsReported) {
  Bytes zip = WriteArchive("zip", {{"secret.exe", kExe}}, "", "zip:encryption=zipcrypt", "infected");
  Bytes mixed = Zip({{"plain.txt", "plain"}, {"locked.zip", zip}});
  Walked w = Walk(mixed, "m.zip");
  EXPECT_EQ(w.data["m.zip!plain.txt"], "plain");
  EXPECT_EQ(w.data.count("m.zip!locked.zip!secret.exe"), 0u);
  ASSERT_EQ(w.events.size(), 1u) << ::testing::PrintToString(w.EventNames());
  EXPECT_EQ(w.events[0].kind, EventKind::kEncrypted);
  EXPECT_EQ(w.events[0].name, "Heuristics.Encrypted.Zip");
  EXPECT_EQ(w.events[0].path, "m.zip!locked.zip!secret.exe");
  // AES too.
  Walked aes = Walk(WriteArchive("zip", {{"s", "x"}}, "", "zip:encryption=aes256", "pw"), "a.zip");
  EXPECT_TRUE(aes.HasEvent("Heuristics.Encrypted.Zip", "a.zip!s"));
}

TEST(ContainerTest, TruncatedZipKeepsWhatCameBefore) {
  Bytes zip = Zip({{"first", Bytes(5000, 'f')}, {"second", Bytes(5000, 's')}}, "zip:compression=store");
  Bytes cut = zip.substr(0, zip.find("second") + 1000);
  Walked w = Walk(cut, "cut.zip");
  EXPECT_EQ(w.data["cut.zip!first"], Bytes(5000, 'f'));
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.Zip")) << ::testing::PrintToString(w.EventNames());
  EXPECT_EQ(w.events[0].kind, EventKind::kCorrupt);
}

// For every prefix of each archive: no crash, and never silence — either every member comes out
// whole or an event says why not.
TEST(ContainerTest, EveryTruncationIsReportedNeverSilent) {
  std::vector<Member> members = {{"one.exe", kExe}, {"two.txt", Bytes(3000, 't')}, {"three", "3"}};
  struct Case {
    std::string name;
    Bytes data;
  };
  std::vector<Case> cases = {
      {"a.zip", Zip(members)},
      {"a.tar.gz", WriteArchive("ustar", members, "gzip")},
      {"a.7z", WriteArchive("7zip", members)},
      {"a.cpio", WriteArchive("newc", members)},
      {"a.eml", Mail("one.exe", kExe)},
  };
  for (const Case& c : cases) {
    for (size_t n = 0; n < c.data.size(); n += std::max<size_t>(1, c.data.size() / 400)) {
      Walked w = Walk(ByteView(c.data).substr(0, n), c.name);
      bool all = true;
      for (const Member& m : members) {
        if (c.name == "a.eml" && m.name != "one.exe") continue;
        all &= w.data.count(c.name + "!" + m.name) && w.data[c.name + "!" + m.name] == m.data;
      }
      bool container = !DetectContainer(ByteView(c.data).substr(0, n)).empty();
      // A mail cut inside its header block is a shorter, valid mail with no attachment.
      if (c.name == "a.eml" && n < c.data.find("\r\n\r\n") + 4) container = false;
      if (container && !all) {
        EXPECT_THAT(w.events, Not(IsEmpty())) << c.name << " cut at " << n;
      }
    }
  }
}

TEST(ContainerTest, DamagedDataIsBrokenNotSilent) {
  Bytes text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i * 7919 % 1000) + "\n";
  Bytes zip = Zip({{"a.txt", text}, {"b.txt", "b"}});
  Bytes damaged = zip;
  for (size_t i = 60; i < 160; ++i) damaged[i] = static_cast<char>(i * 37);
  Walked w = Walk(damaged, "bad.zip");
  ASSERT_FALSE(w.events.empty());
  EXPECT_EQ(w.events[0].kind, EventKind::kCorrupt);
  EXPECT_EQ(w.events[0].name, "Heuristics.Broken.Zip");
  EXPECT_EQ(w.events[0].path, "bad.zip!a.txt");

  Walked gz = Walk(Bytes("\x1f\x8b\x08\x00", 4) + Bytes(100, '\xff'), "bad.gz");
  ASSERT_EQ(gz.events.size(), 1u) << ::testing::PrintToString(gz.paths);
  EXPECT_EQ(gz.events[0].name, "Heuristics.Broken.GZip");
  EXPECT_EQ(gz.events[0].kind, EventKind::kCorrupt);
}

TEST(ContainerTest, WalkerIsReentrantAcrossThreads) {
  Bytes input = Mail("z.zip", Zip({{"a/x.exe", kExe}, {"b", WriteArchive("ustar", {{"c", "c"}}, "gzip")}}));
  Walker walker;
  auto run = [&] {
    std::vector<std::string> paths;
    walker.Walk(input, "m", [&](const Item& i) { paths.emplace_back(i.path); }, {});
    return paths;
  };
  std::vector<std::string> expected = run();
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) got[t] = run();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
  EXPECT_EQ(expected.size(), 6u) << ::testing::PrintToString(expected);
}

// ---- ClamAV's test files (package clamav-testfiles): clam.exe inside containers and encodings.

const char kClamDir[] = "/usr/share/clamav-testfiles";

Bytes ReadFileOrEmpty(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(ContainerTest, ClamavTestFilesYieldClamExe) {
  if (!std::filesystem::exists(std::string(kClamDir) + "/clam.exe")) {
    GTEST_SKIP() << kClamDir << " absent (apt-get install clamav-testfiles)";
  }
  const Bytes clam = ReadFileOrEmpty(std::string(kClamDir) + "/clam.exe");
  ASSERT_EQ(clam.size(), 544u);
  // Where clam.exe's exact bytes come out, file by file: all 44 (docs/containers.md has the
  // full table).
  const std::map<std::string, std::string> reached = {
      {"clam.exe", "clam.exe"},
      {"clam.7z", "clam.7z!clam.exe"},
      {"clam-nsis.exe", "clam-nsis.exe!file1"},
      {"clam-upx.exe", "clam-upx.exe!UPX@15840"},
      {"clam-yc.exe", "clam-yc.exe!yC!UPX@15840"},
      {"clam-fsg.exe", "clam-fsg.exe!PE@6112"},
      {"clam-wwpack.exe", "clam-wwpack.exe!WWPack32!clam.exe"},
      {"clam-petite.exe", "clam-petite.exe!Petite!clam.exe"},
      {"clam-mew.exe", "clam-mew.exe!MEW!clam.exe"},
      {"clam-aspack.exe", "clam-aspack.exe!ASPack!PE@19936"},
      {"clam-upack.exe", "clam-upack.exe!Upack!clam.exe"},
      {"clam-pespin.exe", "clam-pespin.exe!PESpin!PE@19936"},
      {"clam.arj", "clam.arj!clam.exe"},
      {"clam.bin-be.cpio", "clam.bin-be.cpio!clam.exe"},
      {"clam.bin-le.cpio", "clam.bin-le.cpio!clam.exe"},
      {"clam.bz2.zip", "clam.bz2.zip!clam.exe"},
      {"clam.cab", "clam.cab!clam.exe"},
      {"clam.chm", "clam.chm!clam.exe.txt"},
      {"clam.d64.zip", "clam.d64.zip!clam.exe"},
      {"clam.impl.zip", "clam.impl.zip!CLAM.EXE"},
      {"clam.ea05.exe", "clam.ea05.exe!clam.exe"},
      {"clam.ea06.exe", "clam.ea06.exe!clam.exe"},
      {"clam.exe.binhex", "clam.exe.binhex!clam.exe"},
      {"clam.exe.bz2", "clam.exe.bz2!clam.exe"},
      {"clam.exe.html", "clam.exe.html!data-uri1"},
      {"clam.exe.mbox.base64", "clam.exe.mbox.base64!clam.exe"},
      {"clam.exe.mbox.uu", "clam.exe.mbox.uu!clam.exe"},
      {"clam.exe.rtf", "clam.exe.rtf!object1!clam.exe"},
      {"clam.exe.szdd", "clam.exe.szdd!clam.exe"},
      {"clam.mail", "clam.mail!clam.exe"},
      {"clam.newc.cpio", "clam.newc.cpio!clam.exe"},
      {"clam.odc.cpio", "clam.odc.cpio!clam.exe"},
      {"clam.ole.doc", "clam.ole.doc!ObjectPool/_1279313719/_Ole10Native!clam.exe"},
      {"clam.pdf", "clam.pdf!obj15"},
      {"clam.ppt", "clam.ppt!PowerPoint Document!ExOleObjStg1!_Ole10Native!clam.exe"},
      {"clam.sis", "clam.sis!clam.exe"},
      {"clam.tar.gz", "clam.tar.gz!clam.exe"},
      {"clam.tnef", "clam.tnef!clam.exe"},
      {"clam.zip", "clam.zip!clam.exe"},
      {"clam_IScab_ext.exe", "clam_IScab_ext.exe!Disk1\\clam.exe"},
      {"clam_IScab_int.exe", "clam_IScab_int.exe!clam.exe"},
      {"clam_ISmsi_ext.exe", "clam_ISmsi_ext.exe!clam.exe409.bmp"},
      // The MSI's cabinet stream, its name in MSI's packed stream-name alphabet.
      {"clam_ISmsi_int.exe", "clam_ISmsi_int.exe!clam.msi!\u410d\u4137\u4781\u4126\u4825!clam.exe"},
      {"clam_cache_emax.tgz",
       "clam_cache_emax.tgz!clam02.tgz!clam03.tgz!clam04.tgz!clam05.tgz!clam06.tgz!clam07.tgz!clam08.tgz!"
       "clam.exe"},
  };
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kClamDir)) {
    std::string name = entry.path().filename().string();
    Bytes data = ReadFileOrEmpty(entry.path().string());
    ++files;
    Walked w = Walk(data, name);
    std::vector<std::string> found;
    for (const auto& [path, bytes] : w.data) {
      if (bytes == clam) found.push_back(path);
    }
    if (reached.count(name)) {
      EXPECT_THAT(found, Contains(reached.at(name))) << name;
    } else {
      EXPECT_THAT(found, IsEmpty()) << name << ": reached now; add it to the table and docs/containers.md";
    }
  }
  EXPECT_EQ(files, 44u);
}

}  // namespace
}  // namespace accord::scan
