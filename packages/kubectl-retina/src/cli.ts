#!/usr/bin/env node
/** kubectl-retina: the `kubectl retina` plugin (kubectl runs it for `kubectl retina ...`). */
import { runProgram } from './program.js';

const code = await runProgram(process.argv.slice(2), {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
});
// Exit once the output is flushed: idle keep-alive connections to the API server would hold the process for seconds.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
