// NativeProgram: one program of a loaded object (attach to every hook kind, BPF_PROG_TEST_RUN off the JS thread).
#include "object_internal.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace retina {

namespace {

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

  // Points one buffer field of bpf_test_run_opts and its size at `bytes`; left unset (null, 0) when it is empty.
  template <typename Pointer>
  static void UseBuffer(std::vector<uint8_t>* bytes, Pointer* field, __u32* size) {
    if (bytes->empty()) return;
    *field = bytes->data();
    *size = static_cast<__u32>(bytes->size());
  }

  void Run() {
    bpf_test_run_opts o{};
    o.sz = sizeof(o);
    UseBuffer(&dataIn, &o.data_in, &o.data_size_in);
    UseBuffer(&dataOut, &o.data_out, &o.data_size_out);
    UseBuffer(&ctxIn, &o.ctx_in, &o.ctx_size_in);
    UseBuffer(&ctxOut, &o.ctx_out, &o.ctx_size_out);
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

class NativeProgram : public NativeClass<NativeProgram> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
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
    };
  }

  explicit NativeProgram(const Napi::CallbackInfo& info) : NativeClass(info) {
    const ProgramInit& init = InitArg<ProgramInit>(info, "NativeProgram is created by NativeObject.program()");
    state_ = init.state;
    prog_ = init.prog;
    name_ = bpf_program__name(prog_);
    section_ = bpf_program__section_name(prog_);
  }

  static Napi::Object New(Napi::Env env, ObjectStatePtr state, bpf_program* prog) {
    return NewFromInit(GetAddonData(env)->programCtor, env, ProgramInit{std::move(state), prog});
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

}  // namespace

void ExportNativeProgram(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeProgram::Export(env, exports, "NativeProgram", &data->programCtor);
}

Napi::Object NewNativeProgram(Napi::Env env, ObjectStatePtr state, bpf_program* prog) {
  return NativeProgram::New(env, std::move(state), prog);
}

}  // namespace retina
