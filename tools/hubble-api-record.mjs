#!/usr/bin/env node
/**
 * Records the official Hubble API as data (packages/hubble/api-record/hubble-api.json) from the official .proto
 * files, which stay outside the repository: the folder is given by the user.
 *
 *   node tools/hubble-api-record.mjs <folder with flow/ observer/ peer/ relay/>           rewrite the record
 *   node tools/hubble-api-record.mjs --check <folder>                                      exit 1 if it differs
 *
 * The folder defaults to $HUBBLE_API_PROTOS.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RECORD_FILE, formatRecord, recordFromProtos } from '../packages/hubble/api-record/record.mjs';

const { values, positionals } = parseArgs({
  options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  allowPositionals: true,
});
if (values.help) {
  console.log('usage: node tools/hubble-api-record.mjs [--check] <folder of the official Hubble protos>');
  process.exit(0);
}
const folder = positionals[0] ?? process.env.HUBBLE_API_PROTOS;
if (!folder || positionals.length > 1) {
  console.error('usage: node tools/hubble-api-record.mjs [--check] <folder of the official Hubble protos> (or set HUBBLE_API_PROTOS)');
  process.exit(2);
}

let text;
try {
  text = formatRecord(recordFromProtos(resolve(folder)));
} catch (err) {
  console.error(`hubble-api-record: ${resolve(folder)}: ${err.message}`);
  process.exit(1);
}
if (values.check) {
  let current = '';
  try {
    current = readFileSync(RECORD_FILE, 'utf8');
  } catch {
    // A missing record differs.
  }
  if (current !== text) {
    console.error(`hubble-api-record: ${RECORD_FILE} differs from ${resolve(folder)}; run node tools/hubble-api-record.mjs ${folder}`);
    process.exit(1);
  }
  console.log(`hubble-api-record: ${RECORD_FILE} matches ${resolve(folder)}`);
} else {
  writeFileSync(RECORD_FILE, text);
  console.log(`hubble-api-record: wrote ${RECORD_FILE}`);
}
