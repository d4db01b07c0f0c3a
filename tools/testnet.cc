// fedledger testnet init/up/down: a local cluster of validators on loopback, one directory
// per node (D/nodeI: node.toml, node.key, ledger/, signer.state, node.log, node.pid), so an
// operator or a test can stop, kill and restart any one node.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "ledger/describe.h"
#include "ledger/encoding.h"
#include "net/http_client.h"
#include "node/config.h"
#include "node/genesis_file.h"
#include "tools/common.h"
#include "tools/flags.h"

namespace fedledger::cli {
namespace {

using nlohmann::json;

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Binds a loopback TCP socket to `port` (0: the kernel's choice) and closes it again; returns
// the port it got, or 0 if it could not bind.
uint16_t TryBindLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Failure(std::string("socket: ") + std::strerror(errno), 3);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof(a);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

// A loopback port that is free right now and that the kernel will not hand out as the local
// port of an outgoing connection: below the ephemeral range (ip_local_port_range). A port
// from that range could be taken before the node binds it by any connection on the machine,
// including the cluster's own nodes dialling the ones that start after them. Another process
// could still bind it first; `testnet up` then reports the bind error.
uint16_t FreePort(std::vector<uint16_t>* taken) {
  unsigned low = 32768;
  {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned lo = 0, hi = 0;
    if (range >> lo >> hi && lo > 0) low = lo;
  }
  constexpr unsigned kFloor = 10000;
  uint16_t port = 0;
  for (int attempt = 0; port == 0 && low > kFloor + 1000 && attempt < 200; ++attempt) {
    uint64_t r = 0;
    RandomBytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
    auto candidate = static_cast<uint16_t>(kFloor + r % (low - kFloor));
    if (std::find(taken->begin(), taken->end(), candidate) != taken->end()) continue;
    port = TryBindLoopback(candidate);
  }
  // No room below the ephemeral range (or all of it busy): let the kernel choose.
  if (port == 0) port = TryBindLoopback(0);
  if (port == 0) throw Failure(std::string("cannot find a free port: ") + std::strerror(errno), 3);
  taken->push_back(port);
  return port;
}

std::string NodeDir(const std::string& dir, int i) { return dir + "/node" + std::to_string(i); }

json ReadManifest(const std::string& dir) {
  std::ifstream f(dir + "/testnet.json");
  if (!f) throw Failure(dir + "/testnet.json not found: run `fedledger testnet init --dir " + dir + "` first", 2);
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw Failure(dir + "/testnet.json is not valid JSON", 2);
  return j;
}

// Every node, or only the one --node names ("" when not given). Its range depends on the
// testnet, so the flag is read as text and checked here.
std::vector<int> SelectNodes(const json& manifest, const std::string& only) {
  int n = static_cast<int>(manifest["validators"].size());
  std::vector<int> out;
  if (only.empty()) {
    for (int i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  const std::string range = "0.." + std::to_string(n - 1);
  if (!ParseDecimal(only).ok()) {
    throw Failure("--node: expected a node index " + range + ", got '" + only + "'", 2);
  }
  auto i = ParseDecimal(only, 0, static_cast<uint64_t>(n - 1));
  if (!i.ok()) throw Failure("--node " + only + ": the testnet has nodes " + range, 2);
  out.push_back(static_cast<int>(*i));
  return out;
}

// The pid in D/nodeI/node.pid if that process is alive and is this node (its command line
// names this node's config), else 0.
pid_t RunningPid(const std::string& node_dir) {
  std::ifstream f(node_dir + "/node.pid");
  long pid = 0;
  if (!(f >> pid) || pid <= 0) return 0;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string statline;
  std::getline(stat, statline);
  size_t paren = statline.rfind(')');
  if (paren == std::string::npos || paren + 2 >= statline.size() || statline[paren + 2] == 'Z') {
    return 0;  // gone, or a zombie nobody reaped yet
  }
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  if (cmdline.find(node_dir + "/node.toml") == std::string::npos) return 0;
  return static_cast<pid_t>(pid);
}

std::string LogTail(const std::string& path, size_t lines) {
  std::ifstream f(path);
  std::vector<std::string> all;
  std::string l;
  while (std::getline(f, l)) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "  " + all[i] + "\n";
  return out;
}

// What one `testnet init` created, removed again unless Keep() is called: a failed init
// leaves the directory as it found it, so the corrected command can run. Only paths this
// invocation created are recorded (never a file or directory that was already there).
class CreatedPaths {
 public:
  CreatedPaths() = default;
  CreatedPaths(const CreatedPaths&) = delete;
  CreatedPaths& operator=(const CreatedPaths&) = delete;
  ~CreatedPaths() {
    if (keep_) return;
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      if (it->second) {
        ::rmdir(it->first.c_str());  // fails, harmlessly, if something else was put there
      } else {
        ::unlink(it->first.c_str());
      }
    }
  }
  void Dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0) {
      paths_.emplace_back(path, true);
    } else if (errno != EEXIST) {
      throw Failure("cannot create " + path + ": " + std::strerror(errno), 3);
    }
  }
  // Records `path` after `write` created it; `write` fails if the file exists.
  void File(const std::string& path, const std::function<Status()>& write) {
    Check(write());
    paths_.emplace_back(path, false);
  }
  void Keep() { keep_ = true; }

 private:
  std::vector<std::pair<std::string, bool>> paths_;  // (path, is a directory), in creation order
  bool keep_ = false;
};

Status WriteNewFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " already exists");
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IOError("cannot write " + path);
  }
  return Status::Ok();
}

