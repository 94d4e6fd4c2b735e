// Module entry: error plumbing, libbpf log capture, and system-level functions (probes, mounts, namespaces).
#include "common.h"

#include <bpf/btf.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace retina {

namespace {

thread_local std::string* g_capture = nullptr;
bool g_debug = false;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int needed = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (needed <= 0) return 0;
  std::string message(static_cast<size_t>(needed), '\0');
  vsnprintf(message.data(), message.size() + 1, format, args);

  if (g_debug) fputs(message.c_str(), stderr);
  if (g_capture != nullptr) {
    if (level != LIBBPF_DEBUG) g_capture->append(message);
    return 0;
  }
  // Outside a captured call (finalizers, reader threads) only warnings are worth showing.
  if (level == LIBBPF_WARN && !g_debug) fputs(message.c_str(), stderr);
  return 0;
}

}  // namespace

LibbpfLogCapture::LibbpfLogCapture() : previous_(g_capture) { g_capture = &text_; }

LibbpfLogCapture::~LibbpfLogCapture() {
  if (previous_ != nullptr) previous_->append(text_);
  g_capture = previous_;
}

void InstallLibbpfPrint() {
  const char* debug = getenv("RETINA_BPF_LIBBPF_DEBUG");
  g_debug = debug != nullptr && debug[0] != '\0' && strcmp(debug, "0") != 0;
  libbpf_set_print(LibbpfPrint);
}

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

Napi::Value MakeBpfError(Napi::Env env, const ErrorInfo& info) {
  Napi::Object payload = Napi::Object::New(env);
  payload.Set("errno", Napi::Number::New(env, info.err));
  payload.Set("op", Napi::String::New(env, info.op));
  payload.Set("target", Napi::String::New(env, info.target));
  payload.Set("detail", Napi::String::New(env, info.detail));
  payload.Set("log", Napi::String::New(env, info.log));
  payload.Set("message", Napi::String::New(env, strerror(info.err)));
  AddonData* data = GetAddonData(env);
  if (data != nullptr && !data->errorFactory.IsEmpty()) return data->errorFactory.Call({payload});
  // Only reachable if the TypeScript layer did not register its factory (direct use of the addon).
  Napi::Error error = Napi::Error::New(env, info.op + " " + info.target + ": " + strerror(info.err));
  error.Set("errno", Napi::Number::New(env, info.err));
  return error.Value();
}

void ThrowBpfError(Napi::Env env, const ErrorInfo& info) { throw Napi::Error(env, MakeBpfError(env, info)); }

