#!/usr/bin/env node
// Writes deploy/crds/retina.sh_*.yaml from the operator's schema definitions (run after building the package:
// `npm run generate:crds -w @retina-ts/operator`). test/crds.test.ts fails when the committed files differ.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../dist/index.js';

const dir = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));
for (const [name, text] of crdFiles()) {
  writeFileSync(`${dir}${name}`, text);
  console.log(`wrote deploy/crds/${name}`);
}
