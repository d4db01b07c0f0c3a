#include "net/metrics.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <thread>

#include "ledger/thread_name.h"
#include "net/process_metrics.h"

using namespace fedledger::net;

TEST_CASE("metrics: golden text exposition format 0.0.4", "[metrics]") {
  MetricsRegistry r;
  Counter& committed = r.AddCounter("fedledger_entries_committed_total", "Entries committed.");
  Gauge& height = r.AddGauge("fedledger_height", "Latest committed height.");
  Histogram& latency = r.AddHistogram("fedledger_commit_latency_seconds",
                                      "Submit-to-commit latency.", {0.5, 1, 2});
  r.AddGaugeFunction("fedledger_peers_connected", "Peers with an authenticated link.",
                     [] { return 3.0; });
  Counter& ok = r.AddCounter("fedledger_http_requests_total", "HTTP requests by status.",
                             {{"code", "200"}, {"route", "/blocks/{height}"}});
  Counter& nf = r.AddCounter("fedledger_http_requests_total", "HTTP requests by status.",
                             {{"code", "404"}, {"route", "other"}});
  committed.Inc();
  committed.Inc(2);
  height.Set(42);
  latency.Observe(0.25);
  latency.Observe(0.5);  // le is inclusive
  latency.Observe(1);
  latency.Observe(4);
  ok.Inc(7);
  nf.Inc();

  const std::string expected =
      "# HELP fedledger_entries_committed_total Entries committed.\n"
      "# TYPE fedledger_entries_committed_total counter\n"
      "fedledger_entries_committed_total 3\n"
      "# HELP fedledger_height Latest committed height.\n"
      "# TYPE fedledger_height gauge\n"
      "fedledger_height 42\n"
      "# HELP fedledger_commit_latency_seconds Submit-to-commit latency.\n"
      "# TYPE fedledger_commit_latency_seconds histogram\n"
      "fedledger_commit_latency_seconds_bucket{le=\"0.5\"} 2\n"
      "fedledger_commit_latency_seconds_bucket{le=\"1\"} 3\n"
      "fedledger_commit_latency_seconds_bucket{le=\"2\"} 3\n"
      "fedledger_commit_latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "fedledger_commit_latency_seconds_sum 5.75\n"
      "fedledger_commit_latency_seconds_count 4\n"
      "# HELP fedledger_peers_connected Peers with an authenticated link.\n"
      "# TYPE fedledger_peers_connected gauge\n"
      "fedledger_peers_connected 3\n"
      "# HELP fedledger_http_requests_total HTTP requests by status.\n"
      "# TYPE fedledger_http_requests_total counter\n"
      "fedledger_http_requests_total{code=\"200\",route=\"/blocks/{height}\"} 7\n"
      "fedledger_http_requests_total{code=\"404\",route=\"other\"} 1\n";
  CHECK(r.Render() == expected);
}

TEST_CASE("metrics: histogram with labels and an empty histogram", "[metrics]") {
  MetricsRegistry r;
  Histogram& h = r.AddHistogram("rpc_seconds", "RPC time.", {0.001, 0.01}, {{"op", "get"}});
  h.Observe(0.0001);
  r.AddHistogram("idle_seconds", "Never observed.", {1});
  const std::string expected =
      "# HELP rpc_seconds RPC time.\n"
      "# TYPE rpc_seconds histogram\n"
      "rpc_seconds_bucket{op=\"get\",le=\"0.001\"} 1\n"
      "rpc_seconds_bucket{op=\"get\",le=\"0.01\"} 1\n"
      "rpc_seconds_bucket{op=\"get\",le=\"+Inf\"} 1\n"
      "rpc_seconds_sum{op=\"get\"} 0.0001\n"
      "rpc_seconds_count{op=\"get\"} 1\n"
      "# HELP idle_seconds Never observed.\n"
      "# TYPE idle_seconds histogram\n"
      "idle_seconds_bucket{le=\"1\"} 0\n"
      "idle_seconds_bucket{le=\"+Inf\"} 0\n"
      "idle_seconds_sum 0\n"
      "idle_seconds_count 0\n";
  CHECK(r.Render() == expected);
}

TEST_CASE("metrics: escaping and number formatting", "[metrics]") {
  CHECK(FormatMetricValue(0.005) == "0.005");
  CHECK(FormatMetricValue(42) == "42");
  CHECK(FormatMetricValue(-1.5) == "-1.5");
  CHECK(FormatMetricValue(1e21) == "1e+21");
  CHECK(FormatMetricValue(0.0001) == "0.0001");
  CHECK(FormatMetricValue(1.5e-12) == "1.5e-12");
  CHECK(FormatMetricValue(123456789) == "123456789");
  CHECK(FormatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatMetricValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatMetricValue(std::nan("")) == "NaN");
  CHECK(EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(EscapeHelp("line1\nline2 \\ \"kept\"") == "line1\\nline2 \\\\ \"kept\"");

  MetricsRegistry r;
  r.AddGauge("g", "Help with\nnewline.", {{"path", "C:\\dir \"x\""}}).Set(1);
  CHECK(r.Render() ==
        "# HELP g Help with\\nnewline.\n"
        "# TYPE g gauge\n"
        "g{path=\"C:\\\\dir \\\"x\\\"\"} 1\n");
}

TEST_CASE("metrics: every sample line is well-formed", "[metrics]") {
  MetricsRegistry r;
  r.AddCounter("a_total", "A.").Inc();
  r.AddHistogram("b_seconds", "B.", Histogram::LatencyBuckets()).Observe(0.02);
  r.AddCounterFunction("c_total", "C.", [] { return 12.0; }, {{"peer", "ab"}});
  std::istringstream in(r.Render());
  std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? \S+$)");
  std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {
      CHECK(std::regex_match(line, comment));
    } else {
      CHECK(std::regex_match(line, sample));
      ++samples;
    }
  }
  CHECK(samples == 1 + (13 + 1 + 2) + 1);
}