void ThrowTypeError(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowTypeError(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowTypeError(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBoolean()) ThrowTypeError(info.Env(), std::string(what) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowTypeError(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

int OpenCurrentNetns() { return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC); }

NetnsSwitch::NetnsSwitch(int targetFd) {
  if (targetFd < 0) return;
  original_ = OpenCurrentNetns();
  if (original_ < 0) {
    err_ = errno;
    return;
  }
  if (setns(targetFd, CLONE_NEWNET) != 0) {
    err_ = errno;
    close(original_);
    original_ = -1;
  }
}

NetnsSwitch::~NetnsSwitch() {
  if (original_ < 0) return;
  if (setns(original_, CLONE_NEWNET) != 0) {
    // Staying in a foreign namespace would silently misdirect every later socket; this cannot be recovered.
    fprintf(stderr, "@retina-ts/bpf-runtime: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(original_);
}

namespace {

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowTypeError(info.Env(), "error factory must be a function");
  GetAddonData(info.Env())->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowBpfError(info.Env(), {-n, "read possible CPUs", "/sys/devices/system/cpu/possible", "", ""});
  return Napi::Number::New(info.Env(), n);
}

Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  LibbpfLogCapture capture;
  int r = libbpf_probe_bpf_prog_type(static_cast<bpf_prog_type>(ArgInt(info, 0, "program type")), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  LibbpfLogCapture capture;
  int r = libbpf_probe_bpf_map_type(static_cast<bpf_map_type>(ArgInt(info, 0, "map type")), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  LibbpfLogCapture capture;
  int r = libbpf_probe_bpf_helper(static_cast<bpf_prog_type>(ArgInt(info, 0, "program type")),
                                  static_cast<bpf_func_id>(ArgInt(info, 1, "helper id")), nullptr);
  return Napi::Number::New(info.Env(), r);
}

// Names libbpf knows for an enum, indexed by value (holes stay empty strings).
template <typename Fn>
Napi::Value NameTable(Napi::Env env, Fn name) {
  Napi::Array out = Napi::Array::New(env);
  for (uint32_t i = 0; i < 256; i++) {
    const char* s = name(i);
    if (s == nullptr) {
      // libbpf's tables are dense up to the newest value it knows; allow a few holes for safety.
      bool anyLater = false;
      for (uint32_t j = i + 1; j < i + 4; j++) anyLater = anyLater || name(j) != nullptr;
      if (!anyLater) break;
    }
    out.Set(i, Napi::String::New(env, s != nullptr ? s : ""));
  }
  return out;
}

Napi::Value ProgTypeNames(const Napi::CallbackInfo& info) {
  return NameTable(info.Env(), [](uint32_t i) { return libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(i)); });
}

Napi::Value MapTypeNames(const Napi::CallbackInfo& info) {
  return NameTable(info.Env(), [](uint32_t i) { return libbpf_bpf_map_type_str(static_cast<bpf_map_type>(i)); });
}

Napi::Value AttachTypeNames(const Napi::CallbackInfo& info) {
  return NameTable(info.Env(),
                   [](uint32_t i) { return libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(i)); });
}

// Loads a trivial tp_btf program for tracepoint `name`: 1 when the kernel accepts it, 0 when it refuses, negative
// errno when the probe itself cannot run. libbpf's 'tracing' type probe tries fentry instead, which kernels without
// ftrace trampolines refuse even though tp_btf works.
Napi::Value ProbeTpBtf(const Napi::CallbackInfo& info) {
  std::string name = "btf_trace_" + ArgString(info, 0, "tracepoint name");
  LibbpfLogCapture capture;
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) return Napi::Number::New(info.Env(), -errno);
  int id = btf__find_by_name_kind(vmlinux, name.c_str(), BTF_KIND_TYPEDEF);
  btf__free(vmlinux);
  if (id < 0) return Napi::Number::New(info.Env(), 0);
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                  // exit
  };
  bpf_prog_load_opts opts{};
  opts.sz = sizeof(opts);
  opts.expected_attach_type = BPF_TRACE_RAW_TP;
  opts.attach_btf_id = static_cast<__u32>(id);
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "probe_tp_btf", "GPL", insns, 2, &opts);
  if (fd >= 0) {
    close(fd);
    return Napi::Number::New(info.Env(), 1);
  }
  return Napi::Number::New(info.Env(), errno == EPERM ? -EPERM : 0);
}

// BPF_PROG_QUERY for tcx on an interface: 0 when the kernel knows tcx, negative errno otherwise.
Napi::Value TcxQuery(const Napi::CallbackInfo& info) {
  int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
  __u32 attachFlags = 0;
  __u32 count = 0;
  int r = bpf_prog_query(ifindex, static_cast<bpf_attach_type>(kAttachTcxIngress), 0, &attachFlags, nullptr, &count);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string source = ArgString(info, 0, "source");
  std::string target = ArgString(info, 1, "target");
  std::string fstype = ArgString(info, 2, "fstype");
  std::string options = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), 0, options.empty() ? nullptr : options.c_str()) != 0) {
    ThrowBpfError(info.Env(), {errno, "mount " + fstype, target, "", ""});
  }
  return info.Env().Undefined();
}

Napi::Value Unmount(const Napi::CallbackInfo& info) {
  std::string target = ArgString(info, 0, "target");
  if (umount2(target.c_str(), 0) != 0) ThrowBpfError(info.Env(), {errno, "unmount", target, "", ""});
  return info.Env().Undefined();
}