// Everything is decided and checked first (arguments, keys, the signed genesis, ports,
// configs); only then is anything written, and a failure while writing removes what was
// written.
void Init(const std::string& dir, int validators, int partners, const std::string& chain_id,
          int base_port) {
  Status chain_ok = ValidateIdentifier("--chain-id", chain_id);
  if (!chain_ok.ok()) throw Failure(chain_ok.message(), 2);
  if (Exists(dir + "/testnet.json")) throw Failure(dir + " already holds a testnet", 2);
  const std::string keys = dir + "/keys";

  GenesisPayload g;
  g.genesis_time_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<SecretKey> node_keys, partner_keys;
  json manifest = {{"chain_id", chain_id}, {"validators", json::array()}, {"partners", json::array()}};
  for (int i = 0; i < validators; ++i) {
    node_keys.push_back(SecretKey::Generate());
    g.validators.push_back({"validator-" + std::to_string(i), node_keys.back().pubkey()});
  }
  for (int i = 0; i <= partners; ++i) {
    std::string name = i < partners ? "partner-" + std::to_string(i) : "operator";
    partner_keys.push_back(SecretKey::Generate());
    g.partners.push_back({name, partner_keys.back().pubkey()});
    manifest["partners"].push_back({{"name", name},
                                    {"key", partner_keys.back().pubkey().Hex()},
                                    {"key_file", keys + "/" + name + ".key"}});
  }
  // The operator (the last partner) creates the genesis.
  EntryBody body;
  body.chain_id = chain_id;
  body.nonce = 1;
  body.timestamp_ms = g.genesis_time_ms;
  body.payload = g;
  Entry entry = Unwrap(Entry::Sign(std::move(body), partner_keys.back()));
  node::GenesisFile genesis = Unwrap(node::MakeGenesisFile(entry));
  manifest["genesis_hash"] = genesis.hash.Hex();

  std::vector<net::HostPort> p2p, http;
  std::vector<uint16_t> taken;
  for (int i = 0; i < validators; ++i) {
    uint16_t pp = base_port ? static_cast<uint16_t>(base_port + 2 * i) : FreePort(&taken);
    uint16_t hp = base_port ? static_cast<uint16_t>(base_port + 2 * i + 1) : FreePort(&taken);
    p2p.push_back({"127.0.0.1", pp});
    http.push_back({"127.0.0.1", hp});
  }
  std::vector<std::string> configs;
  const unsigned hardware_threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < validators; ++i) {
    node::NodeConfig c;
    c.data_dir = ".";
    c.node_key_file = "node.key";
    c.genesis_file = "../genesis.json";
    c.p2p_listen = p2p[i];
    c.http_listen = http[i];
    // The validators share this machine's cores: each gets at most its share of them as HTTP
    // io threads, and at most two (an aggregating node receives and serves several partners'
    // artifacts, tens of MB each, at once). On 2 cores and 4 validators that is one: a second
    // thread per node only added wake-ups and switches there (bench/RESULTS.md, 2026-12-05:
    // 21% less HTTP CPU per entry, 7-20% more entries/s at 500 clients).
    c.http_threads = std::clamp(static_cast<int>(hardware_threads) / validators, 1, 2);
    for (int j = 0; j < validators; ++j) {
      if (j != i) c.peers.push_back({node_keys[j].pubkey(), p2p[j], http[j]});
    }
    // Loopback: messages take microseconds, so short timeouts only cost a round when a
    // validator is really down.
    auto& to = c.consensus.timeouts;
    to.propose_ms = 600;
    to.propose_delta_ms = 300;
    to.prevote_ms = 300;
    to.prevote_delta_ms = 150;
    to.precommit_ms = 300;
    to.precommit_delta_ms = 150;
    to.max_ms = 10000;
    configs.push_back(node::RenderNodeConfig(c));
    manifest["validators"].push_back({{"name", g.validators[i].name},
                                      {"key", node_keys[i].pubkey().Hex()},
                                      {"dir", NodeDir(dir, i)},
                                      {"p2p", p2p[i].ToString()},
                                      {"http", "http://" + http[i].ToString()}});
  }

  CreatedPaths created;
  created.Dir(dir, 0755);
  created.Dir(keys, 0700);
  for (size_t i = 0; i < partner_keys.size(); ++i) {
    std::string path = manifest["partners"][i]["key_file"].get<std::string>();
    created.File(path, [&] { return SaveSecretKey(path, partner_keys[i]); });
  }
  created.File(dir + "/genesis.json",
               [&] { return node::WriteGenesisFile(dir + "/genesis.json", genesis); });
  for (int i = 0; i < validators; ++i) {
    std::string nd = NodeDir(dir, i);
    created.Dir(nd, 0700);
    created.File(nd + "/node.key", [&] { return SaveSecretKey(nd + "/node.key", node_keys[i]); });
    created.File(nd + "/node.toml", [&] { return WriteNewFile(nd + "/node.toml", configs[i]); });
  }
  // Last: testnet.json is what says the directory holds a testnet.
  created.File(dir + "/testnet.json",
               [&] { return WriteNewFile(dir + "/testnet.json", manifest.dump(2) + "\n"); });
  created.Keep();

  std::printf("testnet %s in %s: %d validators, %d partners + operator\ngenesis hash %s\n",
              chain_id.c_str(), dir.c_str(), validators, partners, genesis.hash.Hex().c_str());
  for (int i = 0; i < validators; ++i) {
    std::printf("  node%d  p2p %s  api http://%s\n", i, p2p[i].ToString().c_str(),
                http[i].ToString().c_str());
  }
  std::printf("partner keys in %s; start with: fedledger testnet up --dir %s\n", keys.c_str(),
              dir.c_str());
}

