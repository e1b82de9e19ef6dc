#include "node/tokens.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/bytes.h"
#include "core/descriptors_test_util.h"
#include "core/fs.h"
#include "node/test_util.h"

namespace accord::node {
namespace {

using testing::Key;

std::string TempPath(const std::string& name) {
  std::string dir = ::testing::TempDir() + "tokens_test_" + std::to_string(::getpid());
  EXPECT_TRUE(fs::MakeDirs(dir).ok());
  std::string p = fs::JoinPath(dir, name);
  EXPECT_TRUE(fs::RemoveFile(p).ok());
  return p;
}

std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + Base64Encode(user + ":" + password);
}

TEST(Tokens, AuthorizationHeaders) {
  EXPECT_EQ(TokenFromAuthorization("Bearer accord_abc"), "accord_abc");
  EXPECT_EQ(TokenFromAuthorization("  bearer   accord_abc "), "accord_abc");
  EXPECT_EQ(TokenFromAuthorization(Basic("cert-de", "accord_abc")), "accord_abc");
  EXPECT_EQ(TokenFromAuthorization(Basic("", "accord_a:b")), "accord_a:b");  // the password may hold ':'
  EXPECT_FALSE(TokenFromAuthorization(""));
  EXPECT_FALSE(TokenFromAuthorization("Bearer"));
  EXPECT_FALSE(TokenFromAuthorization("Bearer "));
  EXPECT_FALSE(TokenFromAuthorization("Digest x"));
  EXPECT_FALSE(TokenFromAuthorization("Basic !!!"));
  EXPECT_FALSE(TokenFromAuthorization("Basic " + Base64Encode("nocolon")));
  EXPECT_FALSE(TokenFromAuthorization("Bearer " + std::string(300, 'a')));
}

// A token file that could not be read (the node out of descriptors for a moment) disables no
// token for good: the next request reads it again, though it did not change.
TEST(Tokens, AFileThatCouldNotBeReadIsReadAgainAtTheNextRequest) {
  const std::string path = TempPath("taxii-tokens-retry");
  auto alice = Key(1).public_key;
  Result<std::string> a = AddToken(path, alice, "cert-de");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  TokenFile file(path);
  {
    accord::testing::DescriptorsExhausted none;
    ASSERT_TRUE(none.exhausted());
    EXPECT_FALSE(file.Authenticate("Bearer " + *a));
  }
  EXPECT_EQ(file.Authenticate("Bearer " + *a), alice);
}

TEST(Tokens, IssueAuthenticateRevoke) {
  const std::string path = TempPath("taxii-tokens");
  auto alice = Key(1).public_key, bob = Key(2).public_key;
  TokenFile file(path);
  EXPECT_FALSE(file.Authenticate("Bearer accord_x"));  // no file: no token

  Result<std::string> a = AddToken(path, alice, "cert-de");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->rfind("accord_", 0), 0u);
  EXPECT_EQ(a->size(), 7u + 43u);
  EXPECT_TRUE(IsIssuedTokenShape(*a));
  EXPECT_FALSE(IsIssuedTokenShape(a->substr(1)));
  EXPECT_FALSE(IsIssuedTokenShape(a->substr(0, a->size() - 1) + "!"));
  Result<std::string> b = AddToken(path, bob, "vendor-x");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);

  // The file holds hashes, not tokens, and only its owner may read it.
  Result<Bytes> text = fs::ReadFile(path, kMaxTokenFileSize);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find(*a), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(file.Authenticate("Bearer " + *a), alice);  // read anew: no restart needed
  EXPECT_EQ(file.Authenticate(Basic("anyone", *b)), bob);
  // Another last character (not "A" blindly: a random token ends in "A" one time in 64).
  EXPECT_FALSE(file.Authenticate("Bearer " + a->substr(0, a->size() - 1) + (a->back() == 'A' ? "B" : "A")));

  Result<size_t> n = RevokeTokens(path, alice);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(file.Authenticate("Bearer " + *a));
  EXPECT_EQ(file.Authenticate("Bearer " + *b), bob);
  EXPECT_EQ(*RevokeTokens(path, alice), 0u);

  EXPECT_EQ(AddToken(path, alice, "has space").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(AddToken(path, alice, "").status().code(), Code::kInvalidArgument);

  // A damaged file is no token at all (fail closed), and issuing refuses to build on it.
  ASSERT_TRUE(fs::WriteFileAtomic(path, *text + "garbage\n", 0600).ok());
  EXPECT_FALSE(file.Authenticate("Bearer " + *b));
  EXPECT_EQ(AddToken(path, alice, "x").status().code(), Code::kInvalidArgument);
}

TEST(Tokens, FileGrammar) {
  const std::string key = testing::KeyB64(Key(1).public_key);
  const std::string h(64, 'a');
  EXPECT_TRUE(ParseTokenFile("").ok());
  EXPECT_EQ(ParseTokenFile("# c\n\n" + h + " " + key + " lbl\n")->size(), 1u);
  for (std::string bad : {h + " " + key + " lbl",                     // no final newline
                          h + " " + key + "\n",                       // two fields
                          h.substr(1) + " " + key + " l\n",           // short hash
                          std::string(64, 'A') + " " + key + " l\n",  // upper-case hex
                          h + " AAAA " + "l\n",                       // not a key
                          h + " " + key + " two words\n",             // label with a space
                          h + " " + key + " " + std::string(65, 'l') + "\n"}) {
    Result<std::vector<TokenEntry>> r = ParseTokenFile(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("line "), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace accord::node