// Moves the JS thread into the network namespace at `path`; returns a token (fd of the previous namespace).
Napi::Value EnterNetns(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "netns path");
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) ThrowBpfError(info.Env(), {errno, "open network namespace", path, "", ""});
  int previous = OpenCurrentNetns();
  if (previous < 0) {
    int err = errno;
    close(target);
    ThrowBpfError(info.Env(), {err, "open current network namespace", "/proc/thread-self/ns/net", "", ""});
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(previous);
    ThrowBpfError(info.Env(), {err, "enter network namespace", path, "", ""});
  }
  close(target);
  return Napi::Number::New(info.Env(), previous);
}

Napi::Value LeaveNetns(const Napi::CallbackInfo& info) {
  int previous = static_cast<int>(ArgInt(info, 0, "netns token"));
  if (setns(previous, CLONE_NEWNET) != 0) {
    int err = errno;
    close(previous);
    ThrowBpfError(info.Env(), {err, "return to network namespace", "fd " + std::to_string(previous), "", ""});
  }
  close(previous);
  return info.Env().Undefined();
}

// Inode of the calling thread's network namespace (distinguishes namespaces in diagnostics and tests).
Napi::Value CurrentNetnsInode(const Napi::CallbackInfo& info) {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) != 0) {
    ThrowBpfError(info.Env(), {errno, "stat", "/proc/thread-self/ns/net", "", ""});
  }
  return Napi::Number::New(info.Env(), static_cast<double>(st.st_ino));
}

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "interface name");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) ThrowBpfError(info.Env(), {errno, "resolve interface", name, "", ""});
  return Napi::Number::New(info.Env(), idx);
}

Napi::Value TcListFilters(const Napi::CallbackInfo& info) {
  int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
  bool egress = ArgBool(info, 1, "egress");
  std::vector<TcFilterEntry> filters;
  int r = ListTcFilters(ifindex, egress, &filters);
  // The kernel answers EINVAL when the interface has no clsact qdisc: that simply means no filters.
  if (r == -EINVAL) filters.clear();
  if (r < 0 && r != -EINVAL) {
    ThrowBpfError(info.Env(), {-r, "list tc filters", "ifindex " + std::to_string(ifindex) +
                                                          (egress ? " egress" : " ingress"), "", ""});
  }
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, filters.size());
  for (size_t i = 0; i < filters.size(); i++) {
    const TcFilterEntry& f = filters[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("handle", Napi::Number::New(env, f.handle));
    o.Set("priority", Napi::Number::New(env, f.priority));
    o.Set("protocol", Napi::Number::New(env, f.protocol));
    o.Set("chain", Napi::Number::New(env, f.chain));
    o.Set("kind", Napi::String::New(env, f.kind));
    o.Set("name", Napi::String::New(env, f.bpfName));
    o.Set("progId", Napi::Number::New(env, f.bpfProgId));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// Removes one clsact filter by handle and priority (stale-filter cleanup); false when it was already gone.
Napi::Value TcDetachFilter(const Napi::CallbackInfo& info) {
  int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
  bool egress = ArgBool(info, 1, "egress");
  uint32_t handle = static_cast<uint32_t>(ArgInt(info, 2, "handle"));
  uint32_t priority = static_cast<uint32_t>(ArgInt(info, 3, "priority"));
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = handle;
  opts.priority = priority;
  LibbpfLogCapture capture;
  int r = bpf_tc_detach(&hook, &opts);
  if (r == -ENOENT || r == -EINVAL) return Napi::Boolean::New(info.Env(), false);
  if (r < 0) {
    ThrowBpfError(info.Env(), {-r, "detach tc filter", "ifindex " + std::to_string(ifindex), "", capture.Text()});
  }
  return Napi::Boolean::New(info.Env(), true);
}

// Interfaces of the calling thread's network namespace as [{ index, name }] (if_nameindex answers per thread).
Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct if_nameindex* list = if_nameindex();
  if (list == nullptr) ThrowBpfError(env, {errno, "list interfaces", "", "", ""});
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (struct if_nameindex* it = list; it->if_index != 0 && it->if_name != nullptr; it++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", Napi::Number::New(env, it->if_index));
    o.Set("name", Napi::String::New(env, it->if_name));
    out.Set(n++, o);
  }
  if_freenameindex(list);
  return out;
}

// Removes the clsact qdisc of an interface (both hooks with every filter on them); false when there was none.
Napi::Value TcDestroyClsact(const Napi::CallbackInfo& info) {
  int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  LibbpfLogCapture capture;
  int r = bpf_tc_hook_destroy(&hook);
  if (r == -ENOENT || r == -EINVAL) return Napi::Boolean::New(info.Env(), false);
  if (r < 0) {
    ThrowBpfError(info.Env(), {-r, "remove clsact qdisc", "ifindex " + std::to_string(ifindex), "", capture.Text()});
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value ClsactReleaseAll(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), GetAddonData(info.Env())->clsact->ReleaseAll());
}

Napi::Value ClsactCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GetAddonData(info.Env())->clsact->Size()));
}

