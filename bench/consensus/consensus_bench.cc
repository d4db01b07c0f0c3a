// consensus_bench: committed entries per second and commit latency (submit to committed, as
// the client sees it) for a 4-validator fedledger testnet on loopback, under a closed-loop
// load generator at several concurrencies; then the same client load against a 3-member etcd
// cluster (default fsync) in the same run, through etcd's HTTP/JSON gateway and through its
// native gRPC API, the systems taking turns at each level; then each at the same paced offered
// load (half of fedledger's best closed-loop rate).
//
// Each client does one request at a time: fedledger clients sign a DATASET_REGISTER entry with
// their own key (inline, as the request is made; with --presign, before the level starts, on
// all cores, for up to 12,000 entries/s: the partners' clients sign on their own machines and
// etcd's clients send prepared bytes) and POST it with wait=true (answered when
// committed); etcd clients PUT a value of the same size (the entry's bytes) under a fresh key,
// through the gateway (JSON, base64 value) or as a gRPC KV.Put over HTTP/2 (--no-etcd-grpc
// skips that). One request per entry on both, over the same client code, each client on its
// own keep-alive connection (HTTP/1.1, or HTTP/2 for gRPC; reconnecting after an error), as a
// real client library would. By default 2 event-loop threads (--client-threads N) drive all the clients'
// connections, as load generators do; --thread-per-client makes each client a blocking OS
// thread instead (the earlier mode, whose 250 threads cost both systems kernel switches), and
// --new-connection (implies it) opens a new TCP connection per request on both.
// Each row also gives the CPU time (user + system) per completed request, of the servers (all
// validators, or all etcd members) and of the client process, which a shared machine's other
// load moves far less than the rates. After each fedledger level, the validators' share of
// it by thread name (fl-consensus, fl-peer, fl-http, ...), node1's frames per block, and where
// node1's heights spent their time (to its prevote, to its precommit, to the commit, and the
// store's synced writes inside that).
// --signature-limit also measures, in the same run, how many entry signatures per second
// this machine verifies on all its cores, one at a time and in batches of 32 (the ceiling for
// 4 validators that each verify every entry once is a quarter of it).
//
//   consensus_bench [--concurrency 4,16,64] [--seconds 8] [--warmup 2] [--etcd /usr/bin/etcd]
//                   [--fedledger PATH] [--no-etcd] [--no-fedledger] [--new-connection]
//                   [--paced RATE] [--signature-limit] [--client-threads N]
//                   [--thread-per-client] [--presign] [--no-etcd-grpc] [--no-paced]
//                   [--freeze-idle] [--latency-log FILE] [--system-log FILE]
// --no-paced skips the paced level (A/B runs of the closed levels only).
// --freeze-idle stops (SIGSTOP) the system not being measured for the length of each level
// and continues it after, so that its idle work (timers, garbage collection, compactions
// after the load it just took) does not run on the measured system's cores.
// --latency-log FILE writes every request completed in a measured window, one line each:
// system, level, start (Unix time, ms), latency (ms). A tail that sits in a few windows of the
// run (a stall) reads differently from one spread over it.
// --system-log FILE writes, every ~20 ms of each measured window, the machine's CPU counters
// and those of the disk under the benchmark's files, one line each: system, level, Unix time
// (ms), /proc/stat's cpu fields (user nice system idle iowait irq softirq steal, in ticks) and
// /proc/diskstats's fields of that disk after its name (reads ... writes completed, merged,
// sectors, ms ... flushes completed, ms; none if the files sit on no disk, as on tmpfs).
// Counters are cumulative. A stall in which no write or flush completes (every validator
// stuck computing) reads differently from one with the disk busy.
// --fedledger PATH: another build's `fedledger` (its `fedledger-ml` must sit beside it: the
// nodes run there).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ledger/entry.h"
#include "net/http_client.h"
#include "net/process_metrics.h"

using namespace fedledger;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

int Run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string Base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Takes one whole HTTP/1.1 response off the front of `buf`: 1 when one was complete (its
// status and keep-alive in *status, *keep), 0 when more bytes are needed, -1 when malformed.
int TakeResponse(std::string* buf, int* status, bool* keep, std::string* body_out = nullptr) {
  size_t end = buf->find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::string head = buf->substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head.size() < 12 || head.rfind("http/1.", 0) != 0) return -1;
  size_t body = end + 4;
  size_t cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    size_t len = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    if (buf->size() < body + len) return 0;
    body += len;
  } else if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    for (;;) {  // chunked: size line, data, CRLF; a zero-size chunk ends it (no trailers here)
      size_t eol = buf->find("\r\n", body);
      if (eol == std::string::npos) return 0;
      size_t len = std::strtoul(buf->c_str() + body, nullptr, 16);
      if (buf->size() < eol + 2 + len + 2) return 0;
      body = eol + 2 + len + 2;
      if (len == 0) break;
    }
  } else {
    return -1;
  }
  *status = std::atoi(head.c_str() + 9);
  *keep = head.find("\r\nconnection: close") == std::string::npos;
  if (body_out) *body_out = buf->substr(end + 4, body - end - 4);
  buf->erase(0, body);
  return 1;
}

// "HTTP 504: not committed yet (...)": the status and the reason a fedledger node gives in
// its JSON answer, with numbers replaced by N so that errors of one kind count together.
std::string ErrorKind(int status, const std::string& body) {
  std::string kind = "HTTP " + std::to_string(status);
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) return kind;
  std::string reason;
  for (char c : j["error"].get<std::string>()) {
    bool digit = std::isdigit(static_cast<unsigned char>(c));
    if (!digit) reason += c;
    else if (reason.empty() || reason.back() != 'N') reason += 'N';
  }
  return kind + ": " + reason;
}

bool SplitUrl(const std::string& url, std::string* host, int* port, std::string* path) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  size_t slash = url.find('/', scheme.size());
  std::string hp = url.substr(scheme.size(), slash - scheme.size());
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) return false;
  *host = hp.substr(0, colon);
  *port = std::atoi(hp.c_str() + colon + 1);
  return true;
}

std::string PostRequest(const std::string& host, int port, const std::string& path,
                        const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
         "\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Just enough HTTP/2 (RFC 9113) for unary gRPC calls over cleartext, one call at a time per
// connection, as the HTTP/1.1 clients do one request at a time. Requests use HPACK literals
// only (RFC 7541: static-table names, no dynamic table, no Huffman), so no encoder state is
// kept; responses' header blocks are never decoded: a call succeeded when its stream carried a
// response message (DATA) before it ended, and failed when it ended without one (gRPC's
// "trailers-only" error answer) or was reset.
namespace h2 {
constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kPing = 0x6,
                  kGoAway = 0x7, kWindowUpdate = 0x8;
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4;
constexpr uint32_t kBigWindow = 1u << 30;

void Frame(std::string* out, uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  size_t n = payload.size();
  const char head[9] = {static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n),
                        static_cast<char>(type), static_cast<char>(flags),
                        static_cast<char>(stream >> 24), static_cast<char>(stream >> 16),
                        static_cast<char>(stream >> 8), static_cast<char>(stream)};
  out->append(head, 9);
  out->append(payload);
}
uint32_t ReadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
std::string U32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
// The connection preface, our SETTINGS (INITIAL_WINDOW_SIZE: responses never wait for a stream
// window update) and a connection window as large.
std::string Preface() {
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  Frame(&out, kSettings, 0, 0, std::string("\x00\x04", 2) + U32(kBigWindow));
  Frame(&out, kWindowUpdate, 0, 0, U32(kBigWindow - 65535));
  return out;
}
// An HPACK string literal, not Huffman-coded (lengths here stay below 127).
std::string Str(const std::string& s) { return static_cast<char>(s.size()) + s; }
// HEADERS and DATA of one unary call on `stream`; the DATA payload's size in *data_bytes.
std::string Call(uint32_t stream, const std::string& authority, const std::string& path,
                 const std::string& message, size_t* data_bytes) {
  std::string block;
  block += '\x83';                   // :method POST (static index 3)
  block += '\x86';                   // :scheme http (6)
  block += '\x04' + Str(path);       // :path, literal without indexing, name index 4
  block += '\x01' + Str(authority);  // :authority (1)
  block += std::string("\x0f\x10", 2) + Str("application/grpc");  // content-type (31)
  block += '\x00' + Str("te") + Str("trailers");
  std::string data = '\x00' + U32(static_cast<uint32_t>(message.size())) + message;
  std::string out;
  Frame(&out, kHeaders, kEndHeaders, stream, block);
  Frame(&out, kData, kEndStream, stream, data);
  *data_bytes = data.size();
  return out;
}
}  // namespace h2

