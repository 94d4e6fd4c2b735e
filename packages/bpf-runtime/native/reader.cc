// NativeRingBuffer and NativePerfBuffer: one polling thread per reader drains a BPF ring buffer (read directly
// through its mmap) or perf event array (libbpf perf_buffer) into chunks and hands each chunk (a batch) to
// JavaScript through a thread-safe function.
//
// Hot path, per record: the record is memcpy'd from the ring into the chunk being filled and its offset and
// length noted (no allocation, no atomic operation, no call through a pointer); the ring's consumer position is
// published every 64 KiB and at the end of a drain, not per record. Per batch: the chunk's memory becomes the ArrayBuffer JavaScript
// receives (an external ArrayBuffer: no second copy, no zero-filled allocation). It comes back to the pool when
// that ArrayBuffer is garbage collected, or, with recycle(), as soon as the callback returns (the ArrayBuffer is
// detached then), so a few chunks are reused warm in the cache and no batch memory waits for the collector.
//
// A chunk is handed over when it is full, or as soon as the ring is drained while JavaScript is idle (latency
// stays low at low rates). While JavaScript is busy with a batch, the thread does not sleep on the ring (the
// kernel would wake it for nearly every record, and on a machine where it shares a CPU with the JS thread each
// wakeup preempts JavaScript); it waits for JavaScript to finish, draining the ring at short intervals meanwhile,
// so batches grow with the load. The number of batches waiting for JavaScript is bounded: when `queueCapacity` are
// waiting and the current chunk is full, further records are counted as dropped (the kernel ring keeps draining),
// or with pauseWhenFull the thread stops draining until JavaScript catches up: records stay in the kernel ring,
// whose producer then finds it full (back-pressure; nothing is taken out of the ring and then dropped).
// Either way the thread never blocks on JavaScript.
#include "common.h"

#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <uv.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

namespace retina {

namespace {

constexpr size_t kAlign = 8;
// Longest a partial batch is held back while records keep arriving (the latency added under load).
constexpr uint64_t kWindowNs = 200'000;
// Perf buffers with a wakeup interval are drained at least this often.
constexpr int kPerfIdleDrainMs = 10;
// A ring drain publishes its consumer position at least every this many bytes (about 900 records of 64 bytes).
constexpr unsigned long kPublishBytes = 64 * 1024;
size_t AlignUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

class ChunkPool;

// One batch. Memory layout, shared with JavaScript as one ArrayBuffer:
//   [offsets u32 x stride][lengths u32 x stride][cpus u32 x stride, perf only][records, 8-byte aligned]
// Record offsets are relative to the start of the records region.
struct Chunk {
  uint8_t* mem = nullptr;
  size_t headerBytes = 0;  // the u32 arrays
  size_t dataCap = 0;      // bytes available for records
  uint32_t stride = 0;     // slots per u32 array (maxBatch, rounded up to even)
  uint32_t count = 0;
  size_t used = 0;  // record bytes, with alignment padding
  std::shared_ptr<ChunkPool> lentFrom;  // set while JavaScript holds the chunk's memory

  uint32_t* Offsets() { return reinterpret_cast<uint32_t*>(mem); }
  uint32_t* Lengths() { return reinterpret_cast<uint32_t*>(mem) + stride; }
  uint32_t* Cpus() { return reinterpret_cast<uint32_t*>(mem) + 2 * static_cast<size_t>(stride); }
  uint8_t* Data() { return mem + headerBytes; }
  size_t TotalBytes() const { return headerBytes + used; }
  void Reset() {
    count = 0;
    used = 0;
  }
};

// Owns every chunk of a reader. Shared by the reader and by each chunk lent to JavaScript, whose ArrayBuffer
// finalizer may run after the reader is gone.
class ChunkPool : public std::enable_shared_from_this<ChunkPool> {
 public:
  ChunkPool(uint32_t maxBatch, size_t maxBatchBytes, bool withCpus, size_t lentLimitBytes, size_t maxFree)
      : stride_((maxBatch + 1) & ~1u),
        dataCap_(AlignUp(maxBatchBytes)),
        arrays_(withCpus ? 3 : 2),
        lentLimitBytes_(lentLimitBytes),
        maxFree_(maxFree) {}

  ~ChunkPool() {
    for (Chunk* c : free_) Destroy(c);
  }

  // A chunk to fill: a recycled one, or a new one. nullptr only when memory is exhausted.
  Chunk* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        Chunk* c = free_.back();
        free_.pop_back();
        return c;
      }
    }
    return Create(dataCap_);
  }

  // A chunk for one record bigger than a whole batch.
  Chunk* AcquireOversized(size_t recordBytes) { return Create(AlignUp(recordBytes)); }

  // Returns a chunk (from the poller, or from JavaScript once its ArrayBuffer is collected).
  void Release(Chunk* c, bool wasLent) {
    std::lock_guard<std::mutex> lock(mu_);
    if (wasLent) lentBytes_ -= c->headerBytes + c->dataCap;
    c->Reset();
    c->lentFrom.reset();  // never the last reference: the caller holds one
    if (c->dataCap == dataCap_ && free_.size() < maxFree_) {
      free_.push_back(c);
    } else {
      Destroy(c);
    }
  }

  // Whether a chunk may be lent to JavaScript (its memory becomes the batch's ArrayBuffer) rather than copied:
  // lent chunks return only when garbage collected, so their total is capped.
  bool TryLend(Chunk* c) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t bytes = c->headerBytes + c->dataCap;
    if (lentBytes_ + bytes > lentLimitBytes_) return false;
    lentBytes_ += bytes;
    c->lentFrom = shared_from_this();
    return true;
  }

  uint32_t arrays() const { return arrays_; }

 private:
  Chunk* Create(size_t dataCap) {
    auto* c = new (std::nothrow) Chunk();
    if (c == nullptr) return nullptr;
    c->stride = stride_;
    c->headerBytes = static_cast<size_t>(stride_) * 4 * arrays_;
    c->dataCap = dataCap;
    // malloc, not calloc: only the bytes written are ever read, and untouched pages stay out of the RSS.
    c->mem = static_cast<uint8_t*>(malloc(c->headerBytes + dataCap));
    if (c->mem == nullptr) {
      delete c;
      return nullptr;
    }
    return c;
  }

  static void Destroy(Chunk* c) {
    free(c->mem);
    delete c;
  }

  std::mutex mu_;
  std::vector<Chunk*> free_;
  const uint32_t stride_;
  const size_t dataCap_;
  const uint32_t arrays_;
  const size_t lentLimitBytes_;
  const size_t maxFree_;
  size_t lentBytes_ = 0;
};

