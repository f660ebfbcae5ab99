#include "json_reader.h"

#include <cstdlib>
#include <cstring>
#include <locale>
#include <sstream>

namespace moebius {

const JsonValue* JsonValue::find(const std::string& key) const {
  if (kind_ != Kind::Object) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

// Recursive descent over the input; depth is bounded so a hostile file cannot exhaust the stack.
class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  bool parse(JsonValue& out, std::string& error) {
    skip_space();
    if (!value(out, 0)) {
      error = error_ + " at byte " + std::to_string(pos_);
      return false;
    }
    skip_space();
    if (pos_ != text_.size()) {
      error = "trailing characters at byte " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool fail(const char* message) {
    error_ = message;
    return false;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return fail("invalid literal");
    pos_ += n;
    return true;
  }

  bool value(JsonValue& out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    if (pos_ >= text_.size()) return fail("unexpected end of input");
    char c = text_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.kind_ = JsonValue::Kind::String;
      return string(out.string_);
    }
    if (c == 't') {
      out.kind_ = JsonValue::Kind::Bool;
      out.boolean_ = true;
      return literal("true");
    }
    if (c == 'f') {
      out.kind_ = JsonValue::Kind::Bool;
      out.boolean_ = false;
      return literal("false");
    }
    if (c == 'n') {
      out.kind_ = JsonValue::Kind::Null;
      return literal("null");
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    // Python's json writes NaN/Infinity for non-finite floats; accept them so such a manifest still opens.
    if (c == 'N') {
      out.kind_ = JsonValue::Kind::Number;
      out.number_ = std::strtod("nan", nullptr);
      return literal("NaN");
    }
    if (c == 'I') {
      out.kind_ = JsonValue::Kind::Number;
      out.number_ = std::strtod("inf", nullptr);
      return literal("Infinity");
    }
    return fail("unexpected character");
  }

  bool number(JsonValue& out) {
    size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == 'I') {
      if (!literal("Infinity")) return false;
      out.kind_ = JsonValue::Kind::Number;
      out.number_ = -std::strtod("inf", nullptr);
      return true;
    }
    auto digits = [&] {
      size_t before = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > before;
    };
    if (!digits()) return fail("invalid number");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return fail("invalid number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) return fail("invalid number");
    }
    // JSON numbers always use '.': parse with the classic locale, whatever the app set globally.
    std::istringstream stream(text_.substr(start, pos_ - start));
    stream.imbue(std::locale::classic());
    out.kind_ = JsonValue::Kind::Number;
    stream >> out.number_;
    return true;
  }

  bool hex4(unsigned& code) {
    if (pos_ + 4 > text_.size()) return fail("truncated \\u escape");
    code = 0;
    for (int k = 0; k < 4; ++k) {
      char h = text_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= h - '0';
      else if (h >= 'a' && h <= 'f') code |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') code |= h - 'A' + 10;
      else return fail("invalid \\u escape");
    }
    return true;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool string(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code;
          if (!hex4(code)) return false;
          if (code >= 0xD800 && code < 0xDC00) {  // a surrogate pair encodes one code point above U+FFFF
            unsigned low;
            if (text_.compare(pos_, 2, "\\u") != 0) return fail("unpaired surrogate");
            pos_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return fail("unpaired surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default: return fail("invalid escape");
      }
    }
  }

  bool array(JsonValue& out, int depth) {
    ++pos_;
    out.kind_ = JsonValue::Kind::Array;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      out.array_.emplace_back();
      if (!value(out.array_.back(), depth + 1)) return false;
      skip_space();
      if (pos_ >= text_.size()) return fail("unterminated array");
      char c = text_[pos_++];
      if (c == ']') return true;
      if (c != ',') return fail("expected ',' or ']'");
    }
  }

  bool object(JsonValue& out, int depth) {
    ++pos_;
    out.kind_ = JsonValue::Kind::Object;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a key string");
      std::string key;
      if (!string(key)) return false;
      skip_space();
      if (pos_ >= text_.size() || text_[pos_++] != ':') return fail("expected ':'");
      skip_space();
      JsonValue member;
      if (!value(member, depth + 1)) return false;
      out.object_[key] = std::move(member);
      skip_space();
      if (pos_ >= text_.size()) return fail("unterminated object");
      char c = text_[pos_++];
      if (c == '}') return true;
      if (c != ',') return fail("expected ',' or '}'");
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
  std::string error_;
};

bool parse_json(const std::string& text, JsonValue& out, std::string& error) {
  out = JsonValue();
  return JsonParser(text).parse(out, error);
}

}  // namespace moebius