// A protobuf length-delimited field (wire type 2).
std::string ProtoBytes(int field, const std::string& v) {
  std::string out(1, static_cast<char>((field << 3) | 2));
  for (uint64_t n = v.size(); ; n >>= 7) {
    if (n < 0x80) {
      out += static_cast<char>(n);
      break;
    }
    out += static_cast<char>((n & 0x7f) | 0x80);
  }
  return out + v;
}

// A minimal blocking HTTP/1.1 client over one keep-alive connection (loopback "http://host:port"
// URLs only). Used for both systems, so neither pays a TCP handshake per request unless
// --new-connection asks for it.
class KeepAliveClient {
 public:
  ~KeepAliveClient() { Close(); }
  // POSTs `body` (JSON) to `url`; true with the status in *status when an answer arrived.
  bool Post(const std::string& url, const std::string& body, int timeout_ms, int* status) {
    std::string host, path;
    int port = 0;
    if (!SplitUrl(url, &host, &port, &path)) return false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool fresh = false;
      if (fd_ < 0 || host != host_ || port != port_) {
        Close();
        if (!Connect(host, port)) return false;
        fresh = true;
      }
      std::string req = PostRequest(host, port, path, body);
      bool keep = true;
      if (SendAll(req, timeout_ms) && ReadResponse(timeout_ms, status, &keep)) {
        if (!keep) Close();
        return true;
      }
      Close();
      if (fresh) return false;  // a stale pooled connection gets one retry on a new one
    }
    return false;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

 private:
  bool Connect(const std::string& host, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    host_ = host;
    port_ = port;
    return true;
  }
  bool Wait(short events, int timeout_ms) {
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }
  bool SendAll(const std::string& data, int timeout_ms) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!Wait(POLLOUT, timeout_ms)) return false;
      } else {
        return false;
      }
    }
    return true;
  }
  bool Fill(int timeout_ms) {
    if (!Wait(POLLIN, timeout_ms)) return false;
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool ReadResponse(int timeout_ms, int* status, bool* keep) {
    for (;;) {
      int r = TakeResponse(&buf_, status, keep);
      if (r != 0) return r > 0;
      if (!Fill(timeout_ms)) return false;
    }
  }
  int fd_ = -1;
  std::string host_;
  int port_ = 0;
  std::string buf_;
};

// One request of either system: where it is POSTed and its JSON body. Answered 200 when the
// entry is committed (fedledger, wait=true) or the value stored (etcd).
struct Request {
  std::string url;
  std::string body;
  // A gRPC call instead (etcd's native API): `url` is http://host:port/package.Service/Method
  // and `body` the serialized protobuf message, sent over HTTP/2 without TLS.
  bool grpc = false;
};
using MakeRequestFn = std::function<Request(int client, uint64_t seq)>;

// How the clients are run. By default a few event-loop threads (--client-threads) each drive
// their share of the clients' connections, as a load generator (wrk, etcd's own benchmark
// tool with its goroutines) does: the client costs the machine little, and what it costs is
// the same for both systems. --thread-per-client runs each client as a blocking OS thread
// (the earlier mode: 250 threads that the kernel switches between on every request).
struct Transport {
  bool new_connection = false;
  int event_threads = 2;                  // 0: one blocking thread per client
  int groups = 0;  // clients c and c + groups share an event thread (and a fedledger key)
  std::vector<KeepAliveClient> clients;  // thread-per-client mode: one per client
  bool Post(int client, const Request& r) {
    if (new_connection) {
      net::HttpClientOptions o;
      o.timeout = std::chrono::milliseconds(10000);
      auto res = net::HttpFetch("POST", r.url, r.body, "application/json", o);
      return res.ok() && res->status == 200;
    }
    int status = 0;
    return clients[client].Post(r.url, r.body, 10000, &status) && status == 200;
  }
};

struct Measure {
  std::string system;
  std::string mode;  // "closed c=16" or "paced 1200/s"
  double rate = 0;   // completed (committed) per second in the window
  double p50 = 0, p99 = 0, mean = 0;  // ms
  uint64_t ok = 0, errors = 0;
  std::map<std::string, uint64_t> error_kinds;
  // CPU time (user + system) per completed request inside the measured window: of the server
  // processes (all validators or all etcd members) and of this client process. Unlike the
  // rates, these barely move with the load other users put on a shared machine.
  double server_cpu_us = 0, client_cpu_us = 0;
  // The servers' CPU per completed request by thread name, summed over the servers
  // (fedledger names its threads fl-consensus, fl-peer, fl-http, ...).
  std::map<std::string, double> server_thread_us;
  // With --latency-log: (start in Unix ms, latency in ms) of every completed request.
  std::vector<std::pair<double, double>> samples;
  // With --system-log: the window's samples of the machine's counters (SystemSample).
  std::vector<std::string> system_samples;
};

// utime + stime of process `pid` (all its threads, exited ones too) in microseconds.
double CpuMicros(pid_t pid) {
  return net::ProcStatCpuSeconds("/proc/" + std::to_string(pid) + "/stat") * 1e6;
}

double CpuMicros(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += CpuMicros(p);
  return sum;
}

// utime + stime in microseconds of the live threads of `pids`, summed by thread name.
std::map<std::string, double> CpuMicrosByThread(const std::vector<pid_t>& pids) {
  std::map<std::string, double> out;
  for (pid_t p : pids) {
    for (const auto& [name, s] : net::ThreadCpuSecondsByName(std::to_string(p))) out[name] += s * 1e6;
  }
  return out;
}

// --latency-log FILE: every request completed in a measured window, one line each.
FILE* g_latency_log = nullptr;
// --system-log FILE, and the "MAJOR MINOR " that starts the benchmark disk's /proc/diskstats
// line.
FILE* g_system_log = nullptr;
std::string g_system_disk;

// Unix ms, /proc/stat's cpu fields and the benchmark disk's diskstats fields, tab-separated.
std::string SystemSample() {
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f",
                std::chrono::duration<double, std::milli>(
                    std::chrono::system_clock::now().time_since_epoch()).count());
  std::string cpu, disk, line;
  std::ifstream stat("/proc/stat");
  std::getline(stat, cpu);  // "cpu  user nice system idle iowait irq softirq steal ..."
  std::istringstream c(cpu);
  std::string field;
  c >> field;  // "cpu"
  cpu.clear();
  for (int i = 0; i < 8 && c >> field; ++i) cpu += (i ? " " : "") + field;
  std::ifstream diskstats("/proc/diskstats");
  while (std::getline(diskstats, line)) {
    std::istringstream d(line);
    std::string major, minor, name;
    d >> major >> minor >> name;
    if (major + " " + minor + " " != g_system_disk) continue;
    for (bool first = true; d >> field; first = false) disk += (first ? "" : " ") + field;
    break;
  }
  return std::string(ms) + "\t" + cpu + "\t" + disk;
}

