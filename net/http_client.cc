#include "net/http_client.h"

#include <boost/asio/read.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>

#include "net/endpoint.h"

namespace fedledger::net {
namespace {

// Response bodies at least this large with a Content-Length are read in bulk.
constexpr uint64_t kBulkBody = 1 << 20;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One request's state; the async chain runs on a private io_context in the caller's thread.
struct Call {
  Call(asio::io_context& ioc, const HttpClientOptions& o) : resolver(ioc), stream(ioc), opts(o) {}
  tcp::resolver resolver;
  beast::tcp_stream stream;
  const HttpClientOptions& opts;
  std::chrono::steady_clock::time_point deadline;
  HostPort hp;
  http::request<http::string_body> req;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  std::optional<std::string> bulk_body;  // ReadBulkBody
  bool done = false;
  beast::error_code error;
  const char* stage = "resolve";

  void Arm() {
    auto left = deadline - std::chrono::steady_clock::now();
    stream.expires_after(left > std::chrono::steady_clock::duration::zero()
                             ? left
                             : std::chrono::steady_clock::duration(1));
  }
  void Start() {
    resolver.async_resolve(hp.host, std::to_string(hp.port),
                           [this](beast::error_code ec, tcp::resolver::results_type results) {
                             if (ec) return Fail(ec);
                             if (std::chrono::steady_clock::now() >= deadline) {
                               return Fail(beast::error::timeout);
                             }
                             stage = "connect";
                             Arm();
                             stream.async_connect(results, [this](beast::error_code ec2,
                                                                  const tcp::endpoint&) {
                               if (ec2) return Fail(ec2);
                               OnConnect();
                             });
                           });
  }
  void OnConnect() {
    stage = "write";
    Arm();
    http::async_write(stream, req, [this](beast::error_code ec, std::size_t) {
      if (ec) return Fail(ec);
      stage = "read";
      parser.emplace();
      parser->body_limit(opts.max_response_body);
      // A response to HEAD has no body whatever its Content-Length says.
      parser->skip(req.method() == http::verb::head);
      Arm();
      http::async_read_header(stream, buffer, *parser, [this](beast::error_code ec2, std::size_t) {
        if (ec2) return Fail(ec2);
        if (parser->is_done()) return Done();
        auto length = parser->content_length();
        if (length && *length >= kBulkBody && !parser->chunked()) return ReadBulkBody(*length);
        http::async_read(stream, buffer, *parser, [this](beast::error_code ec3, std::size_t) {
          if (ec3) return Fail(ec3);
          Done();
        });
      });
    });
  }
  // A large body of known length (an artifact) in one composed read on the socket: the
  // parser's path reads 64 KiB per operation and re-arms the timer for each. The deadline
  // is the io_context's run_for bound (HttpFetch).
  void ReadBulkBody(uint64_t length) {
    bulk_body.emplace();
    bulk_body->resize(length);
    size_t have = asio::buffer_copy(asio::buffer(*bulk_body), buffer.data());
    buffer.consume(have);
    stream.expires_never();
    asio::async_read(stream.socket(), asio::buffer(bulk_body->data() + have, length - have),
                     [this](beast::error_code ec, std::size_t) {
                       if (ec) return Fail(ec == asio::error::eof ? http::error::partial_message : ec);
                       Done();
                     });
  }
  void Done() {
    done = true;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  void Fail(beast::error_code ec) { error = ec; }
};

Status CallError(const Call& c, const std::string& where) {
  if (c.error == beast::error::timeout) {
    return Status::Unavailable(where + ": " + c.stage + " timed out after " +
                               std::to_string(c.opts.timeout.count()) + " ms");
  }
  if (c.error == http::error::body_limit) {
    return Status::ResourceExhausted(where + ": response body exceeds " +
                                     std::to_string(c.opts.max_response_body) + " bytes");
  }
  if (std::string_view(c.stage) == "read" &&
      c.error.category() == http::make_error_code(http::error::bad_method).category()) {
    return Status::IOError(where + ": malformed response: " + c.error.message());
  }
  return Status::Unavailable(where + ": " + c.stage + ": " + c.error.message());
}

}  // namespace

Result<nlohmann::json> HttpClientResponse::Json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("response is not valid JSON: ") + e.what());
  }
}

Result<HttpClientResponse> HttpFetch(std::string_view method, std::string_view url,
                                     std::string body, std::string content_type,
                                     const HttpClientOptions& options) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("url '" + std::string(url) + "': only http:// is supported");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  FL_ASSIGN(HostPort hp, ParseHostPort(authority));
  http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb == http::verb::unknown) {
    return Status::InvalidArgument("unknown HTTP method '" + std::string(method) + "'");
  }
  const std::string where = std::string(method) + " " + std::string(url);
  try {
    asio::io_context ioc;
    Call call(ioc, options);
    call.hp = hp;
    call.deadline = std::chrono::steady_clock::now() + options.timeout;
    call.req = http::request<http::string_body>(verb, target, 11);
    call.req.set(http::field::host, hp.ToString());
    call.req.set(http::field::user_agent, "fedledger");
    call.req.set(http::field::accept, "application/json");
    call.req.set(http::field::connection, "close");
    for (const auto& [k, v] : options.headers) call.req.set(k, v);
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put) {
      call.req.set(http::field::content_type, content_type);
      call.req.body() = std::move(body);
    }
    call.req.prepare_payload();
    call.Start();
    // The resolver has no deadline of its own; bound the whole loop as well.
    ioc.run_for(options.timeout + std::chrono::milliseconds(100));
    if (!ioc.stopped()) {
      call.error = beast::error::timeout;
    }
    if (call.error) return CallError(call, where);
    if (!call.parser || !call.done) {
      call.error = beast::error::timeout;
      return CallError(call, where);
    }
    auto& res = call.parser->get();
    HttpClientResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = call.bulk_body ? std::move(*call.bulk_body) : std::move(res.body());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace(std::move(name), std::string(field.value()));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Internal(where + ": " + e.what());
  }
}

Result<HttpClientResponse> HttpGet(std::string_view url, const HttpClientOptions& options) {
  return HttpFetch("GET", url, "", "application/json", options);
}

Result<HttpClientResponse> HttpPostJson(std::string_view url, const nlohmann::json& body,
                                        const HttpClientOptions& options) {
  return HttpFetch("POST", url, body.dump(), "application/json", options);
}

}  // namespace fedledger::net