TEST_CASE("metrics: concurrent updates are all counted", "[metrics]") {
  MetricsRegistry r;
  Counter& c = r.AddCounter("hits_total", "Hits.");
  Gauge& g = r.AddGauge("level", "Level.");
  Histogram& h = r.AddHistogram("lat_seconds", "Latency.", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        c.Inc();
        g.Inc();
        g.Dec(0.5);
        h.Observe(i % 2 ? 0.25 : 1.0);
      }
    });
  }
  std::string mid = r.Render();  // rendering while updating must be safe
  for (auto& t : threads) t.join();
  CHECK(c.Value() == 200000);
  CHECK(g.Value() == 100000);
  Histogram::Snapshot s = h.Take();
  CHECK(s.count == 200000);
  CHECK(s.cumulative[0] == 100000);
  CHECK(s.sum == 100000 * 0.25 + 100000 * 1.0);
  CHECK(!mid.empty());
}

TEST_CASE("metrics: exponential buckets", "[metrics]") {
  CHECK(Histogram::ExponentialBuckets(0.001, 10, 4) ==
        std::vector<double>{0.001, 0.001 * 10, 0.001 * 10 * 10, 0.001 * 10 * 10 * 10});
}

TEST_CASE("metrics: render hooks run once per scrape, before the series", "[metrics]") {
  MetricsRegistry r;
  int hooks = 0;
  int seen = -1;
  r.AddRenderHook([&] { ++hooks; });
  r.AddGaugeFunction("a", "A.", [&] { seen = hooks; return 1.0; });
  r.AddGaugeFunction("b", "B.", [&] { return static_cast<double>(hooks); });
  std::string text = r.Render();
  CHECK(hooks == 1);
  CHECK(seen == 1);
  CHECK_THAT(text, Catch::Contains("b 1\n"));
  r.Render();
  CHECK(hooks == 2);
}

namespace {
// The value of the sample line starting with `prefix` (name and labels), or NaN.
double Sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix + " ", 0) == 0) return std::stod(line.substr(prefix.size() + 1));
  }
  return std::nan("");
}
}  // namespace

// Renders `r` every 10 ms until `series` reaches `at_least`, for up to 3 s; the last text.
std::string RenderUntil(MetricsRegistry& r, const std::string& series, double at_least) {
  std::string text;
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    text = r.Render();
    if (Sample(text, series) >= at_least) break;
  }
  return text;
}

// A thread that keeps a core busy until Stop().
struct Spinner {
  std::atomic<bool> stop{false};
  std::thread thread{[this] {
    volatile uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  }};
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Spinner() { Stop(); }
};

TEST_CASE("metrics: CPU by thread name adds up to the process total", "[metrics]") {
  MetricsRegistry r;
  RegisterProcessCpuMetrics(r, {"fl-test-spin", "fl-test-absent"});
  Spinner spin;
  fedledger::NameThread(spin.thread, "fl-test-spin");
  // Until the kernel has charged the thread a few ticks.
  std::string text = RenderUntil(r, "fedledger_thread_cpu_seconds_total{thread=\"fl-test-spin\"}", 0.05);
  double spun = Sample(text, "fedledger_thread_cpu_seconds_total{thread=\"fl-test-spin\"}");
  spin.Stop();
  CHECK(spun >= 0.05);
  CHECK(Sample(text, "fedledger_thread_cpu_seconds_total{thread=\"fl-test-absent\"}") == 0);
  // All series of one scrape come from one /proc scan, so they add up exactly.
  double other = Sample(text, "fedledger_thread_cpu_seconds_total{thread=\"other\"}");
  double total = Sample(text, "process_cpu_seconds_total");
  CHECK(spun + other == Approx(total).margin(1e-9));
}

TEST_CASE("metrics: two threads on one core each wait for it", "[metrics]") {
  if (!std::ifstream("/proc/thread-self/schedstat")) {
    WARN("this kernel keeps no schedstat: the run-queue wait series read 0");
    return;
  }
  MetricsRegistry r;
  RegisterProcessCpuMetrics(r, {"fl-test-share"});
  // Both spin on the first core this process may use, so each waits while the other runs.
  cpu_set_t allowed;
  REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &allowed)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  Spinner a, b;
  for (Spinner* s : {&a, &b}) {
    REQUIRE(pthread_setaffinity_np(s->thread.native_handle(), sizeof one, &one) == 0);
    fedledger::NameThread(s->thread, "fl-test-share");
  }
  const char* series = "fedledger_thread_runqueue_wait_seconds_total{thread=\"fl-test-share\"}";
  std::string text = RenderUntil(r, series, 0.1);
  double waited = Sample(text, series);
  a.Stop();
  b.Stop();
  INFO(text);
  CHECK(waited >= 0.1);
}