class ReaderCore;
void CallJs(Napi::Env env, Napi::Function callback, ReaderCore* core, Chunk* chunk);
using Tsfn = Napi::TypedThreadSafeFunction<ReaderCore, Chunk, CallJs>;

enum class Source { kRing, kPerf };

// Options fixed at construction.
struct ReaderConfig {
  uint32_t maxBatch = 4096;
  size_t maxBatchBytes = 1 << 20;
  uint32_t queueCapacity = 16;
  size_t perfPages = 64;        // per CPU, perf only
  uint32_t perfWakeupEvents = 1;  // perf only: the kernel wakes the reader every this many records per CPU
  // When queueCapacity batches wait: false drops further records; true stops draining the kernel buffer until
  // JavaScript catches up (the kernel buffer absorbs the burst, and what it cannot hold is lost in the kernel).
  bool pauseWhenFull = false;
};

class ReaderCore {
 public:
  ReaderCore(Source source, MapRef map, ReaderConfig config)
      : source_(source), map_(std::move(map)), config_(config) {
    // Lent chunks come back when V8 collects their ArrayBuffers; allow what a few young-generation collections
    // need at high rates (a batch of 4096 small records is about 300 KiB), then fall back to copying.
    size_t chunkBytes = AlignUp(config.maxBatchBytes) + static_cast<size_t>(config.maxBatch) * 12;
    size_t lentLimit = std::max<size_t>(8u << 20, chunkBytes * (config.queueCapacity + 2));
    // Keep the chunks that come back for reuse (only their touched pages are resident), so steady state neither
    // allocates nor faults in fresh pages.
    size_t maxFree = lentLimit / chunkBytes + config.queueCapacity + 2;
    pool_ = std::make_shared<ChunkPool>(config.maxBatch, config.maxBatchBytes, source == Source::kPerf, lentLimit,
                                        maxFree);
  }

  ~ReaderCore() {
    if (current_ != nullptr) pool_->Release(current_, false);
    if (ringData_ != nullptr) munmap(ringData_, ringMapBytes_);
    if (ringConsumer_ != nullptr) munmap(ringConsumer_, pageBytes_);
    if (pb_ != nullptr) perf_buffer__free(pb_);
    if (epfd_ >= 0) close(epfd_);
    if (evfd_ >= 0) close(evfd_);
    if (mapFd_ >= 0) close(mapFd_);
  }

