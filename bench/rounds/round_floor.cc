// The physical floor of a federated round's overhead: the work no implementation of the
// design can skip, timed on this machine in one process, one core, with warm buffers.
//
// For a trunk of N float32 values and P partners (secure aggregation, docs/ORCHESTRATOR.md),
// every round must at least:
//   partner     encode the update to fixed point and add P-1 AES-256-CTR mask streams, then
//               SHA-256 the masked artifact once (its hash goes on the ledger);
//   transfer    move the artifact over TCP (loopback here) and SHA-256 it on receipt;
//   aggregator  add the P masked updates and SHA-256 the aggregate once;
//   transfer    move the aggregate back to each partner and SHA-256 it on receipt;
//   partner     decode the average and add it to the global trunk.
// The program times each primitive (median of --repeats) and prints the sums per step, so
// bench/rounds/overhead.sh's measured steps can be read against them.
//
//   round_floor [--hidden 256] [--bits 32768] [--rows BITS] [--partners 3] [--repeats 7]
// --rows: the first layer's rows that travel (docs/ROUNDS.md "Rows that travel").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/crypto.h"
#include "orchestrator/secagg.h"

using namespace fedledger;
using Clock = std::chrono::steady_clock;

namespace {

double MedianMs(int repeats, const std::function<void()>& fn) {
  fn();  // warm up: fault the buffers in
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One transfer of `bytes` over a loopback TCP connection (sender thread, receiving here).
void LoopbackTransfer(const std::string& bytes, std::string* into) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(ls, 1) != 0 || ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("round_floor: loopback socket");
    std::exit(1);
  }
  std::thread sender([&] {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) std::exit(1);
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(s, bytes.data() + done, bytes.size() - done, 0);
      if (n <= 0) std::exit(1);
      done += static_cast<size_t>(n);
    }
    ::close(s);
  });
  int c = ::accept(ls, nullptr, nullptr);
  size_t got = 0;
  while (got < into->size()) {
    ssize_t n = ::recv(c, into->data() + got, into->size() - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  sender.join();
  ::close(c);
  ::close(ls);
}

}  // namespace

int main(int argc, char** argv) {
  size_t hidden = 256, bits = 32768, rows = 0, partners = 3;
  int repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    long v = std::atol(argv[i + 1]);
    if (v <= 0) {
      std::fprintf(stderr, "round_floor: %s needs a positive number\n", f.c_str());
      return 2;
    }
    if (f == "--hidden") hidden = v;
    else if (f == "--bits") bits = v;
    else if (f == "--rows") rows = v;
    else if (f == "--partners") partners = v;
    else if (f == "--repeats") repeats = static_cast<int>(v);
    else {
      std::fprintf(stderr, "round_floor: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (partners < 2) {
    std::fprintf(stderr, "round_floor: --partners must be at least 2\n");
    return 2;
  }
  if (rows == 0 || rows > bits) rows = bits;
  const size_t n = rows * hidden + hidden;  // the first layer's rows that travel + bias
  const size_t bytes = 4 * n;
  std::vector<float> update(n);
  for (size_t k = 0; k < n; ++k) update[k] = static_cast<float>((k % 2001) - 1000) * 1e-6f;
  std::vector<uint32_t> words(n), acc(n);
  std::string blob(bytes, '\x5a'), recv(bytes, '\0');
  std::vector<float> avg(n);

  std::vector<SecretKey> keys;
  std::vector<PubKey> members;
  for (size_t p = 0; p < partners; ++p) {
    keys.push_back(SecretKey::FromSeed("round_floor partner " + std::to_string(p)));
    members.push_back(keys.back().pubkey());
  }
  std::sort(members.begin(), members.end());
  orchestrator::MaskContext ctx{"floor", "task", 1, 0, members};
  auto fp = orchestrator::FixedPoint::Make(1.0f, 10000).value();

  const double encode = MedianMs(repeats, [&] { (void)fp.Encode(update, 2000, words); });
  const double mask = MedianMs(repeats, [&] { (void)orchestrator::ApplyMask(keys[0], ctx, words); });
  const double sha = MedianMs(repeats, [&] { (void)Sha256(std::string_view(blob)); });
  const double copy = MedianMs(repeats, [&] { std::memcpy(recv.data(), blob.data(), bytes); });
  const double tcp = MedianMs(repeats, [&] { LoopbackTransfer(blob, &recv); });
  const double add = MedianMs(repeats, [&] { orchestrator::AddWords(acc, words); });
  const double decode = MedianMs(repeats, [&] { fp.Decode(acc, 6000, avg); });

  const double mb = bytes / 1e6;
  std::printf("trunk: %zu of %zu rows x %zu + %zu = %zu values, %.1f MB per artifact; %zu partners\n",
              rows, bits, hidden, hidden, n, mb, partners);
  std::printf("primitive (one core, median of %d)        ms      MB/s\n", repeats);
  auto row = [&](const char* what, double ms) {
    std::printf("  %-38s %8.1f %9.0f\n", what, ms, mb / (ms / 1e3));
  };
  row("encode to fixed point", encode);
  row("mask (P-1 AES-256-CTR streams)", mask);
  row("SHA-256", sha);
  row("memcpy", copy);
  row("loopback TCP transfer", tcp);
  row("add words", add);
  row("decode words", decode);
  const double p_mask = encode + mask + sha;
  const double send = tcp + sha;
  const double aggr = (partners - 1) * add + sha;
  const double fetch = tcp + sha + decode + add;  // + add: the average into the trunk
  std::printf("floor per step (ms): mask+hash %.1f  send %.1f  aggregate %.1f  fetch+apply %.1f"
              "  sum %.1f\n", p_mask, send, aggr, fetch, p_mask + send + aggr + fetch);
  return 0;
}
