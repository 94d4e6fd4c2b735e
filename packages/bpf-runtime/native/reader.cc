// NativeRingBuffer: one polling thread per reader drains a BPF ring buffer into preallocated chunks and hands each
// full chunk (a batch) to JavaScript through a thread-safe function.
//
// Hot path: libbpf calls OnSample per record; the record is memcpy'd into the current chunk (no allocation). A
// chunk is handed over when it holds maxBatch records or maxBatchBytes bytes, or as soon as the ring is drained
// while JavaScript is idle (so latency stays low at low rates and batches grow under load). The number of chunks
// is bounded: when JavaScript falls behind and every chunk is queued, further records are counted as dropped
// instead of blocking the thread (the kernel ring keeps draining).
#include "common.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace retina {

namespace {

struct Chunk {
  std::vector<uint8_t> data;
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> lengths;
  size_t used = 0;
  uint32_t count = 0;
  void Reset() {
    used = 0;
    count = 0;
  }
};

class ReaderCore;
void CallJs(Napi::Env env, Napi::Function callback, ReaderCore* core, Chunk* chunk);
using Tsfn = Napi::TypedThreadSafeFunction<ReaderCore, Chunk, CallJs>;

constexpr size_t kAlign = 8;
size_t AlignUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

class ReaderCore {
 public:
  ReaderCore(MapRef map, uint32_t maxBatch, size_t maxBatchBytes, uint32_t queueCapacity)
      : map_(std::move(map)), maxBatch_(maxBatch), maxBatchBytes_(maxBatchBytes), queueCapacity_(queueCapacity) {}

  ~ReaderCore() {
    for (Chunk* c : free_) delete c;
    if (rb_ != nullptr) ring_buffer__free(rb_);
    if (epfd_ >= 0) close(epfd_);
    if (evfd_ >= 0) close(evfd_);
    if (mapFd_ >= 0) close(mapFd_);
  }

