#include "scan/pdf.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

Bytes Deflate(ByteView in) {
  uLongf n = compressBound(static_cast<uLong>(in.size()));
  Bytes out(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
                     static_cast<uLong>(in.size())),
            Z_OK);
  out.resize(n);
  return out;
}

Bytes Obj(int num, std::string_view dict, ByteView data, bool with_length = true) {
  std::string d(dict);
  if (with_length) d += " /Length " + std::to_string(data.size());
  return std::to_string(num) + " 0 obj\r\n<<" + d + ">>\r\nstream\r\n" + Bytes(data) +
         "\r\nendstream\r\nendobj\r\n";
}

const Bytes kExe = "MZ\x90 an executable attached to a PDF, endstream inside it does not end it";

TEST(PdfTest, StreamsAreMembersNamedByObjectAndDecoded) {
  Bytes pdf = "%PDF-1.4\n" + Obj(3, "/Type /EmbeddedFile", kExe) +
              Obj(4, "/Filter /FlateDecode", Deflate(kExe)) +
              Obj(5, "/Filter [/AHx /FlateDecode]", HexEncode(Deflate(kExe)) + ">") + "%%EOF\n";
  ASSERT_TRUE(LooksLikePdf(pdf));
  WalkResult w = WalkAll(pdf, "x.pdf");
  EXPECT_EQ(w.Data("x.pdf!obj3"), kExe);
  EXPECT_EQ(w.Data("x.pdf!obj4"), kExe);
  EXPECT_EQ(w.Data("x.pdf!obj5"), kExe);
  EXPECT_TRUE(w.events.empty());
}

// Regression (a Debian manual, pdfTeX): /Length is indirect ("124 0 R"), so the end is found by
// searching, and the deflate stream's last byte is a CR right before the LF and "endstream". That
// CR is data, not part of the end-of-line marker: cutting it reported a truncated stream.
TEST(PdfTest, IndirectLengthAndDeflateEndingInCarriageReturn) {
  Bytes payload, z;
  for (int i = 0; i < 100000 && (z.empty() || z.back() != '\r'); ++i) {
    payload = kExe + " " + std::to_string(i);
    z = Deflate(payload);
  }
  ASSERT_EQ(z.back(), '\r');
  Bytes pdf = "%PDF-1.5\n7 0 obj\n<< /Length 8 0 R /Filter /FlateDecode >>\nstream\n" + z +
              "\nendstream\nendobj\n8 0 obj\n" + std::to_string(z.size()) + "\nendobj\n%%EOF\n";
  WalkResult w = WalkAll(pdf, "x.pdf");
  EXPECT_EQ(w.Data("x.pdf!obj7"), payload);
  EXPECT_TRUE(w.events.empty());
}

