// The Beast half of http_server.h. Shape follows Beast's advanced server example: a Listener
// accepting onto fresh strands, one Session per connection with do_x/on_x pairs.
#include "net/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/read.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cassert>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "ledger/thread_name.h"

namespace fedledger::net {
namespace {

// Bodies at least this large with a Content-Length are read in bulk (Session::DoReadBulkBody).
constexpr uint64_t kBulkBody = 1 << 20;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session;

// State shared by the server, its sessions and outstanding Responders; outlives all of them.
struct Shared {
  explicit Shared(HttpServerOptions o) : opts(std::move(o)) {}
  const HttpServerOptions opts;
  Router router;  // immutable after Start()

  // Guards `stopped` against Responder::Send: after Stop() sets it, nothing is posted.
  std::mutex responder_mu;
  bool stopped = false;

  std::mutex sessions_mu;
  bool closing = false;  // under sessions_mu
  std::map<Session*, std::weak_ptr<Session>> sessions;

  void Log(LogLevel level, const std::string& line) const {
    if (opts.log) opts.log(level, "component=http " + line);
  }
};

constexpr size_t kReadBufferBytes = 4096;  // per connection

bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

std::string Endpoint(const tcp::socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)),
        shared_(std::move(shared)),
        handler_timer_(stream_.get_executor()),
        remote_(Endpoint(stream_.socket())) {
    // Beast reads max(512, free capacity) bytes at a time, and a buffer that starts empty
    // stays at 512 bytes: the parser consumes each body as it goes, so the buffer never has
    // to grow. A submission (~570 bytes) then took two recvmsg calls, plus the one that
    // finds the socket empty. Room for a typical request reads it in one.
    buffer_.reserve(kReadBufferBytes);
  }

