// Declarations shared by the files that wrap a libbpf object: object.cc (NativeObject), program.cc
// (NativeProgram) and map.cc (NativeMap). Not part of the addon's other files.
#pragma once

#include "common.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <string>

namespace retina {

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

inline bool IsPerCpuMapType(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

inline std::string MapTypeName(uint32_t type) {
  const char* s = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
  return s != nullptr ? s : "map_type_" + std::to_string(type);
}

inline std::string ProgTypeName(bpf_prog_type type) {
  const char* s = libbpf_bpf_prog_type_str(type);
  return s != nullptr ? s : "prog_type_" + std::to_string(static_cast<int>(type));
}

inline std::string AttachTypeName(bpf_attach_type type) {
  const char* s = libbpf_bpf_attach_type_str(type);
  return s != nullptr ? s : "attach_type_" + std::to_string(static_cast<int>(type));
}

inline bool StartsWith(const char* s, const char* prefix) { return s != nullptr && strncmp(s, prefix, strlen(prefix)) == 0; }

// What NativeMap's constructor takes (through an External) from NativeObject and from BpfMap.fromPinned.
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

// Class registration (called by InitObject) and constructors (called by NativeObject).
void ExportNativeMap(Napi::Env env, Napi::Object exports, AddonData* data);
void ExportNativeProgram(Napi::Env env, Napi::Object exports, AddonData* data);
// A NativeMap for `init` (fd ownership as init says).
Napi::Object NewNativeMap(Napi::Env env, const MapInit& init);
// A NativeProgram for one program of the object in `state`.
Napi::Object NewNativeProgram(Napi::Env env, ObjectStatePtr state, bpf_program* prog);

}  // namespace retina
