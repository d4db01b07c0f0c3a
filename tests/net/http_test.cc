#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>
#include <utility>

#include "net/endpoint.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net_test_util.h"

using namespace fedledger;
using namespace fedledger::net;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// ---- Router and target parsing (no sockets) ----

TEST_CASE("http router: literal, parameter and prefix routes - 404 and 405", "[http]") {
  Router r;
  int which = 0;
  r.Add("GET", "/blocks/latest", [&](const HttpRequest&, Responder) { which = 1; });
  r.Add("GET", "/blocks/{height}", [&](const HttpRequest&, Responder) { which = 2; });
  r.Add("POST", "/entries", [&](const HttpRequest&, Responder) { which = 3; });
  r.Add("GET", "/static/*", [&](const HttpRequest&, Responder) { which = 4; });
  r.Add("GET", "/", [&](const HttpRequest&, Responder) { which = 5; });

  auto m = r.Find("GET", "/blocks/latest");
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  CHECK(m.params.empty());
  m = r.Find("GET", "/blocks/17");
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  CHECK(m.params.at("height") == "17");
  CHECK(r.Find("GET", "/blocks/").kind == Router::Match::Kind::kNotFound);  // empty segment
  CHECK(r.Find("GET", "/blocks/1/2").kind == Router::Match::Kind::kNotFound);
  m = r.Find("GET", "/static/css/site.css");
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  CHECK(m.params.at("*") == "css/site.css");
  CHECK(r.Find("GET", "/static/").params.at("*") == "");
  CHECK(r.Find("GET", "/").kind == Router::Match::Kind::kFound);
  CHECK(r.Find("GET", "/nope").kind == Router::Match::Kind::kNotFound);
  m = r.Find("GET", "/entries");
  CHECK(m.kind == Router::Match::Kind::kMethodNotAllowed);
  CHECK(m.allowed == std::vector<std::string>{"POST"});
  m = r.Find("DELETE", "/blocks/3");
  CHECK(m.kind == Router::Match::Kind::kMethodNotAllowed);
  CHECK(m.allowed == std::vector<std::string>{"GET", "HEAD"});
  HttpRequest req;
  (*r.Find("POST", "/entries").handler)(req, Responder(nullptr));
  CHECK(which == 3);
}

TEST_CASE("http router: HEAD takes the GET route - POST-only paths stay 405", "[http]") {
  Router r;
  int which = 0;
  r.Add("GET", "/blocks/latest", [&](const HttpRequest&, Responder) { which = 1; });
  r.Add("GET", "/blocks/{height}", [&](const HttpRequest&, Responder) { which = 2; });
  r.Add("POST", "/entries", [&](const HttpRequest&, Responder) { which = 3; });
  r.Add("GET", "/entries", [&](const HttpRequest&, Responder) { which = 4; });
  r.Add("POST", "/submit", [&](const HttpRequest&, Responder) { which = 5; });
  r.Add("GET", "/own", [&](const HttpRequest&, Responder) { which = 6; });
  r.Add("HEAD", "/own", [&](const HttpRequest&, Responder) { which = 7; });
  HttpRequest req;

  auto m = r.Find("HEAD", "/blocks/17");
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  CHECK(m.params.at("height") == "17");
  (*m.handler)(req, Responder(nullptr));
  CHECK(which == 2);
  m = r.Find("HEAD", "/blocks/latest");  // registration order still decides
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  (*m.handler)(req, Responder(nullptr));
  CHECK(which == 1);
  m = r.Find("HEAD", "/entries");  // the GET route, although POST was registered first
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  (*m.handler)(req, Responder(nullptr));
  CHECK(which == 4);
  m = r.Find("HEAD", "/own");  // a HEAD route of its own wins over GET
  REQUIRE(m.kind == Router::Match::Kind::kFound);
  (*m.handler)(req, Responder(nullptr));
  CHECK(which == 7);

  m = r.Find("HEAD", "/submit");
  CHECK(m.kind == Router::Match::Kind::kMethodNotAllowed);
  CHECK(m.allowed == std::vector<std::string>{"POST"});
  m = r.Find("PUT", "/entries");
  CHECK(m.kind == Router::Match::Kind::kMethodNotAllowed);
  CHECK(m.allowed == std::vector<std::string>{"POST", "GET", "HEAD"});
  CHECK(r.Find("HEAD", "/nope").kind == Router::Match::Kind::kNotFound);
}

