// SPDX-License-Identifier: MIT
/*
 * UDP load generator for the packetforward benchmark: sends fixed-size datagrams with sendmmsg(2) in batches for
 * a given time and prints how many the kernel accepted. A native sender keeps user-space cost per packet small
 * and steady, so the cost of the TC programs is not lost in the generator's own noise.
 *
 * usage: sender <dst-ipv4> <dst-port> <payload-bytes> <milliseconds>
 * prints: sent=<n> elapsed_ns=<ns>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 8192

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static char payload[MAX_PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_in dst;
	unsigned long long start, deadline, sent = 0, now;
	long size, ms, port;
	int fd, i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s <dst-ipv4> <dst-port> <payload-bytes> <milliseconds>\n", argv[0]);
		return 2;
	}
	port = strtol(argv[2], NULL, 10);
	size = strtol(argv[3], NULL, 10);
	ms = strtol(argv[4], NULL, 10);
	if (port <= 0 || port > 65535 || size < 0 || size > MAX_PAYLOAD || ms <= 0) {
		fprintf(stderr, "sender: bad arguments (port 1-65535, payload 0-%d bytes, milliseconds > 0)\n", MAX_PAYLOAD);
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "sender: '%s' is not an IPv4 address\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("sender: socket");
		return 1;
	}
	/* connect() once, so each send skips the route lookup and addresses need not be passed per message. */
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("sender: connect");
		return 1;
	}
	memset(payload, 0xab, sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = (size_t)size;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	start = now_ns();
	deadline = start + (unsigned long long)ms * 1000000ULL;
	for (now = start; now < deadline; now = now_ns()) {
		int n = sendmmsg(fd, msgs, BATCH, 0);

		if (n < 0) {
			/* A full socket buffer or a transient error: try again, the deadline bounds the loop. */
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED)
				continue;
			perror("sender: sendmmsg");
			return 1;
		}
		sent += (unsigned long long)n;
	}

	printf("sent=%llu elapsed_ns=%llu\n", sent, now - start);
	close(fd);
	return 0;
}
