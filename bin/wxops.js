#!/usr/bin/env node
// The CLI runs from one bundle of wxops's own modules (packages stay external): loading ~150 small
// modules one by one costs more start-up time than everything else `wxops run help` does.
import { main } from '../dist/bundle/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exitCode = 1;
  },
);
