// Building request targets for a validator's HTTP API. Every user-given piece of a URL (a
// task id, a member name) goes through here, so a name such as "x?y=1" is sent as that name
// instead of adding a query, and "a/b" stays one path segment. (Ids with a documented
// charset are also checked before they get here, to say what is wrong with them.)
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace fedledger::cli {

// RFC 3986 percent-encoding of one path segment or query value: every byte except the
// unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX (upper-case hex).
std::string PercentEncode(std::string_view s);

// "/" + each segment percent-encoded, joined by "/": UrlPath({"tasks", id}) -> "/tasks/x%3Fy".
// A segment "." or ".." is encoded too (%2E), so it cannot name the parent path.
std::string UrlPath(std::initializer_list<std::string_view> segments);

}  // namespace fedledger::cli
