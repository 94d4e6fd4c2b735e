// NativeObject (a libbpf bpf_object), NativeProgram (one of its programs) and NativeMap (a map of an object, or
// a map opened from bpffs).
#include "common.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/if_link.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace retina {

namespace {

// Blocks asynchronous signals on the calling thread for its lifetime (faults stay deliverable).
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t all;
    sigfillset(&all);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigdelset(&all, sig);
    held_ = pthread_sigmask(SIG_BLOCK, &all, &previous_) == 0;
  }
  ~SignalsHeld() {
    if (held_) pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
  bool held_ = false;
};

bool IsPerCpuMapType(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

std::string MapTypeName(uint32_t type) {
  const char* s = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
  return s != nullptr ? s : "map_type_" + std::to_string(type);
}

std::string ProgTypeName(bpf_prog_type type) {
  const char* s = libbpf_bpf_prog_type_str(type);
  return s != nullptr ? s : "prog_type_" + std::to_string(static_cast<int>(type));
}

std::string AttachTypeName(bpf_attach_type type) {
  const char* s = libbpf_bpf_attach_type_str(type);
  return s != nullptr ? s : "attach_type_" + std::to_string(static_cast<int>(type));
}

bool StartsWith(const char* s, const char* prefix) { return s != nullptr && strncmp(s, prefix, strlen(prefix)) == 0; }

// ---------------------------------------------------------------------------------------------------------------
// Maps

struct MapInit {
  ObjectStatePtr state;  // null for maps opened from bpffs
  int fd = -1;
  bool ownsFd = false;
  std::string name;
  uint32_t type = 0;
  uint32_t keySize = 0;
  uint32_t valueSize = 0;
  uint32_t maxEntries = 0;
  uint32_t flags = 0;
  uint32_t id = 0;
};

class NativeMap : public Napi::ObjectWrap<NativeMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeMap",
        {
            InstanceAccessor<&NativeMap::GetName>("name"),
            InstanceAccessor<&NativeMap::GetType>("type"),
            InstanceAccessor<&NativeMap::GetTypeName>("typeName"),
            InstanceAccessor<&NativeMap::GetKeySize>("keySize"),
            InstanceAccessor<&NativeMap::GetValueSize>("valueSize"),
            InstanceAccessor<&NativeMap::GetValueBufferSize>("valueBufferSize"),
            InstanceAccessor<&NativeMap::GetMaxEntries>("maxEntries"),
            InstanceAccessor<&NativeMap::GetFlags>("flags"),
            InstanceAccessor<&NativeMap::GetPerCpu>("perCpu"),
            InstanceAccessor<&NativeMap::GetFd>("fd"),
            InstanceAccessor<&NativeMap::GetId>("id"),
            InstanceMethod<&NativeMap::Lookup>("lookup"),
            InstanceMethod<&NativeMap::LookupAndDelete>("lookupAndDelete"),
            InstanceMethod<&NativeMap::Update>("update"),
            InstanceMethod<&NativeMap::Delete>("delete"),
            InstanceMethod<&NativeMap::NextKey>("nextKey"),
            InstanceMethod<&NativeMap::Batch>("batch"),
            InstanceMethod<&NativeMap::Pin>("pin"),
            InstanceMethod<&NativeMap::Close>("close"),
            StaticMethod<&NativeMap::FromPinned>("fromPinned"),
        });
  }

  explicit NativeMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMap>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      ThrowTypeError(info.Env(), "NativeMap is created by NativeObject.map() or NativeMap.fromPinned()");
    }
    init_ = *info[0].As<Napi::External<MapInit>>().Data();
    perCpu_ = IsPerCpuMapType(init_.type);
    valueBufferSize_ = init_.valueSize;
    if (perCpu_) {
      int cpus = libbpf_num_possible_cpus();
      if (cpus < 0) ThrowBpfError(info.Env(), {-cpus, "read possible CPUs", init_.name, "", ""});
      valueBufferSize_ = ((init_.valueSize + 7) / 8) * 8 * static_cast<uint32_t>(cpus);
    }
    scratch_.resize(std::max<size_t>(valueBufferSize_, 1));
  }

  ~NativeMap() override {
    if (init_.ownsFd && init_.fd >= 0) close(init_.fd);
  }

  bool Ref(MapRef* out) const {
    if (!Usable()) return false;
    out->fd = init_.fd;
    out->type = init_.type;
    out->state = init_.state;
    out->name = init_.name;
    return true;
  }

  static Napi::Object New(Napi::Env env, const MapInit& init) {
    MapInit copy = init;
    return GetAddonData(env)->mapCtor.New({Napi::External<MapInit>::New(env, &copy)});
  }

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), init_.name); }
  Napi::Value GetType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.type); }
  Napi::Value GetTypeName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), MapTypeName(init_.type));
  }
  Napi::Value GetKeySize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.keySize); }
  Napi::Value GetValueSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.valueSize); }
  Napi::Value GetValueBufferSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), valueBufferSize_);
  }
  Napi::Value GetMaxEntries(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), init_.maxEntries);
  }
  Napi::Value GetFlags(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.flags); }
  Napi::Value GetPerCpu(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), perCpu_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Usable() ? init_.fd : -1); }
  Napi::Value GetId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.id); }

  bool Usable() const { return init_.fd >= 0 && (init_.state == nullptr || !init_.state->Closed()); }

  int Fd(Napi::Env env, const char* op) {
    if (!Usable()) ThrowBpfError(env, {EBADF, op, init_.name, "the map (or the object it belongs to) is closed", ""});
    return init_.fd;
  }

  const void* KeyArg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Buffer<uint8_t> key = ArgBuffer(info, i, "key");
    if (key.Length() != init_.keySize) {
      ThrowTypeError(info.Env(), "map '" + init_.name + "': key must be " + std::to_string(init_.keySize) +
                                     " bytes, got " + std::to_string(key.Length()));
    }
    return init_.keySize == 0 ? nullptr : key.Data();
  }

  [[noreturn]] void Fail(Napi::Env env, int err, const char* op) { ThrowBpfError(env, {err, op, init_.name, "", ""}); }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "lookup");
    const void* key = KeyArg(info, 0);
    if (bpf_map_lookup_elem(fd, key, scratch_.data()) != 0) {
      if (errno == ENOENT) return info.Env().Undefined();
      Fail(info.Env(), errno, "lookup");
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), scratch_.data(), valueBufferSize_);
  }

  Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "lookup and delete");
    const void* key = KeyArg(info, 0);
    if (bpf_map_lookup_and_delete_elem(fd, key, scratch_.data()) != 0) {
      if (errno == ENOENT) return info.Env().Undefined();
      Fail(info.Env(), errno, "lookup and delete");
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), scratch_.data(), valueBufferSize_);
  }

  Napi::Value Update(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "update");
    const void* key = KeyArg(info, 0);
    Napi::Buffer<uint8_t> value = ArgBuffer(info, 1, "value");
    if (value.Length() != valueBufferSize_) {
      ThrowTypeError(info.Env(), "map '" + init_.name + "': value must be " + std::to_string(valueBufferSize_) +
                                     " bytes, got " + std::to_string(value.Length()));
    }
    uint64_t flags = static_cast<uint64_t>(ArgInt(info, 2, "flags"));
    if (bpf_map_update_elem(fd, key, value.Data(), flags) != 0) Fail(info.Env(), errno, "update");
    return info.Env().Undefined();
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "delete");
    const void* key = KeyArg(info, 0);
    if (bpf_map_delete_elem(fd, key) != 0) {
      if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
      Fail(info.Env(), errno, "delete");
    }
    return Napi::Boolean::New(info.Env(), true);
  }

  // Key following `prev` (or the first key for null); null at the end.
  Napi::Value NextKey(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "iterate keys");
    const void* prev = nullptr;
    if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) prev = KeyArg(info, 0);
    std::vector<uint8_t> next(std::max<uint32_t>(init_.keySize, 1));
    if (bpf_map_get_next_key(fd, prev, next.data()) != 0) {
      if (errno == ENOENT) return info.Env().Null();
      Fail(info.Env(), errno, "iterate keys");
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), next.data(), init_.keySize);
  }

  // One BPF_MAP_LOOKUP(_AND_DELETE)_BATCH call: (deleteAfter, token | null, count) ->
  // { count, keys, values, token, done }.
  Napi::Value Batch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool deleteAfter = ArgBool(info, 0, "deleteAfter");
    const char* op = deleteAfter ? "lookup and delete batch" : "lookup batch";
    int fd = Fd(env, op);
    size_t tokenSize = std::max<size_t>(init_.keySize, 8);
    std::vector<uint8_t> inToken;
    if (info.Length() > 1 && info[1].IsBuffer()) {
      Napi::Buffer<uint8_t> t = info[1].As<Napi::Buffer<uint8_t>>();
      inToken.assign(t.Data(), t.Data() + t.Length());
      inToken.resize(tokenSize);
    }
    uint32_t count = static_cast<uint32_t>(std::max<int64_t>(1, ArgInt(info, 2, "count")));
    std::vector<uint8_t> outToken(tokenSize);
    std::vector<uint8_t> keys;
    std::vector<uint8_t> values;
    uint32_t got = 0;
    bool done = false;
    for (;;) {
      keys.resize(static_cast<size_t>(count) * std::max<uint32_t>(init_.keySize, 1));
      values.resize(static_cast<size_t>(count) * std::max<uint32_t>(valueBufferSize_, 1));
      got = count;
      bpf_map_batch_opts opts{};
      opts.sz = sizeof(opts);
      void* in = inToken.empty() ? nullptr : inToken.data();
      int r = deleteAfter ? bpf_map_lookup_and_delete_batch(fd, in, outToken.data(), keys.data(), values.data(), &got,
                                                            &opts)
                          : bpf_map_lookup_batch(fd, in, outToken.data(), keys.data(), values.data(), &got, &opts);
      if (r == 0) break;
      int err = errno;
      if (err == ENOENT) {
        done = true;
        break;
      }
      // A hash bucket holds more entries than fit: retry with room for it.
      if (err == ENOSPC && got == 0 && count < (1u << 24)) {
        count *= 2;
        continue;
      }
      Fail(env, err, op);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", Napi::Number::New(env, got));
    out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), static_cast<size_t>(got) * init_.keySize));
    out.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), static_cast<size_t>(got) * valueBufferSize_));
    out.Set("token", Napi::Buffer<uint8_t>::Copy(env, outToken.data(), outToken.size()));
    out.Set("done", Napi::Boolean::New(env, done));
    return out;
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "pin");
    std::string path = ArgString(info, 0, "pin path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowBpfError(info.Env(), {errno, "pin", init_.name, "path " + path, ""});
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (init_.ownsFd && init_.fd >= 0) close(init_.fd);
    init_.fd = -1;
    return info.Env().Undefined();
  }

  static Napi::Value FromPinned(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "pin path");
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowBpfError(env, {errno, "open pinned map", path, "", ""});
    // A pinned program or link would be misread as a map: check the object kind first.
    char link[64] = {0};
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = readlink(self.c_str(), link, sizeof(link) - 1);
    if (n <= 0 || strstr(link, "bpf-map") == nullptr) {
      close(fd);
      ThrowBpfError(env, {EINVAL, "open pinned map", path, "the pinned object is not a BPF map", ""});
    }
    bpf_map_info mi{};
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) {
      int err = errno;
      close(fd);
      ThrowBpfError(env, {err, "read map info", path, "", ""});
    }
    MapInit init;
    init.fd = fd;
    init.ownsFd = true;
    init.name = mi.name;
    init.type = mi.type;
    init.keySize = mi.key_size;
    init.valueSize = mi.value_size;
    init.maxEntries = mi.max_entries;
    init.flags = mi.map_flags;
    init.id = mi.id;
    return New(env, init);
  }

  MapInit init_;
  bool perCpu_ = false;
  uint32_t valueBufferSize_ = 0;
  std::vector<uint8_t> scratch_;
};

