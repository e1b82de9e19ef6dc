#include "core/canonical_json.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/limits.h"

namespace accord::json {
namespace {

class Parser {
 public:
  explicit Parser(ByteView text) : s_(text) {}

  Result<Json> Run() {
    Json v;
    RETURN_IF_ERROR(Value(v, 0));
    SkipSpace();
    if (pos_ != s_.size()) return Error("trailing bytes after the JSON value");
    return v;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("offset " + std::to_string(pos_) + ": " + what);
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  Status Value(Json& out, int depth) {
    SkipSpace();
    if (pos_ >= s_.size()) return Error("unexpected end of input");
    char c = s_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= limits::kMaxJsonDepth)
        return ResourceExhausted("offset " + std::to_string(pos_) + ": nesting deeper than " +
                                 std::to_string(limits::kMaxJsonDepth));
      return c == '{' ? Object(out, depth + 1) : Array(out, depth + 1);
    }
    if (c == '"') {
      std::string str;
      RETURN_IF_ERROR(String(str));
      out = std::move(str);
      return Status::Ok();
    }
    if (Literal("true")) return out = true, Status::Ok();
    if (Literal("false")) return out = false, Status::Ok();
    if (Literal("null")) return out = nullptr, Status::Ok();
    if (c == '-' || (c >= '0' && c <= '9')) return Number(out);
    return Error("unexpected character " + Printable(s_.substr(pos_, 1)));
  }

  Status Object(Json& out, int depth) {
    ++pos_;  // '{'
    out = Json::object();
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, Status::Ok();
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Error("expected a member name");
      size_t at = pos_;
      std::string name;
      RETURN_IF_ERROR(String(name));
      auto [member, added] = out.get_ref<Json::object_t&>().try_emplace(std::move(name));
      if (!added)
        return InvalidArgument("offset " + std::to_string(at) + ": duplicate member name \"" +
                               Printable(member->first) + "\" (RFC 7493 I-JSON)");
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Error("expected ':'");
      ++pos_;
      RETURN_IF_ERROR(Value(member->second, depth));
      SkipSpace();
      if (pos_ >= s_.size()) return Error("unexpected end of input in an object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') return ++pos_, Status::Ok();
      return Error("expected ',' or '}'");
    }
  }

  Status Array(Json& out, int depth) {
    ++pos_;  // '['
    out = Json::array();
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, Status::Ok();
    auto& items = out.get_ref<Json::array_t&>();
    while (true) {
      RETURN_IF_ERROR(Value(items.emplace_back(), depth));
      SkipSpace();
      if (pos_ >= s_.size()) return Error("unexpected end of input in an array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') return ++pos_, Status::Ok();
      return Error("expected ',' or ']'");
    }
  }

  Status Number(Json& out) {
    size_t start = pos_;
    bool neg = s_[pos_] == '-';
    if (neg) ++pos_;
    size_t digits = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    size_t n = pos_ - digits;
    if (n == 0) return Error("malformed number");
    if (n > 1 && s_[digits] == '0') return Error("malformed number: leading zero");
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
      return Error(
          "only integers are accepted (no fraction or exponent): accord's JSON has no other numbers");
    if (n > 16) return Error("integer outside +-(2^53-1)");
    int64_t v = 0;
    for (size_t i = digits; i < pos_; ++i) v = v * 10 + (s_[i] - '0');
    if (v > kMaxSafeInteger) return Error("integer outside +-(2^53-1)");
    if (neg && v == 0) {
      pos_ = start;
      return Error("-0 is not accepted");
    }
    out = neg ? -v : v;
    return Status::Ok();
  }

  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(char(cp));
    } else if (cp < 0x800) {
      out.push_back(char(0xC0 | (cp >> 6)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xE0 | (cp >> 12)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(char(0xF0 | (cp >> 18)));
      out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    }
  }

  bool Hex4(uint32_t& v) {
    if (pos_ + 4 > s_.size()) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      int d = HexDigitValue(s_[pos_ + i]);
      if (d < 0) return false;
      v = v << 4 | uint32_t(d);
    }
    pos_ += 4;
    return true;
  }