  // Sets up the ring buffer and the epoll set; 0 or negative errno, with libbpf's messages in *log.
  int Open(std::string* log) {
    mapFd_ = fcntl(map_.fd, F_DUPFD_CLOEXEC, 0);
    if (mapFd_ < 0) return -errno;
    LibbpfLogCapture capture;
    rb_ = ring_buffer__new(mapFd_, &ReaderCore::OnSample, this, nullptr);
    if (rb_ == nullptr) {
      int err = errno;
      *log = capture.Text();
      return -err;
    }
    evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd_ < 0) return -errno;
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return -errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = evfd_;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) return -errno;
    ev.data.fd = ring_buffer__epoll_fd(rb_);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb_), &ev) != 0) return -errno;
    return 0;
  }

  void Start(Tsfn tsfn) {
    tsfn_ = tsfn;
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
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

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = ::write(evfd_, &one, sizeof(one));
    (void)ignored;
  }

  void ReleaseChunk(Chunk* c) {
    c->Reset();
    std::lock_guard<std::mutex> lock(poolMu_);
    free_.push_back(c);
  }

  Tsfn& tsfn() { return tsfn_; }

  std::atomic<uint64_t> read{0};       // records taken from the ring (delivered, queued or dropped)
  std::atomic<uint64_t> delivered{0};  // records handed to JavaScript
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint32_t> outstanding{0};  // chunks queued to or inside JavaScript
  std::atomic<int> error{0};
  std::atomic<bool> discarding_{false};
  std::string mapName() const { return map_.name; }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<ReaderCore*>(ctx);
    self->Append(data, size);
    // Returning an error makes ring_buffer__consume stop early so stop() is prompt under constant load.
    return self->stopping_.load(std::memory_order_relaxed) ? -ECANCELED : 0;
  }

  Chunk* Acquire() {
    std::lock_guard<std::mutex> lock(poolMu_);
    if (!free_.empty()) {
      Chunk* c = free_.back();
      free_.pop_back();
      return c;
    }
    // One chunk is being filled while up to queueCapacity wait for JavaScript.
    if (allocated_ > queueCapacity_) return nullptr;
    allocated_++;
    auto* c = new Chunk();
    c->data.resize(maxBatchBytes_);
    c->offsets.resize(maxBatch_);
    c->lengths.resize(maxBatch_);
    return c;
  }

  void Append(const void* data, size_t size) {
    read.fetch_add(1, std::memory_order_relaxed);
    size_t need = AlignUp(size);
    if (current_ != nullptr && (current_->count >= maxBatch_ || current_->used + need > current_->data.size())) {
      Flush();
    }
    if (current_ == nullptr) {
      current_ = Acquire();
      if (current_ == nullptr) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    if (need > current_->data.size()) current_->data.resize(need);  // a record larger than a whole batch
    memcpy(current_->data.data() + current_->used, data, size);
    current_->offsets[current_->count] = static_cast<uint32_t>(current_->used);
    current_->lengths[current_->count] = static_cast<uint32_t>(size);
    current_->count++;
    current_->used += need;
  }

  void Flush() {
    if (current_ == nullptr || current_->count == 0) return;
    Chunk* c = current_;
    current_ = nullptr;
    outstanding.fetch_add(1);
    if (tsfn_.NonBlockingCall(c) != napi_ok) {
      outstanding.fetch_sub(1);
      dropped.fetch_add(c->count, std::memory_order_relaxed);
      ReleaseChunk(c);
    }
  }

  void Loop() {
    epoll_event events[4];
    while (!stopping_.load()) {
      int n = epoll_wait(epfd_, events, 4, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        error.store(errno);
        break;
      }
      for (int i = 0; i < n; i++) {
        if (events[i].data.fd == evfd_) {
          uint64_t value = 0;
          ssize_t ignored = ::read(evfd_, &value, sizeof(value));
          (void)ignored;
        }
      }
      if (stopping_.load()) break;
      int r = ring_buffer__consume(rb_);
      if (r < 0 && r != -ECANCELED && r != -EINTR) {
        error.store(-r);
        break;
      }
      if (current_ != nullptr && current_->count > 0 && outstanding.load() == 0) Flush();
    }
    if (current_ != nullptr) {
      dropped.fetch_add(current_->count, std::memory_order_relaxed);
      ReleaseChunk(current_);
      current_ = nullptr;
    }
    int err = error.load();
    if (err != 0 && !stopping_.load()) {
      // Tell JavaScript the reader died (a null chunk carries the error).
      tsfn_.NonBlockingCall(static_cast<Chunk*>(nullptr));
    }
  }

  MapRef map_;
  int mapFd_ = -1;
  ring_buffer* rb_ = nullptr;
  int epfd_ = -1;
  int evfd_ = -1;
  uint32_t maxBatch_;
  size_t maxBatchBytes_;
  uint32_t queueCapacity_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool running_ = false;
  std::mutex poolMu_;
  std::vector<Chunk*> free_;
  uint32_t allocated_ = 0;
  Chunk* current_ = nullptr;  // poller thread only
  Tsfn tsfn_;
};

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
    core->ReleaseChunk(chunk);
    core->outstanding.fetch_sub(1);
    return;
  }
  // Layout handed to JS: [records (8-aligned) | offsets u32[count] | lengths u32[count]] in one ArrayBuffer.
  size_t dataBytes = chunk->used;
  size_t total = dataBytes + static_cast<size_t>(count) * 8;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, total);
  auto* dst = static_cast<uint8_t*>(ab.Data());
  memcpy(dst, chunk->data.data(), dataBytes);
  memcpy(dst + dataBytes, chunk->offsets.data(), static_cast<size_t>(count) * 4);
  memcpy(dst + dataBytes + static_cast<size_t>(count) * 4, chunk->lengths.data(), static_cast<size_t>(count) * 4);
  core->ReleaseChunk(chunk);  // reusable by the poller before JavaScript even runs
  core->delivered.fetch_add(count, std::memory_order_relaxed);
  core->bytes.fetch_add(dataBytes, std::memory_order_relaxed);
  core->batches.fetch_add(1, std::memory_order_relaxed);
  // When JavaScript catches up, wake the poller so a partial batch it holds goes out without waiting for data.
  if (core->outstanding.fetch_sub(1) == 1) core->Wake();
  callback.Call({ab, Napi::Number::New(env, count), Napi::Number::New(env, static_cast<double>(dataBytes))});
}

