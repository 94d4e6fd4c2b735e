// NativeSocket: an AF_PACKET raw socket for socket-filter programs, optionally bound to one interface.
#include "common.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace retina {

namespace {

class NativeSocket : public NativeClass<NativeSocket> {
 public:
  static std::vector<PropertyDescriptor> Properties() {
    return {
        InstanceAccessor<&NativeSocket::GetFd>("fd"),
        InstanceMethod<&NativeSocket::AttachFilter>("attachFilter"),
        InstanceMethod<&NativeSocket::Bind>("bind"),
        InstanceMethod<&NativeSocket::Receive>("receive"),
        InstanceMethod<&NativeSocket::Close>("close"),
    };
  }

  // Created unbound with protocol 0 so that no packet is queued before the filter is attached and bind() runs.
  explicit NativeSocket(const Napi::CallbackInfo& info) : NativeClass(info) {
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) ThrowBpfError(info.Env(), {errno, "open raw socket", "AF_PACKET", "", ""});
  }

  ~NativeSocket() override {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int Fd(Napi::Env env, const char* op) {
    if (fd_ < 0) ThrowBpfError(env, {EBADF, op, "raw socket", "the socket is closed", ""});
    return fd_;
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value AttachFilter(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "attach socket filter");
    int progFd = static_cast<int>(ArgInt(info, 0, "program fd"));
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &progFd, sizeof(progFd)) != 0) {
      ThrowBpfError(info.Env(), {errno, "attach socket filter", "raw socket", "", ""});
    }
    return info.Env().Undefined();
  }

  // (ifindex (0 = every interface), ethertype in host order)
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "bind raw socket");
    int ifindex = static_cast<int>(ArgInt(info, 0, "ifindex"));
    uint16_t protocol = static_cast<uint16_t>(ArgInt(info, 1, "protocol"));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(protocol);
    addr.sll_ifindex = ifindex;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ThrowBpfError(info.Env(), {errno, "bind raw socket", "ifindex " + std::to_string(ifindex), "", ""});
    }
    return info.Env().Undefined();
  }

  // Non-blocking read of one packet (at most maxBytes); undefined when none is queued.
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    int fd = Fd(info.Env(), "receive");
    size_t max = static_cast<size_t>(ArgInt(info, 0, "maxBytes"));
    std::vector<uint8_t> buf(max > 0 ? max : 1);
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return info.Env().Undefined();
      ThrowBpfError(info.Env(), {errno, "receive", "raw socket", "", ""});
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data(), static_cast<size_t>(n));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }

  int fd_ = -1;
};

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports, AddonData* data) {
  NativeSocket::Export(env, exports, "NativeSocket", &data->socketCtor);
}

}  // namespace retina