  ~Session() {
    std::lock_guard<std::mutex> lock(shared_->sessions_mu);
    shared_->sessions.erase(this);
  }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::DoReadHeader, shared_from_this()));
  }

  // Thread-safe: closes the connection from the session's strand.
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->DoForceClose(); });
  }

  // Thread-safe: delivers a handler's response for request `generation`.
  void PostResponse(uint64_t generation, HttpResponse response) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), generation, r = std::move(response)]() mutable {
                 self->OnHandlerResponse(generation, std::move(r));
               });
  }

 private:
  const HttpServerOptions& opts() const { return shared_->opts; }

  void DoReadHeader() {
    if (closed_) return;
    head_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts().header_limit));
    // The header parser refuses a Content-Length above the limit it was given, so start from
    // the largest limit and narrow it to the route's once the target is known.
    size_t widest = opts().body_limit;
    for (const auto& [prefix, limit] : opts().body_limit_by_prefix) widest = std::max(widest, limit);
    parser_->body_limit(widest);
    body_limit_ = widest;
    stream_.expires_after(opts().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    body_limit_ = opts().body_limit;
    for (const auto& [prefix, limit] : opts().body_limit_by_prefix) {
      if (std::string_view(req.target().data(), req.target().size()).starts_with(prefix)) {
        body_limit_ = limit;
        break;
      }
    }
    if (parser_->content_length() && *parser_->content_length() > body_limit_) {
      return OnReadError(http::error::body_limit);
    }
    parser_->body_limit(body_limit_);
    if (!parser_->is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      stream_.expires_after(opts().write_timeout);
      return http::async_write(stream_, *continue_,
                               beast::bind_front_handler(&Session::OnWriteContinue,
                                                         shared_from_this()));
    }
    DoReadBody();
  }

  void OnWriteContinue(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) return DoForceClose();
    DoReadBody();
  }

  void DoReadBody() {
    auto length = parser_->content_length();
    if (length && *length >= kBulkBody && !parser_->chunked()) return DoReadBulkBody(*length);
    stream_.expires_after(opts().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  // A large body of known length (a round artifact: tens of MB) is read with one composed
  // read on the socket straight into the body string. The parser's path reads at most 64 KiB
  // per operation and re-arms the stream's timer (two timerfd syscalls) for each, which cost
  // ~0.25 s per 33 MB upload here; this reads what the socket holds each time under one
  // deadline. `length` was checked against the route's limit with the header.
  void DoReadBulkBody(uint64_t length) {
    bulk_body_.resize(length);
    size_t have = asio::buffer_copy(asio::buffer(bulk_body_), buffer_.data());
    buffer_.consume(have);
    stream_.expires_never();
    bulk_timer_.expires_after(opts().body_timeout);
    bulk_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) {
        beast::error_code ignored;
        self->stream_.socket().cancel(ignored);
        self->bulk_timed_out_ = true;
      }
    });
    asio::async_read(stream_.socket(), asio::buffer(bulk_body_.data() + have, length - have),
                     beast::bind_front_handler(&Session::OnReadBulkBody, shared_from_this()));
  }

  void OnReadBulkBody(beast::error_code ec, std::size_t) {
    bulk_timer_.cancel();
    if (closed_) return;
    if (bulk_timed_out_) ec = beast::error::timeout;
    if (ec) {
      bulk_body_.clear();
      if (ec == asio::error::eof) ec = http::error::partial_message;
      return OnReadError(ec);
    }
    Dispatch(parser_->release(), std::move(bulk_body_));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == http::error::end_of_stream) return DoGracefulClose();
    if (ec == beast::error::timeout) {
      shared_->Log(LogLevel::kDebug, "event=read_timeout remote=" + remote_);
      return DoForceClose();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return WriteResponse(HttpResponse::Error(
          413, "request body exceeds " + std::to_string(body_limit_) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return WriteResponse(HttpResponse::Error(
          431, "request header exceeds " + std::to_string(opts().header_limit) + " bytes"));
    }
    if (IsParseError(ec) && ec != http::error::partial_message) {
      shared_->Log(LogLevel::kDebug, "event=bad_request remote=" + remote_ +
                                         " reason=" + LogQuote(ec.message()));
      return WriteResponse(HttpResponse::Error(400, "malformed request: " + ec.message()));
    }
    DoForceClose();  // reset, partial message, ...
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    http::request<http::string_body> msg = parser_->release();
    std::string body = std::move(msg.body());
    Dispatch(std::move(msg), std::move(body));
  }

  void Dispatch(http::request<http::string_body> msg, std::string body) {
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();

    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote = remote_;
    Status st = ParseTarget(req.target, &req.path, &req.query);
    if (!st.ok()) {
      keep_alive_ = false;
      return WriteResponse(HttpResponse::Error(400, "malformed request: " + st.message()));
    }
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers.emplace(std::move(name), std::string(field.value()));
    }
    req.body = std::move(body);

    Router::Match m = shared_->router.Find(req.method, req.path);
    if (m.kind == Router::Match::Kind::kNotFound) {
      return WriteResponse(HttpResponse::Error(404, "no route for " + req.method + " " + req.path));
    }
    if (m.kind == Router::Match::Kind::kMethodNotAllowed) {
      std::string allow;
      for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
      HttpResponse r = HttpResponse::Error(405, "method " + req.method + " not allowed on " +
                                                    req.path + " (allowed: " + allow + ")");
      r.headers.emplace_back("Allow", allow);
      return WriteResponse(std::move(r));
    }
    req.params = std::move(m.params);

    ++generation_;
    awaiting_ = true;
    handler_timer_.expires_after(opts().handler_timeout);
    handler_timer_.async_wait(beast::bind_front_handler(&Session::OnHandlerTimeout,
                                                        shared_from_this(), generation_));
    std::shared_ptr<Responder::Impl> impl = MakeResponder(generation_);
    responder_ = impl;
    Responder responder(std::move(impl));
    try {
      (*m.handler)(req, responder);
    } catch (const std::exception& e) {
      shared_->Log(LogLevel::kError, "event=handler_exception path=" + LogQuote(req.path) +
                                         " what=" + LogQuote(e.what()));
      responder.Send(HttpResponse::Error(500, "internal error"));
    } catch (...) {
      responder.Send(HttpResponse::Error(500, "internal error"));
    }
  }

  std::shared_ptr<Responder::Impl> MakeResponder(uint64_t generation);

  void OnHandlerTimeout(uint64_t generation, beast::error_code ec);

  void OnHandlerResponse(uint64_t generation, HttpResponse r) {
    if (closed_ || !awaiting_ || generation != generation_) return;
    awaiting_ = false;
    handler_timer_.cancel();
    WriteResponse(std::move(r));
  }

  void WriteResponse(HttpResponse r) {
    if (r.status < 100 || r.status > 999) r = HttpResponse::Error(500, "bad status from handler");
    stream_.expires_after(opts().write_timeout);
    if (r.shared_body) {
      shared_res_.emplace(static_cast<http::status>(r.status), version_);
      auto& m = *shared_res_;
      m.set(http::field::server, opts().server_name);
      m.set(http::field::content_type, r.content_type);
      for (auto& [k, v] : r.headers) m.set(k, v);
      shared_hold_ = std::move(r.shared_body);
      m.body() = http::span_body<const char>::value_type(shared_hold_->data(), shared_hold_->size());
      m.keep_alive(keep_alive_);
      m.prepare_payload();
      if (head_) {
        m.body() = {};
        m.content_length(shared_hold_->size());
      }
      return http::async_write(stream_, m,
                               beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
    }
    res_.emplace(static_cast<http::status>(r.status), version_);
    res_->set(http::field::server, opts().server_name);
    res_->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res_->set(k, v);
    res_->body() = std::move(r.body);
    res_->keep_alive(keep_alive_);
    res_->prepare_payload();
    if (head_) {
      // The headers GET would send, Content-Length included, and no body (the serializer
      // writes the body it holds, not what Content-Length says).
      const size_t length = res_->body().size();
      res_->body().clear();
      res_->content_length(length);
    }
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) return DoForceClose();
    bool keep = res_ ? res_->keep_alive() : shared_res_->keep_alive();
    res_.reset();
    shared_res_.reset();
    shared_hold_.reset();
    if (!keep) return DoGracefulClose();
    DoReadHeader();
  }

  // Half-close, then read and discard what the client still sends (briefly), so that the
  // kernel does not answer unread data with a RST that would destroy our response.
  void DoGracefulClose() {
    if (closed_) return;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(1));
    DoDrain();
  }

  void DoDrain() {
    stream_.async_read_some(asio::buffer(drain_),
                            beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, std::size_t n) {
    if (closed_) return;
    drained_ += n;
    if (ec || drained_ > (1u << 20)) return DoForceClose();
    DoDrain();
  }

  void DoForceClose() {
    if (closed_) return;
    closed_ = true;
    awaiting_ = false;
    handler_timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Shared> shared_;
  asio::steady_timer handler_timer_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::span_body<const char>>> shared_res_;
  std::shared_ptr<const std::string> shared_hold_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;  // the request being answered is a HEAD: send no body
  bool awaiting_ = false;
  bool closed_ = false;
  size_t body_limit_ = 0;
  std::string bulk_body_;
  asio::steady_timer bulk_timer_{stream_.get_executor()};
  bool bulk_timed_out_ = false;  // of the request being read (body_limit or a prefix limit)
  uint64_t generation_ = 0;
  std::weak_ptr<Responder::Impl> responder_;  // of the request being handled
  std::array<char, 4096> drain_;
  size_t drained_ = 0;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<Shared> shared)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), shared_(std::move(shared)) {}

  Status Open(const tcp::endpoint& ep) {
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("http listen on " + ep.address().to_string() + ":" +
                                 std::to_string(ep.port()) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return Status::Ok();
  }
  uint16_t port() const { return port_; }

  void DoAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void Close() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      shared_->Log(LogLevel::kWarn, "event=accept_failed reason=" + LogQuote(ec.message()));
      return DoAccept();
    }
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(shared_->sessions_mu);
      if (shared_->closing) return;
      if (shared_->sessions.size() >= shared_->opts.max_connections) {
        shared_->Log(LogLevel::kWarn, "event=connection_refused reason=\"too many connections\"");
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        session = std::make_shared<Session>(std::move(socket), shared_);
        shared_->sessions.emplace(session.get(), session);
      }
    }
    if (session) session->Run();
    DoAccept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
  uint16_t port_ = 0;
};

}  // namespace

