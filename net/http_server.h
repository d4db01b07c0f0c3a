// HttpServer: a small HTTP/1.1 server on Boost.Beast for the node's JSON API and /metrics,
// shaped like Beast's advanced server: a listener, one session per connection on its own
// strand, do_x/on_x pairs, timeouts, a request body limit and a clean Stop().
//
//   HttpServer server(opts);
//   server.Get("/blocks/{height}", [&](const HttpRequest& req, Responder res) {
//     res.Send(HttpResponse::Json(200, {{"height", req.Param("height")}}));
//   });
//   FL_TRY(server.Start());   // binds; server.port() is the bound port
//   ...
//   server.Stop();
//
// Protocol behaviour
// - Keep-alive per HTTP/1.1 (Connection: close and HTTP/1.0 close after the response).
//   Requests on one connection are answered in order, one at a time: the next request is
//   read only after the previous response is written.
// - Malformed request (parser error, bad target, bad percent-encoding) -> 400 {"error":...}
//   and the connection is closed. Header block over `header_limit` -> 431. Body over
//   `body_limit` (by Content-Length or while reading a chunked body) -> 413; closed.
//   Unknown path -> 404. Known path, other method -> 405 with an Allow header.
//   HEAD on a GET route runs the GET handler (req.method is "HEAD") and sends its status and
//   headers, Content-Length included, without the body; every answer to a HEAD, errors too,
//   goes without a body.
//   A handler that throws -> 500. A handler that does not answer within `handler_timeout`
//   -> 503. A Responder destroyed without answering -> 500.
//   "Expect: 100-continue" is honoured.
// - Timeouts: `header_timeout` covers waiting for a request's header (including keep-alive
//   idle time); `body_timeout` reading its body; `write_timeout` writing a response. On a
//   read timeout the connection is closed without a response.
// - Error bodies are JSON: {"error": "<reason>"}.
//
// Threading: `threads` io threads run all sessions. Handlers are called on the connection's
// strand (an io thread); they must not block. A handler that needs to wait (for example for
// a commit) keeps the Responder and calls Send() later from any thread.
// Route registration must happen before Start(). Start() and Stop() are called from one
// controlling thread; port() is thread-safe. Stop() is idempotent, closes the listener and
// every connection (responses not yet written are dropped; later Responder::Send calls are
// ignored) and joins the io threads; the destructor calls Stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ledger/status.h"
#include "net/log.h"

namespace fedledger::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // raw request target, "/blocks/7?proof=1"
  std::string path;    // percent-decoded path, "/blocks/7"
  std::map<std::string, std::string> params;  // path parameters from the matched route
  std::map<std::string, std::string> query;   // decoded query parameters (first one wins)
  std::map<std::string, std::string> headers; // lower-cased names
  std::string body;
  std::string remote;  // "127.0.0.1:53412"

  // Path parameter; "" when absent.
  const std::string& Param(const std::string& name) const;
  std::optional<std::string> Query(const std::string& name) const;
  // InvalidArgument naming the first query parameter that is not in `known`, so a misspelt
  // or unsupported one is refused instead of silently ignored.
  Status OnlyQuery(std::initializer_list<std::string_view> known) const;
  std::optional<std::string> Header(const std::string& lower_case_name) const;
  // The body as JSON; InvalidArgument("body is not valid JSON: ...") otherwise, and for an
  // object that repeats a key ("body has a duplicate key 'entry' ...", ParseJsonStrict).
  Result<nlohmann::json> JsonBody() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, sent instead of `body` without a copy (an artifact of tens of MB that the
  // server keeps in memory anyway).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static HttpResponse Json(int status, const nlohmann::json& body);
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"error": reason}
  static HttpResponse Error(int status, std::string reason);
  // Maps a Status to 400/404/409/403/412/429/503/500 and {"error": message}.
  static HttpResponse FromStatus(const Status& status);
};

// The one-shot answer channel for a request. Copyable handle; thread-safe. The first Send()
// wins and returns true; later calls return false. Send() after the connection closed or the
// server stopped is ignored (returns false). When the last copy is destroyed without a
// Send(), the client gets 500 "handler did not respond".
class Responder {
 public:
  struct Impl;
  explicit Responder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  bool Send(HttpResponse response) const;

 private:
  std::shared_ptr<Impl> impl_;
};

// The request is the handler's for the duration of the call: a handler may move its body out
// (an artifact upload keeps the bytes instead of copying tens of MB); most take it as const&.
using HttpHandler = std::function<void(HttpRequest&, Responder)>;

// Method + path router, Beast-free so it can be tested alone. Patterns are split on '/':
// a segment "{name}" matches any one non-empty segment and binds params[name]; a final
// segment "*" matches the rest of the path (possibly empty) and binds params["*"].
// Routes are tried in registration order; the first whose pattern and method match wins.
class Router {
 public:
  // REQUIRES: pattern starts with '/', "*" only as the last segment.
  void Add(std::string method, std::string pattern, HttpHandler handler);

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const HttpHandler* handler = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // for kMethodNotAllowed, in registration order
  };
  // `path` is already percent-decoded. A HEAD request with no HEAD route of its own matches
  // the path's GET route, and wherever GET is allowed `allowed` lists HEAD too.
  Match Find(std::string_view method, std::string_view path) const;

 private:
  Match FindExact(std::string_view method, std::string_view path) const;
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  std::vector<Route> routes_;
};

// Splits a request target into decoded path and query. InvalidArgument for a target that is
// not origin-form ("/..."), has bad percent-encoding, or decodes to a NUL byte.
Status ParseTarget(std::string_view target, std::string* path,
                   std::map<std::string, std::string>* query);

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                 // 0: an ephemeral port, see port()
  int threads = 1;
  size_t body_limit = 1 << 20;       // bytes; larger -> 413
  // Larger limits for request targets starting with a prefix (e.g. "/artifacts/"), chosen
  // once the header is read, so big uploads go only where they are expected.
  std::vector<std::pair<std::string, size_t>> body_limit_by_prefix;
  size_t header_limit = 16 << 10;    // bytes; larger -> 431
  size_t max_connections = 512;      // more are accepted and closed at once
  std::chrono::milliseconds header_timeout{15000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds handler_timeout{60000};  // -> 503
  std::string server_name = "fedledger";
  LogFn log = StderrLog;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // REQUIRES: not started.
  void Route(std::string method, std::string pattern, HttpHandler handler);
  void Get(std::string pattern, HttpHandler h) { Route("GET", std::move(pattern), std::move(h)); }
  void Post(std::string pattern, HttpHandler h) { Route("POST", std::move(pattern), std::move(h)); }

  // Binds and starts the io threads. Unavailable when the address cannot be bound.
  // REQUIRES: not started before.
  Status Start();
  // The bound port (after a successful Start), else 0.
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedledger::net
