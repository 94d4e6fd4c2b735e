// NativeObject: a libbpf bpf_object (open, configure, load, global variables); its programs and maps are wrapped
// by program.cc and map.cc.
#include "object_internal.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace retina {

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Objects

class NativeObject : public NativeClass<NativeObject> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
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
    };
  }

  // (pathOrBuffer, name?, btfCustomPath?)
  explicit NativeObject(const Napi::CallbackInfo& info) : NativeClass(info) {
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

  // One JS object per item a libbpf iterator (bpf_object__next_program/_map) yields, filled in by `describe`.
  template <typename Next, typename Describe>
  Napi::Value DescribeEach(Napi::Env env, const char* op, Next next, Describe describe) {
    bpf_object* obj = Obj(env, op);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (auto* item = next(obj, nullptr); item != nullptr; item = next(obj, item)) {
      Napi::Object o = Napi::Object::New(env);
      describe(o, item);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return DescribeEach(env, "list programs", bpf_object__next_program, [env](Napi::Object o, bpf_program* p) {
      o.Set("name", Napi::String::New(env, bpf_program__name(p)));
      o.Set("sectionName", Napi::String::New(env, bpf_program__section_name(p)));
      o.Set("type", Napi::String::New(env, ProgTypeName(bpf_program__type(p))));
      o.Set("expectedAttachType", Napi::String::New(env, AttachTypeName(bpf_program__expected_attach_type(p))));
      o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(p)));
    });
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return DescribeEach(env, "list maps", bpf_object__next_map, [env](Napi::Object o, bpf_map* m) {
      o.Set("name", Napi::String::New(env, bpf_map__name(m)));
      o.Set("type", Napi::String::New(env, MapTypeName(bpf_map__type(m))));
      o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
      o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
      o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
      o.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(m)));
    });
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
    return NewNativeProgram(env, state_, p);
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
    return NewNativeMap(env, init);
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

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeObject::Export(env, exports, "NativeObject");
  ExportNativeProgram(env, exports, data);
  ExportNativeMap(env, exports, data);
}

}  // namespace retina