struct Responder::Impl {
  Impl(std::shared_ptr<Shared> s, std::weak_ptr<Session> w, uint64_t g)
      : shared(std::move(s)), session(std::move(w)), generation(g) {}
  ~Impl() { Deliver(HttpResponse::Error(500, "handler did not respond")); }

  bool Deliver(HttpResponse r) {
    if (sent.exchange(true)) return false;
    std::lock_guard<std::mutex> lock(shared->responder_mu);
    if (shared->stopped) return false;
    std::shared_ptr<Session> s = session.lock();
    if (!s) return false;
    s->PostResponse(generation, std::move(r));
    return true;
  }

  std::shared_ptr<Shared> shared;
  std::weak_ptr<Session> session;
  const uint64_t generation;
  std::atomic<bool> sent{false};
};

namespace {
std::shared_ptr<Responder::Impl> Session::MakeResponder(uint64_t generation) {
  return std::make_shared<Responder::Impl>(shared_, weak_from_this(), generation);
}

void Session::OnHandlerTimeout(uint64_t generation, beast::error_code ec) {
  if (ec || closed_ || !awaiting_ || generation != generation_) return;
  // The Responder's `sent` flag decides who answers: if the handler got there first (or the
  // Responder is gone, which answered 500), its response is already on its way here.
  std::shared_ptr<Responder::Impl> impl = responder_.lock();
  if (!impl || impl->sent.exchange(true)) return;
  awaiting_ = false;
  WriteResponse(HttpResponse::Error(503, "handler did not answer within " +
                                             std::to_string(opts().handler_timeout.count()) +
                                             " ms"));
}
}  // namespace