TEST_CASE("http target parsing: percent-decoding, query, errors", "[http]") {
  std::string path;
  std::map<std::string, std::string> q;
  REQUIRE(ParseTarget("/tasks/a%20b?x=1&y=hello+world&x=2&flag", &path, &q).ok());
  CHECK(path == "/tasks/a b");
  CHECK(q.at("x") == "1");  // first wins
  CHECK(q.at("y") == "hello world");
  CHECK(q.at("flag") == "");
  CHECK(!ParseTarget("tasks", &path, &q).ok());
  CHECK(!ParseTarget("/a%2", &path, &q).ok());
  CHECK(!ParseTarget("/a%zz", &path, &q).ok());
  CHECK(!ParseTarget("/a%00b", &path, &q).ok());
  CHECK(!ParseTarget("http://host/x", &path, &q).ok());
}

TEST_CASE("endpoints parse host:port", "[http]") {
  auto a = ParseHostPort("127.0.0.1:26656");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 26656);
  auto b = ParseHostPort("[::1]:80");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->ToString() == "[::1]:80");
  CHECK(!ParseHostPort("localhost").ok());
  CHECK(!ParseHostPort("localhost:0").ok());
  CHECK(ParseHostPort("localhost:0", true).ok());
  CHECK(!ParseHostPort("localhost:65536").ok());
  CHECK(!ParseHostPort(":80").ok());
  CHECK(!ParseHostPort("::1:80").ok());
  CHECK(!ParseHostPort("host:80x").ok());
}

// ---- A live server ----

namespace {

// Raw HTTP over one TCP connection, every operation bounded by a deadline.
class RawConn {
 public:
  explicit RawConn(uint16_t port) : stream_(ioc_) {
    stream_.expires_after(5s);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [this](beast::error_code ec) { ec_ = ec; });
    Run();
  }
  beast::error_code Write(const std::string& data) {
    stream_.expires_after(5s);
    asio::async_write(stream_, asio::buffer(data),
                      [this](beast::error_code ec, std::size_t) { ec_ = ec; });
    Run();
    return ec_;
  }
  // Reads one response; `ec` is set on EOF/timeout.
  http::response<http::string_body> Read(beast::error_code& ec) {
    http::response_parser<http::string_body> parser;
    parser.skip(false);
    stream_.expires_after(5s);
    http::async_read(stream_, buffer_, parser,
                     [this](beast::error_code e, std::size_t) { ec_ = e; });
    Run();
    ec = ec_;
    return parser.release();
  }
  // Reads raw bytes up to and including "\r\n\r\n".
  std::string ReadHeaderBlock(beast::error_code& ec) {
    stream_.expires_after(5s);
    std::string out;
    asio::async_read_until(stream_, asio::dynamic_buffer(raw_), "\r\n\r\n",
                           [this](beast::error_code e, std::size_t) { ec_ = e; });
    Run();
    ec = ec_;
    size_t end = raw_.find("\r\n\r\n");
    if (end != std::string::npos) {
      out = raw_.substr(0, end + 4);
      raw_.erase(0, end + 4);
    }
    return out;
  }
  // Reads raw bytes until the server closes the connection; returns all not yet consumed.
  std::string ReadToEnd(beast::error_code& ec) {
    stream_.expires_after(5s);
    asio::async_read(stream_, asio::dynamic_buffer(raw_),
                     [this](beast::error_code e, std::size_t) { ec_ = e; });
    Run();
    ec = ec_;
    return std::exchange(raw_, std::string());
  }
  beast::error_code connect_error() const { return ec_; }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string raw_;
  beast::error_code ec_;
};