// Latencies (ms) of the requests that completed inside the measured window, and the errors
// there, of one driving thread.
struct Tally {
  std::vector<double> lat;
  std::vector<double> start_unix_ms;  // beside `lat`, with --latency-log only
  uint64_t errors = 0;
  std::map<std::string, uint64_t> error_kinds;  // "HTTP 409", "connection", "gRPC", ...

  void Done(Clock::time_point start, Clock::time_point end) {
    lat.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (!g_latency_log) return;
    auto now = Clock::now();
    auto wall = std::chrono::system_clock::now().time_since_epoch();
    start_unix_ms.push_back(std::chrono::duration<double, std::milli>(wall - (now - start)).count());
  }

  void Error(const std::string& kind) {
    ++errors;
    ++error_kinds[kind];
  }
};

Measure Summarize(const std::vector<Tally>& tallies, double seconds, double server_us,
                  double client_us) {
  std::vector<double> all;
  Measure r;
  for (const Tally& t : tallies) {
    all.insert(all.end(), t.lat.begin(), t.lat.end());
    for (size_t i = 0; i < t.start_unix_ms.size(); ++i) r.samples.emplace_back(t.start_unix_ms[i], t.lat[i]);
    r.errors += t.errors;
    for (const auto& [kind, n] : t.error_kinds) r.error_kinds[kind] += n;
  }
  std::sort(all.begin(), all.end());
  r.ok = all.size();
  if (r.ok > 0) {
    r.server_cpu_us = server_us / static_cast<double>(r.ok);
    r.client_cpu_us = client_us / static_cast<double>(r.ok);
  }
  r.rate = all.size() / seconds;
  if (!all.empty()) {
    r.p50 = all[all.size() / 2];
    r.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    double sum = 0;
    for (double v : all) sum += v;
    r.mean = sum / all.size();
  }
  return r;
}

// The event-loop clients of one thread: each client is one keep-alive connection (non-blocking,
// edge-triggered epoll) with at most one request in flight, exactly as a blocking client
// thread would do it.
class EventClients {
 public:
  EventClients(std::vector<int> ids, int all_clients, double rate_per_client,
               Clock::time_point w0, Clock::time_point w1, const MakeRequestFn& make)
      : make_(make), w0_(w0), w1_(w1), conns_(ids.size()) {
    auto now = Clock::now();
    if (rate_per_client > 0) {
      interval_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / rate_per_client));
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      conns_[k].client = ids[k];
      conns_[k].due = now + interval_ * ids[k] / all_clients;  // spread the paced phases
    }
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  }
  ~EventClients() {
    for (Conn& c : conns_) Close(c);
    if (ep_ >= 0) ::close(ep_);
  }

  // Runs until the window has ended and every request in flight has been answered (or has
  // failed, or taken 10 s).
  Tally Run(const std::atomic<bool>& stop) {
    epoll_event events[64];
    for (;;) {
      auto now = Clock::now();
      bool stopping = stop.load(std::memory_order_relaxed);
      bool busy = false;
      int wait_ms = 5;
      for (size_t k = 0; k < conns_.size(); ++k) {
        Conn& c = conns_[k];
        if (c.busy && now - c.start > std::chrono::seconds(10)) Fail(c, now, "no answer in 10 s");
        if (!c.busy && !stopping && now >= c.due) Start(k, now);
        busy = busy || c.busy;
        if (!c.busy && !stopping) {
          auto ms = std::chrono::ceil<std::chrono::milliseconds>(c.due - now).count();
          wait_ms = static_cast<int>(std::clamp<long>(ms, 0, wait_ms));
        }
      }
      if (stopping && !busy) break;
      int n = ::epoll_wait(ep_, events, 64, wait_ms);
      now = Clock::now();
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[i].data.u32];
        if (c.fd < 0) continue;
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) Flush(c, now);
        if (c.fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) Receive(c, now);
      }
    }
    return std::move(tally_);
  }

 private:
  struct Conn {
    int client = 0;
    int fd = -1;
    std::string target;  // "host:port" of the open connection
    std::string out, in;
    size_t sent = 0;
    bool busy = false;
    uint64_t seq = 0;
    Clock::time_point start, due;
    // HTTP/2 (gRPC) connections only.
    bool http2 = false;
    uint32_t stream = 0, next_stream = 1;  // the call in flight; the next stream id
    int64_t send_window = 65535;           // the connection's flow-control window for DATA
    uint64_t unacked = 0;                  // DATA bytes received since our last WINDOW_UPDATE
    bool got_message = false;              // the call in flight had a response message
  };

  void Start(size_t k, Clock::time_point now) {
    Conn& c = conns_[k];
    if (c.http2 && c.fd >= 0 && c.send_window < 4096) {
      // An HTTP/2 connection whose window the server has not opened again yet.
      c.due = std::max(c.due, now + std::chrono::milliseconds(1));
      return;
    }
    Request r = make_(c.client, c.seq++);
    std::string host, path;
    int port = 0;
    if (!SplitUrl(r.url, &host, &port, &path)) return Fail(c, now, "bad url");
    std::string target = host + ":" + std::to_string(port);
    if (c.fd >= 0 && c.target != target) Close(c);
    bool fresh = c.fd < 0;
    if (fresh && !Connect(c, k, host, port)) return Fail(c, now);
    c.target = target;
    if (r.grpc) {
      c.out.erase(0, c.sent);  // control frames not yet sent stay in front
      if (fresh) {
        c.http2 = true;
        c.out = h2::Preface() + c.out;
      }
      size_t data_bytes = 0;
      c.stream = c.next_stream;
      c.next_stream += 2;
      c.got_message = false;
      c.out += h2::Call(c.stream, target, path, r.body, &data_bytes);
      c.send_window -= static_cast<int64_t>(data_bytes);
    } else {
      c.out = PostRequest(host, port, path, r.body);
    }
    c.sent = 0;
    c.busy = true;
    c.start = now;
    if (interval_ != Clock::duration::zero()) c.due += interval_;
    Flush(c, now);
  }

  bool Connect(Conn& c, size_t k, const std::string& host, int port) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 ||
        (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 &&
         errno != EINPROGRESS)) {
      Close(c);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(k);
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      Close(c);
      return false;
    }
    return true;
  }

  void Flush(Conn& c, Clock::time_point now) {
    while (c.fd >= 0 && c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) {
        return;  // the next EPOLLOUT edge (connected, or room in the buffer) resumes it
      } else {
        return Fail(c, now);
      }
    }
  }

  void Receive(Conn& c, Clock::time_point now) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (!c.busy) return Close(c);  // an idle connection the server closed
      return Fail(c, now);  // closed by the server mid-request, or a socket error
    }
    if (c.http2) return ReceiveFrames(c, now);
    int status = 0;
    bool keep = true;
    std::string body;
    int r = TakeResponse(&c.in, &status, &keep, &body);
    if (r < 0 || (r > 0 && !c.busy)) return Fail(c, now, "malformed HTTP response");
    if (r == 0) return;
    Finish(c, now, status == 200 ? "" : ErrorKind(status, body));
    if (!keep) Close(c);
  }

  // HTTP/2: handles every whole frame received; answers SETTINGS and PING, keeps the flow
  // control windows open, and ends the call in flight when its stream ends.
  void ReceiveFrames(Conn& c, Clock::time_point now) {
    size_t pos = 0;
    bool reply = false;
    while (c.in.size() - pos >= 9) {
      const auto* b = reinterpret_cast<const uint8_t*>(c.in.data() + pos);
      size_t len = (size_t{b[0]} << 16) | (size_t{b[1]} << 8) | b[2];
      if (c.in.size() - pos < 9 + len) break;
      uint8_t type = b[3], flags = b[4];
      uint32_t stream = h2::ReadU32(b + 5) & 0x7fffffffu;
      std::string payload = c.in.substr(pos + 9, len);
      pos += 9 + len;
      bool ours = c.stream != 0 && stream == c.stream;
      switch (type) {
        case h2::kData:
          c.unacked += len;
          if (ours && len > 5) c.got_message = true;  // a gRPC message: 5-byte prefix + body
          if (ours && (flags & h2::kEndStream)) EndCall(c, now, c.got_message ? "" : "gRPC call without a message");
          break;
        case h2::kHeaders:  // response headers, or the trailers that end the call
          if (ours && (flags & h2::kEndStream)) EndCall(c, now, c.got_message ? "" : "gRPC call without a message");
          break;
        case h2::kRstStream:
          if (ours) EndCall(c, now, "gRPC stream reset");
          break;
        case h2::kSettings:
          if (!(flags & h2::kAck)) {
            h2::Frame(&c.out, h2::kSettings, h2::kAck, 0, "");
            reply = true;
          }
          break;
        case h2::kPing:
          if (!(flags & h2::kAck)) {
            h2::Frame(&c.out, h2::kPing, h2::kAck, 0, payload);
            reply = true;
          }
          break;
        case h2::kGoAway:
          return Fail(c, now, "HTTP/2 GOAWAY");
        case h2::kWindowUpdate:
          if (stream == 0 && payload.size() == 4) {
            c.send_window += h2::ReadU32(reinterpret_cast<const uint8_t*>(payload.data())) & 0x7fffffffu;
          }
          break;
        default:
          break;
      }
    }
    c.in.erase(0, pos);
    if (c.unacked > (1u << 20)) {
      h2::Frame(&c.out, h2::kWindowUpdate, 0, 0, h2::U32(static_cast<uint32_t>(c.unacked)));
      c.unacked = 0;
      reply = true;
    }
    if (reply) Flush(c, now);
  }

  // `error` is empty for a call that succeeded, else what went wrong.
  void EndCall(Conn& c, Clock::time_point now, const std::string& error) {
    c.stream = 0;
    if (c.busy) Finish(c, now, error);
  }

  void Finish(Conn& c, Clock::time_point now, const std::string& error) {
    c.busy = false;
    if (now >= w0_ && now < w1_) {
      if (error.empty()) {
        tally_.Done(c.start, now);
      } else {
        tally_.Error(error);
      }
    }
    if (!error.empty()) c.due = std::max(c.due, now + std::chrono::milliseconds(5));
  }

  void Fail(Conn& c, Clock::time_point now, const std::string& why = "connection") {
    Close(c);
    if (c.busy) Finish(c, now, why);
    else c.due = std::max(c.due, now + std::chrono::milliseconds(5));
  }

  void Close(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);  // closing also takes it out of the epoll set
    c.fd = -1;
    c.in.clear();
    c.out.clear();
    c.sent = 0;
    c.http2 = false;
    c.stream = 0;
    c.next_stream = 1;
    c.send_window = 65535;
    c.unacked = 0;
  }

  const MakeRequestFn& make_;
  Clock::time_point w0_, w1_;
  Clock::duration interval_ = Clock::duration::zero();
  std::vector<Conn> conns_;
  int ep_ = -1;
  Tally tally_;
};