  // Sets up the libbpf reader and the epoll set; 0 or negative errno, with libbpf's messages in *log.
  int Open(std::string* log) {
    mapFd_ = fcntl(map_.fd, F_DUPFD_CLOEXEC, 0);
    if (mapFd_ < 0) return -errno;
    LibbpfLogCapture capture;
    int sourceFd = -1;
    if (source_ == Source::kRing) {
      // The ring is read directly rather than through libbpf's ring_buffer, which publishes the consumer
      // position after every record: that is a store to a cache line the producing CPU reads on every
      // reservation, so each record moved the line between CPUs twice. Here it is published once per drain.
      bpf_map_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(mapFd_, &info, &len) != 0) return -errno;
      if (info.type != BPF_MAP_TYPE_RINGBUF) return -EINVAL;
      ringBytes_ = info.max_entries;
      pageBytes_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      // Layout of a ring map's mmap: the consumer page (writable), then the producer page and the data pages,
      // mapped twice in a row so that a record that wraps around is contiguous.
      void* consumer = mmap(nullptr, pageBytes_, PROT_READ | PROT_WRITE, MAP_SHARED, mapFd_, 0);
      if (consumer == MAP_FAILED) return -errno;
      ringConsumer_ = consumer;
      ringMapBytes_ = pageBytes_ + 2 * ringBytes_;
      void* data = mmap(nullptr, ringMapBytes_, PROT_READ, MAP_SHARED, mapFd_, static_cast<off_t>(pageBytes_));
      if (data == MAP_FAILED) return -errno;
      ringData_ = data;
      sourceFd = mapFd_;
    } else {
      // What libbpf's perf_buffer__new() sets up, with the wakeup interval as an option.
      perf_event_attr attr{};
      attr.type = PERF_TYPE_SOFTWARE;
      attr.config = PERF_COUNT_SW_BPF_OUTPUT;
      attr.sample_type = PERF_SAMPLE_RAW;
      attr.sample_period = 1;
      attr.wakeup_events = config_.perfWakeupEvents;
      pb_ = perf_buffer__new_raw(mapFd_, config_.perfPages, &attr, &ReaderCore::OnPerfEvent, this, nullptr);
      if (pb_ == nullptr) {
        int err = errno;
        *log = capture.Text();
        return -err;
      }
      sourceFd = perf_buffer__epoll_fd(pb_);
      ringBytes_ = config_.perfPages * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    }
    evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd_ < 0) return -errno;
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return -errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = evfd_;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) return -errno;
    ev.data.fd = sourceFd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, sourceFd, &ev) != 0) return -errno;
    // While JavaScript is busy, drain at this interval: a quarter of the time the buffer takes to fill at ~1 GB/s,
    // between 10 us and 2 ms. A partial batch goes out at most kWindowNs after the previous one.
    busyIntervalNs_ = std::clamp<uint64_t>(static_cast<uint64_t>(ringBytes_) / 4, 10'000, 2'000'000);
    windowNs_ = std::min<uint64_t>(kWindowNs, busyIntervalNs_);
    return 0;
  }

  void Start(Tsfn tsfn) {
    tsfn_ = tsfn;
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
    // Named so that per-thread CPU (top -H, /proc/<pid>/task) shows the reader apart from the JS thread.
    pthread_setname_np(thread_.native_handle(), source_ == Source::kRing ? "retina-ringbuf" : "retina-perfbuf");
  }

  // Stops and joins the thread; batches not yet delivered are counted as dropped. JS thread only.
  void Stop() {
    if (!running_) return;
    running_ = false;
    discarding_.store(true);
    stopping_.store(true);
    Wake();
    if (thread_.joinable()) thread_.join();
    tsfn_.Release();
  }

  bool Running() const { return running_; }
  // Batches are valid only during the callback: their memory goes back to the pool as soon as it returns (the
  // ArrayBuffer is detached then) instead of when V8 collects it. Set before start(), read on the JS thread.
  bool recycle = false;
  bool Paused() const { return paused_.load(std::memory_order_relaxed); }
  Source source() const { return source_; }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = ::write(evfd_, &one, sizeof(one));
    (void)ignored;
  }

  Tsfn& tsfn() { return tsfn_; }
  ChunkPool& pool() { return *pool_; }

  std::atomic<uint64_t> read{0};       // records taken from the ring (delivered, queued or dropped)
  std::atomic<uint64_t> delivered{0};  // records handed to JavaScript
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> lost{0};         // perf: records the kernel could not write (PERF_RECORD_LOST)
  std::atomic<uint64_t> copied{0};       // batches copied instead of lent (lent limit reached)
  std::atomic<uint32_t> outstanding{0};  // chunks queued to or inside JavaScript
  std::atomic<int> error{0};
  std::atomic<bool> discarding_{false};

 private:
  // Takes the committed records between the consumer and producer positions (what libbpf's ring_buffer__consume
  // does, with a consumer-position update per kPublishBytes and at the end of a pass instead of per record, so a
  // long drain still frees the ring's space as it goes). Stops early at a record still being
  // written, when a paused reader has no room for a record (it stays in the ring), and on stop(). Like libbpf, it
  // looks at the producer position again after publishing its own and goes on while records keep coming (up to a
  // ring's worth per call): a consumer that has caught up is what the kernel wakes for the next record.
  void ConsumeRing() {
    auto* consumerPos = static_cast<unsigned long*>(ringConsumer_);
    auto* producerPos = static_cast<unsigned long*>(ringData_);
    const uint8_t* data = static_cast<const uint8_t*>(ringData_) + pageBytes_;
    const unsigned long mask = ringBytes_ - 1;
    unsigned long cons = __atomic_load_n(consumerPos, __ATOMIC_RELAXED);  // only this thread writes it
    const unsigned long first = cons;
    for (;;) {
      const unsigned long start = cons;
      unsigned long published = cons;
      const unsigned long prod = __atomic_load_n(producerPos, __ATOMIC_ACQUIRE);
      bool stopped = false;
      while (cons < prod) {
        const auto* header = reinterpret_cast<const uint32_t*>(data + (cons & mask));
        uint32_t len = __atomic_load_n(header, __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT) {  // reserved, not yet submitted or discarded
          stopped = true;
          break;
        }
        uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        unsigned long next = cons + ((size + BPF_RINGBUF_HDR_SZ + 7) & ~7ul);
        if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
          localRead_++;
          if (!Store(reinterpret_cast<const uint8_t*>(header) + BPF_RINGBUF_HDR_SZ, size, 0)) {
            localRead_--;  // left in the ring for the next drain
            stopped = true;
            break;
          }
        }
        cons = next;
        if (cons - published >= kPublishBytes) {
          __atomic_store_n(consumerPos, cons, __ATOMIC_RELEASE);
          published = cons;
        }
        if (stopping_.load(std::memory_order_relaxed)) {
          stopped = true;
          break;
        }
      }
      // Frees the space of everything taken (the kernel reads this before each reservation).
      if (cons != published) __atomic_store_n(consumerPos, cons, __ATOMIC_RELEASE);
      if (stopped || cons == start || cons - first >= ringBytes_) return;
    }
  }

  // One perf record: a sample (PERF_SAMPLE_RAW: u32 size, then the bytes bpf_perf_event_output wrote, padded)
  // or the kernel's count of samples it had no room for.
  static bpf_perf_event_ret OnPerfEvent(void* ctx, int cpu, perf_event_header* event) {
    auto* self = static_cast<ReaderCore*>(ctx);
    if (event->type == PERF_RECORD_SAMPLE) {
      struct Sample {
        perf_event_header header;
        uint32_t size;
        uint8_t data[];
      };
      auto* sample = reinterpret_cast<Sample*>(event);
      self->Append(sample->data, sample->size, static_cast<uint32_t>(cpu));
    } else if (event->type == PERF_RECORD_LOST) {
      struct Lost {
        perf_event_header header;
        uint64_t id;
        uint64_t lost;
      };
      self->lost.fetch_add(reinterpret_cast<Lost*>(event)->lost, std::memory_order_relaxed);
    }
    return LIBBPF_PERF_EVENT_CONT;
  }

  // Counts and stores one record taken from the kernel buffer. Poller thread only. false: pause draining (the
  // record is held).
  bool Append(const void* data, size_t size, uint32_t cpu) {
    localRead_++;
    return Store(data, size, cpu);
  }

  // Copies one record into the current chunk, queueing the chunk first when it is full.
  bool Store(const void* data, size_t size, uint32_t cpu) {
    size_t need = AlignUp(size);
    Chunk* c = current_;
    if (c != nullptr && (c->count >= config_.maxBatch || c->used + need > c->dataCap)) {
      // The chunk is full; so may be the queue to JavaScript.
      if (!Flush()) {
        if (!config_.pauseWhenFull) {
          localDropped_++;
          return true;
        }
        paused_ = true;
        // The record stays in the ring; draining stops here until JavaScript catches up.
        if (source_ == Source::kRing) return false;
        // perf_buffer__consume cannot stop mid-buffer: let the queue exceed its capacity by what this call
        // drains (at most the per-CPU buffers), and start no further drain until it is back under capacity.
        ForceFlush();
      }
      c = nullptr;
    }
    if (c == nullptr) {
      c = need > AlignUp(config_.maxBatchBytes) ? pool_->AcquireOversized(need) : pool_->Acquire();
      if (c == nullptr) {
        localDropped_++;
        return true;
      }
      current_ = c;
    }
    memcpy(c->Data() + c->used, data, size);
    c->Offsets()[c->count] = static_cast<uint32_t>(c->used);
    c->Lengths()[c->count] = static_cast<uint32_t>(size);
    if (source_ == Source::kPerf) c->Cpus()[c->count] = cpu;
    c->count++;
    c->used += need;
    return true;
  }

  // Ends a pause once the queue has room again: queues the full chunk and stores the held record. false while
  // the queue is still full.
  bool Resume() {
    if (outstanding.load() >= config_.queueCapacity) return false;
    paused_ = false;
    return true;
  }

  // Queues the current chunk for JavaScript; false (chunk kept) when queueCapacity batches already wait.
  bool Flush() {
    if (outstanding.load() >= config_.queueCapacity) return current_ == nullptr || current_->count == 0;
    ForceFlush();
    return true;
  }

  // Queues the current chunk regardless of the queue's capacity.
  void ForceFlush() {
    Chunk* c = current_;
    if (c == nullptr || c->count == 0) return;
    current_ = nullptr;
    lastFlushNs_ = NowNs();
    outstanding.fetch_add(1);
    if (tsfn_.NonBlockingCall(c) != napi_ok) {
      outstanding.fetch_sub(1);
      localDropped_ += c->count;
      pool_->Release(c, false);
    }
  }

  void Publish() {
    if (localRead_ != 0) read.fetch_add(localRead_, std::memory_order_relaxed);
    if (localDropped_ != 0) dropped.fetch_add(localDropped_, std::memory_order_relaxed);
    localRead_ = 0;
    localDropped_ = 0;
  }

  int Consume() {
    if (source_ == Source::kRing) {
      ConsumeRing();
      return 0;
    }
    int r = perf_buffer__consume(pb_);
    return r == -EINTR || r >= 0 ? 0 : r;
  }

  static uint64_t NowNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
  }

  void DrainEventfd() {
    uint64_t value = 0;
    ssize_t ignored = ::read(evfd_, &value, sizeof(value));
    (void)ignored;
  }

  // Blocks until there is a reason to drain: ring data, JavaScript finishing a batch, or the end of a coalescing
  // interval. false (with error set) when waiting itself failed.
  bool Wait() {
    if (paused_) {
      // Only JavaScript finishing a batch (or stop()) can end a pause.
      if (outstanding.load() < config_.queueCapacity) return true;
      pollfd p{evfd_, POLLIN, 0};
      int n = poll(&p, 1, -1);
      if (n < 0 && errno != EINTR) {
        error.store(errno);
        return false;
      }
      if (n > 0) DrainEventfd();
      return true;
    }
    uint64_t now = NowNs();
    bool pending = current_ != nullptr && current_->count > 0;
    uint64_t wakeAt = 0;  // 0: sleep on the ring and the eventfd
    if (outstanding.load() > 0) {
      // JavaScript is busy: drain at intervals while records arrive instead of being woken for each one.
      if (lastDrainRecords_ > 0) wakeAt = lastDrainNs_ + busyIntervalNs_;
    } else if (pending) {
      // A partial batch is held back until an interval after the previous hand-over.
      wakeAt = lastFlushNs_ + windowNs_;
    }
    if (wakeAt != 0) {
      if (wakeAt <= now) return true;
      pollfd p{evfd_, POLLIN, 0};
      timespec ts{0, static_cast<long>(wakeAt - now)};
      int n = ppoll(&p, 1, &ts, nullptr);
      if (n < 0 && errno != EINTR) {
        error.store(errno);
        return false;
      }
      if (n > 0) DrainEventfd();
      return true;
    }
    epoll_event events[4];
    // With a perf wakeup interval, the kernel stays silent until that many records wait on a CPU: look anyway
    // every kPerfIdleDrainMs so that a few records do not wait indefinitely.
    int timeoutMs = source_ == Source::kPerf && config_.perfWakeupEvents > 1 ? kPerfIdleDrainMs : -1;
    int n = epoll_wait(epfd_, events, 4, timeoutMs);
    if (n < 0) {
      if (errno == EINTR) return true;
      error.store(errno);
      return false;
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd == evfd_) DrainEventfd();
    }
    return true;
  }

  void Loop() {
    while (!stopping_.load()) {
      if (!Wait()) break;
      if (stopping_.load()) break;
      if (paused_ && !Resume()) continue;
      uint64_t before = localRead_;
      int r = Consume();
      uint64_t now = NowNs();
      lastDrainNs_ = now;
      lastDrainRecords_ = localRead_ - before;
      if (current_ != nullptr && current_->count > 0 && outstanding.load() == 0 &&
          now - lastFlushNs_ >= windowNs_) {
        Flush();
      }
      Publish();
      if (r < 0) {
        error.store(-r);
        break;
      }
    }
    if (current_ != nullptr) {
      localDropped_ += current_->count;
      pool_->Release(current_, false);
      current_ = nullptr;
    }
    Publish();
    int err = error.load();
    if (err != 0 && !stopping_.load()) {
      // Tell JavaScript the reader died (a null chunk carries the error).
      tsfn_.NonBlockingCall(static_cast<Chunk*>(nullptr));
    }
  }

  const Source source_;
  MapRef map_;
  const ReaderConfig config_;
  std::shared_ptr<ChunkPool> pool_;
  int mapFd_ = -1;
  void* ringConsumer_ = nullptr;  // the consumer page
  void* ringData_ = nullptr;      // the producer page, then the data pages twice
  size_t ringMapBytes_ = 0;
  size_t pageBytes_ = 0;
  perf_buffer* pb_ = nullptr;
  size_t ringBytes_ = 0;
  uint64_t windowNs_ = 200'000;
  uint64_t busyIntervalNs_ = 2'000'000;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  Tsfn tsfn_;
  std::atomic<bool> stopping_{false};
  bool running_ = false;
  std::atomic<bool> paused_{false};  // written by the poller, read by CallJs
  // Poller thread only.
  Chunk* current_ = nullptr;
  uint64_t localRead_ = 0;
  uint64_t localDropped_ = 0;
  uint64_t lastDrainNs_ = 0;
  uint64_t lastDrainRecords_ = 0;
  uint64_t lastFlushNs_ = 0;
};

