// Baseline consumer of the ring-buffer benchmark: libbpf's ring_buffer API reading the pinned ring, decoding each
// record into its fields and checking them, as a C agent would. It is what the Node reader is compared with.
//
// usage: consumer <pinned map path> [interval-us]
// Without interval-us it is the canonical libbpf loop: sleep in epoll until the kernel signals data, consume,
// repeat (the kernel wakes a consumer that has caught up for the next record, so an idle-fast consumer is woken
// for nearly every record). With interval-us it drains the way RingBufferReader does under load: after a drain
// that found records it sleeps interval-us before the next one, and sleeps in epoll only when the ring was empty.
// protocol: prints "ready" once polling; reads "expect <N>" on stdin (sent when the producer has finished and the
// number of records that reached the ring is known) and exits when N records were consumed, printing
// {"records":N,"firstNs":T,"lastNs":T,"bad":N,"outOfOrder":N,"bytes":N,"maxRssKb":N}.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

// Mirrors struct flow_record of bpf/flow_ringbuf.bpf.c.
struct flow_record {
  uint64_t ts_ns;
  uint64_t seq;
  uint32_t saddr, daddr;  // network order
  uint16_t sport, dport;  // network order
  uint8_t proto, direction, tcp_flags, verdict;
  uint32_t bytes, packets, ifindex, mark, hash, drop_reason;
  uint64_t cookie;
};
_Static_assert(sizeof(struct flow_record) == 64, "flow_record must stay 64 bytes");

struct totals {
  uint64_t records, bad, out_of_order, bytes, last_seq;
  int have_seq;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size) {
  struct totals *t = ctx;
  struct flow_record r;
  if (size < sizeof(r)) {
    t->bad++;
    return 0;
  }
  memcpy(&r, data, sizeof(r));
  // The fields the producer's frame fixes: 10.200.0.1:40000 -> 10.200.0.2:443 TCP ACK, 64 bytes.
  if (r.saddr != __builtin_bswap32(0x0ac80001) || r.daddr != __builtin_bswap32(0x0ac80002) ||
      r.sport != __builtin_bswap16(40000) || r.dport != __builtin_bswap16(443) || r.proto != 6 ||
      r.tcp_flags != 0x10 || r.packets != 1 || r.ts_ns == 0) {
    t->bad++;
  }
  if (t->have_seq && r.seq <= t->last_seq) t->out_of_order++;
  t->last_seq = r.seq;
  t->have_seq = 1;
  t->bytes += r.bytes;
  t->records++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s <pinned map path> [interval-us]\n", argv[0]);
    return 2;
  }
  long interval_us = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
  int map_fd = bpf_obj_get(argv[1]);
  if (map_fd < 0) {
    fprintf(stderr, "consumer: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct totals t = {0};
  struct ring_buffer *rb = ring_buffer__new(map_fd, on_record, &t, NULL);
  if (rb == NULL) {
    fprintf(stderr, "consumer: ring_buffer__new: %s\n", strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  ev.data.fd = ring_buffer__epoll_fd(rb);
  epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev);
  struct rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  printf("ready\n");
  fflush(stdout);

  uint64_t expect = UINT64_MAX, first_ns = 0, last_ns = 0;
  char line[128];
  size_t line_len = 0;
  int drained_some = 0;
  while (t.records < expect) {
    struct epoll_event events[2];
    if (interval_us > 0 && drained_some) {
      struct timespec ts = {0, interval_us * 1000};
      nanosleep(&ts, NULL);
    }
    int n = epoll_wait(ep, events, 2, interval_us > 0 && drained_some ? 0 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("consumer: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd != 0) continue;
      ssize_t got = read(0, line + line_len, sizeof(line) - 1 - line_len);
      if (got <= 0) {
        fprintf(stderr, "consumer: stdin closed before \"expect\"\n");
        return 1;
      }
      line_len += (size_t)got;
      line[line_len] = 0;
      if (strchr(line, '\n') != NULL) expect = strtoull(line + strlen("expect "), NULL, 10);
    }
    uint64_t before = t.records;
    int r = ring_buffer__consume(rb);
    if (r < 0) {
      fprintf(stderr, "consumer: ring_buffer__consume: %s\n", strerror(-r));
      return 1;
    }
    drained_some = t.records != before;
    if (drained_some) {
      last_ns = now_ns();
      if (before == 0) first_ns = last_ns;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long long cpu_us = (ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000ll +
                     (ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
  printf("{\"records\":%llu,\"firstNs\":%llu,\"lastNs\":%llu,\"bad\":%llu,\"outOfOrder\":%llu,\"bytes\":%llu,"
         "\"maxRssKb\":%ld,\"cpuUs\":%lld}\n",
         (unsigned long long)t.records, (unsigned long long)first_ns, (unsigned long long)last_ns,
         (unsigned long long)t.bad, (unsigned long long)t.out_of_order, (unsigned long long)t.bytes, ru.ru_maxrss,
         cpu_us);
  ring_buffer__free(rb);
  close(map_fd);
  return 0;
}
