#!/usr/bin/env node
/** kubectl-retina: the `kubectl retina` plugin (kubectl runs it for `kubectl retina ...`). */
import { runProgram } from './program.js';

process.exitCode = await runProgram(process.argv.slice(2), {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
});
