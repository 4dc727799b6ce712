// bind_address: make a TensorFlow server listen on one address instead of every interface.
//
// TensorFlow's gRPC server (tf.distribute.Server) takes only the port from its address in the cluster
// spec and listens on "0.0.0.0:PORT": every interface of the machine. Its servers run any graph sent to
// them, without authentication, so a task meant for 127.0.0.1 must not be reachable from the network.
//
// Loaded into a task's process with LD_PRELOAD (cs20lib.cluster starts its tasks so), this library
// wraps the C library's bind(): a request to bind an IPv4 or IPv6 socket to the wildcard address is
// turned into a request for CS20_BIND_HOST (a numeric IPv4 or IPv6 address, e.g. 127.0.0.1); every other
// bind passes through unchanged. Without CS20_BIND_HOST, or with one that is not a numeric address,
// wildcard binds fail with EADDRNOTAVAIL rather than listen everywhere.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

namespace {

using BindFunction = int (*)(int, const struct sockaddr*, socklen_t);

BindFunction RealBind() {
  static BindFunction real = reinterpret_cast<BindFunction>(dlsym(RTLD_NEXT, "bind"));
  return real;
}

// Writes the address CS20_BIND_HOST names, with `port`, into `out` (of `family`); false if it names none.
bool WantedAddress(int family, in_port_t port, struct sockaddr_storage* out, socklen_t* length) {
  const char* host = getenv("CS20_BIND_HOST");
  if (host == nullptr || *host == '\0') return false;
  memset(out, 0, sizeof(*out));
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<struct sockaddr_in*>(out);
    if (inet_pton(AF_INET, host, &v4->sin_addr) != 1) return false;
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    *length = sizeof(*v4);
    return true;
  }
  auto* v6 = reinterpret_cast<struct sockaddr_in6*>(out);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = port;
  *length = sizeof(*v6);
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) return true;
  struct in_addr v4;  // an IPv4 host on an IPv6 socket: its v4-mapped form
  if (inet_pton(AF_INET, host, &v4) != 1) return false;
  v6->sin6_addr.s6_addr[10] = 0xff;
  v6->sin6_addr.s6_addr[11] = 0xff;
  memcpy(&v6->sin6_addr.s6_addr[12], &v4, sizeof(v4));
  return true;
}

bool IsWildcard(const struct sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return reinterpret_cast<const struct sockaddr_in*>(address)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const struct sockaddr_in6*>(address);
    return memcmp(&v6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0;
  }
  return false;
}

}  // namespace

extern "C" int bind(int socket, const struct sockaddr* address, socklen_t length) {
  BindFunction real = RealBind();
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  if (address == nullptr || !IsWildcard(address)) return real(socket, address, length);
  in_port_t port = address->sa_family == AF_INET ? reinterpret_cast<const struct sockaddr_in*>(address)->sin_port
                                                 : reinterpret_cast<const struct sockaddr_in6*>(address)->sin6_port;
  struct sockaddr_storage wanted;
  socklen_t wanted_length = 0;
  if (!WantedAddress(address->sa_family, port, &wanted, &wanted_length)) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  return real(socket, reinterpret_cast<const struct sockaddr*>(&wanted), wanted_length);
}

// Tells a process that the library is loaded (cs20lib.cluster asks through ctypes before starting a server).
extern "C" int cs20_bind_address_loaded() { return 1; }
