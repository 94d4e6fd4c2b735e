// Producer of the ring-buffer benchmark: runs the benchmark's TC program with BPF_PROG_TEST_RUN on one 64-byte
// Ethernet/IPv4/TCP frame, `repeat` runs per call, until `total` runs are done. Each run writes one record. It is
// one process for both consumers, so the load they face is identical; the caller pins it to a CPU of its own.
//
// usage: producer <prog-id> <total runs> <repeat per call>
// prints: {"runs":N,"calls":N,"startNs":T,"endNs":T} (CLOCK_MONOTONIC, the clock the consumers stamp with)
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <prog-id> <total runs> <repeat per call>\n", argv[0]);
    return 2;
  }
  uint32_t prog_id = (uint32_t)strtoul(argv[1], NULL, 10);
  uint64_t total = strtoull(argv[2], NULL, 10);
  uint32_t repeat = (uint32_t)strtoul(argv[3], NULL, 10);
  if (repeat == 0 || total == 0) {
    fprintf(stderr, "producer: total and repeat must be positive\n");
    return 2;
  }
  int fd = bpf_prog_get_fd_by_id(prog_id);
  if (fd < 0) {
    fprintf(stderr, "producer: program id %u: %s\n", prog_id, strerror(errno));
    return 1;
  }

  // 14-byte Ethernet, 20-byte IPv4 (10.200.0.1 -> 10.200.0.2, TCP), 20-byte TCP (40000 -> 443, ACK), padding.
  uint8_t frame[64] = {0};
  const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
  const uint8_t ip[20] = {0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 200, 0, 1, 10, 200, 0, 2};
  const uint8_t tcp[20] = {0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0};
  memcpy(frame, eth, sizeof(eth));
  memcpy(frame + 14, ip, sizeof(ip));
  memcpy(frame + 34, tcp, sizeof(tcp));

  uint64_t runs = 0, calls = 0;
  uint64_t start = now_ns();
  while (runs < total) {
    uint64_t left = total - runs;
    struct bpf_test_run_opts opts = {.sz = sizeof(opts)};
    opts.data_in = frame;
    opts.data_size_in = sizeof(frame);
    opts.repeat = left < repeat ? (uint32_t)left : repeat;
    if (bpf_prog_test_run_opts(fd, &opts) != 0) {
      fprintf(stderr, "producer: BPF_PROG_TEST_RUN after %llu runs: %s\n", (unsigned long long)runs, strerror(errno));
      return 1;
    }
    runs += opts.repeat;
    calls++;
  }
  uint64_t end = now_ns();
  printf("{\"runs\":%llu,\"calls\":%llu,\"startNs\":%llu,\"endNs\":%llu}\n", (unsigned long long)runs,
         (unsigned long long)calls, (unsigned long long)start, (unsigned long long)end);
  close(fd);
  return 0;
}