// Stops `pids` (SIGSTOP) for its lifetime: --freeze-idle.
class Frozen {
 public:
  explicit Frozen(std::vector<pid_t> pids) : pids_(std::move(pids)) {
    for (pid_t p : pids_) ::kill(p, SIGSTOP);
  }
  ~Frozen() {
    for (pid_t p : pids_) ::kill(p, SIGCONT);
  }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;

 private:
  std::vector<pid_t> pids_;
};

// `clients` clients; each does requests back to back (rate_per_client 0) or paced at
// rate_per_client requests/s (a request starts at its scheduled time or when the previous one
// ends, whichever is later). Latencies of requests completing inside the measured window.
Measure Drive(Transport& transport, int clients, double rate_per_client, double warmup_s,
              double seconds, const MakeRequestFn& make, const std::vector<pid_t>& servers) {
  std::atomic<bool> stop{false};
  auto t0 = Clock::now();
  auto w0 = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  auto w1 = w0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Tally> tallies;
  std::vector<std::thread> threads;
  if (transport.event_threads > 0 && !transport.new_connection) {
    int n = std::min(transport.event_threads, clients);
    tallies.resize(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&, t, n] {
        std::vector<int> ids;
        for (int c = 0; c < clients; ++c) {
          if ((transport.groups > 0 ? c % transport.groups : c) % n == t) ids.push_back(c);
        }
        EventClients loop(ids, clients, rate_per_client, w0, w1, make);
        tallies[static_cast<size_t>(t)] = loop.Run(stop);
      });
    }
  } else {
    tallies.resize(static_cast<size_t>(clients));
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        uint64_t seq = 0;
        auto next = Clock::now();
        auto interval = rate_per_client > 0
                            ? std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(1.0 / rate_per_client))
                            : Clock::duration::zero();
        if (rate_per_client > 0) next += interval * c / clients;  // spread the phases
        while (!stop) {
          if (rate_per_client > 0) {
            std::this_thread::sleep_until(next);
            next += interval;
          }
          auto s = Clock::now();
          bool ok = transport.Post(c, make(c, seq++));
          auto e = Clock::now();
          if (e >= w0 && e < w1) {
            if (ok) {
              tallies[c].Done(s, e);
            } else {
              tallies[c].Error("request failed");
            }
          }
          if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      });
    }
  }
  std::this_thread::sleep_until(w0);
  double server0 = CpuMicros(servers), client0 = CpuMicros(::getpid());
  auto threads0 = CpuMicrosByThread(servers);
  std::vector<std::string> system_samples;
  while (g_system_log && Clock::now() + std::chrono::milliseconds(20) < w1) {
    system_samples.push_back(SystemSample());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_until(w1);
  double server1 = CpuMicros(servers), client1 = CpuMicros(::getpid());
  auto threads1 = CpuMicrosByThread(servers);
  stop = true;
  for (auto& t : threads) t.join();
  Measure r = Summarize(tallies, seconds, server1 - server0, client1 - client0);
  r.system_samples = std::move(system_samples);
  // /proc/PID/stat counts a process's exited threads too; a thread that ended inside the
  // window is missing here, so these may sum to a little less than server_cpu_us.
  for (const auto& [name, us] : threads1) {
    auto before = threads0.find(name);
    double d = us - (before == threads0.end() ? 0 : before->second);
    if (r.ok > 0 && d > 0) r.server_thread_us[name] = d / static_cast<double>(r.ok);
  }
  return r;
}

// "(validators' CPU per entry by thread: ...)" for a fedledger level.
void PrintThreads(const Measure& r) {
  if (r.server_thread_us.empty()) return;
  std::string line;
  for (const auto& [name, us] : r.server_thread_us) {
    if (us < 0.5) continue;
    line += (line.empty() ? "" : ", ") + name + " " + std::to_string(static_cast<int>(us + 0.5));
  }
  std::printf("(validators' CPU per entry by thread, us: %s)\n", line.c_str());
}

