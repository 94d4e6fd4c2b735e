import { describe, expect, it } from 'vitest';
import {
  DNS_EVENT_HEADER_SIZE,
  DnsDecodeError,
  decodeDnsRecord,
  decodeEventHeader,
  parseDnsMessage,
  typeName,
} from '../src/decode.js';
import { QUERY_TUPLE, a, aaaa, cname, query, record, response } from './packets.js';

/** The reason of the DnsDecodeError `fn` throws. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DnsDecodeError) return err.reason;
    throw err;
  }
  throw new Error('expected a DnsDecodeError');
}

describe('decodeEventHeader', () => {
  it('reads every field of an IPv4 UDP record', () => {
    const msg = query('example.com');
    const rec = record(msg, {
      tsNs: 123_456_789_012n,
      ...QUERY_TUPLE,
      ifindex: 9,
      pktLen: 99,
      pktType: 4,
    });
    expect(decodeEventHeader(rec, 0, rec.length)).toEqual({
      tsNs: 123_456_789_012n,
      family: 4,
      ...QUERY_TUPLE,
      protocol: 17,
      ifindex: 9,
      packetLength: 99,
      messageLength: msg.length,
      capturedLength: msg.length,
      pktType: 4,
    });
  });

  it('reads IPv6 addresses in their compressed form', () => {
    const rec = record(query('example.com'), {
      source: 'fd00:77::2',
      destination: 'fd00:77::35',
      protocol: 6,
    });
    const h = decodeEventHeader(rec, 0, rec.length);
    expect([h.family, h.source, h.destination, h.protocol]).toEqual([6, 'fd00:77::2', 'fd00:77::35', 6]);
  });

  it('decodes a record at a non-zero offset', () => {
    const rec = record(query('example.com'), { sourcePort: 5555 });
    const buf = Buffer.concat([Buffer.alloc(24, 0xee), rec]);
    expect(decodeEventHeader(buf, 24, rec.length).sourcePort).toBe(5555);
  });

  it('refuses records the kernel program cannot have written', () => {
    const rec = record(query('example.com'));
    expect(reasonOf(() => decodeEventHeader(rec, 0, 40))).toBe('record');
    const badFamily = Buffer.from(rec);
    badFamily[56] = 5;
    expect(() => decodeEventHeader(badFamily, 0, badFamily.length)).toThrow(/address family 5/);
    const badProto = Buffer.from(rec);
    badProto[57] = 1;
    expect(() => decodeEventHeader(badProto, 0, badProto.length)).toThrow(/IP protocol 1/);
    const overclaim = Buffer.from(rec);
    overclaim.writeUInt16LE(rec.length, 54); // cap_len larger than the bytes carried
    expect(() => decodeEventHeader(overclaim, 0, overclaim.length)).toThrow(/claims/);
    const capOverMsg = Buffer.from(rec);
    capOverMsg.writeUInt16LE(5, 52); // message shorter than what was captured of it
    expect(reasonOf(() => decodeEventHeader(capOverMsg, 0, capOverMsg.length))).toBe('record');
  });
});

describe('parseDnsMessage', () => {
  it('parses a query', () => {
    expect(parseDnsMessage(query('Example.COM', 'AAAA', 0xbeef))).toEqual({
      id: 0xbeef,
      isResponse: false,
      opcode: 0,
      rcode: 0,
      questions: [{ name: 'Example.COM', type: 'AAAA' }],
      answerCount: 0,
      answers: [],
      answersComplete: true,
    });
  });

  it('parses a response with a CNAME chain and several addresses, in wire order', () => {
    const msg = response('www.example.com', 'A', [
      cname('www.example.com', 'edge.example.net', 30),
      a('edge.example.net', '192.0.2.7', 20),
      a('edge.example.net', '192.0.2.3', 25),
    ]);
    const m = parseDnsMessage(msg);
    expect(m.isResponse).toBe(true);
    expect(m.answerCount).toBe(3);
    expect(m.answers).toEqual([
      { name: 'www.example.com', type: 'CNAME', ttl: 30, cname: 'edge.example.net' },
      { name: 'edge.example.net', type: 'A', ttl: 20, ip: '192.0.2.7' },
      { name: 'edge.example.net', type: 'A', ttl: 25, ip: '192.0.2.3' },
    ]);
  });

  it('reads the return code of NXDOMAIN and SERVFAIL responses', () => {
    expect(parseDnsMessage(response('nope.example', 'A', [], { rcode: 3 })).rcode).toBe(3);
    expect(parseDnsMessage(response('fail.example', 'A', [], { rcode: 2 })).rcode).toBe(2);
  });

  it('parses AAAA answers', () => {
    const m = parseDnsMessage(response('v6.example', 'AAAA', [aaaa('v6.example', '2001:db8::1')]));
    expect(m.answers[0]).toEqual({ name: 'v6.example', type: 'AAAA', ttl: 60, ip: '2001:db8::1' });
  });

  it('decodes as many answers as a capture cut short holds, and keeps ANCOUNT', () => {
    const answers = Array.from({ length: 40 }, (_, i) => a('many.example', `198.51.100.${i + 1}`));
    const msg = response('many.example', 'A', answers);
    const cut = msg.subarray(0, 200);
    const m = parseDnsMessage(cut, msg.length);
    expect(m.answerCount).toBe(40);
    expect(m.answersComplete).toBe(false);
    // 12-byte header, 18-byte question, then 28 bytes per A record (dns-packet does not compress): 6 whole ones.
    expect(m.answers.map((x) => x.ip)).toEqual(answers.slice(0, 6).map((x) => (x as { data: string }).data));
  });

  it('reports a question the capture does not hold as truncated, not malformed', () => {
    const msg = query(`${'a'.repeat(60)}.${'b'.repeat(60)}.example`);
    expect(reasonOf(() => parseDnsMessage(msg.subarray(0, 40), msg.length))).toBe('truncated');
    expect(reasonOf(() => parseDnsMessage(msg.subarray(0, 40)))).toBe('question');
  });

  it('refuses messages shorter than a header', () => {
    expect(reasonOf(() => parseDnsMessage(Buffer.alloc(11)))).toBe('header');
  });

  it('refuses a header claiming more questions than the message can hold', () => {
    const msg = Buffer.from(query('example.com'));
    msg.writeUInt16BE(5000, 4);
    expect(reasonOf(() => parseDnsMessage(msg))).toBe('header');
  });

  it('refuses a compression pointer that loops onto itself', () => {
    const msg = Buffer.from(query('example.com'));
    // The question name starts at 12: make it a pointer to offset 12.
    const looped = Buffer.concat([msg.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect(reasonOf(() => parseDnsMessage(looped))).toBe('question');
  });

  it('refuses a pointer loop between two answers without hanging', () => {
    const head = response('x.example', 'A', []);
    head.writeUInt16BE(2, 6);
    // Two answers whose owner names point at each other (forward pointer, then backward).
    const first = Buffer.from([0xc0, head.length + 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    const second = Buffer.from([0xc0, head.length, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2]);
    expect(reasonOf(() => parseDnsMessage(Buffer.concat([head, first, second])))).toBe('answer');
  });

  it('refuses an answer whose RDLENGTH disagrees with its data', () => {
    const msg = Buffer.from(response('x.example', 'A', [a('x.example', '192.0.2.1')]));
    msg.writeUInt16BE(3, msg.length - 6); // RDLENGTH of the only record: 3 instead of 4
    expect(reasonOf(() => parseDnsMessage(msg))).toBe('answer');
  });

  it('refuses an answer that runs past the end of a complete message', () => {
    const msg = response('x.example', 'A', [a('x.example', '192.0.2.1')]);
    expect(reasonOf(() => parseDnsMessage(msg.subarray(0, msg.length - 2)))).toBe('answer');
  });

  it('accepts a message without a question (as some error responses are)', () => {
    const msg = Buffer.from(response('x.example', 'A', [], { rcode: 1 }).subarray(0, 12));
    msg.writeUInt16BE(0, 4);
    const m = parseDnsMessage(msg);
    expect([m.questions, m.rcode]).toEqual([[], 1]);
  });

  it('names types without a mnemonic in RFC 3597 form', () => {
    const msg = Buffer.from(query('example.com'));
    msg.writeUInt16BE(65280, msg.length - 4);
    expect(parseDnsMessage(msg).questions[0]?.type).toBe('TYPE65280');
    expect(typeName('A')).toBe('A');
  });
});

describe('decodeDnsRecord', () => {
  it('decodes the header and the message that follows it', () => {
    const rec = record(response('example.com', 'A', [a('example.com', '192.0.2.9')]));
    const { header, message } = decodeDnsRecord(rec, 0, rec.length);
    expect(header.capturedLength).toBe(rec.length - DNS_EVENT_HEADER_SIZE);
    expect(message.answers[0]?.ip).toBe('192.0.2.9');
  });
});