// libbpf frees what it parses while loading (kernel BTF, ELF sections), and threads leave freed chunks in their own
// arenas; glibc keeps both mapped until asked. malloc_trim(0) walks every arena and returns the free pages.
Napi::Value TrimNativeHeap(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

}  // namespace

void InitSystem(Napi::Env env, Napi::Object exports, AddonData* /*data*/) {
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("trimNativeHeap", Napi::Function::New(env, TrimNativeHeap));
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  exports.Set("progTypeNames", Napi::Function::New(env, ProgTypeNames));
  exports.Set("mapTypeNames", Napi::Function::New(env, MapTypeNames));
  exports.Set("attachTypeNames", Napi::Function::New(env, AttachTypeNames));
  exports.Set("tcxQuery", Napi::Function::New(env, TcxQuery));
  exports.Set("probeTpBtf", Napi::Function::New(env, ProbeTpBtf));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("unmount", Napi::Function::New(env, Unmount));
  exports.Set("enterNetns", Napi::Function::New(env, EnterNetns));
  exports.Set("leaveNetns", Napi::Function::New(env, LeaveNetns));
  exports.Set("currentNetnsInode", Napi::Function::New(env, CurrentNetnsInode));
  exports.Set("interfaceIndex", Napi::Function::New(env, InterfaceIndex));
  exports.Set("tcListFilters", Napi::Function::New(env, TcListFilters));
  exports.Set("tcDetachFilter", Napi::Function::New(env, TcDetachFilter));
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces));
  exports.Set("tcDestroyClsact", Napi::Function::New(env, TcDestroyClsact));
  exports.Set("clsactReleaseAll", Napi::Function::New(env, ClsactReleaseAll));
  exports.Set("clsactCount", Napi::Function::New(env, ClsactCount));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
}

}  // namespace retina

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  retina::InstallLibbpfPrint();
  auto* data = new retina::AddonData();
  env.SetInstanceData(data);
  // Worker threads and embedders tear environments down without a process 'exit' event; drop our TC filters then.
  // The hook owns its own reference, so it does not depend on the order in which instance data is freed.
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto* registry = static_cast<retina::ClsactRegistryPtr*>(arg);
        (*registry)->ReleaseAll();
        delete registry;
      },
      new retina::ClsactRegistryPtr(data->clsact));
  retina::InitSystem(env, exports, data);
  retina::InitObject(env, exports, data);
  retina::InitLink(env, exports, data);
  retina::InitReader(env, exports, data);
  retina::InitSocket(env, exports, data);
  retina::InitBtf(env, exports, data);
  return exports;
}

}  // namespace

NODE_API_MODULE(retina_bpf, Init)