// Finalizer of a lent chunk's ArrayBuffer: JavaScript no longer references it, so the poller may refill it.
void ReturnLentChunk(Napi::Env /*env*/, void* /*data*/, Chunk* chunk) {
  std::shared_ptr<ChunkPool> pool = chunk->lentFrom;  // keeps the pool alive past Release
  pool->Release(chunk, true);
}

// Hands a chunk to JavaScript for the duration of the callback only: its memory is the ArrayBuffer (no copy, no
// allocation but the ArrayBuffer object), detached when the callback returns or throws, so the chunk is reused at
// once and stays warm in the cache; no batch memory waits for garbage collection.
void CallJsRecycled(Napi::Env env, Napi::Function callback, ReaderCore* core, Chunk* chunk) {
  uint32_t count = chunk->count;
  size_t dataBytes = chunk->used;
  napi_value ab = nullptr;
  if (napi_create_external_arraybuffer(env, chunk->mem, chunk->TotalBytes(), nullptr, nullptr, &ab) != napi_ok) {
    core->dropped.fetch_add(count, std::memory_order_relaxed);
    core->pool().Release(chunk, false);
    if (core->outstanding.fetch_sub(1) == 1 || core->Paused()) core->Wake();
    return;
  }
  core->delivered.fetch_add(count, std::memory_order_relaxed);
  core->bytes.fetch_add(dataBytes, std::memory_order_relaxed);
  core->batches.fetch_add(1, std::memory_order_relaxed);
  struct GiveBack {
    napi_env env;
    napi_value ab;
    ReaderCore* core;
    Chunk* chunk;
    ~GiveBack() {
      // A detached ArrayBuffer (and every view of it) reads as empty: nothing can see the chunk being refilled.
      // Detaching only fails for a value that is not a detachable ArrayBuffer, which ours always is; if it ever
      // did, the chunk is given up rather than reused under JavaScript's eyes.
      if (napi_detach_arraybuffer(env, ab) == napi_ok) core->pool().Release(chunk, false);
      // JavaScript is done with this batch: a paused poller, or one holding a partial batch, may go on.
      if (core->outstanding.fetch_sub(1) == 1 || core->Paused()) core->Wake();
    }
  } giveBack{env, ab, core, chunk};
  callback.Call({Napi::Value(env, ab), Napi::Number::New(env, count),
                 Napi::Number::New(env, static_cast<double>(dataBytes)), Napi::Number::New(env, chunk->stride)});
}

