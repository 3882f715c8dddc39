#!/usr/bin/env node
// Entry point of the `switchyard` command: runs the compiled CLI (npm run build).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
