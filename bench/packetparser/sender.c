// SPDX-License-Identifier: MIT
/*
 * UDP load generator for the packetparser benchmark: one socket per source address, each sending datagrams with
 * sendmmsg(2) to a range of destination addresses, so the traffic spans sources x destinations distinct 5-tuples.
 * Sockets take turns, one batch each, and each batch continues the destination cycle where the previous one left
 * off, so every (source, destination) pair recurs at the same rate.
 *
 * usage: sender -s <first-source-ipv4> -n <sources> -d <first-destination-ipv4> -m <destinations> -p <port>
 *               [-l <payload-bytes>] [-t <milliseconds>] [-r <packets-per-second>] [-1]
 *   addresses are consecutive from the first one; -r 0 (default) sends as fast as the kernel accepts;
 *   -1 sends exactly one datagram per (source, destination) pair and exits (-t and -r are ignored).
 * prints: sent=<n> elapsed_ns=<ns> failed=<n>
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
#define MAX_PAYLOAD 1400
#define MAX_ADDRS 250

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int parse_ipv4(const char *text, const char *what, struct in_addr *out)
{
	if (inet_pton(AF_INET, text, out) != 1) {
		fprintf(stderr, "sender: %s '%s' is not an IPv4 address\n", what, text);
		return -1;
	}
	return 0;
}

/* The address `i` places after `first` (host byte order arithmetic). */
static struct in_addr nth(struct in_addr first, unsigned i)
{
	struct in_addr a;

	a.s_addr = htonl(ntohl(first.s_addr) + i);
	return a;
}

int main(int argc, char **argv)
{
	static char payload[MAX_PAYLOAD];
	static struct sockaddr_in dsts[MAX_ADDRS];
	static int fds[MAX_ADDRS];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct in_addr src0 = { 0 }, dst0 = { 0 };
	unsigned long long start, deadline = 0, now, sent = 0, failed = 0;
	long nsrc = 0, ndst = 0, port = 0, size = 64, ms = 1000, rate = 0;
	unsigned *cursor;
	int once = 0, opt, s, j;

	while ((opt = getopt(argc, argv, "s:n:d:m:p:l:t:r:1")) != -1) {
		switch (opt) {
		case 's':
			if (parse_ipv4(optarg, "-s (first source)", &src0) < 0)
				return 2;
			break;
		case 'd':
			if (parse_ipv4(optarg, "-d (first destination)", &dst0) < 0)
				return 2;
			break;
		case 'n': nsrc = strtol(optarg, NULL, 10); break;
		case 'm': ndst = strtol(optarg, NULL, 10); break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'l': size = strtol(optarg, NULL, 10); break;
		case 't': ms = strtol(optarg, NULL, 10); break;
		case 'r': rate = strtol(optarg, NULL, 10); break;
		case '1': once = 1; break;
		default:
			fprintf(stderr, "usage: %s -s SRC -n SOURCES -d DST -m DESTINATIONS -p PORT [-l BYTES] [-t MS] [-r PPS] [-1]\n",
				argv[0]);
			return 2;
		}
	}
	if (!src0.s_addr || !dst0.s_addr || nsrc < 1 || nsrc > MAX_ADDRS || ndst < 1 || ndst > MAX_ADDRS || port < 1 ||
	    port > 65535 || size < 0 || size > MAX_PAYLOAD || ms <= 0 || rate < 0) {
		fprintf(stderr,
			"sender: need -s and -d addresses, -n and -m in 1..%d, -p in 1..65535, -l in 0..%d, -t > 0, -r >= 0\n",
			MAX_ADDRS, MAX_PAYLOAD);
		return 2;
	}

	for (j = 0; j < ndst; j++) {
		dsts[j].sin_family = AF_INET;
		dsts[j].sin_port = htons((unsigned short)port);
		dsts[j].sin_addr = nth(dst0, (unsigned)j);
	}
	for (s = 0; s < nsrc; s++) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = nth(src0, (unsigned)s) };
		char text[INET_ADDRSTRLEN];

		fds[s] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[s] < 0) {
			perror("sender: socket");
			return 1;
		}
		/* Bound to its own source address: the kernel routes each datagram from it, no IP_PKTINFO per message. */
		if (bind(fds[s], (struct sockaddr *)&src, sizeof(src)) < 0) {
			inet_ntop(AF_INET, &src.sin_addr, text, sizeof(text));
			fprintf(stderr, "sender: bind to %s: %s (is the address configured in this namespace?)\n", text,
				strerror(errno));
			return 1;
		}
	}
	cursor = calloc((size_t)nsrc, sizeof(*cursor));
	if (!cursor) {
		perror("sender: calloc");
		return 1;
	}

	memset(payload, 0xab, sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = (size_t)size;
	memset(msgs, 0, sizeof(msgs));
	for (j = 0; j < BATCH; j++) {
		msgs[j].msg_hdr.msg_iov = &iov;
		msgs[j].msg_hdr.msg_iovlen = 1;
		msgs[j].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
	}

	start = now_ns();
	if (!once)
		deadline = start + (unsigned long long)ms * 1000000ULL;
	for (now = start, s = 0;; s = (s + 1) % (int)nsrc) {
		/* In -1 mode each socket sends its destinations once; otherwise a full batch that wraps around them. */
		int count = once ? (int)(ndst - cursor[s] < BATCH ? ndst - cursor[s] : BATCH) : BATCH;
		int off = 0;

		if (once && count == 0) {
			if (s == nsrc - 1)
				break;
			continue;
		}
		for (j = 0; j < count; j++)
			msgs[j].msg_hdr.msg_name = &dsts[(cursor[s] + (unsigned)j) % (unsigned)ndst];
		while (off < count) {
			int n = sendmmsg(fds[s], msgs + off, (unsigned)(count - off), 0);

			if (n < 0) {
				/* A full socket buffer or a transient error: this batch's remainder is not sent. */
				if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
					failed += (unsigned long long)(count - off);
					break;
				}
				perror("sender: sendmmsg");
				return 1;
			}
			off += n;
		}
		sent += (unsigned long long)off;
		cursor[s] = once ? cursor[s] + (unsigned)count : (cursor[s] + (unsigned)count) % (unsigned)ndst;
		if (once)
			continue;
		now = now_ns();
		if (now >= deadline)
			break;
		if (rate > 0) {
			/* Paced: sleep until the time at which `sent` packets are due, so the mean rate is `rate`. */
			unsigned long long due = start + sent * 1000000000ULL / (unsigned long long)rate;

			if (due > now) {
				struct timespec ts = { .tv_sec = (time_t)((due - now) / 1000000000ULL),
						       .tv_nsec = (long)((due - now) % 1000000000ULL) };
				nanosleep(&ts, NULL);
			}
		}
	}
	now = now_ns();
	printf("sent=%llu elapsed_ns=%llu failed=%llu\n", sent, now - start, failed);
	for (s = 0; s < nsrc; s++)
		close(fds[s]);
	free(cursor);
	return 0;
}
