// NativeLink (one attachment, released on detach or GC), the clsact filter registry, and the netlink filter dump.
#include "common.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace retina {

// ---------------------------------------------------------------------------------------------------------------
// Netlink dump of TC filters (libbpf can query one filter by handle but cannot list them)

int ListTcFilters(int ifindex, bool egress, std::vector<TcFilterEntry>* out) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  struct {
    nlmsghdr nh;
    tcmsg tc;
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(tcmsg));
  req.nh.nlmsg_type = RTM_GETTFILTER;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.tc.tcm_family = AF_UNSPEC;
  req.tc.tcm_ifindex = ifindex;
  req.tc.tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
  if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }

  std::vector<char> buf(64 * 1024);
  int result = 0;
  bool done = false;
  while (!done) {
    ssize_t len = recv(fd, buf.data(), buf.size(), 0);
    if (len < 0) {
      if (errno == EINTR) continue;
      result = -errno;
      break;
    }
    if (len == 0) break;
    int remaining = static_cast<int>(len);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nh, remaining); nh = NLMSG_NEXT(nh, remaining)) {
      if (nh->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (nh->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(nh));
        result = e->error;
        done = true;
        break;
      }
      if (nh->nlmsg_type != RTM_NEWTFILTER) continue;
      auto* t = static_cast<tcmsg*>(NLMSG_DATA(nh));
      TcFilterEntry entry;
      entry.handle = t->tcm_handle;
      entry.priority = TC_H_MAJ(t->tcm_info) >> 16;
      entry.protocol = ntohs(static_cast<uint16_t>(TC_H_MIN(t->tcm_info)));
      int attrLen = static_cast<int>(nh->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(tcmsg)));
      for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(t) + NLMSG_ALIGN(sizeof(tcmsg)));
           RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type == TCA_KIND) {
          entry.kind.assign(static_cast<const char*>(RTA_DATA(a)), strnlen(static_cast<const char*>(RTA_DATA(a)),
                                                                           RTA_PAYLOAD(a)));
        } else if (a->rta_type == TCA_CHAIN && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
          memcpy(&entry.chain, RTA_DATA(a), sizeof(uint32_t));
        } else if (a->rta_type == TCA_OPTIONS && entry.kind == "bpf") {
          int nestedLen = static_cast<int>(RTA_PAYLOAD(a));
          for (auto* n = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(n, nestedLen); n = RTA_NEXT(n, nestedLen)) {
            if (n->rta_type == TCA_BPF_NAME) {
              entry.bpfName.assign(static_cast<const char*>(RTA_DATA(n)),
                                   strnlen(static_cast<const char*>(RTA_DATA(n)), RTA_PAYLOAD(n)));
            } else if (n->rta_type == TCA_BPF_ID && RTA_PAYLOAD(n) >= sizeof(uint32_t)) {
              memcpy(&entry.bpfProgId, RTA_DATA(n), sizeof(uint32_t));
            }
          }
        }
      }
      out->push_back(std::move(entry));
    }
  }
  close(fd);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Clsact registry

namespace {

bpf_tc_hook MakeHook(int ifindex, int attachPoint) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = static_cast<bpf_tc_attach_point>(attachPoint);
  return hook;
}

// True when neither clsact hook of the interface has a filter left (a missing qdisc counts as empty).
bool ClsactEmpty(int ifindex) {
  for (bool egress : {false, true}) {
    std::vector<TcFilterEntry> filters;
    int r = ListTcFilters(ifindex, egress, &filters);
    if (r < 0 && r != -EINVAL && r != -ENOENT) return false;
    if (!filters.empty()) return false;
  }
  return true;
}

}  // namespace

ClsactRegistry::~ClsactRegistry() { ReleaseAll(); }