void CallJs(Napi::Env env, Napi::Function callback, ReaderCore* core, Chunk* chunk) {
  if (chunk == nullptr) {
    if (env != nullptr && !core->discarding_.load()) {
      callback.Call({env.Null(), Napi::Number::New(env, core->error.load())});
    }
    return;
  }
  uint32_t count = chunk->count;
  if (env == nullptr || core->discarding_.load()) {
    core->dropped.fetch_add(count, std::memory_order_relaxed);
    core->pool().Release(chunk, false);
    core->outstanding.fetch_sub(1);
    return;
  }
  size_t dataBytes = chunk->used;
  uint32_t stride = chunk->stride;
  if (core->recycle) {
    CallJsRecycled(env, callback, core, chunk);
    return;
  }
  Napi::ArrayBuffer ab;
  if (core->pool().TryLend(chunk)) {
    ab = Napi::ArrayBuffer::New(env, chunk->mem, chunk->TotalBytes(), ReturnLentChunk, chunk);
  } else {
    // Too much lent memory awaits garbage collection: copy (compact arrays) and recycle the chunk right away.
    uint32_t arrays = core->pool().arrays();
    stride = (count + 1) & ~1u;
    size_t header = static_cast<size_t>(stride) * 4 * arrays;
    ab = Napi::ArrayBuffer::New(env, header + dataBytes);
    auto* dst = static_cast<uint8_t*>(ab.Data());
    for (uint32_t a = 0; a < arrays; a++) {
      memcpy(dst + static_cast<size_t>(stride) * 4 * a, chunk->mem + static_cast<size_t>(chunk->stride) * 4 * a,
             static_cast<size_t>(count) * 4);
    }
    memcpy(dst + header, chunk->Data(), dataBytes);
    core->pool().Release(chunk, false);
    core->copied.fetch_add(1, std::memory_order_relaxed);
  }
  core->delivered.fetch_add(count, std::memory_order_relaxed);
  core->bytes.fetch_add(dataBytes, std::memory_order_relaxed);
  core->batches.fetch_add(1, std::memory_order_relaxed);
  // When JavaScript catches up, wake the poller so a partial batch it holds goes out without waiting for data; a
  // paused poller is woken for every batch JavaScript finishes.
  if (core->outstanding.fetch_sub(1) == 1 || core->Paused()) core->Wake();
  callback.Call({ab, Napi::Number::New(env, count), Napi::Number::New(env, static_cast<double>(dataBytes)),
                 Napi::Number::New(env, stride)});
}