struct TestServer {
  explicit TestServer(HttpServerOptions o = {}) {
    o.log = logs.Fn();
    if (o.body_limit == (1 << 20)) o.body_limit = 1024;
    server = std::make_unique<HttpServer>(o);
    server->Get("/blocks/{height}", [](const HttpRequest& req, Responder res) {
      res.Send(HttpResponse::Json(200, {{"height", req.Param("height")},
                                        {"proof", req.Query("proof").value_or("none")}}));
    });
    server->Post("/echo", [](const HttpRequest& req, Responder res) {
      auto j = req.JsonBody();
      if (!j.ok()) return void(res.Send(HttpResponse::FromStatus(j.status())));
      res.Send(HttpResponse::Json(200, {{"echo", *j}}));
    });
    server->Get("/async", [this](const HttpRequest& req, Responder res) {
      std::string who = req.Query("who").value_or("?");
      std::lock_guard<std::mutex> lock(mu);
      workers.emplace_back([res, who] {
        std::this_thread::sleep_for(50ms);
        res.Send(HttpResponse::Json(200, {{"committed", who}}));
      });
    });
    server->Get("/hold", [this](const HttpRequest&, Responder res) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(res);
    });
    server->Get("/drop", [](const HttpRequest&, Responder) {});
    // Handlers must not block; this one does until `release`, as hashing a large upload would.
    server->Get("/stall", [this](const HttpRequest&, Responder res) {
      stall_entered = true;
      while (!stall_release) std::this_thread::sleep_for(1ms);
      res.Send(HttpResponse::Json(200, {{"stalled", true}}));
    });
    server->Get("/throw", [](const HttpRequest&, Responder) -> void {
      throw std::runtime_error("boom");
    });
    server->Get("/metrics", [](const HttpRequest&, Responder res) {
      res.Send(HttpResponse::Text(200, "x 1\n", "text/plain; version=0.0.4"));
    });
    REQUIRE(server->Start().ok());
    REQUIRE(server->port() != 0);
  }
  ~TestServer() {
    stall_release = true;
    server->Stop();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : workers) t.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  testing::LogCapture logs;
  std::unique_ptr<HttpServer> server;
  std::mutex mu;
  std::vector<std::thread> workers;
  std::vector<Responder> held;
  std::atomic<bool> stall_entered{false}, stall_release{false};
};

}  // namespace

TEST_CASE("http server: routes, path parameters, query, JSON", "[http]") {
  TestServer ts;
  auto r = HttpGet(ts.Url("/blocks/12?proof=yes"));
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->content_type == "application/json");
  auto j = r->Json();
  REQUIRE(j.ok());
  CHECK((*j)["height"] == "12");
  CHECK((*j)["proof"] == "yes");

  auto e = HttpPostJson(ts.Url("/echo"), {{"a", 1}});
  REQUIRE(e.ok());
  CHECK(e->status == 200);
  CHECK((*e->Json())["echo"]["a"] == 1);

  auto bad = HttpFetch("POST", ts.Url("/echo"), "{not json", "application/json");
  REQUIRE(bad.ok());
  CHECK(bad->status == 400);
  CHECK((*bad->Json())["error"].get<std::string>().find("not valid JSON") != std::string::npos);

  auto m = HttpGet(ts.Url("/metrics"));
  REQUIRE(m.ok());
  CHECK(m->body == "x 1\n");
  CHECK(m->content_type == "text/plain; version=0.0.4");
}

