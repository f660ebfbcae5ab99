// A small JSON reader for manifest.json and vectors.json: the full grammar, no writer, no streaming.
// Enough for the few fields the runtime reads; kept in-tree so the library has no extra dependency.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moebius {

class JsonValue {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_bool() const { return kind_ == Kind::Bool; }

  double number() const { return number_; }
  bool boolean() const { return boolean_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::map<std::string, JsonValue>& object() const { return object_; }

  // The member `key` of an object, or nullptr when this is not an object or has no such key.
  const JsonValue* find(const std::string& key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::Null;
  double number_ = 0.0;
  bool boolean_ = false;
  std::string string_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue> object_;
};

// Parses `text`; on failure returns false and sets `error` to a message with the byte offset.
bool parse_json(const std::string& text, JsonValue& out, std::string& error);

}  // namespace moebius