// ---------------------------------------------------------------------------------------------------------------
// BPF_PROG_TEST_RUN

struct TestRunJob {
  int fd = -1;
  std::vector<uint8_t> dataIn;
  std::vector<uint8_t> ctxIn;
  std::vector<uint8_t> dataOut;
  std::vector<uint8_t> ctxOut;
  uint32_t repeat = 1;
  int cpu = -1;  // >= 0: BPF_F_TEST_RUN_ON_CPU (raw tracepoint programs)
  uint32_t retval = 0;
  uint32_t duration = 0;
  uint32_t dataOutLen = 0;
  uint32_t ctxOutLen = 0;
  int err = 0;

  void Run() {
    bpf_test_run_opts o{};
    o.sz = sizeof(o);
    if (!dataIn.empty()) {
      o.data_in = dataIn.data();
      o.data_size_in = static_cast<__u32>(dataIn.size());
    }
    if (!dataOut.empty()) {
      o.data_out = dataOut.data();
      o.data_size_out = static_cast<__u32>(dataOut.size());
    }
    if (!ctxIn.empty()) {
      o.ctx_in = ctxIn.data();
      o.ctx_size_in = static_cast<__u32>(ctxIn.size());
    }
    if (!ctxOut.empty()) {
      o.ctx_out = ctxOut.data();
      o.ctx_size_out = static_cast<__u32>(ctxOut.size());
    }
    o.repeat = repeat;
    if (cpu >= 0) {
      o.flags = BPF_F_TEST_RUN_ON_CPU;
      o.cpu = static_cast<__u32>(cpu);
    }
    if (bpf_prog_test_run_opts(fd, &o) != 0) {
      err = errno;
      return;
    }
    retval = o.retval;
    duration = o.duration;
    dataOutLen = o.data_size_out;
    ctxOutLen = o.ctx_size_out;
  }