TEST(PdfTest, ClamavPdfYieldsClamExe) {
  Bytes exe = ReadTestFile("clam.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(ReadTestFile("clam.pdf"), "clam.pdf");
  EXPECT_EQ(w.Data("clam.pdf!obj15"), exe);
  EXPECT_TRUE(w.events.empty());
}

TEST(PdfTest, Ascii85AndAsciiHexFollowTheStandard) {
  // ISO 32000-1 7.4.3; "Man " is the classic example.
  EXPECT_EQ(PdfAscii85Decode("9jqo^~>", 100), "Man ");
  EXPECT_EQ(PdfAscii85Decode("9jqo^BlbD-BleB1DJ+*+F(f,q~>", 100), "Man is distinguished");
  EXPECT_EQ(PdfAscii85Decode("z~>", 100), Bytes(4, '\0'));
  EXPECT_EQ(PdfAscii85Decode("9jqo^BlbD-~>", 6), "Man is");
  EXPECT_EQ(PdfAsciiHexDecode("4d 5A\n9>", 100), "MZ\x90");  // a lone last digit is followed by 0
  EXPECT_EQ(PdfAsciiHexDecode("414243", 2), "AB");
}

TEST(PdfTest, LyingLengthFallsBackToEndstreamAndIsBroken) {
  Bytes obj = "7 0 obj <</Length 9999>> stream\n" + kExe + "\nendstream endobj";
  WalkResult w = WalkAll("%PDF-1.7\n" + obj, "x.pdf");
  EXPECT_EQ(w.Data("x.pdf!obj7"), kExe.substr(0, kExe.find("endstream")));
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.PDF"));
  // An indirect length is searched for, not an error.
  Bytes indirect = "%PDF-1.7\n8 0 obj <</Length 9 0 R>> stream\r\nabc\r\nendstream endobj";
  WalkResult w2 = WalkAll(indirect, "y.pdf");
  EXPECT_EQ(w2.Data("y.pdf!obj8"), "abc");
  EXPECT_TRUE(w2.events.empty());
}

TEST(PdfTest, MissingEndstreamAndDamagedDeflateAreBrokenNotFatal) {
  Bytes noend = "%PDF-1.7\n1 0 obj <<>> stream\nall the rest";
  WalkResult w = WalkAll(noend, "x.pdf");
  EXPECT_EQ(w.Data("x.pdf!obj1"), "all the rest");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.PDF"));

  Bytes z = Deflate(Bytes(5000, 'a') + kExe);
  Bytes cut = "%PDF-1.7\n" + Obj(2, "/Filter /FlateDecode", z.substr(0, z.size() / 2)) + Obj(3, "", "after");
  WalkResult w2 = WalkAll(cut, "c.pdf");
  EXPECT_TRUE(w2.HasEvent("Heuristics.Broken.PDF"));
  EXPECT_GT(w2.Data("c.pdf!obj2").size(), 1000u);  // what inflated is kept
  EXPECT_EQ(w2.Data("c.pdf!obj3"), "after");
}

TEST(PdfTest, EncryptedAndUnknownFiltersAreReported) {
  Bytes enc = "%PDF-1.7\n" + Obj(1, "", "x") + "trailer <</Encrypt 5 0 R>>";
  EXPECT_TRUE(WalkAll(enc, "e.pdf").HasEvent("Heuristics.Encrypted.PDF"));
  Bytes lzw = "%PDF-1.7\n" + Obj(1, "/Filter /LZWDecode", "raw") + Obj(2, "/Filter /DCTDecode", "jpeg");
  WalkResult w = WalkAll(lzw, "l.pdf");
  EXPECT_TRUE(w.HasEvent("Heuristics.Unsupported.PDF"));
  EXPECT_EQ(w.Data("l.pdf!obj1"), "raw");
  EXPECT_EQ(w.Data("l.pdf!obj2"), "jpeg");
}

TEST(PdfTest, DeflateBombIsCappedAtTheMemberCap) {
  Bytes pdf = "%PDF-1.7\n" + Obj(1, "/Filter /FlateDecode", Deflate(Bytes(64 << 20, '\0')));
  ContainerLimits limits;
  limits.max_file_size = 1 << 20;
  WalkResult w = WalkAll(pdf, "b.pdf", limits);
  EXPECT_EQ(w.Data("b.pdf!obj1").size(), size_t{1} << 20);
  EXPECT_TRUE(w.HasEvent(kMaxFileSize));
}

TEST(PdfTest, ManyStreamsAndEveryCutEndQuickly) {
  Bytes pdf = "%PDF-1.7\n";
  for (int i = 0; i < 20000; ++i) pdf += "stream\nx\nendstream ";
  auto start = std::chrono::steady_clock::now();
  WalkResult w = WalkAll(pdf, "m.pdf");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(w.HasEvent(kMaxFiles));
  Bytes small = "%PDF-1.4\n" + Obj(3, "/Filter /FlateDecode", Deflate(kExe)) + Obj(4, "", kExe);
  for (size_t cut = 0; cut < small.size(); ++cut) (void)WalkAll(small.substr(0, cut), "t.pdf");
}

// A viewer skips junk lines before the header. Lines that look like a mail's headers (which say
// the body is base64: decoded, the PDF is garbage), the start of uuencode, a BinHex marker or a
// data: URI made the file a text to decode, and its PDF was never opened: both are now.
TEST(PdfTest, APdfBehindLinesATextDecoderReadsIsOpenedToo) {
  const Bytes body = "%PDF-1.4\n" + Obj(3, "/Filter /FlateDecode", Deflate(kExe)) + "%%EOF\n";
  for (const Bytes& junk :
       {Bytes("MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n"), Bytes("begin 644 notes.txt\n"),
        Bytes("(This file must be converted with BinHex 4.0)\n:\n"),
        Bytes("<img src=\"data:text/plain;base64,aGk=\">\n")}) {
    WalkResult w = WalkAll(junk + body, "x.pdf");
    EXPECT_EQ(w.Data("x.pdf!obj3"), kExe) << junk;
  }
  // The kind turned off (clamscan's --scan-pdf=no) still keeps it shut.
  ContainerLimits no_pdf;
  no_pdf.kinds.pdf = false;
  EXPECT_EQ(WalkAll("begin 644 notes.txt\n" + body, "x.pdf", no_pdf).items.count("x.pdf!obj3"), 0u);
}

TEST(PdfTest, NotAPdfUnlessTheHeaderIsNearTheStart) {
  EXPECT_TRUE(LooksLikePdf(Bytes(1000, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf(Bytes(2000, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf("plain text"));
}

}  // namespace
}  // namespace accord::scan
