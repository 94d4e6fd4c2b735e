// NativeMap: a map of a loaded object, or a map opened from bpffs (lookups, updates, batches, per-CPU values).
#include "object_internal.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace retina {

namespace {

class NativeMap : public NativeClass<NativeMap> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
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
    };
  }

  explicit NativeMap(const Napi::CallbackInfo& info)
      : NativeClass(info),
        init_(InitArg<MapInit>(info, "NativeMap is created by NativeObject.map() or NativeMap.fromPinned()")) {
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
    return NewFromInit(GetAddonData(env)->mapCtor, env, init);
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

  // The value under the key argument read with `read` (bpf_map_lookup_elem or its _and_delete form); undefined
  // when there is none.
  Napi::Value ReadValue(const Napi::CallbackInfo& info, const char* op, int (*read)(int, const void*, void*)) {
    int fd = Fd(info.Env(), op);
    const void* key = KeyArg(info, 0);
    if (read(fd, key, scratch_.data()) != 0) {
      if (errno == ENOENT) return info.Env().Undefined();
      Fail(info.Env(), errno, op);
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), scratch_.data(), valueBufferSize_);
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) { return ReadValue(info, "lookup", bpf_map_lookup_elem); }

  Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
    return ReadValue(info, "lookup and delete", bpf_map_lookup_and_delete_elem);
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

}  // namespace

void ExportNativeMap(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeMap::Export(env, exports, "NativeMap", &data->mapCtor);
}

Napi::Object NewNativeMap(Napi::Env env, const MapInit& init) { return NativeMap::New(env, init); }

bool ExtractMap(Napi::Env env, Napi::Value value, MapRef* out) {
  NativeMap* map = NativeMap::FromValue(GetAddonData(env)->mapCtor, value);
  return map != nullptr && map->Ref(out);
}

}  // namespace retina
