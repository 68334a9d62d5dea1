#!/usr/bin/env node
// Writes the variable tables of docs/configuration.md from src/config/variables.ts (built
// into dist/ by `npm run build`), the table --help prints too. test/config/docs.test.ts
// fails when the file and the table differ: run this after changing a variable.
import { readFileSync, writeFileSync } from 'node:fs';
import { variablesReference } from '../dist/src/config/variables.js';

const FILE = new URL('../docs/configuration.md', import.meta.url);
const BEGIN = '<!-- variables: made from src/config/variables.ts by tools/config-reference.mjs; edit them there -->';
const END = '<!-- end of variables -->';
const text = readFileSync(FILE, 'utf8');
const from = text.indexOf(BEGIN);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`docs/configuration.md lacks the markers ${BEGIN} ... ${END}`);
writeFileSync(FILE, `${text.slice(0, from + BEGIN.length)}\n\n${variablesReference()}\n${text.slice(to)}`);
console.log('docs/configuration.md: variables written');