TEST_CASE("http server: 404, 405 with Allow, 413, 431", "[http]") {
  TestServer ts;
  auto nf = HttpGet(ts.Url("/nothing/here"));
  REQUIRE(nf.ok());
  CHECK(nf->status == 404);
  CHECK((*nf->Json())["error"] == "no route for GET /nothing/here");

  auto na = HttpFetch("DELETE", ts.Url("/blocks/3"));
  REQUIRE(na.ok());
  CHECK(na->status == 405);
  CHECK(na->headers["allow"] == "GET, HEAD");  // HEAD goes wherever GET does

  auto big = HttpFetch("POST", ts.Url("/echo"), std::string(4096, 'x'));
  REQUIRE(big.ok());
  CHECK(big->status == 413);
  CHECK((*big->Json())["error"] == "request body exceeds 1024 bytes");

  // Exactly at the limit is fine (and reaches the handler, which rejects the JSON).
  auto at = HttpFetch("POST", ts.Url("/echo"), std::string(1024, 'x'));
  REQUIRE(at.ok());
  CHECK(at->status == 400);

  HttpClientOptions o;
  o.headers.emplace_back("X-Big", std::string(20000, 'h'));
  auto hl = HttpFetch("GET", ts.Url("/blocks/1"), "", "application/json", o);
  REQUIRE(hl.ok());
  CHECK(hl->status == 431);
}