void Print(const Measure& r, std::vector<Measure>* table) {
  if (g_latency_log) {
    for (const auto& [start, ms] : r.samples) {
      std::fprintf(g_latency_log, "%s\t%s\t%.3f\t%.3f\n", r.system.c_str(), r.mode.c_str(), start, ms);
    }
    std::fflush(g_latency_log);
  }
  if (g_system_log) {
    for (const std::string& sample : r.system_samples) {
      std::fprintf(g_system_log, "%s\t%s\t%s\n", r.system.c_str(), r.mode.c_str(), sample.c_str());
    }
    std::fflush(g_system_log);
  }
  table->push_back(r);
  std::printf("| %-9s | %-14s | %9.0f | %8.1f | %8.1f | %8llu | %10.0f | %10.0f |\n",
              r.system.c_str(), r.mode.c_str(), r.rate, r.p50, r.p99,
              static_cast<unsigned long long>(r.errors), r.server_cpu_us, r.client_cpu_us);
  if (!r.error_kinds.empty()) {
    std::string kinds;
    for (const auto& [kind, n] : r.error_kinds) {
      kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(n);
    }
    std::printf("(%s errors: %s)\n", r.system.c_str(), kinds.c_str());
  }
  std::fflush(stdout);
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

// A genesis holds at most 256 partners, so beyond 250 clients several clients share a partner
// key (client c signs with key c % 250). Each key has one nonce counter, and all clients of a
// key send to the same validator: their entries arrive in nonce order or nearly (two HTTP
// threads), and the mempool holds a signer's pending entries in nonce order. An entry whose
// successor commits first is refused as stale and counted as an error.
constexpr int kMaxPartnerKeys = 250;

struct Fedledger {
  std::string bin, dir, chain_id;
  std::vector<std::string> urls;
  std::vector<SecretKey> keys;
  std::vector<std::atomic<uint64_t>> nonces;  // per key
  // --presign: request bodies signed before the level starts, per key in nonce order, taken
  // by the key's clients through `next`; a key that runs out signs inline again.
  std::vector<std::vector<std::string>> presigned;
  std::vector<std::atomic<size_t>> next;
  std::atomic<uint64_t> signed_inline{0};
};

std::string SignedRequestBody(Fedledger& f, size_t k) {
  EntryBody body;
  body.chain_id = f.chain_id;
  body.nonce = ++f.nonces[k];
  body.timestamp_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  // A fresh dataset id per entry: valid under the orchestrator's rules (a partner registering
  // a new dataset), which production nodes run, as well as under the plain ledger rules.
  DatasetRegisterPayload p;
  p.dataset_id = "bench-" + std::to_string(k) + "-" + std::to_string(body.nonce);
  p.content_hash = Sha256(std::to_string(body.nonce));
  p.rows = body.nonce;
  p.schema = "smiles,label";
  body.payload = p;
  auto e = Entry::Sign(std::move(body), f.keys[k]);
  if (!e.ok()) {
    std::fprintf(stderr, "signing a bench entry: %s\n", e.status().ToString().c_str());
    std::exit(4);
  }
  json j = {{"entry", ToHex(e->bytes())}, {"wait", true}, {"timeout_ms", 8000}};
  return j.dump();
}

Request FedledgerRequest(Fedledger& f, int c, uint64_t) {
  size_t k = static_cast<size_t>(c) % f.keys.size();
  std::string url = f.urls[k % f.urls.size()] + "/entries";
  if (k < f.presigned.size()) {
    size_t i = f.next[k].fetch_add(1, std::memory_order_relaxed);
    if (i < f.presigned[k].size()) return {url, std::move(f.presigned[k][i])};
  }
  f.signed_inline.fetch_add(1, std::memory_order_relaxed);
  return {url, SignedRequestBody(f, k)};
}

// Signs `total` requests for the first `keys` keys on every hardware thread, before a level:
// the partners' clients sign on their own machines, and etcd's load generator sends prepared
// bytes too, so only the servers' work is left inside the timed window.
void Presign(Fedledger& f, size_t keys, size_t total) {
  keys = std::min(keys, f.keys.size());
  f.presigned.assign(f.keys.size(), {});
  f.next = std::vector<std::atomic<size_t>>(f.keys.size());
  size_t per_key = total / keys + 1;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t k = t; k < keys; k += threads) {
        f.presigned[k].reserve(per_key);
        for (size_t i = 0; i < per_key; ++i) f.presigned[k].push_back(SignedRequestBody(f, k));
      }
    });
  }
  for (auto& w : workers) w.join();
}

struct Etcd {
  std::vector<pid_t> pids;
  std::vector<std::string> urls;
  std::string value;  // a signed entry's bytes
  std::string value_b64;
};

// A PUT through etcd's HTTP/JSON gateway.
Request EtcdRequest(Etcd& e, int c, uint64_t seq) {
  std::string key = "bench/" + std::to_string(c) + "/" + std::to_string(seq);
  json j = {{"key", Base64(key)}, {"value", e.value_b64}};
  return {e.urls[c % e.urls.size()] + "/v3/kv/put", j.dump()};
}

// The same PUT through etcd's native gRPC API (KV.Put; PutRequest: key = 1, value = 2), on
// the same client port. Keys differ from the gateway's so that every put writes a new key.
Request EtcdGrpcRequest(Etcd& e, int c, uint64_t seq) {
  std::string key = "bench-grpc/" + std::to_string(c) + "/" + std::to_string(seq);
  return {e.urls[c % e.urls.size()] + "/etcdserverpb.KV/Put",
          ProtoBytes(1, key) + ProtoBytes(2, e.value), true};
}