using CorePtr = std::shared_ptr<ReaderCore>;

// Shared by both reader classes: constructor arguments (map, maxBatch, maxBatchBytes, queueCapacity,
// pauseWhenFull[, pageCount, wakeupEvents]),
// start(onBatch), stop(), stats(), ref(), unref().
template <Source kSource>
class NativeReader : public Napi::ObjectWrap<NativeReader<kSource>> {
 public:
  static Napi::Function Define(Napi::Env env, const char* name) {
    return NativeReader::DefineClass(env, name,
                                     {
                                         NativeReader::template InstanceMethod<&NativeReader::Start>("start"),
                                         NativeReader::template InstanceMethod<&NativeReader::Stop>("stop"),
                                         NativeReader::template InstanceMethod<&NativeReader::Stats>("stats"),
                                         NativeReader::template InstanceMethod<&NativeReader::Ref>("ref"),
                                         NativeReader::template InstanceMethod<&NativeReader::Unref>("unref"),
                                         NativeReader::template InstanceMethod<&NativeReader::Recycle>("recycle"),
                                     });
  }

  explicit NativeReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeReader>(info) {
    Napi::Env env = info.Env();
    const char* what = kSource == Source::kRing ? "ring buffer" : "perf buffer";
    MapRef map;
    if (info.Length() < 1 || !ExtractMap(env, info[0], &map)) {
      ThrowTypeError(env, std::string(what) + " reader needs an open NativeMap");
    }
    ReaderConfig config;
    config.maxBatch = static_cast<uint32_t>(ArgInt(info, 1, "maxBatch"));
    config.maxBatchBytes = static_cast<size_t>(ArgInt(info, 2, "maxBatchBytes"));
    config.queueCapacity = static_cast<uint32_t>(ArgInt(info, 3, "queueCapacity"));
    if (config.maxBatch == 0 || config.maxBatchBytes < kAlign || config.queueCapacity == 0) {
      ThrowTypeError(env, "maxBatch, maxBatchBytes and queueCapacity must be positive");
    }
    config.pauseWhenFull = ArgBool(info, 4, "pauseWhenFull");
    if (kSource == Source::kPerf) {
      int64_t pages = ArgInt(info, 5, "pageCount");
      if (pages <= 0 || (pages & (pages - 1)) != 0) ThrowTypeError(env, "pageCount must be a power of two");
      config.perfPages = static_cast<size_t>(pages);
      int64_t wakeup = ArgInt(info, 6, "wakeupEvents");
      if (wakeup <= 0 || wakeup > UINT32_MAX) ThrowTypeError(env, "wakeupEvents must be a positive 32-bit integer");
      config.perfWakeupEvents = static_cast<uint32_t>(wakeup);
    }
    core_ = std::make_shared<ReaderCore>(kSource, map, config);
    std::string log;
    int r = core_->Open(&log);
    if (r < 0) ThrowBpfError(env, {-r, kSource == Source::kRing ? "open ring buffer" : "open perf buffer", map.name,
                                   "", log});
  }

  ~NativeReader() override {
    if (core_ && core_->Running()) {
      napi_remove_env_cleanup_hook(this->Env(), &NativeReader::CleanupHook, cleanupArg_);
      core_->Stop();
      delete cleanupArg_;
    }
  }

 private:
  static void CleanupHook(void* arg) {
    auto* core = static_cast<CorePtr*>(arg);
    (*core)->Stop();
    delete core;
  }

  // start(onBatch(ab | null, countOrErrno, dataBytes, stride)). The callback is held only by the thread-safe
  // function, so an idle reader that is dropped can be collected.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "onBatch must be a function");
    if (started_) return env.Undefined();
    started_ = true;
    // The TSFN keeps its own reference to the core until its queue is drained and it is finalized.
    auto* hold = new CorePtr(core_);
    Tsfn tsfn = Tsfn::New(
        env, info[0].As<Napi::Function>(),
        kSource == Source::kRing ? "retina-bpf ring buffer" : "retina-bpf perf buffer", 0, 1, core_.get(),
        [](Napi::Env, CorePtr* held, ReaderCore*) { delete held; }, hold);
    core_->Start(tsfn);
    cleanupArg_ = new CorePtr(core_);
    napi_add_env_cleanup_hook(env, &NativeReader::CleanupHook, cleanupArg_);
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (core_->Running()) {
      napi_remove_env_cleanup_hook(info.Env(), &NativeReader::CleanupHook, cleanupArg_);
      core_->Stop();
      delete cleanupArg_;
      cleanupArg_ = nullptr;
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](std::atomic<uint64_t>& v) { return Napi::Number::New(env, static_cast<double>(v.load())); };
    o.Set("records", num(core_->delivered));
    o.Set("batches", num(core_->batches));
    o.Set("dropped", num(core_->dropped));
    o.Set("bytes", num(core_->bytes));
    o.Set("read", num(core_->read));
    o.Set("lost", num(core_->lost));
    o.Set("copied", num(core_->copied));
    o.Set("error", Napi::Number::New(env, core_->error.load()));
    return o;
  }

  // recycle(): batches are valid during the callback only (see CallJsRecycled). Before start() only.
  Napi::Value Recycle(const Napi::CallbackInfo& info) {
    if (started_) ThrowTypeError(info.Env(), "recycle() must come before start()");
    core_->recycle = true;
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (core_->Running()) core_->tsfn().Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (core_->Running()) core_->tsfn().Unref(info.Env());
    return info.Env().Undefined();
  }

  CorePtr core_;
  CorePtr* cleanupArg_ = nullptr;
  bool started_ = false;
};

