#!/usr/bin/env node
// Entry point of the `switchyard` command: runs the bundled CLI (npm run build → dist/cli).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv);
process.exitCode = code;
// a failure at start-up can leave connections (Redis clients) open: exit, never hang
if (code !== 0) process.exit(code);