  Napi::Object Result(Napi::Env env) const {
    Napi::Object out = Napi::Object::New(env);
    out.Set("retval", Napi::Number::New(env, static_cast<int32_t>(retval)));
    out.Set("durationNs", Napi::Number::New(env, duration));
    if (!dataOut.empty()) {
      out.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, dataOut.data(), std::min<size_t>(dataOutLen, dataOut.size())));
    }
    if (!ctxOut.empty()) {
      out.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, ctxOut.data(), std::min<size_t>(ctxOutLen, ctxOut.size())));
    }
    return out;
  }
};

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env, TestRunJob job, std::string program)
      : Napi::AsyncWorker(env), job_(std::move(job)), program_(std::move(program)), deferred_(env) {}
  ~TestRunWorker() override {
    if (job_.fd >= 0) close(job_.fd);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { job_.Run(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (job_.err != 0) {
      deferred_.Reject(MakeBpfError(env, {job_.err, "test run", program_, "", ""}));
    } else {
      deferred_.Resolve(job_.Result(env));
    }
  }

 private:
  TestRunJob job_;
  std::string program_;
  Napi::Promise::Deferred deferred_;
};

// ---------------------------------------------------------------------------------------------------------------
// Programs

struct ProgramInit {
  ObjectStatePtr state;
  bpf_program* prog = nullptr;
};

class NativeProgram : public Napi::ObjectWrap<NativeProgram> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProgram",
                       {
                           InstanceAccessor<&NativeProgram::GetName>("name"),
                           InstanceAccessor<&NativeProgram::GetSection>("sectionName"),
                           InstanceAccessor<&NativeProgram::GetType>("type"),
                           InstanceAccessor<&NativeProgram::GetExpectedAttachType>("expectedAttachType"),
                           InstanceAccessor<&NativeProgram::GetFd>("fd"),
                           InstanceAccessor<&NativeProgram::GetId>("id"),
                           InstanceMethod<&NativeProgram::AttachTracepoint>("attachTracepoint"),
                           InstanceMethod<&NativeProgram::AttachRawTracepoint>("attachRawTracepoint"),
                           InstanceMethod<&NativeProgram::AttachTrace>("attachTrace"),
                           InstanceMethod<&NativeProgram::AttachAuto>("attachAuto"),
                           InstanceMethod<&NativeProgram::AttachTcx>("attachTcx"),
                           InstanceMethod<&NativeProgram::AttachClsact>("attachClsact"),
                           InstanceMethod<&NativeProgram::AttachXdp>("attachXdp"),
                           InstanceMethod<&NativeProgram::AttachCgroup>("attachCgroup"),
                           InstanceMethod<&NativeProgram::AttachSocketFilter>("attachSocketFilter"),
                           InstanceMethod<&NativeProgram::TestRun>("testRun"),
                           InstanceMethod<&NativeProgram::TestRunAsync>("testRunAsync"),
                       });
  }

  explicit NativeProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProgram>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      ThrowTypeError(info.Env(), "NativeProgram is created by NativeObject.program()");
    }
    ProgramInit* init = info[0].As<Napi::External<ProgramInit>>().Data();
    state_ = init->state;
    prog_ = init->prog;
    name_ = bpf_program__name(prog_);
    section_ = bpf_program__section_name(prog_);
  }

  static Napi::Object New(Napi::Env env, ObjectStatePtr state, bpf_program* prog) {
    ProgramInit init{std::move(state), prog};
    return GetAddonData(env)->programCtor.New({Napi::External<ProgramInit>::New(env, &init)});
  }

 private:
  bpf_program* Prog(Napi::Env env, const char* op) {
    if (state_->Closed()) ThrowBpfError(env, {EBADF, op, name_, "the object this program belongs to is closed", ""});
    return prog_;
  }

  int LoadedFd(Napi::Env env, const char* op) {
    bpf_program* p = Prog(env, op);
    int fd = bpf_program__fd(p);
    if (fd < 0) ThrowBpfError(env, {EBADF, op, name_, "the program is not loaded (call load() first)", ""});
    return fd;
  }

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetSection(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), section_); }
  Napi::Value GetType(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), ProgTypeName(bpf_program__type(Prog(info.Env(), "read type"))));
  }
  Napi::Value GetExpectedAttachType(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(),
                             AttachTypeName(bpf_program__expected_attach_type(Prog(info.Env(), "read attach type"))));
  }
  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    int fd = state_->Closed() ? -1 : bpf_program__fd(prog_);
    return Napi::Number::New(info.Env(), fd < 0 ? -1 : fd);
  }

  // Kernel program id (as bpftool shows it); 0 before load.
  Napi::Value GetId(const Napi::CallbackInfo& info) {
    int fd = state_->Closed() ? -1 : bpf_program__fd(prog_);
    bpf_prog_info pi{};
    __u32 len = sizeof(pi);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), pi.id);
  }

  Napi::Value FinishLibbpfLink(Napi::Env env, bpf_link* link, const std::string& kind, const std::string& target,
                               const LibbpfLogCapture& capture) {
    if (link == nullptr) {
      int err = errno;
      ThrowBpfError(env, {err, "attach " + kind, name_, target, capture.Text()});
    }
    return NewLibbpfLink(env, link, kind);
  }

  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
    std::string category = ArgString(info, 0, "tracepoint category");
    std::string event = ArgString(info, 1, "tracepoint name");
    LoadedFd(info.Env(), "attach tracepoint");
    LibbpfLogCapture capture;
    bpf_link* link = bpf_program__attach_tracepoint(prog_, category.c_str(), event.c_str());
    return FinishLibbpfLink(info.Env(), link, "tracepoint", category + "/" + event, capture);
  }

  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info) {
    std::string event = ArgString(info, 0, "raw tracepoint name");
    LoadedFd(info.Env(), "attach raw tracepoint");
    LibbpfLogCapture capture;
    bpf_link* link = bpf_program__attach_raw_tracepoint(prog_, event.c_str());
    return FinishLibbpfLink(info.Env(), link, "raw_tracepoint", event, capture);
  }

  Napi::Value AttachTrace(const Napi::CallbackInfo& info) {
    LoadedFd(info.Env(), "attach tp_btf");
    LibbpfLogCapture capture;
    bpf_link* link = bpf_program__attach_trace(prog_);
    return FinishLibbpfLink(info.Env(), link, "tp_btf", section_, capture);
  }

  Napi::Value AttachAuto(const Napi::CallbackInfo& info) {
    std::string kind = ArgString(info, 0, "link kind");
    LoadedFd(info.Env(), "attach");
    LibbpfLogCapture capture;
    bpf_link* link = bpf_program__attach(prog_);
    return FinishLibbpfLink(info.Env(), link, kind, section_, capture);
  }

  Napi::Value AttachTcx(const Napi::CallbackInfo& info) {
    int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
    bool egress = ArgBool(info, 1, "egress");
    int progFd = LoadedFd(info.Env(), "attach tcx");
    LibbpfLogCapture capture;
    int fd = bpf_link_create(progFd, ifindex, static_cast<bpf_attach_type>(egress ? kAttachTcxEgress : kAttachTcxIngress),
                             nullptr);
    if (fd < 0) {
      int err = errno;
      ThrowBpfError(info.Env(), {err, std::string("attach tcx ") + (egress ? "egress" : "ingress"), name_,
                                 "ifindex " + std::to_string(ifindex), capture.Text()});
    }
    return NewFdLink(info.Env(), fd, "tcx");
  }

  Napi::Value AttachClsact(const Napi::CallbackInfo& info) {
    ClsactFilter filter;
    filter.ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
    filter.egress = ArgBool(info, 1, "egress");
    filter.handle = static_cast<uint32_t>(ArgInt(info, 2, "handle"));
    filter.priority = static_cast<uint32_t>(ArgInt(info, 3, "priority"));
    int progFd = LoadedFd(info.Env(), "attach clsact");
    ClsactRegistryPtr registry = GetAddonData(info.Env())->clsact;
    uint64_t id = 0;
    std::string log;
    int r = registry->Attach(progFd, &filter, &id, &log);
    if (r < 0) {
      ThrowBpfError(info.Env(), {-r, std::string("attach clsact ") + (filter.egress ? "egress" : "ingress"), name_,
                                 "ifindex " + std::to_string(filter.ifindex), log});
    }
    return NewClsactLink(info.Env(), registry, id, filter);
  }

  Napi::Value AttachXdp(const Napi::CallbackInfo& info) {
    int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
    uint32_t flags = static_cast<uint32_t>(ArgInt(info, 1, "xdp flags"));
    int progFd = LoadedFd(info.Env(), "attach xdp");
    bpf_link_create_opts opts{};
    opts.sz = sizeof(opts);
    opts.flags = flags;
    LibbpfLogCapture capture;
    int fd = bpf_link_create(progFd, ifindex, BPF_XDP, &opts);
    if (fd < 0) {
      int err = errno;
      ThrowBpfError(info.Env(), {err, "attach xdp", name_, "ifindex " + std::to_string(ifindex), capture.Text()});
    }
    return NewFdLink(info.Env(), fd, "xdp");
  }

  Napi::Value AttachCgroup(const Napi::CallbackInfo& info) {
    std::string path = ArgString(info, 0, "cgroup path");
    auto attachType = static_cast<bpf_attach_type>(ArgInt(info, 1, "attach type"));
    int progFd = LoadedFd(info.Env(), "attach cgroup");
    int cgroupFd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroupFd < 0) ThrowBpfError(info.Env(), {errno, "open cgroup", name_, path, ""});
    LibbpfLogCapture capture;
    int fd = bpf_link_create(progFd, cgroupFd, attachType, nullptr);
    int err = errno;
    close(cgroupFd);  // the link holds its own reference to the cgroup
    if (fd < 0) {
      ThrowBpfError(info.Env(), {err, "attach cgroup " + AttachTypeName(attachType), name_, path, capture.Text()});
    }
    return NewFdLink(info.Env(), fd, "cgroup");
  }

  Napi::Value AttachSocketFilter(const Napi::CallbackInfo& info) {
    int socketFd = static_cast<int>(ArgInt(info, 0, "socket fd"));
    int progFd = LoadedFd(info.Env(), "attach socket filter");
    if (setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, &progFd, sizeof(progFd)) != 0) {
      ThrowBpfError(info.Env(), {errno, "attach socket filter", name_, "socket fd " + std::to_string(socketFd), ""});
    }
    // The link keeps its own descriptor so a later close/reuse of the caller's number cannot misdirect detach.
    int dupFd = fcntl(socketFd, F_DUPFD_CLOEXEC, 0);
    if (dupFd < 0) {
      int err = errno;
      setsockopt(socketFd, SOL_SOCKET, SO_DETACH_BPF, &progFd, sizeof(progFd));
      ThrowBpfError(info.Env(), {err, "attach socket filter", name_, "dup socket fd", ""});
    }
    return NewSocketFilterLink(info.Env(), dupFd);
  }

  TestRunJob MakeJob(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> data = ArgBuffer(info, 0, "data");
    TestRunJob job;
    job.dataIn.assign(data.Data(), data.Data() + data.Length());
    if (info.Length() > 1 && info[1].IsBuffer()) {
      Napi::Buffer<uint8_t> ctx = info[1].As<Napi::Buffer<uint8_t>>();
      job.ctxIn.assign(ctx.Data(), ctx.Data() + ctx.Length());
    }
    job.repeat = static_cast<uint32_t>(ArgInt(info, 2, "repeat"));
    job.dataOut.resize(static_cast<size_t>(ArgInt(info, 3, "dataOutSize")));
    job.ctxOut.resize(static_cast<size_t>(ArgInt(info, 4, "ctxOutSize")));
    if (info.Length() > 5 && info[5].IsNumber()) job.cpu = static_cast<int>(ArgInt(info, 5, "cpu"));
    return job;
  }

  // (data, ctxIn | null, repeat, dataOutSize, ctxOutSize) -> { retval, durationNs, dataOut?, ctxOut? }
  Napi::Value TestRun(const Napi::CallbackInfo& info) {
    TestRunJob job = MakeJob(info);
    job.fd = LoadedFd(info.Env(), "test run");
    job.Run();
    if (job.err != 0) ThrowBpfError(info.Env(), {job.err, "test run", name_, "", ""});
    return job.Result(info.Env());
  }

  // Same as TestRun on a libuv worker thread, so long runs (large repeat) do not block the event loop.
  Napi::Value TestRunAsync(const Napi::CallbackInfo& info) {
    TestRunJob job = MakeJob(info);
    int fd = LoadedFd(info.Env(), "test run");
    job.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);  // survives a close() of the object while the run is in flight
    if (job.fd < 0) ThrowBpfError(info.Env(), {errno, "test run", name_, "dup program fd", ""});
    auto* worker = new TestRunWorker(info.Env(), std::move(job), name_);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  ObjectStatePtr state_;
  bpf_program* prog_ = nullptr;
  std::string name_;
  std::string section_;
};