pid_t Spawn(const std::string& exe, const std::string& config, const std::string& log_path) {
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Failure("cannot open " + log_path + ": " + std::strerror(errno), 3);
  pid_t pid = ::fork();
  if (pid < 0) throw Failure(std::string("fork: ") + std::strerror(errno), 3);
  if (pid == 0) {
    ::setsid();  // its own session: a Ctrl-C in this terminal does not reach the node
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // Nothing else of the launcher's: a node that outlives it must not hold its descriptors
    // (say, a lock file its caller holds, which would stay locked for the node's lifetime).
    if (::close_range(3, ~0u, 0) != 0) {
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execl(exe.c_str(), "fedledger", "node", "--config", config.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "exec %s: %s\n", exe.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

void Up(const std::string& dir, const std::string& only, int wait_ms) {
  json manifest = ReadManifest(dir);
  std::string exe = SelfExe();
  std::vector<std::pair<int, pid_t>> started;
  for (int i : SelectNodes(manifest, only)) {
    std::string nd = manifest["validators"][i]["dir"].get<std::string>();
    if (pid_t pid = RunningPid(nd)) {
      std::printf("node%d already running (pid %d)\n", i, static_cast<int>(pid));
      continue;
    }
    pid_t pid = Spawn(exe, nd + "/node.toml", nd + "/node.log");
    std::ofstream pf(nd + "/node.pid");
    pf << pid << "\n";
    started.emplace_back(i, pid);
  }
  // Wait until each started node answers /status (or exits).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (auto [i, pid] : started) {
    std::string url = manifest["validators"][i]["http"].get<std::string>() + "/status";
    std::string nd = manifest["validators"][i]["dir"].get<std::string>();
    for (;;) {
      int wstatus = 0;
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
        throw Failure("node" + std::to_string(i) + " exited during start-up; end of " + nd +
                          "/node.log:\n" + LogTail(nd + "/node.log", 10), 3);
      }
      net::HttpClientOptions o;
      o.timeout = std::chrono::milliseconds(500);
      auto r = net::HttpGet(url, o);
      if (r.ok() && r->status == 200) break;
      if (std::chrono::steady_clock::now() > deadline) {
        throw Failure("node" + std::to_string(i) + " (pid " + std::to_string(pid) +
                          ") did not answer " + url + " within " + std::to_string(wait_ms) +
                          " ms; see " + nd + "/node.log", 3);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::printf("node%d up (pid %d), api %s, log %s/node.log\n", i, static_cast<int>(pid),
                manifest["validators"][i]["http"].get<std::string>().c_str(), nd.c_str());
  }
}

void Down(const std::string& dir, const std::string& only, int wait_ms) {
  json manifest = ReadManifest(dir);
  for (int i : SelectNodes(manifest, only)) {
    std::string nd = manifest["validators"][i]["dir"].get<std::string>();
    pid_t pid = RunningPid(nd);
    if (!pid) {
      std::printf("node%d not running\n", i);
      ::unlink((nd + "/node.pid").c_str());
      continue;
    }
    ::kill(pid, SIGCONT);  // a paused node cannot handle SIGTERM
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    bool killed = false;
    while (RunningPid(nd) == pid) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        killed = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::unlink((nd + "/node.pid").c_str());
    std::printf("node%d %s (pid %d)\n", i, killed ? "killed after the SIGTERM timeout" : "stopped",
                static_cast<int>(pid));
  }
}

Registrar reg("45-testnet", [](CLI::App& app) {
  auto* tn = app.add_subcommand("testnet", "A local cluster of validators on loopback");
  tn->require_subcommand(1);
  struct Args {
    std::string dir, chain_id = "fedledger-testnet", node;
    int validators = 4, partners = 3, base_port = 0, wait_ms = 15000;
  };
  auto a = std::make_shared<Args>();
  auto* init = tn->add_subcommand(
      "init", "Write keys, a genesis and one config per validator under DIR (loopback ports)");
  init->add_option("--dir", a->dir, "Directory for the testnet")->required();
  AddUnsignedOption(init, "--validators", &a->validators, "Validators", 1, 64)
      ->default_str(std::to_string(a->validators));
  AddUnsignedOption(init, "--partners", &a->partners,
                    "Partners (plus one operator, who signs the genesis)", 0, 250)
      ->default_str(std::to_string(a->partners));
  init->add_option("--chain-id", a->chain_id, "Chain id")->capture_default_str();
  AddUnsignedOption(init, "--base-port", &a->base_port,
                    "Use ports BASE+2i (p2p) and BASE+2i+1 (HTTP); default: free ports below the "
                    "ephemeral range", 1024, 65400);
  init->callback([a] { Init(a->dir, a->validators, a->partners, a->chain_id, a->base_port); });

  auto* up = tn->add_subcommand(
      "up", "Start the testnet's validators (or one) in the background; each node's pid file,\n"
            "log and store are in DIR/nodeI");
  up->add_option("--dir", a->dir, "Testnet directory")->required();
  up->add_option("--node", a->node, "Only this node (index 0..N-1)")->type_name("INDEX");
  AddUnsignedOption(up, "--wait-ms", &a->wait_ms, "How long to wait for each node's API", 1,
                    3600000)
      ->default_str(std::to_string(a->wait_ms));
  up->callback([a] { Up(a->dir, a->node, a->wait_ms); });

  auto* down = tn->add_subcommand(
      "down", "Stop the testnet's validators (or one): SIGTERM, then SIGKILL after --wait-ms");
  down->add_option("--dir", a->dir, "Testnet directory")->required();
  down->add_option("--node", a->node, "Only this node (index 0..N-1)")->type_name("INDEX");
  AddUnsignedOption(down, "--wait-ms", &a->wait_ms, "How long to wait for a clean stop", 1,
                    3600000)
      ->default_str(std::to_string(a->wait_ms));
  down->callback([a] { Down(a->dir, a->node, a->wait_ms); });
});

}  // namespace
}  // namespace fedledger::cli