TEST_CASE("http server: a larger body limit for one path prefix only", "[http]") {
  HttpServerOptions o;
  o.body_limit = 1024;
  o.body_limit_by_prefix = {{"/upload/", 64 << 10}};
  o.log = [](LogLevel, const std::string&) {};
  HttpServer server(o);
  server.Route("PUT", "/upload/{name}", [](const HttpRequest& req, Responder res) {
    res.Send(HttpResponse::Json(201, {{"size", req.body.size()}}));
  });
  server.Post("/echo", [](const HttpRequest& req, Responder res) {
    res.Send(HttpResponse::Json(200, {{"size", req.body.size()}}));
  });
  REQUIRE(server.Start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto up = HttpFetch("PUT", base + "/upload/a", std::string(60 << 10, 'x'), "application/octet-stream");
  REQUIRE(up.ok());
  CHECK(up->status == 201);
  CHECK((*up->Json())["size"] == 60 << 10);
  auto too_big = HttpFetch("PUT", base + "/upload/a", std::string(65 << 10, 'x'), "application/octet-stream");
  REQUIRE(too_big.ok());
  CHECK(too_big->status == 413);
  CHECK((*too_big->Json())["error"] == "request body exceeds 65536 bytes");
  // Other routes keep the small limit, although the header parser started with the larger.
  auto echo = HttpFetch("POST", base + "/echo", std::string(4096, 'x'));
  REQUIRE(echo.ok());
  CHECK(echo->status == 413);
  CHECK((*echo->Json())["error"] == "request body exceeds 1024 bytes");
  server.Stop();
}

TEST_CASE("http: bodies of several MB go through the bulk read paths intact", "[http]") {
  HttpServerOptions o;
  o.body_limit_by_prefix = {{"/upload/", 8 << 20}};
  o.log = [](LogLevel, const std::string&) {};
  HttpServer server(o);
  std::string blob(3 << 20, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>((i * 2654435761u) >> 13);
  server.Route("PUT", "/upload/{name}", [&blob](const HttpRequest& req, Responder res) {
    res.Send(HttpResponse::Json(201, {{"size", req.body.size()}, {"same", req.body == blob}}));
  });
  server.Get("/download", [&blob](const HttpRequest&, Responder res) {
    res.Send(HttpResponse::Text(200, blob, "application/octet-stream"));
  });
  REQUIRE(server.Start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto up = HttpFetch("PUT", base + "/upload/a", blob, "application/octet-stream");
  REQUIRE(up.ok());
  CHECK(up->status == 201);
  CHECK((*up->Json())["same"] == true);
  auto down = HttpGet(base + "/download");
  REQUIRE(down.ok());
  CHECK(down->status == 200);
  CHECK(down->body == blob);
  // A response larger than the client's limit is refused, not truncated.
  HttpClientOptions small;
  small.max_response_body = 1 << 20;
  auto refused = HttpGet(base + "/download", small);
  CHECK(refused.status().code() == Status::Code::kResourceExhausted);
  server.Stop();
}

TEST_CASE("http server: oversized chunked body gets 413", "[http]") {
  TestServer ts;
  RawConn c(ts.server->port());
  REQUIRE(!c.connect_error());
  std::string chunk(800, 'a');
  char len[16];
  std::snprintf(len, sizeof(len), "%zx", chunk.size());
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += std::string(len) + "\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  REQUIRE(!c.Write(req));
  beast::error_code ec;
  auto res = c.Read(ec);
  REQUIRE(!ec);
  CHECK(res.result_int() == 413);
}

TEST_CASE("http server: malformed requests get 400 with a reason and the connection closes",
          "[http]") {
  TestServer ts;
  for (std::string raw : {std::string("GET /blocks/1 HTTX/1.1\r\nHost: x\r\n\r\n"),
                          std::string("GET /blocks/1 HTTP/1.1\r\nNo colon here\r\n\r\n"),
                          std::string("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"),
                          std::string("GET relative HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    RawConn c(ts.server->port());
    REQUIRE(!c.Write(raw));
    beast::error_code ec;
    auto res = c.Read(ec);
    REQUIRE(!ec);
    CHECK(res.result_int() == 400);
    CHECK(res.body().find("malformed request") != std::string::npos);
    CHECK(!res.keep_alive());
    c.Read(ec);
    CHECK(ec == http::error::end_of_stream);
  }
}

TEST_CASE("http server: keep-alive serves several requests on one connection", "[http]") {
  TestServer ts;
  RawConn c(ts.server->port());
  REQUIRE(!c.connect_error());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(!c.Write("GET /blocks/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    beast::error_code ec;
    auto res = c.Read(ec);
    REQUIRE(!ec);
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
    CHECK(res.body().find("\"height\":\"" + std::to_string(i) + "\"") != std::string::npos);
  }
  // Two pipelined requests are answered in order.
  REQUIRE(!c.Write("GET /blocks/a HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  beast::error_code ec;
  CHECK(c.Read(ec).result_int() == 200);
  CHECK(c.Read(ec).result_int() == 404);
  // Connection: close is honoured.
  REQUIRE(!c.Write("GET /blocks/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto last = c.Read(ec);
  REQUIRE(!ec);
  CHECK(!last.keep_alive());
  c.Read(ec);
  CHECK(ec == http::error::end_of_stream);
}

TEST_CASE("http server: HEAD answers GET's status and headers without the body", "[http]") {
  TestServer ts;
  auto get = HttpGet(ts.Url("/blocks/7?proof=1"));
  REQUIRE(get.ok());
  REQUIRE(get->status == 200);
  const std::string get_length = get->headers.at("content-length");
  CHECK(get_length == std::to_string(get->body.size()));

  // On the wire: a HEAD, then a GET on the same connection. Had the HEAD's answer carried a
  // body, its bytes would sit between the two responses.
  RawConn c(ts.server->port());
  REQUIRE(!c.connect_error());
  REQUIRE(!c.Write("HEAD /blocks/7?proof=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                   "GET /blocks/7?proof=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  beast::error_code ec;
  std::string raw = c.ReadToEnd(ec);
  CHECK(ec == asio::error::eof);
  INFO(raw);
  size_t head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  std::string head = raw.substr(0, head_end + 4);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK_THAT(head, Catch::Contains("Content-Length: " + get_length + "\r\n"));
  CHECK_THAT(head, Catch::Contains("Content-Type: application/json\r\n"));
  std::string rest = raw.substr(head_end + 4);
  CHECK(rest.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);  // the GET's answer follows at once
  CHECK(rest.size() >= get->body.size());
  CHECK(rest.substr(rest.size() - get->body.size()) == get->body);

  // The client knows a HEAD answer has no body.
  auto h = HttpFetch("HEAD", ts.Url("/blocks/7?proof=1"));
  REQUIRE(h.ok());
  CHECK(h->status == 200);
  CHECK(h->body.empty());
  CHECK(h->headers.at("content-length") == get_length);
  CHECK(h->content_type == get->content_type);

  // Errors keep their status and headers and lose the body too.
  auto post_only = HttpFetch("HEAD", ts.Url("/echo"));
  REQUIRE(post_only.ok());
  CHECK(post_only->status == 405);
  CHECK(post_only->headers.at("allow") == "POST");
  CHECK(post_only->body.empty());
  auto nf = HttpFetch("HEAD", ts.Url("/nothing"));
  REQUIRE(nf.ok());
  CHECK(nf->status == 404);
  CHECK(nf->body.empty());
  CHECK(nf->headers.at("content-length") != "0");
  auto thrown = HttpFetch("HEAD", ts.Url("/throw"));
  REQUIRE(thrown.ok());
  CHECK(thrown->status == 500);
  // A method GET does not allow names HEAD as allowed.
  auto del = HttpFetch("DELETE", ts.Url("/blocks/3"));
  REQUIRE(del.ok());
  CHECK(del->headers.at("allow") == "GET, HEAD");

  RawConn c2(ts.server->port());
  REQUIRE(!c2.Write("HEAD /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  raw = c2.ReadToEnd(ec);
  REQUIRE(raw.find("\r\n\r\n") != std::string::npos);
  CHECK(raw.substr(raw.find("\r\n\r\n") + 4).empty());
}

TEST_CASE("http: a HEAD on a large shared body sends its length only", "[http]") {
  HttpServerOptions o;
  o.log = [](LogLevel, const std::string&) {};
  HttpServer server(o);
  auto blob = std::make_shared<const std::string>(3 << 20, 'z');
  server.Get("/artifact", [blob](const HttpRequest&, Responder res) {
    HttpResponse r;
    r.content_type = "application/octet-stream";
    r.shared_body = blob;
    res.Send(std::move(r));
  });
  REQUIRE(server.Start().ok());
  RawConn c(server.port());
  REQUIRE(!c.Write("HEAD /artifact HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  beast::error_code ec;
  std::string raw = c.ReadToEnd(ec);
  INFO(raw.substr(0, 400));
  size_t end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  CHECK_THAT(raw.substr(0, end), Catch::Contains("Content-Length: " + std::to_string(3 << 20)));
  CHECK(raw.size() == end + 4);
  server.Stop();
}

TEST_CASE("http server: Expect 100-continue", "[http]") {
  TestServer ts;
  RawConn c(ts.server->port());
  REQUIRE(!c.Write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 7\r\nExpect: 100-continue\r\n\r\n"));
  beast::error_code ec;
  std::string interim = c.ReadHeaderBlock(ec);
  REQUIRE(!ec);
  CHECK(interim.rfind("HTTP/1.1 100", 0) == 0);
  REQUIRE(!c.Write("{\"a\":2}"));
  auto res = c.Read(ec);
  REQUIRE(!ec);
  CHECK(res.result_int() == 200);
}

TEST_CASE("http server: asynchronous handlers, dropped responders, exceptions, timeouts",
          "[http]") {
  HttpServerOptions o;
  o.handler_timeout = 300ms;
  o.threads = 2;
  TestServer ts(o);

  // Several concurrent clients waiting for handlers that answer from other threads.
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      auto r = HttpGet(ts.Url("/async?who=c" + std::to_string(i)));
      if (r.ok() && r->status == 200 && (*r->Json())["committed"] == "c" + std::to_string(i)) {
        ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(good == 6);

  auto dropped = HttpGet(ts.Url("/drop"));
  REQUIRE(dropped.ok());
  CHECK(dropped->status == 500);
  CHECK((*dropped->Json())["error"] == "handler did not respond");

  auto thrown = HttpGet(ts.Url("/throw"));
  REQUIRE(thrown.ok());
  CHECK(thrown->status == 500);
  CHECK(ts.logs.Contains("event=handler_exception"));

  auto held = HttpGet(ts.Url("/hold"));
  REQUIRE(held.ok());
  CHECK(held->status == 503);
  // The late answer is ignored; the first answer (the timeout) stood.
  std::lock_guard<std::mutex> lock(ts.mu);
  REQUIRE(ts.held.size() == 1);
  CHECK(!ts.held[0].Send(HttpResponse::Json(200, {})));
}

TEST_CASE("http server: with two io threads, a handler that blocks one holds up no other request",
          "[http]") {
  // Why a node runs more than one io thread when it serves artifacts: a handler that blocks
  // (as hashing a large upload does) must not stall every other client of the node.
  HttpServerOptions o;
  o.threads = 2;
  TestServer ts(o);

  RawConn first(ts.server->port());
  REQUIRE(!first.Write("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(testing::WaitFor([&] { return ts.stall_entered.load(); }));

  // A new connection is accepted and served while the first one's handler still blocks.
  RawConn second(ts.server->port());
  REQUIRE(!second.Write("GET /blocks/7 HTTP/1.1\r\nHost: x\r\n\r\n"));
  beast::error_code ec;
  auto res = second.Read(ec);
  REQUIRE(!ec);
  CHECK(res.result_int() == 200);
  CHECK(!ts.stall_release.load());

  ts.stall_release = true;
  auto stalled = first.Read(ec);
  REQUIRE(!ec);
  CHECK(stalled.result_int() == 200);

  auto t0 = std::chrono::steady_clock::now();
  ts.server->Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("http client: timeout, refused connection, bad URL", "[http]") {
  TestServer ts;
  HttpClientOptions o;
  o.timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = HttpGet(ts.Url("/hold"), o);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK(r.status().message().find("timed out") != std::string::npos);
  CHECK(took < 2s);

  uint16_t closed_port = testing::FreePort();
  auto refused = HttpGet("http://127.0.0.1:" + std::to_string(closed_port) + "/", o);
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == Status::Code::kUnavailable);

  CHECK(HttpGet("https://127.0.0.1:1/").status().code() == Status::Code::kInvalidArgument);
  CHECK(HttpGet("http://nohostport/").status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("http server: Stop closes idle and waiting connections promptly", "[http]") {
  TestServer ts;
  RawConn idle(ts.server->port());
  REQUIRE(!idle.Write("GET /blocks/1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  beast::error_code ec;
  REQUIRE(idle.Read(ec).result_int() == 200);  // now idle in keep-alive

  RawConn waiting(ts.server->port());
  REQUIRE(!waiting.Write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(testing::WaitFor([&] {
    std::lock_guard<std::mutex> lock(ts.mu);
    return ts.held.size() == 1;
  }));

  auto t0 = std::chrono::steady_clock::now();
  ts.server->Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  ts.server->Stop();  // idempotent

  idle.Read(ec);
  CHECK(ec);  // closed
  waiting.Read(ec);
  CHECK(ec);
  {
    std::lock_guard<std::mutex> lock(ts.mu);
    CHECK(!ts.held[0].Send(HttpResponse::Json(200, {})));
  }
  HttpClientOptions o;
  o.timeout = 500ms;
  auto after = HttpGet(ts.Url("/blocks/1"), o);
  CHECK(!after.ok());
}

TEST_CASE("http server: a port in use is reported", "[http]") {
  TestServer ts;
  HttpServerOptions o;
  o.port = ts.server->port();
  o.log = nullptr;
  HttpServer second(o);
  Status s = second.Start();
  CHECK(s.code() == Status::Code::kUnavailable);
}