// ---------------------------------------------------------------------------------------------------------------
// Objects

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeObject",
                       {
                           InstanceAccessor<&NativeObject::GetName>("name"),
                           InstanceAccessor<&NativeObject::GetLoaded>("loaded"),
                           InstanceAccessor<&NativeObject::GetClosed>("closed"),
                           InstanceMethod<&NativeObject::Programs>("programs"),
                           InstanceMethod<&NativeObject::Maps>("maps"),
                           InstanceMethod<&NativeObject::Constants>("constants"),
                           InstanceMethod<&NativeObject::WriteConstant>("writeConstant"),
                           InstanceMethod<&NativeObject::Globals>("globals"),
                           InstanceMethod<&NativeObject::ReadGlobal>("readGlobal"),
                           InstanceMethod<&NativeObject::WriteGlobal>("writeGlobal"),
                           InstanceMethod<&NativeObject::SetMapMaxEntries>("setMapMaxEntries"),
                           InstanceMethod<&NativeObject::SetMapPinPath>("setMapPinPath"),
                           InstanceMethod<&NativeObject::SetProgramAutoload>("setProgramAutoload"),
                           InstanceMethod<&NativeObject::Load>("load"),
                           InstanceMethod<&NativeObject::Program>("program"),
                           InstanceMethod<&NativeObject::Map>("map"),
                           InstanceMethod<&NativeObject::Close>("close"),
                       });
  }

  // (pathOrBuffer, name?, btfCustomPath?)
  explicit NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
    Napi::Env env = info.Env();
    state_ = std::make_shared<ObjectState>();
    std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    std::string btf = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
    bpf_object_open_opts opts{};
    opts.sz = sizeof(opts);
    if (!name.empty()) opts.object_name = name.c_str();
    if (!btf.empty()) opts.btf_custom_path = btf.c_str();

    LibbpfLogCapture capture;
    bpf_object* obj = nullptr;
    std::string target;
    if (info.Length() > 0 && info[0].IsString()) {
      target = info[0].As<Napi::String>().Utf8Value();
      obj = bpf_object__open_file(target.c_str(), &opts);
    } else if (info.Length() > 0 && info[0].IsBuffer()) {
      Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
      state_->elf.assign(buf.Data(), buf.Data() + buf.Length());
      target = name.empty() ? "<buffer of " + std::to_string(buf.Length()) + " bytes>" : name;
      obj = bpf_object__open_mem(state_->elf.data(), state_->elf.size(), &opts);
    } else {
      ThrowTypeError(env, "BPF object source must be a path string or a Buffer");
    }
    if (obj == nullptr) {
      int err = errno;
      ThrowBpfError(env, {err, "open", target, "", capture.Text()});
    }
    state_->obj = obj;
    state_->name = bpf_object__name(obj);
    FixupProgramTypes();
  }

 private:
  // libbpf 1.1 predates the "tcx/..." and "tc/ingress" section names; give those programs their type here.
  void FixupProgramTypes() {
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, state_->obj) {
      if (bpf_program__type(p) != BPF_PROG_TYPE_UNSPEC) continue;
      const char* sec = bpf_program__section_name(p);
      if (StartsWith(sec, "tcx/") || StartsWith(sec, "tc/")) bpf_program__set_type(p, BPF_PROG_TYPE_SCHED_CLS);
    }
  }

  bpf_object* Obj(Napi::Env env, const char* op) {
    if (state_->Closed()) ThrowBpfError(env, {EBADF, op, state_->name, "the object is closed", ""});
    return state_->obj;
  }

  bpf_object* Unloaded(Napi::Env env, const char* op) {
    bpf_object* obj = Obj(env, op);
    if (state_->loaded) ThrowBpfError(env, {EBUSY, op, state_->name, "only possible before load()", ""});
    return obj;
  }

  bpf_map* FindMap(Napi::Env env, bpf_object* obj, const std::string& name, const char* op) {
    bpf_map* m = bpf_object__find_map_by_name(obj, name.c_str());
    if (m == nullptr) ThrowBpfError(env, {ENOENT, op, state_->name, "no map named '" + name + "'", ""});
    return m;
  }

  bpf_program* FindProgram(Napi::Env env, bpf_object* obj, const std::string& name, const char* op) {
    bpf_program* p = bpf_object__find_program_by_name(obj, name.c_str());
    if (p == nullptr) ThrowBpfError(env, {ENOENT, op, state_->name, "no program named '" + name + "'", ""});
    return p;
  }

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), state_->name); }
  Napi::Value GetLoaded(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->loaded); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->Closed()); }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Obj(env, "list programs");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", Napi::String::New(env, bpf_program__name(p)));
      o.Set("sectionName", Napi::String::New(env, bpf_program__section_name(p)));
      o.Set("type", Napi::String::New(env, ProgTypeName(bpf_program__type(p))));
      o.Set("expectedAttachType", Napi::String::New(env, AttachTypeName(bpf_program__expected_attach_type(p))));
      o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(p)));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Obj(env, "list maps");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map* m = nullptr;
    bpf_object__for_each_map(m, obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", Napi::String::New(env, bpf_map__name(m)));
      o.Set("type", Napi::String::New(env, MapTypeName(bpf_map__type(m))));
      o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
      o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
      o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
      o.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(m)));
      out.Set(i++, o);
    }
    return out;
  }

  // Every variable of the object's .rodata* sections: { name, section, offset, size, kind, signed }.
  Napi::Value Constants(const Napi::CallbackInfo& info) { return ListVariables(info, "list constants", false); }

  // Every variable of the object's .rodata*, .data* and .bss* sections, described as Constants() does.
  Napi::Value Globals(const Napi::CallbackInfo& info) { return ListVariables(info, "list globals", true); }

  Napi::Value ListVariables(const Napi::CallbackInfo& info, const char* op, bool writable) {
    Napi::Env env = info.Env();
    bpf_object* obj = Obj(env, op);
    Napi::Array out = Napi::Array::New(env);
    const btf* b = bpf_object__btf(obj);
    if (b == nullptr) return out;
    uint32_t n = btf__type_cnt(b);
    uint32_t k = 0;
    for (uint32_t id = 1; id < n; id++) {
      const btf_type* sec = btf__type_by_id(b, id);
      if (!btf_is_datasec(sec)) continue;
      const char* secName = btf__name_by_offset(b, sec->name_off);
      bool wanted = StartsWith(secName, ".rodata") ||
                    (writable && (StartsWith(secName, ".data") || StartsWith(secName, ".bss")));
      if (!wanted) continue;
      const btf_var_secinfo* vsi = btf_var_secinfos(sec);
      for (uint16_t j = 0; j < btf_vlen(sec); j++, vsi++) {
        const btf_type* var = btf__type_by_id(b, vsi->type);
        if (var == nullptr || !btf_is_var(var)) continue;
        const btf_type* t = btf__type_by_id(b, var->type);
        while (t != nullptr && (btf_is_mod(t) || btf_is_typedef(t))) t = btf__type_by_id(b, t->type);
        std::string kind = "bytes";
        bool isSigned = false;
        if (t != nullptr && btf_is_int(t)) {
          uint8_t enc = btf_int_encoding(t);
          kind = (enc & BTF_INT_BOOL) != 0 ? "bool" : "int";
          isSigned = (enc & BTF_INT_SIGNED) != 0;
        } else if (t != nullptr && btf_is_any_enum(t)) {
          kind = "int";
          isSigned = btf_kflag(t);
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", Napi::String::New(env, btf__name_by_offset(b, var->name_off)));
        o.Set("section", Napi::String::New(env, secName));
        o.Set("offset", Napi::Number::New(env, vsi->offset));
        o.Set("size", Napi::Number::New(env, vsi->size));
        o.Set("kind", Napi::String::New(env, kind));
        o.Set("signed", Napi::Boolean::New(env, isSigned));
        out.Set(k++, o);
      }
    }
    return out;
  }

  // (section, offset, bytes): writes into the initial image of a .rodata map before load.
  Napi::Value WriteConstant(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Unloaded(env, "set constant");
    std::string section = ArgString(info, 0, "section");
    size_t offset = static_cast<size_t>(ArgInt(info, 1, "offset"));
    Napi::Buffer<uint8_t> bytes = ArgBuffer(info, 2, "value");
    bpf_map* m = FindMap(env, obj, section, "set constant");
    size_t size = 0;
    const void* image = bpf_map__initial_value(m, &size);
    if (image == nullptr || offset + bytes.Length() > size) {
      ThrowBpfError(env, {ERANGE, "set constant", state_->name,
                          "offset " + std::to_string(offset) + " + " + std::to_string(bytes.Length()) +
                              " bytes is outside section " + section + " (" + std::to_string(size) + " bytes)",
                          ""});
    }
    // libbpf hands out the image read-only; patch a copy and install it with the supported setter.
    std::vector<uint8_t> patched(static_cast<const uint8_t*>(image), static_cast<const uint8_t*>(image) + size);
    memcpy(patched.data() + offset, bytes.Data(), bytes.Length());
    int r = bpf_map__set_initial_value(m, patched.data(), patched.size());
    if (r < 0) ThrowBpfError(env, {-r, "set constant", state_->name, "section " + section, ""});
    return env.Undefined();
  }

  // The bytes of a global section: its initial image before load; after load the kernel map's memory, mapped
  // here once (libbpf 1.1 maps it only for skeletons) and unmapped when the object closes.
  uint8_t* SectionBytes(Napi::Env env, const std::string& section, size_t offset, size_t length, const char* op) {
    bpf_map* m = FindMap(env, Obj(env, op), section, op);
    size_t size = 0;
    uint8_t* bytes = nullptr;
    if (!state_->loaded) {
      bytes = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(m, &size)));  // read only
    } else {
      auto it = state_->globals.find(section);
      if (it == state_->globals.end()) {
        size_t len = bpf_map__value_size(m);
        int prot = StartsWith(section.c_str(), ".rodata") ? PROT_READ : PROT_READ | PROT_WRITE;
        void* addr = mmap(nullptr, len, prot, MAP_SHARED, bpf_map__fd(m), 0);
        if (addr == MAP_FAILED) {
          ThrowBpfError(env, {errno, op, state_->name, "cannot map section " + section +
                                                          " (the kernel maps global variables from Linux 5.5)", ""});
        }
        it = state_->globals.emplace(section, std::make_pair(addr, len)).first;
      }
      bytes = static_cast<uint8_t*>(it->second.first);
      size = it->second.second;
    }
    if (bytes == nullptr || offset + length > size) {
      ThrowBpfError(env, {bytes == nullptr ? ENOTSUP : ERANGE, op, state_->name,
                          "section " + section + " has no bytes at offset " + std::to_string(offset) + " + " +
                              std::to_string(length) + " (" + std::to_string(size) + " bytes)",
                          ""});
    }
    return bytes + offset;
  }

  // (section, offset, size) -> Buffer copy of a global's bytes.
  Napi::Value ReadGlobal(const Napi::CallbackInfo& info) {
    std::string section = ArgString(info, 0, "section");
    size_t offset = static_cast<size_t>(ArgInt(info, 1, "offset"));
    size_t size = static_cast<size_t>(ArgInt(info, 2, "size"));
    uint8_t* bytes = SectionBytes(info.Env(), section, offset, size, "read global");
    return Napi::Buffer<uint8_t>::Copy(info.Env(), bytes, size);
  }

  // (section, offset, bytes): after load, writes a .data/.bss global in the live map memory (the programs see it
  // at once); before load, the initial image (as WriteConstant).
  Napi::Value WriteGlobal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!state_->loaded) return WriteConstant(info);
    std::string section = ArgString(info, 0, "section");
    size_t offset = static_cast<size_t>(ArgInt(info, 1, "offset"));
    Napi::Buffer<uint8_t> value = ArgBuffer(info, 2, "value");
    if (StartsWith(section.c_str(), ".rodata")) {
      ThrowBpfError(env, {EPERM, "write global", state_->name, section + " is read-only after load", ""});
    }
    uint8_t* bytes = SectionBytes(env, section, offset, value.Length(), "write global");
    memcpy(bytes, value.Data(), value.Length());
    return env.Undefined();
  }

  Napi::Value SetMapMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Unloaded(env, "set map max entries");
    std::string name = ArgString(info, 0, "map name");
    int64_t n = ArgInt(info, 1, "max entries");
    int r = bpf_map__set_max_entries(FindMap(env, obj, name, "set map max entries"), static_cast<__u32>(n));
    if (r < 0) ThrowBpfError(env, {-r, "set map max entries", name, "", ""});
    return env.Undefined();
  }

  Napi::Value SetMapPinPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Unloaded(env, "set map pin path");
    std::string name = ArgString(info, 0, "map name");
    std::string path = ArgString(info, 1, "pin path");
    LibbpfLogCapture capture;
    int r = bpf_map__set_pin_path(FindMap(env, obj, name, "set map pin path"), path.c_str());
    if (r < 0) ThrowBpfError(env, {-r, "set map pin path", name, path, capture.Text()});
    return env.Undefined();
  }

  Napi::Value SetProgramAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Unloaded(env, "set program autoload");
    std::string name = ArgString(info, 0, "program name");
    bool autoload = ArgBool(info, 1, "autoload");
    int r = bpf_program__set_autoload(FindProgram(env, obj, name, "set program autoload"), autoload);
    if (r < 0) ThrowBpfError(env, {-r, "set program autoload", name, "", ""});
    return env.Undefined();
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Unloaded(env, "load");
    LibbpfLogCapture capture;
    int r;
    {
      // A signal arriving while the kernel verifies a program (a profiler's SIGPROF every millisecond) makes the
      // load fail with EAGAIN, and libbpf's few retries meet the next one. Held signals are delivered right after.
      SignalsHeld held;
      r = bpf_object__load(obj);
    }
    if (r < 0) ThrowBpfError(env, {-r, "load", state_->name, "", capture.Text()});
    state_->loaded = true;
    return env.Undefined();
  }

  Napi::Value Program(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "program name");
    bpf_program* p = FindProgram(env, Obj(env, "find program"), name, "find program");
    return NativeProgram::New(env, state_, p);
  }

  Napi::Value Map(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "map name");
    bpf_map* m = FindMap(env, Obj(env, "find map"), name, "find map");
    int fd = bpf_map__fd(m);
    if (fd < 0) ThrowBpfError(env, {EBADF, "find map", name, "maps exist only after load()", ""});
    MapInit init;
    init.state = state_;
    init.fd = fd;
    init.name = bpf_map__name(m);
    init.type = bpf_map__type(m);
    init.keySize = bpf_map__key_size(m);
    init.valueSize = bpf_map__value_size(m);
    init.maxEntries = bpf_map__max_entries(m);
    init.flags = bpf_map__map_flags(m);
    bpf_map_info mi{};
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) == 0) init.id = mi.id;
    return NativeMap::New(env, init);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    state_->Close();
    return info.Env().Undefined();
  }

  ObjectStatePtr state_;
};

}  // namespace

void ObjectState::Close() {
  for (auto& [section, mapping] : globals) munmap(mapping.first, mapping.second);
  globals.clear();
  if (obj != nullptr) {
    bpf_object__close(obj);
    obj = nullptr;
  }
}

bool ExtractMap(Napi::Env env, Napi::Value value, MapRef* out) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(GetAddonData(env)->mapCtor.Value())) return false;
  NativeMap* map = Napi::ObjectWrap<NativeMap>::Unwrap(value.As<Napi::Object>());
  return map->Ref(out);
}

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function object = NativeObject::Define(env);
  Napi::Function program = NativeProgram::Define(env);
  Napi::Function map = NativeMap::Define(env);
  data->programCtor = Napi::Persistent(program);
  data->mapCtor = Napi::Persistent(map);
  exports.Set("NativeObject", object);
  exports.Set("NativeProgram", program);
  exports.Set("NativeMap", map);
}

}  // namespace retina
