#!/usr/bin/env node
// Entry point of the `switchyard` command: runs the bundled CLI (npm run build → dist/cli).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
