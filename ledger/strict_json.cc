#include "ledger/strict_json.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fedledger {

using nlohmann::json;

namespace {

// A SAX handler that builds the DOM the way nlohmann's own does (json_sax_dom_parser), except
// that a key already present in its object stops the parse.
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(json* root) : root_(root) {}

  bool null() { return Value(nullptr); }
  bool boolean(bool v) { return Value(v); }
  bool number_integer(json::number_integer_t v) { return Value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Value(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return Value(v); }
  bool string(json::string_t& v) { return Value(v); }
  bool binary(json::binary_t& v) { return Value(v); }

  bool start_object(std::size_t) {
    open_.push_back(Add(json::value_t::object));
    return true;
  }
  bool key(json::string_t& k) {
    auto [it, inserted] = open_.back()->get_ref<json::object_t&>().emplace(k, nullptr);
    if (!inserted) {
      duplicate_ = k;
      return false;
    }
    element_ = &it->second;
    return true;
  }
  bool end_object() {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    open_.push_back(Add(json::value_t::array));
    return true;
  }
  bool end_array() {
    open_.pop_back();
    return true;
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    error_ = e.what();
    return false;
  }

  const std::optional<std::string>& duplicate() const { return duplicate_; }
  const std::string& error() const { return error_; }

 private:
  // Places a value where the text is: the root, the next element of the innermost open
  // array, or the object member whose key came last. Pointers in `open_` stay valid: a
  // container only grows while none of its children is open.
  template <class V>
  json* Add(V&& v) {
    if (open_.empty()) {
      *root_ = json(std::forward<V>(v));
      return root_;
    }
    json* top = open_.back();
    if (top->is_array()) {
      auto& a = top->get_ref<json::array_t&>();
      a.emplace_back(std::forward<V>(v));
      return &a.back();
    }
    *element_ = json(std::forward<V>(v));
    return element_;
  }
  template <class V>
  bool Value(V&& v) {
    Add(std::forward<V>(v));
    return true;
  }

  json* root_;
  std::vector<json*> open_;    // the arrays and objects being filled, innermost last
  json* element_ = nullptr;    // the member of open_.back() (an object) named by the last key
  std::optional<std::string> duplicate_;
  std::string error_;
};

}  // namespace

Result<json> ParseJsonStrict(std::string_view text, std::string_view what) {
  json root;
  StrictDomBuilder builder(&root);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder);
  } catch (const json::exception& e) {  // not expected: errors go to parse_error()
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + e.what());
  }
  if (builder.duplicate()) {
    std::string key = *builder.duplicate();
    if (key.size() > 64) key = key.substr(0, 64) + "...";
    return Status::InvalidArgument(std::string(what) + " has a duplicate key '" + key +
                                   "' (a key may appear only once in an object)");
  }
  if (!ok) return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + builder.error());
  return root;
}

}  // namespace fedledger