pid_t SpawnEtcd(const std::string& etcd, const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(etcd.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(etcd.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Counters of one validator's /metrics that explain its cost per height.
struct WireCounters {
  double blocks = 0, entries = 0, frames = 0, self_frames = 0, messages = 0;
  double rounds = 0, timeouts = 0;
  // Seconds summed over the heights node1 voted through, by phase, and over its store's
  // commits, by part (fedledger_height_phase_seconds_total, fedledger_store_commit_...).
  double heights = 0, to_prevote = 0, to_precommit = 0, to_commit = 0;
  double store_commits = 0, store_all = 0, store_log = 0, store_index = 0;
  // node1's entries by heights waited: 0, 1, 2, 3+ (fedledger_commit_heights_waited_total).
  double waited[4] = {0, 0, 0, 0};
  // node1's entry signature checks by path (fedledger_entry_signature_checks_total).
  double sig_submit = 0, sig_peer = 0, sig_admission = 0, sig_block = 0;
  // node1's consensus thread: CPU seconds, and seconds it was ready but waited for a core.
  double cons_cpu = 0, cons_wait = 0;
  // node1's submit-to-commit latency of the entries submitted to it (its histogram's sum and
  // count): from its HTTP thread's hand-over to its commit, without the answer's way back.
  double latency_sum = 0, latency_count = 0;
  bool has_wait = false;  // a node older than the wait series does not export it
  // node1's LevelDB background work (memtable flushes and compactions) by database [log,
  // index]: pieces finished, CPU and wall seconds (fedledger_store_background_...).
  double bg_runs[2] = {0, 0}, bg_cpu[2] = {0, 0}, bg_wall[2] = {0, 0};
  bool has_background = false;
};

WireCounters ScrapeWire(const std::string& url) {
  WireCounters w;
  auto r = net::HttpGet(url + "/metrics");
  if (!r.ok() || r->status != 200) return w;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    std::string name = line.substr(0, sp);
    double v = std::strtod(line.c_str() + sp + 1, nullptr);
    if (name == "fedledger_blocks_committed_total") w.blocks = v;
    else if (name == "fedledger_entries_committed_total") w.entries = v;
    else if (name == "fedledger_peer_frames_sent_total") w.frames = v;
    else if (name == "fedledger_peer_self_signed_frames_sent_total") w.self_frames = v;
    else if (name == "fedledger_peer_messages_sent_total") w.messages = v;
    else if (name == "fedledger_consensus_rounds_total") w.rounds = v;
    else if (name == "fedledger_consensus_timeouts_total") w.timeouts = v;
    else if (name == "fedledger_height_phases_total") w.heights = v;
    else if (name == "fedledger_height_phase_seconds_total{phase=\"to_prevote\"}") w.to_prevote = v;
    else if (name == "fedledger_height_phase_seconds_total{phase=\"to_precommit\"}") w.to_precommit = v;
    else if (name == "fedledger_height_phase_seconds_total{phase=\"to_commit\"}") w.to_commit = v;
    else if (name == "fedledger_store_commits_total") w.store_commits = v;
    else if (name == "fedledger_store_commit_seconds_total{part=\"all\"}") w.store_all = v;
    else if (name == "fedledger_store_commit_seconds_total{part=\"log_write\"}") w.store_log = v;
    else if (name == "fedledger_store_commit_seconds_total{part=\"index_write\"}") w.store_index = v;
    else if (name == "fedledger_thread_cpu_seconds_total{thread=\"fl-consensus\"}") w.cons_cpu = v;
    else if (name == "fedledger_thread_runqueue_wait_seconds_total{thread=\"fl-consensus\"}") {
      w.cons_wait = v;
      w.has_wait = true;
    }
    else if (name == "fedledger_commit_latency_seconds_sum") w.latency_sum = v;
    else if (name == "fedledger_commit_latency_seconds_count") w.latency_count = v;
    else if (name == "fedledger_entry_signature_checks_total{path=\"submit\"}") w.sig_submit = v;
    else if (name == "fedledger_entry_signature_checks_total{path=\"peer_batch\"}") w.sig_peer = v;
    else if (name == "fedledger_entry_signature_checks_total{path=\"admission\"}") w.sig_admission = v;
    else if (name == "fedledger_entry_signature_checks_total{path=\"block\"}") w.sig_block = v;
    else if (name.starts_with("fedledger_store_background_")) {
      const int db = name.find("db=\"index\"") != std::string::npos ? 1 : 0;
      if (name.starts_with("fedledger_store_background_runs_total")) {
        w.bg_runs[db] = v;
        w.has_background = true;
      } else if (name.find("clock=\"cpu\"") != std::string::npos) {
        w.bg_cpu[db] = v;
      } else if (name.find("clock=\"wall\"") != std::string::npos) {
        w.bg_wall[db] = v;
      }
    }
    else if (name.starts_with("fedledger_commit_heights_waited_total{heights=\"")) {
      char k = name[std::strlen("fedledger_commit_heights_waited_total{heights=\"")];
      if (k >= '0' && k <= '3') w.waited[k - '0'] = v;
    }
  }
  return w;
}

// "(node1 per block: ...)" over the level that ran between `a` and `b` (warm-up included);
// `client_mean_ms`: the load generator's mean latency over the measured window.
void PrintWire(const WireCounters& a, const WireCounters& b, double client_mean_ms) {
  double blocks = b.blocks - a.blocks;
  if (blocks <= 0) return;
  double self_frames = (b.self_frames - a.self_frames) / blocks;
  // A round past the first at some height means a timeout acted: a latency spike.
  std::printf("(node1 per block: %.1f entries; %.1f signed and %.1f self-signed frames with "
              "%.1f messages sent; %.0f blocks, %.0f extra rounds, %.0f timeouts acted)\n",
              (b.entries - a.entries) / blocks, (b.frames - a.frames) / blocks - self_frames,
              self_frames, (b.messages - a.messages) / blocks, blocks,
              std::max(0.0, (b.rounds - a.rounds) - blocks), b.timeouts - a.timeouts);
  // Where a height's time goes on node1: the store's share is inside "to commit".
  double heights = b.heights - a.heights, commits = b.store_commits - a.store_commits;
  if (heights <= 0 || commits <= 0) return;
  auto ms = [](double seconds, double n) { return 1000 * seconds / n; };
  std::printf("(node1 per height, ms: to prevote %.1f, to precommit %.1f, to commit %.1f; "
              "store commit %.1f of it: log write %.1f, index write %.1f)\n",
              ms(b.to_prevote - a.to_prevote, heights), ms(b.to_precommit - a.to_precommit, heights),
              ms(b.to_commit - a.to_commit, heights), ms(b.store_all - a.store_all, commits),
              ms(b.store_log - a.store_log, commits), ms(b.store_index - a.store_index, commits));
  // A consensus thread that waits for a core longer than it runs: the machine is the limit.
  if (b.has_wait) {
    std::printf("(node1's consensus thread per height, ms: running %.1f, waiting for a core %.1f)\n",
                ms(b.cons_cpu - a.cons_cpu, heights), ms(b.cons_wait - a.cons_wait, heights));
  }
  // The client's latency less the node's: the request's and the answer's way through the
  // HTTP threads, the sockets and the load generator, on a machine both share.
  if (double n = b.latency_count - a.latency_count; n > 0) {
    std::printf("(node1's submit-to-commit latency, mean ms: %.1f; the client's, all nodes: %.1f)\n",
                1000 * (b.latency_sum - a.latency_sum) / n, client_mean_ms);
  }
  // Where node1 verified the entries it committed: a check in "block" held up a height.
  double entries = b.entries - a.entries;
  if (entries > 0) {
    auto pct = [&](double x, double y) { return 100 * (x - y) / entries; };
    std::printf("(node1's entry signature checks per committed entry, %%: client batches %.0f, "
                "peer batches %.0f, admission %.0f, in blocks %.1f)\n",
                pct(b.sig_submit, a.sig_submit), pct(b.sig_peer, a.sig_peer),
                pct(b.sig_admission, a.sig_admission), pct(b.sig_block, a.sig_block));
  }
  // node1's LevelDB flushes and compactions in the level: an index compaction's wall time is
  // about how long every validator's heights slowed (they all compact at the same moment).
  if (b.has_background) {
    std::printf("(node1's LevelDB background work, runs / ms CPU / ms wall: log %.0f / %.0f / %.0f, "
                "index %.0f / %.0f / %.0f)\n",
                b.bg_runs[0] - a.bg_runs[0], 1000 * (b.bg_cpu[0] - a.bg_cpu[0]),
                1000 * (b.bg_wall[0] - a.bg_wall[0]), b.bg_runs[1] - a.bg_runs[1],
                1000 * (b.bg_cpu[1] - a.bg_cpu[1]), 1000 * (b.bg_wall[1] - a.bg_wall[1]));
  }
  // How many heights an entry waited, counted from the one being decided when it arrived: 1
  // is the next block, 2 means it missed that one.
  double waited[4], all = 0;
  for (int i = 0; i < 4; ++i) all += waited[i] = b.waited[i] - a.waited[i];
  if (all <= 0) return;
  std::printf("(node1's entries committed after waiting 0/1/2/3+ heights: %.0f/%.0f/%.0f/%.0f%%)\n",
              100 * waited[0] / all, 100 * waited[1] / all, 100 * waited[2] / all,
              100 * waited[3] / all);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Entry signatures verified per second on all hardware threads, through the same code the
// nodes use: each thread verifies the same entries over and over for 2 s, one at a time
// (`batch` 1) or as batches of `batch` entries by as many different partner keys
// (VerifySignatures, as the nodes check entry batches).
double SignatureLimit(const std::vector<SecretKey>& keys, const std::string& chain_id, size_t batch) {
  std::vector<Entry> entries;
  for (size_t i = 0; i < batch; ++i) {
    EntryBody body;
    body.chain_id = chain_id;
    body.nonce = 1;
    body.timestamp_ms = 1767225600000;
    body.payload = DatasetRegisterPayload{"bench-" + std::to_string(i) + "-1",
                                          Sha256(std::string("1")), 1, "smiles,label", ""};
    auto e = Entry::Sign(body, keys[i % keys.size()]);
    if (!e.ok()) return 0;
    entries.push_back(std::move(e).value());
  }
  std::vector<SignatureCheck> checks;
  for (const Entry& e : entries) checks.push_back(e.signature_check());
  unsigned n = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> total{0};
  auto until = Clock::now() + std::chrono::seconds(2);
  std::vector<std::thread> ts;
  for (unsigned i = 0; i < n; ++i) {
    ts.emplace_back([&] {
      uint64_t k = 0;
      while (Clock::now() < until) {
        if (batch == 1) {
          for (int j = 0; j < 100; ++j) k += entries[0].VerifySignature();
        } else {
          std::vector<bool> ok = VerifySignatures(checks);
          k += static_cast<uint64_t>(std::count(ok.begin(), ok.end(), true));
        }
      }
      total += k;
    });
  }
  for (auto& t : ts) t.join();
  return static_cast<double>(total.load()) / 2.0;
}

// The run's verdict in two lines: each system's peak (its best closed-loop level) against
// fedledger's, and the latencies of every system at the paced load (half fedledger's peak).
void PrintSummary(const std::vector<Measure>& table) {
  std::map<std::string, const Measure*> peak, paced;
  std::vector<std::string> order;
  for (const Measure& r : table) {
    if (!peak.count(r.system) && !paced.count(r.system)) order.push_back(r.system);
    if (r.mode.rfind("paced", 0) == 0) {
      paced[r.system] = &r;
    } else if (!peak.count(r.system) || r.rate > peak[r.system]->rate) {
      peak[r.system] = &r;
    }
  }
  if (!peak.count("fedledger") || peak.size() < 2) return;
  const Measure& ours = *peak["fedledger"];
  std::string line, best_name;
  double best = 0;
  for (const std::string& name : order) {
    if (name == "fedledger" || !peak.count(name)) continue;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.0f/s (%s, %.2fx)", line.empty() ? "" : "; ",
                  name.c_str(), peak[name]->rate, peak[name]->mode.c_str(),
                  ours.rate / peak[name]->rate);
    line += buf;
    if (peak[name]->rate > best) {
      best = peak[name]->rate;
      best_name = name;
    }
  }
  std::printf("\n(peaks: fedledger %.0f/s (%s); %s. fedledger / etcd's best (%s): %.2fx)\n",
              ours.rate, ours.mode.c_str(), line.c_str(), best_name.c_str(), ours.rate / best);
  if (!paced.count("fedledger")) return;
  line.clear();
  for (const std::string& name : order) {
    if (!paced.count(name)) continue;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s p50 %.1f ms, p99 %.1f ms", line.empty() ? "" : "; ",
                  name.c_str(), paced[name]->p50, paced[name]->p99);
    line += buf;
  }
  std::printf("(at the same offered load, %s: %s)\n", paced["fedledger"]->mode.c_str(), line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> levels = {4, 16, 64};
  double seconds = 8, warmup = 2;
  std::string etcd_bin = "/usr/bin/etcd";
  std::string fl_bin = FEDLEDGER_BINARY;
  bool with_etcd = true, with_fedledger = true, sig_limit = false, presign = false;
  bool with_paced = true;
  bool freeze_idle = false;
  bool etcd_grpc = true;
  double paced_rate = 0;
  Transport transport;
  std::vector<Measure> table;  // every row printed, for the summary
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--concurrency") levels = ParseList(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--warmup") warmup = std::stod(next());
    else if (a == "--etcd") etcd_bin = next();
    else if (a == "--fedledger") fl_bin = next();
    else if (a == "--no-etcd") with_etcd = false;
    else if (a == "--no-etcd-grpc") etcd_grpc = false;
    else if (a == "--no-fedledger") with_fedledger = false;
    else if (a == "--new-connection") transport.new_connection = true;
    else if (a == "--thread-per-client") transport.event_threads = 0;
    else if (a == "--client-threads") {
      transport.event_threads = std::stoi(next());
      if (transport.event_threads < 1) {
        std::fprintf(stderr, "--client-threads: at least 1\n");
        return 2;
      }
    }
    else if (a == "--paced") paced_rate = std::stod(next());
    else if (a == "--signature-limit") sig_limit = true;
    else if (a == "--presign") presign = true;
    else if (a == "--no-paced") with_paced = false;
    else if (a == "--freeze-idle") freeze_idle = true;
    else if (a == "--latency-log" || a == "--system-log") {
      std::string path = next();
      FILE*& log = a == "--latency-log" ? g_latency_log : g_system_log;
      log = std::fopen(path.c_str(), "w");
      if (!log) {
        std::fprintf(stderr, "cannot write %s %s: %s\n", a.c_str(), path.c_str(), std::strerror(errno));
        return 2;
      }
    }
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  int max_c = *std::max_element(levels.begin(), levels.end());
  if (max_c > 4 * kMaxPartnerKeys) {
    std::fprintf(stderr, "--concurrency: at most %d clients\n", 4 * kMaxPartnerKeys);
    return 2;
  }
  int partner_keys = std::min(max_c, kMaxPartnerKeys);
  char tmpl[] = "/tmp/fedledger-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) return 3;
  std::string root = tmpl;
  if (g_system_log) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) return 3;
    g_system_disk = std::to_string(major(st.st_dev)) + " " + std::to_string(minor(st.st_dev)) + " ";
  }

  transport.clients.resize(static_cast<size_t>(max_c));
  std::string client_mode =
      transport.new_connection ? "a thread per client, a new connection per request"
      : transport.event_threads == 0
          ? "a thread per client, keep-alive connections"
          : std::to_string(transport.event_threads) +
                " event-loop client threads, keep-alive connections";
  std::printf("consensus_bench: %d s per level after %g s warm-up; machine: %u hardware threads; "
              "%s; load average %s\n\n",
              static_cast<int>(seconds), warmup, std::thread::hardware_concurrency(),
              client_mode.c_str(), LoadAverage().c_str());
  std::printf("| system    | load           | entries/s | p50 ms   | p99 ms   | errors   | server us  | client us  |\n");
  std::printf("|-----------|----------------|-----------|----------|----------|----------|------------|------------|\n");
  std::fflush(stdout);

  // The keys, chain id and sample entry come from a fedledger testnet's files even when only
  // etcd runs, so both systems carry the same bytes.
  Fedledger f;
  f.bin = fl_bin;
  f.dir = root + "/fedledger";
  if (Run(fl_bin + " testnet init --validators 4 --partners " + std::to_string(partner_keys) + " --dir " +
          f.dir + " > " + root + "/init.log 2>&1") != 0) {
    std::fprintf(stderr, "testnet init failed (see %s/init.log)\n", root.c_str());
    return 3;
  }
  {
    std::ifstream m(f.dir + "/testnet.json");
    json j = json::parse(m);
    f.chain_id = j["chain_id"].get<std::string>();
    for (const auto& v : j["validators"]) f.urls.push_back(v["http"].get<std::string>());
    for (const auto& p : j["partners"]) f.keys.push_back(*LoadSecretKey(p["key_file"].get<std::string>()));
    f.nonces = std::vector<std::atomic<uint64_t>>(f.keys.size());
  }
  transport.groups = partner_keys;
  int paced_clients = max_c;
  if (sig_limit) {
    double one = SignatureLimit(f.keys, f.chain_id, 1);
    double batched = SignatureLimit(f.keys, f.chain_id, 32);
    std::printf("(signature verification on all %u hardware threads, one at a time: %.0f "
                "entries/s, in batches of 32 by different partner keys: %.0f entries/s; the "
                "limits for 4 validators that each verify every entry once: %.0f and %.0f "
                "entries/s)\n",
                std::thread::hardware_concurrency(), one, batched, one / 4, batched / 4);
  }

  // Both systems run side by side, level by level (fedledger, then etcd through its gateway,
  // then over gRPC, at each concurrency): a shared machine's speed drifts over minutes, and
  // measuring one system's levels after the other's put that drift into the ratios. The
  // cluster not being measured sits idle (no requests: fedledger makes no empty blocks, etcd
  // sends heartbeats); each row's CPU columns count its own system's processes only.

  // ---- fedledger: 4 validators ----
  std::vector<pid_t> node_pids;
  if (with_fedledger) {
    // Commit lines at info level for every block would cost the nodes log I/O: warn only.
    Run("sed -i \"s/level = 'info'/level = 'warn'/\" " + f.dir + "/node*/node.toml");
    if (Run(fl_bin + " testnet up --dir " + f.dir + " > " + root + "/up.log 2>&1") != 0) {
      std::fprintf(stderr, "testnet up failed (see %s/up.log)\n", root.c_str());
      return 3;
    }
    for (int i = 0; i < 8; ++i) {
      std::ifstream pf(f.dir + "/node" + std::to_string(i) + "/node.pid");
      long pid = 0;
      if (pf >> pid && pid > 0) node_pids.push_back(static_cast<pid_t>(pid));
    }
    if (node_pids.size() != 4) std::fprintf(stderr, "warning: found %zu node pids\n", node_pids.size());
  }

  // ---- etcd: 3 members ----
  Etcd e;
  // Through the gateway (HTTP/1.1 and JSON, as fedledger's clients talk), then, unless
  // --no-etcd-grpc, through etcd's native gRPC API: etcd's peak is the better of the two.
  std::vector<std::string> etcd_names;
  std::vector<MakeRequestFn> etcd_makes;
  if (with_etcd) {
    EntryBody body;
    body.chain_id = f.chain_id;
    body.nonce = 1;
    body.payload = DatasetRegisterPayload{"bench-0-1", Sha256(std::string("1")), 1, "smiles,label", ""};
    body.timestamp_ms = 1767225600000;
    auto sample = Entry::Sign(body, f.keys[0]);
    if (!sample.ok()) {
      std::fprintf(stderr, "sample entry: %s\n", sample.status().ToString().c_str());
      if (with_fedledger) Run(fl_bin + " testnet down --dir " + f.dir + " > /dev/null 2>&1");
      return 4;
    }
    e.value.assign(sample->bytes().begin(), sample->bytes().end());
    e.value_b64 = Base64(e.value);
    // Below the ephemeral range (32768 and up by default): a port there could already be the
    // local end of one of the benchmark's own outgoing connections, and etcd would not start.
    int base = 20000 + 6 * (::getpid() % 2000);
    std::string cluster;
    for (int i = 0; i < 3; ++i) {
      cluster += (i ? "," : "") + std::string("e") + std::to_string(i) + "=http://127.0.0.1:" +
                 std::to_string(base + 2 * i + 1);
    }
    for (int i = 0; i < 3; ++i) {
      std::string client = "http://127.0.0.1:" + std::to_string(base + 2 * i);
      std::string peer = "http://127.0.0.1:" + std::to_string(base + 2 * i + 1);
      e.urls.push_back(client);
      e.pids.push_back(SpawnEtcd(etcd_bin,
                                 {"--name", "e" + std::to_string(i), "--data-dir",
                                  root + "/etcd" + std::to_string(i), "--listen-client-urls", client,
                                  "--advertise-client-urls", client, "--listen-peer-urls", peer,
                                  "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
                                  "--initial-cluster-state", "new", "--initial-cluster-token", "bench",
                                  "--log-level", "warn"},
                                 root + "/etcd" + std::to_string(i) + ".log"));
    }
    bool ready = false;
    for (int t = 0; t < 200 && !ready; ++t) {
      ready = true;
      for (const auto& u : e.urls) {
        auto r = net::HttpPostJson(u + "/v3/kv/put", {{"key", Base64("probe")}, {"value", Base64("1")}});
        ready = ready && r.ok() && r->status == 200;
      }
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!ready) {
      std::fprintf(stderr, "etcd cluster did not come up (logs in %s)\n", root.c_str());
    } else {
      etcd_names.push_back("etcd");
      etcd_makes.push_back([&](int cl, uint64_t s) { return EtcdRequest(e, cl, s); });
      if (etcd_grpc && transport.event_threads > 0 && !transport.new_connection) {
        etcd_names.push_back("etcd-grpc");
        etcd_makes.push_back([&](int cl, uint64_t s) { return EtcdGrpcRequest(e, cl, s); });
      } else if (etcd_grpc) {
        std::printf("(etcd over gRPC needs the event-loop clients: not run with --thread-per-client "
                    "or --new-connection)\n");
      }
    }
  }

  // One level of every system; `rate_per_client` 0 for a closed loop.
  auto level = [&](int clients, double rate_per_client, const std::string& mode) {
    if (with_fedledger) {
      if (presign) {
        // Closed loop: enough for 12,000 entries/s, well above what this cluster commits on
        // 2 cores; paced: the offered rate with margin.
        double per_s = rate_per_client > 0 ? 1.5 * rate_per_client * clients : 12000;
        Presign(f, static_cast<size_t>(clients), static_cast<size_t>(per_s * (warmup + seconds + 1)));
      }
      WireCounters w0 = ScrapeWire(f.urls[0]);
      Frozen others(freeze_idle ? e.pids : std::vector<pid_t>{});
      Measure r = Drive(transport, clients, rate_per_client, warmup, seconds,
                        [&](int cl, uint64_t s) { return FedledgerRequest(f, cl, s); }, node_pids);
      r.system = "fedledger";
      r.mode = mode;
      Print(r, &table);
      PrintWire(w0, ScrapeWire(f.urls[0]), r.mean);
      PrintThreads(r);
    }
    for (size_t m = 0; m < etcd_names.size(); ++m) {
      Frozen others(freeze_idle ? node_pids : std::vector<pid_t>{});
      Measure r = Drive(transport, clients, rate_per_client, warmup, seconds, etcd_makes[m], e.pids);
      r.system = etcd_names[m];
      r.mode = mode;
      Print(r, &table);
    }
  };
  for (int c : levels) level(c, 0, "closed c=" + std::to_string(c));
  if (paced_rate <= 0) {
    for (const Measure& r : table) {
      if (r.system == "fedledger") paced_rate = std::max(paced_rate, r.rate / 2);
    }
  }
  if (with_paced && paced_rate > 0) {
    level(paced_clients, paced_rate / paced_clients,
          "paced " + std::to_string(static_cast<int>(paced_rate)) + "/s");
  }
  if (presign) {
    std::printf("(entries signed before each level; %llu signed inline after a key ran out)\n",
                static_cast<unsigned long long>(f.signed_inline.load()));
  }
  std::printf("(load average at the end: %s)\n", LoadAverage().c_str());
  if (with_fedledger) Run(fl_bin + " testnet down --dir " + f.dir + " > " + root + "/down.log 2>&1");
  for (pid_t p : e.pids) ::kill(p, SIGTERM);
  for (pid_t p : e.pids) ::waitpid(p, nullptr, 0);
  PrintSummary(table);
  if (!::getenv("FEDLEDGER_KEEP_BENCH")) Run("rm -rf " + root);
  return 0;
}
