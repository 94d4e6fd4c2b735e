// Shared declarations of the @retina-ts/bpf-runtime addon: a thin, resource-shaped layer over libbpf.
// Argument validation with friendly messages happens in TypeScript; native code checks only what protects memory
// (buffer sizes, closed handles) and reports kernel/libbpf failures with errno, operation and target.
#pragma once

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace retina {

// enum bpf_attach_type values newer than the libbpf 1.1 / Linux 6.1 UAPI headers. libbpf's bpf_link_create()
// passes unknown attach types straight to the kernel, so tcx works through it on kernels that have it (6.6+).
constexpr int kAttachTcxIngress = 46;
constexpr int kAttachTcxEgress = 47;

// Everything needed to describe a failure to the TypeScript error factory.
struct ErrorInfo {
  int err = 0;               // positive errno
  std::string op;            // e.g. "load", "attach tcx"
  std::string target;        // e.g. program or map name, interface
  std::string detail;        // extra human-readable context
  std::string log;           // libbpf messages captured during the call (verifier log included)
};

// Builds (without throwing) the JS error the factory makes for `info`; used to reject promises.
Napi::Value MakeBpfError(Napi::Env env, const ErrorInfo& info);
// Throws a JS error built by the factory registered from TypeScript (so it is an instance of BpfError & co).
[[noreturn]] void ThrowBpfError(Napi::Env env, const ErrorInfo& info);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);

// Captures libbpf's log output on the current thread while alive; nests.
class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture&) = delete;
  LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;
  const std::string& Text() const { return text_; }

 private:
  std::string text_;
  std::string* previous_;
};

void InstallLibbpfPrint();

// Moves the calling thread into the network namespace `targetFd` for its lifetime (no-op for -1).
class NetnsSwitch {
 public:
  explicit NetnsSwitch(int targetFd);
  ~NetnsSwitch();
  NetnsSwitch(const NetnsSwitch&) = delete;
  NetnsSwitch& operator=(const NetnsSwitch&) = delete;
  int Error() const { return err_; }

 private:
  int original_ = -1;
  int err_ = 0;
};

// Opens the calling thread's current network namespace (O_CLOEXEC); -1 with errno on failure.
int OpenCurrentNetns();

// The libbpf object shared by the object wrapper and every program/map/reader taken from it. Closing it makes
// all of them refuse further use instead of touching freed memory or reused file descriptors.
struct ObjectState {
  bpf_object* obj = nullptr;
  std::vector<uint8_t> elf;  // owns the bytes given to bpf_object__open_mem
  bool loaded = false;
  std::string name;
  // Our mappings of global-variable maps (.data, .bss, .rodata) after load: section -> (address, length).
  std::map<std::string, std::pair<void*, size_t>> globals;

  ~ObjectState() { Close(); }
  void Close();
  bool Closed() const { return obj == nullptr; }
};
using ObjectStatePtr = std::shared_ptr<ObjectState>;

// A clsact filter this process installed; removed on detach, on GC of its link, and at exit.
struct ClsactFilter {
  int ifindex = 0;
  bool egress = false;
  uint32_t handle = 0;
  uint32_t priority = 0;
  int netnsFd = -1;        // namespace the filter lives in
  uint64_t netnsInode = 0; // identifies the namespace for qdisc bookkeeping
};

// Tracks the clsact filters and qdiscs owned by this environment.
class ClsactRegistry {
 public:
  ~ClsactRegistry();
  // Creates the clsact qdisc if needed and installs the filter; returns 0 or a negative errno.
  int Attach(int progFd, ClsactFilter* filter, uint64_t* id, std::string* log);
  // Removes one filter (and the qdisc when this process created it and it is now empty); 0 or negative errno.
  int Detach(uint64_t id);
  // Removes every filter still registered; used at exit.
  int ReleaseAll();
  size_t Size();

 private:
  struct QdiscKey {
    uint64_t netnsInode;
    int ifindex;
    bool operator<(const QdiscKey& o) const {
      return netnsInode != o.netnsInode ? netnsInode < o.netnsInode : ifindex < o.ifindex;
    }
  };
  struct QdiscState {
    bool created = false;
    int users = 0;
  };
  int DetachLocked(uint64_t id);

