// Stands in for vfpctrl.exe in tests of the child-process path: answers from the recorded reports.
import { readFileSync } from 'node:fs';

const fixtures = new URL('../fixtures/vfp/', import.meta.url);
const args = process.argv.slice(2);
const command = args.join(' ');

if (command === '/list-vmswitch-port') {
  process.stdout.write(readFileSync(new URL('list-vmswitch-port.txt', fixtures)));
} else if (args[0] === '/port' && args[2] === '/get-port-counter') {
  try {
    process.stdout.write(
      readFileSync(new URL(`port-counter-${args[1].slice(0, 8).toLowerCase()}.txt`, fixtures)),
    );
  } catch {
    process.stdout.write(`ERROR: failed to execute get-port-counter\r\nPort '${args[1]}' not found.\r\n`);
    process.exit(3);
  }
} else if (command === '--hang') {
  setInterval(() => {}, 1000);
} else {
  process.stderr.write(`ERROR: unknown command ${command}\r\n`);
  process.exit(87);
}
