// Parsing JSON that is checked or acted on: proof documents, export lines, API requests.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "ledger/status.h"

namespace fedledger {

// Parses one JSON text as nlohmann::json::parse does (strict: nothing may follow it), and
// also refuses an object that repeats a key. {"root":A,"root":B} is A to a parser that keeps
// the first and B to one that keeps the last (nlohmann keeps the last), so a document checked
// by one program and read by another could say two things. Costs what json::parse costs:
// the key is inserted either way, and the insert reports that it was already there.
// Never throws. InvalidArgument, with `what` naming the text: "<what> is not valid JSON:
// <parser message>" or "<what> has a duplicate key '<key>'".
Result<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view what);

}  // namespace fedledger