  std::mutex mu_;
  uint64_t nextId_ = 1;
  std::map<uint64_t, ClsactFilter> filters_;
  std::map<QdiscKey, QdiscState> qdiscs_;
};
using ClsactRegistryPtr = std::shared_ptr<ClsactRegistry>;

// One TC filter as listed by a netlink dump.
struct TcFilterEntry {
  uint32_t handle = 0;
  uint32_t priority = 0;
  uint32_t protocol = 0;
  uint32_t chain = 0;
  std::string kind;
  std::string bpfName;
  uint32_t bpfProgId = 0;
};
// Lists filters on the clsact ingress/egress hook of `ifindex`; 0 or negative errno.
int ListTcFilters(int ifindex, bool egress, std::vector<TcFilterEntry>* out);

// Per-environment state.
struct AddonData {
  Napi::FunctionReference errorFactory;
  Napi::FunctionReference programCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference linkCtor;
  Napi::FunctionReference socketCtor;
  Napi::FunctionReference btfCtor;
  ClsactRegistryPtr clsact = std::make_shared<ClsactRegistry>();
};
AddonData* GetAddonData(Napi::Env env);

// Base of the addon's JavaScript classes; T lists its members in a static Properties().
template <typename T>
class NativeClass : public Napi::ObjectWrap<T> {
 public:
  explicit NativeClass(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

  // Defines the class as `name` on the module's exports; `ctor` keeps its constructor for native code that creates
  // or recognises instances.
  static void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::FunctionReference* ctor = nullptr) {
    Napi::Function fn = Napi::ObjectWrap<T>::DefineClass(env, name, T::Properties());
    if (ctor != nullptr) *ctor = Napi::Persistent(fn);
    exports.Set(name, fn);
  }

  // The instance `value` wraps, or nullptr when it is not made by `ctor`.
  static T* FromValue(const Napi::FunctionReference& ctor, Napi::Value value) {
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(ctor.Value())) return nullptr;
    return Napi::ObjectWrap<T>::Unwrap(value.As<Napi::Object>());
  }

 protected:
  // Classes only native code instantiates get their state through an External: NewFromInit() passes `init` to the
  // constructor, whose InitArg() reads it back and rejects a call from JavaScript with TypeError `message`.
  template <typename Init>
  static Napi::Object NewFromInit(const Napi::FunctionReference& ctor, Napi::Env env, Init init) {
    return ctor.New({Napi::External<Init>::New(env, &init)});
  }

  template <typename Init>
  static const Init& InitArg(const Napi::CallbackInfo& info, const char* message) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowTypeError(info.Env(), message);
    return *info[0].As<Napi::External<Init>>().Data();
  }
};

// What the ring-buffer reader needs from a NativeMap: its descriptor and the object that keeps it valid.
struct MapRef {
  int fd = -1;
  uint32_t type = 0;
  ObjectStatePtr state;
  std::string name;
};
// Fills `out` when `value` is an open NativeMap; false otherwise.
bool ExtractMap(Napi::Env env, Napi::Value value, MapRef* out);

// Class registration (one per source file).
void InitObject(Napi::Env env, Napi::Object exports, AddonData* data);
void InitLink(Napi::Env env, Napi::Object exports, AddonData* data);
void InitReader(Napi::Env env, Napi::Object exports, AddonData* data);
void InitSocket(Napi::Env env, Napi::Object exports, AddonData* data);
void InitSystem(Napi::Env env, Napi::Object exports, AddonData* data);
void InitBtf(Napi::Env env, Napi::Object exports, AddonData* data);

// Link construction helpers used by NativeProgram.
Napi::Object NewLibbpfLink(Napi::Env env, bpf_link* link, const std::string& kind);
Napi::Object NewFdLink(Napi::Env env, int fd, const std::string& kind);
Napi::Object NewClsactLink(Napi::Env env, ClsactRegistryPtr registry, uint64_t id, const ClsactFilter& filter);
Napi::Object NewSocketFilterLink(Napi::Env env, int socketDupFd);

// Small argument helpers.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what);

}  // namespace retina
