// The Beast-free half of http_server.h: requests, responses, routing and target parsing.
#include <algorithm>
#include <cassert>

#include "ledger/strict_json.h"
#include "net/http_server.h"

namespace fedledger::net {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  // "/a/b/" -> {"a", "b", ""}; "/" -> {""}.
  std::vector<std::string> out;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.emplace_back(path.substr(start));
      return out;
    }
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size() || HexValue(in[i + 1]) < 0 || HexValue(in[i + 2]) < 0) {
        return Status::InvalidArgument("bad percent-encoding in request target");
      }
      char d = static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      if (d == '\0') return Status::InvalidArgument("NUL byte in request target");
      out->push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return Status::Ok();
}

}  // namespace

const std::string& HttpRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::optional<std::string> HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Status HttpRequest::OnlyQuery(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : query) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string list;
    for (std::string_view n : known) list += (list.empty() ? "" : ", ") + std::string(n);
    return Status::InvalidArgument("unknown query parameter '" + k + "' (" +
                                   (list.empty() ? "this path takes none" : "expected " + list) +
                                   ")");
  }
  return Status::Ok();
}

std::optional<std::string> HttpRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Result<nlohmann::json> HttpRequest::JsonBody() const { return ParseJsonStrict(body, "body"); }

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  // Replace invalid UTF-8 rather than throw: a response must always be producible.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse HttpResponse::Error(int status, std::string reason) {
  return Json(status, nlohmann::json{{"error", std::move(reason)}});
}

HttpResponse HttpResponse::FromStatus(const Status& s) {
  using C = Status::Code;
  int code = 500;
  switch (s.code()) {
    case C::kOk: return Json(200, nlohmann::json::object());
    case C::kInvalidArgument: code = 400; break;
    case C::kNotFound: code = 404; break;
    case C::kAlreadyExists: code = 409; break;
    case C::kPermissionDenied: code = 403; break;
    case C::kFailedPrecondition: code = 412; break;
    case C::kResourceExhausted: code = 429; break;
    case C::kUnavailable: code = 503; break;
    default: code = 500; break;
  }
  return Error(code, s.message());
}

void Router::Add(std::string method, std::string pattern, HttpHandler handler) {
  assert(!pattern.empty() && pattern[0] == '/');
  Route r{std::move(method), SplitPath(pattern), std::move(handler)};
  for (size_t i = 0; i + 1 < r.segments.size(); ++i) {
    assert(r.segments[i] != "*" && "'*' only as the last segment");
  }
  routes_.push_back(std::move(r));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match result = FindExact(method, path);
  if (result.kind != Match::Kind::kMethodNotAllowed) return result;
  bool get = std::find(result.allowed.begin(), result.allowed.end(), "GET") != result.allowed.end();
  if (!get) return result;
  // HEAD is GET without the body (RFC 9110 9.3.2): a GET route answers it unless a HEAD route
  // for the path was registered. The server drops the body and keeps the headers.
  if (method == "HEAD") return FindExact("GET", path);
  if (std::find(result.allowed.begin(), result.allowed.end(), "HEAD") == result.allowed.end()) {
    result.allowed.insert(std::find(result.allowed.begin(), result.allowed.end(), "GET") + 1,
                          "HEAD");
  }
  return result;
}

Router::Match Router::FindExact(std::string_view method, std::string_view path) const {
  Match result;
  if (path.empty() || path[0] != '/') return result;
  std::vector<std::string> segs = SplitPath(path);
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    bool ok = true;
    size_t i = 0;
    for (; i < r.segments.size(); ++i) {
      const std::string& p = r.segments[i];
      if (p == "*" && i + 1 == r.segments.size()) {
        std::string rest;
        for (size_t j = i; j < segs.size(); ++j) rest += (j > i ? "/" : "") + segs[j];
        params["*"] = rest;
        i = segs.size();
        break;
      }
      if (i >= segs.size()) {
        ok = false;
        break;
      }
      if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
        if (segs[i].empty()) {
          ok = false;
          break;
        }
        params[p.substr(1, p.size() - 2)] = segs[i];
      } else if (p != segs[i]) {
        ok = false;
        break;
      }
    }
    if (!ok || i != segs.size()) continue;
    if (r.method != method) {
      bool seen = false;
      for (const auto& a : result.allowed) seen |= (a == r.method);
      if (!seen) result.allowed.push_back(r.method);
      continue;
    }
    result.kind = Match::Kind::kFound;
    result.handler = &r.handler;
    result.params = std::move(params);
    result.allowed.clear();
    return result;
  }
  if (!result.allowed.empty()) result.kind = Match::Kind::kMethodNotAllowed;
  return result;
}

Status ParseTarget(std::string_view target, std::string* path,
                   std::map<std::string, std::string>* query) {
  if (target.empty() || target[0] != '/') {
    return Status::InvalidArgument("request target must start with '/'");
  }
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  size_t hash = raw_path.find('#');
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  FL_TRY(PercentDecode(raw_path, false, path));
  query->clear();
  if (q == std::string_view::npos) return Status::Ok();
  std::string_view rest = target.substr(q + 1);
  size_t frag = rest.find('#');
  if (frag != std::string_view::npos) rest = rest.substr(0, frag);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string k, v;
    FL_TRY(PercentDecode(pair.substr(0, eq), true, &k));
    if (eq != std::string_view::npos) FL_TRY(PercentDecode(pair.substr(eq + 1), true, &v));
    query->emplace(std::move(k), std::move(v));  // first one wins
  }
  return Status::Ok();
}

}  // namespace fedledger::net