int ClsactRegistry::Attach(int progFd, ClsactFilter* filter, uint64_t* id, std::string* log) {
  std::lock_guard<std::mutex> lock(mu_);
  LibbpfLogCapture capture;
  filter->netnsFd = OpenCurrentNetns();
  if (filter->netnsFd < 0) return -errno;
  struct stat st {};
  if (fstat(filter->netnsFd, &st) == 0) filter->netnsInode = st.st_ino;

  bpf_tc_hook hook = MakeHook(filter->ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
  int r = bpf_tc_hook_create(&hook);
  bool created = r == 0;
  if (r < 0 && r != -EEXIST) {
    *log = capture.Text();
    close(filter->netnsFd);
    return r;
  }
  hook = MakeHook(filter->ifindex, filter->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.prog_fd = progFd;
  opts.handle = filter->handle;
  opts.priority = filter->priority;
  r = bpf_tc_attach(&hook, &opts);
  if (r < 0) {
    *log = capture.Text();
    auto existing = qdiscs_.find(QdiscKey{filter->netnsInode, filter->ifindex});
    bool othersUseIt = existing != qdiscs_.end() && existing->second.users > 0;
    if (created && !othersUseIt) {
      bpf_tc_hook both = MakeHook(filter->ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&both);
    }
    close(filter->netnsFd);
    return r;
  }
  filter->handle = opts.handle;
  filter->priority = opts.priority;
  QdiscState& q = qdiscs_[QdiscKey{filter->netnsInode, filter->ifindex}];
  q.created = q.created || created;
  q.users++;
  *id = nextId_++;
  filters_[*id] = *filter;
  return 0;
}

int ClsactRegistry::DetachLocked(uint64_t id) {
  auto it = filters_.find(id);
  if (it == filters_.end()) return 0;
  ClsactFilter f = it->second;
  filters_.erase(it);
  int result = 0;
  {
    NetnsSwitch ns(f.netnsFd);
    if (ns.Error() != 0) {
      result = -ns.Error();
    } else {
      bpf_tc_hook hook = MakeHook(f.ifindex, f.egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
      bpf_tc_opts opts{};
      opts.sz = sizeof(opts);
      opts.handle = f.handle;
      opts.priority = f.priority;
      LibbpfLogCapture capture;  // a filter removed by someone else is not worth a warning
      int r = bpf_tc_detach(&hook, &opts);
      // ENOENT: filter already gone; EINVAL/ENODEV: qdisc or interface already gone. All mean "not attached".
      if (r < 0 && r != -ENOENT && r != -EINVAL && r != -ENODEV) result = r;

      auto q = qdiscs_.find(QdiscKey{f.netnsInode, f.ifindex});
      if (q != qdiscs_.end() && --q->second.users <= 0) {
        // Restore the interface as we found it: drop the clsact qdisc only if we made it and it is now empty.
        if (q->second.created && ClsactEmpty(f.ifindex)) {
          bpf_tc_hook both = MakeHook(f.ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
          bpf_tc_hook_destroy(&both);
        }
        qdiscs_.erase(q);
      }
    }
  }
  close(f.netnsFd);
  return result;
}

int ClsactRegistry::Detach(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return DetachLocked(id);
}

int ClsactRegistry::ReleaseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> ids;
  for (const auto& entry : filters_) ids.push_back(entry.first);
  for (uint64_t id : ids) DetachLocked(id);
  return static_cast<int>(ids.size());
}

size_t ClsactRegistry::Size() {
  std::lock_guard<std::mutex> lock(mu_);
  return filters_.size();
}

// ---------------------------------------------------------------------------------------------------------------
// NativeLink

namespace {

enum class LinkVariant { Libbpf, Fd, Clsact, SocketFilter };

struct LinkInit {
  LinkVariant variant = LinkVariant::Fd;
  std::string kind;
  bpf_link* link = nullptr;
  int fd = -1;
  ClsactRegistryPtr registry;
  uint64_t clsactId = 0;
  ClsactFilter filter;
};

class NativeLink : public NativeClass<NativeLink> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
        InstanceAccessor<&NativeLink::GetKind>("kind"),
        InstanceAccessor<&NativeLink::GetFd>("fd"),
        InstanceAccessor<&NativeLink::GetAttached>("attached"),
        InstanceAccessor<&NativeLink::GetId>("id"),
        InstanceAccessor<&NativeLink::GetHandle>("handle"),
        InstanceAccessor<&NativeLink::GetPriority>("priority"),
        InstanceMethod<&NativeLink::Detach>("detach"),
    };
  }

  explicit NativeLink(const Napi::CallbackInfo& info)
      : NativeClass(info), init_(InitArg<LinkInit>(info, "NativeLink is created by attach calls")), attached_(true) {}

  ~NativeLink() override { Release(); }

  static Napi::Object New(Napi::Env env, const LinkInit& init) {
    return NewFromInit(GetAddonData(env)->linkCtor, env, init);
  }

 private:
  // Undoes the attachment; returns 0 or a negative errno. Safe to call more than once.
  int Release() {
    if (!attached_) return 0;
    attached_ = false;
    switch (init_.variant) {
      case LinkVariant::Libbpf: {
        int r = bpf_link__destroy(init_.link);
        init_.link = nullptr;
        return r;
      }
      case LinkVariant::Fd:
        close(init_.fd);
        init_.fd = -1;
        return 0;
      case LinkVariant::Clsact:
        return init_.registry->Detach(init_.clsactId);
      case LinkVariant::SocketFilter: {
        int dummy = 0;
        int r = setsockopt(init_.fd, SOL_SOCKET, SO_DETACH_BPF, &dummy, sizeof(dummy));
        int err = errno;
        close(init_.fd);
        init_.fd = -1;
        return r != 0 && err != ENOENT ? -err : 0;
      }
    }
    return 0;
  }

  int LinkFd() const {
    if (!attached_) return -1;
    if (init_.variant == LinkVariant::Libbpf) return bpf_link__fd(init_.link);
    if (init_.variant == LinkVariant::Fd) return init_.fd;
    return -1;
  }

  Napi::Value GetKind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), init_.kind); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LinkFd()); }
  Napi::Value GetAttached(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), attached_); }

  // Kernel link id (as bpftool link shows it); 0 for attachments that are not BPF links.
  Napi::Value GetId(const Napi::CallbackInfo& info) {
    int fd = LinkFd();
    bpf_link_info li{};
    __u32 len = sizeof(li);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &li, &len) != 0) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), li.id);
  }

  Napi::Value GetHandle(const Napi::CallbackInfo& info) {
    if (init_.variant != LinkVariant::Clsact) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), init_.filter.handle);
  }

  Napi::Value GetPriority(const Napi::CallbackInfo& info) {
    if (init_.variant != LinkVariant::Clsact) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), init_.filter.priority);
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    int r = Release();
    if (r < 0) ThrowBpfError(info.Env(), {-r, "detach " + init_.kind, init_.kind + " link", "", ""});
    return info.Env().Undefined();
  }

  LinkInit init_;
  bool attached_ = false;
};

}  // namespace

Napi::Object NewLibbpfLink(Napi::Env env, bpf_link* link, const std::string& kind) {
  LinkInit init;
  init.variant = LinkVariant::Libbpf;
  init.kind = kind;
  init.link = link;
  return NativeLink::New(env, init);
}

Napi::Object NewFdLink(Napi::Env env, int fd, const std::string& kind) {
  LinkInit init;
  init.variant = LinkVariant::Fd;
  init.kind = kind;
  init.fd = fd;
  return NativeLink::New(env, init);
}

Napi::Object NewClsactLink(Napi::Env env, ClsactRegistryPtr registry, uint64_t id, const ClsactFilter& filter) {
  LinkInit init;
  init.variant = LinkVariant::Clsact;
  init.kind = "clsact";
  init.registry = std::move(registry);
  init.clsactId = id;
  init.filter = filter;
  return NativeLink::New(env, init);
}

Napi::Object NewSocketFilterLink(Napi::Env env, int socketDupFd) {
  LinkInit init;
  init.variant = LinkVariant::SocketFilter;
  init.kind = "socket_filter";
  init.fd = socketDupFd;
  return NativeLink::New(env, init);
}

void InitLink(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeLink::Export(env, exports, "NativeLink", &data->linkCtor);
}

}  // namespace retina
