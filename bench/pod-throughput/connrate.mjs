// Many short TCP connections: `server <host> <port>` answers each connection's one request and closes first (so
// TIME_WAIT stays on the server's side); `client <host> <port> <seconds> <concurrency>` keeps `concurrency`
// connect → request → response → close loops going and prints `{"connections":N,"seconds":S,"errors":E}`.
import net from 'node:net';

const [mode, host, port, secondsArg, concurrencyArg] = process.argv.slice(2);

if (mode === 'server') {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.once('data', () => c.end('ok\n'));
  });
  server.listen(Number(port), host, () => console.log('listening'));
} else if (mode === 'client') {
  const seconds = Number(secondsArg);
  const concurrency = Number(concurrencyArg);
  if (!(seconds > 0) || !(Number.isInteger(concurrency) && concurrency >= 1)) {
    console.error(
      `connrate: seconds must be > 0 (got ${secondsArg}), concurrency an integer >= 1 (got ${concurrencyArg})`,
    );
    process.exit(2);
  }
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let connections = 0;
  let errors = 0;
  const one = () =>
    new Promise((resolve) => {
      const s = net.connect(Number(port), host, () => s.write('x'));
      let ok = false;
      s.on('data', () => (ok = true));
      s.on('error', () => {});
      s.on('close', () => {
        if (ok) connections++;
        else errors++;
        resolve();
      });
    });
  const loop = async () => {
    while (process.hrtime.bigint() < end) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ connections, seconds: elapsed, errors }));
} else {
  console.error('usage: connrate.mjs server <host> <port> | client <host> <port> <seconds> <concurrency>');
  process.exit(2);
}