bool Responder::Send(HttpResponse response) const {
  return impl_ && impl_->Deliver(std::move(response));
}

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions o) : shared(std::make_shared<Shared>(std::move(o))) {}
  std::shared_ptr<Shared> shared;
  asio::io_context ioc;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  std::mutex run_mu;
  std::condition_variable run_cv;
  int running = 0;  // io threads still inside run(), under run_mu
  bool started = false;
  bool stopped = false;
  std::atomic<uint16_t> port{0};
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string pattern, HttpHandler handler) {
  assert(!impl_->started && "routes must be added before Start()");
  impl_->shared->router.Add(std::move(method), std::move(pattern), std::move(handler));
}

Status HttpServer::Start() {
  assert(!impl_->started);
  const HttpServerOptions& o = impl_->shared->opts;
  beast::error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) return Status::InvalidArgument("http listen address '" + o.address + "': " + ec.message());
  impl_->listener = std::make_shared<Listener>(impl_->ioc, impl_->shared);
  FL_TRY(impl_->listener->Open(tcp::endpoint(address, o.port)));
  impl_->port = impl_->listener->port();
  impl_->started = true;
  impl_->listener->DoAccept();
  int n = std::max(1, o.threads);
  impl_->running = n;
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      impl->ioc.run();
      std::lock_guard<std::mutex> lock(impl->run_mu);
      --impl->running;
      impl->run_cv.notify_all();
    });
    NameThread(impl_->threads.back(), "fl-http");
    ScheduleAsBatch(impl_->threads.back());
  }
  impl_->shared->Log(LogLevel::kInfo, "event=listening address=" + o.address +
                                          " port=" + std::to_string(impl_->port.load()));
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

void HttpServer::Stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  {
    std::lock_guard<std::mutex> lock(impl_->shared->responder_mu);
    impl_->shared->stopped = true;
  }
  impl_->listener->Close();
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->shared->sessions_mu);
    impl_->shared->closing = true;
    for (auto& [ptr, weak] : impl_->shared->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Close();
  live.clear();
  // Every socket and timer is now closing, so run() returns once their handlers drain; if
  // something still holds work after a grace period, stop the loop outright.
  {
    std::unique_lock<std::mutex> lock(impl_->run_mu);
    if (!impl_->run_cv.wait_for(lock, std::chrono::seconds(2),
                                [&] { return impl_->running == 0; })) {
      impl_->ioc.stop();
    }
  }
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->shared->Log(LogLevel::kInfo, "event=stopped");
}

}  // namespace fedledger::net