  Status String(std::string& out) {
    ++pos_;  // '"'
    while (true) {
      if (pos_ >= s_.size()) return Error("unterminated string");
      unsigned char c = s_[pos_];
      if (c == '"') return ++pos_, Status::Ok();
      if (c < 0x20) return Error("control character in a string (must be escaped)");
      if (c != '\\') {  // a run of plain characters, copied whole
        size_t run = pos_ + 1;
        while (run < s_.size() && (unsigned char)s_[run] >= 0x20 && s_[run] != '"' && s_[run] != '\\') ++run;
        out.append(s_.data() + pos_, run - pos_);
        pos_ = run;
        continue;
      }
      if (++pos_ >= s_.size()) return Error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(cp)) return Error("malformed \\u escape");
          if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("lone low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (!(Literal("\\u") && Hex4(lo) && lo >= 0xDC00 && lo <= 0xDFFF))
              return Error("lone high surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Error("unknown escape \\" + Printable(std::string_view(&e, 1)));
      }
    }
  }

  ByteView s_;
  size_t pos_ = 0;
};

// UTF-16 code units of a valid UTF-8 string, for RFC 8785 section 3.2.3's member order.
std::u16string Utf16(std::string_view s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp;
    int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = cp << 6 | (uint8_t(s[i + k]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(char16_t(0xD800 + (cp >> 10)));
      out.push_back(char16_t(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(char16_t(cp));
    }
  }
  return out;
}

Status WriteString(std::string& out, const std::string& s) {
  if (!IsValidUtf8(s)) return InvalidArgument("string is not valid UTF-8: " + Printable(s));
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    // Runs that need no escape are copied whole.
    size_t run = i;
    while (run < s.size() && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\') ++run;
    if (run > i) {
      out.append(s, i, run - i);
      i = run - 1;
      continue;
    }
    unsigned char c = s[i];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.push_back('"');
  return Status::Ok();
}

Status Write(std::string& out, const Json& v, int depth) {
  if (depth > limits::kMaxJsonDepth)
    return ResourceExhausted("nesting deeper than " + std::to_string(limits::kMaxJsonDepth));
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return Status::Ok();
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return Status::Ok();
    case Json::value_t::number_integer: {
      int64_t n = v.get<int64_t>();
      if (n > kMaxSafeInteger || n < -kMaxSafeInteger) return InvalidArgument("integer outside +-(2^53-1)");
      out += std::to_string(n);
      return Status::Ok();
    }
    case Json::value_t::number_unsigned: {
      uint64_t n = v.get<uint64_t>();
      if (n > uint64_t(kMaxSafeInteger)) return InvalidArgument("integer outside +-(2^53-1)");
      out += std::to_string(n);
      return Status::Ok();
    }
    case Json::value_t::string:
      return WriteString(out, v.get_ref<const std::string&>());
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        RETURN_IF_ERROR(Write(out, e, depth + 1));
      }
      out.push_back(']');
      return Status::Ok();
    }
    case Json::value_t::object: {
      std::vector<std::pair<std::u16string, const std::string*>> keys;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!IsValidUtf8(it.key())) return InvalidArgument("member name is not valid UTF-8");
        keys.emplace_back(Utf16(it.key()), &it.key());
      }
      std::sort(keys.begin(), keys.end());
      out.push_back('{');
      bool first = true;
      for (const auto& [u16, key] : keys) {
        if (!first) out.push_back(',');
        first = false;
        RETURN_IF_ERROR(WriteString(out, *key));
        out.push_back(':');
        RETURN_IF_ERROR(Write(out, v.at(*key), depth + 1));
      }
      out.push_back('}');
      return Status::Ok();
    }
    default:
      return InvalidArgument("floating-point and binary values have no canonical form in accord's JSON");
  }
}

}  // namespace

Result<Json> Parse(ByteView text) {
  return Parse(text, limits::kMaxJsonSize);
}

Result<Json> Parse(ByteView text, size_t max_size) {
  if (text.size() > max_size)
    return ResourceExhausted("JSON of " + std::to_string(text.size()) + " bytes, over the limit of " +
                             std::to_string(max_size));
  if (!IsValidUtf8(text)) return InvalidArgument("JSON is not valid UTF-8");
  return Parser(text).Run();
}

Result<std::string> Serialize(const Json& value) {
  std::string out;
  RETURN_IF_ERROR(Write(out, value, 0));
  return out;
}

Result<Json> ParseCanonical(ByteView text) {
  ASSIGN_OR_RETURN(Json v, Parse(text));
  std::string canonical;
  canonical.reserve(text.size());
  RETURN_IF_ERROR(Write(canonical, v, 0));
  if (canonical != text)
    return InvalidArgument(
        "JSON is valid but not in RFC 8785 canonical form (canonical: " + Printable(canonical, 120) + ")");
  return v;
}

}  // namespace accord::json
