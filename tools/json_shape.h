// Checking the shape of a JSON answer before the CLI reads it. Whatever answers 200 on the
// URL given to --node (a proxy, another service, the wrong port) may send `{}`, `[]` or
// fields of other types; reading those with nlohmann's get<T>() throws type_error deep in
// the printing code. A command checks the answer against a shape first and reports, naming
// the first field that is wrong:
//
//   status has no string 'chain_id' (it is a number)
//
// A shape is itself JSON:
//   "string", "bool", "uint" (a non-negative integer), "u32" (one that fits 32 bits),
//   "object" (any object), "array" (any array), "any";
//   each of these with "?" appended also allows null ("uint?");
//   {"a": shape, ...}   an object with at least these members (others are allowed); a
//                       member "*" gives the shape of every member; a member "?" (any value)
//                       allows null in place of the object;
//   [shape]             an array whose every element has `shape`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ledger/status.h"

namespace fedledger::cli {

// OK if `j` has `shape`, else InvalidArgument naming the first mismatch. `what` names the
// answer in the message ("status", "task"). REQUIRES: `shape` is a valid shape (above).
Status CheckShape(const nlohmann::json& j, const nlohmann::json& shape, const std::string& what);

// `object_shape` with null allowed in its place.
nlohmann::json OrNull(nlohmann::json object_shape);

}  // namespace fedledger::cli
