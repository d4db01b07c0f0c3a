#include "tools/json_shape.h"

#include <cstdint>

namespace fedledger::cli {

using nlohmann::json;

namespace {

bool Nullable(const json& shape) {
  if (shape.is_string()) {
    const std::string& t = shape.get_ref<const std::string&>();
    return !t.empty() && t.back() == '?';
  }
  return shape.is_object() && shape.contains("?");
}

// What the shape asks for, as the message says it: "string", "non-negative integer", ...
std::string Expected(const json& shape) {
  std::string name;
  if (shape.is_object()) {
    name = "object";
  } else if (shape.is_array()) {
    name = "array";
  } else {
    std::string t = shape.get<std::string>();
    if (!t.empty() && t.back() == '?') t.pop_back();
    name = t == "uint"  ? "non-negative integer"
           : t == "u32" ? "32-bit non-negative integer"
           : t == "any" ? "value"
                        : t;
  }
  return Nullable(shape) ? name + " (or null)" : name;
}

// What the value is instead: numbers and null as they are, other types by name.
std::string Actual(const json& j) {
  if (j.is_number() || j.is_null() || j.is_boolean()) return "it is " + j.dump();
  if (j.is_string()) return "it is a string";
  if (j.is_array()) return "it is an array";
  return "it is an object";
}

bool ScalarMatches(const json& j, std::string t) {
  if (!t.empty() && t.back() == '?') {
    if (j.is_null()) return true;
    t.pop_back();
  }
  if (t == "string") return j.is_string();
  if (t == "bool") return j.is_boolean();
  if (t == "uint") return j.is_number_unsigned();
  if (t == "u32") return j.is_number_unsigned() && j.get<uint64_t>() <= UINT32_MAX;
  if (t == "object") return j.is_object();
  if (t == "array") return j.is_array();
  return t == "any";
}

std::string Join(const std::string& path, const std::string& member) {
  return path.empty() ? member : path + "." + member;
}

Status Check(const json& j, const json& shape, const std::string& what, const std::string& path) {
  auto mismatch = [&] {
    if (path.empty()) {
      return Status::InvalidArgument(what + " is not a JSON " + Expected(shape) + " (" + Actual(j) +
                                     ")");
    }
    return Status::InvalidArgument(what + " has no " + Expected(shape) + " '" + path + "' (" +
                                   Actual(j) + ")");
  };
  if (shape.is_string()) {
    return ScalarMatches(j, shape.get<std::string>()) ? Status::Ok() : mismatch();
  }
  if (j.is_null() && Nullable(shape)) return Status::Ok();
  if (shape.is_array()) {
    if (!j.is_array()) return mismatch();
    for (size_t i = 0; i < j.size(); ++i) {
      FL_TRY(Check(j[i], shape[0], what, path + "[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }
  if (!j.is_object()) return mismatch();
  for (const auto& [member, sub] : shape.items()) {
    if (member == "?") continue;
    if (member == "*") {
      for (const auto& [k, v] : j.items()) FL_TRY(Check(v, sub, what, Join(path, k)));
      continue;
    }
    auto it = j.find(member);
    if (it == j.end()) {
      return Status::InvalidArgument(what + " has no " + Expected(sub) + " '" + Join(path, member) +
                                     "'");
    }
    FL_TRY(Check(*it, sub, what, Join(path, member)));
  }
  return Status::Ok();
}

}  // namespace

Status CheckShape(const json& j, const json& shape, const std::string& what) {
  return Check(j, shape, what, "");
}

json OrNull(json object_shape) {
  object_shape["?"] = true;
  return object_shape;
}

}  // namespace fedledger::cli