// NativeRingMap: the inline ring reader's native half. It maps a ring buffer map (the consumer page writable, the
// producer page and the data pages read-only, the data pages twice in a row so a record that wraps around is
// contiguous) and lends the three areas to JavaScript as external ArrayBuffers: the JS thread walks the records
// and advances the consumer position itself, with no copy and no second thread. This side only says when to look:
// a libuv poll on the map's descriptor (readable while the ring holds unread records; the kernel wakes it when a
// record is committed to a consumer that had caught up) and, after a drain that found records, a timerfd one
// interval later, so that under load the loop is woken once per interval instead of once per record.
//
// watch(drain): drain(errno) runs on the JS thread. errno 0: look at the ring; it returns 0 when the ring was
// empty (wait for the kernel's wakeup), 1 when it took records (look again after the interval) and -1 when it
// stopped at its per-turn bound with records left (look again on the next loop turn). A nonzero errno reports a
// failed poll; the watch has stopped then.
struct RingMapping {
  void* consumer = nullptr;
  void* data = nullptr;  // producer page, then the data pages twice
  size_t pageBytes = 0;
  size_t dataMapBytes = 0;
  ~RingMapping() {
    if (data != nullptr) munmap(data, dataMapBytes);
    if (consumer != nullptr) munmap(consumer, pageBytes);
  }
};
using RingMappingPtr = std::shared_ptr<RingMapping>;

// Finalizer of an area's ArrayBuffer: the mapping goes when its last area and the reader are gone.
void ReleaseArea(napi_env /*env*/, void* /*data*/, void* hint) { delete static_cast<RingMappingPtr*>(hint); }

