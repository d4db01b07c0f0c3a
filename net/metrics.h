// A small Prometheus metrics registry: counters, gauges and fixed-bucket histograms,
// rendered in the Prometheus text exposition format 0.0.4 for `GET /metrics`.
//
// Ownership: the registry owns every metric it creates; the references it hands out stay
// valid for the registry's lifetime. Register metrics at start-up, keep the reference, and
// update it on the hot path.
//
// Thread-safety: updating a Counter, Gauge or Histogram is lock-free (relaxed atomics) and may
// happen from any thread. Registration and Render() take the registry's mutex and may run
// concurrently with updates and with each other. A rendered histogram is a consistent
// snapshot of its buckets: `_count` always equals the `+Inf` bucket, though `_sum` may lag a
// concurrent Observe() by one sample.
//
// Names and labels are chosen by our code, not by input: an invalid metric or label name,
// re-registering a name with another type or help text, or registering the same name+labels
// twice is a programmer error and aborts.
//
// Output (families in registration order, series within a family in registration order):
//   # HELP fedledger_height Latest committed height.
//   # TYPE fedledger_height gauge
//   fedledger_height 42
//   # HELP fedledger_commit_latency_seconds Submit-to-commit latency.
//   # TYPE fedledger_commit_latency_seconds histogram
//   fedledger_commit_latency_seconds_bucket{le="0.01"} 3
//   fedledger_commit_latency_seconds_bucket{le="+Inf"} 5
//   fedledger_commit_latency_seconds_sum 0.42
//   fedledger_commit_latency_seconds_count 5
// Numbers are written in the shortest form that reads back exactly ("0.005", "42", "1e+21");
// +Inf, -Inf and NaN as Prometheus spells them. HELP text escapes '\' and newline; label
// values escape '\', '"' and newline.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fedledger::net {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value. Inc() with a negative amount is a programmer error.
class Counter {
 public:
  void Inc(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double amount = 1.0);
  void Dec(double amount = 1.0) { Inc(-amount); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Fixed upper bounds, strictly increasing and finite; the +Inf bucket is implicit.
// Observe() is a binary search plus two relaxed atomic adds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;     // without +Inf
    std::vector<uint64_t> cumulative;     // one per bound, then one for +Inf
    double sum = 0;
    uint64_t count = 0;                   // == cumulative.back()
  };
  Snapshot Take() const;

  // Useful bucket layouts.
  static std::vector<double> ExponentialBuckets(double start, double factor, int count);
  static std::vector<double> LatencyBuckets();  // 1 ms .. 10 s, for seconds

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& AddCounter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& AddGauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds, Labels labels = {});
  // A value read at render time (for example the connected-peer count or a component's own
  // counter). `fn` is called under the registry's mutex from the rendering thread; it must be
  // thread-safe, must not call back into the registry, and must stay valid for the registry's
  // lifetime.
  void AddGaugeFunction(const std::string& name, const std::string& help,
                        std::function<double()> fn, Labels labels = {});
  void AddCounterFunction(const std::string& name, const std::string& help,
                          std::function<double()> fn, Labels labels = {});
  // Called at the start of every Render(), before any series function and under the same
  // mutex: series that come from one source (a /proc scan) read it once per scrape.
  void AddRenderHook(std::function<void()> fn);

  // The whole registry in text format 0.0.4 (Content-Type below).
  std::string Render() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family;
  struct Series;
  Series& AddSeries(const std::string& name, const std::string& help, int type, Labels labels);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> render_hooks_;
};

// Formatting helpers, exposed for tests and for other exporters.
std::string FormatMetricValue(double v);
std::string EscapeLabelValue(const std::string& v);
std::string EscapeHelp(const std::string& v);

}  // namespace fedledger::net
