// NativeBtf: type information read with libbpf's BTF API — the running kernel's (vmlinux), a kernel module's split
// BTF on top of it, or the .BTF section of a compiled BPF object. Answers the two questions user space asks:
// the members of an enum (kernel drop reasons) and the layout of a struct (event records shared with BPF C).
#include "common.h"

#include <bpf/btf.h>

#include <cerrno>
#include <memory>

namespace retina {

namespace {

using BtfPtr = std::shared_ptr<btf>;

BtfPtr Own(btf* b) { return BtfPtr(b, [](btf* p) { btf__free(p); }); }

class NativeBtf : public NativeClass<NativeBtf> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
        InstanceAccessor<&NativeBtf::GetTypeCount>("typeCount"),
        InstanceMethod<&NativeBtf::Enums>("enums"),
        InstanceMethod<&NativeBtf::Struct>("struct"),
        InstanceMethod<&NativeBtf::Close>("close"),
    };
  }

  // new NativeBtf(path | null, base?): null loads the running kernel's BTF where libbpf finds it; `base` (an open
  // NativeBtf) makes `path` a split BTF on top of it, as /sys/kernel/btf/<module> is.
  explicit NativeBtf(const Napi::CallbackInfo& info) : NativeClass(info) {
    Napi::Env env = info.Env();
    LibbpfLogCapture capture;
    btf* parsed = nullptr;
    if (info.Length() == 0 || info[0].IsNull() || info[0].IsUndefined()) {
      path_ = "vmlinux";
      parsed = btf__load_vmlinux_btf();
    } else {
      path_ = ArgString(info, 0, "BTF path");
      if (info.Length() > 1 && info[1].IsObject()) {
        NativeBtf* base = FromValue(GetAddonData(env)->btfCtor, info[1]);
        if (base == nullptr) ThrowTypeError(env, "base must be a NativeBtf");
        if (!base->btf_) ThrowBpfError(env, {EBADF, "parse split BTF", path_, "the base BTF is closed", ""});
        base_ = base->btf_;
        parsed = btf__parse_split(path_.c_str(), base_.get());
      } else {
        parsed = btf__parse(path_.c_str(), nullptr);
      }
    }
    // libbpf 1.x returns NULL and sets errno on failure; its own codes (4000 and up) say what is wrong with the data.
    if (parsed == nullptr) {
      int err = errno != 0 ? errno : EINVAL;
      std::string detail;
      if (err >= __LIBBPF_ERRNO__START) {
        char text[128];
        libbpf_strerror(-err, text, sizeof(text));
        detail = std::string("not valid BTF: ") + text;
        err = EINVAL;
      }
      ThrowBpfError(env, {err, "parse BTF", path_, detail, capture.Text()});
    }
    btf_ = Own(parsed);
  }

 private:
  const btf* Get(Napi::Env env, const char* op) {
    if (!btf_) ThrowBpfError(env, {EBADF, op, path_, "the BTF is closed", ""});
    return btf_.get();
  }

  Napi::Value GetTypeCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), btf__type_cnt(Get(info.Env(), "count BTF types")));
  }

  // enums(names: string[] | (name) => boolean): every named ENUM/ENUM64 type whose name is listed or accepted,
  // as { name, typeId, size, signed, names: string[], values: bigint[] }. The first of two same-named enums wins.
  Napi::Value Enums(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const btf* b = Get(env, "read BTF enums");
    if (info.Length() < 1 || (!info[0].IsArray() && !info[0].IsFunction())) {
      ThrowTypeError(env, "enum match must be an array of names or a function");
    }
    std::map<std::string, bool> wanted;
    Napi::Function predicate;
    if (info[0].IsArray()) {
      Napi::Array names = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < names.Length(); i++) {
        Napi::Value v = names.Get(i);
        if (!v.IsString()) ThrowTypeError(env, "enum names must be strings");
        wanted[v.As<Napi::String>().Utf8Value()] = true;
      }
    } else {
      predicate = info[0].As<Napi::Function>();
    }
    Napi::Array out = Napi::Array::New(env);
    std::map<std::string, bool> seen;
    uint32_t n = btf__type_cnt(b);
    // Split BTF numbers its own types after the base's; only its own are asked about.
    const btf* base = btf__base_btf(b);
    for (uint32_t id = base != nullptr ? btf__type_cnt(base) : 1; id < n; id++) {
      const btf_type* t = btf__type_by_id(b, id);
      if (t == nullptr || !btf_is_any_enum(t) || t->name_off == 0) continue;
      const char* cname = btf__name_by_offset(b, t->name_off);
      if (cname == nullptr || cname[0] == '\0') continue;
      std::string name(cname);
      if (seen.count(name) != 0) continue;
      if (predicate.IsEmpty()) {
        if (wanted.count(name) == 0) continue;
      } else if (!predicate.Call({Napi::String::New(env, name)}).ToBoolean().Value()) {
        continue;
      }
      seen[name] = true;
      out.Set(out.Length(), EnumObject(env, b, id, t, name));
    }
    return out;
  }

  static Napi::Object EnumObject(Napi::Env env, const btf* b, uint32_t id, const btf_type* t, const std::string& name) {
    bool isSigned = btf_kflag(t);
    uint16_t vlen = btf_vlen(t);
    Napi::Array names = Napi::Array::New(env, vlen);
    Napi::Array values = Napi::Array::New(env, vlen);
    for (uint16_t i = 0; i < vlen; i++) {
      const char* member = nullptr;
      if (btf_is_enum(t)) {
        const struct btf_enum* e = btf_enum(t) + i;
        member = btf__name_by_offset(b, e->name_off);
        values.Set(i, isSigned ? Napi::BigInt::New(env, static_cast<int64_t>(e->val))
                               : Napi::BigInt::New(env, static_cast<uint64_t>(static_cast<uint32_t>(e->val))));
      } else {
        const struct btf_enum64* e = btf_enum64(t) + i;
        member = btf__name_by_offset(b, e->name_off);
        uint64_t raw = btf_enum64_value(e);
        values.Set(i, isSigned ? Napi::BigInt::New(env, static_cast<int64_t>(raw)) : Napi::BigInt::New(env, raw));
      }
      names.Set(i, Napi::String::New(env, member != nullptr ? member : ""));
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, name));
    o.Set("typeId", Napi::Number::New(env, id));
    o.Set("size", Napi::Number::New(env, t->size));
    o.Set("signed", Napi::Boolean::New(env, isSigned));
    o.Set("names", names);
    o.Set("values", values);
    return o;
  }

  // struct(name): { name, kind: 'struct' | 'union', size, members: [{ name, bitOffset, bitSize, size }] } for the
  // named struct (or union when no struct has the name), or null. `size` of a member is its type's size in bytes.
  Napi::Value Struct(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const btf* b = Get(env, "read BTF struct");
    std::string name = ArgString(info, 0, "struct name");
    bool isUnion = false;
    int id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_STRUCT);
    if (id < 0) {
      id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_UNION);
      isUnion = id >= 0;
    }
    if (id < 0) return env.Null();
    const btf_type* t = btf__type_by_id(b, static_cast<uint32_t>(id));
    uint16_t vlen = btf_vlen(t);
    Napi::Array members = Napi::Array::New(env, vlen);
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < vlen; i++, m++) {
      Napi::Object o = Napi::Object::New(env);
      const char* mname = btf__name_by_offset(b, m->name_off);
      long long size = btf__resolve_size(b, m->type);
      o.Set("name", Napi::String::New(env, mname != nullptr ? mname : ""));
      o.Set("bitOffset", Napi::Number::New(env, btf_member_bit_offset(t, i)));
      o.Set("bitSize", Napi::Number::New(env, btf_member_bitfield_size(t, i)));
      o.Set("size", Napi::Number::New(env, static_cast<double>(size < 0 ? -1 : size)));
      members.Set(i, o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("name", Napi::String::New(env, name));
    out.Set("kind", Napi::String::New(env, isUnion ? "union" : "struct"));
    out.Set("size", Napi::Number::New(env, t->size));
    out.Set("members", members);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    // A split BTF opened on this one keeps its own reference to the base, so closing never frees it under it.
    btf_.reset();
    base_.reset();
    return info.Env().Undefined();
  }

  std::string path_;
  BtfPtr btf_;
  BtfPtr base_;
};

}  // namespace

void InitBtf(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeBtf::Export(env, exports, "NativeBtf", &data->btfCtor);
}

}  // namespace retina