class NativeRingMap : public Napi::ObjectWrap<NativeRingMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRingMap",
                       {
                           InstanceMethod<&NativeRingMap::Areas>("areas"),
                           InstanceMethod<&NativeRingMap::Watch>("watch"),
                           InstanceMethod<&NativeRingMap::Close>("close"),
                           InstanceMethod<&NativeRingMap::Ref>("ref"),
                           InstanceMethod<&NativeRingMap::Unref>("unref"),
                       });
  }

  // (map, intervalNs)
  explicit NativeRingMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRingMap>(info) {
    Napi::Env env = info.Env();
    MapRef map;
    if (info.Length() < 1 || !ExtractMap(env, info[0], &map)) ThrowTypeError(env, "ring map needs an open NativeMap");
    int64_t interval = ArgInt(info, 1, "intervalNs");
    if (interval <= 0 || interval >= 1'000'000'000) ThrowTypeError(env, "intervalNs must be in (0, 1e9)");
    intervalNs_ = static_cast<uint64_t>(interval);
    mapName_ = map.name;
    int r = Open(map.fd);
    if (r < 0) {
      Release();
      ThrowBpfError(env, {-r, "map ring buffer", map.name, "", ""});
    }
  }

  ~NativeRingMap() override { Release(); }

 private:
  int Open(int fd) {
    mapFd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mapFd_ < 0) return -errno;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(mapFd_, &info, &len) != 0) return -errno;
    if (info.type != BPF_MAP_TYPE_RINGBUF) return -EINVAL;
    ringBytes_ = info.max_entries;
    mapping_ = std::make_shared<RingMapping>();
    mapping_->pageBytes = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* consumer = mmap(nullptr, mapping_->pageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, mapFd_, 0);
    if (consumer == MAP_FAILED) return -errno;
    mapping_->consumer = consumer;
    // The kernel refuses write access beyond the consumer page: the data area is read-only to everyone but it.
    mapping_->dataMapBytes = mapping_->pageBytes + 2 * ringBytes_;
    void* data = mmap(nullptr, mapping_->dataMapBytes, PROT_READ, MAP_SHARED, mapFd_,
                      static_cast<off_t>(mapping_->pageBytes));
    if (data == MAP_FAILED) return -errno;
    mapping_->data = data;
    timerFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (timerFd_ < 0) return -errno;
    return 0;
  }

  // Closes descriptors and drops this object's hold on the mapping (areas lent to JavaScript keep theirs).
  void Release() {
    mapping_.reset();
    if (timerFd_ >= 0) close(timerFd_);
    if (mapFd_ >= 0) close(mapFd_);
    timerFd_ = -1;
    mapFd_ = -1;
  }

  Napi::ArrayBuffer Lend(Napi::Env env, void* at, size_t bytes) {
    napi_value ab = nullptr;
    auto* hold = new RingMappingPtr(mapping_);
    napi_status st = napi_create_external_arraybuffer(env, at, bytes, ReleaseArea, hold, &ab);
    if (st != napi_ok) {
      delete hold;
      ThrowBpfError(env, {ENOMEM, "lend ring buffer memory", mapName_, "", ""});
    }
    areaRefs_.push_back(Napi::Persistent(Napi::ArrayBuffer(env, ab)));
    return Napi::ArrayBuffer(env, ab);
  }

  // areas(): { consumer, producer, data, ringBytes }. Once only.
  Napi::Value Areas(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!mapping_ || !areaRefs_.empty()) ThrowTypeError(env, "areas() is available once, before close()");
    Napi::Object o = Napi::Object::New(env);
    auto* base = static_cast<uint8_t*>(mapping_->data);
    o.Set("consumer", Lend(env, mapping_->consumer, mapping_->pageBytes));
    o.Set("producer", Lend(env, base, mapping_->pageBytes));
    o.Set("data", Lend(env, base + mapping_->pageBytes, 2 * ringBytes_));
    o.Set("ringBytes", Napi::Number::New(env, static_cast<double>(ringBytes_)));
    return o;
  }

  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "drain must be a function");
    if (watching_ || !mapping_) ThrowTypeError(env, "watch() is available once, before close()");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) ThrowTypeError(env, "no event loop");
    ring_ = new uv_poll_t();
    timer_ = new uv_poll_t();
    int r = uv_poll_init(loop, ring_, mapFd_);
    if (r == 0) {
      r = uv_poll_init(loop, timer_, timerFd_);
      if (r != 0) {
        CloseHandle(ring_);
        delete timer_;
      }
    } else {
      delete ring_;
      delete timer_;
    }
    if (r != 0) {
      ring_ = timer_ = nullptr;
      ThrowBpfError(env, {-r, "poll ring buffer", mapName_, "", ""});
    }
    ring_->data = this;
    timer_->data = this;
    drain_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "retina-bpf ring buffer");
    env_ = env;
    watching_ = true;
    // Held while watching: libuv calls back into this object.
    Napi::ObjectWrap<NativeRingMap>::Ref();
    napi_add_env_cleanup_hook(env, &NativeRingMap::CleanupHook, this);
    if (!refed_) {
      uv_unref(reinterpret_cast<uv_handle_t*>(ring_));
      uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    }
    WaitForRing();
    return env.Undefined();
  }

  static void CleanupHook(void* arg) { static_cast<NativeRingMap*>(arg)->StopWatching(false); }

  static void CloseHandle(uv_poll_t* h) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  }

  void StopWatching(bool removeHook) {
    if (!watching_) return;
    watching_ = false;
    if (removeHook) napi_remove_env_cleanup_hook(env_, &NativeRingMap::CleanupHook, this);
    CloseHandle(ring_);
    CloseHandle(timer_);
    ring_ = timer_ = nullptr;
    drain_.Reset();
    // Stopped from inside drain(): the context is in use until the call returns.
    if (!inDrain_) context_.reset();
    Napi::ObjectWrap<NativeRingMap>::Unref();
  }

  void WaitForRing() {
    uv_poll_stop(timer_);
    int r = uv_poll_start(ring_, UV_READABLE, &NativeRingMap::OnRing);
    if (r != 0) Fail(-r);
  }

  void WaitFor(uint64_t ns) {
    uv_poll_stop(ring_);
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000u);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000u);
    if (timerfd_settime(timerFd_, 0, &spec, nullptr) != 0) {
      Fail(errno);
      return;
    }
    int r = uv_poll_start(timer_, UV_READABLE, &NativeRingMap::OnTimer);
    if (r != 0) Fail(-r);
  }

  static void OnRing(uv_poll_t* h, int status, int /*events*/) {
    static_cast<NativeRingMap*>(h->data)->Wake(status);
  }

  static void OnTimer(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<NativeRingMap*>(h->data);
    uint64_t expirations = 0;
    ssize_t ignored = ::read(self->timerFd_, &expirations, sizeof(expirations));
    (void)ignored;
    self->Wake(status);
  }

  void Wake(int status) {
    if (!watching_) return;
    if (status < 0) {
      Fail(-status);
      return;
    }
    int result = CallDrain(0);
    if (!watching_) return;  // drain stopped the reader
    if (result == 0) WaitForRing();
    else WaitFor(result < 0 ? 1 : intervalNs_);
  }

  // Stops watching and tells JavaScript why.
  void Fail(int err) {
    if (!watching_) return;
    Napi::FunctionReference drain = Napi::Persistent(drain_.Value());
    StopWatching(true);
    Napi::HandleScope scope(env_);
    try {
      drain.Call({Napi::Number::New(env_, err)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env_, e.Value());
    }
  }

  // Calls drain(errno) as a libuv callback must (a callback scope, so promise jobs and nextTick run after it); an
  // exception becomes the process's uncaught exception, as it does for the threaded readers.
  int CallDrain(int err) {
    Napi::HandleScope scope(env_);
    int result = 1;
    inDrain_ = true;
    try {
      Napi::Value v = drain_.MakeCallback(Napi::Object::New(env_), {Napi::Number::New(env_, err)}, *context_);
      result = v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env_, e.Value());
    }
    inDrain_ = false;
    if (!watching_) context_.reset();
    return result;
  }

  // close(): stops watching, detaches the areas (every view of them then reads as empty) and lets the mapping go.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopWatching(true);
    for (auto& ref : areaRefs_) {
      if (!ref.IsEmpty()) napi_detach_arraybuffer(info.Env(), ref.Value());
      ref.Reset();
    }
    areaRefs_.clear();
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    refed_ = true;
    if (watching_) {
      uv_ref(reinterpret_cast<uv_handle_t*>(ring_));
      uv_ref(reinterpret_cast<uv_handle_t*>(timer_));
    }
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    refed_ = false;
    if (watching_) {
      uv_unref(reinterpret_cast<uv_handle_t*>(ring_));
      uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    }
    return info.Env().Undefined();
  }

  std::string mapName_;
  RingMappingPtr mapping_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> areaRefs_;
  size_t ringBytes_ = 0;
  uint64_t intervalNs_ = 200'000;
  int mapFd_ = -1;
  int timerFd_ = -1;
  uv_poll_t* ring_ = nullptr;
  uv_poll_t* timer_ = nullptr;
  Napi::FunctionReference drain_;
  std::unique_ptr<Napi::AsyncContext> context_;
  napi_env env_ = nullptr;
  bool watching_ = false;
  bool inDrain_ = false;
  bool refed_ = true;
};

}  // namespace

void InitReader(Napi::Env env, Napi::Object exports, AddonData* /*data*/) {
  exports.Set("NativeRingBuffer", NativeReader<Source::kRing>::Define(env, "NativeRingBuffer"));
  exports.Set("NativePerfBuffer", NativeReader<Source::kPerf>::Define(env, "NativePerfBuffer"));
  exports.Set("NativeRingMap", NativeRingMap::Define(env));
}

}  // namespace retina