using CorePtr = std::shared_ptr<ReaderCore>;

class NativeRingBuffer : public Napi::ObjectWrap<NativeRingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRingBuffer",
                       {
                           InstanceMethod<&NativeRingBuffer::Start>("start"),
                           InstanceMethod<&NativeRingBuffer::Stop>("stop"),
                           InstanceMethod<&NativeRingBuffer::Stats>("stats"),
                           InstanceMethod<&NativeRingBuffer::Ref>("ref"),
                           InstanceMethod<&NativeRingBuffer::Unref>("unref"),
                       });
  }

  // (map: NativeMap, maxBatch, maxBatchBytes, queueCapacity); start(onBatch) begins polling.
  explicit NativeRingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRingBuffer>(info) {
    Napi::Env env = info.Env();
    MapRef map;
    if (info.Length() < 1 || !ExtractMap(env, info[0], &map)) {
      ThrowTypeError(env, "ring buffer reader needs an open NativeMap");
    }
    uint32_t maxBatch = static_cast<uint32_t>(ArgInt(info, 1, "maxBatch"));
    size_t maxBatchBytes = static_cast<size_t>(ArgInt(info, 2, "maxBatchBytes"));
    uint32_t queueCapacity = static_cast<uint32_t>(ArgInt(info, 3, "queueCapacity"));
    if (maxBatch == 0 || maxBatchBytes < kAlign || queueCapacity == 0) {
      ThrowTypeError(env, "maxBatch, maxBatchBytes and queueCapacity must be positive");
    }
    core_ = std::make_shared<ReaderCore>(map, maxBatch, maxBatchBytes, queueCapacity);
    std::string log;
    int r = core_->Open(&log);
    if (r < 0) ThrowBpfError(env, {-r, "open ring buffer", map.name, "", log});
  }

  ~NativeRingBuffer() override {
    if (core_ && core_->Running()) {
      napi_remove_env_cleanup_hook(Env(), &NativeRingBuffer::CleanupHook, cleanupArg_);
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

  // start(onBatch(ab | null, countOrErrno, dataBytes)). The callback is held only by the thread-safe function,
  // so an idle reader that is dropped can be collected.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "onBatch must be a function");
    if (started_) return env.Undefined();
    started_ = true;
    // The TSFN keeps its own reference to the core until its queue is drained and it is finalized.
    auto* hold = new CorePtr(core_);
    Tsfn tsfn = Tsfn::New(
        env, info[0].As<Napi::Function>(), "retina-bpf ring buffer", 0, 1, core_.get(),
        [](Napi::Env, CorePtr* held, ReaderCore*) { delete held; }, hold);
    core_->Start(tsfn);
    cleanupArg_ = new CorePtr(core_);
    napi_add_env_cleanup_hook(env, &NativeRingBuffer::CleanupHook, cleanupArg_);
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (core_->Running()) {
      napi_remove_env_cleanup_hook(info.Env(), &NativeRingBuffer::CleanupHook, cleanupArg_);
      core_->Stop();
      delete cleanupArg_;
      cleanupArg_ = nullptr;
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", Napi::Number::New(env, static_cast<double>(core_->delivered.load())));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(core_->batches.load())));
    o.Set("dropped", Napi::Number::New(env, static_cast<double>(core_->dropped.load())));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(core_->bytes.load())));
    o.Set("read", Napi::Number::New(env, static_cast<double>(core_->read.load())));
    o.Set("error", Napi::Number::New(env, core_->error.load()));
    return o;
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

}  // namespace

void InitReader(Napi::Env env, Napi::Object exports, AddonData* /*data*/) {
  exports.Set("NativeRingBuffer", NativeRingBuffer::Define(env));
}

}  // namespace retina
