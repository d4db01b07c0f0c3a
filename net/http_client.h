// A tiny synchronous HTTP/1.1 client for the CLI (`fedledger submit`, `fedledger status`) and
// tests: one request per connection, with a deadline covering resolve, connect, write and read.
// Each call runs its own private io_context on the calling thread; calls are independent and
// may be made from any number of threads concurrently. Beast-free header.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ledger/status.h"

namespace fedledger::net {

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10000};  // whole request
  size_t max_response_body = 64 << 20;        // larger -> ResourceExhausted
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
};

struct HttpClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  // The body as JSON; InvalidArgument when it is not.
  Result<nlohmann::json> Json() const;
};

// `url` is "http://host:port/path?query" (http only). Any HTTP status, including 4xx/5xx, is a
// successful call: the caller looks at `status`. Errors: InvalidArgument for a bad URL,
// Unavailable when the server cannot be reached or the deadline passes ("... timed out after
// N ms"), ResourceExhausted for an oversized response, IOError for a broken response.
Result<HttpClientResponse> HttpFetch(std::string_view method, std::string_view url,
                                     std::string body = "",
                                     std::string content_type = "application/json",
                                     const HttpClientOptions& options = {});
Result<HttpClientResponse> HttpGet(std::string_view url, const HttpClientOptions& options = {});
Result<HttpClientResponse> HttpPostJson(std::string_view url, const nlohmann::json& body,
                                        const HttpClientOptions& options = {});

}  // namespace fedledger::net
